"""Small vectorised helpers shared across modules (no public API)."""

from __future__ import annotations

import html
import logging
from typing import Any

import numpy as np

from .exceptions import InvalidParameterError


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for dict keys, JSON and messages); anything
    else as it is.

    >>> plain(np.int64(3)), plain("a")
    (3, 'a')
    """
    return value.item() if hasattr(value, "item") else value


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
    """Progress of a long loop: a tqdm bar when asked for and installed, log records otherwise.

    With ``enabled=True`` a tqdm bar is shown when tqdm is installed; without tqdm an INFO
    record goes to ``logger`` about every 10% of the loop (shown once the application
    configures logging, e.g. ``logging.basicConfig(level=logging.INFO)``). Every update is
    also a DEBUG record, whether or not a bar is shown, so a training log can be kept
    without a bar. Nothing is ever printed directly.

    Args:
        total: Number of steps.
        desc: What runs (``"ALS"``), shown before the counts.
        unit: The step's name (``"epoch"``).
        enabled: Show progress (the ``verbose`` flag of models, encoders and ``evaluate``).
        logger: Where records go; default the ``liverec`` logger.

    >>> bar = Progress(3, "fit", "epoch", enabled=False)
    >>> for _ in range(3):
    ...     bar.update(1, loss=0.5)
    >>> bar.close()
    """

    def __init__(self, total: int, desc: str, unit: str, enabled: bool,
                 logger: logging.Logger | None = None) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.logger = logger if logger is not None else logging.getLogger("liverec")
        self.done, self._next_record, self.bar = 0, 0, None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit=unit)
            except ImportError:  # tqdm is optional: log records instead
                self.bar = None

    def update(self, n: int = 1, **info: Any) -> None:
        """Advance by ``n``; keyword arguments are shown next to the bar (loss=..., ...)."""
        self.done += n
        shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in info.items() if v is not None}
        if self.bar is not None:
            if shown:
                self.bar.set_postfix(shown)
            self.bar.update(n)
        level = logging.DEBUG
        if self.enabled and self.bar is None and (self.done >= self._next_record or self.done == self.total):
            level = logging.INFO
            self._next_record = self.done + max(self.total // 10, 1)
        if self.logger.isEnabledFor(level):
            extra = "".join(f", {k} {v}" for k, v in shown.items())
            self.logger.log(level, "%s: %d/%d %ss%s", self.desc, self.done, self.total, self.unit, extra)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def html_table(caption: str, header: list[Any], rows: list[list[Any]], notes: list[str] | None = None) -> str:
    """A small HTML table for notebooks (``_repr_html_``); every value is escaped.

    >>> html_table("t", ["a"], [["<b>"]])
    '<table><caption>t</caption><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
    """
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    out = (f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>"
           f"<tbody>{body}</tbody></table>")
    if notes:
        out = "<div>" + out + "".join(f"<p><small>{esc(n)}</small></p>" for n in notes) + "</div>"
    return out
