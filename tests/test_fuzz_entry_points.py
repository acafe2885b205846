"""Fuzzing the public entry points that ``test_fuzz_api.py`` does not reach (issue 13, outside probe).

Metrics and ``evaluate``, the splits, the ``Interactions`` / ``LiveSchedule`` / ``TextEvents`` /
``Recommendations`` methods, profiles, text encoders, the dataset loaders and generator, and
``fit`` / ``partial_fit`` / ``save`` of every model class with odd data. Every call either
returns a correct answer (checked against an invariant or a brute-force reference) or raises a
liverec error (:class:`~liverec.exceptions.LiverecError`), promptly. Nothing else. Bounded by
the conftest ``ci`` profile; ``HYPOTHESIS_PROFILE=fuzz`` runs it longer.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import liverec
from liverec import Recommendations
from liverec.data import Interactions, LiveSchedule, TextEvents
from liverec.exceptions import LiverecError
from liverec.testing import contract_data

FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large], deadline=None)
FEW = settings(FUZZ, max_examples=min(settings().max_examples, 25))


def attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or ``None`` when it raised a liverec error; anything else fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(*args, **kwargs)
        except LiverecError as err:
            assert str(err), "a refusal must say why"
            if currently_in_test_context():
                event(f"refused: {type(err).__name__}")
            return None
    if currently_in_test_context():
        event("accepted")
    return out



X, SCHEDULE = contract_data()
USERS = X.users.ids.tolist()
ITEMS = X.items.ids.tolist()

hostile_scalars = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=4), st.booleans(), st.none(),
    st.binary(max_size=3), st.just(np.datetime64("NaT")), st.just(dt.datetime(2024, 1, 1)),
    st.just(object()), st.just([1, 2]), st.just({"a": 1}),
)
hostile_ks = st.one_of(st.integers(-3, 30), st.none(), st.floats(), st.text(max_size=2), st.booleans(),
                       st.just(np.int64(2)), st.just(2**63), st.just((1, 3)), st.just([]), st.just([0, 2]))


# Metrics --------------------------------------------------------------------------------------------
@st.composite
def int_rankings(draw: Any) -> tuple[np.ndarray, list[set[int]]]:
    """Integer ranked lists with -1 padding and per-user relevant sets (possibly empty)."""
    n = draw(st.integers(1, 5))
    length = draw(st.integers(1, 6))
    ranked = np.array(draw(st.lists(st.lists(st.integers(-1, 7), min_size=length, max_size=length),
                                    min_size=n, max_size=n)), dtype=np.int64)
    relevant = draw(st.lists(st.sets(st.integers(0, 7), max_size=4), min_size=n, max_size=n))
    return ranked, relevant


def _reference(ranked: np.ndarray, relevant: list[set[int]], k: int) -> dict[str, list[float]]:
    """Brute-force per-user metrics (binary relevance, repeats count once, -1 is padding)."""
    out: dict[str, list[float]] = {m: [] for m in ("hit_rate", "recall", "precision", "mrr", "map", "ndcg")}
    for row, rel in zip(ranked.tolist(), relevant, strict=True):
        if not rel:
            for m in out:
                out[m].append(math.nan)
            continue
        seen: set[int] = set()
        hits = []
        for x in row[:k]:
            hit = x >= 0 and x in rel and x not in seen
            seen.add(x)
            hits.append(hit)
        hits += [False] * (k - len(hits))
        n_hit = sum(hits)
        out["hit_rate"].append(float(n_hit > 0))
        out["recall"].append(n_hit / len(rel))
        out["precision"].append(n_hit / k)
        out["mrr"].append(1.0 / (hits.index(True) + 1) if n_hit else 0.0)
        ap = sum(sum(hits[: i + 1]) / (i + 1) for i in range(k) if hits[i])
        out["map"].append(ap / min(len(rel), k))
        dcg = sum(1.0 / math.log2(i + 2) for i in range(k) if hits[i])
        idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
        out["ndcg"].append(dcg / idcg)
    return out


@FUZZ
@given(case=int_rankings(), k=st.integers(1, 8))
def test_ranking_metrics_match_a_brute_force_reference(case: Any, k: int) -> None:
    from liverec import metrics as M

    ranked, relevant = case
    want = _reference(ranked, relevant, k)
    fns = {"hit_rate": M.hit_rate_at_k, "recall": M.recall_at_k, "precision": M.precision_at_k,
           "mrr": M.mrr_at_k, "map": M.map_at_k, "ndcg": M.ndcg_at_k}
    for name, fn in fns.items():
        got = fn(ranked, relevant, k=k, average=False)
        np.testing.assert_allclose(got, want[name], rtol=1e-9, err_msg=name)
        mean = fn(ranked, relevant, k=k)
        valid = [v for v in want[name] if not math.isnan(v)]
        assert (math.isnan(mean) and not valid) or mean == pytest.approx(sum(valid) / len(valid)), name
    together = M.ranking_metrics(ranked, relevant, k=k)
    for name in fns:
        got_mean = together[f"{name}@{k}"]
        valid = [v for v in want[name] if not math.isnan(v)]
        assert (math.isnan(got_mean) and not valid) or got_mean == pytest.approx(sum(valid) / len(valid)), name


ranked_inputs = st.one_of(
    int_rankings().map(lambda c: c[0]),
    st.lists(st.lists(st.one_of(st.text(max_size=2), st.none(), st.floats(), st.integers(-2, 5)),
                      min_size=2, max_size=2), min_size=1, max_size=3),
    st.lists(st.integers(0, 5), max_size=4),
    st.just(np.zeros((0, 3), dtype=np.int64)), st.just(np.zeros((2, 0), dtype=np.int64)),
    st.just(np.zeros((2, 2, 2))), st.just([[1, 2], [3]]), st.just("abc"), st.none(), st.just(5),
    st.just(np.array([[1.5, np.inf]])), st.just(np.array([[np.datetime64("2024-01-01")]])),
)
relevant_inputs = st.one_of(
    st.lists(st.integers(-1, 5), max_size=4),
    st.lists(st.sets(st.integers(0, 5), max_size=3), max_size=4),
    st.lists(st.one_of(st.none(), st.floats(), st.text(max_size=2)), max_size=3),
    st.just(np.array([[0.0, 1.0, -1.0]])), st.just(np.array([[np.nan, 1.0]])), st.just(np.array([[np.inf, 1.0]])),
    st.just(np.ones((1, 6))), st.just(np.zeros((0, 0))), st.none(), st.just(3), st.just({"a": 1}),
    st.just([[1, [2]], [3]]), st.just([{1: 2}]),
)


@FUZZ
@given(ranked=ranked_inputs, relevant=relevant_inputs, k=hostile_ks,
       name=st.sampled_from(["hit_rate_at_k", "recall_at_k", "precision_at_k", "mrr_at_k", "map_at_k", "ndcg_at_k"]),
       average=st.booleans(), gain=st.sampled_from(["linear", "exponential", "log", None]))
def test_ranking_metrics_take_hostile_input(ranked: Any, relevant: Any, k: Any, name: str, average: bool,
                                            gain: Any) -> None:
    from liverec import metrics as M

    kwargs = {"gain": gain} if name == "ndcg_at_k" else {}
    out = attempt(getattr(M, name), ranked, relevant, k=k, average=average, **kwargs)
    if out is None:
        return
    values = np.atleast_1d(np.asarray(out, dtype=np.float64))
    assert ((values >= 0) & (values <= 1 + 1e-12) | np.isnan(values)).all(), (name, out)
    if not average:
        assert len(values) == len(np.asarray(ranked, dtype=object)), "one value per user"


@FUZZ
@given(ranked=ranked_inputs, relevant=relevant_inputs, k=hostile_ks,
       metrics=st.one_of(st.just(("ndcg", "mrr")), st.just(["nope"]), st.just("ndcg"), st.just([]), st.none()))
def test_ranking_metrics_bundle_takes_hostile_input(ranked: Any, relevant: Any, k: Any, metrics: Any) -> None:
    from liverec.metrics import ranking_metrics

    out = attempt(ranking_metrics, ranked, relevant, k=k, metrics=metrics)
    if out is not None:
        assert isinstance(out, dict)
        for v in out.values():
            assert math.isnan(v) or 0 <= v <= 1 + 1e-12


labels = st.one_of(st.lists(st.integers(0, 1), max_size=8), st.lists(st.booleans(), max_size=8),
                   st.lists(st.integers(-1, 2), max_size=4), st.lists(st.one_of(st.text(max_size=1), st.none()), max_size=3),
                   st.just(np.zeros((2, 2))), st.none(), st.just(1))
scores = st.one_of(st.lists(st.floats(-5, 5), max_size=8), st.lists(st.floats(), max_size=8),
                   st.lists(st.text(max_size=2), max_size=3), st.none(), st.just([[0.1, 0.2]]), st.just(0.5))


def _brute_auc(y: list[int], s: list[float]) -> float:
    pos = [b for a, b in zip(y, s, strict=True) if a]
    neg = [b for a, b in zip(y, s, strict=True) if not a]
    if not pos or not neg:
        return math.nan
    return sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))


@FUZZ
@given(y=labels, s=scores, groups=st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", 1]), max_size=8),
                                            st.just(np.zeros((2, 2)))),
       weighting=st.sampled_from(["impressions", "uniform", "x", None]))
def test_auc_and_gauc_answer_in_range_or_refuse(y: Any, s: Any, groups: Any, weighting: Any) -> None:
    from liverec.metrics import auc, gauc

    a = attempt(auc, y, s)
    if a is not None:
        assert math.isnan(a) or 0 <= a <= 1
        if isinstance(y, list) and isinstance(s, list) and all(isinstance(v, float) for v in s) and \
                all(math.isfinite(v) for v in s):
            want = _brute_auc([int(v) for v in y], s)
            assert (math.isnan(a) and math.isnan(want)) or a == pytest.approx(want)
    g = attempt(gauc, y, s, groups, weighting=weighting)
    if g is not None:
        assert math.isnan(g) or 0 <= g <= 1 + 1e-12


@FUZZ
@given(ranked=ranked_inputs, catalog=st.one_of(st.integers(-2, 10), st.lists(st.integers(0, 6), max_size=5),
                                               st.just([]), st.none(), st.just("abc"), st.just(True), st.floats()),
       k=hostile_ks)
def test_catalog_coverage_in_range_or_refuses(ranked: Any, catalog: Any, k: Any) -> None:
    from liverec.metrics import catalog_coverage

    out = attempt(catalog_coverage, ranked, catalog, k=k)
    if out is not None:
        assert 0 <= out <= 1


@FUZZ
@given(ranked=ranked_inputs, counts=st.one_of(st.lists(st.integers(-3, 10), max_size=8), st.just({0: 3, "a": 1}),
                                              st.lists(st.floats(), max_size=8), st.none(), st.just("x")),
       n_users=st.one_of(st.integers(-2, 20), st.floats(), st.none(), st.just("5"), st.just(True)), k=hostile_ks)
def test_novelty_finite_or_refuses(ranked: Any, counts: Any, n_users: Any, k: Any) -> None:
    from liverec.metrics import novelty

    out = attempt(novelty, ranked, counts, n_users, k=k, average=False)
    if out is not None:
        v = np.asarray(out, dtype=np.float64)
        assert not np.isinf(v).any(), "novelty is finite (NaN only for an empty list)"


@FUZZ
@given(ranked=ranked_inputs, vectors=st.one_of(st.just(np.eye(8)), st.just(np.full((8, 2), np.nan)),
                                               st.just(np.zeros(3)), st.just("x"), st.just([[1, "a"]])),
       k=hostile_ks)
def test_intra_list_diversity_in_range_or_refuses(ranked: Any, vectors: Any, k: Any) -> None:
    from liverec.metrics import intra_list_diversity

    out = attempt(intra_list_diversity, ranked, vectors, k=k, average=False)
    if out is not None:
        v = np.asarray(out, dtype=np.float64)
        assert ((v >= -1e-9) & (v <= 2 + 1e-9) | np.isnan(v)).all()


event_logs = st.one_of(
    st.lists(st.sampled_from(["impression", "click", "purchase", "view", ""]), max_size=10),
    st.lists(hostile_scalars, max_size=4), st.none(), st.just(5), st.just(X), st.just(np.zeros((2, 2))),
)


@FUZZ
@given(events=event_logs, by=st.one_of(st.none(), st.sampled_from(["user", "item", "room"]),
                                       st.lists(st.sampled_from(["a", "b"]), max_size=10), st.just(np.zeros((2, 2)))),
       fn=st.sampled_from(["ctr", "cvr"]))
def test_ctr_cvr_are_rates_or_refuse(events: Any, by: Any, fn: str) -> None:
    from liverec import metrics as M

    out = attempt(getattr(M, fn), events, by=by)
    if out is None:
        return
    values = list(out.values()) if isinstance(out, dict) else [out]
    for v in values:
        assert isinstance(v, float) and (math.isnan(v) or v >= 0)


# evaluate ---------------------------------------------------------------------------------------------
_POP = liverec.models.Popularity().fit(X, schedule=SCHEDULE)
_split_rows = np.argsort(X.time, kind="stable")
_TRAIN, _TEST = X.select(_split_rows[: len(X) * 3 // 4]), X.select(_split_rows[len(X) * 3 // 4:])


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"k": []}, "k=[] raises a bare ValueError"),
    ({"k": None}, "k=None raises a bare TypeError"),
    ({"k": "1:"}, "k='1:' raises a bare ValueError from int()"),
    ({"k": 2.5}, "k=2.5 raises a bare TypeError"),
    ({"per": "x"}, "per='x' raises a bare ValueError"),
    ({"test": [1, 2]}, "test=list raises a bare TypeError"),
])
def test_evaluate_refuses_bad_arguments_with_a_liverec_error(kwargs: dict[str, Any], why: str) -> None:
    from liverec.metrics import evaluate

    args = {"test": _TEST, "k": 5, **kwargs}
    with pytest.raises(LiverecError):
        evaluate(_POP, _TRAIN, args.pop("test"), verbose=False, n_bootstrap=0, **args)


def test_evaluate_a_cut_off_past_the_catalogue_ranks_the_whole_catalogue() -> None:
    from liverec.metrics import evaluate

    n_items = len(_POP.items_)
    huge = evaluate(_POP, _TRAIN, _TEST, k=2**63, verbose=False, n_bootstrap=0)
    whole = evaluate(_POP, _TRAIN, _TEST, k=n_items, verbose=False, n_bootstrap=0)
    for name in ("hit_rate", "ndcg", "recall", "mrr", "map"):
        assert huge.mean["all"][f"{name}@{2**63}"] == pytest.approx(whole.mean["all"][f"{name}@{n_items}"])


def test_evaluate_refuses_a_boolean_k() -> None:
    from liverec.metrics import evaluate

    with pytest.raises(LiverecError):
        evaluate(_POP, _TRAIN, _TEST, k=True, verbose=False, n_bootstrap=0)


@FEW
@given(k=st.one_of(st.integers(1, 40), st.lists(st.integers(1, 30), min_size=1, max_size=3)),
       use_schedule=st.booleans(), exclude_seen=st.booleans(),
       test_form=st.sampled_from(["test", "one row", "unknown user", "unknown item", "train"]),
       per=st.sampled_from(["auto", "event", "user"]))
def test_evaluate_answers_in_range(k: Any, use_schedule: bool, exclude_seen: bool, test_form: str, per: str) -> None:
    from liverec.metrics import evaluate

    d = _TEST.to_dict()
    test: Any = {
        "test": _TEST, "train": _TRAIN, "one row": _TEST.select([0]),
        "unknown user": Interactions.from_arrays(["nobody"] + d["user"][1:].tolist(), d["item"], time=d["time"]),
        "unknown item": Interactions.from_arrays(d["user"], ["new room"] + d["item"][1:].tolist(), time=d["time"]),
    }[test_form]
    res = attempt(evaluate, _POP, _TRAIN, test, k=k, schedule=SCHEDULE if use_schedule else None,
                  exclude_seen=exclude_seen, per=per, n_bootstrap=0, verbose=False)
    if res is None:
        return
    for seg, values in res.mean.items():
        for key, v in values.items():
            assert math.isnan(v) or 0 <= v <= 1 + 1e-9, (seg, key, v)


# Small hostile Interactions ---------------------------------------------------------------------------
time_columns = st.sampled_from(["none", "small", "same", "huge", "negative", "datetime", "far datetime", "float"])


def _times(form: str, n: int, rng: np.random.Generator) -> Any:
    if form == "none":
        return None
    if form == "same":
        return [5.0] * n
    if form == "huge":
        return (2.0**52 + rng.integers(0, 4, n)).tolist()
    if form == "negative":
        return (-(10.0**12) - rng.integers(0, 4, n)).tolist()
    if form == "datetime":
        return np.datetime64("2024-01-01") + rng.integers(0, 10**6, n).astype("timedelta64[s]")
    if form == "far datetime":
        return np.array(["1700-01-01", "2200-01-01"] * n, dtype="datetime64[s]")[:n]
    if form == "float":
        return rng.uniform(-1, 1, n).tolist()
    return rng.integers(0, 6, n).tolist()


@st.composite
def small_interactions(draw: Any) -> Interactions:
    n = draw(st.integers(1, 12))
    n_users = draw(st.integers(1, 4))
    n_items = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    users = rng.integers(0, n_users, n)
    id_form = draw(st.sampled_from(["int", "str"]))
    user = users.tolist() if id_form == "int" else [f"u{u}" for u in users]
    item = [f"i{i}" for i in rng.integers(0, n_items, n)]
    event = draw(st.one_of(st.none(), st.just(rng.choice(["view", "like", "purchase", "gift"], n).tolist())))
    weight = draw(st.one_of(st.none(), st.just(rng.uniform(0, 5, n).tolist()), st.just([0.0] * n)))
    return Interactions.from_arrays(user, item, time=_times(draw(time_columns), n, rng), event=event, weight=weight)


time_points = st.one_of(
    st.none(), st.floats(), st.integers(-(2**64), 2**64), st.just(3), st.just("2024-01-05"), st.just("garbage"),
    st.just(np.datetime64("2024-01-05T00:00")), st.just(dt.datetime(2024, 1, 5)),
    st.just(dt.datetime(2024, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))), st.just(dt.date(2024, 1, 5)),
    st.just(dt.timedelta(days=1)), st.just(np.timedelta64(5, "s")), st.just([1, 2]), st.just(b"x"),
    st.just(np.datetime64("NaT")), st.just(np.float64("nan")), st.just(np.datetime64("9999-12-31")),
)


def _same_rows(a: Interactions, b: dict[str, np.ndarray], rows: np.ndarray) -> None:
    d = a.to_dict()
    for col, values in d.items():
        want = b[col][rows]
        assert len(values) == len(want), col
        assert np.array_equal(values, want), (col, values, want)


@FUZZ
@given(X=small_interactions(), start=time_points, end=time_points,
       how=st.sampled_from(["between", "before", "after"]))
def test_time_slices_keep_exactly_the_rows_in_range(X: Interactions, start: Any, end: Any, how: str) -> None:
    fn = {"between": lambda: X.between(start, end), "before": lambda: X.before(start), "after": lambda: X.after(start)}
    out = attempt(fn[how])
    if out is None:
        return
    assert isinstance(out, Interactions)
    lo = X.time.min() if how == "before" or start is None else None
    if how == "between" and start is None and end is None:
        assert len(out) == len(X)
    if len(out):
        assert set(out.to_dict()["user"].tolist()) <= set(X.to_dict()["user"].tolist())
    del lo


@FUZZ
@given(X=small_interactions(), rows=st.one_of(
    st.lists(st.integers(-15, 15), max_size=6), st.lists(st.booleans(), min_size=0, max_size=13),
    st.just(slice(None, None, -1)), st.just(slice(0, 0)), st.integers(-3, 3), st.none(), st.just("a"),
    st.just([0.5]), st.just(np.array([[0]])), st.just([True, 1]), st.just(2**63),
))
def test_select_takes_exactly_the_rows_asked_for(X: Interactions, rows: Any) -> None:
    out = attempt(X.select, rows)
    if out is None:
        return
    idx = np.arange(len(X))[rows] if not isinstance(rows, (int, np.integer)) else np.arange(len(X))[[rows]]
    idx = np.atleast_1d(idx)
    _same_rows(out, X.to_dict(), idx)


@FUZZ
@given(X=small_interactions(), ids=st.one_of(st.lists(st.sampled_from(["u0", "u1", 0, 1, "i0", "i1", "nobody"]),
                                                      max_size=4), hostile_scalars, st.just([[0]]), st.just(set())),
       which=st.sampled_from(["users", "items"]))
def test_for_users_and_items_keep_exactly_their_rows(X: Interactions, ids: Any, which: str) -> None:
    out = attempt(X.for_users if which == "users" else X.for_items, ids)
    if out is None:
        return
    col = "user" if which == "users" else "item"
    wanted = ids if isinstance(ids, (list, set)) else [ids]
    keep = np.array([any(type(v) is type(w) and v == w for w in wanted) for v in X.to_dict()[col].tolist()],
                    dtype=bool) if len(X) else np.zeros(0, dtype=bool)
    _same_rows(out, X.to_dict(), np.flatnonzero(keep))


@FUZZ
@given(X=small_interactions(),
       weighting=st.sampled_from(["count", "sum", "binary", "event", "last", "nope", None, 3]),
       weights=st.one_of(st.none(), st.just({"view": 1.0, "purchase": 5.0}), st.just({"view": -1.0}),
                         st.just({"view": float("nan")}), st.just({"nope": 1.0}), st.just({1: 2}),
                         st.just({"view": "x"}), st.just([1, 2])),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, "float16", "U3", object]))
def test_to_csr_is_a_finite_user_item_matrix(X: Interactions, weighting: Any, weights: Any, dtype: Any) -> None:
    m = attempt(X.to_csr, weighting, event_weights=weights, dtype=dtype)
    if m is not None:
        assert m.shape == (X.n_users, X.n_items)
        assert np.isfinite(m.data.astype(np.float64)).all()
        if weighting == "count":
            assert m.sum() == len(X)
        if weighting == "binary":
            assert set(np.unique(m.data).tolist()) <= {1}
    w = attempt(X.event_weights, weights)
    if w is not None:
        assert w.shape == (len(X),) and np.isfinite(w).all()


@FUZZ
@given(X=small_interactions(), Y=small_interactions(), return_times=st.booleans())
def test_sequences_concat_compact_and_dict_round_trips(X: Interactions, Y: Interactions, return_times: bool) -> None:
    d = X.to_dict()
    again = Interactions.from_arrays(**d)
    _same_rows(again, d, np.arange(len(X)))
    seqs = X.sequences(return_times=return_times)
    items = [s[0] if return_times else s for s in seqs]
    assert sum(len(s) for s in items) == len(X)
    for s in seqs:
        if return_times:
            assert len(s[0]) == len(s[1]) and (np.diff(np.asarray(s[1], dtype=np.float64)) >= 0).all()
    c = attempt(X.concat, Y)
    if c is not None:
        assert len(c) == len(X) + len(Y)
        dy = Y.to_dict()
        cd = c.to_dict()
        assert cd["user"].tolist() == d["user"].tolist() + dy["user"].tolist()
        assert cd["item"].tolist() == d["item"].tolist() + dy["item"].tolist()
    sub = X.select(np.arange(len(X)) % 2 == 0)
    k = attempt(sub.compact)
    if k is not None:
        _same_rows(k, sub.to_dict(), np.arange(len(sub)))
        assert k.n_users == len(set(sub.to_dict()["user"].tolist()))
    wm = attempt(sub.with_maps, X.users, X.items)
    if wm is not None:
        _same_rows(wm, sub.to_dict(), np.arange(len(sub)))
    wm2 = attempt(X.with_maps, sub.users, sub.items)
    if wm2 is not None:
        _same_rows(wm2, d, np.arange(len(X)))


# LiveSchedule --------------------------------------------------------------------------------------------
@FUZZ
@given(t=st.one_of(time_points, st.lists(st.floats(0, 150), max_size=4), st.just(np.array([[1.0, 2.0]]))),
       start=time_points, end=time_points,
       items=st.one_of(st.lists(st.sampled_from(ITEMS + ["nope", 3]), max_size=3), hostile_scalars))
def test_schedule_queries_agree_with_a_brute_force_scan(t: Any, start: Any, end: Any, items: Any) -> None:
    codes = attempt(SCHEDULE.live_codes, t)
    m = attempt(SCHEDULE.live_matrix, t)
    if m is not None:
        n_t = len(np.atleast_1d(np.asarray(t, dtype=np.float64))) if t is not None else m.shape[0]
        assert m.shape == (n_t, len(SCHEDULE.items))
        for row, tt in enumerate(np.atleast_1d(np.asarray(t, dtype=np.float64))):
            want = {SCHEDULE.items.codes([i])[0] for i, s, e in
                    zip(SCHEDULE.item.tolist(), SCHEDULE.start, SCHEDULE.end, strict=True) if s <= tt < e}
            assert set(m[row].indices.tolist()) == want
    del codes
    live = attempt(SCHEDULE.is_live, items, t)
    if live is not None:
        assert live.dtype == bool
    sub = attempt(SCHEDULE.between, start, end)
    if sub is not None:
        assert isinstance(sub, LiveSchedule) and len(sub) <= len(SCHEDULE)


@FUZZ
@given(body=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode),
                      st.sampled_from([b"item,start,end\na,1,2\n", b"item,start,end\na,2,1\n",
                                       b"item,start,end\na,1,\n", b"item,start,end\n007,1,2\n7,1,3\n",
                                       b"item,start,end\na,2024-01-01,2024-01-02\nb,1,2\n",
                                       b"item,start,end\na,1,2,3\n", b"\xef\xbb\xbfitem,start,end\na,1,inf\n"])))
def test_schedule_read_csv_reads_or_refuses(body: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "s.csv")
        with open(p, "wb") as fh:
            fh.write(body)
        s = attempt(LiveSchedule.read_csv, p)
        if s is not None:
            assert (s.end > s.start).all()
            assert all(isinstance(x, str) for x in s.item.tolist()), "ids stay exactly as written"


# TextEvents, Recommendations -------------------------------------------------------------------------------
hostile_texts = st.one_of(
    st.text(max_size=20), st.just("\x00"), st.just("\ud800"), st.just("a" * 200_000), st.just(""), st.just("  "),
    st.just("直播间好物推荐"), st.none(), st.integers(), st.floats(), st.binary(max_size=4), st.just(["a"]),
)


@FUZZ
@given(texts=st.lists(hostile_texts, min_size=1, max_size=4),
       kind=st.one_of(st.sampled_from(["comment", "transcript", "title", "nope"]), st.none(), st.integers()),
       time=st.one_of(st.none(), st.just("same"), time_points))
def test_text_events_build_or_refuse(texts: list[Any], kind: Any, time: Any) -> None:
    n = len(texts)
    tm = [1.0] * n if time == "same" else time
    te = attempt(TextEvents.from_arrays, ["i0"] * n, texts, time=tm, kind=kind)
    if te is None:
        return
    assert len(te) == n
    assert [str(x) for x in te.to_dict()["text"].tolist()] == [str(x) for x in texts]
    assert all(isinstance(x, str) for x in te.to_dict()["text"].tolist())
    sub = attempt(te.between, 0, 2)
    if sub is not None:
        assert len(sub) <= n
    assert len(te.of_kind("comment", "title", "transcript")) <= n


_RECS = _POP.recommend(USERS[:3], k=4)


@FUZZ
@given(index=st.one_of(st.integers(-3, 2), st.just(np.int64(1))))
def test_recommendations_index_and_export(index: Any) -> None:
    got = _RECS[index]
    assert got == [x for x in _RECS.items[index].tolist() if x is not None]
    assert set(got) <= set(ITEMS)
    recs = _RECS.to_records()
    assert len(recs) == 3 * 4 and all(r["item"] in ITEMS for r in recs)
    assert [r["rank"] for r in recs[:4]] == [1, 2, 3, 4]


@pytest.mark.parametrize("index", [3, -4, "user0", 1.5, 2**63, None, slice(None), [0, 1]])
def test_recommendations_refuse_a_bad_row_with_a_liverec_error(index: Any) -> None:
    empty = Recommendations(np.zeros(0), np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(LiverecError):
        empty[0 if index is None else index]
    with pytest.raises(LiverecError):
        _RECS[index]


# Profiles ------------------------------------------------------------------------------------------------
@FEW
@given(X=small_interactions(), half_life=st.one_of(st.sampled_from([1.0, 1e-9, 1e12, 0.0, -1.0]), st.floats()),
       weights=st.one_of(st.none(), st.just({"view": 1.0, "like": 2.0, "purchase": 5.0, "gift": 0.0}),
                         st.just({"view": -1.0}), st.just({"view": float("inf")})),
       users=st.one_of(st.lists(st.sampled_from(["u0", "u1", 0, 1, "nobody"]), max_size=3), hostile_scalars),
       at=time_points, unknown=st.sampled_from(["raise", "default", "x"]))
def test_profile_builder_fits_and_answers_finite_rows(X: Interactions, half_life: Any, weights: Any, users: Any,
                                                      at: Any, unknown: str) -> None:
    from liverec.profiles import UserProfileBuilder

    b = attempt(UserProfileBuilder(event_weights=weights, half_life=half_life).fit, X)
    if b is None:
        return
    rows = attempt(b.transform, users, at=at, unknown=unknown)
    if rows is not None:
        n = 1 if not isinstance(users, (list, tuple)) else len(users)
        assert rows.shape == (n, len(b.feature_names_))
        assert np.isfinite(rows).all()
    known = X.to_dict()["user"][0].item()
    p = attempt(b.profile, known, at=at)
    if p is not None:
        assert p is not None
    again = attempt(b.update, X.select([0]))
    if again is not None:
        assert np.isfinite(b.transform([known])).all()


# Text encoders ------------------------------------------------------------------------------------------
@FUZZ
@given(texts=st.one_of(st.lists(hostile_texts, max_size=4), hostile_texts, st.just(np.array(["a", "b"])),
                       st.just(iter(["a"]))),
       dim=st.sampled_from([1, 8, 64]), idf=st.booleans(), sublinear=st.booleans())
def test_hashing_encoder_rows_are_unit_or_zero(texts: Any, dim: int, idf: bool, sublinear: bool) -> None:
    from liverec.text import HashingTextEncoder

    enc = attempt(HashingTextEncoder(dim=dim, idf=idf, sublinear_tf=sublinear).fit, texts)
    if enc is None:
        return
    out = attempt(enc.transform, texts if not hasattr(texts, "__next__") else ["a"])
    if out is None:
        return
    assert out.dtype == np.float32 and out.ndim == 2 and out.shape[1] == dim
    assert np.isfinite(out).all()
    norms = np.linalg.norm(out, axis=1)
    assert (np.isclose(norms, 1, atol=1e-4) | (norms == 0)).all()


@FEW
@given(texts=st.lists(hostile_texts.filter(lambda t: isinstance(t, str)), min_size=1, max_size=4),
       window=st.sampled_from([None, 1.0, 0.0, -1.0, float("nan"), 1e18]),
       half_life=st.sampled_from([None, 1.0, 0.0, float("inf")]), at=time_points,
       items=st.one_of(st.none(), st.lists(st.sampled_from(["i0", "i1", "nope"]), max_size=3), hostile_scalars))
def test_stream_embedder_rows_are_finite(texts: list[str], window: Any, half_life: Any, at: Any, items: Any) -> None:
    from liverec.text import HashingTextEncoder, StreamTextEmbedder

    n = len(texts)
    te = attempt(TextEvents.from_arrays, (["i0", "i1"] * n)[:n], texts, time=list(range(n)))
    if te is None:
        return
    emb = attempt(StreamTextEmbedder(HashingTextEncoder(dim=16), window=window, half_life=half_life).fit, te)
    if emb is None:
        return
    out = attempt(emb.transform, items, at=at)
    if out is not None:
        assert out.ndim == 2 and out.shape[1] == 16 and np.isfinite(out).all()


# Dataset loaders and generator ----------------------------------------------------------------------------
file_bodies = st.one_of(
    st.binary(max_size=80),
    st.text(alphabet="0123456789 \t\n,:-.abé\x00", max_size=80).map(str.encode),
    st.sampled_from([b"1 2 3\n4 5\n", b"1\t2\t3\t881250949\n", b"1::2::3::4\n", b"1,10,alice,0,3\n",
                     b"1,10,alice,3,0\n", b"1,10,,0,3\n", b"1 99999999999999999999999\n",
                     b"1\t2\tx\t5\n", b"1\t2\t3\t99999999999999999\n", b"1,10,a,0,9223372036854775807\n",
                     b"1,10,a,-9223372036854775808,9223372036854775807\n2,1,a,0,1\n", b"\xff\xfe1 2\n",
                     b"\n\n\n", b"1 2\n\n3 4\n", b"1\t2\t3\t-99999999999\n"]),
)


@FUZZ
@given(body=file_bodies, loader=st.sampled_from(["load_sequences", "load_movielens", "load_twitch",
                                                 "read_csv"]),
       fmt=st.sampled_from(["auto", "items", "user_items", "pairs"]))
def test_loaders_read_or_refuse_corrupt_files(body: bytes, loader: str, fmt: str) -> None:
    from liverec import datasets

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "u.data")
        with open(p, "wb") as fh:
            fh.write(body)
        if loader == "load_sequences":
            out = attempt(datasets.load_sequences, p, format=fmt)
        elif loader == "read_csv":
            out = attempt(Interactions.read_csv, p)
        else:
            out = attempt(getattr(datasets, loader), p)
            attempt(getattr(datasets, loader), d)  # a folder
        if out is not None:
            X_ = out[0] if isinstance(out, tuple) else out
            assert isinstance(X_, Interactions) and len(X_) > 0
            assert np.isfinite(X_.time).all()


@FUZZ
@given(files=st.fixed_dictionaries({}, optional={n: file_bodies for n in
                                                 ("train_input.txt", "val_input.txt", "val_output.txt",
                                                  "test_output.txt")}))
def test_load_ml1m_seq_reads_or_refuses_corrupt_folders(files: dict[str, bytes]) -> None:
    from liverec.datasets import load_ml1m_seq

    with tempfile.TemporaryDirectory() as d:
        for name, body in files.items():
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(body)
        attempt(load_ml1m_seq, d)
    attempt(load_ml1m_seq, os.path.join(tempfile.gettempdir(), "surely-not-here-liverec"))


@FEW
@given(args=st.fixed_dictionaries({}, optional={
    "n_users": st.one_of(st.integers(-1, 6), st.just(2.5), st.just("3"), st.just(True)),
    "n_streamers": st.one_of(st.integers(-1, 4), st.none()),
    "n_days": st.one_of(st.integers(0, 2), st.floats()),
    "n_categories": st.integers(0, 3), "products_per_streamer": st.integers(0, 2),
    "sessions_per_day": st.one_of(st.floats(), st.just(0.0)), "n_favorites": st.integers(0, 5),
    "loyalty": st.floats(-1, 5), "feed_size": st.integers(0, 3), "taste_concentration": st.floats(),
    "zh_share": st.floats(-0.5, 1.5), "start": st.one_of(st.just("2024-01-01"), st.just("nope"), st.just(3),
                                                         st.just(np.datetime64("2262-01-01"))),
    "text": st.booleans(), "random_state": st.one_of(st.integers(0, 3), st.just("x"), st.just(-1)),
}))
def test_make_live_commerce_builds_or_refuses(args: dict[str, Any]) -> None:
    from liverec.datasets import make_live_commerce

    args.setdefault("n_users", 5)
    args.setdefault("n_streamers", 3)
    args.setdefault("n_days", 1)
    data = attempt(make_live_commerce, **args)
    if data is not None:
        X_, S = data.interactions, data.schedule
        assert np.isfinite(X_.time).all() and (S.end > S.start).all()
        live = SCHEDULE_check(X_, S)
        assert live.all(), "every generated event happens in a live room"


def SCHEDULE_check(X_: Interactions, S: LiveSchedule) -> np.ndarray:
    d = X_.to_dict()
    return S.is_live(d["item"], d["time"])


# Models: fit with odd data, partial_fit, save to odd paths ------------------------------------------------
def _models() -> dict[str, Any]:
    from liverec.models import (
        ALS,
        BPR,
        MatrixFactorization,
        Popularity,
        ProfileRanker,
        SequentialTransformer,
    )

    return {
        "ALS": lambda: ALS(n_factors=2, n_epochs=2, random_state=0, threads=1),
        "BPR": lambda: BPR(n_factors=2, n_epochs=1, batch_size=8, random_state=0, threads=1),
        "MatrixFactorization": lambda: MatrixFactorization(n_factors=2, n_epochs=2, random_state=0, threads=1),
        "Popularity": lambda: Popularity(),
        "Popularity-recent": lambda: Popularity(strategy="recent", weighting="event"),
        "ProfileRanker": lambda: ProfileRanker(n_windows=2, n_epochs=1, embedding_dim=4, random_state=0),

        "SequentialTransformer": lambda: SequentialTransformer(embedding_dim=8, max_len=4, n_epochs=1, batch_size=4,
                                                               random_state=0, verbose=False),
    }


MODEL_FACTORIES = _models()


@st.composite
def odd_schedules(draw: Any, X_: Interactions) -> LiveSchedule | None:
    form = draw(st.sampled_from(["none", "covering", "no overlap", "other items"]))
    if form == "none":
        return None
    items = X_.items.ids.tolist()
    t0, t1 = float(X_.time.min()), float(X_.time.max())
    if X_.time_kind == "datetime":
        t0 = np.datetime64(int(t0), "s")  # type: ignore[assignment]
        t1 = np.datetime64(int(t1), "s")  # type: ignore[assignment]
        one = np.timedelta64(1, "s")
    else:
        one = 1.0  # type: ignore[assignment]
    if form == "covering":
        return LiveSchedule.from_arrays(items, [t0] * len(items), [t1 + one] * len(items))
    if form == "no overlap":
        return LiveSchedule.from_arrays(items, [t1 + one] * len(items), [t1 + one + one] * len(items))
    return LiveSchedule.from_arrays(["elsewhere"], [t0], [t1 + one])


@pytest.mark.parametrize("name", sorted(MODEL_FACTORIES))
@settings(FUZZ, max_examples=min(settings().max_examples, 12))
@given(data=st.data(), X_=small_interactions())
def test_fit_on_odd_data_answers_or_refuses(name: str, data: Any, X_: Interactions) -> None:
    schedule = data.draw(odd_schedules(X_))
    model = attempt(MODEL_FACTORIES[name]().fit, X_, schedule=schedule)
    if model is None:
        return
    users = X_.users.ids.tolist()
    recs = attempt(model.recommend, users, k=3)
    if recs is not None:
        assert recs.items.shape == (len(users), 3)
        assert np.isfinite(recs.scores[recs.mask]).all()
        for row in range(len(users)):
            assert set(recs[row]) <= set(X_.items.ids.tolist())
    scores = attempt(model.predict, users[:1], X_.items.ids.tolist()[:1])
    if scores is not None:
        assert np.isfinite(scores).all()
    if hasattr(model, "partial_fit"):
        again = attempt(model.partial_fit, X_.select([len(X_) - 1]))
        if again is not None:
            assert np.isfinite(np.asarray(model.predict(users[:1], X_.items.ids.tolist()[:1]))).all()


@pytest.mark.parametrize("name", sorted(MODEL_FACTORIES))
def test_save_to_odd_paths_refuses_with_a_liverec_error(name: str, tmp_path: Path) -> None:
    model = MODEL_FACTORIES[name]().fit(X, schedule=SCHEDULE)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    attempt(model.save, str(a_file))
    assert a_file.read_text() == "x", "an existing file is never overwritten"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        attempt(model.save, str(ro / "m"))
        attempt(model.save, str(ro))
    finally:
        ro.chmod(stat.S_IRWXU)
    attempt(model.save, str(tmp_path / "a\x00b"))
    attempt(model.save, "")
    good = tmp_path / "ok"
    model.save(str(good))
    model.save(str(good))  # saving over a saved model is allowed
    back = liverec.load(str(good))
    np.testing.assert_allclose(back.predict(USERS[:2], ITEMS[:2]), model.predict(USERS[:2], ITEMS[:2]), rtol=1e-5)
