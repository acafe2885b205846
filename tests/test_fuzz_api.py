"""Fuzzing the query entry points of fitted models with hostile arguments.

Every call either returns a well-formed, correct answer or raises a liverec error (a
``LiverecError``, which subclasses ``ValueError`` / ``KeyError`` / ``TypeError``): never a
raw numpy / torch / Python exception and never a silently wrong result. Bounded by the
conftest ``ci`` profile in ``make test``; ``HYPOTHESIS_PROFILE=fuzz`` runs it longer.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liverec import Recommendations
from liverec.exceptions import LiverecError
from liverec.models import ALS, Popularity
from liverec.testing import contract_data

X, SCHEDULE = contract_data()
USERS = X.users.ids.tolist()
ITEMS = X.items.ids.tolist()
T_MID = float(np.median(SCHEDULE.start)) + 0.5

MODELS = {
    "Popularity": Popularity().fit(X, schedule=SCHEDULE),
    "ALS": ALS(n_factors=4, n_epochs=2, random_state=0, threads=1).fit(X, schedule=SCHEDULE),
}

scalars = st.one_of(
    st.sampled_from(USERS), st.sampled_from(ITEMS), st.integers(-(2**70), 2**70), st.floats(),
    st.text(max_size=5), st.booleans(), st.none(), st.binary(max_size=3),
    st.just(np.datetime64("2262-05-01")), st.just(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)),
)
id_lists = st.one_of(
    st.lists(st.sampled_from(USERS), max_size=4),
    st.lists(scalars, max_size=4),
    st.lists(st.lists(st.sampled_from(USERS), min_size=1, max_size=2), min_size=1, max_size=3),
    st.lists(st.sampled_from(USERS), min_size=2, max_size=4).map(lambda x: np.asarray(x).reshape(-1, 1)),
)
ks = st.one_of(st.integers(-3, 40), st.floats(allow_nan=True), st.text(max_size=2), st.booleans(), st.none(),
               st.just(np.int64(3)), st.just(2**63))
times = st.one_of(
    st.none(), st.floats(), st.integers(-(2**64), 2**64), st.just(T_MID), st.just("2024-01-01"),
    st.just("not a time"), st.just(np.datetime64("2024-01-01T00:00")), st.lists(st.floats(), max_size=3),
    st.just(dt.datetime(2024, 1, 1)), st.just(dt.datetime(3000, 1, 1, tzinfo=dt.timezone.utc)),
)
item_filters = st.one_of(
    st.none(), st.lists(st.sampled_from(ITEMS), max_size=5), st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(USERS), st.lists(st.sampled_from(ITEMS), max_size=3), max_size=3),
    st.just([[ITEMS[0]], [ITEMS[1]]]),
)
histories = st.one_of(
    st.none(), st.lists(st.sampled_from(ITEMS), max_size=4), st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), st.lists(st.sampled_from(ITEMS), max_size=3), max_size=2),
)


def _check_recommendations(recs: Any, n_rows: int, k: int) -> None:
    assert isinstance(recs, Recommendations)
    assert recs.items.shape == (n_rows, k) and recs.scores.shape == (n_rows, k)
    assert recs.users.shape == (n_rows,), "row labels must be one id per row"
    for row in range(n_rows):
        got = recs[row]
        assert len(got) == len(set(got)), "a row holds distinct items"
        assert set(got) <= set(ITEMS)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except LiverecError:
            return None


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(users=id_lists, k=ks, at=times, candidates=item_filters, exclude=item_filters, history=histories,
       exclude_seen=st.booleans())
def test_recommend_answers_correctly_or_raises_a_liverec_error(
    name: str, users: Any, k: Any, at: Any, candidates: Any, exclude: Any, history: Any, exclude_seen: bool
) -> None:
    model = MODELS[name]
    recs = _call(model.recommend, users, k=k, at=at, candidates=candidates, exclude=exclude,
                 history=history, exclude_seen=exclude_seen)
    if recs is None:
        return
    n_rows = len(users)
    _check_recommendations(recs, n_rows, int(k))
    if at is not None and n_rows:
        t = np.broadcast_to(np.asarray(at, dtype=np.float64), (n_rows,))
        for row in range(n_rows):
            assert set(recs[row]) <= set(SCHEDULE.live_at(float(t[row])).tolist()), "only live rooms"
    if isinstance(exclude, list) and exclude and not isinstance(exclude[0], list):
        banned = {x for x in exclude if x in ITEMS}
        assert not any(set(recs[row]) & banned for row in range(n_rows))


@pytest.mark.parametrize("name", sorted(MODELS))
@given(users=st.one_of(id_lists, scalars), items=st.one_of(id_lists, scalars))
def test_predict_answers_or_raises_a_liverec_error(name: str, users: Any, items: Any) -> None:
    out = _call(MODELS[name].predict, users, items)
    if out is not None:
        assert out.ndim == 1 and np.isfinite(out).all()


@given(items=st.one_of(id_lists, scalars), k=ks)
def test_similar_items_answers_or_raises_a_liverec_error(items: Any, k: Any) -> None:
    recs = _call(MODELS["ALS"].similar_items, items, k=k)
    if recs is not None:
        assert recs.items.shape[1] == int(k)


@given(t=times)
def test_live_at_answers_or_raises_a_liverec_error(t: Any) -> None:
    out = _call(SCHEDULE.live_at, t)
    if out is not None and np.ndim(t) == 0 and isinstance(t, (int, float)):
        expected = {SCHEDULE.items.ids[c] for c, s, e in zip(SCHEDULE.item_codes, SCHEDULE.start, SCHEDULE.end)
                    if s <= t < e}
        assert set(out.tolist()) == expected
