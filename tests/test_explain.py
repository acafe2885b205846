"""explain(user, items): each model's reasons satisfy the property that defines them."""

from __future__ import annotations

import numpy as np
import pytest

from liverec.data import Interactions
from liverec.datasets import make_live_commerce
from liverec.exceptions import UnknownItemError, UnknownUserError
from liverec.explain import Explanation
from liverec.models import (
    ALS,
    BPR,
    MatrixFactorization,
    Popularity,
    ProfileRanker,
    SequentialTransformer,
)
from liverec.testing import contract_data


def test_als_history_contributions_sum_to_the_exact_user_score() -> None:
    X, _ = contract_data()
    model = ALS(n_factors=6, n_epochs=6, alpha=3.0, solver="cholesky", random_state=0, threads=1).fit(X)
    u = int(model.users_.codes(["user4"])[0])
    exact_user = model._fold_in(model.user_items_[[u]])[0]
    for e in model.explain("user4", ["room1", "room9", "room20"]):
        i = int(model.items_.codes([e.item])[0])
        assert e.additive and e.explained_score == pytest.approx(float(exact_user @ model.item_factors_[i]), abs=1e-5)
        assert {r.name for r in e.reasons} == set(model.items_.ids[model.user_items_[u].indices].tolist())


def test_als_explained_score_is_the_fold_in_score_of_the_users_history() -> None:
    X, _ = contract_data()
    model = ALS(n_factors=6, n_epochs=6, random_state=0, threads=1).fit(X)
    e = model.explain("user7", "room3")[0]
    history = X.items.take(X.item_codes[X.users.take(X.user_codes) == "user7"]).tolist()
    folded = model.recommend("newcomer", k=1, history=history, candidates=["room3"]).scores[0, 0]
    assert e.explained_score == pytest.approx(float(folded), abs=1e-4)
    assert e.score == pytest.approx(float(model.predict("user7", "room3")[0]), abs=1e-5)


def test_sequential_leave_one_out_equals_the_score_drop_without_that_event() -> None:
    X, _ = contract_data()
    model = SequentialTransformer(embedding_dim=16, max_len=8, n_epochs=2, batch_size=16, validation_size=0,
                                  random_state=0).fit(X)
    user, item = "user2", "room5"
    e = model.explain(user, item)[0]
    u = int(model.users_.codes([user])[0])
    seq = model.seq_items_[model.seq_indptr_[u]:model.seq_indptr_[u + 1]][-8:]
    hist = model.items_.take(seq).tolist()

    def score(h: list[str]) -> float:
        return float(model.recommend("someone-new", k=1, history=h, candidates=[item]).scores[0, 0])

    assert e.score == pytest.approx(score(hist), abs=1e-5)
    assert len(e.reasons) == len(hist)
    by_time = sorted(e.reasons, key=lambda r: r.value)
    for j, reason in enumerate(by_time):
        assert reason.name == hist[j]
        assert reason.contribution == pytest.approx(score(hist) - score(hist[:j] + hist[j + 1:]), abs=1e-4)


def test_profile_ranker_linear_contributions_add_up_to_the_score() -> None:
    data = make_live_commerce(n_users=120, n_streamers=10, n_days=4, random_state=0)
    model = ProfileRanker(n_layers=0, n_epochs=3, random_state=0).fit(data.product_events, item_features=data.products)
    user = data.product_events.users.ids[0]
    items = data.products["product"][:4]
    for e, s in zip(model.explain(user, items), model.score(user, items), strict=True):
        assert e.additive and e.method == "feature occlusion"
        assert e.explained_score == pytest.approx(e.score, abs=1e-4)
        assert e.score == pytest.approx(float(s), abs=1e-4)
        assert all(r.kind == "profile_feature" for r in e.reasons)


def test_popularity_explains_with_the_count() -> None:
    X = Interactions.from_arrays(user=[1, 2, 2, 3], item=["a", "b", "a", "a"])
    e = Popularity().fit(X).explain(1, ["a", "b"])
    assert [x.score for x in e] == [3.0, 1.0]
    assert e[0].reasons[0].kind == "count" and "3 events" in e[0].reasons[0].text


@pytest.mark.parametrize("factory", [
    lambda: BPR(n_factors=4, n_epochs=3, random_state=0, threads=1),
    lambda: MatrixFactorization(n_factors=3, n_epochs=3, random_state=0, threads=1),
])
def test_factor_model_terms_add_up_to_the_ranking_score(factory: object) -> None:
    X, _ = contract_data()
    model = factory().fit(X)  # type: ignore[operator]
    recs = model.recommend("user9", k=3)
    for e, s in zip(model.explain("user9", recs[0]), recs.scores[0], strict=True):
        assert e.additive and e.explained_score == pytest.approx(float(s), abs=1e-4)
        assert e.context and e.context[0].kind == "similar_history_item"


def test_explanation_reads_well_and_serialises() -> None:
    X, _ = contract_data()
    e = ALS(n_factors=4, n_epochs=2, random_state=0, threads=1).fit(X).explain("user1", "room2")[0]
    assert isinstance(e, Explanation)
    assert repr(e).startswith("Explanation(user='user1', item='room2'")
    assert str(e).splitlines()[0].startswith("user1 -> room2: score")
    rec = e.to_records()[0]
    assert set(rec) >= {"user", "item", "score", "method", "kind", "name", "contribution", "text"}
    assert abs(e.reasons[0].contribution) >= abs(e.reasons[-1].contribution)


def test_explain_refuses_unknown_users_and_items() -> None:
    X, _ = contract_data()
    model = Popularity().fit(X)
    with pytest.raises(UnknownUserError):
        model.explain("ghost", "room1")
    with pytest.raises(UnknownItemError, match="nope"):
        model.explain("user1", ["room1", "nope"])


def test_explained_history_has_no_forgotten_user_after_forget() -> None:
    X, _ = contract_data()
    model = ALS(n_factors=4, n_epochs=2, random_state=0, threads=1).fit(X).forget(["user1"])
    with pytest.raises(UnknownUserError):
        model.explain("user1", "room2")
    assert np.isfinite(model.explain("user2", "room2")[0].score)
