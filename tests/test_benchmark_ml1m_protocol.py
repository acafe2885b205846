"""The ML-1M benchmark protocols: which events are history, which are targets, what a gap costs.

The ``ml-1m-seq`` copy lacks each test history's second-to-last item, except for the 512
validation users whose complete history the validation files restore (DATA.md). These tests
build a miniature copy in that layout and check the loaders and the paired gap measurement.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bench_sequential", BENCH / "sequential.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


seq = _load_benchmark()

# Complete sequences; users 2 and 4 are validation users, whose full history is known.
FULL = {1: [10, 11, 12, 13, 14, 15], 2: [20, 21, 22, 23, 24, 25, 26], 3: [30, 31, 32, 33, 34],
        4: [40, 41, 42, 43, 44]}
USERS, VALIDATION = (1, 2, 3, 4), (2, 4)


def _write_copy(root: Path) -> Path:
    """The files as the gSASRec split leaves them, without the test inputs."""
    d = root / "ml-1m-seq"
    d.mkdir()
    # every user without the last two items, validation users without the last three
    train = {u: FULL[u][:-3] if u in VALIDATION else FULL[u][:-2] for u in USERS}
    (d / "train_input.txt").write_text("".join(" ".join(map(str, train[u])) + "\n" for u in USERS))
    (d / "val_input.txt").write_text("".join(" ".join(map(str, FULL[u][:-2])) + "\n" for u in VALIDATION))
    (d / "val_output.txt").write_text("".join(f"{FULL[u][-2]}\n" for u in VALIDATION))
    (d / "test_output.txt").write_text("".join(f"{FULL[u][-1]}\n" for u in USERS))
    return root


def test_ml1m_sequences_restore_the_complete_history_of_validation_users(tmp_path: Path) -> None:
    seqs, targets, complete = seq._ml1m_sequences(_write_copy(tmp_path))
    assert seqs == {u: FULL[u][:-1] if u in VALIDATION else FULL[u][:-2] for u in USERS}
    assert targets == {u: FULL[u][-1] for u in USERS}
    assert complete.tolist() == list(VALIDATION)


def test_ml1m_test_trains_on_every_known_event(tmp_path: Path) -> None:
    task = seq.load_ml1m(_write_copy(tmp_path))
    assert len(task.train) == sum(len(FULL[u]) - (1 if u in VALIDATION else 2) for u in USERS)
    assert task.targets.tolist() == [15, 26, 34, 44]


def test_ml1m_complete_holds_out_the_last_known_event(tmp_path: Path) -> None:
    task = seq.complete_history_task(seq._ml1m_sequences(_write_copy(tmp_path))[0])
    assert task.targets.tolist() == [FULL[u][-2] if u in VALIDATION else FULL[u][-3] for u in USERS]
    # no target is among the training events of its user
    X = task.train
    for user, target in zip(task.users, task.targets, strict=True):
        rows = X.user_codes == X.users.codes(np.asarray([user]))[0]
        assert target not in X.items.ids[X.item_codes[rows]]
    assert len(X) == sum(len(FULL[u]) - (2 if u in VALIDATION else 3) for u in USERS)


class _NextIdModel:
    """Recommends the ids following the user's last history event: right when nothing is missing."""

    _supports_history = True

    def recommend(self, users: np.ndarray, k: int, exclude_seen: bool, history: Any) -> Any:
        order = history.sort_order()
        last = {}
        for code, item in zip(history.user_codes[order], history.items.ids[history.item_codes[order]], strict=True):
            last[history.users.ids[code]] = item
        items = np.asarray([[last[u] + 1 + j for j in range(k)] for u in users])
        return type("Recs", (), {"items": items})()


def test_gap_cost_is_the_paired_loss_from_dropping_the_last_history_event(tmp_path: Path) -> None:
    gap = seq.ml1m_gap_cost(_NextIdModel(), *seq._ml1m_sequences(_write_copy(tmp_path)))
    assert gap["n_users"] == len(VALIDATION)
    # complete history ends just before the target: rank 1; without its last event: rank 2
    assert gap["complete"]["ndcg@10"] == pytest.approx(1.0)
    assert gap["without_last"]["ndcg@10"] == pytest.approx(1 / np.log2(3))
    assert gap["ndcg@10_cost"] == pytest.approx(1 - 1 / np.log2(3))


def test_accuracy_curve_ends_at_the_fitted_models_own_test_score(tmp_path: Path) -> None:
    # without validation the last epoch's weights are kept: the curve's last point is the
    # test NDCG that the benchmark's evaluation reports for the fitted model
    from liverec.models import SequentialTransformer

    seqs, _, _ = seq._ml1m_sequences(_write_copy(tmp_path))
    task = seq.complete_history_task(seqs)
    model = SequentialTransformer(max_len=8, embedding_dim=8, n_epochs=3, batch_size=2, validation_size=0,
                                  random_state=0, threads=1)
    result = seq.run_model("model", model, task, curve=True)
    assert [p["epoch"] for p in result["test_curve"]] == [1, 2, 3]
    assert result["test_curve"][-1]["test_ndcg"] == pytest.approx(result["ndcg@10"], abs=1e-5)
