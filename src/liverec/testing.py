"""The contract suite: the behaviour every liverec model guarantees.

Run all checks against a model with [`check_recommender`][liverec.testing.check_recommender], or use `CHECKS` to
parametrize a pytest suite (``tests/test_contract.py`` does, for every model).

Examples:
    >>> from liverec.models import Popularity
    >>> check_recommender(lambda: Popularity())
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import BaseRecommender
from .data import Interactions, LiveSchedule
from .exceptions import NotFittedError, UnknownUserError
from .persistence import load

ModelFactory = Callable[[], BaseRecommender]


def contract_data(seed: int = 0) -> tuple[Interactions, LiveSchedule]:
    """A small live-streaming data set: 40 users, 25 rooms, broadcasts, repeat visits.

    Users act only on rooms live at the event time; each user prefers a few rooms.
    """
    rng = np.random.default_rng(seed)
    n_users, n_items, n_days = 40, 25, 6
    starts, ends, rooms = [], [], []
    for day in range(n_days):
        for room in range(n_items):
            if rng.random() < 0.7:
                s = day * 24.0 + rng.uniform(8, 20)
                starts.append(s)
                ends.append(s + rng.uniform(1, 4))
                rooms.append(f"room{room}")
    schedule = LiveSchedule.from_arrays(rooms, starts, ends)
    favourites = rng.integers(0, n_items, size=(n_users, 3))
    users, items, times, events = [], [], [], []
    b_start, b_end, b_item = np.array(starts), np.array(ends), np.array(rooms)
    for u in range(n_users):
        for _ in range(rng.integers(6, 14)):
            b = rng.integers(len(b_start))
            if rng.random() < 0.7:
                mine = np.flatnonzero(np.isin(b_item, [f"room{f}" for f in favourites[u]]))
                if len(mine):
                    b = rng.choice(mine)
            t = rng.uniform(b_start[b], b_end[b])
            users.append(f"user{u}")
            items.append(b_item[b])
            times.append(t)
            events.append(rng.choice(["view", "view", "like", "comment", "cart", "purchase"]))
    X = Interactions.from_arrays(users, items, time=times, event=events,
                                 weight=rng.uniform(1, 5, size=len(users)).round())
    return X, schedule


def _fit(factory: ModelFactory, X: Interactions, schedule: LiveSchedule | None = None) -> BaseRecommender:
    return factory().fit(X, schedule=schedule)


def check_fit_returns_self(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = factory()
    assert model.fit(X) is model, "fit must return self"
    assert getattr(model, "is_fitted_", False)


def check_init_stores_params(factory: ModelFactory) -> None:
    model = factory()
    params = model.get_params(deep=False)
    assert not [n for n in vars(model) if n.endswith("_") and not n.startswith("_")], \
        "__init__ must not set fitted attributes"
    clone = type(model)(**params)
    assert clone.get_params(deep=False).keys() == params.keys()
    model.set_params(**params)
    assert repr(model).startswith(type(model).__name__)


def check_sklearn_clone(factory: ModelFactory) -> None:
    try:
        from sklearn.base import clone
    except ImportError:  # pragma: no cover
        return
    X, _ = contract_data()
    model = factory().fit(X)
    twin = clone(model)
    assert type(twin) is type(model)
    assert not getattr(twin, "is_fitted_", False)
    assert set(twin.get_params(deep=False)) == set(model.get_params(deep=False))


def check_not_fitted(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = factory()
    for call in (lambda: model.recommend(X.users.ids[0]), lambda: model.predict([X.users.ids[0]], [X.items.ids[0]]),
                 lambda: model.save(tempfile.mkdtemp())):
        try:
            call()
        except NotFittedError:
            continue
        raise AssertionError("calling a method before fit must raise NotFittedError")


def check_recommend_shapes(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = _fit(factory, X)
    users = X.users.ids[:7]
    recs = model.recommend(users, k=5)
    assert recs.items.shape == (7, 5) and recs.scores.shape == (7, 5)
    assert recs.mask.all()
    assert np.all(np.diff(recs.scores, axis=1) <= 1e-6), "scores must be non-increasing"
    for row in range(7):
        assert len(set(recs[row])) == 5, "items in a row must be distinct"
    one = model.recommend(users[0], k=5)
    assert one.items.shape == (1, 5)
    np.testing.assert_array_equal(one.items[0], recs.items[0])
    preds = model.predict(users[:3], recs.items[:3, 0])
    assert preds.shape == (3,) and np.isfinite(preds).all()


def check_k_larger_than_candidates(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = _fit(factory, X)
    cands = X.items.ids[:3]
    recs = model.recommend(X.users.ids[:2], k=10, candidates=cands)
    assert recs.items.shape == (2, 10)
    assert recs.mask[:, :3].all() and not recs.mask[:, 3:].any()
    assert np.isneginf(recs.scores[:, 3:]).all()
    assert all(set(recs[r]) == set(cands.tolist()) for r in range(2))
    big = model.recommend(X.users.ids[:1], k=X.n_items + 5)
    assert big.mask.sum() == X.n_items


def check_candidates_respected(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = _fit(factory, X)
    users = X.users.ids[:4]
    per_user = [X.items.ids[[0, 1, 2]], X.items.ids[[3, 4]], X.items.ids[[5]], X.items.ids[[6, 7, 8, 9]]]
    recs = model.recommend(users, k=3, candidates=per_user)
    for r in range(4):
        assert set(recs[r]) <= set(per_user[r].tolist())
        assert len(recs[r]) == min(3, len(per_user[r]))


def check_schedule_respected(factory: ModelFactory) -> None:
    X, schedule = contract_data()
    model = _fit(factory, X, schedule)
    t = float(np.median(schedule.start)) + 0.5
    live = set(schedule.live_at(t).tolist())
    assert live, "contract data must have live rooms"
    recs = model.recommend(X.users.ids[:5], k=5, at=t)
    for r in range(5):
        assert set(recs[r]) <= live, "a live-only recommendation must never contain an off-air item"
    plain = _fit(factory, X)
    recs2 = plain.recommend(X.users.ids[:5], k=5, at=t, schedule=schedule)
    for r in range(5):
        assert set(recs2[r]) <= live


def check_exclusions(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = _fit(factory, X)
    users = X.users.ids[:5]
    first = model.recommend(users, k=3)
    banned = np.unique(first.items[:, 0])
    recs = model.recommend(users, k=3, exclude=banned)
    assert not set(banned.tolist()) & {i for r in range(5) for i in recs[r]}
    recs = model.recommend(users, k=5, exclude_seen=True)
    seen = X.to_csr("binary")
    for r, u in enumerate(users):
        seen_items = set(X.items.ids[seen[X.users.codes([u])[0]].indices].tolist())
        assert not seen_items & set(recs[r])
    both = model.recommend(users, k=5, exclude_seen=True, exclude=banned, candidates=X.items.ids[:15])
    for r in range(len(users)):
        got = set(both[r])
        assert got <= set(X.items.ids[:15].tolist()) and not got & set(banned.tolist())


def check_unknown_user(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = _fit(factory, X)
    try:
        model.recommend(["nobody-at-all"], k=3)
    except UnknownUserError as err:
        assert isinstance(err, KeyError) and "history" in str(err)
    else:
        raise AssertionError("an unknown user without history must raise UnknownUserError")


def check_history_fold_in(factory: ModelFactory) -> None:
    X, _ = contract_data()
    model = _fit(factory, X)
    if not model._supports_history:
        return
    items = X.items.ids[[0, 1, 2, 1]]
    recs = model.recommend("newcomer", k=4, history=items)
    assert recs.items.shape == (1, 4) and recs.mask.all()
    recs = model.recommend("newcomer", k=4, history=items, exclude_seen=True)
    assert not set(recs[0]) & set(items.tolist())
    mixed = model.recommend([X.users.ids[0], "newcomer"], k=4, history={"newcomer": items})
    assert mixed.items.shape == (2, 4) and mixed.mask.all()


def check_deterministic(factory: ModelFactory) -> None:
    X, _ = contract_data()
    a = _fit(factory, X).recommend(X.users.ids[:6], k=5)
    b = _fit(factory, X).recommend(X.users.ids[:6], k=5)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)


def check_refit_from_scratch(factory: ModelFactory) -> None:
    X, _ = contract_data(0)
    Y, _ = contract_data(1)
    model = _fit(factory, X)
    model.fit(Y)
    fresh = _fit(factory, Y)
    users = Y.users.ids[:5]
    np.testing.assert_allclose(model.recommend(users, k=5).scores, fresh.recommend(users, k=5).scores,
                               rtol=1e-5, atol=1e-6)


def check_save_load(factory: ModelFactory) -> None:
    X, schedule = contract_data()
    model = _fit(factory, X, schedule)
    t = float(np.median(schedule.start)) + 0.5
    with tempfile.TemporaryDirectory() as d:
        model.save(d)
        again = load(d)
    assert type(again) is type(model)
    assert again.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    users = X.users.ids[:6]
    for kwargs in ({}, {"at": t}, {"exclude_seen": True}):
        a, b = model.recommend(users, k=5, **kwargs), again.recommend(users, k=5, **kwargs)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


_FRESH_PROCESS_SCRIPT = """
import json, sys
import numpy as np
import liverec
assert "transformers" not in sys.modules, "import liverec must not import transformers"
path, method, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
obj = liverec.load(path + "/saved")
with np.load(path + "/args.npz", allow_pickle=False) as f:
    args = [f[f"a{j}"] for j in range(len(f.files))]
out = getattr(obj, method)(*args, **kwargs)
if hasattr(out, "scores"):
    np.savez(path + "/out.npz", items=np.asarray(out.items).astype(str), scores=np.asarray(out.scores))
else:
    np.savez(path + "/out.npz", values=np.asarray(out))
"""


def check_loads_in_fresh_process(obj: Any, method: str = "recommend", *args: Any, **kwargs: Any) -> None:
    """Save the fitted ``obj``, load it in a new Python process that ran only ``import liverec``,
    call ``obj.method(*args, **kwargs)`` there and check the result equals this process's.

    ``args`` are arrays (saved without pickle), ``kwargs`` JSON values. A method returning
    [`Recommendations`][liverec.base.Recommendations] is compared by items and scores, anything else as an
    array. Works for every saveable liverec class (models, text encoders, stream embedders,
    profile builders).
    """
    here = getattr(obj, method)(*args, **kwargs)
    with tempfile.TemporaryDirectory() as d:
        obj.save(os.path.join(d, "saved"))
        arrays: dict[str, Any] = {f"a{j}": np.asarray(a) for j, a in enumerate(args)}
        np.savez(os.path.join(d, "args.npz"), **arrays)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, "-c", _FRESH_PROCESS_SCRIPT, d, method, json.dumps(kwargs)],
                              cwd=d, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (
            f"{type(obj).__name__} did not load and score in a fresh process:\n{proc.stderr[-3000:]}")
        with np.load(os.path.join(d, "out.npz"), allow_pickle=False) as f:
            there = {k: f[k] for k in f.files}
    if hasattr(here, "scores"):
        np.testing.assert_array_equal(np.asarray(here.items).astype(str), there["items"])
        np.testing.assert_allclose(np.asarray(here.scores), there["scores"], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(np.asarray(here), there["values"], rtol=1e-5, atol=1e-6)


def check_save_load_fresh_process(factory: ModelFactory) -> None:
    X, schedule = contract_data()
    model = _fit(factory, X, schedule)
    check_loads_in_fresh_process(model, "recommend", X.users.ids[:6], k=5)


def check_fit_rejects_bad_input(factory: ModelFactory) -> None:
    try:
        factory().fit({"user": [1], "item": [2]})  # type: ignore[arg-type]
    except TypeError as err:
        assert "Interactions" in str(err)
    else:
        raise AssertionError("fit must reject something that is not Interactions")


def saved_bytes_contain(path: str, ids: Any) -> list[str]:
    """Files under the saved directory ``path`` whose bytes contain one of ``ids``.

    Each id is searched as UTF-8, UTF-16 and UTF-32 text (string ids) or as its little-endian
    int64 bytes (integer ids). Returns ``"file: id"`` for every hit (empty: no trace).
    Meaningful for distinctive ids only: the bytes of a small integer such as ``0`` occur in
    any binary file.
    """
    needles = []
    for x in np.asarray(ids).tolist():
        if isinstance(x, str):
            needles += [(x, x.encode(enc)) for enc in ("utf-8", "utf-16-le", "utf-32-le")]
        else:
            needles.append((x, np.int64(x).tobytes()))
    hits = []
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                blob = fh.read()
            hits += [f"{name}: {x!r}" for x, needle in needles if needle in blob]
    return hits


def check_forget(factory: ModelFactory) -> None:
    X, schedule = contract_data()
    model = _fit(factory, X, schedule)
    gone = ["user17", "user23"]  # no other contract id contains these
    assert model.forget(gone) is model, "forget must return self"
    assert len(model.users_) == X.n_users - 2 and model.seen_.shape[0] == len(model.users_)
    for user in gone:
        try:
            model.recommend(user, k=3)
        except UnknownUserError:
            continue
        raise AssertionError("recommend must raise UnknownUserError for a forgotten user")
    kept = [u for u in X.users.ids[:6].tolist() if u not in gone]
    with tempfile.TemporaryDirectory() as d:
        model.save(d)
        hits = saved_bytes_contain(d, gone)
        assert not hits, f"a saved model must hold no trace of forgotten users: {hits}"
    # the model after forget loads where users load it: in a new process
    check_loads_in_fresh_process(model, "recommend", np.asarray(kept), k=5)
    try:
        model.forget(gone[:1])
    except UnknownUserError:
        pass
    else:
        raise AssertionError("forgetting an unknown (already forgotten) user must raise UnknownUserError")


CHECKS: dict[str, Callable[[ModelFactory], None]] = {
    f.__name__.removeprefix("check_"): f
    for f in (
        check_fit_returns_self, check_init_stores_params, check_sklearn_clone, check_not_fitted,
        check_recommend_shapes, check_k_larger_than_candidates, check_candidates_respected,
        check_schedule_respected, check_exclusions, check_unknown_user, check_history_fold_in,
        check_deterministic, check_refit_from_scratch, check_save_load, check_save_load_fresh_process,
        check_fit_rejects_bad_input, check_forget,
    )
}


def check_recommender(factory: ModelFactory, skip: tuple[str, ...] = ()) -> None:
    """Run every contract check against models built by ``factory`` (raises on failure)."""
    for name, check in CHECKS.items():
        if name not in skip:
            check(factory)


__all__ = ["CHECKS", "check_loads_in_fresh_process", "check_recommender", "contract_data", "saved_bytes_contain"]
_ = Any
