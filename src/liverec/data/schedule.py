"""``LiveSchedule``: which item (room / streamer) is on air when."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._utils import concat_ranges, sorted_unique
from ..exceptions import DataValidationError
from ._columns import (
    TimeKind,
    as_1d,
    as_times,
    check_lengths,
    check_time_kind,
    is_scalar,
    normalize_ids,
    parse_time_query,
    seconds_to_datetime,
)
from .idmap import IdMap

#: A broadcast longer than this many typical ones is indexed apart (see ``_build_index``).
_LONG_FACTOR = 64.0
#: At most this many time buckets in the index.
_MAX_BUCKETS = 4_000_000


class LiveSchedule:
    """Broadcasts ``(item, start, end)``: an item is live at ``t`` when ``start <= t < end``.

    Queries use a bucketed interval index (every broadcast registered in the fixed-width
    time buckets it overlaps), so ``live_at`` for thousands of times over 100k broadcasts is a
    handful of vectorised numpy operations, never a Python loop over broadcasts.

    Examples:
        >>> s = LiveSchedule.from_arrays(item=["a", "b", "a"], start=[0, 5, 20], end=[10, 30, 25])
        >>> s.live_at(7).tolist()
        ['a', 'b']
        >>> [x.tolist() for x in s.live_at([0, 12, 30])]
        [['a'], ['b'], []]
    """

    def __init__(
        self,
        item_codes: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        items: IdMap,
        *,
        time_kind: TimeKind = "numeric",
    ) -> None:
        self.item_codes = np.asarray(item_codes, dtype=np.int64)
        self.start = np.asarray(start, dtype=np.float64)
        self.end = np.asarray(end, dtype=np.float64)
        self.items = items
        self.time_kind = time_kind
        self._build_index()

    @classmethod
    def from_arrays(cls, item: Any, start: Any, end: Any, *, items: IdMap | None = None) -> LiveSchedule:
        """Build from columns of item ids, start times and end times.

        Raises:
            DataValidationError: empty input, missing values, different lengths, ``end <= start``.
        """
        it = normalize_ids(item, "item")
        n = check_lengths({"item": it, "start": as_1d(start, "start"), "end": as_1d(end, "end")})
        s, kind_s = as_times(start, "start", n)
        e, kind_e = as_times(end, "end", n)
        if kind_s != kind_e:
            raise DataValidationError(
                "columns 'start' and 'end' must both be datetimes or both numbers; "
                f"got {kind_s} and {kind_e}."
            )
        bad = e <= s
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"column 'end': end <= start at row {row} (start={s[row]:g}, end={e[row]:g}); "
                "every broadcast must end after it starts: fix or drop that row."
            )
        if items is None:
            imap, codes = IdMap.from_values(it, "item")
        else:
            imap = items.extend(it)
            codes = imap.codes(it)
        return cls(codes, s, e, imap, time_kind=kind_s)

    @classmethod
    def from_frame(cls, frame: Any, item: str = "item", start: str = "start", end: str = "end") -> LiveSchedule:
        """Build from a pandas or polars DataFrame or a mapping of columns."""
        from .interactions import _get_column

        return cls.from_arrays(_get_column(frame, item, "item", True), _get_column(frame, start, "start", True),
                               _get_column(frame, end, "end", True))

    @classmethod
    def read_csv(cls, path: str, item: str = "item", start: str = "start", end: str = "end", *,
                 id_type: str = "str", delimiter: str = ",") -> LiveSchedule:
        """Read a CSV with a header row; item ids stay as written unless ``id_type="int"``.

        See [`Interactions.read_csv`][liverec.data.Interactions.read_csv] for how cells are read.
        """
        from .io import convert_ids, read_csv_columns

        data = convert_ids(read_csv_columns(path, delimiter=delimiter), {"item": item}, id_type)
        return cls.from_frame(data, item, start, end)

    # Index -----------------------------------------------------------------------------------
    def _build_index(self) -> None:
        # Short broadcasts go in fixed-width time buckets (each registered in the buckets it
        # overlaps); broadcasts much longer than a typical one (a 24/7 channel, an end in 9999)
        # would each fill millions of buckets, so they are kept apart, sorted by start, and
        # checked directly. Every broadcast thus costs a bounded number of index entries.
        n = len(self.start)
        durations = self.end - self.start
        typical = float(np.median(durations)) if n else 1.0
        long = ~(durations <= _LONG_FACTOR * typical)  # also catches an infinite end
        short = np.flatnonzero(~long)
        self._long = np.flatnonzero(long)[np.argsort(self.start[long], kind="stable")]
        self._long_start = self.start[self._long]
        self._t0 = float(self.start[short].min()) if len(short) else 0.0
        t1 = float(self.end[short].max()) if len(short) else 1.0
        # bucket width ~ a typical broadcast, but never so fine that there are > 4M buckets
        width = max(typical, (t1 - self._t0) / _MAX_BUCKETS, 1e-9)
        self._width = width
        first = np.floor((self.start[short] - self._t0) / width).astype(np.int64)
        last = np.floor((np.nextafter(self.end[short], -np.inf) - self._t0) / width).astype(np.int64)
        counts = last - first + 1
        n_buckets = int(last.max()) + 1 if len(short) else 1
        owner = np.repeat(short, counts)
        bucket = concat_ranges(first, counts)
        order = np.argsort(bucket, kind="stable")
        self._bucket_members = owner[order]
        self._bucket_ptr = np.zeros(n_buckets + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=n_buckets), out=self._bucket_ptr[1:])

    def _candidates(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(row, broadcast)`` pairs that may be live at ``times[row]`` (a superset)."""
        nq = len(times)
        b = np.floor((times - self._t0) / self._width)
        valid = (b >= 0) & (b < len(self._bucket_ptr) - 1)  # also False for NaN
        bc = np.where(valid, b, 0).astype(np.int64)
        counts = np.where(valid, self._bucket_ptr[bc + 1] - self._bucket_ptr[bc], 0)
        members = self._bucket_members[concat_ranges(self._bucket_ptr[bc], counts)]
        rows = np.repeat(np.arange(nq, dtype=np.int64), counts)
        if len(self._long):
            # long broadcasts that started by each time (they are sorted by start)
            n_started = np.searchsorted(self._long_start, times, side="right")
            rows = np.concatenate([rows, np.repeat(np.arange(nq, dtype=np.int64), n_started)])
            members = np.concatenate([members, self._long[concat_ranges(np.zeros(nq, dtype=np.int64), n_started)]])
        return rows, members

    def __len__(self) -> int:
        return len(self.item_codes)

    def __repr__(self) -> str:
        return f"LiveSchedule(n_broadcasts={len(self)}, n_items={len(self.items)})"

    @property
    def item(self) -> np.ndarray:
        """External item id of every broadcast."""
        return self.items.take(self.item_codes)

    def time_values(self, which: str = "start") -> np.ndarray:
        """``start`` or ``end`` in input form (``datetime64`` when given as datetimes)."""
        t = self.start if which == "start" else self.end
        return seconds_to_datetime(t) if self.time_kind == "datetime" else t

    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns with external ids."""
        return {"item": self.item, "start": self.time_values("start"), "end": self.time_values("end")}

    def live_codes(self, t: Any, items: IdMap | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Items live at each time, as CSR ``(indptr, item_codes)``.

        The one place where live items are put in another map's codes: with ``items`` (e.g. a
        model's item map) the codes are that map's and live items it lacks are left out;
        without it they are this schedule's own codes. Each row lists distinct codes in
        increasing order. Accepts every time form of [`live_at`][liverec.data.LiveSchedule.live_at]; for a datetime schedule,
        numbers are also taken as seconds since the epoch (the internal form of
        ``Interactions.time``), but a datetime against a numeric schedule is refused.

        Examples:
            >>> s = LiveSchedule.from_arrays(["b", "c"], [0, 0], [5, 5])
            >>> s.live_codes([1, 9], items=IdMap(["a", "c"]))
            (array([0, 1, 1]), array([1]))
        """
        times, kind = parse_time_query(t, "t")
        if kind == "datetime":
            check_time_kind(kind, self.time_kind, "t", "the schedule")
        nq = len(times)
        rows, members = self._candidates(times)
        tq = times[rows]
        live = (self.start[members] <= tq) & (tq < self.end[members])
        rows, codes = rows[live], self.item_codes[members[live]]
        # distinct codes per row (overlapping broadcasts of one item count once)
        key = rows * np.int64(len(self.items) + 1) + codes
        key = sorted_unique(key)
        rows, codes = key // (len(self.items) + 1), key % (len(self.items) + 1)
        if items is not None and items is not self.items:
            rows, codes = self._remap(rows, codes, items)
        indptr = np.zeros(nq + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=nq), out=indptr[1:])
        return indptr, codes

    def _remap(self, rows: np.ndarray, codes: np.ndarray, items: IdMap) -> tuple[np.ndarray, np.ndarray]:
        """``(row, code)`` pairs in ``items``' codes, sorted by (row, code); unknown items dropped."""
        cached = getattr(self, "_lut_cache", None)  # one map at a time: a model's, reused per batch
        if cached is None or cached[0] is not items:
            cached = (items, items.codes(self.items.ids, missing="ignore"))
            self._lut_cache = cached
        mapped = cached[1][codes]
        keep = mapped >= 0
        width = np.int64(len(items) + 1)
        key = rows[keep] * width + mapped[keep]
        if len(key) > 1 and not (key[1:] > key[:-1]).all():
            key = np.sort(key)
        return key // width, key % width

    def live_at(self, t: Any) -> Any:
        """External ids of the items live at ``t``.

        Args:
            t: One time or a sequence of times, of the schedule's kind: numbers for a numeric
                schedule; for a datetime schedule ``datetime64`` (any unit), ``datetime``,
                ``date``, ``pd.Timestamp`` or ISO-8601 strings (time-zone-aware values are
                converted to UTC, naive ones are taken as UTC).

        Returns:
            An array of ids for a scalar ``t``; a list of arrays for a sequence.

        Raises:
            DataTypeError: ``t`` is a datetime and the schedule numeric, or the reverse.
        """
        scalar = is_scalar(t)
        check_time_kind(parse_time_query(t, "t")[1], self.time_kind, "t", "the schedule")
        indptr, codes = self.live_codes(t)
        ids = self.items.take(codes)
        if scalar:
            return ids
        return np.split(ids, indptr[1:-1])

    def live_matrix(self, t: Any, items: IdMap | None = None) -> sp.csr_matrix:
        """Boolean ``(n_times, len(items))`` CSR matrix of availability.

        Args:
            t: Times.
            items: Columns follow this map (e.g. a model's item map); live items it lacks are
                left out. Defaults to the schedule's own map.
        """
        indptr, codes = self.live_codes(t, items)
        n_cols = len(self.items if items is None else items)
        return sp.csr_matrix((np.ones(len(codes), dtype=bool), codes, indptr), shape=(len(indptr) - 1, n_cols))

    def is_live(self, items: Any, t: Any) -> np.ndarray:
        """Pairwise: whether ``items[j]`` is live at ``t[j]`` (unknown items are not live).

        Works per pair (no list of everything live at every time): broadcasts sorted by
        (item, start) with a running maximum of their ends, and one binary search per pair.
        """
        codes = self.items.codes(items, missing="ignore")
        times, kind = parse_time_query(t, "t")
        if kind == "datetime":
            check_time_kind(kind, self.time_kind, "t", "the schedule")
        if len(times) == 1 and len(codes) > 1:
            times = np.repeat(times, len(codes))
        if len(times) != len(codes):
            raise DataValidationError(f"is_live needs one time per item: got {len(codes)} items and {len(times)} times.")
        # exact integer ranks of every time value, so (item, time) pairs combine into one int64 key
        values = sorted_unique(np.concatenate([self.start, self.end, times]))
        m = np.int64(len(values) + 1)
        s_rank = np.searchsorted(values, self.start)
        e_rank = np.searchsorted(values, self.end)
        t_rank = np.searchsorted(values, times)
        order = np.lexsort((s_rank, self.item_codes))
        item_sorted = self.item_codes[order]
        start_key = item_sorted * m + s_rank[order]
        # running max of ends; the item offset makes it restart at each item's first broadcast
        end_run = np.maximum.accumulate(item_sorted * m + e_rank[order])
        pos = np.searchsorted(start_key, codes * m + t_rank, side="right") - 1
        pos_c = np.clip(pos, 0, None)
        same_item = (pos >= 0) & (codes >= 0) & (item_sorted[pos_c] == codes)
        return same_item & (end_run[pos_c] - codes * m > t_rank)

    def between(self, start: Any = None, end: Any = None) -> LiveSchedule:
        """Broadcasts overlapping ``[start, end)``."""
        mask = np.ones(len(self), dtype=bool)
        for bound, name in ((start, "start"), (end, "end")):
            if bound is None:
                continue
            value, kind = parse_time_query(bound, name)
            check_time_kind(kind, self.time_kind, name, "the schedule")
            mask &= (self.end > value[0]) if name == "start" else (self.start < value[0])
        return LiveSchedule(self.item_codes[mask], self.start[mask], self.end[mask], self.items,
                            time_kind=self.time_kind)
