"""The torch runtime: one device resolver, one meaning of ``threads``, no thread-setting changes by recommend."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch

from liverec import _runtime
from liverec.data import Interactions
from liverec.models import ALS, BPR, SequentialTransformer


def _data(n_users: int = 300, n_items: int = 40, n_events: int = 3000) -> Interactions:
    rng = np.random.default_rng(0)
    return Interactions.from_arrays(rng.integers(n_users, size=n_events), rng.integers(n_items, size=n_events),
                                    time=np.arange(n_events, dtype=float))


@pytest.mark.parametrize("batch_size", [None, 16])
def test_concurrent_recommend_never_changes_torch_threads(batch_size: int | None) -> None:
    """8 Python threads call recommend at once; each reads torch's thread count before and after
    every call, and it is always what the caller set (a service sets its threads once)."""
    X = _data()
    model = ALS(n_factors=8, n_epochs=2, random_state=0, threads=1).fit(X)
    users = X.users.ids
    expected = model.recommend(users, k=5, exclude_seen=True, batch_size=batch_size)
    before_all = torch.get_num_threads()
    chosen = 3 if before_all != 3 else 2  # a value no code path would pick by itself
    torch.set_num_threads(chosen)
    barrier = threading.Barrier(8)
    seen: list[tuple[str, int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        try:
            barrier.wait()
            for step in range(6):
                before = torch.get_num_threads()
                history = {"newcomer": [users[w], users[step]]} if step % 2 else None
                got = model.recommend(list(users) + (["newcomer"] if history else []), k=5, exclude_seen=True,
                                      history=history, batch_size=batch_size)
                after = torch.get_num_threads()
                with lock:
                    seen.append((threading.current_thread().name, before, after))
                np.testing.assert_array_equal(got.items[:len(users)], expected.items)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(w,), name=f"caller-{w}") for w in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        main_after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before_all)
    assert not errors, errors[0]
    assert len(seen) == 8 * 6
    bad = [s for s in seen if s[1] != chosen or s[2] != chosen]
    assert not bad, f"torch threads changed around recommend (expected {chosen}): {bad[:5]}"
    assert main_after == chosen


def test_fit_sets_threads_for_its_duration_and_restores_them() -> None:
    X = _data(60, 20, 600)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for model in (ALS(n_factors=4, n_epochs=1, threads=1), BPR(n_factors=4, n_epochs=1, threads=1),
                      SequentialTransformer(embedding_dim=8, n_layers=1, n_heads=1, n_epochs=1, max_len=8,
                                            threads=1, device="cpu")):
            model.fit(X)
            assert torch.get_num_threads() == 2, type(model).__name__
    finally:
        torch.set_num_threads(before)


def test_threads_none_means_all_usable_cores() -> None:
    assert _runtime.resolve_threads(None) == _runtime.usable_cores() >= 1
    assert _runtime.resolve_threads(3) == 3
    with pytest.raises(ValueError, match="threads"):
        _runtime.resolve_threads(0)
    with pytest.raises(ValueError, match="threads"):
        _runtime.resolve_threads(True)  # type: ignore[arg-type]


def test_one_device_resolver() -> None:
    assert _runtime.resolve_device("cpu") == torch.device("cpu")
    auto = _runtime.resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.warns(RuntimeWarning, match="no CUDA GPU"):
            assert _runtime.resolve_device("cuda:1") == torch.device("cpu")
    with pytest.raises(ValueError, match="device"):
        _runtime.resolve_device("no-such-device")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _runtime.resolve_device("cpu:0") == torch.device("cpu:0")
