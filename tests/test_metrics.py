"""Metric functions against straightforward reference implementations (Hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liverec.data import Interactions
from liverec.exceptions import DataValidationError
from liverec.metrics import (
    RANKING_METRICS,
    auc,
    catalog_coverage,
    ctr,
    cvr,
    gauc,
    hit_rate_at_k,
    intra_list_diversity,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)

FUNCS = {"hit_rate": hit_rate_at_k, "recall": recall_at_k, "precision": precision_at_k,
         "ndcg": ndcg_at_k, "mrr": mrr_at_k, "map": map_at_k}


# ---------------------------------------------------------------------------------------------
# Reference implementations: one user at a time, written from the textbook definitions.
# ---------------------------------------------------------------------------------------------
def ref_one(name: str, row: list[int], rel: dict[int, float], k: int) -> float:
    """``rel`` maps relevant item -> gain (> 0)."""
    if not rel:
        return math.nan
    seen: set[int] = set()
    gains = []
    for item in row[:k]:
        if item < 0 or item in seen:
            gains.append(0.0)
        else:
            gains.append(rel.get(item, 0.0))
        seen.add(item)
    gains += [0.0] * (k - len(gains))
    hits = [g > 0 for g in gains]
    if name == "hit_rate":
        return float(any(hits))
    if name == "recall":
        return sum(hits) / len(rel)
    if name == "precision":
        return sum(hits) / k
    if name == "mrr":
        return next((1.0 / (i + 1) for i, h in enumerate(hits) if h), 0.0)
    if name == "map":
        total, found = 0.0, 0
        for i, h in enumerate(hits):
            if h:
                found += 1
                total += found / (i + 1)
        return total / min(len(rel), k)
    if name == "ndcg":
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sorted(rel.values(), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        return dcg / idcg
    raise AssertionError(name)


def ref_mean(name: str, ranked: list[list[int]], rels: list[dict[int, float]], k: int) -> float:
    vals = [ref_one(name, r, rel, k) for r, rel in zip(ranked, rels, strict=True)]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else math.nan


@st.composite
def ranking_case(draw, graded: bool = False, allow_dupes: bool = True):
    n_items = draw(st.integers(1, 15))
    n_users = draw(st.integers(1, 6))
    length = draw(st.integers(1, 12))
    ranked, rels = [], []
    for _ in range(n_users):
        if allow_dupes:
            row = draw(st.lists(st.integers(-1, n_items - 1), min_size=length, max_size=length))
        else:
            row = draw(st.permutations(list(range(n_items))))[:length]
            row = row + [-1] * (length - len(row))
        ranked.append(row)
        items = draw(st.sets(st.integers(0, n_items - 1), max_size=n_items))
        if graded:
            rels.append({i: float(draw(st.integers(1, 4))) for i in items})
        else:
            rels.append(dict.fromkeys(items, 1.0))
    k = draw(st.integers(1, 15))
    return ranked, rels, k, n_items


@pytest.mark.parametrize("name", RANKING_METRICS)
@settings(max_examples=200, deadline=None)
@given(case=ranking_case())
def test_metric_matches_reference_on_relevant_sets(name, case):
    ranked, rels, k, _ = case
    got = FUNCS[name](np.array(ranked), [list(r) for r in rels], k=k)
    want = ref_mean(name, ranked, rels, k)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("name", RANKING_METRICS)
@settings(max_examples=100, deadline=None)
@given(case=ranking_case(), data=st.data())
def test_metric_matches_reference_with_one_target_per_user(name, case, data):
    ranked, _, k, n_items = case
    targets = [data.draw(st.integers(0, n_items - 1)) for _ in ranked]
    got = FUNCS[name](np.array(ranked), np.array(targets), k=k, average=False)
    want = [ref_one(name, r, {t: 1.0}, k) for r, t in zip(ranked, targets, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("name", RANKING_METRICS)
@settings(max_examples=100, deadline=None)
@given(case=ranking_case(graded=True))
def test_metric_matches_reference_on_a_gain_matrix(name, case):
    ranked, rels, k, n_items = case
    mat = np.zeros((len(ranked), n_items))
    for r, rel in enumerate(rels):
        for i, g in rel.items():
            mat[r, i] = g
    if name != "ndcg":  # the other metrics see graded relevance as binary
        rels = [dict.fromkeys(rel, 1.0) for rel in rels]
    for form in (mat, sp.csr_matrix(mat)):
        got = FUNCS[name](np.array(ranked), form, k=k)
        want = ref_mean(name, ranked, rels, k)
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_ndcg_agrees_with_sklearn(data):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    n_users = data.draw(st.integers(1, 6))
    n_items = data.draw(st.integers(2, 12))
    k = data.draw(st.integers(1, 14))
    y_true = np.array(data.draw(st.lists(st.lists(st.integers(0, 3), min_size=n_items, max_size=n_items),
                                         min_size=n_users, max_size=n_users)), dtype=float)
    assume((y_true.sum(axis=1) > 0).all())  # sklearn scores all-irrelevant rows 0, we leave them out
    y_score = np.stack([np.array(data.draw(st.permutations(list(range(n_items)))), dtype=float)
                        for _ in range(n_users)])
    ranked = np.argsort(-y_score, axis=1)
    want = sklearn_metrics.ndcg_score(y_true, y_score, k=k)
    assert ndcg_at_k(ranked, y_true, k=k) == pytest.approx(want, abs=1e-10)


@settings(max_examples=200, deadline=None)
@given(case=ranking_case())
def test_all_metrics_are_within_zero_and_one(case):
    ranked, rels, k, _ = case
    out = ranking_metrics(np.array(ranked), [list(r) for r in rels], k=k, average=False)
    for values in out.values():
        v = values[~np.isnan(values)]
        assert ((v >= 0) & (v <= 1 + 1e-12)).all()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_perfect_ranking_scores_one(data):
    n_items = data.draw(st.integers(1, 15))
    rel = data.draw(st.lists(st.integers(0, n_items - 1), min_size=1, max_size=n_items, unique=True))
    others = [i for i in range(n_items) if i not in rel]
    row = rel + data.draw(st.permutations(others))
    k = data.draw(st.integers(1, 20))
    ranked, relevant = np.array([row]), [rel]
    for name in ("hit_rate", "ndcg", "mrr", "map"):
        assert FUNCS[name](ranked, relevant, k=k) == pytest.approx(1.0)
    assert recall_at_k(ranked, relevant, k=k) == pytest.approx(min(1.0, k / len(rel)))
    assert precision_at_k(ranked, relevant, k=k) == pytest.approx(min(len(rel), k) / k)


@settings(max_examples=200, deadline=None)
@given(case=ranking_case(), data=st.data())
def test_user_order_does_not_change_the_mean(case, data):
    ranked, rels, k, _ = case
    perm = data.draw(st.permutations(list(range(len(ranked)))))
    a = ranking_metrics(np.array(ranked), [list(r) for r in rels], k=k)
    b = ranking_metrics(np.array(ranked)[perm], [list(rels[p]) for p in perm], k=k)
    for key in a:
        assert (math.isnan(a[key]) and math.isnan(b[key])) or a[key] == pytest.approx(b[key], abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(case=ranking_case(allow_dupes=False))
def test_string_ids_give_the_same_values_as_integer_ids(case):
    ranked, rels, k, _ = case
    as_str = np.array([[f"i{x}" if x >= 0 else None for x in row] for row in ranked], dtype=object)
    rel_str = [[f"i{x}" for x in r] for r in rels]
    for name, f in FUNCS.items():
        a, b = f(np.array(ranked), [list(r) for r in rels], k=k), f(as_str, rel_str, k=k)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b), name


@settings(max_examples=100, deadline=None)
@given(case=ranking_case(graded=True), ks=st.lists(st.integers(1, 15), min_size=1, max_size=4, unique=True))
def test_ranking_metrics_at_several_k_equals_the_single_functions(case, ks):
    ranked, rels, _, n_items = case
    mat = np.zeros((len(ranked), n_items))
    for r, rel in enumerate(rels):
        for i, g in rel.items():
            mat[r, i] = g
    out = ranking_metrics(np.array(ranked), mat, k=ks)
    for k in ks:
        for name, f in FUNCS.items():
            single = f(np.array(ranked), mat, k=k)
            got = out[f"{name}@{k}"]
            assert (math.isnan(got) and math.isnan(single)) or got == pytest.approx(single)


# ---------------------------------------------------------------------------------------------
# Edge cases, spelled out
# ---------------------------------------------------------------------------------------------
def test_k_larger_than_the_list_counts_empty_slots_as_misses():
    ranked = np.array([[1, 2]])
    assert precision_at_k(ranked, [[1, 2]], k=4) == 0.5
    assert recall_at_k(ranked, [[1, 2]], k=4) == 1.0
    assert ndcg_at_k(ranked, [[1, 2]], k=4) == 1.0


def test_users_without_relevant_items_are_left_out_of_the_mean():
    ranked = np.array([[1, 2], [3, 4]])
    per_user = hit_rate_at_k(ranked, [[1], []], k=2, average=False)
    assert per_user[0] == 1.0 and np.isnan(per_user[1])
    assert hit_rate_at_k(ranked, [[1], []], k=2) == 1.0
    assert np.isnan(ndcg_at_k(ranked, [[], []], k=2))


def test_repeated_items_in_a_list_count_once():
    assert precision_at_k([[5, 5, 5]], [[5]], k=3) == pytest.approx(1 / 3)
    assert ndcg_at_k([[5, 5]], [[5, 6]], k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_padding_values_never_match():
    assert hit_rate_at_k([[-1, -1]], [-1], k=2) == 0.0 or np.isnan(hit_rate_at_k([[-1, -1]], [-1], k=2))
    assert hit_rate_at_k(np.array([[None, "a"]], dtype=object), ["a"], k=2) == 1.0
    assert mrr_at_k(np.array([[np.nan, 3.0]]), [3.0], k=2) == 0.5


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([[1, 2]], [1], k=0)
    with pytest.raises(DataValidationError, match="2-D"):
        ndcg_at_k([1, 2], [1], k=1)
    with pytest.raises(DataValidationError, match="rows"):
        ndcg_at_k([[1, 2]], [1, 2], k=1)
    with pytest.raises(DataValidationError, match=">= 0"):
        ndcg_at_k([[0, 1]], np.array([[-1.0, 1.0]]), k=1)
    with pytest.raises(ValueError, match="unknown ranking metric"):
        ranking_metrics([[1]], [1], metrics=("auc",))


def test_exponential_gain_weights_strong_relevance_more():
    gains = np.array([[1.0, 3.0]])
    ranked = np.array([[0, 1]])  # the weaker item first
    lin = ndcg_at_k(ranked, gains, k=2)
    exp = ndcg_at_k(ranked, gains, k=2, gain="exponential")
    assert exp < lin < 1.0
    want = (1 + 7 / math.log2(3)) / (7 + 1 / math.log2(3))
    assert exp == pytest.approx(want)


def test_none_k_uses_the_whole_list():
    assert recall_at_k([[1, 2, 3]], [[3]], k=None) == 1.0


def test_hundred_thousand_users_are_vectorised():
    # not a timing assertion: only that the size works in one call (see benchmarks for timing)
    rng = np.random.default_rng(0)
    ranked = rng.integers(0, 5000, size=(100_000, 20))
    target = rng.integers(0, 5000, size=100_000)
    out = ranking_metrics(ranked, target, k=(10, 20))
    assert set(out) == {f"{m}@{k}" for m in RANKING_METRICS for k in (10, 20)}


# ---------------------------------------------------------------------------------------------
# AUC / GAUC
# ---------------------------------------------------------------------------------------------
def ref_auc(y, s) -> float:
    pos = [si for yi, si in zip(y, s, strict=True) if yi]
    neg = [si for yi, si in zip(y, s, strict=True) if not yi]
    if not pos or not neg:
        return math.nan
    total = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return total / (len(pos) * len(neg))


labels_scores = st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.integers(0, 5).map(float), min_size=n, max_size=n),  # small range: many ties
    st.lists(st.integers(0, 3), min_size=n, max_size=n)))


@settings(max_examples=200, deadline=None)
@given(case=labels_scores)
def test_auc_matches_pairwise_reference(case):
    y, s, _ = case
    got, want = auc(y, s), ref_auc(y, s)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


@settings(max_examples=100, deadline=None)
@given(case=labels_scores)
def test_auc_agrees_with_sklearn(case):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y, s, _ = case
    assume(0 < sum(y) < len(y))
    assert auc(y, s) == pytest.approx(sklearn_metrics.roc_auc_score(y, s))


@settings(max_examples=150, deadline=None)
@given(case=labels_scores, weighting=st.sampled_from(["impressions", "uniform"]))
def test_gauc_matches_per_group_reference(case, weighting):
    y, s, g = case
    vals, weights = [], []
    for grp in sorted(set(g)):
        yy = [a for a, b in zip(y, g, strict=True) if b == grp]
        ss = [a for a, b in zip(s, g, strict=True) if b == grp]
        v = ref_auc(yy, ss)
        if not math.isnan(v):
            vals.append(v)
            weights.append(len(yy) if weighting == "impressions" else 1)
    want = float(np.average(vals, weights=weights)) if vals else math.nan
    got = gauc(y, s, g, weighting=weighting)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


def test_auc_of_a_constant_scorer_is_one_half():
    assert auc([0, 1, 0, 1, 1], [0.3] * 5) == 0.5


def test_auc_rejects_non_binary_labels():
    with pytest.raises(DataValidationError, match="binary"):
        auc([0, 2], [0.1, 0.2])


# ---------------------------------------------------------------------------------------------
# Coverage, novelty, diversity
# ---------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(case=ranking_case())
def test_catalog_coverage_matches_reference(case):
    ranked, _, k, n_items = case
    want = len({x for row in ranked for x in row[:k] if x >= 0}) / n_items
    assert catalog_coverage(np.array(ranked), n_items, k=k) == pytest.approx(want)
    assert catalog_coverage(np.array(ranked), list(range(n_items)), k=k) == pytest.approx(want)


@settings(max_examples=200, deadline=None)
@given(case=ranking_case(), data=st.data())
def test_novelty_matches_reference(case, data):
    ranked, _, k, n_items = case
    n_users = data.draw(st.integers(1, 50))
    counts = data.draw(st.lists(st.integers(0, n_users), min_size=n_items, max_size=n_items))
    per_user = []
    for row in ranked:
        items = [x for x in row[:k] if x >= 0]
        per_user.append(np.mean([-math.log2(max(counts[x], 1) / n_users) for x in items]) if items else math.nan)
    got = novelty(np.array(ranked), counts, n_users=n_users, k=k, average=False)
    np.testing.assert_allclose(got, per_user, atol=1e-12)
    as_map = novelty(np.array(ranked), dict(enumerate(counts)), n_users=n_users, k=k, average=False)
    np.testing.assert_allclose(as_map, per_user, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(case=ranking_case(allow_dupes=False), data=st.data())
def test_intra_list_diversity_matches_pairwise_reference(case, data):
    ranked, _, k, n_items = case
    vecs = np.array(data.draw(st.lists(st.lists(st.integers(-3, 3).map(float), min_size=3, max_size=3),
                                       min_size=n_items, max_size=n_items)))
    norms = np.linalg.norm(vecs, axis=1)
    per_user = []
    for row in ranked:
        items = [x for x in row[:k] if x >= 0]
        d = []
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                va, vb = vecs[items[a]], vecs[items[b]]
                na, nb = norms[items[a]], norms[items[b]]
                cos = 0.0 if na == 0 or nb == 0 else float(va @ vb / (na * nb))
                d.append(1 - cos)
        per_user.append(np.mean(d) if d else math.nan)
    got = intra_list_diversity(np.array(ranked), vecs, k=k, average=False, batch_size=2)
    np.testing.assert_allclose(got, per_user, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# CTR / CVR
# ---------------------------------------------------------------------------------------------
def test_ctr_and_cvr_follow_the_funnel():
    log = ["impression"] * 10 + ["click"] * 4 + ["purchase"]
    assert ctr(log) == 0.4
    assert cvr(log) == 0.25
    assert math.isnan(ctr(["click"]))


def test_ctr_by_item_from_interactions():
    X = Interactions.from_arrays(
        user=[1, 1, 2, 2, 3], item=["a", "a", "a", "b", "b"], time=[0, 1, 2, 3, 4],
        event=["impression", "click", "impression", "impression", "click"],
        event_types=["impression", "click", "purchase"])
    assert ctr(X, by="item") == {"a": 0.5, "b": 1.0}
    assert cvr(X, by="item") == {"a": 0.0, "b": 0.0}


def test_live_room_names_can_be_used_for_the_funnel():
    X = Interactions.from_arrays(user=[1, 1, 2], item=[5, 5, 5], time=[0, 1, 2], event=["view", "purchase", "view"])
    assert cvr(X, click="view", conversion="purchase") == 0.5
