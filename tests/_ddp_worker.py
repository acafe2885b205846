"""The script `test_distributed.py` launches with torchrun (2 processes, gloo, loopback).

Every rank builds the same small data set, fits each model data-parallel with
``distributed="auto"`` (torchrun's environment switches it on), calls ``save`` (rank 0 alone
writes) and writes its loss history and scores to ``OUT/<model>-rank<r>.npz``. The test fits
the same models in one process with twice the batch and compares.

It also fits ``timed``: a ``SequentialTransformer`` with ``random_state=None`` and a time
limit (the replicas must agree on the seed and on when time is up), and, on data that differ
between the ranks, records the error into ``OUT/different-data-rank<r>.txt``.

Usage::

    python -m torch.distributed.run --nproc_per_node=2 tests/_ddp_worker.py OUT
    python tests/_ddp_worker.py --load OUT    # a fresh process: load each saved model and score
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: the per-process batch of the distributed run (one process uses twice this)
BATCH = {"sequential": 16, "bpr": 64, "timed": 16}


def make_data() -> Any:
    """300 users with 5-40 events on 60 items, in time order (seeded: the same on every rank)."""
    from liverec.data import Interactions

    rng = np.random.default_rng(7)
    lengths = rng.integers(5, 40, size=300)
    users = np.repeat(np.arange(300), lengths)
    # a little structure: each user drifts around a favourite item
    fav = rng.integers(0, 60, size=300)
    items = (fav[users] + rng.integers(-3, 4, size=len(users))) % 60
    times = np.concatenate([np.sort(rng.random(n)) for n in lengths]) * 1e6
    return Interactions.from_arrays(users, items, times)


def make_model(name: str, batch_size: int, distributed: Any) -> Any:
    """The model ``name`` with the test's settings (no dropout: its masks depend on the batch shape)."""
    from liverec.models import BPR, SequentialTransformer

    if name == "sequential":
        return SequentialTransformer(max_len=20, embedding_dim=16, n_layers=1, dropout=0.0, n_epochs=4,
                                     batch_size=batch_size, learning_rate=3e-3, validation_size=40,
                                     patience=None, random_state=0, threads=1, distributed=distributed)
    if name == "timed":
        return SequentialTransformer(max_len=20, embedding_dim=16, n_layers=1, n_epochs=1000,
                                     batch_size=batch_size, validation_size=40, patience=2, time_limit=0.5,
                                     random_state=None, threads=1, distributed=distributed)
    return BPR(n_factors=8, n_epochs=4, batch_size=batch_size, learning_rate=0.05, random_state=0,
               threads=1, distributed=distributed)


def scores(model: Any, X: Any) -> np.ndarray:
    """Scores of the first 20 users for every item."""
    users = X.users.ids[:20]
    items = X.items.ids
    return np.asarray(model.predict(np.repeat(users, len(items)), np.tile(items, len(users))))


def losses(model: Any) -> np.ndarray:
    """The per-epoch training loss (NaN for models without a history)."""
    return np.array([h["loss"] for h in getattr(model, "history_", [])], dtype=np.float64)


def main(out: Path) -> None:
    import torch

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    X = make_data()
    for name, batch in BATCH.items():
        model = make_model(name, batch, "auto").fit(X)
        model.save(str(out / name))
        np.savez(out / f"{name}-rank{rank}.npz", scores=scores(model, X), loss=losses(model),
                 world_size=model.world_size_, rank=model.rank_)
    mine = X.select(np.arange(len(X)) % 2 == rank)  # a different half on each rank
    try:
        make_model("bpr", 64, "auto").fit(mine)
        message = "no error"
    except ValueError as err:
        message = f"{type(err).__name__}: {err}"
    (out / f"different-data-rank{rank}.txt").write_text(message, encoding="utf-8")


def load_and_score(out: Path) -> None:
    """In a fresh process: load every saved model, write its scores to ``OUT/<model>-loaded.npz``."""
    import liverec

    X = make_data()
    for name in BATCH:
        np.savez(out / f"{name}-loaded.npz", scores=scores(liverec.load(str(out / name)), X))


if __name__ == "__main__":
    if sys.argv[1] == "--load":
        load_and_score(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]))
