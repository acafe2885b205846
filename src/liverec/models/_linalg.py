"""Batched least-squares solvers for implicit-feedback ALS (private).

Every solver works on all rows (users, or items for the other half-sweep) at once with a few
torch kernels over the CSR structure, never with a Python loop per row:

* the sampled dense-dense product ``s_ui = x_u . y_i`` at the non-zeros
  (``torch.sparse.sampled_addmm``, one pass over the non-zeros),
* the sparse-dense product ``W @ Y`` (``torch`` CSR times dense, MKL/cuSPARSE),
* dense ``(n, k) @ (k, k)`` products with the shared Gram matrix ``YtY``.

For row ``u`` the normal equations of Hu, Koren and Volinsky (2008) are::

    (YtY + reg I + Y_u^T (C_u - I) Y_u) x_u = Y_u^T c_u

with confidences ``c_ui = 1 + alpha r_ui`` on the non-zeros and 1 elsewhere. The matrix
``C - I`` is the CSR matrix ``cm1`` (values ``alpha r_ui``) that all solvers take.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "CsrTensor",
    "RowRunner",
    "als_half_sweep",
    "cg_solve",
    "cholesky_solve",
    "gather_columns",
    "gram_with_reg",
]

#: Non-zeros per chunk of rows on the CPU when the column vectors stay in the cache
#: (temporaries of 4 bytes per non-zero stay small).
_CHUNK_NNZ = 1 << 20

#: Column vectors ``Y`` larger than this do not stay in a core's cache: the CG solver then
#: gathers, per chunk of rows, the ``y_i`` of the chunk's non-zeros into one contiguous block
#: (``gather_columns``) that its CG steps stream over, so each ``y_i`` is fetched from memory
#: once per half-sweep instead of twice per CG step. Below it the copy costs more than it
#: saves (ML-1M, 3.4k x 64 item vectors: 1.9 s -> 3.2 s for 15 sweeps, 1 thread); above it,
#: it pays (50k x 64 item vectors, 10M events: the item half-sweep 4.2 s -> 1.4 s).
_GATHER_ABOVE_BYTES = 1 << 22

#: Bytes of gathered column vectors per chunk of rows (the block stays in L2/L3 across steps).
_CHUNK_BYTES = 1 << 22

#: Floats held in the padded ``(rows, length, k)`` block of the exact solver.
_CHOLESKY_BLOCK = 1 << 22


class CsrTensor:
    """A CSR matrix as torch tensors, plus the torch CSR tensors the kernels need.

    Attributes:
        crow: Row pointers (int32, or int64 for huge matrices), length ``n_rows + 1``.
        col: Column indices (same dtype), sorted within each row.
        values: The stored values (float32), here ``r``; the matrix is ``scale * values``.
        shape: ``(n_rows, n_cols)``.
        scale: The factor the values stand for (``alpha``), applied per chunk by `scaled`,
            so that the full matrix can share ``r`` with the caller instead of copying it.
    """

    def __init__(self, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor,
                 shape: tuple[int, int], scale: float = 1.0) -> None:
        self.crow, self.col, self.values, self.shape, self.scale = crow, col, values, shape, float(scale)

    @classmethod
    def from_scipy(cls, matrix: sp.spmatrix, device: torch.device, scale: float = 1.0) -> CsrTensor:
        """A scipy sparse matrix (indices sorted) on ``device``, standing for ``scale * matrix``.

        Indices are int32 when they fit: the sparse kernels (MKL on the CPU) then use them
        as they are instead of converting them on every call. On the CPU, arrays that
        already have the right dtype are shared with ``matrix``, not copied (a fit holds the
        matrix and its tensors at once), and ``scale`` is applied chunk by chunk (`scaled`);
        the solvers never write to the values.
        """
        matrix = sp.csr_matrix(matrix)
        matrix.sort_indices()
        small = max(matrix.nnz, *matrix.shape) < 2**31 - 1
        itype = np.int32 if small else np.int64
        return cls(torch.as_tensor(np.asarray(matrix.indptr, dtype=itype), device=device),
                   torch.as_tensor(np.asarray(matrix.indices, dtype=itype), device=device),
                   torch.as_tensor(np.asarray(matrix.data, dtype=np.float32), device=device),
                   (int(matrix.shape[0]), int(matrix.shape[1])), scale)

    @property
    def nnz(self) -> int:
        return int(self.col.shape[0])

    def rows(self, start: int, stop: int) -> CsrTensor:
        """Rows ``start:stop`` as a CSR matrix sharing this one's storage."""
        a, b = int(self.crow[start]), int(self.crow[stop])
        return CsrTensor(self.crow[start:stop + 1] - a, self.col[a:b], self.values[a:b],
                         (stop - start, self.shape[1]), self.scale)

    def scaled(self) -> CsrTensor:
        """The same matrix with ``scale`` applied to a copy of the values (itself if 1)."""
        if self.scale == 1.0:
            return self
        return CsrTensor(self.crow, self.col, self.values * self.scale, self.shape)

    def balanced_chunks(self, n_chunks: int, row_cost: float = 64.0) -> list[tuple[int, int]]:
        """Split the rows into ``n_chunks`` contiguous ranges of about equal work.

        The work of a row is its number of non-zeros plus ``row_cost`` (the dense part).
        """
        n = self.shape[0]
        n_chunks = max(1, min(n_chunks, n))
        if n_chunks == 1:
            return [(0, n)]
        crow = self.crow.cpu().numpy()
        work = crow + row_cost * np.arange(n + 1)
        cuts = np.searchsorted(work, np.linspace(0, work[-1], n_chunks + 1)[1:-1])
        bounds = np.unique(np.concatenate([[0], cuts, [n]]))
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

    def with_values(self, values: torch.Tensor) -> torch.Tensor:
        """A torch CSR tensor with this structure and other values (no copy)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            return torch.sparse_csr_tensor(self.crow, self.col, values, size=self.shape,
                                           check_invariants=False)

    def row_lengths(self) -> torch.Tensor:
        return self.crow[1:] - self.crow[:-1]


def gather_columns(cm1: CsrTensor, Y: torch.Tensor) -> tuple[CsrTensor, torch.Tensor]:
    """The same rows against a private copy of the columns they touch.

    Returns ``(local, Z)``: ``Z = Y[cm1.col]`` (one row per non-zero, contiguous) and
    ``local``, the rows with column ``j`` renumbered to ``j``-th non-zero, so that
    ``local`` against ``Z`` is the same linear map as ``cm1`` against ``Y``. The solvers'
    products then read ``Z`` in order, from the cache, instead of gathering rows of ``Y``
    from all over memory on every CG step (which is what bounds a half-sweep whose other
    side, ``Y``, is larger than the cache).
    """
    Z = Y.index_select(0, cm1.col.long())
    local_col = torch.arange(cm1.nnz, dtype=cm1.col.dtype, device=cm1.col.device)
    return CsrTensor(cm1.crow, local_col, cm1.values, (cm1.shape[0], cm1.nnz), cm1.scale), Z


def gram_with_reg(Y: torch.Tensor, regularization: float) -> torch.Tensor:
    """``Y^T Y + reg I`` (float32, ``(k, k)``)."""
    G = Y.T @ Y
    G.diagonal().add_(float(regularization))
    return G


def cg_solve(cm1: CsrTensor, X: torch.Tensor, Y: torch.Tensor, regularization: float,
             cg_steps: int, YtY: torch.Tensor | None = None) -> torch.Tensor:
    """A few conjugate-gradient steps on every row's normal equations, warm-started at ``X``.

    The same iteration as ``implicit``'s ``least_squares_cg`` (the residual is computed from
    the current factors, then ``cg_steps`` CG steps), run for all rows together: per-row
    step sizes are vectors, and the matrix-vector products of all rows are one sampled
    product plus one sparse-dense product.

    Args:
        cm1: ``C - I`` for the rows being solved, ``(n, m)``.
        X: Current factors of the rows, ``(n, k)``; updated in place and returned.
        Y: Fixed factors of the columns, ``(m, k)``.
        regularization: L2 weight ``reg``.
        cg_steps: Number of CG steps (>= 1).
        YtY: ``Y^T Y + reg I`` if already known.

    Returns:
        ``X``.
    """
    if YtY is None:
        YtY = gram_with_reg(Y, regularization)
    cm1 = cm1.scaled()
    pattern = cm1.with_values(cm1.values)
    # residual r = Y^T c_u - A x  with  A x = YtY x + Y^T (C - I) (Y x):
    # one sampled product for s = Y x, then one sparse product with weights c - (c - 1) s
    sampled = torch.sparse.sampled_addmm(pattern, X, Y.T, beta=0.0)
    w = torch.addcmul(cm1.values + 1.0, cm1.values, sampled.values(), value=-1.0)
    R = torch.addmm(cm1.with_values(w) @ Y, X, YtY, alpha=-1.0)
    P = R.clone()
    rs_old = torch.linalg.vecdot(R, R)
    # few kernels per step: every call holds the GIL for its dispatch, which is what the other
    # threads of a half-sweep wait on; the weighted matrix shares the sampled product's values
    s = sampled.values()
    weighted = cm1.with_values(s)
    for step in range(cg_steps):
        # A p = YtY p + Y^T ((C - I) (Y p)); the sampled product reuses its output buffer
        torch.sparse.sampled_addmm(pattern, P, Y.T, beta=0.0, out=sampled)
        s.mul_(cm1.values)
        AP = torch.addmm(weighted @ Y, P, YtY)
        pap = torch.linalg.vecdot(P, AP)
        a = torch.where(pap > 0, rs_old / pap, 0.0).unsqueeze(1)  # 0 where p'Ap is 0 (converged)
        X.addcmul_(a, P)
        if step == cg_steps - 1:
            break
        R.addcmul_(a, AP, value=-1.0)
        rs_new = torch.linalg.vecdot(R, R)
        P.mul_(torch.where(rs_old > 0, rs_new / rs_old, 0.0).unsqueeze(1)).add_(R)
        rs_old = rs_new
    return X


def _solve_spd(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve batched symmetric positive (semi-)definite systems ``A x = b`` (``b``: (B, k))."""
    L, info = torch.linalg.cholesky_ex(A)
    x = torch.cholesky_solve(b.unsqueeze(-1), L).squeeze(-1)
    bad = info != 0
    if bool(bad.any()):  # singular (regularization 0 and too few events): least squares
        x[bad] = torch.linalg.lstsq(A[bad].double(), b[bad].double().unsqueeze(-1)).solution.squeeze(-1).float()
    return x


def cholesky_solve(cm1: CsrTensor, Y: torch.Tensor, regularization: float,
                   YtY: torch.Tensor | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
    """Solve every row's normal equations exactly (batched Cholesky).

    Rows are sorted by their number of non-zeros and solved in blocks; inside a block the
    rows' ``Y_u`` are gathered into a zero-padded ``(rows, length, k)`` tensor, so the Gram
    matrices ``Y_u^T (C_u - I) Y_u`` of the block are one batched matrix product.

    Args:
        cm1: ``C - I`` for the rows, ``(n, m)``.
        Y: Fixed factors of the columns, ``(m, k)``.
        regularization: L2 weight ``reg``.
        YtY: ``Y^T Y + reg I`` if already known.
        out: Where to write the solutions (``(n, k)``); a new tensor if ``None``.

    Returns:
        The solutions, ``(n, k)``.
    """
    n, k = cm1.shape[0], Y.shape[1]
    if YtY is None:
        YtY = gram_with_reg(Y, regularization)
    if out is None:
        out = torch.empty((n, k), dtype=Y.dtype, device=Y.device)
    cm1 = cm1.scaled()
    # right-hand sides: b_u = Y^T c_u = sum_i (1 + cm1_ui) y_i
    B = cm1.with_values(cm1.values + 1.0) @ Y
    lengths = cm1.row_lengths()
    empty = lengths == 0
    if bool(empty.any()):
        out[empty] = 0.0  # no events: the solution of (YtY + reg I) x = 0
    order = torch.argsort(lengths, stable=True)
    order = order[~empty[order]]
    lengths_sorted = lengths[order].cpu().numpy()
    Y_ext = torch.cat([Y, torch.zeros((1, k), dtype=Y.dtype, device=Y.device)])
    pad_col = Y.shape[0]
    sqrt_w = cm1.values.clamp_min(0.0).sqrt()
    start = 0
    n_rows = len(order)
    while start < n_rows:
        stop = _block_end(lengths_sorted, start, max(1, _CHOLESKY_BLOCK // k))
        L = int(lengths_sorted[stop - 1])
        rows = order[start:stop]
        first = cm1.crow[rows].long()
        offs = torch.arange(L, device=Y.device)
        pos = first.unsqueeze(1) + offs.unsqueeze(0)
        valid = offs.unsqueeze(0) < lengths[rows].long().unsqueeze(1)
        pos = torch.where(valid, pos, torch.zeros_like(pos))
        cols = torch.where(valid, cm1.col[pos].long(), torch.full_like(pos, pad_col))
        Z = Y_ext[cols] * torch.where(valid, sqrt_w[pos], torch.zeros_like(sqrt_w[pos])).unsqueeze(-1)
        A = torch.bmm(Z.transpose(1, 2), Z)
        A += YtY
        out[rows] = _solve_spd(A, B[rows])
        start = stop
    return out


def _block_end(lengths_sorted: np.ndarray, start: int, budget: int) -> int:
    """The largest ``stop`` with ``(stop - start) * lengths_sorted[stop - 1] <= budget`` (>= start + 1)."""
    lo, hi = start + 1, len(lengths_sorted)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (mid - start) * int(lengths_sorted[mid - 1]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


class RowRunner:
    """Runs a function over chunks of rows on ``threads`` Python threads.

    Each chunk runs its whole solve (all CG steps) as one task, with torch's own intra-op
    parallelism switched off (see ``liverec._runtime.torch_threads``), so a half-sweep has one
    synchronisation point instead of one per kernel. This is the shape of ``implicit``'s
    ``prange`` over users, and it keeps its speed on a machine shared with other jobs, where
    a fork/join barrier per small kernel is costly. Chunks are several per thread and
    balanced by work, and handed out dynamically.
    """

    def __init__(self, threads: int, device: torch.device) -> None:
        self.threads = threads if device.type == "cpu" else 1
        self.device = device
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="liverec-als") if self.threads > 1 else None

    def gathers(self, Y: torch.Tensor) -> bool:
        """Whether CG chunks solved against ``Y`` copy their columns first (`gather_columns`):
        on the CPU, when ``Y`` is larger than a cache (a GPU gathers at random well)."""
        return self.device.type == "cpu" and Y.numel() * Y.element_size() > _GATHER_ABOVE_BYTES

    def chunks(self, matrix: CsrTensor, Y: torch.Tensor) -> list[tuple[int, int]]:
        """Row ranges of ``matrix`` (solved against ``Y``): several per thread, and small enough
        that per-chunk temporaries stay in the cache (gathered columns: ``_CHUNK_BYTES``)."""
        per_threads = 1 if self.threads == 1 else 4 * self.threads
        if self.device.type != "cpu":
            return matrix.balanced_chunks(1)
        nnz_per_chunk = max(1024, _CHUNK_BYTES // (4 * Y.shape[1])) if self.gathers(Y) else _CHUNK_NNZ
        return matrix.balanced_chunks(max(per_threads, -(-matrix.nnz // nnz_per_chunk)))

    def map(self, fn: Callable[[int, int], object], chunks: list[tuple[int, int]]) -> None:
        """Call ``fn(start, stop)`` for every chunk; exceptions propagate."""
        if self._pool is None or len(chunks) == 1:
            for a, b in chunks:
                fn(a, b)
            return
        for future in [self._pool.submit(fn, a, b) for a, b in chunks]:
            future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> RowRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def als_half_sweep(cm1: CsrTensor, X: torch.Tensor, Y: torch.Tensor, regularization: float,
                   solver: str, cg_steps: int, runner: RowRunner,
                   chunks: list[tuple[int, int]] | None = None) -> None:
    """Update every row of ``X`` against fixed ``Y`` (in place), chunk by chunk in parallel."""
    YtY = gram_with_reg(Y, regularization)
    if chunks is None:
        chunks = runner.chunks(cm1, Y)
    gather = runner.gathers(Y)

    def work(a: int, b: int) -> None:
        part = cm1.rows(a, b)
        if solver == "cg":
            local, Z = gather_columns(part, Y) if gather else (part, Y)
            cg_solve(local, X[a:b], Z, regularization, cg_steps, YtY)
        else:
            cholesky_solve(part, Y, regularization, YtY, out=X[a:b])

    runner.map(work, chunks)
