"""Log-space storage of exponentially decayed sums, updatable in time proportional to new events.

A decayed sum ``S(T) = sum_e w_e * 2 ** (-(T - t_e) / h)`` is stored as its logarithm
referenced to a fixed anchor ``t0``: ``L = log(sum_e w_e * 2 ** ((t_e - t0) / h))``. Adding
events is ``L <- logaddexp(L, log w + (t - t0) ln2 / h)``; reading the sum at any time ``T``
is ``exp(L - (T - t0) ln2 / h)``. Nothing is ever rescaled, so folding in new events touches
only the entries those events hit, and log-space cannot overflow however far the times run.
"""

from __future__ import annotations

import numpy as np


def group_logsumexp(logw: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """``log(sum(exp(logw)))`` within each group (``-inf`` for empty groups), overflow-safe.

    Examples:
        >>> out = group_logsumexp(np.log(np.array([1.0, 3.0, 2.0])), np.array([0, 0, 2]), 3)
        >>> np.exp(out).round(6).tolist()
        [4.0, 0.0, 2.0]
    """
    top = np.full(n_groups, -np.inf)
    if len(logw) == 0:
        return top
    np.maximum.at(top, group, logw)
    safe = np.where(np.isfinite(top), top, 0.0)
    sums = np.bincount(group, weights=np.exp(logw - safe[group]), minlength=n_groups)
    with np.errstate(divide="ignore"):
        return safe + np.log(sums)


def grow(arr: np.ndarray, n: int, fill: float | int) -> np.ndarray:
    """``arr`` with at least ``n`` rows (capacity doubles; new rows hold ``fill``)."""
    if len(arr) >= n:
        return arr
    cap = max(n, 2 * len(arr), 16)
    out = np.full((cap, *arr.shape[1:]), fill, dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


def add_columns(arr: np.ndarray, n_cols: int, fill: float | int) -> np.ndarray:
    """``arr`` (2-D) widened to ``n_cols`` columns (new columns hold ``fill``)."""
    if arr.shape[1] >= n_cols:
        return arr
    out = np.full((arr.shape[0], n_cols), fill, dtype=arr.dtype)
    out[:, : arr.shape[1]] = arr
    return out


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class HashIndex:
    """Open-addressing hash table ``int64 key (>= 0) -> int64 slot``, vectorised with numpy.

    Lookups and inserts take a batch of keys and probe linearly for all of them at once, so
    the cost is proportional to the batch (the table doubles when half full, amortised).

    Examples:
        >>> h = HashIndex()
        >>> h.insert(np.array([7, 1 << 40]), np.array([0, 1]))
        >>> h.lookup(np.array([1 << 40, 5, 7])).tolist()
        [1, -1, 0]
    """

    def __init__(self, capacity: int = 16) -> None:
        self._reset(capacity)

    def _reset(self, capacity: int) -> None:
        bits = max(4, int(np.ceil(np.log2(max(capacity, 16)))))
        self._bits = bits
        self._keys = np.full(1 << bits, -1, dtype=np.int64)
        self._vals = np.full(1 << bits, -1, dtype=np.int64)
        self.size = 0

    def _home(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            h = keys.astype(np.uint64) * _GOLDEN
        return (h >> np.uint64(64 - self._bits)).astype(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Slot of every key, ``-1`` for keys not present."""
        keys = np.asarray(keys, dtype=np.int64)
        out = np.full(len(keys), -1, dtype=np.int64)
        pos = self._home(keys)
        todo = np.arange(len(keys))
        mask = len(self._keys) - 1
        while len(todo):
            k = self._keys[pos]
            hit = k == keys[todo]
            out[todo[hit]] = self._vals[pos[hit]]
            more = ~hit & (k != -1)
            todo, pos = todo[more], (pos[more] + 1) & mask
        return out

    def insert(self, keys: np.ndarray, vals: np.ndarray) -> None:
        """Add distinct keys that are not present yet."""
        keys = np.asarray(keys, dtype=np.int64)
        vals = np.asarray(vals, dtype=np.int64)
        if 2 * (self.size + len(keys)) > len(self._keys):
            old_k, old_v = self._keys[self._keys >= 0], self._vals[self._keys >= 0]
            self._reset(4 * (self.size + len(keys)))
            self._place(old_k, old_v)
        self._place(keys, vals)

    def _place(self, keys: np.ndarray, vals: np.ndarray) -> None:
        self.size += len(keys)
        pos = self._home(keys)
        mask = len(self._keys) - 1
        while len(keys):
            free = self._keys[pos] == -1
            # among keys aiming at the same free slot, the first one wins
            cand = np.flatnonzero(free)
            _, first = np.unique(pos[cand], return_index=True)
            won = cand[first]
            self._keys[pos[won]] = keys[won]
            self._vals[pos[won]] = vals[won]
            rest = np.ones(len(keys), dtype=bool)
            rest[won] = False
            keys, vals, pos = keys[rest], vals[rest], (pos[rest] + 1) & mask

    def __len__(self) -> int:
        return self.size


class LogSparse:
    """A sparse ``row x col`` matrix of log-space decayed sums with O(new entries) updates.

    Entries live in append-only arrays (``rows``, ``cols``, ``logv``) indexed by a
    `HashIndex` from ``(row << 32) | col`` to the slot; a row-sorted (CSR) view is built lazily for reading
    and dropped whenever entries are added.

    Examples:
        >>> s = LogSparse()
        >>> s.add(np.array([0, 0, 1]), np.array([2, 2, 0]), np.log(np.array([1.0, 2.0, 5.0])))
        >>> indptr, cols, logv = s.csr(2)
        >>> indptr.tolist(), cols.tolist(), np.exp(logv).round(6).tolist()
        ([0, 1, 2], [2, 0], [3.0, 5.0])
    """

    def __init__(self) -> None:
        self.rows = np.zeros(0, dtype=np.int64)
        self.cols = np.zeros(0, dtype=np.int64)
        self.logv = np.zeros(0, dtype=np.float64)
        self.n = 0
        self._index = HashIndex()
        self._csr: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._order = np.zeros(0, dtype=np.int64)  # slots sorted by row (covers the first len(_order) slots)

    @classmethod
    def from_arrays(cls, rows: np.ndarray, cols: np.ndarray, logv: np.ndarray) -> LogSparse:
        """Rebuild from saved entries (distinct ``(row, col)`` pairs)."""
        out = cls()
        out.rows = np.asarray(rows, dtype=np.int64).copy()
        out.cols = np.asarray(cols, dtype=np.int64).copy()
        out.logv = np.asarray(logv, dtype=np.float64).copy()
        out.n = len(out.rows)
        keys = (out.rows << 32) | out.cols
        if len(np.unique(keys)) != out.n:
            raise ValueError("sparse profile entries have duplicate (user, item) pairs")
        out._index.insert(keys, np.arange(out.n))
        return out

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored ``(rows, cols, logv)`` (views, in insertion order)."""
        return self.rows[: self.n], self.cols[: self.n], self.logv[: self.n]

    def add(self, rows: np.ndarray, cols: np.ndarray, logw: np.ndarray) -> None:
        """Fold ``exp(logw)`` into entries ``(rows, cols)`` (duplicates are summed)."""
        if len(rows) == 0:
            return
        keys = (np.asarray(rows, dtype=np.int64) << 32) | np.asarray(cols, dtype=np.int64)
        uniq, inv = np.unique(keys, return_inverse=True)
        g = group_logsumexp(logw, inv.reshape(-1), len(uniq))
        slots = self._index.lookup(uniq)
        hit = slots >= 0
        if hit.any():
            s = slots[hit]
            self.logv[s] = np.logaddexp(self.logv[s], g[hit])
        new = ~hit
        k_new = int(new.sum())
        if k_new:
            start, stop = self.n, self.n + k_new
            self.rows = grow(self.rows, stop, 0)
            self.cols = grow(self.cols, stop, 0)
            self.logv = grow(self.logv, stop, -np.inf)
            new_keys = uniq[new]
            self.rows[start:stop] = new_keys >> 32
            self.cols[start:stop] = new_keys & 0xFFFFFFFF
            self.logv[start:stop] = g[new]
            self._index.insert(new_keys, np.arange(start, stop))
            self.n = stop
        self._csr = None

    def get(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``logv`` of entries ``(rows, cols)`` (``-inf`` where absent or ``row``/``col`` < 0)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        out = np.full(len(rows), -np.inf)
        ok = (rows >= 0) & (cols >= 0)
        if ok.any() and self.n:
            slots = self._index.lookup((rows[ok] << 32) | cols[ok])
            out[np.flatnonzero(ok)[slots >= 0]] = self.logv[slots[slots >= 0]]
        return out

    def csr(self, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, cols, logv)`` sorted by row (cached until the next ``add``)."""
        if self._csr is not None and self._csr[0] == n_rows:
            return self._csr[1], self._csr[2], self._csr[3]
        rows, cols, logv = self.entries()
        done = len(self._order)
        if done < self.n:
            # merge the slots added since the last read into the row order (no full re-sort)
            new = done + np.argsort(rows[done:], kind="stable")
            at = np.searchsorted(rows[self._order], rows[new], side="right")
            self._order = np.insert(self._order, at, new)
        order = self._order
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        out = (indptr, cols[order], logv[order])
        self._csr = (n_rows, *out)
        return out
