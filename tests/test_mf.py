"""MatrixFactorization: explicit ratings, r ≈ μ + b_u + b_i + p_u·q_i, solved by ALS or SGD."""

from __future__ import annotations

import tempfile
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import liverec
from liverec.data import Interactions
from liverec.exceptions import DataValidationError
from liverec.models import MatrixFactorization


def planted_ratings(seed: int = 0, n_users: int = 40, n_items: int = 30, rank: int = 3,
                    observed: float = 0.6) -> tuple[Interactions, np.ndarray, np.ndarray]:
    """Ratings from an exact rank-3 biased model; returns (train, held-out pairs, their ratings)."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 0.7, (n_users, rank))
    Q = rng.normal(0, 0.7, (n_items, rank))
    R = 3.0 + rng.normal(0, 0.3, (n_users, 1)) + rng.normal(0, 0.3, (1, n_items)) + P @ Q.T
    mask = rng.random(R.shape) < observed
    u, i = np.nonzero(mask)
    hu, hi = np.nonzero(~mask)
    X = Interactions.from_arrays(u, i, weight=R[u, i])
    return X, np.stack([hu, hi], 1), R[hu, hi]


def worked_example() -> Interactions:
    return Interactions.from_arrays(user=["A", "A", "B", "B"], item=[1, 2, 1, 2], weight=[4, 3, 5, 4])


@pytest.mark.parametrize("solver, epochs", [("als", 30), ("sgd", 400)])
def test_recovers_a_planted_low_rank_matrix(solver: str, epochs: int) -> None:
    X, pairs, truth = planted_ratings()
    mf = MatrixFactorization(n_factors=3, n_epochs=epochs, solver=solver, regularization=1e-3,
                             learning_rate=0.02, batch_size=64, random_state=0, threads=1).fit(X)
    pred = mf.predict(pairs[:, 0], pairs[:, 1])
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    spread = float(np.std(truth))
    assert rmse < 0.15 * spread, f"held-out RMSE {rmse:.3f} vs rating spread {spread:.3f}"


def test_global_mean_is_the_mean_training_rating() -> None:
    mf = MatrixFactorization(n_factors=2, random_state=0, threads=1).fit(worked_example())
    assert mf.global_mean_ == pytest.approx(4.0)
    assert mf.rating_range_ == (3.0, 5.0)


@pytest.mark.parametrize("reg", [0.1, 0.5, 1.0])
def test_worked_example_matches_the_closed_form_shrinkage(reg: float) -> None:
    """Additive ratings: the biases explain everything, the factors vanish, and with penalty λ
    per rating A's rating of item 2 is 3 + λ / (1 + λ) (docs/tutorials/mf.md derives it)."""
    mf = MatrixFactorization(n_factors=2, n_epochs=20, regularization=reg, random_state=0, threads=1)
    mf.fit(worked_example())
    assert float(mf.predict("A", 2)[0]) == pytest.approx(3 + reg / (1 + reg), abs=1e-3)
    assert np.abs(mf.user_factors_).max() < 1e-3 and np.abs(mf.item_factors_).max() < 1e-3


def test_worked_example_biases_say_who_is_generous_and_what_is_liked() -> None:
    mf = MatrixFactorization(n_factors=2, regularization=0.1, random_state=0, threads=1).fit(worked_example())
    a, b = mf.users_.codes(["A", "B"])
    one, two = mf.items_.codes([1, 2])
    assert mf.user_bias_[a] < 0 < mf.user_bias_[b]
    assert mf.item_bias_[two] < 0 < mf.item_bias_[one]


def test_fit_without_a_weight_column_explains_what_is_missing() -> None:
    X = Interactions.from_arrays(user=[1, 2], item=[1, 2])
    with pytest.raises(DataValidationError, match="weight"):
        MatrixFactorization().fit(X)


def test_the_latest_rating_of_a_revised_pair_counts() -> None:
    X = Interactions.from_arrays(user=["A", "A", "B"], item=[1, 1, 1], time=[0, 1, 2], weight=[1, 5, 5])
    mf = MatrixFactorization(n_factors=1, regularization=1e-4, random_state=0, threads=1).fit(X)
    assert mf.global_mean_ == pytest.approx(5.0)


@given(seed=st.integers(0, 10_000))
@settings(max_examples=15, deadline=None)
def test_predictions_stay_inside_the_rating_range_seen_in_fit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    X = Interactions.from_arrays(rng.integers(0, 6, n), rng.integers(0, 8, n), weight=rng.integers(1, 6, n))
    mf = MatrixFactorization(n_factors=3, n_epochs=5, regularization=1e-3, random_state=seed, threads=1).fit(X)
    uu, ii = np.meshgrid(X.users.ids, X.items.ids)
    pred = mf.predict(uu.ravel(), ii.ravel())
    lo, hi = mf.rating_range_
    assert np.all(pred >= lo) and np.all(pred <= hi)


def test_recommend_ranks_by_predicted_rating() -> None:
    X, _, _ = planted_ratings(seed=1)
    mf = MatrixFactorization(n_factors=3, n_epochs=10, random_state=0, threads=1).fit(X)
    user = X.users.ids[0]
    recs = mf.recommend(user, k=5)
    raw = mf._score_known(mf.users_.codes([user]), None).numpy()[0]
    np.testing.assert_array_equal(mf.items_.codes(recs.items[0]), np.argsort(-raw, kind="stable")[:5])
    np.testing.assert_allclose(recs.scores[0], np.sort(raw)[::-1][:5], rtol=1e-6)


def test_early_stopping_keeps_the_best_validation_epoch() -> None:
    X, _, _ = planted_ratings(seed=2, observed=0.3)
    noisy = Interactions.from_arrays(X.user, X.item, weight=X.weight + np.random.default_rng(0).normal(0, 1, len(X)))
    mf = MatrixFactorization(n_factors=20, n_epochs=60, regularization=1e-4, validation=0.2, patience=2,
                             random_state=0, threads=1).fit(noisy)
    val = np.array(mf.validation_rmse_)
    assert len(val) < 60, "an over-fitting model must stop early"
    assert mf.best_epoch_ == int(np.argmin(val)) + 1
    assert len(val) == mf.best_epoch_ + 2  # patience epochs without improvement, then stop


def test_validation_can_be_given_as_interactions() -> None:
    X, pairs, truth = planted_ratings(seed=3)
    val = Interactions.from_arrays(pairs[:50, 0], pairs[:50, 1], weight=truth[:50],
                                   users=X.users, items=X.items)
    mf = MatrixFactorization(n_factors=3, n_epochs=8, validation=val, random_state=0, threads=1).fit(X)
    assert len(mf.validation_rmse_) == len(mf.train_rmse_) >= 1
    assert mf.validation_rmse_[mf.best_epoch_ - 1] == min(mf.validation_rmse_)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, "0.1"])
def test_validation_must_be_a_fraction_or_interactions(bad: object) -> None:
    with pytest.raises(ValueError, match="validation"):
        MatrixFactorization(validation=bad).fit(worked_example())  # type: ignore[arg-type]


def test_unknown_solver_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="als"):
        MatrixFactorization(solver="svd").fit(worked_example())


def test_fold_in_from_ratings_scores_like_the_fitted_user() -> None:
    X, _, _ = planted_ratings(seed=4)
    mf = MatrixFactorization(n_factors=3, n_epochs=40, regularization=0.01, random_state=0, threads=1).fit(X)
    user = X.users.ids[5]
    mine = X.select(X.user_codes == X.users.codes([user])[0])
    history = Interactions.from_arrays(np.full(len(mine), "newcomer"), mine.item, weight=mine.weight)
    known = mf.recommend(user, k=8)
    folded = mf.recommend("newcomer", k=8, history=history)
    np.testing.assert_array_equal(known.items, folded.items)
    np.testing.assert_allclose(known.scores, folded.scores, atol=0.05)


def test_fold_in_of_a_plain_item_list_reads_the_items_as_top_rated() -> None:
    X, _, _ = planted_ratings(seed=5)
    mf = MatrixFactorization(n_factors=3, n_epochs=5, random_state=0, threads=1).fit(X)
    codes = np.array([0, 3, 7])
    b_list, p_list = mf.fold_in(X.items.ids[codes])
    b_top, p_top = mf.fold_in(X.items.ids[codes], np.full(3, mf.rating_range_[1]))
    assert b_list == pytest.approx(b_top)
    np.testing.assert_allclose(p_list, p_top)
    recs = mf.recommend("newcomer", k=3, history=X.items.ids[codes])
    assert recs.mask.all()


def test_fold_in_refuses_unknown_items_and_mismatched_ratings() -> None:
    mf = MatrixFactorization(n_factors=2, random_state=0, threads=1).fit(worked_example())
    with pytest.raises(KeyError, match="unknown item"):
        mf.fold_in([1, 99])
    with pytest.raises(ValueError, match="one rating per item"):
        mf.fold_in([1, 2], [4])


def test_save_and_load_keep_predictions_and_rating_range() -> None:
    X, pairs, _ = planted_ratings(seed=6)
    mf = MatrixFactorization(n_factors=3, n_epochs=4, validation=0.1, random_state=0, threads=1).fit(X)
    with tempfile.TemporaryDirectory() as d:
        mf.save(d)
        again = liverec.load(d)
    np.testing.assert_array_equal(mf.predict(pairs[:20, 0], pairs[:20, 1]), again.predict(pairs[:20, 0], pairs[:20, 1]))
    assert again.rating_range_ == mf.rating_range_
    assert again.best_epoch_ == mf.best_epoch_ and again.validation_rmse_ == mf.validation_rmse_


def test_same_seed_same_model_for_both_solvers() -> None:
    X, _, _ = planted_ratings(seed=7)
    for solver in ("als", "sgd"):
        a = MatrixFactorization(n_factors=3, n_epochs=3, solver=solver, random_state=1, threads=1).fit(X)
        b = MatrixFactorization(n_factors=3, n_epochs=3, solver=solver, random_state=1, threads=1).fit(X)
        np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


def test_fit_leaves_the_torch_thread_count_as_it_was() -> None:
    before = torch.get_num_threads()
    MatrixFactorization(n_factors=2, n_epochs=2, threads=2, random_state=0).fit(worked_example())
    assert torch.get_num_threads() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback when no GPU is present")
def test_cuda_without_a_gpu_falls_back_to_the_cpu_with_a_warning() -> None:
    with pytest.warns(RuntimeWarning, match="CUDA"):
        mf = MatrixFactorization(n_factors=2, n_epochs=2, device="cuda", random_state=0).fit(worked_example())
    assert np.isfinite(mf.predict("A", 2)).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("solver", ["als", "sgd"])
def test_cuda_fit_matches_the_cpu_fit(solver: str) -> None:
    X, pairs, _ = planted_ratings(seed=8)
    kw = dict(n_factors=3, n_epochs=10, solver=solver, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpu = MatrixFactorization(device="cuda", **kw).fit(X)
    cpu = MatrixFactorization(device="cpu", **kw).fit(X)
    np.testing.assert_allclose(gpu.predict(pairs[:, 0], pairs[:, 1]), cpu.predict(pairs[:, 0], pairs[:, 1]), atol=0.05)


def test_similar_items_use_the_item_factors() -> None:
    X, _, _ = planted_ratings(seed=9)
    mf = MatrixFactorization(n_factors=3, n_epochs=10, random_state=0, threads=1).fit(X)
    sims = mf.similar_items([X.items.ids[0]], k=3)
    v = mf.item_factors_ / np.linalg.norm(mf.item_factors_, axis=1, keepdims=True)
    cos = v @ v[mf.items_.codes([X.items.ids[0]])[0]]
    cos[mf.items_.codes([X.items.ids[0]])[0]] = -np.inf
    np.testing.assert_array_equal(mf.items_.codes(sims.items[0]), np.argsort(-cos)[:3])
