"""forget(users): exact where the model allows it (Popularity, profiles, ALS item side)."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_profiles import ITEM_META, random_events

import liverec
from liverec.data import Interactions
from liverec.exceptions import UnknownUserError
from liverec.models import ALS, BPR, MatrixFactorization, Popularity
from liverec.profiles import UserProfileBuilder
from liverec.testing import contract_data, saved_bytes_contain

DAY = 86400.0


def without(X: Interactions, users: list[str]) -> Interactions:
    return X.select(~np.isin(X.users.take(X.user_codes), users))


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), n_gone=st.integers(1, 4),
       strategy=st.sampled_from(["global", "recent"]), weighting=st.sampled_from(["count", "users", "event", "sum"]))
def test_popularity_forget_equals_a_refit_without_the_users(seed: int, n_gone: int, strategy: str,
                                                            weighting: str) -> None:
    X = random_events(seed, 60)
    gone = X.users.ids[:n_gone].tolist()
    rest = without(X, gone)
    model = Popularity(strategy=strategy, weighting=weighting).fit(X).forget(gone)
    refit = Popularity(strategy=strategy, weighting=weighting).fit(rest)
    items = refit.items_.ids
    user = rest.users.take(rest.user_codes[:1])[0]
    mine = model.recommend(user, k=len(items), candidates=items)
    theirs = refit.recommend(user, k=len(items), candidates=items)
    order = np.argsort(mine.items[0])
    np.testing.assert_allclose(mine.scores[0][order], theirs.scores[0][np.argsort(theirs.items[0])],
                               atol=1e-6, rtol=0)


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), n_gone=st.integers(1, 3))
def test_profile_forget_equals_a_refit_without_the_users(seed: int, n_gone: int) -> None:
    X = random_events(seed, 60)
    gone = X.users.ids[:n_gone].tolist()
    rest = without(X, gone)
    b = UserProfileBuilder(half_life=2 * DAY).fit(X, item_metadata=ITEM_META).forget(gone)
    refit = UserProfileBuilder(half_life=2 * DAY).fit(rest, item_metadata=ITEM_META)
    at = 25 * DAY
    users = refit.users_.ids
    np.testing.assert_allclose(b.transform(users, at=at), refit.transform(users, at=at), atol=1e-6, rtol=0)
    np.testing.assert_allclose(b.transform(["nobody"], at=at, unknown="default"),
                               refit.transform(["nobody"], at=at, unknown="default"), atol=1e-6, rtol=0)
    codes = b.items_.codes(refit.items_.ids)
    np.testing.assert_allclose(b.item_counts_[codes], refit.item_counts_[: len(refit.items_)], atol=1e-9)
    np.testing.assert_allclose(b.item_popularity(at)[codes], refit.item_popularity(at), atol=1e-6)


def test_profile_forget_leaves_no_trace_in_the_saved_files() -> None:
    X = random_events(3, 80)
    gone = ["u2", "u5"]
    b = UserProfileBuilder().fit(X, item_metadata=ITEM_META).forget(gone)
    with tempfile.TemporaryDirectory() as d:
        b.save(d)
        assert saved_bytes_contain(d, gone) == []
        again = liverec.load(d)
    assert again.users_ == b.users_
    again.forget("u1")  # the loaded state can forget too


def test_profile_forget_of_an_unknown_user_changes_nothing() -> None:
    b = UserProfileBuilder().fit(random_events(0, 30), item_metadata=ITEM_META)
    before = b.transform(b.users_.ids, at=0.0)
    with pytest.raises(UnknownUserError, match="nobody"):
        b.forget(["u0", "nobody"])
    np.testing.assert_array_equal(b.transform(b.users_.ids, at=0.0), before)


def _exact_item_step(X: np.ndarray, R: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """Hu-Koren-Volinsky item step, one dense solve per item (the reference)."""
    k = X.shape[1]
    out = np.zeros((R.shape[1], k))
    for i in range(R.shape[1]):
        c = 1.0 + alpha * R[:, i]
        p = (R[:, i] > 0).astype(float)
        A = (X.T * c) @ X + reg * np.eye(k)
        out[i] = np.linalg.solve(A, (X.T * c) @ p)
    return out


def test_als_forget_solves_the_item_side_from_the_remaining_users() -> None:
    X, _ = contract_data()
    model = ALS(n_factors=6, n_epochs=5, alpha=2.0, regularization=0.5, solver="cholesky", random_state=0, threads=1)
    model.fit(X)
    gone = ["user1", "user2", "user30"]
    keep = ~np.isin(model.users_.ids, gone)
    X_keep = model.user_factors_[keep].astype(np.float64)
    R_keep = model.user_items_[keep].toarray().astype(np.float64)
    model.forget(gone)
    expected = _exact_item_step(X_keep, R_keep, 2.0, 0.5)
    np.testing.assert_allclose(model.item_factors_, expected, atol=1e-4)
    np.testing.assert_array_equal(model.user_factors_, X_keep.astype(np.float32))
    assert model.user_items_.shape == (len(model.users_), len(model.items_))


@pytest.mark.parametrize("factory", [
    lambda: BPR(n_factors=4, n_epochs=2, random_state=0, threads=1),
    lambda: MatrixFactorization(n_factors=3, n_epochs=2, random_state=0, threads=1),
])
def test_factor_models_keep_other_users_scores_when_forgetting(factory: object) -> None:
    X, _ = contract_data()
    model = factory().fit(X)  # type: ignore[operator]
    users = ["user0", "user5"]
    before = model.predict(users, ["room1", "room2"])
    model.forget(["user3"])
    np.testing.assert_allclose(model.predict(users, ["room1", "room2"]), before, rtol=1e-6)


def test_forget_accepts_a_single_id_and_refuses_unknown_ids_without_change() -> None:
    X, _ = contract_data()
    model = Popularity().fit(X)
    with pytest.raises(UnknownUserError, match="already forgotten"):
        model.forget(["user0", "ghost"])
    assert "user0" in model.users_
    model.forget("user0")
    assert "user0" not in model.users_ and len(model.users_) == X.n_users - 1


def test_a_profile_saved_before_forget_existed_loads_and_refuses_to_forget_clearly() -> None:
    from liverec.exceptions import PersistenceError

    b = UserProfileBuilder().fit(random_events(1, 30), item_metadata=ITEM_META)
    attrs, arrays = b.get_state()
    old = {k: v for k, v in arrays.items() if not k.startswith("pairs_event/")}
    loaded = UserProfileBuilder()
    loaded.set_state(attrs, old)
    np.testing.assert_allclose(loaded.transform(b.users_.ids, at=0.0), b.transform(b.users_.ids, at=0.0))
    with pytest.raises(PersistenceError, match="refit"):
        loaded.forget(b.users_.ids[:1])
