"""ALS (implicit feedback): solver correctness, fold-in, partial_fit, planted structure, API."""

from __future__ import annotations

import tempfile
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import liverec
from liverec.data import Interactions
from liverec.exceptions import DataValidationError
from liverec.models import ALS
from liverec.models._linalg import CsrTensor, RowRunner, als_half_sweep, cg_solve, cholesky_solve


def dense_reference(R: np.ndarray, Y: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """Each row's normal equations (Y^T C_u Y + reg I) x = Y^T C_u p_u, solved in float64."""
    k = Y.shape[1]
    out = np.zeros((R.shape[0], k))
    Y64 = Y.astype(np.float64)
    for u in range(R.shape[0]):
        c = 1.0 + alpha * R[u]
        p = (R[u] > 0).astype(np.float64)
        A = (Y64.T * c) @ Y64 + reg * np.eye(k)
        out[u] = np.linalg.solve(A, Y64.T @ (c * p))
    return out


def random_problem(seed: int, n: int = 30, m: int = 20, k: int = 6, density: float = 0.25):
    rng = np.random.default_rng(seed)
    R = sp.random(n, m, density=density, random_state=rng, format="csr", dtype=np.float32,
                  data_rvs=lambda size: rng.integers(1, 4, size).astype(np.float32))
    Y = rng.normal(size=(m, k)).astype(np.float32) * 0.5
    return R, Y


def planted_blocks(n_groups: int = 3, users_per_group: int = 12, items_per_group: int = 8,
                   seen: int = 6, seed: int = 0) -> tuple[Interactions, dict[str, list[str]]]:
    """Users in groups; each user saw `seen` random items of their group's block only."""
    rng = np.random.default_rng(seed)
    users, items, held_out = [], [], {}
    for g in range(n_groups):
        block = [f"g{g}i{j}" for j in range(items_per_group)]
        for u in range(users_per_group):
            name = f"g{g}u{u}"
            picked = rng.choice(items_per_group, size=seen, replace=False)
            users += [name] * seen
            items += [block[j] for j in picked]
            held_out[name] = [block[j] for j in range(items_per_group) if j not in set(picked)]
    return Interactions.from_arrays(users, items), held_out


#: A configuration that recovers the planted groups (3 groups, 3 factors).
PLANTED = dict(n_factors=3, n_epochs=10, alpha=10.0, regularization=1.0, random_state=0, threads=1)


# Solvers ----------------------------------------------------------------------------------------
@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), alpha=st.floats(0.0, 20.0), reg=st.floats(0.01, 5.0))
def test_cholesky_solver_solves_every_rows_normal_equations(seed: int, alpha: float, reg: float) -> None:
    R, Y = random_problem(seed)
    got = cholesky_solve(CsrTensor.from_scipy(R * alpha, torch.device("cpu")), torch.from_numpy(Y), reg)
    want = dense_reference(R.toarray(), Y, alpha, reg)
    np.testing.assert_allclose(got.numpy(), want, rtol=2e-3, atol=2e-4)


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), alpha=st.floats(0.0, 20.0))
def test_conjugate_gradient_converges_to_the_exact_solution(seed: int, alpha: float) -> None:
    R, Y = random_problem(seed)
    cm1 = CsrTensor.from_scipy(R * alpha, torch.device("cpu"))
    exact = cholesky_solve(cm1, torch.from_numpy(Y), 0.5)
    # CG solves a k-dimensional SPD system in at most k steps (a few more absorb rounding)
    X = cg_solve(cm1, torch.zeros(R.shape[0], Y.shape[1]), torch.from_numpy(Y), 0.5, cg_steps=3 * Y.shape[1])
    np.testing.assert_allclose(X.numpy(), exact.numpy(), rtol=1e-3, atol=1e-3)


def test_a_few_warm_started_cg_steps_get_close_to_the_exact_solution() -> None:
    R, Y = random_problem(3, n=60, m=40, k=8)
    cm1 = CsrTensor.from_scipy(R * 2.0, torch.device("cpu"))
    exact = cholesky_solve(cm1, torch.from_numpy(Y), 0.1).numpy()
    start = exact + np.random.default_rng(0).normal(scale=0.05, size=exact.shape).astype(np.float32)
    X = cg_solve(cm1, torch.from_numpy(start.copy()), torch.from_numpy(Y), 0.1, cg_steps=3).numpy()
    assert np.linalg.norm(X - exact) < 0.2 * np.linalg.norm(start - exact)


def test_rows_without_events_get_zero_vectors() -> None:
    R = sp.csr_matrix(np.array([[0, 0, 0], [1, 0, 2]], dtype=np.float32))
    Y = torch.randn(3, 2)
    cm1 = CsrTensor.from_scipy(R, torch.device("cpu"))
    assert torch.all(cholesky_solve(cm1, Y, 0.1)[0] == 0)
    assert torch.all(cg_solve(cm1, torch.zeros(2, 2), Y, 0.1, cg_steps=3)[0] == 0)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_parallel_chunks_give_the_same_half_sweep_as_one_chunk(solver: str) -> None:
    R, Y = random_problem(5, n=80, m=30)
    cm1 = CsrTensor.from_scipy(R, torch.device("cpu"))
    X1, X2 = torch.zeros(80, Y.shape[1]), torch.zeros(80, Y.shape[1])
    with RowRunner(1, torch.device("cpu")) as one:
        als_half_sweep(cm1, X1, torch.from_numpy(Y), 0.1, solver, 3, one)
    with RowRunner(3, torch.device("cpu")) as three:
        chunks = cm1.balanced_chunks(7)
        assert len(chunks) > 1 and chunks[0][0] == 0 and chunks[-1][1] == 80
        als_half_sweep(cm1, X2, torch.from_numpy(Y), 0.1, solver, 3, three, chunks)
    np.testing.assert_allclose(X1.numpy(), X2.numpy(), rtol=1e-4, atol=1e-5)


def test_cg_model_agrees_with_the_exact_solver_model() -> None:
    X, _ = planted_blocks()
    common = dict(n_factors=4, n_epochs=6, alpha=5.0, regularization=0.5, random_state=0, threads=1)
    exact = ALS(solver="cholesky", **common).fit(X)
    cg = ALS(solver="cg", cg_steps=12, **common).fit(X)
    np.testing.assert_allclose(cg.user_factors_ @ cg.item_factors_.T,
                               exact.user_factors_ @ exact.item_factors_.T, atol=2e-3)


# What the model learns ----------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_recovers_planted_groups(solver: str) -> None:
    X, held_out = planted_blocks()
    model = ALS(solver=solver, **PLANTED).fit(X)
    users = list(held_out)
    recs = model.recommend(users, k=2, exclude_seen=True)
    for r, u in enumerate(users):
        assert set(recs[r]) <= set(held_out[u]), f"{u} got items of another group: {recs[r]}"


def test_similar_items_stay_in_their_block() -> None:
    X, _ = planted_blocks()
    model = ALS(**PLANTED).fit(X)
    sims = model.similar_items(["g0i0", "g2i3"], k=3)
    assert all(i.startswith("g0") for i in sims[0]) and all(i.startswith("g2") for i in sims[1])


def test_predict_is_the_dot_product_of_the_vectors_and_matches_recommend() -> None:
    X, _ = planted_blocks()
    model = ALS(n_factors=4, n_epochs=3, random_state=0, threads=1).fit(X)
    recs = model.recommend(["g1u0"], k=3)
    pred = model.predict(["g1u0"] * 3, recs.items[0])
    np.testing.assert_allclose(pred, recs.scores[0], rtol=1e-5)
    u, i = X.users.codes(["g1u0"])[0], X.items.codes([recs.items[0, 0]])[0]
    assert pred[0] == pytest.approx(float(model.user_factors_[u] @ model.item_factors_[i]), rel=1e-5)


def test_repeated_events_raise_the_confidence_with_count_weighting() -> None:
    base_users, base_items = ["a"] * 3 + ["b"] * 3, ["x", "y", "z", "x", "y", "z"]
    X = Interactions.from_arrays(base_users + ["a"] * 5, base_items + ["x"] * 5)
    count = ALS(n_factors=3, n_epochs=8, alpha=2.0, weighting="count", random_state=0, threads=1).fit(X)
    binary = ALS(n_factors=3, n_epochs=8, alpha=2.0, weighting="binary", random_state=0, threads=1).fit(X)
    assert count.user_items_[X.users.codes(["a"])[0], X.items.codes(["x"])[0]] == 6
    assert binary.user_items_.max() == 1
    s_count, s_bin = count.predict(["a"] * 3, ["x", "y", "z"]), binary.predict(["a"] * 3, ["x", "y", "z"])
    assert s_count[0] - s_count[1:].mean() > s_bin[0] - s_bin[1:].mean()


# Fold-in and partial_fit -------------------------------------------------------------------------
def test_fold_in_of_a_training_user_reproduces_their_scores() -> None:
    X, _ = planted_blocks(seed=1)
    model = ALS(n_factors=4, n_epochs=40, alpha=5.0, regularization=0.5, solver="cholesky", random_state=0,
                threads=1).fit(X)
    user = "g2u3"
    history = X.items.take(X.item_codes[X.user_codes == X.users.codes([user])[0]])
    known = model.recommend(user, k=X.n_items)
    folded = model.recommend(user, k=X.n_items, history=history)
    order = np.argsort(known.items[0])
    np.testing.assert_allclose(folded.scores[0][np.argsort(folded.items[0])], known.scores[0][order], atol=0.02)


def test_fold_in_a_newcomer_from_history() -> None:
    X, _ = planted_blocks()
    model = ALS(**PLANTED).fit(X)
    recs = model.recommend("newcomer", k=3, history=["g1i0", "g1i1", "g1i2"], exclude_seen=True)
    assert all(i.startswith("g1") for i in recs[0])


def test_partial_fit_adds_new_users_and_items_and_leaves_others_alone() -> None:
    X, _ = planted_blocks()
    model = ALS(**PLANTED).fit(X)
    before_items = model.item_factors_.copy()
    before_users = model.user_factors_.copy()
    # a new user who watches group 2's items, and a new item watched by group 0's users
    new = Interactions.from_arrays(
        ["fresh"] * 3 + [f"g0u{u}" for u in range(6)],
        ["g2i0", "g2i1", "g2i2"] + ["brand-new"] * 6)
    model.partial_fit(new)
    assert "fresh" in model.users_ and "brand-new" in model.items_
    assert model.user_factors_.shape == (len(model.users_), 3)
    assert model.item_factors_.shape == (len(model.items_), 3)
    # known items keep their vectors; users without new events too
    np.testing.assert_array_equal(model.item_factors_[:len(before_items)], before_items)
    untouched = X.users.codes([f"g1u{u}" for u in range(12)])
    np.testing.assert_array_equal(model.user_factors_[untouched], before_users[untouched])
    # the new user is placed with group 2, the new item with group 0
    assert all(i.startswith("g2") for i in model.recommend("fresh", k=3, exclude_seen=True)[0])
    assert all(i.startswith("g0") for i in model.similar_items("brand-new", k=3)[0])
    # new events count as seen
    assert "brand-new" not in model.recommend("g0u0", k=20, exclude_seen=True)[0]


def test_partial_fit_of_a_known_user_moves_them_towards_the_new_items() -> None:
    X, _ = planted_blocks()
    model = ALS(**PLANTED).fit(X)
    before = model.predict(["g0u0"] * 2, ["g1i0", "g0i0"])
    model.partial_fit(Interactions.from_arrays(["g0u0"] * 12, [f"g1i{j}" for j in range(6)] * 2))
    after = model.predict(["g0u0"] * 2, ["g1i0", "g0i0"])
    assert after[0] > before[0] and after[0] - after[1] > before[0] - before[1]
    assert model.user_items_[X.users.codes(["g0u0"])[0], X.items.codes(["g1i0"])[0]] == 2


def test_partial_fit_on_an_unfitted_model_is_fit() -> None:
    X, _ = planted_blocks()
    a = ALS(n_factors=4, n_epochs=3, random_state=0, threads=1).partial_fit(X)
    b = ALS(n_factors=4, n_epochs=3, random_state=0, threads=1).fit(X)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_partial_fit_works_after_save_and_load() -> None:
    X, _ = planted_blocks()
    model = ALS(n_factors=4, n_epochs=3, random_state=0, threads=1).fit(X)
    with tempfile.TemporaryDirectory() as d:
        model.save(d)
        again = liverec.load(d)
    assert (again.user_items_ != model.user_items_).nnz == 0
    new = Interactions.from_arrays(["z", "z"], ["g0i0", "g0i1"])
    np.testing.assert_allclose(again.partial_fit(new).user_factors_, model.partial_fit(new).user_factors_)


# Parameters, threads, device ------------------------------------------------------------------------
def test_threads_do_not_change_the_result_and_torch_threads_are_restored() -> None:
    X, _ = planted_blocks()
    before = torch.get_num_threads()
    one = ALS(n_factors=4, n_epochs=4, random_state=0, threads=1).fit(X)
    two = ALS(n_factors=4, n_epochs=4, random_state=0, threads=2).fit(X)
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(one.user_factors_, two.user_factors_, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback when no GPU is present")
def test_cuda_without_a_gpu_falls_back_to_the_cpu_with_a_warning() -> None:
    X, _ = planted_blocks()
    with pytest.warns(RuntimeWarning, match="no CUDA GPU"):
        model = ALS(n_factors=4, n_epochs=2, random_state=0, threads=1, device="cuda").fit(X)
    cpu = ALS(n_factors=4, n_epochs=2, random_state=0, threads=1).fit(X)
    np.testing.assert_array_equal(model.user_factors_, cpu.user_factors_)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_cuda_fit_agrees_with_the_cpu(solver: str) -> None:
    X, _ = planted_blocks()
    gpu = ALS(n_factors=4, n_epochs=4, solver=solver, random_state=0, device="cuda").fit(X)
    cpu = ALS(n_factors=4, n_epochs=4, solver=solver, random_state=0, threads=1).fit(X)
    np.testing.assert_allclose(gpu.user_factors_, cpu.user_factors_, rtol=1e-3, atol=1e-4)


def test_auto_device_fits() -> None:
    X, _ = planted_blocks()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ALS(n_factors=4, n_epochs=1, random_state=0, threads=1, device="auto").fit(X)


@pytest.mark.parametrize(("param", "value"), [
    ("n_factors", 0), ("n_epochs", -1), ("cg_steps", 0), ("regularization", -1.0), ("alpha", float("nan")),
    ("solver", "newton"), ("weighting", "event"), ("threads", 0), ("device", "tpu"), ("random_state", "x"),
])
def test_bad_parameters_are_rejected_with_the_name(param: str, value: object) -> None:
    X, _ = planted_blocks()
    with pytest.raises(ValueError, match=param if param != "device" else "device"):
        ALS(**{param: value}).fit(X)


def test_negative_weights_are_rejected_with_the_row() -> None:
    X = Interactions.from_arrays([1, 2], ["a", "b"], weight=[1.0, -3.0])
    with pytest.raises(DataValidationError, match="row 1"):
        ALS(weighting="sum").fit(X)


def test_recommend_in_parallel_batches_equals_one_thread() -> None:
    X, held_out = planted_blocks()
    model = ALS(**PLANTED).fit(X)
    users = list(held_out) + ["newcomer"]
    history = {"newcomer": ["g1i0", "g1i1"]}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.recommend(users, k=4, exclude_seen=True, history=history, batch_size=5)
        torch.set_num_threads(2)
        two = model.recommend(users, k=4, exclude_seen=True, history=history, batch_size=5)
        assert torch.get_num_threads() == 2, "recommend must restore torch's thread setting"
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(one.items, two.items)
    np.testing.assert_allclose(one.scores, two.scores, rtol=1e-6)
