"""evaluate(): full ranking, availability, exclusions, ties, breakdown, skipped users."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liverec.base import BaseRecommender
from liverec.data import Interactions, LiveSchedule
from liverec.exceptions import DataValidationError, InvalidParameterError, NotFittedError
from liverec.metrics import EvaluationResult, evaluate, hit_rate_at_k, ndcg_at_k, ranking_metrics
from liverec.model_selection import leave_last_out, live_split, temporal_split
from liverec.models import Popularity
from liverec.testing import contract_data


class FixedScores(BaseRecommender):
    """Test model: a fixed random score per (user, item), distinct everywhere (no ties).

    Folded-in users score like a hash of their history, so fold-in is deterministic too.
    """

    def __init__(self, seed: int = 0, constant: bool = False) -> None:
        self.seed = seed
        self.constant = constant

    def _fit(self, interactions, *, schedule, item_features, text):
        rng = np.random.default_rng(self.seed)
        n_u, n_i = interactions.n_users, interactions.n_items
        self.table_ = rng.permutation(n_u * n_i).reshape(n_u, n_i).astype(np.float32) / (n_u * n_i)

    def _score_known(self, user_codes, at):
        if self.constant:
            return np.zeros((len(user_codes), self.table_.shape[1]), dtype=np.float32)
        return self.table_[user_codes]

    def _score_history(self, histories, at):
        rows = [self.table_[int(h.items.sum()) % self.table_.shape[0]] for h in histories]
        return np.stack(rows) if rows else np.zeros((0, self.table_.shape[1]), dtype=np.float32)


class NoFoldIn(FixedScores):
    _supports_history = False


@pytest.fixture(scope="module")
def data():
    return contract_data(0)


def _reference_hits(model, users, targets, k, **kwargs):
    recs = model.recommend(users, k=k, **kwargs)
    return np.array([t in recs[r] for r, t in enumerate(targets)], dtype=float)


def test_hit_rate_matches_recommend_on_all_items(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = FixedScores().fit(split.train)
    result = evaluate(model, split.train, split.test, k=(1, 5), n_bootstrap=0)
    for k in (1, 5):
        ref = _reference_hits(model, result.users, result.target_item, k)
        np.testing.assert_array_equal(result.per_user[f"hit_rate@{k}"], ref)


def test_hit_rate_matches_recommend_with_schedule_and_exclude_seen(data):
    X, schedule = data
    split = live_split(X, schedule, test_window=48, history_len=None)
    model = FixedScores(seed=3).fit(split.train)
    result = evaluate(model, split.train, split.test, k=(3,), schedule=schedule, exclude_seen=True,
                      n_bootstrap=0, per="event")
    # recommend() sees the same train events (seen_), at the case's time
    ref = _reference_hits(model, result.users, result.target_item, 3, at=result.times,
                          schedule=schedule, exclude_seen=True)
    np.testing.assert_array_equal(result.per_user["hit_rate@3"], ref)


def test_ndcg_equals_metric_function_on_recommend_lists(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = FixedScores(seed=1).fit(split.train)
    result = evaluate(model, split.train, split.test, k=(10,), n_bootstrap=0)
    recs = model.recommend(result.users, k=10)
    expected = ndcg_at_k(recs.items, result.target_item, k=10)
    assert result["ndcg@10"] == pytest.approx(expected)


def test_rank_counts_every_candidate_item():
    X = Interactions.from_arrays(["u"] * 4 + ["v"], ["a", "b", "c", "d", "a"], time=[0, 1, 2, 3, 0])
    train = X.select(X.time < 3)
    test = X.select(X.time >= 3)
    model = FixedScores(seed=5).fit(train)
    result = evaluate(model, train, test, k=(1,), n_bootstrap=0)
    scores = model.table_[model.users_.codes(["u"])[0]]
    target = model.items_.codes(["d"])[0]
    assert result.ranks[0] == (scores > scores[target]).sum()


def test_constant_scores_are_ranked_pessimistically(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = FixedScores(constant=True).fit(split.train)
    pess = evaluate(model, split.train, split.test, k=(10,), n_bootstrap=0)
    opt = evaluate(model, split.train, split.test, k=(10,), n_bootstrap=0, ties="optimistic")
    assert pess["hit_rate@10"] == 0.0 and np.all(pess.ranks == X.n_items - 1)
    assert opt["hit_rate@10"] == 1.0 and np.all(opt.ranks == 0)


def test_repeat_and_new_partition_the_cases(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = Popularity().fit(split.train)
    result = evaluate(model, split.train, split.test, n_bootstrap=0)
    seen = split.train.to_csr("binary")
    codes_u = X.users.codes(result.users)
    codes_i = X.items.codes(result.target_item)
    expected = np.asarray(seen[codes_u, codes_i]).ravel() > 0
    np.testing.assert_array_equal(result.is_repeat, expected)
    n = result.n_cases
    assert n["repeat"] + n["new"] == n["all"] == len(result.users)
    hr = result.per_user["hit_rate@10"]
    assert result.mean["repeat"]["hit_rate@10"] == pytest.approx(hr[expected].mean())
    assert result.mean["new"]["hit_rate@10"] == pytest.approx(hr[~expected].mean())


def test_exclude_seen_turns_repeat_targets_into_counted_misses(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    result = evaluate(Popularity().fit(split.train), split.train, split.test, exclude_seen=True, n_bootstrap=0)
    assert result.n_excluded_targets == int(result.is_repeat.sum()) > 0
    assert np.isinf(result.ranks[result.is_repeat]).all()
    assert result.mean["repeat"]["hit_rate@10"] == 0.0


def test_live_candidates_only(data):
    X, schedule = data
    split = live_split(X, schedule, test_window=48)
    model = Popularity().fit(split.train)
    live = evaluate(model, split, k=(5,), n_bootstrap=0)
    everything = evaluate(model, split.train, split.test, k=(5,), n_bootstrap=0, per="event")
    n_live = np.diff(schedule.live_codes(live.times)[0])
    np.testing.assert_array_equal(live.n_candidates, n_live)
    assert (everything.n_candidates == X.n_items).all()
    # fewer competitors can only move a target up
    assert np.all(live.target_rank <= everything.target_rank)
    assert live.settings["candidates"] == "live items"


def test_unknown_users_are_folded_in_or_skipped_never_silently_dropped():
    X = Interactions.from_arrays(["a", "a", "b", "b", "c", "c"], ["x", "y", "x", "z", "y", "z"],
                                 time=[0, 1, 0, 1, 0, 1])
    fit_on = X.select(np.isin(X.user, ["a", "b"]) & (X.time < 1)).compact()
    train = X.select(X.time < 1)  # c's first event is in train but not in the model
    test = X.select(X.time >= 1)
    folded = evaluate(FixedScores().fit(fit_on), train, test, n_bootstrap=0)
    assert len(folded.users) == 3 and folded.n_skipped_cases == 0
    with pytest.warns(UserWarning, match="skipped"):
        skipped = evaluate(NoFoldIn().fit(fit_on), train, test, n_bootstrap=0)
    assert skipped.skipped_users.tolist() == ["c"] and skipped.n_skipped_cases == 1
    assert len(skipped.users) == 2
    assert "skipped" in str(skipped)


def test_unknown_target_items_are_misses():
    X = Interactions.from_arrays(["a", "a", "a", "b", "b"], ["x", "y", "x", "x", "new"], time=[0, 0, 1, 0, 1])
    train = X.select(X.time < 1).compact()
    model = Popularity().fit(train)
    test = X.select(X.time >= 1)
    result = evaluate(model, train, test, k=(2,), n_bootstrap=0)
    assert result.n_unknown_targets == 1
    assert result.users.tolist() == ["a", "b"]
    assert result.per_user["hit_rate@2"].tolist() == [1.0, 0.0]


def test_per_user_makes_one_case_with_all_test_items():
    X = Interactions.from_arrays(["a"] * 5 + ["b"] * 3, list("pqrst") + list("pqr"), time=[0, 1, 2, 3, 3, 0, 1, 2])
    split = temporal_split(X, at=2)
    model = FixedScores().fit(split.train)
    by_user = evaluate(model, split.train, split.test, per="user", k=(5,), n_bootstrap=0)
    by_event = evaluate(model, split.train, split.test, per="event", k=(5,), n_bootstrap=0)
    assert len(by_user.users) == 2 and len(by_event.users) == 4
    a = int(np.flatnonzero(by_user.users == "a")[0])
    assert (by_user.target_case == a).sum() == 3
    recs = model.recommend(by_user.users, k=5)
    relevant = [split.test.item[split.test.user == u] for u in by_user.users]
    from liverec.metrics import recall_at_k

    assert by_user["recall@5"] == pytest.approx(recall_at_k(recs.items, relevant, k=5))


def test_bootstrap_interval_is_seeded_and_contains_the_mean(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = Popularity().fit(split.train)
    r1 = evaluate(model, split.train, split.test, n_bootstrap=200, random_state=7)
    r2 = evaluate(model, split.train, split.test, n_bootstrap=200, random_state=7)
    assert r1.to_dict() == r2.to_dict()
    lo, hi = r1.ci["all"]["ndcg@10"]
    assert lo <= r1["ndcg@10"] <= hi and lo < hi


def test_result_reports(data):
    X, _ = data
    split = leave_last_out(X)
    result = evaluate(Popularity().fit(split.train), split.for_validation(), n_bootstrap=50)
    assert isinstance(result, EvaluationResult)
    text = str(result)
    assert "NDCG@10" in text and "repeat" in text and "new" in text
    frame = result.to_frame()
    assert set(frame["segment"]) == {"all", "repeat", "new"}
    assert len(frame) == 3 * 3 * 7
    d = result.to_dict()
    assert d["all"]["hit_rate@5"]["mean"] == result["hit_rate@5"]
    with pytest.raises(KeyError, match="available"):
        result["ndcg@3"]


def test_evaluate_accepts_a_split_with_its_history_and_schedule(data):
    X, schedule = data
    split = live_split(X, schedule, test_window=48, validation_window=24)
    model = Popularity().fit(split.train_validation)
    result = evaluate(model, split.for_test(), k=(1, 10), n_bootstrap=0)
    assert result.settings["history"] and result.settings["candidates"] == "live items"
    assert len(result.users) == len(split.test)


def test_history_after_the_case_time_is_ignored():
    X = Interactions.from_arrays(["a", "a", "b", "b"], ["x", "y", "x", "y"], time=[0, 5, 0, 5])
    train, test = X.select(X.time < 5), X.select(X.time >= 5)
    model = FixedScores().fit(train)
    future = Interactions.from_arrays(["a", "a"], ["x", "y"], time=[0, 9], users=X.users, items=X.items)
    past = future.select(future.time < 5)
    r_future = evaluate(model, train, test, history=future, n_bootstrap=0)
    r_past = evaluate(model, train, test, history=past, n_bootstrap=0)
    np.testing.assert_array_equal(r_future.target_rank, r_past.target_rank)


def test_bad_inputs_raise_clear_errors(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    with pytest.raises(NotFittedError):
        evaluate(Popularity(), split.train, split.test)
    model = Popularity().fit(split.train)
    with pytest.raises(ValueError, match=r"metrics\[1\] = .auc_roc. is not one of"):
        evaluate(model, split.train, split.test, metrics=("ndcg", "auc_roc"))
    with pytest.raises(ValueError, match="ties"):
        evaluate(model, split.train, split.test, ties="average")
    with pytest.raises(TypeError, match="Interactions"):
        evaluate(model, split.train, {"user": [1]})
    with pytest.raises(TypeError, match="BaseRecommender subclass"):
        evaluate(object(), split.train, split.test)
    with pytest.raises(DataValidationError, match="no events"):
        evaluate(model, split.train, split.test.select(np.zeros(len(split.test), dtype=bool)))


def test_batch_size_does_not_change_results(data):
    X, schedule = data
    split = live_split(X, schedule, test_window=48)
    model = FixedScores(seed=2).fit(split.train)
    a = evaluate(model, split, batch_size=3, n_bootstrap=0)
    b = evaluate(model, split, batch_size=1000, n_bootstrap=0)
    np.testing.assert_array_equal(a.target_rank, b.target_rank)


def test_metrics_agree_with_hit_rate_function(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = FixedScores(seed=4).fit(split.train)
    result = evaluate(model, split.train, split.test, k=(5,), n_bootstrap=0, exclude_seen=True)
    recs = model.recommend(result.users, k=5, exclude_seen=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert result["hit_rate@5"] == pytest.approx(hit_rate_at_k(recs.items, result.target_item, k=5))


def test_schedule_type_is_checked(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = Popularity().fit(split.train)
    with pytest.raises(TypeError, match="LiveSchedule"):
        evaluate(model, split.train, split.test, schedule=[1, 2])
    s = LiveSchedule.from_arrays(["room0"], [0.0], [1.0])
    assert evaluate(model, split.train, split.test, schedule=s, n_bootstrap=0)["hit_rate@10"] <= 1.0


def test_a_user_in_the_id_map_without_events_is_not_treated_as_known():
    # shared id maps: "c" is in the model's user map but had no event in fit
    X = Interactions.from_arrays(["a", "a", "b", "b", "c", "c"], ["x", "y", "x", "z", "y", "z"],
                                 time=[0, 1, 0, 1, 0, 1])
    fit_on = X.select(np.isin(X.user, ["a", "b"]) & (X.time < 1))
    assert "c" in fit_on.users
    train, test = X.select(X.time < 1), X.select(X.time >= 1)
    with pytest.warns(UserWarning, match="does not support"):
        result = evaluate(NoFoldIn().fit(fit_on), train, test, n_bootstrap=0)
    assert result.skipped_users.tolist() == ["c"]
    folded = evaluate(FixedScores().fit(fit_on), train, test, n_bootstrap=0)
    assert folded.n_skipped_cases == 0


def test_cold_users_without_any_event_are_skipped_and_reported():
    X = Interactions.from_arrays(["a", "a", "b"], ["x", "y", "x"], time=[0, 1, 1])
    train, test = X.select(X.time < 1), X.select(X.time >= 1)
    with pytest.warns(UserWarning, match="no events before the test time"):
        result = evaluate(Popularity().fit(train), train, test, n_bootstrap=0)
    assert result.skipped_users.tolist() == ["b"] and len(result.users) == 1


def test_progress_bar_can_be_forced(data, capsys):
    X, _ = data
    split = leave_last_out(X, validation=False)
    evaluate(Popularity().fit(split.train), split.train, split.test, n_bootstrap=0, verbose=True, batch_size=8)
    assert "evaluate" in capsys.readouterr().err


def test_evaluate_is_quiet_by_default(data, capsys):
    X, _ = data
    split = leave_last_out(X, validation=False)
    evaluate(Popularity().fit(split.train), split, n_bootstrap=0, batch_size=8)
    assert capsys.readouterr() == ("", "")


def test_the_old_progress_spelling_still_works_with_a_deprecation_warning(data, capsys):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = Popularity().fit(split.train)
    with pytest.warns(DeprecationWarning, match="verbose"):
        old = evaluate(model, split, n_bootstrap=0, progress=True, batch_size=8)
    assert "evaluate" in capsys.readouterr().err
    new = evaluate(model, split, n_bootstrap=0, verbose=False)
    assert old.mean == new.mean
    with pytest.raises(InvalidParameterError, match="verbose"):
        evaluate(model, split, n_bootstrap=0, verbose="yes")


def test_next_item_split_protocol_on_a_sequence_benchmark():
    # the ML-1M recipe: history, one target per user, seen items excluded
    from liverec.model_selection import next_item_split

    H = Interactions.from_arrays([1, 1, 1, 2, 2, 3], ["a", "b", "c", "a", "d", "b"], time=[0, 1, 2, 0, 1, 0])
    split = next_item_split(H, users=[1, 2], targets=["d", "b"])
    model = Popularity().fit(split.train)
    result = evaluate(model, split, k=(1,), exclude_seen=True, n_bootstrap=0)
    # user 1 has seen a, b, c: only d is left, so d is ranked first; user 2: b, c remain, b more popular
    assert result.target_rank.tolist() == [0.0, 0.0]
    assert (result.n_candidates == [1, 2]).all() and result.n_excluded_targets == 0


class TorchScores(FixedScores):
    """Returns torch tensors (as GPU models do, here on the CPU), with NaN for item 0."""

    def _score_known(self, user_codes, at):
        import torch

        out = torch.as_tensor(self.table_[user_codes]).clone()
        out[:, 0] = float("nan")
        return out


def test_torch_scores_and_nan_scores_are_handled(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    with pytest.warns(UserWarning, match="NaN"):
        result = evaluate(TorchScores().fit(split.train), split.train, split.test, n_bootstrap=0)
    reference = evaluate(FixedScores().fit(split.train), split.train, split.test, n_bootstrap=0)
    hits_item0 = result.target_item == X.items.ids[0]
    # NaN ranks last: item 0 targets are pessimistically last, the others move up by at most one
    assert np.all(result.ranks[hits_item0] == X.n_items - 1)
    diff = reference.ranks[~hits_item0] - result.ranks[~hits_item0]
    assert set(np.unique(diff)) <= {0.0, 1.0}


def test_use_history_unknown_keeps_known_users_on_their_fitted_state(data):
    X, schedule = data
    split = live_split(X, schedule, test_window=48)
    model = FixedScores(seed=6).fit(split.train)
    plain = evaluate(model, split.train, split.test, schedule=schedule, n_bootstrap=0)
    known_only = evaluate(model, split, use_history="unknown", n_bootstrap=0)
    always = evaluate(model, split, n_bootstrap=0)
    np.testing.assert_array_equal(known_only.target_rank, plain.target_rank)
    assert not np.array_equal(always.target_rank, plain.target_rank)  # scored from the history hash
    with pytest.raises(ValueError, match="use_history"):
        evaluate(model, split, use_history="sometimes")


class TieScores(BaseRecommender):
    """Test model: small integer scores, so ties are everywhere; no fold-in."""

    _supports_history = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _fit(self, interactions, *, schedule, item_features, text):
        rng = np.random.default_rng(self.seed)
        self.table_ = rng.integers(0, 3, size=(interactions.n_users, interactions.n_items)).astype(np.float32)

    def _score_known(self, user_codes, at):
        return self.table_[user_codes]


@st.composite
def eval_case(draw):
    n = draw(st.integers(4, 40))
    users = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 7), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    X = Interactions.from_arrays(users, items, time=times)
    n_b = draw(st.integers(1, 12))
    b_items = draw(st.lists(st.integers(0, 7), min_size=n_b, max_size=n_b))
    starts = draw(st.lists(st.integers(0, 20), min_size=n_b, max_size=n_b))
    lengths = draw(st.lists(st.integers(1, 10), min_size=n_b, max_size=n_b))
    schedule = LiveSchedule.from_arrays(b_items, starts, [s + d for s, d in zip(starts, lengths, strict=True)])
    return X, schedule, draw(st.integers(0, 1000)), draw(st.booleans()), draw(st.booleans()), \
        draw(st.sampled_from(["user", "event"])), draw(st.sampled_from(["pessimistic", "optimistic"]))


@settings(max_examples=50, deadline=None)
@given(case=eval_case())
def test_ranks_match_a_brute_force_reference(case):
    X, schedule, seed, live, exclude_seen, per, ties = case
    try:
        split = temporal_split(X, test_size=0.3)
    except DataValidationError:
        return
    model = TieScores(seed).fit(split.train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(model, split.train, split.test, schedule=schedule if live else None, per=per,
                          exclude_seen=exclude_seen, ties=ties, n_bootstrap=0, k=(1, 3))
    seen = split.train.to_csr("binary")
    for c, user in enumerate(result.users):
        scores = model.table_[model.users_.codes([user])[0]]
        cand = np.ones(X.n_items, dtype=bool)
        if live:
            cand[:] = False
            live_codes = X.items.codes(schedule.live_at(result.times[c]), missing="ignore")
            cand[live_codes[live_codes >= 0]] = True
        if exclude_seen:
            cand[seen[X.users.codes([user])[0]].indices] = False
        rows = np.flatnonzero(result.target_case == c)
        targets = X.items.codes(result.target_item[rows])
        order_of = {int(t): j for j, t in enumerate(targets)}
        # the list: by score, ties with non-targets first (pessimistic) or last, targets in order
        key = sorted(np.flatnonzero(cand), key=lambda i: (
            -scores[i], (i in order_of) == (ties == "pessimistic"), order_of.get(int(i), -1)))
        position = {int(i): p for p, i in enumerate(key)}
        want = [position.get(int(t), np.inf) for t in targets]
        np.testing.assert_array_equal(result.target_rank[rows], want)
        assert result.n_candidates[c] == cand.sum()
        # the per-case metrics are those of the reference list
        top = np.array([key[:3] + [-1] * (3 - len(key[:3]))])
        for name in ("ndcg", "map", "recall", "precision", "mrr"):
            ref = ranking_metrics(top, [targets], k=3, metrics=(name,))[f"{name}@3"]
            assert result.per_user[f"{name}@3"][c] == pytest.approx(ref), name


def test_targets_off_air_are_counted_misses():
    X = Interactions.from_arrays(["u", "u", "v", "v"], ["a", "b", "a", "b"], time=[0, 5, 0, 5])
    schedule = LiveSchedule.from_arrays(["a", "b"], [0, 0], [10, 4])  # b is off air at 5
    train, test = X.select(X.time < 5), X.select(X.time >= 5)
    result = evaluate(Popularity().fit(train), train, test, schedule=schedule, n_bootstrap=0)
    assert result.n_unavailable_targets == 2 and np.isinf(result.ranks).all()
    assert (result.n_candidates == 1).all() and "not live" in str(result)


def _contract_models():
    from test_contract import MODELS  # the tiny configurations of every model

    return MODELS


@pytest.mark.parametrize("name", sorted(_contract_models()))
def test_every_model_is_evaluated_consistently_with_its_recommend(name, data):
    X, schedule = data
    split = live_split(X, schedule, test_window=48)
    model = _contract_models()[name]().fit(split.train, schedule=schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # users whose only earlier events are in the window: skipped
        pess = evaluate(model, split.train, split.test, schedule=schedule, k=(5,), n_bootstrap=0)
        opt = evaluate(model, split.train, split.test, schedule=schedule, k=(5,), n_bootstrap=0, ties="optimistic")
    assert len(pess.users) > 10
    recs = model.recommend(pess.users, k=5, at=pess.times, schedule=schedule)
    listed = np.array([t in recs[r] for r, t in enumerate(pess.target_item)], dtype=float)
    # recommend breaks score ties somehow; evaluate's two tie rules bound every possible way
    assert np.all(pess.per_user["hit_rate@5"] <= listed) and np.all(listed <= opt.per_user["hit_rate@5"])


def test_compare_is_paired_and_detects_a_clearly_better_model(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    pop = evaluate(Popularity().fit(split.train), split.train, split.test, n_bootstrap=0)
    rnd = evaluate(FixedScores(seed=9).fit(split.train), split.train, split.test, n_bootstrap=0)
    out = pop.compare(rnd, "hit_rate@10")
    assert out["diff"] == pytest.approx(pop["hit_rate@10"] - rnd["hit_rate@10"])
    assert out["ci_low"] <= out["diff"] <= out["ci_high"]
    assert out["p_value"] > 0.05  # 0.65 vs 0.575 on 40 cases: not distinguishable
    blind = evaluate(FixedScores(constant=True).fit(split.train), split.train, split.test, n_bootstrap=0)
    assert pop.compare(blind, "hit_rate@10")["p_value"] < 0.001
    same = pop.compare(pop, "ndcg@10")
    assert same["diff"] == 0.0 and same["p_value"] == 1.0
    other_cases = evaluate(Popularity().fit(split.train), split.train, split.test.select(np.arange(5)), n_bootstrap=0)
    with pytest.raises(ValueError, match="same cases"):
        pop.compare(other_cases)


def test_test_data_with_its_own_id_maps_gives_the_same_result(data):
    X, _ = data
    split = leave_last_out(X, validation=False)
    model = FixedScores(seed=8).fit(split.train)
    shared = evaluate(model, split.train, split.test, n_bootstrap=0, exclude_seen=True)
    cols = split.test.to_dict()
    order = np.argsort(cols["user"])[::-1]  # other row order, other codes
    own = Interactions.from_arrays(cols["user"][order], cols["item"][order], time=cols["time"][order])
    assert own.users is not X.users
    separate = evaluate(model, split.train, own, n_bootstrap=0, exclude_seen=True)
    by_user = dict(zip(separate.users.tolist(), separate.target_rank.tolist(), strict=True))
    assert [by_user[u] for u in shared.users.tolist()] == shared.target_rank.tolist()


def test_result_html_table_escapes_and_truncates(data, monkeypatch):
    import liverec.metrics._evaluate as ev

    X, _ = data
    split = leave_last_out(X, validation=False)
    result = evaluate(Popularity().fit(split.train), split, k=(1, 5), n_bootstrap=20)
    html = result._repr_html_()
    assert html.startswith("<table>") and "EvaluationResult: Popularity" in html
    assert html.count("<tr>") == 1 + len(result.keys())  # header + one row per metric
    assert "NDCG@5" in html and "repeat (n=" in html
    result.settings["model"] = "<img src=x onerror=alert(1)>"
    assert "<img" not in result._repr_html_() and "&lt;img" in result._repr_html_()
    monkeypatch.setattr(ev, "_HTML_MAX_ROWS", 3)
    short = result._repr_html_()
    assert short.count("<tr>") == 1 + 3 and f"{len(result.keys()) - 3} more metric rows" in short
