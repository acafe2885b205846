"""Exposure diagnostics, evaluate(exposure=True) and the exposure-aware re-ranker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liverec.base import Recommendations
from liverec.data import Interactions
from liverec.exceptions import DataValidationError, InvalidParameterError
from liverec.metrics import (
    calibration_kl,
    evaluate,
    exposure_gini,
    exposure_report,
    exposure_shares,
    gini,
    group_exposure,
    tail_share,
)
from liverec.model_selection import leave_last_out
from liverec.models import Popularity
from liverec.rerank import ExposureReranker
from liverec.testing import contract_data


@settings(max_examples=50)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=30))
def test_gini_lies_between_zero_and_one_and_ignores_order(values: list[float]) -> None:
    g = gini(values)
    assert -1e-12 <= g < 1.0
    assert g == pytest.approx(gini(values[::-1]), abs=1e-9)


def test_gini_of_equal_and_concentrated_exposure() -> None:
    assert gini([5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 0, 10]) == pytest.approx(0.8)


def test_gini_refuses_negative_amounts() -> None:
    with pytest.raises(DataValidationError, match="non-negative"):
        gini([1, -1])


@settings(max_examples=30)
@given(st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True), min_size=1, max_size=10),
       st.sampled_from(["uniform", "position"]))
def test_exposure_shares_sum_to_one(lists: list[list[str]], weighting: str) -> None:
    shares = exposure_shares(lists, weighting=weighting)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert list(shares.values()) == sorted(shares.values(), reverse=True)


def test_position_weighting_gives_the_top_slot_more_exposure() -> None:
    shares = exposure_shares([["a", "b"]], weighting="position")
    assert shares["a"] == pytest.approx(1 / (1 + 1 / np.log2(3)))


def test_catalog_items_never_shown_raise_the_gini() -> None:
    lists = [["a", "b"], ["b", "a"]]
    assert exposure_gini(lists) == 0.0
    assert exposure_gini(lists, catalog=["a", "b", "c", "d"]) == pytest.approx(0.5)


def test_group_and_tail_shares() -> None:
    lists = [["a", "b", "c"], ["a", "b", "d"]]
    assert group_exposure(lists, {"a": "big", "b": "big"}) == pytest.approx({"big": 4 / 6, None: 2 / 6})
    assert tail_share(lists, ["c", "d", "zzz"]) == pytest.approx(2 / 6)


def test_calibration_is_zero_when_lists_match_histories_and_grows_with_mismatch() -> None:
    cats = {"a": "x", "b": "x", "c": "y"}
    assert calibration_kl([["a", "c"]], [["b", "c"]], cats) == pytest.approx(0.0, abs=1e-12)
    assert calibration_kl([["a", "b"]], [["c", "a"]], cats) > calibration_kl([["a", "c"]], [["c", "a"]], cats)


def test_recommendations_padding_is_not_exposure() -> None:
    recs = Recommendations.from_codes(np.array([1]), np.array([[0, -1]]), np.array([[1.0, 0.0]]),
                                      Popularity().fit(Interactions.from_arrays([1], ["a"])).items_)
    assert exposure_shares(recs) == {"a": 1.0}


def test_exposure_report_collects_everything() -> None:
    r = exposure_report([["a", "b"], ["a", "c"]], catalog=list("abcd"), groups={"a": "x", "b": "y", "c": "y"},
                        tail_items=["c", "d"], new_items=["d"], histories=[["a"], ["b"]])
    assert (r.n_lists, r.n_items, r.n_exposed) == (2, 4, 3)
    assert r.tail_share == pytest.approx(0.25) and r.new_share == 0.0
    assert r.calibration_kl is not None and r.calibration_kl > 0
    assert set(r.to_dict()) >= {"gini", "shares", "group_shares", "calibration_kl"}


def test_evaluate_reports_exposure_on_request_only() -> None:
    X, _ = contract_data()
    split = leave_last_out(X, validation=False)
    model = Popularity().fit(split.train)
    assert evaluate(model, split, k=(5,), n_bootstrap=0).exposure is None
    groups = {f"room{j}": "even" if j % 2 == 0 else "odd" for j in range(25)}
    res = evaluate(model, split, k=(1, 5), n_bootstrap=0, exposure=True, item_groups=groups)
    rep = res.exposure
    assert rep is not None and rep.n_lists == res.n_cases["all"]
    assert rep.n_exposed == 5  # Popularity shows everyone the same five rooms
    assert rep.n_items == len(model.items_) and rep.gini > 0.7
    assert set(rep.group_shares) <= {"even", "odd"} and rep.calibration_kl is not None


def test_evaluate_refuses_a_non_boolean_exposure_option() -> None:
    X, _ = contract_data()
    split = leave_last_out(X, validation=False)
    with pytest.raises(InvalidParameterError, match="exposure"):
        evaluate(Popularity().fit(split.train), split, n_bootstrap=0, exposure="yes")  # type: ignore[arg-type]


def test_reranker_with_zero_trade_off_keeps_the_model_order() -> None:
    X, _ = contract_data()
    model = Popularity().fit(X)
    users = X.users.ids[:5]
    plain = model.recommend(users, k=5)
    again = ExposureReranker(trade_off=0.0, pool=20).recommend(model, users, k=5)
    np.testing.assert_array_equal(again.items, plain.items)


@settings(max_examples=10)
@given(st.floats(0.3, 1.0))
def test_reranker_spreads_exposure_of_a_popularity_model(trade_off: float) -> None:
    X, _ = contract_data()
    model = Popularity().fit(X)
    users = X.users.ids
    plain = model.recommend(users, k=5)
    fair = ExposureReranker(trade_off=trade_off, pool=25).recommend(model, users, k=5)
    catalog = model.items_.ids
    assert exposure_gini(list(fair), catalog=catalog) < exposure_gini(list(plain), catalog=catalog)
    for r in range(len(users)):
        assert len(set(fair[r])) == 5
        assert np.all(np.diff(fair.scores[r]) <= 1e-6)


def test_reranker_validates_its_parameters() -> None:
    X, _ = contract_data()
    with pytest.raises(InvalidParameterError, match="trade_off"):
        ExposureReranker(trade_off=2.0).recommend(Popularity().fit(X), X.users.ids[:2])
    with pytest.raises(DataValidationError, match="Recommendations"):
        ExposureReranker().rerank([["a"]])  # type: ignore[arg-type]
