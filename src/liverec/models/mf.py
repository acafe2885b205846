"""Explicit-rating matrix factorisation: the textbook biased model ``r ≈ μ + b_u + b_i + p_u·q_i``.

Both solvers minimise the same objective over the observed ratings ``R``::

    sum_{(u,i) in R} (r_ui - μ - b_u - b_i - p_u·q_i)^2
        + sum_{(u,i) in R} [bias_regularization (b_u^2 + b_i^2) + regularization (|p_u|^2 + |q_i|^2)]

``μ`` is the mean training rating (fixed). The penalty is counted once per rating, so a user
with many ratings is held back as much, relative to the evidence, as one with few (the
"weighted-λ" form of Zhou et al., 2008; it is also what per-sample SGD minimises).

* ``solver="als"`` alternates exact ridge solves: with the item side fixed, every user's
  ``[b_u, p_u]`` solves a small ``(n_factors + 1)`` linear system, and the other way round.
  All systems of a half-sweep are built with one sparse-dense product and solved by one
  batched Cholesky factorisation (torch), never a Python loop per user.
* ``solver="sgd"`` is minibatch stochastic gradient descent (Funk's method), written by hand
  in torch: gather the rows of a batch, compute the closed-form gradients, ``scatter_add_``
  them back. Gradients within a batch are summed, so ``learning_rate`` is the per-rating step.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from .._params import Device, Interval, Options
from .._runtime import resolve_device, torch_threads
from .._utils import Progress
from ..base import BaseRecommender, History
from ..data import Interactions, LiveSchedule
from ..exceptions import DataValidationError, PersistenceError, UnknownItemError
from ..explain import Explanation, factor_explanations
from ..persistence import expect_array, expect_attribute, register

_log = logging.getLogger(__name__)

__all__ = ["MatrixFactorization"]

_SOLVERS = ("als", "sgd")
#: Floats of the padded ``(rows, longest row, n_factors + 1)`` block the ALS solver gathers at once.
_GRAM_BUDGET = 1 << 23


class _Ratings:
    """Deduplicated ``(user, item, rating)`` triples plus CSR views by user and by item."""

    def __init__(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, shape: tuple[int, int]) -> None:
        self.users, self.items, self.ratings, self.shape = users, items, ratings, shape
        m = sp.csr_matrix((np.arange(len(users), dtype=np.float64) + 1, (users, items)), shape=shape)
        m.sort_indices()
        self.by_user = (m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.int64) - 1)
        t = m.T.tocsr()
        t.sort_indices()
        self.by_item = (t.indptr.astype(np.int64), t.indices.astype(np.int64), t.data.astype(np.int64) - 1)


def _last_ratings(X: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rating per (user, item): the latest one (ratings that were revised)."""
    if X.weight is None:
        raise DataValidationError(
            "MatrixFactorization learns from explicit ratings, read from the weight column, but "
            "these interactions have none; build them with Interactions.from_arrays(user, item, "
            "time, weight=ratings) (or from_frame(..., weight='rating')). For clicks or views "
            "without ratings use ALS or BPR."
        )
    m = X.to_csr("last", dtype=np.float64).tocoo()
    return m.row.astype(np.int64), m.col.astype(np.int64), m.data.astype(np.float64)


@register
class MatrixFactorization(BaseRecommender):
    """Biased matrix factorisation for explicit ratings (stars, scores).

    Predicts ``r_ui = μ + b_u + b_i + p_u·q_i``: the global mean rating ``μ``, how generous the
    user is (``b_u``), how well liked the item is (``b_i``) and the match of their taste
    vectors. Ratings are read from the ``weight`` column of the interactions; when a user rated
    an item several times the latest rating counts.

    ``predict`` returns ratings clipped to the range seen in ``fit``; ``recommend`` ranks by the
    predicted rating (its scores are the unclipped predictions, so items predicted above the
    top of the scale keep their order).

    Fold-in (``recommend(..., history=...)``): a new user's ``b_u`` and ``p_u`` are solved
    exactly (the ALS user step) from their ratings, with the items fixed. Give the ratings as
    an ``Interactions`` with a weight column. A history without ratings (a list of item ids, a
    dict ``user -> items``, or interactions without weights) is read as "the user liked these":
    every listed item counts as rated at the top of the rating range seen in ``fit``.

    Args:
        n_factors: Dimension of ``p_u`` and ``q_i``.
        n_epochs: ALS sweeps (one user and one item half-step each) or SGD passes.
        solver: ``"als"`` (exact alternating solves; no learning rate to tune) or ``"sgd"``.
        regularization: L2 penalty per rating on the vectors ``p_u``, ``q_i`` (see the module
            docs).
        bias_regularization: L2 penalty per rating on the biases ``b_u``, ``b_i``; ``None``
            uses ``regularization``. Biases are two numbers backed by every rating of a user or
            item, so they usually need less shrinkage than the vectors.
        learning_rate: SGD step per rating (``solver="sgd"`` only).
        batch_size: Ratings per SGD step (``solver="sgd"`` only).
        validation: Early stopping. ``None`` trains all ``n_epochs``. A float in (0, 1) holds
            out that fraction of the ratings (chosen with ``random_state``; they are not used
            for training); an ``Interactions`` with ratings is used as is (its unknown users
            and items are skipped). After each epoch the validation RMSE is computed; training
            stops after ``patience`` epochs without improvement and the best epoch's
            parameters are kept.
        patience: Epochs without improvement before stopping.
        init_std: Standard deviation of the random initial factors.
        random_state: Seed for initialisation, the validation hold-out and SGD shuffling.
        threads: CPU threads for torch during ``fit`` (``None``: all cores).
        device: ``"cpu"``, ``"cuda"`` (the CPU, with a warning, when no GPU is present) or
            ``"auto"``.
        verbose: Show a progress bar over epochs (tqdm when installed, else INFO records
            of the ``liverec.models.mf`` logger); each epoch's RMSE is logged at DEBUG.

    Attributes:
        global_mean_: ``μ``.
        user_bias_, item_bias_: ``b_u`` and ``b_i``.
        user_factors_, item_factors_: ``p_u`` and ``q_i`` as rows.
        rating_range_: ``(min, max)`` of the training ratings; predictions are clipped to it.
        train_rmse_: RMSE on the training ratings after each epoch.
        validation_rmse_: RMSE on the validation ratings after each epoch (empty without
            validation).
        best_epoch_: The epoch (1-based) whose parameters were kept.

    Examples:
        >>> from liverec.data import Interactions
        >>> X = Interactions.from_arrays(user=["A", "A", "B", "B"], item=[1, 2, 1, 2],
        ...                              weight=[4, 3, 5, 4])
        >>> mf = MatrixFactorization(n_factors=2, regularization=0.01, random_state=0).fit(X)
        >>> round(float(mf.global_mean_), 2)
        4.0
        >>> round(float(mf.predict("A", 2)[0]), 1)
        3.0
    """

    _fresh_scores = True  # scores come from a new addmm every call

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "solver": [Options(_SOLVERS)],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "bias_regularization": [Interval(numbers.Real, 0, None, closed="left"), None],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        # a fraction of the ratings to hold out, or the validation ratings themselves
        "validation": [Interval(numbers.Real, 0, 1, closed="neither"), Interactions, None],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "init_std": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "device": [Device(("cpu", "cuda"))],
        "verbose": [bool],
    }

    def __init__(
        self,
        n_factors: int = 32,
        n_epochs: int = 20,
        solver: str = "als",
        regularization: float = 0.05,
        bias_regularization: float | None = None,
        learning_rate: float = 0.01,
        batch_size: int = 256,
        validation: float | Interactions | None = None,
        patience: int = 3,
        init_std: float = 0.1,
        random_state: int | None = None,
        threads: int | None = None,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.solver = solver
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.validation = validation
        self.patience = patience
        self.init_std = init_std
        self.random_state = random_state
        self.threads = threads
        self.device = device
        self.verbose = verbose

    # Fitting ------------------------------------------------------------------------------------
    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any, text: Any) -> None:
        users, items, ratings = _last_ratings(interactions)
        rng = np.random.default_rng(self.random_state)
        val = None
        if isinstance(self.validation, Interactions):
            v = self.validation.with_maps(interactions.users, interactions.items)
            vu, vi, vr = _last_ratings(v)
            keep = (vu < interactions.n_users) & (vi < interactions.n_items)
            if not keep.any():
                raise DataValidationError(
                    "validation has no rating of a user and an item seen in the training data; "
                    "pass ratings of known users and items, or a hold-out fraction such as 0.1."
                )
            val = (vu[keep], vi[keep], vr[keep])
        elif self.validation is not None:
            n_val = int(round(float(self.validation) * len(ratings)))
            if n_val < 1 or n_val >= len(ratings):
                raise DataValidationError(
                    f"validation={self.validation} of {len(ratings)} ratings leaves no validation or no "
                    "training ratings; use a larger data set or validation=None."
                )
            perm = rng.permutation(len(ratings))
            hold, train = perm[:n_val], np.sort(perm[n_val:])
            val = (users[hold], items[hold], ratings[hold])
            users, items, ratings = users[train], items[train], ratings[train]
        self.global_mean_ = float(ratings.mean())
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        data = _Ratings(users, items, ratings, (interactions.n_users, interactions.n_items))
        dev = resolve_device(self.device)
        with torch_threads(self.threads):
            self._train(data, val, rng, dev)

    def _train(self, data: _Ratings, val: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
               rng: np.random.Generator, dev: torch.device) -> None:
        n_users, n_items = data.shape
        d = int(self.n_factors)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        std = float(self.init_std)
        # Row layout: column 0 is the bias, columns 1.. the factors.
        U = torch.zeros(n_users, d + 1, dtype=torch.float64)
        V = torch.zeros(n_items, d + 1, dtype=torch.float64)
        U[:, 1:] = torch.randn(n_users, d, generator=gen, dtype=torch.float64) * std
        V[:, 1:] = torch.randn(n_items, d, generator=gen, dtype=torch.float64) * std
        U, V = U.to(dev), V.to(dev)
        mu = self.global_mean_
        t_users = torch.as_tensor(data.users, device=dev)
        t_items = torch.as_tensor(data.items, device=dev)
        t_ratings = torch.as_tensor(data.ratings, device=dev)
        if val is not None:
            v_users, v_items = torch.as_tensor(val[0], device=dev), torch.as_tensor(val[1], device=dev)
            v_ratings = torch.as_tensor(val[2], device=dev)
        lo, hi = self.rating_range_
        self.train_rmse_: list[float] = []
        self.validation_rmse_: list[float] = []
        best = (math.inf, 0, U.clone(), V.clone())
        penalty = torch.as_tensor(self._penalty(d), device=dev)
        solver = _ALSSolver(data, mu, penalty, dev) if self.solver == "als" else None
        bar = Progress(int(self.n_epochs), "MatrixFactorization", "epoch", bool(self.verbose), _log)
        for epoch in range(int(self.n_epochs)):
            if solver is not None:
                solver.sweep(U, V)
            else:
                _sgd_epoch(U, V, t_users, t_items, t_ratings, mu, float(self.learning_rate),
                           penalty, int(self.batch_size), gen)
            if not bool(torch.isfinite(U).all() and torch.isfinite(V).all()):
                bar.close()
                raise FloatingPointError(
                    f"MatrixFactorization diverged at epoch {epoch + 1} (non-finite factors); lower "
                    "learning_rate or raise regularization."
                )
            self.train_rmse_.append(_rmse(U, V, t_users, t_items, t_ratings, mu, None))
            if val is None:
                bar.update(1, train_rmse=self.train_rmse_[-1])
                continue
            score = _rmse(U, V, v_users, v_items, v_ratings, mu, (lo, hi))
            self.validation_rmse_.append(score)
            bar.update(1, train_rmse=self.train_rmse_[-1], val_rmse=score)
            if score < best[0] - 1e-9:
                best = (score, epoch + 1, U.clone(), V.clone())
            elif epoch + 1 - best[1] >= int(self.patience):
                break
        bar.close()
        if val is not None:
            _, self.best_epoch_, U, V = best
        else:
            self.best_epoch_ = len(self.train_rmse_)
        self.user_bias_ = U[:, 0].float().cpu().numpy()
        self.item_bias_ = V[:, 0].float().cpu().numpy()
        self.user_factors_ = U[:, 1:].float().cpu().numpy().copy()
        self.item_factors_ = V[:, 1:].float().cpu().numpy().copy()

    # Scoring ------------------------------------------------------------------------------------
    def _raw(self, P: np.ndarray, bu: np.ndarray) -> torch.Tensor:
        base = torch.as_tensor(bu, dtype=torch.float32).unsqueeze(1) + torch.as_tensor(self.item_bias_).unsqueeze(0)
        return torch.addmm(base + self.global_mean_, torch.as_tensor(P, dtype=torch.float32),
                           torch.as_tensor(self.item_factors_).T)

    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        return self._raw(self.user_factors_[user_codes], self.user_bias_[user_codes])

    def _predict_pairs(self, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        raw = (self.global_mean_ + self.user_bias_[user_codes] + self.item_bias_[item_codes]
               + np.einsum("ij,ij->i", self.user_factors_[user_codes], self.item_factors_[item_codes]))
        lo, hi = self.rating_range_
        return np.clip(raw, lo, hi).astype(np.float32)

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        P = np.zeros((len(histories), self.item_factors_.shape[1]), dtype=np.float64)
        bu = np.zeros(len(histories), dtype=np.float64)
        for j, h in enumerate(histories):
            bu[j], P[j] = self._fold_in_codes(h.items, h.weight)
        return self._raw(P.astype(np.float32), bu.astype(np.float32))

    def fold_in(self, items: Any, ratings: Any = None) -> tuple[float, np.ndarray]:
        """The bias and vector of a new user from their ratings, items fixed (one ALS user step).

        This is what ``recommend(..., history=...)`` uses; no refit, the model is unchanged.

        Args:
            items: External ids of the rated items (all known to the model).
            ratings: Their ratings, same length; ``None`` reads every item as rated at the top
                of the training rating range. When an item appears twice the last one counts.

        Returns:
            ``(b_u, p_u)``.

        Raises:
            UnknownItemError: for an item not seen in fit.

        Examples:
            >>> from liverec.data import Interactions
            >>> X = Interactions.from_arrays(["A", "A", "B"], [1, 2, 1], weight=[4, 3, 5])
            >>> mf = MatrixFactorization(n_factors=2, random_state=0).fit(X)
            >>> b_u, p_u = mf.fold_in([1, 2], [5, 4])
            >>> p_u.shape
            (2,)
        """
        self._check_fitted()
        ids = np.atleast_1d(np.asarray(items))
        codes = self.items_.codes(ids, missing="ignore") if len(ids) else np.zeros(0, dtype=np.int64)
        if (codes < 0).any():
            raise UnknownItemError(
                f"unknown item {ids[int(np.flatnonzero(codes < 0)[0])]!r}: fold-in needs items the model was fitted on."
            )
        r = None if ratings is None else np.atleast_1d(np.asarray(ratings, dtype=np.float64))
        if r is not None and len(r) != len(codes):
            raise DataValidationError(f"fold_in got {len(codes)} items and {len(r)} ratings; pass one rating per item.")
        return self._fold_in_codes(codes, r)

    def _fold_in_codes(self, codes: np.ndarray, ratings: np.ndarray | None) -> tuple[float, np.ndarray]:
        codes = np.asarray(codes, dtype=np.int64)
        if len(codes) == 0:
            return 0.0, np.zeros(self.item_factors_.shape[1])
        r = np.full(len(codes), self.rating_range_[1]) if ratings is None else np.asarray(ratings, dtype=np.float64)
        _, last = np.unique(codes[::-1], return_index=True)
        keep = len(codes) - 1 - last
        codes, r = codes[keep], r[keep]
        Z = np.hstack([np.ones((len(codes), 1)), self.item_factors_[codes].astype(np.float64)])
        y = r - self.global_mean_ - self.item_bias_[codes]
        A = Z.T @ Z + len(codes) * np.diag(self._penalty(Z.shape[1] - 1)) + 1e-9 * np.eye(Z.shape[1])
        x = np.linalg.solve(A, Z.T @ y)
        return float(x[0]), x[1:]

    def _penalty(self, n_factors: int) -> np.ndarray:
        """Per-rating L2 weight of ``[bias, factor_1, ..., factor_k]``."""
        bias = self.regularization if self.bias_regularization is None else self.bias_regularization
        return np.array([float(bias)] + [float(self.regularization)] * n_factors, dtype=np.float64)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    # Privacy and explanations ------------------------------------------------------------------
    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """The users' biases and vectors go; ``μ``, item biases and item vectors remain as fitted.

        Not exact: the users' ratings shaped the shared parameters (with ``solver="als"``,
        every item vector solved against their vectors); ``benchmarks/trust.py`` measures
        what remains. A refit removes it.
        """
        self.user_factors_ = np.ascontiguousarray(self.user_factors_[keep])
        self.user_bias_ = np.ascontiguousarray(self.user_bias_[keep])

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        """Exact decomposition ``μ + b_u + b_i + p_u . q_i`` (unclipped), plus similar history items."""
        return factor_explanations(self, user_code, item_codes, baseline=float(self.global_mean_),
                                   user_bias=float(self.user_bias_[user_code]))

    # Persistence --------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        attrs = {"global_mean": self.global_mean_, "rating_range": list(self.rating_range_),
                 "train_rmse": self.train_rmse_, "validation_rmse": self.validation_rmse_,
                 "best_epoch": int(self.best_epoch_)}
        return attrs, {"user_bias": self.user_bias_, "item_bias": self.item_bias_,
                       "user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.global_mean_ = expect_attribute(attributes, "global_mean", float)
        bounds = expect_attribute(attributes, "rating_range", list)
        if not (len(bounds) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                         and np.isfinite(b) for b in bounds) and bounds[0] <= bounds[1]):
            raise PersistenceError(f"config.json: attributes.rating_range: expected [min, max] finite numbers, "
                                   f"got {bounds!r:.80}")
        self.rating_range_ = (float(bounds[0]), float(bounds[1]))
        curves = {}
        for name in ("train_rmse", "validation_rmse"):
            curve = expect_attribute(attributes, name, list, default=[])
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in curve):
                raise PersistenceError(f"config.json: attributes.{name}: expected a list of numbers")
            curves[name] = [float(x) for x in curve]
        self.train_rmse_, self.validation_rmse_ = curves["train_rmse"], curves["validation_rmse"]
        self.best_epoch_ = expect_attribute(attributes, "best_epoch", int, default=len(self.train_rmse_))
        n_u, n_i, k = len(self.users_), len(self.items_), self.n_factors
        self.user_bias_ = expect_array(arrays, "user_bias", "f", (n_u,), finite=True, dtype=np.float32)
        self.item_bias_ = expect_array(arrays, "item_bias", "f", (n_i,), finite=True, dtype=np.float32)
        self.user_factors_ = expect_array(arrays, "user_factors", "f", (n_u, k), finite=True, dtype=np.float32)
        self.item_factors_ = expect_array(arrays, "item_factors", "f", (n_i, k), finite=True, dtype=np.float32)


class _ALSSolver:
    """Exact alternating ridge solves for the biased model, batched over rows.

    Rows are sorted by their number of ratings and cut into blocks; a block gathers the
    design rows of its ratings into a padded ``(rows, longest, k)`` tensor, so the Gram
    matrices and right-hand sides are two batched dense products and the solves one batched
    Cholesky factorisation.
    """

    def __init__(self, data: _Ratings, mu: float, penalty: torch.Tensor, dev: torch.device) -> None:
        self.mu, self.penalty, self.dev, self.k = mu, penalty, dev, len(penalty)
        self.ratings = torch.as_tensor(data.ratings, dtype=torch.float64, device=dev)
        self.sides = [self._plan(*side) for side in (data.by_user, data.by_item)]

    def _plan(self, indptr: np.ndarray, other: np.ndarray, entry: np.ndarray) -> list[tuple[Any, ...]]:
        counts = np.diff(indptr)
        order = np.argsort(counts, kind="stable")
        sorted_counts = counts[order]
        blocks = []
        start = 0
        budget = max(1, _GRAM_BUDGET // self.k)  # padded ratings per block
        while start < len(order):
            stop = start + 1
            # grow the block while the padded size stays within budget
            while stop < len(order) and (stop + 1 - start) * max(int(sorted_counts[stop]), 1) <= budget:
                stop += 1
            rows = order[start:stop]
            longest = max(int(sorted_counts[stop - 1]), 1)
            lens = counts[rows]
            pos = np.arange(longest)[None, :]
            valid = pos < lens[:, None]
            flat = np.where(valid, indptr[rows][:, None] + pos, 0)
            oth = np.where(valid, other[flat], -1)   # -1: padding, points at a zero row
            ent = np.where(valid, entry[flat], 0)
            blocks.append((torch.as_tensor(rows, device=self.dev), torch.as_tensor(oth, device=self.dev),
                           torch.as_tensor(ent, device=self.dev), torch.as_tensor(valid, device=self.dev),
                           torch.as_tensor(np.maximum(lens, 1), dtype=torch.float64, device=self.dev)))
            start = stop
        return blocks

    def sweep(self, U: torch.Tensor, V: torch.Tensor) -> None:
        self._half(self.sides[0], U, V)
        self._half(self.sides[1], V, U)

    def _half(self, blocks: list[tuple[Any, ...]], X: torch.Tensor, Y: torch.Tensor) -> None:
        """Solve every row of ``X`` (bias in column 0) with ``Y`` fixed."""
        k = X.shape[1]
        # Design rows [1, factors of the other side], plus a zero row for padding (index -1).
        Z = torch.cat([torch.ones(Y.shape[0], 1, dtype=Y.dtype, device=Y.device), Y[:, 1:]], dim=1)
        Z = torch.cat([Z, torch.zeros(1, k, dtype=Y.dtype, device=Y.device)])
        other_bias = torch.cat([Y[:, 0], torch.zeros(1, dtype=Y.dtype, device=Y.device)])
        eye = torch.eye(k, dtype=X.dtype, device=X.device)
        pen = torch.diag(self.penalty.to(X.dtype)) + 1e-9 * eye
        for rows, oth, ent, valid, n in blocks:
            Zb = Z[oth]                                            # (rows, longest, k)
            y = (self.ratings[ent] - self.mu - other_bias[oth]) * valid
            A = torch.bmm(Zb.transpose(1, 2), Zb) + n.view(-1, 1, 1) * pen
            rhs = torch.bmm(Zb.transpose(1, 2), y.unsqueeze(2))
            L, info = torch.linalg.cholesky_ex(A)
            if bool((info != 0).any()):
                X[rows] = torch.linalg.lstsq(A, rhs).solution.squeeze(2)
            else:
                X[rows] = torch.cholesky_solve(rhs, L).squeeze(2)


def _sgd_epoch(U: torch.Tensor, V: torch.Tensor, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor,
               mu: float, lr: float, penalty: torch.Tensor, batch_size: int, gen: torch.Generator) -> None:
    """One pass of minibatch SGD over the ratings (summed per-rating gradients)."""
    k = U.shape[1]
    decay = (penalty * lr).to(U.dtype)
    order = torch.randperm(len(ratings), generator=gen).to(U.device)
    for lo in range(0, len(order), batch_size):
        idx = order[lo:lo + batch_size]
        u, i = users[idx], items[idx]
        pu, qi = U.index_select(0, u), V.index_select(0, i)
        err = ratings[idx] - mu - pu[:, 0] - qi[:, 0] - torch.linalg.vecdot(pu[:, 1:], qi[:, 1:])
        e = (err * lr).unsqueeze(1)
        # Column 0 holds the bias: its "partner" in the product is the constant 1.
        gu = torch.cat([e, e * qi[:, 1:]], dim=1).sub_(pu * decay)
        gi = torch.cat([e, e * pu[:, 1:]], dim=1).sub_(qi * decay)
        U.scatter_add_(0, u.unsqueeze(1).expand(-1, k), gu)
        V.scatter_add_(0, i.unsqueeze(1).expand(-1, k), gi)


def _rmse(U: torch.Tensor, V: torch.Tensor, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor,
          mu: float, clip: tuple[float, float] | None) -> float:
    pu, qi = U[users], V[items]
    pred = mu + pu[:, 0] + qi[:, 0] + torch.linalg.vecdot(pu[:, 1:], qi[:, 1:])
    if clip is not None:
        pred = pred.clamp(*clip)
    return float(torch.sqrt(torch.mean((pred - ratings) ** 2)))

