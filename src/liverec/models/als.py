"""Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren, Volinsky 2008)."""

from __future__ import annotations

import logging
import numbers
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from typing_extensions import Self

from .._params import Device, Interval, Options
from .._runtime import resolve_device, resolve_threads, torch_threads
from .._utils import Progress
from .._utils import plain as _plain
from ..base import BaseRecommender, History, _binary_csr
from ..data import Interactions, LiveSchedule
from ..data._columns import check_nonnegative_weights
from ..exceptions import DataTypeError, PersistenceError
from ..explain import Explanation, Reason, sort_reasons
from ..persistence import expect_array, expect_attribute, expect_csr, register

__all__ = ["ALS"]

_log = logging.getLogger(__name__)

_SOLVERS = ("cg", "cholesky")
_WEIGHTINGS = ("count", "binary", "sum")


@register
class ALS(BaseRecommender):
    """Implicit-feedback ALS: weighted matrix factorisation of what users did.

    Every user ``u`` and item ``i`` get a vector (``x_u``, ``y_i``) of ``n_factors`` numbers.
    The model minimises, over *all* user-item pairs,

    ``sum_ui c_ui (p_ui - x_u . y_i)^2 + regularization (sum_u |x_u|^2 + sum_i |y_i|^2)``

    where ``p_ui`` is 1 if ``u`` interacted with ``i`` and 0 otherwise, and the confidence is
    ``c_ui = 1 + alpha * r_ui`` with ``r_ui`` the amount of interaction (see ``weighting``).
    Pairs without an event count with confidence 1, so the model learns from what users did
    *not* do too, without sampling negatives.

    Training alternates between solving all user vectors with the item vectors fixed and
    the other way round. ``solver="cg"`` (default) takes ``cg_steps`` conjugate-gradient
    steps per sweep, warm-started from the previous vectors, as ``implicit`` does;
    ``solver="cholesky"`` solves every least-squares problem exactly (slower; for checking).
    Both are vectorised over all users (items) at once: a few batched torch kernels over the
    sparse matrix per step, never a Python loop per user. With ``threads > 1`` the users
    (items) are cut into chunks of equal work that run on a pool of threads, each running
    torch single-threaded: one synchronisation per sweep.

    A user not seen in ``fit`` is scored from ``recommend(..., history=...)`` by solving
    their least-squares problem exactly against the fixed item vectors (fold-in; the model
    does not change). [`partial_fit`][liverec.models.als.ALS.partial_fit] makes new events part of the model.

    Args:
        n_factors: Length of the user and item vectors.
        n_epochs: Number of alternating sweeps (users, then items).
        regularization: L2 penalty on the vectors.
        alpha: Confidence slope: an event is worth ``1 + alpha * r`` against 1 for a
            missing pair.
        solver: ``"cg"`` (conjugate gradient) or ``"cholesky"`` (exact).
        cg_steps: Conjugate-gradient steps per sweep (``solver="cg"``).
        weighting: How ``r_ui`` is built from the events: ``"count"`` (number of events),
            ``"binary"`` (1 if any) or ``"sum"`` (sum of the ``weight`` column, e.g. watch
            seconds; 1 per event without one). Weights must not be negative.
        random_state: Seed of the initial vectors (``None``: a fresh random seed).
        threads: CPU threads used by ``fit`` and ``partial_fit`` (``None``: all usable
            cores). torch's own thread setting is restored afterwards.
        device: ``"cpu"``, ``"cuda"`` (falls back to the CPU with a warning when no GPU is
            present) or ``"auto"`` (CUDA when available). Fitted vectors are kept on the CPU.
        verbose: Show a progress bar over epochs (tqdm when installed, else INFO records of
            the ``liverec.models.als`` logger).

    Fitted attributes:
        user_factors_: ``(n_users, n_factors)`` float32.
        item_factors_: ``(n_items, n_factors)`` float32.
        user_items_: The ``r_ui`` matrix (CSR, users x items) the vectors were fitted to;
            kept for [`partial_fit`][liverec.models.als.ALS.partial_fit].

    Examples:
        >>> from liverec.data import Interactions
        >>> X = Interactions.from_arrays(
        ...     user=["ann", "ann", "bob", "bob", "cat", "cat"],
        ...     item=["tea", "cake", "tea", "cake", "beer", "chips"])
        >>> model = ALS(n_factors=4, n_epochs=10, alpha=10.0, regularization=0.1,
        ...             random_state=0).fit(X)
        >>> sorted(model.recommend("cat", k=2)[0])
        ['beer', 'chips']
        >>> model.recommend("dan", k=1, history=["tea"], exclude_seen=True).items.tolist()
        [['cake']]
        >>> model.similar_items("tea", k=1).items.tolist()
        [['cake']]
    """

    _fresh_scores = True  # _score_known / _score_history return new float32 tensors

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "solver": [Options(_SOLVERS)],
        "cg_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "weighting": [Options(_WEIGHTINGS)],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "device": [Device(("cpu", "cuda"))],
        "verbose": [bool],
    }

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 15,
        regularization: float = 1.0,
        alpha: float = 1.0,
        solver: str = "cg",
        cg_steps: int = 3,
        weighting: str = "count",
        random_state: int | None = None,
        threads: int | None = None,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.regularization = regularization
        self.alpha = alpha
        self.solver = solver
        self.cg_steps = cg_steps
        self.weighting = weighting
        self.random_state = random_state
        self.threads = threads
        self.device = device
        self.verbose = verbose

    def _amounts(self, interactions: Interactions) -> sp.csr_matrix:
        """The ``r_ui`` matrix of ``interactions`` (float32 CSR, sorted indices)."""
        if self.weighting == "sum":
            check_nonnegative_weights(interactions.weight, "ALS", "confidence 1 + alpha * r")
        R = interactions.to_csr(self.weighting)
        R.eliminate_zeros()
        return R.astype(np.float32, copy=False)

    # Fitting -------------------------------------------------------------------------------
    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any,
             text: Any) -> None:
        import torch

        from ._linalg import (
            CsrTensor,
            RowRunner,
            als_half_sweep,
        )

        R = self._amounts(interactions)
        device = resolve_device(self.device)
        n_users, n_items = R.shape
        k = int(self.n_factors)
        seed = int(self.random_state) if self.random_state is not None else \
            int(np.random.default_rng().integers(2**62))
        gen = torch.Generator().manual_seed(int(seed))
        # small random start (the first user sweep solves from it), as implicit does
        X = (torch.randn((n_users, k), generator=gen) * 0.01).to(device)
        Y = (torch.randn((n_items, k), generator=gen) * 0.01).to(device)
        reg, alpha = float(self.regularization), float(self.alpha)
        with torch_threads(1), RowRunner(resolve_threads(self.threads), device) as runner:
            # C - I = alpha * R for both half-sweeps, sharing R's arrays (R is kept as user_items_)
            Cu = CsrTensor.from_scipy(R, device, scale=alpha)
            Ci = CsrTensor.from_scipy(R.T.tocsr(), device, scale=alpha)
            chunks_u, chunks_i = runner.chunks(Cu, Y), runner.chunks(Ci, X)
            bar = Progress(int(self.n_epochs), "ALS", "epoch", bool(self.verbose), _log)
            for _ in range(int(self.n_epochs)):
                als_half_sweep(Cu, X, Y, reg, self.solver, int(self.cg_steps), runner, chunks_u)
                als_half_sweep(Ci, Y, X, reg, self.solver, int(self.cg_steps), runner, chunks_i)
                bar.update(1)
            bar.close()
        self.user_factors_ = X.cpu().numpy()
        self.item_factors_ = Y.cpu().numpy()
        self.user_items_ = R
        if self.weighting != "sum":  # every (user, item) pair with an event is in R: its pattern is seen_
            self.seen_ = sp.csr_matrix((np.ones(R.nnz, dtype=bool), R.indices, R.indptr), shape=R.shape)

    def partial_fit(self, interactions: Interactions) -> Self:
        """Update the model with new events, without refitting from scratch.

        Semantics (one least-squares step per affected vector, all other vectors fixed):

        1. The new events are added to the stored ``r_ui`` matrix (``user_items_``); new
           users and new items are appended to the id maps.
        2. Every user with a new event (known or new) gets the exact solution of their
           least-squares problem against the current item vectors (new items count as
           zero vectors for now).
        3. Every new item gets the exact solution against the (updated) user vectors.
        4. Users with events on new items are solved once more, now that those items have
           vectors.

        Item vectors of known items and vectors of users without new events do not move;
        call [`fit`][liverec.models.als.ALS.fit] from time to time to re-balance everything. Calling
        ``partial_fit`` on an unfitted model is the same as [`fit`][liverec.models.als.ALS.fit].

        Args:
            interactions: The new events (external ids; any users and items).

        Returns:
            ``self``.

        Examples:
            >>> from liverec.data import Interactions
            >>> X = Interactions.from_arrays(user=[1, 1, 2, 2, 3], item=["a", "b", "a", "b", "c"])
            >>> model = ALS(n_factors=2, n_epochs=5, random_state=0).fit(X)
            >>> new = Interactions.from_arrays(user=[4, 4], item=["c", "d"])
            >>> model.partial_fit(new).recommend(4, k=2).items.shape
            (1, 2)
            >>> "d" in model.items_
            True
        """
        if not getattr(self, "is_fitted_", False):
            return self.fit(interactions)
        if not isinstance(interactions, Interactions):
            raise DataTypeError(
                f"partial_fit expects liverec.data.Interactions, got {type(interactions).__name__}; "
                "build one with Interactions.from_arrays(user, item, time)."
            )
        if len(interactions) == 0:
            return self
        self._validate_params()
        import torch

        from ._linalg import (
            CsrTensor,
            RowRunner,
            cholesky_solve,
            gram_with_reg,
        )

        new = interactions.with_maps(self.users_, self.items_)
        n_users, n_items = len(new.users), len(new.items)
        old_users, old_items = self.user_factors_.shape[0], self.item_factors_.shape[0]
        delta = self._amounts(new)
        R = self.user_items_.copy()
        R.resize((n_users, n_items))
        R = (R + delta).tocsr() if self.weighting != "binary" else R.maximum(delta).tocsr()
        R.sort_indices()
        R = R.astype(np.float32)
        k = self.user_factors_.shape[1]
        X = np.zeros((n_users, k), dtype=np.float32)
        X[:old_users] = self.user_factors_
        Y = np.zeros((n_items, k), dtype=np.float32)
        Y[:old_items] = self.item_factors_
        device = resolve_device(self.device)
        reg, alpha = float(self.regularization), float(self.alpha)
        users = np.unique(new.user_codes)
        new_items = np.arange(old_items, n_items)
        with torch_threads(1), RowRunner(resolve_threads(self.threads), device) as runner:
            Xt, Yt = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)

            def solve(rows: np.ndarray, M: sp.csr_matrix, target: torch.Tensor, fixed: torch.Tensor) -> None:
                sub = CsrTensor.from_scipy(M[rows], device, scale=alpha)
                gram = gram_with_reg(fixed, reg)
                out = torch.empty((len(rows), k), dtype=torch.float32, device=device)

                def work(a: int, b: int) -> None:
                    cholesky_solve(sub.rows(a, b), fixed, reg, gram, out=out[a:b])

                runner.map(work, runner.chunks(sub, fixed))
                target[torch.as_tensor(rows, device=device)] = out

            solve(users, R, Xt, Yt)
            if len(new_items):
                Rt = R.T.tocsr()
                solve(new_items, Rt, Yt, Xt)
                touched = np.unique(new.user_codes[new.item_codes >= old_items])
                solve(touched, R, Xt, Yt)
            X, Y = Xt.cpu().numpy(), Yt.cpu().numpy()
        self.users_, self.items_ = new.users, new.items
        self.user_factors_, self.item_factors_, self.user_items_ = X, Y, R
        rows, cols = R.nonzero()
        self.seen_ = _binary_csr(rows, cols, R.shape)
        return self

    # Scoring -------------------------------------------------------------------------------
    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        import torch

        U = torch.from_numpy(self.user_factors_[np.asarray(user_codes, dtype=np.int64)])
        return U @ torch.from_numpy(self.item_factors_).T

    def _history_amounts(self, histories: list[History]) -> sp.csr_matrix:
        lengths = np.array([len(h.items) for h in histories], dtype=np.int64)
        rows = np.repeat(np.arange(len(histories)), lengths)
        cols = np.concatenate([h.items for h in histories]).astype(np.int64) if lengths.sum() else \
            np.zeros(0, dtype=np.int64)
        if self.weighting == "sum":
            vals = np.concatenate([np.ones(len(h.items)) if h.weight is None else np.asarray(h.weight, float)
                                   for h in histories]) if lengths.sum() else np.zeros(0)
            vals = np.where(np.isfinite(vals), np.maximum(vals, 0.0), 0.0)
        else:
            vals = np.ones(len(rows))
        R = sp.csr_matrix((vals, (rows, cols)), shape=(len(histories), len(self.items_)), dtype=np.float64)
        R.sum_duplicates()
        if self.weighting == "binary":
            R.data[:] = 1.0
        R.eliminate_zeros()
        return R.astype(np.float32)

    def _fold_in(self, R: sp.csr_matrix) -> np.ndarray:
        """User vectors for rows of ``r_ui`` amounts, solved exactly against the item vectors."""
        import torch

        from ._linalg import CsrTensor, cholesky_solve

        Y = torch.from_numpy(self.item_factors_)
        X = cholesky_solve(CsrTensor.from_scipy(R, torch.device("cpu"), scale=float(self.alpha)), Y,
                           float(self.regularization))
        return X.numpy()

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        import torch

        U = torch.from_numpy(self._fold_in(self._history_amounts(histories)))
        return U @ torch.from_numpy(self.item_factors_).T

    def _predict_pairs(self, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        out = np.einsum("ij,ij->i", self.user_factors_[user_codes], self.item_factors_[item_codes])
        return out.astype(np.float32)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    # Privacy and explanations ------------------------------------------------------------------
    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """Exact item side: the users' rows go and every item vector is re-solved exactly.

        The users' vectors and rows of ``user_items_`` are removed; then each item vector is
        the exact least-squares solution against the remaining user vectors (the ALS item
        step), so no item vector depends on a forgotten user's events any more. What remains
        is indirect: the remaining users' vectors were fitted while the forgotten users'
        events shaped the item vectors; a refit removes that too.
        """
        import torch

        from ._linalg import CsrTensor, cholesky_solve

        self.user_factors_ = np.ascontiguousarray(self.user_factors_[keep])
        R = self.user_items_[keep].tocsr()
        R.sort_indices()
        self.user_items_ = R
        cpu = torch.device("cpu")
        with torch_threads(1):
            Y = cholesky_solve(CsrTensor.from_scipy((R * float(self.alpha)).T.tocsr(), cpu),
                               torch.from_numpy(self.user_factors_), float(self.regularization))
        self.item_factors_ = Y.numpy().astype(np.float32)

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        """Exact contribution of every history item, as ``implicit``'s ``explain`` defines it.

        With ``W = YᵀY + reg I + Yᵀ(C_u - I)Y`` the user's exact vector is
        ``x_u = W⁻¹ Σ_j c_uj y_j`` over the history items ``j``, so the score of item ``i``
        is ``Σ_j c_uj yᵢᵀ W⁻¹ y_j``: one term per history item. The terms sum to the score
        of the exactly solved user vector (``explained_score``, what fold-in of the user's
        history scores); ``score`` is the stored vector's, which was solved against the item
        vectors of the previous sweep, so the two agree as training converges.
        """
        Y = self.item_factors_.astype(np.float64)
        row = self.user_items_[user_code]
        hist, conf = row.indices, 1.0 + float(self.alpha) * row.data.astype(np.float64)
        Yh = Y[hist]
        W = Y.T @ Y + float(self.regularization) * np.eye(Y.shape[1]) + Yh.T @ ((conf - 1.0)[:, None] * Yh)
        # contributions[i, j] = c_j * y_i . W^-1 y_j
        contrib = (Y[item_codes] @ np.linalg.solve(W, Yh.T)) * conf[None, :]
        model_scores = self.user_factors_[user_code].astype(np.float64) @ Y[item_codes].T
        user, ids = self.users_.ids[user_code], self.items_.ids
        out = []
        for r, c in enumerate(item_codes):
            reasons = sort_reasons([
                Reason("history_item", ids[j], float(contrib[r, n]), value=float(row.data[n]),
                       text=f"{_plain(ids[j])} in your history (amount {float(row.data[n]):.3g}) adds "
                            f"{float(contrib[r, n]):+.3g}")
                for n, j in enumerate(hist)])
            out.append(Explanation(user, ids[c], float(model_scores[r]), reasons,
                                   method="exact decomposition", baseline=0.0, additive=True))
        return out

    # Persistence ---------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        R = self.user_items_
        return {"user_items_shape": list(R.shape)}, {
            "user_factors": self.user_factors_, "item_factors": self.item_factors_,
            "user_items_indptr": R.indptr.astype(np.int64), "user_items_indices": R.indices.astype(np.int64),
            "user_items_data": R.data.astype(np.float32),
        }

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        n_u, n_i, k = len(self.users_), len(self.items_), self.n_factors
        self.user_factors_ = expect_array(arrays, "user_factors", "f", (n_u, k), finite=True, dtype=np.float32)
        self.item_factors_ = expect_array(arrays, "item_factors", "f", (n_i, k), finite=True, dtype=np.float32)
        shape = expect_attribute(attributes, "user_items_shape", list)
        if shape != [n_u, n_i]:
            raise PersistenceError(f"config.json: attributes.user_items_shape: expected {[n_u, n_i]}, got {shape!r:.80}")
        indptr, indices = expect_csr(arrays, "user_items_indptr", "user_items_indices", (n_u, n_i))
        data = expect_array(arrays, "user_items_data", "f", (len(indices),), finite=True, dtype=np.float32)
        if (data < 0).any():
            raise PersistenceError("arrays.safetensors: tensor 'user_items_data': confidence weights must be >= 0")
        self.user_items_ = sp.csr_matrix((data, indices, indptr), shape=(n_u, n_i))
