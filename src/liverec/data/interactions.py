"""``Interactions``: one row per user-item event, stored column-wise with integer codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..exceptions import DataTypeError, DataValidationError, InvalidParameterError
from ._columns import (
    TimeKind,
    as_1d,
    as_row_index,
    as_times,
    as_weights,
    check_lengths,
    check_no_missing,
    normalize_ids,
    seconds_to_datetime,
    time_window_mask,
)
from .idmap import IdMap

#: The built-in event types, from the weakest to the strongest signal.
EVENT_TYPES: tuple[str, ...] = ("view", "like", "comment", "share", "gift", "cart", "purchase")

#: Default worth of each event type (used by ``to_csr(weighting="event")`` and profiles).
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0, "like": 2.0, "comment": 2.0, "share": 3.0, "gift": 4.0, "cart": 4.0, "purchase": 6.0,
}


def _frame_columns(frame: Any) -> list[Any] | None:
    """The column names of a pandas/polars DataFrame, a mapping or a record array (else ``None``).

    Only generic protocols are used (``keys()``, ``.columns``, ``dtype.names``), so any
    DataFrame library works and pandas is never needed.
    """
    if isinstance(frame, Mapping):
        return list(frame.keys())
    names = getattr(getattr(frame, "dtype", None), "names", None)
    if names:
        return list(names)
    cols = getattr(frame, "columns", None)
    if cols is not None and not callable(cols):
        try:
            return list(cols)
        except TypeError:
            return None
    return None


def _get_column(frame: Any, name: str | None, role: str, required: bool) -> Any:
    if name is None:
        return None
    cols = _frame_columns(frame)
    if cols is not None and name not in cols:
        if not required:
            return None
        raise DataValidationError(
            f"the {role} column {name!r} is not in the data (columns: {cols}); pass "
            f"{role}=<column name>."
        )
    try:
        return frame[name]
    except Exception:  # any frame library's own "no such column" error
        if not required:
            return None
        raise DataValidationError(
            f"the {role} column {name!r} cannot be read from a {type(frame).__name__}; pass a "
            f"pandas or polars DataFrame or a mapping of column name -> values, and {role}=<column name>."
        ) from None


class Interactions:
    """User-item events: who did what with which item (streamer/room/product), when.

    Stored column-wise: ``user_codes`` and ``item_codes`` (int64 codes into the ``users``
    and ``items`` [`IdMap`][liverec.data.IdMap]), ``time`` (float64 seconds; datetimes become seconds since
    the epoch), optional ``event`` codes into ``event_types`` and optional ``weight``.

    Subsets (``select``, ``between``, ``for_users``, splits) share the parent's ``IdMap``s,
    so codes mean the same thing in train and test. ``n_users``/``n_items`` count the ids in
    the maps, which may include ids with no event in a subset (``compact()`` drops them).

    Build with [`from_arrays`][liverec.data.Interactions.from_arrays], [`from_frame`][liverec.data.Interactions.from_frame], [`read_csv`][liverec.data.Interactions.read_csv] or
    [`read_parquet`][liverec.data.Interactions.read_parquet].

    Examples:
        >>> X = Interactions.from_arrays(
        ...     user=["ann", "ann", "bob"], item=[10, 11, 10], time=[1.0, 2.0, 3.0],
        ...     event=["view", "purchase", "view"])
        >>> len(X), X.n_users, X.n_items
        (3, 2, 2)
        >>> X.to_csr().toarray().tolist()
        [[1.0, 1.0], [1.0, 0.0]]
        >>> [s.tolist() for s in X.sequences()]
        [[0, 1], [0]]
    """

    def __init__(
        self,
        user_codes: np.ndarray,
        item_codes: np.ndarray,
        time: np.ndarray,
        users: IdMap,
        items: IdMap,
        event: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        *,
        event_types: Sequence[str] = EVENT_TYPES,
        time_kind: TimeKind = "numeric",
    ) -> None:
        self.user_codes = np.asarray(user_codes, dtype=np.int64)
        self.item_codes = np.asarray(item_codes, dtype=np.int64)
        self.time = np.asarray(time, dtype=np.float64)
        self.users = users
        self.items = items
        self.event = None if event is None else np.asarray(event, dtype=np.int16)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)
        self.event_types = tuple(event_types)
        self.time_kind = time_kind
        self._order: np.ndarray | None = None

    # Construction --------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        user: Any,
        item: Any,
        time: Any = None,
        event: Any = None,
        weight: Any = None,
        *,
        event_types: Sequence[str] | None = None,
        users: IdMap | None = None,
        items: IdMap | None = None,
    ) -> Interactions:
        """Build from columns.

        Args:
            user: External user ids (any hashable scalars: ints, strings).
            item: External item ids.
            time: Event times: numbers (any unit) or datetimes. ``None`` uses the row order
                (0, 1, 2, ...), which is only right if rows are already in time order.
            event: Event type names (see [`EVENT_TYPES`][liverec.data.EVENT_TYPES]). ``None`` means no event column.
            weight: Numbers such as watch seconds, ratings or amounts. ``None`` means 1.
            event_types: The allowed event names, when you use your own vocabulary.
            users: Map ids through this existing map (unknown ids are appended), so codes
                agree with another data set.
            items: Same for items.

        Returns:
            The validated interactions.

        Raises:
            DataValidationError: empty input, missing ids/times, different column lengths,
                unknown event names.
            DataTypeError: non-numeric weights, times that are neither numbers nor dates.
        """
        u = normalize_ids(user, "user")
        i = normalize_ids(item, "item")
        n = check_lengths({"user": u, "item": i})
        if time is None:
            t, kind = np.arange(n, dtype=np.float64), "order"
        else:
            t, kind = as_times(time, "time", n)
        w = None if weight is None else as_weights(weight, "weight", n)
        vocab = tuple(EVENT_TYPES if event_types is None else event_types)
        if event_types is not None and len(set(vocab)) != len(vocab):
            raise DataValidationError(f"event_types has duplicates: {list(vocab)}.")
        ev = None if event is None else encode_events(event, vocab, n, event_types is None)
        if users is None:
            umap, ucodes = IdMap.from_values(u, "user")
        else:
            umap = users.extend(u)
            ucodes = umap.codes(u)
        if items is None:
            imap, icodes = IdMap.from_values(i, "item")
        else:
            imap = items.extend(i)
            icodes = imap.codes(i)
        return cls(ucodes, icodes, t, umap, imap, ev, w, event_types=vocab, time_kind=kind)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        user: str = "user",
        item: str = "item",
        time: str | None = "time",
        event: str | None = "event",
        weight: str | None = "weight",
        *,
        event_types: Sequence[str] | None = None,
    ) -> Interactions:
        """Build from a pandas or polars DataFrame or any mapping of column name -> sequence.

        Neither pandas nor polars is imported: anything indexable by column name works. The
        ``time``, ``event`` and ``weight`` columns are used when present (set them to ``None``
        to ignore a column that exists).

        Examples:
            >>> X = Interactions.from_frame({"user": [1, 2], "item": ["a", "b"], "time": [5, 6]})
            >>> X.items.ids.tolist()
            ['a', 'b']
        """
        return cls.from_arrays(
            _get_column(frame, user, "user", True),
            _get_column(frame, item, "item", True),
            time=_get_column(frame, time, "time", time != "time"),
            event=_get_column(frame, event, "event", event != "event"),
            weight=_get_column(frame, weight, "weight", weight != "weight"),
            event_types=event_types,
        )

    @classmethod
    def from_csr(
        cls,
        matrix: Any,
        users: Any = None,
        items: Any = None,
        *,
        values: str = "weight",
        event_types: Sequence[str] | None = None,
    ) -> Interactions:
        """Build from a user x item sparse matrix, as ``implicit`` users hold their data.

        Every stored entry ``(u, i)`` becomes events of user ``users[u]`` on item ``items[i]``,
        in row-major order; there are no times (``time_kind == "order"``: the row order).

        Args:
            matrix: Any ``scipy.sparse`` matrix or array (CSR, CSC, COO, ...), shape
                ``(n_users, n_items)``. Duplicate entries are summed (scipy's convention).
            users: External ids of the rows (default ``0..n_users-1``), or an [`IdMap`][liverec.data.IdMap].
                Every row keeps its id, with or without entries, so ``to_csr()`` gives back the
                same shape.
            items: External ids of the columns (default ``0..n_items-1``), or an [`IdMap`][liverec.data.IdMap].
            values: What a stored value means: ``"weight"`` (default: one event per entry, the
                value becomes its ``weight``, e.g. watch seconds or a confidence), ``"count"``
                (the value is a number of events: whole numbers >= 1, repeated as rows, no weight
                column) or ``"binary"`` (one event per entry, no weight column).
            event_types: Passed on (there is no event column).

        Returns:
            The interactions; ``to_csr("sum")`` (``"count"`` for ``values="count"``) rebuilds
            the matrix.

        Raises:
            DataTypeError: not a scipy sparse matrix, or values that are not real numbers.
            DataValidationError: an explicitly stored zero (call ``matrix.eliminate_zeros()``
                first if zeros mean "no interaction"), NaN or infinite values, negative or
                fractional counts for ``values="count"``, ids of the wrong length, no entries.

        Examples:
            >>> import scipy.sparse as sp
            >>> m = sp.csr_matrix([[0, 3.0], [1.5, 0]])
            >>> X = Interactions.from_csr(m, users=["ann", "bob"], items=["a", "b"])
            >>> X.to_dict()["user"].tolist(), X.to_dict()["item"].tolist(), X.weight.tolist()
            (['ann', 'bob'], ['b', 'a'], [3.0, 1.5])
            >>> (X.to_csr("sum") != m).nnz
            0
        """
        if not sp.issparse(matrix):
            raise DataTypeError(
                f"from_csr expects a scipy.sparse matrix, got {type(matrix).__name__}; wrap a dense "
                "array with scipy.sparse.csr_array(a), or use from_arrays for columns."
            )
        if values not in ("weight", "count", "binary"):
            raise DataValidationError(f"values must be 'weight', 'count' or 'binary', got {values!r}.")
        if matrix.ndim != 2:
            raise DataValidationError(f"from_csr expects a 2-D matrix, got shape {matrix.shape}.")
        if matrix.dtype.kind not in "biuf":
            raise DataTypeError(
                f"from_csr: matrix values of dtype {matrix.dtype} are not real numbers; convert "
                "them with matrix.astype(float)."
            )
        m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
        m.sum_duplicates()
        m.sort_indices()
        n_users, n_items = m.shape
        rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(m.indptr))
        cols = m.indices.astype(np.int64)
        data = m.data

        def where(mask: np.ndarray) -> str:
            j = int(np.flatnonzero(mask)[0])
            return f"at row {int(rows[j])}, column {int(cols[j])} (value {data[j]!r})"

        if len(data) and not np.isfinite(data).all():
            raise DataValidationError(
                f"from_csr: NaN or infinite value {where(~np.isfinite(data))}; fix or drop it."
            )
        if (data == 0).any():
            raise DataValidationError(
                f"from_csr: an explicitly stored zero {where(data == 0)}; zeros mean no "
                "interaction: call matrix.eliminate_zeros() first."
            )
        if values == "count":
            bad = (data < 1) | (data % 1 != 0)
            if bad.any():
                raise DataValidationError(
                    f"from_csr(values='count'): counts must be whole numbers >= 1, got {where(bad)}; "
                    "use values='weight' for other values."
                )
            total = float(data.sum())
            if total > 100_000_000:
                raise DataValidationError(
                    f"from_csr(values='count'): the counts add up to {total:.0f} events (more than "
                    "100 million rows); use values='weight' to keep one row per entry."
                )
            reps = data.astype(np.int64)
            rows, cols = np.repeat(rows, reps), np.repeat(cols, reps)
        umap = users if isinstance(users, IdMap) else IdMap(
            np.arange(n_users, dtype=np.int64) if users is None else users, "user")
        imap = items if isinstance(items, IdMap) else IdMap(
            np.arange(n_items, dtype=np.int64) if items is None else items, "item")
        for idmap, size, role in ((umap, n_users, "users"), (imap, n_items, "items")):
            if len(idmap) != size:
                raise DataValidationError(
                    f"from_csr: {role} has {len(idmap)} ids but the matrix has {size} "
                    f"{'rows' if role == 'users' else 'columns'}; pass one id per "
                    f"{'row' if role == 'users' else 'column'}."
                )
        check_lengths({"user": rows, "item": cols})
        weight = data.copy() if values == "weight" else None
        vocab = tuple(EVENT_TYPES if event_types is None else event_types)
        return cls(rows, cols, np.arange(len(rows), dtype=np.float64), umap, imap, None, weight,
                   event_types=vocab, time_kind="order")

    @classmethod
    def read_csv(cls, path: str, *, id_type: str | Mapping[str, str] = "str", delimiter: str = ",",
                 **columns: Any) -> Interactions:
        """Read a CSV file with a header row; keyword arguments as in [`from_frame`][liverec.data.Interactions.from_frame].

        Ids stay exactly as written (strings: ``007`` and ``7`` are two users) unless
        ``id_type="int"`` (user and item ids) or ``id_type={"user": "int"}`` (one column)
        asks for integers: then every cell must be an integer literal, or it is refused. Times are parsed as numbers when every cell is a
        number, else as ISO-8601 datetimes; weights as numbers. Every row must have as many
        fields as the header.

        Args:
            path: The CSV file.
            id_type: ``"str"`` (default: ids as written), ``"int"``, or a mapping from
                ``"user"``/``"item"`` to one of them.
            delimiter: The field separator.
            **columns: Column names, as in [`from_frame`][liverec.data.Interactions.from_frame] (``user=``, ``item=``, ...).

        Examples:
            >>> import pathlib, tempfile
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "events.csv"
            >>> _ = p.write_text("user,item,time\\n007,a,1\\n7,a,2\\n")
            >>> Interactions.read_csv(p).users.ids.tolist()
            ['007', '7']
            >>> Interactions.read_csv(p, id_type={"user": "int"}).users.ids.tolist()
            [7]
        """
        from .io import convert_ids, read_csv_columns

        data = read_csv_columns(path, delimiter=delimiter)
        data = convert_ids(data, {"user": columns.get("user", "user"), "item": columns.get("item", "item")},
                           id_type)
        return cls.from_frame(data, **columns)

    @classmethod
    def read_parquet(cls, path: str, *, rank: int | None = None, world_size: int | None = None,
                     shard_by: str = "row_group", batch_rows: int = 1 << 20, **columns: Any) -> Interactions:
        """Read a Parquet file or a directory of Parquet files (needs pyarrow: the ``parquet`` extra).

        Streams the data in record batches of ``batch_rows`` rows, reading only the columns it
        needs, so data sets larger than memory in their raw form (string ids) load as long as
        the codes fit (24 to 34 bytes per event); ``rank`` / ``world_size`` read one shard:
        ``shard_by="row_group"`` a run of the row groups, ``shard_by="user"`` the events of the
        users whose id hashes to ``rank`` (every user's whole sequence in one shard, as
        [`shard`][liverec.data.Interactions.shard] splits; for ``distributed_data="sharded"``).
        Column keywords as in [`from_frame`][liverec.data.Interactions.from_frame]; see
        [`read_parquet_interactions`][liverec.data.parquet.read_parquet_interactions].

        Examples:
            >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
            >>> f = tempfile.mkdtemp() + "/events.parquet"
            >>> pq.write_table(pa.table({"viewer": [1, 2], "room": ["a", "b"], "time": [5, 6]}), f)
            >>> Interactions.read_parquet(f, user="viewer", item="room").users.ids.tolist()
            [1, 2]
        """
        from .parquet import read_parquet_interactions

        return read_parquet_interactions(path, rank=rank, world_size=world_size, shard_by=shard_by,
                                         batch_rows=batch_rows, **columns)

    # Basic properties ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.user_codes)

    @property
    def n_users(self) -> int:
        """Number of ids in the user map."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of ids in the item map."""
        return len(self.items)

    @property
    def user(self) -> np.ndarray:
        """External user id of every row."""
        return self.users.take(self.user_codes)

    @property
    def item(self) -> np.ndarray:
        """External item id of every row."""
        return self.items.take(self.item_codes)

    @property
    def event_names(self) -> np.ndarray | None:
        """Event type name of every row (``None`` if there is no event column)."""
        if self.event is None:
            return None
        return np.asarray(self.event_types, dtype=object)[self.event]

    @property
    def has_time(self) -> bool:
        """Whether times were given (rather than taken from the row order)."""
        return self.time_kind != "order"

    def __repr__(self) -> str:
        cols = ["user", "item", "time"]
        if self.event is not None:
            cols.append("event")
        if self.weight is not None:
            cols.append("weight")
        return (
            f"Interactions(n_events={len(self)}, n_users={self.n_users}, n_items={self.n_items}, "
            f"columns={cols})"
        )

    def _replace(self, **kwargs: Any) -> Interactions:
        state: dict[str, Any] = dict(
            user_codes=self.user_codes, item_codes=self.item_codes, time=self.time,
            users=self.users, items=self.items, event=self.event, weight=self.weight,
        )
        state.update(kwargs)
        return Interactions(**state, event_types=self.event_types, time_kind=self.time_kind)

    # Conversion ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns as numpy arrays with external ids (datetimes back as ``datetime64[us]``)."""
        out = {"user": self.user, "item": self.item, "time": self.time_values()}
        names = self.event_names
        if names is not None:
            out["event"] = names
        if self.weight is not None:
            out["weight"] = self.weight
        return out

    def time_values(self) -> np.ndarray:
        """Times in their input form: ``datetime64`` for datetimes, numbers otherwise."""
        if self.time_kind == "datetime":
            return seconds_to_datetime(self.time)
        return self.time

    def to_frame(self) -> Any:
        """A pandas DataFrame of [`to_dict`][liverec.data.Interactions.to_dict] (requires pandas)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover
            raise ImportError("to_frame() needs pandas: pip install pandas") from err
        return pd.DataFrame(self.to_dict())

    def event_weights(self, weights: Mapping[str, float] | None = None) -> np.ndarray:
        """Per-row worth of the event type (1.0 for all rows without an event column).

        Raises:
            DataValidationError: when ``weights`` lacks an event type present in the data.
        """
        if self.event is None:
            return np.ones(len(self), dtype=np.float64)
        if weights is not None and not isinstance(weights, Mapping):
            raise InvalidParameterError(
                f"event_weights must be a mapping {{event name: worth}}, got {type(weights).__name__}."
            )
        table = dict(DEFAULT_EVENT_WEIGHTS if weights is None else weights)
        bad = [(k, v) for k, v in table.items() if isinstance(v, bool) or not isinstance(v, (int, float, np.integer,
                                                                                               np.floating))
               or not np.isfinite(v)]
        if bad:
            raise InvalidParameterError(
                f"event_weights: the worth of {bad[0][0]!r} must be a finite number, got {bad[0][1]!r}."
            )
        present = np.unique(self.event)
        missing = [self.event_types[c] for c in present if self.event_types[c] not in table]
        if missing:
            raise DataValidationError(
                f"no weight for event type(s) {missing}; add them to event_weights "
                f"(given: {sorted(table)})."
            )
        lut = np.array([table.get(name, 0.0) for name in self.event_types], dtype=np.float64)
        return lut[self.event]

    def to_csr(
        self,
        weighting: str = "count",
        *,
        event_weights: Mapping[str, float] | None = None,
        dtype: Any = np.float32,
    ) -> sp.csr_matrix:
        """The user x item matrix (shape ``(n_users, n_items)``).

        Args:
            weighting: ``"count"`` (number of events), ``"sum"`` (sum of ``weight``),
                ``"binary"`` (1 if any event), ``"event"`` (sum of event-type worth),
                ``"last"`` (the ``weight`` of the latest event: ratings that were revised).
            event_weights: Worth per event type for ``weighting="event"``.
            dtype: Value dtype (float32, float64 or an integer type).
        """
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "fiu" or dtype == np.float16 or dtype.itemsize > 8:
            raise InvalidParameterError(
                "to_csr: dtype must be a float (float32, float64) or integer numpy dtype, got "
                f"{dtype!r}."
            )
        shape = (self.n_users, self.n_items)
        # counts are summed in the float type asked for (exact: the same rounding as summing in
        # float64 and casting), which spares a float64 copy of every event on large data
        acc = dtype if weighting in ("count", "binary") and dtype.kind == "f" else np.dtype(np.float64)
        if weighting == "count" or weighting == "binary":
            vals = np.ones(len(self), dtype=acc)
        elif weighting == "sum":
            vals = self.weight if self.weight is not None else np.ones(len(self))
        elif weighting == "event":
            vals = self.event_weights(event_weights)
        elif weighting == "last":
            order = self.sort_order()
            u, i = self.user_codes[order], self.item_codes[order]
            w = self.weight[order] if self.weight is not None else np.ones(len(self))
            key = u * np.int64(self.n_items) + i
            # last occurrence of every (user, item) in time order
            _, last_rev = np.unique(key[::-1], return_index=True)
            keep = len(key) - 1 - last_rev
            return sp.csr_matrix((w[keep].astype(dtype), (u[keep], i[keep])), shape=shape)
        else:
            raise InvalidParameterError(
                f"weighting must be 'count', 'sum', 'binary', 'event' or 'last', got {weighting!r}."
            )
        m = sp.csr_matrix((vals, (self.user_codes, self.item_codes)), shape=shape, dtype=acc)
        m.sum_duplicates()
        if weighting == "binary":
            m.data[:] = 1.0
        m.sort_indices()
        return m.astype(dtype, copy=False)

    def sort_order(self) -> np.ndarray:
        """Row indices sorted by (user, time), ties kept in row order."""
        if self._order is None:
            self._order = np.lexsort((np.arange(len(self)), self.time, self.user_codes))
        return self._order

    def sequence_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, order)``: user ``u``'s events are rows ``order[indptr[u]:indptr[u+1]]``, in time order."""
        order = self.sort_order()
        counts = np.bincount(self.user_codes, minlength=self.n_users)
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, order

    def sequences(self, return_times: bool = False) -> list[Any]:
        """Every user's item codes in time order (one array per user code).

        Args:
            return_times: Return ``(items, times)`` pairs instead.
        """
        indptr, order = self.sequence_arrays()
        items = np.split(self.item_codes[order], indptr[1:-1])
        if not return_times:
            return items
        times = np.split(self.time[order], indptr[1:-1])
        return list(zip(items, times, strict=True))

    # Slicing -------------------------------------------------------------------------------
    def select(self, rows: Any) -> Interactions:
        """Rows by boolean mask or index array; the id maps are shared."""
        rows = as_row_index(rows, len(self))
        return self._replace(
            user_codes=self.user_codes[rows], item_codes=self.item_codes[rows], time=self.time[rows],
            event=None if self.event is None else self.event[rows],
            weight=None if self.weight is None else self.weight[rows],
        )

    def between(self, start: Any = None, end: Any = None) -> Interactions:
        """Events with ``start <= time < end`` (either bound may be ``None``).

        Bounds take every time form (numbers; for datetime data ``datetime64``, ``datetime``,
        ``date``, ``pd.Timestamp``, ISO strings, time-zone-aware values in UTC) and must be of
        the data's kind: a datetime bound on numeric times, or the reverse, raises
        [`DataTypeError`][liverec.exceptions.DataTypeError].
        """
        return self.select(time_window_mask(self.time, start, end, kind=self.time_kind))

    def before(self, t: Any) -> Interactions:
        """Events strictly before ``t``."""
        return self.between(None, t)

    def after(self, t: Any) -> Interactions:
        """Events at or after ``t``."""
        return self.between(t, None)

    def for_users(self, users: Any) -> Interactions:
        """Events of the given external user ids (unknown ids raise ``UnknownIdError``)."""
        codes = self.users.codes(users)
        return self.select(np.isin(self.user_codes, codes))

    def for_items(self, items: Any) -> Interactions:
        """Events on the given external item ids."""
        codes = self.items.codes(items)
        return self.select(np.isin(self.item_codes, codes))

    def with_maps(self, users: IdMap | None = None, items: IdMap | None = None) -> Interactions:
        """Re-code into other maps (extended with any id they lack), e.g. a fitted model's."""
        out_users = self.users if users is None else users.extend(self.users.ids)
        out_items = self.items if items is None else items.extend(self.items.ids)
        ucodes = self.user_codes if users is None else out_users.codes(self.users.ids)[self.user_codes]
        icodes = self.item_codes if items is None else out_items.codes(self.items.ids)[self.item_codes]
        return self._replace(user_codes=ucodes, item_codes=icodes, users=out_users, items=out_items)

    def compact(self) -> Interactions:
        """Drop ids that have no event from the maps (codes are renumbered)."""
        u_used, u_codes = np.unique(self.user_codes, return_inverse=True)
        i_used, i_codes = np.unique(self.item_codes, return_inverse=True)
        users = IdMap(self.users.take(u_used), "user")
        items = IdMap(self.items.take(i_used), "item")
        return self._replace(user_codes=u_codes, item_codes=i_codes, users=users, items=items)

    def shard(self, rank: int, world_size: int) -> Interactions:
        """The events of the users in shard ``rank`` of ``world_size``, split by user id.

        A user's events all land in one shard: [`shard_of`][liverec.data.shard_of] hashes the
        user id's value (stable across processes and runs), so every process of a
        ``torchrun`` job can take its own part without talking to the others, and the parts
        are disjoint and cover the data. The same split as ``Interactions.read_parquet(path,
        rank=rank, world_size=world_size, shard_by="user")``. Row order is kept; the maps hold
        only this shard's users and items (``compact``). A shard may be empty when there are
        few users.

        Args:
            rank: This shard, ``0 <= rank < world_size``.
            world_size: Number of shards.

        Returns:
            The shard's interactions (for ``fit`` with ``distributed_data="sharded"``).

        Raises:
            DataValidationError: ``rank`` / ``world_size`` out of range.

        Examples:
            >>> X = Interactions.from_arrays(user=["ann", "bob", "cy", "ann"], item=[1, 2, 3, 2],
            ...                              time=[1, 2, 3, 4])
            >>> [X.shard(r, 2).users.ids.tolist() for r in range(2)]
            [['ann', 'bob'], ['cy']]
            >>> sum(len(X.shard(r, 2)) for r in range(2)) == len(X)
            True
        """
        from .sharding import shard_of

        if (isinstance(rank, bool) or not isinstance(rank, (int, np.integer))
                or not 0 <= rank < (world_size if isinstance(world_size, (int, np.integer)) else 0)):
            raise DataValidationError(
                f"rank must be an int in [0, world_size), got rank={rank!r}, world_size={world_size!r}.")
        owner = shard_of(self.users.ids, world_size)
        return self.select(owner[self.user_codes] == rank).compact()

    def concat(self, other: Interactions) -> Interactions:
        """These events followed by ``other``'s; maps are merged (codes here are kept)."""
        if (self.event is None) != (other.event is None):
            raise DataValidationError("cannot concatenate interactions with and without an event column.")
        if (self.weight is None) != (other.weight is None):
            raise DataValidationError("cannot concatenate interactions with and without a weight column.")
        if self.time_kind != other.time_kind:
            raise DataTypeError(
                f"cannot concatenate {self.time_kind} times with {other.time_kind} times "
                "('order' means no time column: the row order); build both with the same kind of "
                "times (both datetimes, both numbers in one unit, or both without time)."
            )
        o = other.with_maps(self.users, self.items)
        if self.time_kind == "order":  # row positions continue after these rows
            o = o._replace(time=o.time + (float(self.time.max()) + 1.0 if len(self) else 0.0))
        vocab = list(self.event_types) + [e for e in other.event_types if e not in self.event_types]
        ev = None
        if self.event is not None and other.event is not None:
            remap = np.array([vocab.index(e) for e in other.event_types], dtype=np.int16)
            ev = np.concatenate([self.event, remap[other.event]])
        out = Interactions(
            np.concatenate([self.user_codes, o.user_codes]),
            np.concatenate([self.item_codes, o.item_codes]),
            np.concatenate([self.time, o.time]),
            o.users, o.items, ev,
            None if self.weight is None else np.concatenate([self.weight, o.weight]),
            event_types=vocab, time_kind=self.time_kind,
        )
        return out

    __add__ = concat


def encode_events(event: Any, vocab: Sequence[str], n: int, default_vocab: bool) -> np.ndarray:
    """Event names -> codes into ``vocab``; unknown names raise with the fix."""
    arr = as_1d(event, "event")
    if len(arr) != n:
        raise DataValidationError(
            f"column 'event' has {len(arr)} rows but the other columns have {n}; "
            "all columns must have the same length."
        )
    check_no_missing(arr, "event")
    names, inverse = np.unique(arr.astype(str), return_inverse=True)
    lut = {name: k for k, name in enumerate(vocab)}
    codes = np.array([lut.get(name, -1) for name in names.tolist()], dtype=np.int16)
    if (codes < 0).any():
        bad_name = str(names[int(np.flatnonzero(codes < 0)[0])])
        row = int(np.flatnonzero(arr.astype(str) == bad_name)[0])
        hint = (
            "pass event_types=[...] listing your own event names"
            if default_vocab else "add it to event_types"
        )
        raise DataValidationError(
            f"column 'event': unknown event {bad_name!r} at row {row}; known events are "
            f"{list(vocab)}: {hint}."
        )
    return codes[inverse.reshape(-1)]
