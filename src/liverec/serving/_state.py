"""The online state of a ``LiveService`` (private): id vocabularies, per-viewer ring buffers of
recent events, and the "hot in the last minutes" counts.

Everything here is vectorised over a batch of events: an ``observe`` of n events costs a few
numpy passes over n, never a Python object per event. None of these classes locks; the service
holds one lock around every call that changes or copies them.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ..data import IdMap
from ..exceptions import DataTypeError

__all__ = ["HotCounts", "ViewerBuffers", "Vocabulary"]


def _kind(arr: np.ndarray) -> str:
    return "str" if arr.dtype.kind in "US" else "int"


class Vocabulary:
    """External ids -> codes: a fixed ``IdMap`` (e.g. a model's) plus ids added later.

    Lookups of known ids are one vectorised ``IdMap.codes``; only ids missing from the base map
    go through a dict (the distinct ids of a batch, never one per event).
    """

    def __init__(self, base: IdMap, name: str) -> None:
        self.base, self.name = base, name
        self.n_base = len(base)
        self._extra: dict[Any, int] = {}
        self._extra_ids: list[Any] = []
        self._extra_arr: np.ndarray | None = None
        self._id_kind = _kind(base.ids) if len(base) else None

    def __len__(self) -> int:
        return self.n_base + len(self._extra_ids)

    def codes(self, ids: np.ndarray, add: bool) -> np.ndarray:
        """Codes of distinct-or-not ``ids`` (int64 or str array); ``-1`` for unknown unless ``add``.

        Raises:
            DataTypeError: ids of the other type than the ids already held (``1`` vs ``"1"``).
        """
        self.check(ids)
        out = self.base.codes(ids, missing="ignore") if self.n_base else np.full(len(ids), -1, dtype=np.int64)
        for j in np.flatnonzero(out < 0).tolist():
            key = ids[j].item()
            code = self._extra.get(key)
            if code is None and add:
                code = self.n_base + len(self._extra_ids)
                self._extra[key] = code
                self._extra_ids.append(key)
                self._extra_arr = None
                self._id_kind = self._id_kind or _kind(ids)
            out[j] = -1 if code is None else code
        return out

    def check(self, ids: np.ndarray) -> None:
        """Refuse ids of the other type than the ids already held (``1`` vs ``"1"``): ``DataTypeError``."""
        if len(ids) and self._id_kind is not None and _kind(ids) != self._id_kind:
            raise DataTypeError(
                f"{self.name} ids: the service holds {self._id_kind} ids (those of the model) but got "
                f"{_kind(ids)} ids (first: {ids[0].item()!r}); 1 and '1' are different {self.name}s: "
                f"convert them to {self._id_kind}.")

    def take(self, codes: np.ndarray) -> np.ndarray:
        """External ids of codes."""
        codes = np.asarray(codes, dtype=np.int64)
        if not self._extra_ids:
            return self.base.take(codes)
        if self._extra_arr is None:
            self._extra_arr = np.asarray(self._extra_ids)
        extra = self._extra_arr
        if not self.n_base:
            return extra[codes]
        base = self.base.ids
        dtype = np.result_type(base.dtype, extra.dtype)
        out = np.empty(len(codes), dtype=dtype)
        in_base = codes < self.n_base
        out[in_base] = base[codes[in_base]]
        out[~in_base] = extra[codes[~in_base] - self.n_base]
        return out


class ViewerBuffers:
    """The last ``capacity`` events of each viewer, in ring buffers (one row per viewer).

    Rows are given to viewers on their first event (and back on ``drop``). Each row holds item
    codes (of the service's item vocabulary), times (float seconds), event codes and weights
    (NaN: no weight given); ``count[row]`` is how many events the row has received, so slot
    ``count % capacity`` is the next one written.
    """

    items: np.ndarray
    time: np.ndarray
    event: np.ndarray
    weight: np.ndarray
    count: np.ndarray

    def __init__(self, capacity: int, users: IdMap) -> None:
        self.capacity = int(capacity)
        self.users = Vocabulary(users, "user")
        self._row_of = np.full(max(len(users), 16), -1, dtype=np.int64)  # user code -> row
        self._free: list[int] = []
        self._n_rows = 0
        self._alloc(64)

    def _alloc(self, rows: int) -> None:
        L = self.capacity
        new: tuple[np.ndarray, ...] = (np.zeros((rows, L), dtype=np.int64), np.zeros((rows, L)),
                                       np.zeros((rows, L), dtype=np.int16),
                                       np.zeros((rows, L)), np.zeros(rows, dtype=np.int64))
        if hasattr(self, "count"):
            n = len(self.count)
            old: tuple[np.ndarray, ...] = (self.items, self.time, self.event, self.weight, self.count)
            for dst, src in zip(new, old, strict=True):
                dst[:n] = src
        self.items, self.time, self.event, self.weight, self.count = new

    def rows(self, user_codes: np.ndarray, create: bool) -> np.ndarray:
        """Buffer rows of user codes (``-1``: no row, unless ``create``)."""
        need = int(user_codes.max()) + 1 if len(user_codes) else 0
        if need > len(self._row_of):
            grown = np.full(max(need, 2 * len(self._row_of)), -1, dtype=np.int64)
            grown[:len(self._row_of)] = self._row_of
            self._row_of = grown
        rows = self._row_of[np.maximum(user_codes, 0)]
        rows[user_codes < 0] = -1
        if create:
            for j in np.flatnonzero((rows < 0) & (user_codes >= 0)).tolist():
                row = self._free.pop() if self._free else self._n_rows
                if row == self._n_rows:
                    self._n_rows += 1
                    if self._n_rows > len(self.count):
                        self._alloc(2 * len(self.count))
                self._row_of[user_codes[j]] = row
                rows[user_codes == user_codes[j]] = row
        return rows

    def append(self, rows: np.ndarray, items: np.ndarray, times: np.ndarray, events: np.ndarray,
               weights: np.ndarray) -> None:
        """Write a batch of events (rows in arrival order; a row may appear many times)."""
        L = self.capacity
        order = np.argsort(rows, kind="stable")
        r = rows[order]
        uniq, first, n_per = np.unique(r, return_index=True, return_counts=True)
        rank = np.arange(len(r)) - np.repeat(first, n_per)
        last = rank >= np.repeat(n_per, n_per) - L  # only the last L of a row in this batch survive
        r, rank, src = r[last], rank[last], order[last]
        slot = (self.count[r] + rank) % L
        self.items[r, slot] = items[src]
        self.time[r, slot] = times[src]
        self.event[r, slot] = events[src]
        self.weight[r, slot] = weights[src]
        self.count[uniq] += n_per

    def read(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(items, times, events, weights)`` of a row, in time order (ties: arrival order); copies."""
        if row < 0:
            empty = np.zeros(0)
            return np.zeros(0, dtype=np.int64), empty, np.zeros(0, dtype=np.int16), empty
        c = int(self.count[row])
        n = min(c, self.capacity)
        slots = np.arange(c - n, c) % self.capacity
        t = self.time[row, slots]
        order = np.argsort(t, kind="stable")
        slots = slots[order]
        return self.items[row, slots], t[order], self.event[row, slots], self.weight[row, slots]

    def drop(self, user_codes: np.ndarray) -> np.ndarray:
        """Forget these users' rows (the rows are reused); returns the rows dropped."""
        rows = self.rows(user_codes, create=False)
        dropped = np.unique(rows[rows >= 0])
        self.count[dropped] = 0
        self._row_of[user_codes[rows >= 0]] = -1
        self._free.extend(dropped.tolist())
        return dropped

    @property
    def n_viewers(self) -> int:
        """Viewers with a buffer row."""
        return self._n_rows - len(self._free)


class HotCounts:
    """Events per item in a sliding window, in ``n_buckets`` time buckets ("hot in the last minutes").

    An event counts from its arrival until its bucket leaves the window: the window at time
    ``t`` is the ``n_buckets`` buckets ending with the one holding ``t``. Events older than the
    window of the newest event seen are not counted. A log of the counted events (row of the
    viewer, bucket, item) is kept while they are in the window, so a viewer's contribution can
    be taken out exactly (``forget``).
    """

    def __init__(self, window: float, n_buckets: int) -> None:
        self.window, self.n_buckets = float(window), int(n_buckets)
        self.width = self.window / self.n_buckets
        self.counts = np.zeros((self.n_buckets, 64))
        self.bucket_of = np.full(self.n_buckets, np.iinfo(np.int64).min, dtype=np.int64)
        self.newest: int | None = None
        self._log: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()

    def _ensure_items(self, n: int) -> None:
        if n > self.counts.shape[1]:
            grown = np.zeros((self.n_buckets, max(n, 2 * self.counts.shape[1])))
            grown[:, :self.counts.shape[1]] = self.counts
            self.counts = grown

    def add(self, rows: np.ndarray, items: np.ndarray, times: np.ndarray) -> None:
        """Count a batch of events (item codes of the service vocabulary, times in float seconds)."""
        if not len(items):
            return
        b = np.floor(times / self.width).astype(np.int64)
        newest = int(b.max()) if self.newest is None else max(self.newest, int(b.max()))
        self.newest = newest
        keep = b > newest - self.n_buckets
        rows, items, b = rows[keep], items[keep], b[keep]
        self._ensure_items(int(items.max()) + 1 if len(items) else 0)
        slot = b % self.n_buckets
        for s, bucket in zip(*np.unique(np.stack([slot, b]), axis=1).tolist(), strict=True):
            if self.bucket_of[s] < bucket:  # a bucket slot is reused: its old counts left the window
                self.counts[s] = 0.0
                self.bucket_of[s] = bucket
        ok = self.bucket_of[slot] == b
        np.add.at(self.counts, (slot[ok], items[ok]), 1.0)
        self._log.append((rows[ok], b[ok], items[ok]))
        while self._log and (not len(self._log[0][1]) or self._log[0][1].max() <= newest - self.n_buckets):
            self._log.popleft()

    def scores(self, at: float, n_items: int) -> np.ndarray:
        """Events per item code (``n_items`` of them) in the window ending at ``at``."""
        b = int(np.floor(at / self.width))
        live = (self.bucket_of <= b) & (self.bucket_of > b - self.n_buckets)
        out = np.zeros(n_items)
        if live.any():
            m = min(n_items, self.counts.shape[1])
            out[:m] = self.counts[live, :m].sum(axis=0)
        return out

    def forget(self, rows: np.ndarray) -> int:
        """Take the events of these buffer rows out of the counts; returns how many were taken out."""
        if not len(rows) or not self._log:
            return 0
        removed = 0
        kept: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()
        for r, b, items in self._log:
            mine = np.isin(r, rows)
            if mine.any():
                slot = b[mine] % self.n_buckets
                current = self.bucket_of[slot] == b[mine]
                np.subtract.at(self.counts, (slot[current], items[mine][current]), 1.0)
                removed += int(current.sum())
                r, b, items = r[~mine], b[~mine], items[~mine]
            kept.append((r, b, items))
        self._log = kept
        return removed
