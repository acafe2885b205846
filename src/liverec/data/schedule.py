"""``LiveSchedule``: which item (room / streamer) is on air when."""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._utils import concat_ranges, sorted_unique
from ..exceptions import DataTypeError, DataValidationError
from ._columns import (
    TimeKind,
    as_1d,
    as_times,
    check_lengths,
    check_time_kind,
    is_scalar,
    missing_mask,
    normalize_ids,
    parse_time_query,
    seconds_to_datetime,
)
from .idmap import IdMap

#: A broadcast longer than this many typical ones is indexed apart (see ``_build_index``).
_LONG_FACTOR = 64.0
#: At most this many time buckets in the index.
_MAX_BUCKETS = 4_000_000
#: Broadcasts added by updates go to the sorted "long" list; the whole index is rebuilt once
#: that list has grown past max(this, twice its size at the last build, 1/16 of the rows).
_MIN_REBUILD = 1024


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
        codes = np.asarray(item_codes, dtype=np.int64)
        self.time_kind = time_kind
        self._lock = threading.Lock()  # serialises writers; readers take no lock
        self._snap = _build_snapshot(items, codes, np.asarray(start, dtype=np.float64),
                                     np.asarray(end, dtype=np.float64))
        # writer state (only touched under the lock): item code -> rows of its open broadcasts
        self._open: dict[int, tuple[int, ...]] = {}
        for row in np.flatnonzero(np.isinf(self._snap.end_base)).tolist():
            code = int(codes[row])
            self._open[code] = (*self._open.get(code, ()), row)
        self._buffers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def empty(cls, *, time_kind: TimeKind = "numeric", items: IdMap | None = None) -> LiveSchedule:
        """A schedule with no broadcasts yet, to be filled by [`on_air`][liverec.data.LiveSchedule.on_air].

        Args:
            time_kind: ``"numeric"`` (numbers) or ``"datetime"``: the kind of every time given later.
            items: Start from this item map (e.g. a model's ``items_``) so codes agree with it.

        Examples:
            >>> s = LiveSchedule.empty()
            >>> s.on_air("a", 5).live_at(6).tolist()
            ['a']
        """
        if time_kind not in ("numeric", "datetime"):
            raise DataValidationError(f"time_kind must be 'numeric' or 'datetime', got {time_kind!r}.")
        imap = IdMap([], "item") if items is None else items
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), imap, time_kind=time_kind)

    @classmethod
    def from_arrays(cls, item: Any, start: Any, end: Any = None, *, items: IdMap | None = None) -> LiveSchedule:
        """Build from columns of item ids, start times and end times.

        A missing end (``None``, NaN or NaT in the column, or ``end=None`` for every row) is an
        **open** broadcast: on air from its start, no end yet (close it with
        [`off_air`][liverec.data.LiveSchedule.off_air]). Open ends are held as ``+inf`` in
        ``.end`` (so ``+inf`` is accepted too) and shown as NaN / NaT by ``to_dict()`` and
        ``time_values("end")``.

        Raises:
            DataValidationError: empty input, missing ids or starts, different lengths, ``end <= start``.

        Examples:
            >>> s = LiveSchedule.from_arrays(["a", "b"], [0, 5], [10, None])
            >>> s.live_at(1e9).tolist(), s.to_dict()["end"].tolist()
            (['b'], [10.0, nan])
        """
        it = normalize_ids(item, "item")
        start_col = as_1d(start, "start")
        end_col = np.full(len(start_col), None, dtype=object) if end is None else as_1d(end, "end")
        n = check_lengths({"item": it, "start": start_col, "end": end_col})
        s, kind_s = as_times(start, "start", n)
        e, kind_e = _end_times(end, end_col, n, kind_s)
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

    # Snapshot views -------------------------------------------------------------------------
    # Every query reads ``self._snap`` once: one immutable snapshot, so an update published
    # meanwhile (one reference assignment) never mixes into an answer.
    @property
    def items(self) -> IdMap:
        """The item map (grows when [`on_air`][liverec.data.LiveSchedule.on_air] sees a new item)."""
        return self._snap.items

    @property
    def item_codes(self) -> np.ndarray:
        """Item code of every broadcast."""
        return self._snap.codes

    @property
    def start(self) -> np.ndarray:
        """Start of every broadcast (float seconds or numbers)."""
        return self._snap.start

    @property
    def end(self) -> np.ndarray:
        """End of every broadcast; ``+inf`` for an open one (on air, no end yet)."""
        return self._snap.end

    @property
    def _bucket_members(self) -> np.ndarray:
        return self._snap.bucket_members

    def columns(self) -> tuple[IdMap, np.ndarray, np.ndarray, np.ndarray]:
        """``(items, item_codes, start, end)`` of one consistent snapshot (safe during updates)."""
        snap = self._snap
        return snap.items, snap.codes, snap.start, snap.end

    @property
    def n_open(self) -> int:
        """How many broadcasts are open (on air with no end yet)."""
        return len(self._snap.open_rows())

    def __len__(self) -> int:
        return len(self._snap.codes)

    def __repr__(self) -> str:
        return f"LiveSchedule(n_broadcasts={len(self)}, n_items={len(self.items)})"

    @property
    def item(self) -> np.ndarray:
        """External item id of every broadcast."""
        snap = self._snap
        return snap.items.take(snap.codes)

    def time_values(self, which: str = "start") -> np.ndarray:
        """``start`` or ``end`` in input form (``datetime64`` when given as datetimes)."""
        return self._time_values(self._snap, which)

    def _time_values(self, snap: _Snapshot, which: str) -> np.ndarray:
        if which == "start":
            t = snap.start
        else:  # open ends (+inf) show as NaN / NaT
            t = snap.end
            t = np.where(np.isinf(t), np.nan, t)
        if self.time_kind != "datetime":
            return t
        out = seconds_to_datetime(np.where(np.isnan(t), 0.0, t))
        out[np.isnan(t)] = np.datetime64("NaT")
        return out

    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns with external ids; an open broadcast's end is NaN (NaT for datetimes)."""
        snap = self._snap
        return {"item": snap.items.take(snap.codes), "start": self._time_values(snap, "start"),
                "end": self._time_values(snap, "end")}

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
        snap = self._snap  # read once: one consistent snapshot per query
        nq = len(times)
        rows, codes = snap.live_pairs(times)
        n_own = np.int64(len(snap.items) + 1)
        # distinct codes per row (overlapping broadcasts of one item count once)
        key = sorted_unique(rows * n_own + codes)
        rows, codes = key // n_own, key % n_own
        if items is not None and items is not snap.items:
            rows, codes = self._remap(snap, rows, codes, items)
        indptr = np.zeros(nq + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=nq), out=indptr[1:])
        return indptr, codes

    def _remap(self, snap: _Snapshot, rows: np.ndarray, codes: np.ndarray,
               items: IdMap) -> tuple[np.ndarray, np.ndarray]:
        """``(row, code)`` pairs in ``items``' codes, sorted by (row, code); unknown items dropped."""
        # one map at a time (a model's, reused per batch), keyed by both maps: a new item
        # extends the schedule's map, which makes the cached table stale
        cached = getattr(self, "_lut_cache", None)
        if cached is None or cached[0] is not items or cached[1] is not snap.items:
            cached = (items, snap.items, items.codes(snap.items.ids, missing="ignore"))
            self._lut_cache = cached
        mapped = cached[2][codes]
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

    # Live updates ------------------------------------------------------------------------------
    def on_air(self, item: Any, t: Any) -> LiveSchedule:
        """Record that ``item`` went on air at ``t``: an open broadcast (no end yet).

        A new item id extends the schedule's item map (same strict id rules as
        [`IdMap.extend`][liverec.data.IdMap.extend]). Returns the schedule itself.

        Raises:
            DataValidationError: the item is already on air (close it with ``off_air`` first).
            DataTypeError: ``t`` is of the other time kind than the schedule.
        """
        return self.update([item] if is_scalar(item) else item, t, on_air=True)

    def off_air(self, item: Any, t: Any) -> LiveSchedule:
        """Record that ``item`` went off air at ``t``: its open broadcast now ends at ``t``.

        Raises:
            DataValidationError: the item is not on air, or ``t`` is not after the broadcast's start.
        """
        return self.update([item] if is_scalar(item) else item, t, on_air=False)

    def update(self, item: Any, t: Any, on_air: Any = True) -> LiveSchedule:
        """Apply many on/off-air changes at once, in row order (all or none: a bad row changes nothing).

        Args:
            item: Item ids, one per change.
            t: One time for all changes, or one per change (every form ``live_at`` accepts, of
                the schedule's kind).
            on_air: ``True`` (goes on air) / ``False`` (goes off air), one for all or one per change.

        Updates are cheap (no index rebuild, except an amortised one now and then) and safe
        while other threads query: writers are serialised by a lock, and each update publishes
        a new immutable snapshot with one assignment, so a query sees all of an update or none.

        Examples:
            >>> s = LiveSchedule.empty().update(["a", "b", "a"], [0, 1, 3], on_air=[True, True, False])
            >>> s.live_at([2, 4])[1].tolist(), s.n_open
            (['b'], 1)
        """
        ids = normalize_ids([item] if is_scalar(item) else item, "item")
        times, kind = parse_time_query(t, "t")
        check_time_kind(kind, self.time_kind, "t", "the schedule")
        flags = _as_flags(on_air, len(ids))
        if len(times) == 1 and len(ids) != 1:
            times = np.repeat(times, len(ids))
        if len(times) != len(ids):
            raise DataValidationError(f"update needs one time per item (or one for all): got {len(ids)} items "
                                      f"and {len(times)} times.")
        with self._lock:
            snap = self._snap
            imap = snap.items.extend(ids)
            codes = imap.codes(ids)
            new_codes, new_starts, closes, pending = self._plan(snap, ids, codes, times, flags)
            self._snap = self._publish(snap, imap, new_codes, new_starts, closes)
            for code, rows in pending.items():
                if rows:
                    self._open[code] = rows
                else:
                    self._open.pop(code, None)
        return self

    def _plan(self, snap: _Snapshot, ids: np.ndarray, codes: np.ndarray, times: np.ndarray,
              flags: np.ndarray) -> tuple[list[int], list[float], dict[int, float], dict[int, tuple[int, ...]]]:
        """Check the changes in order against the open broadcasts; nothing is changed here."""
        n = len(snap.codes)
        new_codes: list[int] = []
        new_starts: list[float] = []
        closes: dict[int, float] = {}
        pending: dict[int, tuple[int, ...]] = {}
        for j, (code, tj, on) in enumerate(zip(codes.tolist(), times.tolist(), flags.tolist(), strict=True)):
            cur = pending[code] if code in pending else self._open.get(code, ())
            if on:
                if cur:
                    raise DataValidationError(
                        f"on_air: item {ids[j].item()!r} (change {j}) is already on air; record off_air "
                        "for it first (an item has at most one open broadcast).")
                pending[code] = (n + len(new_codes),)
                new_codes.append(code)
                new_starts.append(tj)
                continue
            if not cur:
                raise DataValidationError(
                    f"off_air: item {ids[j].item()!r} (change {j}) is not on air; only an open broadcast "
                    "(from on_air or a missing end) can be closed.")
            for row in cur:
                begin = new_starts[row - n] if row >= n else float(snap.start[row])
                if not tj > begin:
                    raise DataValidationError(
                        f"off_air: item {ids[j].item()!r} (change {j}) goes off air at {self._fmt(tj)}, not "
                        f"after its broadcast started ({self._fmt(begin)}); a broadcast must end after it starts.")
                closes[row] = tj
            pending[code] = ()
        return new_codes, new_starts, closes, pending

    def _fmt(self, t: float) -> str:
        return str(seconds_to_datetime(np.array([t]))[0]) if self.time_kind == "datetime" else f"{t:g}"

    def _publish(self, snap: _Snapshot, imap: IdMap, new_codes: list[int], new_starts: list[float],
                 closes: dict[int, float]) -> _Snapshot:
        """The next snapshot: new rows appended (open, in the sorted long list), closed ends set."""
        m = len(new_codes)
        codes, start, end_base = self._append(snap, new_codes, new_starts) if m else (
            snap.codes, snap.start, snap.end_base)
        n = len(snap.codes)
        long_rows = np.concatenate([snap.long_rows, np.arange(n, n + m, dtype=np.int64)])
        long_start = np.concatenate([snap.long_start, np.asarray(new_starts, dtype=np.float64)])
        long_end = np.concatenate([snap.long_end, np.full(m, np.inf)])  # always a new array
        if m and len(long_start) > 1 and not (long_start[1:] >= long_start[:-1]).all():
            order = np.argsort(long_start, kind="stable")
            long_rows, long_start, long_end = long_rows[order], long_start[order], long_end[order]
        if closes:
            pos = np.flatnonzero(np.isin(long_rows, np.fromiter(closes, dtype=np.int64)))
            long_end[pos] = [closes[r] for r in long_rows[pos].tolist()]
        limit = max(_MIN_REBUILD, 2 * snap.long_at_build, snap.n_at_build // 16)
        if len(long_rows) > limit:  # amortised: rebuild the whole index now and then
            end = end_base.copy()
            end[long_rows] = long_end
            self._buffers = None
            return _build_snapshot(imap, np.array(codes), np.array(start), end)
        return _Snapshot(imap, codes, start, end_base, snap.index, long_rows, long_start, long_end,
                         snap.long_at_build, snap.n_at_build)

    def _append(self, snap: _Snapshot, new_codes: list[int],
                new_starts: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows appended to growable buffers (written past every published view, so readers never see it)."""
        n, m = len(snap.codes), len(new_codes)
        bufs = self._buffers
        if bufs is None or bufs[0].base is not None or snap.codes.base is not bufs[0] or len(bufs[0]) < n + m:
            cap = max(2 * (n + m), 1024)
            bufs = (np.empty(cap, dtype=np.int64), np.empty(cap), np.empty(cap))
            for buf, old in zip(bufs, (snap.codes, snap.start, snap.end_base), strict=True):
                buf[:n] = old
            self._buffers = bufs
        bufs[0][n:n + m] = new_codes
        bufs[1][n:n + m] = new_starts
        bufs[2][n:n + m] = np.inf
        return bufs[0][:n + m], bufs[1][:n + m], bufs[2][:n + m]

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
        imap, item_codes, start, end = self.columns()
        codes = imap.codes(items, missing="ignore")
        times, kind = parse_time_query(t, "t")
        if kind == "datetime":
            check_time_kind(kind, self.time_kind, "t", "the schedule")
        if len(times) == 1 and len(codes) > 1:
            times = np.repeat(times, len(codes))
        if len(times) != len(codes):
            raise DataValidationError(f"is_live needs one time per item: got {len(codes)} items and {len(times)} times.")
        # exact integer ranks of every time value, so (item, time) pairs combine into one int64 key
        values = sorted_unique(np.concatenate([start, end, times]))
        m = np.int64(len(values) + 1)
        s_rank = np.searchsorted(values, start)
        e_rank = np.searchsorted(values, end)
        t_rank = np.searchsorted(values, times)
        order = np.lexsort((s_rank, item_codes))
        item_sorted = item_codes[order]
        start_key = item_sorted * m + s_rank[order]
        # running max of ends; the item offset makes it restart at each item's first broadcast
        end_run = np.maximum.accumulate(item_sorted * m + e_rank[order])
        pos = np.searchsorted(start_key, codes * m + t_rank, side="right") - 1
        pos_c = np.clip(pos, 0, None)
        same_item = (pos >= 0) & (codes >= 0) & (item_sorted[pos_c] == codes)
        return same_item & (end_run[pos_c] - codes * m > t_rank)

    def between(self, start: Any = None, end: Any = None) -> LiveSchedule:
        """Broadcasts overlapping ``[start, end)``."""
        imap, codes, b_start, b_end = self.columns()
        mask = np.ones(len(codes), dtype=bool)
        for bound, name in ((start, "start"), (end, "end")):
            if bound is None:
                continue
            value, kind = parse_time_query(bound, name)
            check_time_kind(kind, self.time_kind, name, "the schedule")
            mask &= (b_end > value[0]) if name == "start" else (b_start < value[0])
        return LiveSchedule(codes[mask], b_start[mask], b_end[mask], imap,
                            time_kind=self.time_kind)


def _end_times(end: Any, end_col: np.ndarray, n: int, kind_s: TimeKind) -> tuple[np.ndarray, TimeKind]:
    """The end column as float seconds, ``+inf`` where it is missing or ``+inf`` (open broadcasts)."""
    if end is None:
        return np.full(n, np.inf), kind_s
    open_ = missing_mask(end_col)
    if end_col.dtype.kind == "f":
        open_ |= np.isposinf(end_col)
    elif end_col.dtype.kind == "O":
        open_ |= np.fromiter((isinstance(x, float) and x == np.inf for x in end_col), dtype=bool, count=n)
    if not open_.any():
        return as_times(end, "end", n)
    out = np.full(n, np.inf)
    if open_.all():
        return out, kind_s
    rows = np.flatnonzero(~open_)
    closed = end_col[rows]
    try:
        values, kind = as_times(closed.astype(object) if closed.dtype.kind in "US" else closed, "end")
    except (DataValidationError, DataTypeError) as err:  # name the row of the whole column
        msg = re.sub(r"\brow (\d+)", lambda m: f"row {rows[int(m.group(1))]}", str(err), count=1)
        raise type(err)(msg) from None
    out[rows] = values
    return out, kind


def _as_flags(on_air: Any, n: int) -> np.ndarray:
    """``on_air`` (one bool or one per change) as a bool array of length ``n``."""
    arr = np.asarray(on_air)
    if arr.dtype != bool:
        raise DataTypeError(f"on_air must be True/False (one, or one per change), got {on_air!r}.")
    if arr.ndim == 0:
        return np.full(n, bool(arr))
    if arr.shape != (n,):
        raise DataValidationError(f"on_air: got {arr.size} flags for {n} changes; pass one, or one per change.")
    return arr


class _Index:
    """The bucketed interval index of the short, closed broadcasts (never changes once built)."""

    __slots__ = ("t0", "width", "members", "ptr")

    def __init__(self, t0: float, width: float, members: np.ndarray, ptr: np.ndarray) -> None:
        self.t0, self.width, self.members, self.ptr = t0, width, members, ptr


class _Snapshot:
    """One immutable state of a schedule: a query reads ``LiveSchedule._snap`` once and uses only it.

    Rows are either in the bucket index (short, closed: their end never changes) or in the
    "long" list sorted by start (very long, open and recently added broadcasts), whose ends
    live in ``long_end`` (``end_base`` holds the ends as of the last full build).
    """

    __slots__ = ("items", "codes", "start", "end_base", "index", "long_rows", "long_start", "long_end",
                 "long_at_build", "n_at_build")

    def __init__(self, items: IdMap, codes: np.ndarray, start: np.ndarray, end_base: np.ndarray, index: _Index,
                 long_rows: np.ndarray, long_start: np.ndarray, long_end: np.ndarray, long_at_build: int,
                 n_at_build: int) -> None:
        self.items, self.codes, self.start, self.end_base, self.index = items, codes, start, end_base, index
        self.long_rows, self.long_start, self.long_end = long_rows, long_start, long_end
        self.long_at_build, self.n_at_build = long_at_build, n_at_build

    @property
    def bucket_members(self) -> np.ndarray:
        return self.index.members

    @property
    def end(self) -> np.ndarray:
        if not len(self.long_rows):
            return self.end_base
        end = self.end_base.copy()
        end[self.long_rows] = self.long_end
        return end

    def open_rows(self) -> np.ndarray:
        return self.long_rows[np.isinf(self.long_end)]

    def live_pairs(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(row of times, item code)`` of every broadcast live at each time (may repeat an item)."""
        nq = len(times)
        ix = self.index
        b = np.floor((times - ix.t0) / ix.width)
        valid = (b >= 0) & (b < len(ix.ptr) - 1)  # also False for NaN
        bc = np.where(valid, b, 0).astype(np.int64)
        counts = np.where(valid, ix.ptr[bc + 1] - ix.ptr[bc], 0)
        members = ix.members[concat_ranges(ix.ptr[bc], counts)]
        rows = np.repeat(np.arange(nq, dtype=np.int64), counts)
        tq = times[rows]
        live = (self.start[members] <= tq) & (tq < self.end_base[members])
        rows, codes = rows[live], self.codes[members[live]]
        if len(self.long_rows):
            # long broadcasts that started by each time (they are sorted by start)
            n_started = np.searchsorted(self.long_start, times, side="right")
            pos = concat_ranges(np.zeros(nq, dtype=np.int64), n_started)
            lrows = np.repeat(np.arange(nq, dtype=np.int64), n_started)
            live = times[lrows] < self.long_end[pos]
            rows = np.concatenate([rows, lrows[live]])
            codes = np.concatenate([codes, self.codes[self.long_rows[pos[live]]]])
        return rows, codes


def _build_snapshot(items: IdMap, codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> _Snapshot:
    # Short broadcasts go in fixed-width time buckets (each registered in the buckets it
    # overlaps); broadcasts much longer than a typical one (a 24/7 channel, an end in 9999, an
    # open one) would each fill millions of buckets, so they are kept apart, sorted by start,
    # and checked directly. Every broadcast thus costs a bounded number of index entries.
    durations = end - start
    finite = durations[np.isfinite(durations)]
    typical = float(np.median(finite)) if len(finite) else 1.0
    long = ~(durations <= _LONG_FACTOR * typical) | np.isinf(end)
    short = np.flatnonzero(~long)
    long_rows = np.flatnonzero(long)[np.argsort(start[long], kind="stable")]
    t0 = float(start[short].min()) if len(short) else 0.0
    t1 = float(end[short].max()) if len(short) else 1.0
    # bucket width ~ a typical broadcast, but never so fine that there are > 4M buckets
    width = max(typical, (t1 - t0) / _MAX_BUCKETS, 1e-9)
    first = np.floor((start[short] - t0) / width).astype(np.int64)
    last = np.floor((np.nextafter(end[short], -np.inf) - t0) / width).astype(np.int64)
    counts = last - first + 1
    n_buckets = int(last.max()) + 1 if len(short) else 1
    owner = np.repeat(short, counts)
    bucket = concat_ranges(first, counts)
    order = np.argsort(bucket, kind="stable")
    ptr = np.zeros(n_buckets + 1, dtype=np.int64)
    np.cumsum(np.bincount(bucket, minlength=n_buckets), out=ptr[1:])
    index = _Index(t0, width, owner[order], ptr)
    return _Snapshot(items, codes, start, end, index, long_rows, start[long_rows], end[long_rows],
                     len(long_rows), len(codes))
