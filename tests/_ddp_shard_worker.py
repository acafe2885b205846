"""The script the sharded-data tests of `test_distributed.py` launch with torchrun (2 processes,
gloo, loopback): every rank fits on its own user shard (``distributed_data="sharded"``).

Each rank builds the data set of ``_ddp_worker.make_data`` and keeps only its shard,
``X.shard(rank, 2)``, then fits:

* ``equal``: one batch per epoch (``windows="last"``, a batch larger than the shard), no
  validation, no dropout: the global batch of every step is then the whole data set, as for
  one process fitting the union with a batch as large, so the loss trajectories must agree;
* ``sharded``: several batches per epoch of different counts on the two ranks, random
  windows, validation users on both shards and repeat buckets: it must train, the ranks must
  hold identical weights, and rank 0's saved model must know every user;
* ``empty``: rank 1 passes no events at all (a shard can be empty): it must still train;
* ``bpr``: ``BPR`` on the shards: every rank ends with the same, complete model;

and records two refusals: a user on both ranks (``overlap``), and rank 1 recommending for a
user of rank 0's shard (``foreign``).

Usage::

    python -m torch.distributed.run --nproc_per_node=2 tests/_ddp_shard_worker.py OUT
    python tests/_ddp_shard_worker.py --load OUT    # a fresh process: load the saved models
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ddp_worker import losses, make_data  # noqa: E402


def make_model(name: str) -> Any:
    """The sharded fits' settings (``equal`` also fits in one process in the test)."""
    from liverec.models import BPR, SequentialTransformer

    if name == "bpr":
        return BPR(n_factors=8, n_epochs=4, batch_size=64, learning_rate=0.05, random_state=0, threads=1,
                   distributed_data="sharded")

    common: dict[str, Any] = dict(max_len=20, embedding_dim=16, n_layers=1, dropout=0.0, n_epochs=4,
                                  learning_rate=3e-3, patience=None, random_state=0, threads=1,
                                  distributed_data="sharded")
    if name == "equal":
        return SequentialTransformer(windows="last", batch_size=512, validation_size=0, **common)
    return SequentialTransformer(batch_size=16, validation_size=40, repeat_aware=True, **common)


def scores(model: Any, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Scores ``(len(users), len(items))`` through ``predict``."""
    return np.asarray(model.predict(np.repeat(users, len(items)), np.tile(items, len(users)))).reshape(
        len(users), len(items))


def shard_users(rank: int) -> np.ndarray:
    """The first 10 users of rank ``rank``'s shard."""
    return np.asarray(make_data().shard(rank, 2).users.ids[:10])


def error_of(fn: Any, *args: Any, **kwargs: Any) -> str:
    """``fn(*args, **kwargs)``'s error as ``"<class>: <message>"`` (``"no error"`` when none)."""
    try:
        fn(*args, **kwargs)
    except ValueError as err:
        return f"{type(err).__name__}: {err}"
    return "no error"


def main(out: Path) -> None:
    import torch

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    X = make_data()
    mine = X.shard(rank, 2)
    items = X.items.ids
    for name in ("equal", "sharded"):
        model = make_model(name).fit(mine)
        model.save(str(out / name))
        held = model.local_users_
        np.savez(out / f"{name}-rank{rank}.npz", loss=losses(model), n_users=len(model.users_),
                 own=scores(model, shard_users(rank), items), held=np.zeros(0) if held is None else held)
        if name == "sharded" and rank == 0:  # rank 0 scores every shard's users
            np.savez(out / "sharded-rank0-all.npz", **{f"users{r}": scores(model, shard_users(r), items)
                                                       for r in (0, 1)})
        if name == "sharded" and rank == 1:
            (out / "foreign.txt").write_text(error_of(model.recommend, shard_users(0)[:1], k=3), encoding="utf-8")
    bpr = make_model("bpr").fit(mine)
    bpr.save(str(out / "bpr"))
    np.savez(out / f"bpr-rank{rank}.npz", scores=scores(bpr, X.users.ids[:20], items), n_users=len(bpr.users_),
             seen_indptr=bpr.seen_.indptr, seen_indices=bpr.seen_.indices)
    (out / f"overlap-rank{rank}.txt").write_text(error_of(make_model("equal").fit, X), encoding="utf-8")
    empty = make_model("equal").fit(X if rank == 0 else X.select(np.zeros(len(X), dtype=bool)))
    np.savez(out / f"empty-rank{rank}.npz", loss=losses(empty), n_users=len(empty.users_),
             n_events=len(empty.seq_items_))


def load(out: Path) -> None:
    """In a fresh process: load the saved models; write what the test compares."""
    import liverec

    X = make_data()
    for name in ("equal", "sharded"):
        model = liverec.load(str(out / name))
        np.savez(out / f"{name}-loaded.npz", users=np.asarray(model.users_.ids), items=np.asarray(model.items_.ids),
                 seq_items=model.seq_items_, seq_times=model.seq_times_, seq_indptr=model.seq_indptr_,
                 seen_indptr=model.seen_.indptr, seen_indices=model.seen_.indices,
                 users0=scores(model, shard_users(0), X.items.ids), users1=scores(model, shard_users(1), X.items.ids),
                 top=np.asarray(model.recommend(shard_users(1)[:3], k=5).items.tolist(), dtype=np.int64))
    bpr = liverec.load(str(out / "bpr"))
    np.savez(out / "bpr-loaded.npz", scores=scores(bpr, X.users.ids[:20], X.items.ids),
             users=np.asarray(bpr.users_.ids))


if __name__ == "__main__":
    if sys.argv[1] == "--load":
        load(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]))
