"""Small vectorised helpers shared across modules (no public API)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .exceptions import InvalidParameterError


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for every pair, without a Python loop.

    >>> concat_ranges(np.array([0, 10]), np.array([2, 3])).tolist()
    [0, 1, 10, 11, 12]
    """
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    nonzero = counts > 0
    starts, counts = starts[nonzero], counts[nonzero]
    out = np.ones(total, dtype=np.int64)
    ends = np.cumsum(counts)
    out[0] = starts[0]
    # At each range boundary jump from the previous range's last value to the next start.
    out[ends[:-1]] = starts[1:] - (starts[:-1] + counts[:-1] - 1)
    return np.cumsum(out)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Distinct values in increasing order, by sorting.

    ``np.unique`` without ``return_inverse`` hashes in numpy >= 2.3, which is many times
    slower than a sort for millions of int64 keys.

    >>> sorted_unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    s = np.sort(np.asarray(values), kind="stable")
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def segment_ids(indptr: np.ndarray) -> np.ndarray:
    """Row index of every entry of a CSR ``indptr``.

    >>> segment_ids(np.array([0, 2, 2, 3])).tolist()
    [0, 0, 2]
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def check_random_state(seed: Any) -> np.random.Generator:
    """A numpy ``Generator`` from ``None``, an int or a ``Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise InvalidParameterError(

        f"random_state must be None, a non-negative int or a numpy Generator, got {seed!r:.60}."
    )



class Progress:
    """A progress bar for long loops: tqdm when installed, a line every ~10% otherwise, or nothing.

    >>> bar = Progress(3, "fit", "epoch", enabled=False)
    >>> for _ in range(3):
    ...     bar.update(1, loss=0.5)
    >>> bar.close()
    """

    def __init__(self, total: int, desc: str, unit: str, enabled: bool) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.done, self._next_print, self.bar = 0, 0, None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit=unit)
            except ImportError:  # pragma: no cover - tqdm is optional
                self.bar = None

    def update(self, n: int = 1, **info: Any) -> None:
        """Advance by ``n``; keyword arguments are shown next to the bar (loss=..., ...)."""
        self.done += n
        if not self.enabled:
            return
        shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in info.items() if v is not None}
        if self.bar is not None:
            if shown:
                self.bar.set_postfix(shown)
            self.bar.update(n)
        elif self.done >= self._next_print or self.done == self.total:
            extra = "".join(f", {k} {v}" for k, v in shown.items())
            print(f"{self.desc}: {self.done}/{self.total} {self.unit}s{extra}", file=sys.stderr, flush=True)
            self._next_print = self.done + max(self.total // 10, 1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
