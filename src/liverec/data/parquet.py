"""Read Parquet data sets larger than memory into ``Interactions`` (needs pyarrow).

`read_parquet_interactions` streams a Parquet file, or a directory of them, in record
batches of at most ``batch_rows`` rows, reading only the columns it needs (column
projection). Each batch's ids are dictionary-encoded by Arrow and only the distinct ids of
the batch are merged into the growing vocabularies, so the raw id columns (strings, often the
largest part of a file) are never held whole, let alone twice: what grows with the data are
the output arrays (int64 user and item codes, float64 times, optional int16 events and
float64 weights: 24 to 34 bytes per event), allocated once from the row counts in the files'
metadata and filled in place. Codes are renumbered at the end so that the ``IdMap``s are
sorted, as ``Interactions.from_arrays`` builds them.

``rank`` / ``world_size`` read one shard. ``shard_by="row_group"``: the row groups of all
files, in file order, cut into ``world_size`` nearly equal consecutive runs, of which this
reader takes run ``rank`` (a user's events may then lie in several shards).
``shard_by="user"``: every reader streams all the row groups, but keeps only the rows whose
user id falls in shard ``rank`` by [`shard_of`][liverec.data.shard_of] (a stable hash of the
id), so each user's whole sequence is in one shard; the batch is filtered before its rows are
copied, and the output arrays grow with the rows kept (sized for ``1/world_size`` of the rows
at first, doubled when a skewed shard needs more).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataFileNotFoundError, DataTypeError, DataValidationError
from ._columns import as_times, as_weights, normalize_ids
from .idmap import IdMap
from .interactions import EVENT_TYPES, Interactions, encode_events
from .sharding import shard_of

__all__ = ["parquet_files", "read_parquet_interactions"]

#: rows per record batch read at once (bounded memory: the raw columns of one batch)
DEFAULT_BATCH_ROWS = 1 << 20


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError(
            "reading Parquet needs pyarrow: pip install 'liverec[parquet]' (or pip install pyarrow)."
        ) from err
    return pq


def parquet_files(path: str | os.PathLike[str]) -> list[str]:
    """The Parquet files of ``path``: the file itself, or every ``*.parquet`` file under a
    directory (recursively, in sorted path order).

    Raises:
        DataFileNotFoundError: no such file or directory.
        DataValidationError: a directory without ``.parquet`` files.

    Examples:
        >>> import tempfile
        >>> parquet_files(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        liverec.exceptions.DataValidationError: no .parquet files under ...
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise DataFileNotFoundError(f"no such file or directory: {str(p)!r}")
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet") if f.is_file())
        if not files:
            raise DataValidationError(
                f"no .parquet files under {str(p)!r}; pass a Parquet file or a directory holding "
                "files named *.parquet.")
        return files
    return [str(p)]


@dataclass
class _Vocabulary:
    """Distinct ids met so far: provisional codes in order of first appearance, looked up
    through a sorted copy (merging a batch's distinct ids costs one pass over the vocabulary)."""

    role: str
    sorted_ids: np.ndarray | None = None
    sorted_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.sorted_codes)

    def codes(self, distinct: np.ndarray, where: str) -> np.ndarray:
        """Provisional codes of ``distinct`` (distinct ids), adding the new ones."""
        if self.sorted_ids is None:
            self.sorted_ids = distinct[:0]
        if distinct.dtype.kind != self.sorted_ids.dtype.kind:
            raise DataTypeError(
                f"column {self.role!r}: {where} holds {_kind(distinct)} ids but earlier rows hold "
                f"{_kind(self.sorted_ids)} ids; write one id type in every file (cast the column).")
        pos = np.searchsorted(self.sorted_ids, distinct)
        found = pos < len(self.sorted_ids)
        found[found] = self.sorted_ids[pos[found]] == distinct[found]
        out = np.empty(len(distinct), dtype=np.int64)
        out[found] = self.sorted_codes[pos[found]]
        new = distinct[~found]
        if len(new):
            order = np.argsort(new, kind="stable")
            new_codes = len(self) + np.arange(len(new), dtype=np.int64)
            out[np.flatnonzero(~found)[order]] = new_codes
            at = np.searchsorted(self.sorted_ids, new[order])
            self.sorted_ids = np.insert(self.sorted_ids, at, new[order])
            self.sorted_codes = np.insert(self.sorted_codes, at, new_codes)
        return out

    def finish(self, codes: np.ndarray, chunk: int = 1 << 22) -> IdMap:
        """Renumber ``codes`` in place into the sorted order of the ids; the sorted ``IdMap``."""
        final = np.empty(len(self), dtype=np.int64)
        final[self.sorted_codes] = np.arange(len(self), dtype=np.int64)
        for s in range(0, len(codes), chunk):
            codes[s:s + chunk] = final[codes[s:s + chunk]]
        ids = self.sorted_ids if self.sorted_ids is not None else np.zeros(0, dtype=np.int64)
        return IdMap(ids, self.role)


def _kind(arr: np.ndarray) -> str:
    return "string" if arr.dtype.kind == "U" else "integer"


@dataclass
class _Columns:
    """The column names to read and the output arrays being filled."""

    user: str
    item: str
    time: str | None
    event: str | None
    weight: str | None
    n: int
    event_types: tuple[str, ...]
    default_vocab: bool
    users: _Vocabulary = field(init=False)
    items: _Vocabulary = field(init=False)
    user_codes: np.ndarray = field(init=False)
    item_codes: np.ndarray = field(init=False)
    times: np.ndarray = field(init=False)
    events: np.ndarray | None = field(init=False)
    weights: np.ndarray | None = field(init=False)
    time_kind: str | None = None

    def __post_init__(self) -> None:
        self.users, self.items = _Vocabulary("user"), _Vocabulary("item")
        self.user_codes = np.empty(self.n, dtype=np.int64)
        self.item_codes = np.empty(self.n, dtype=np.int64)
        self.times = np.empty(self.n, dtype=np.float64)
        self.events = None if self.event is None else np.empty(self.n, dtype=np.int16)
        self.weights = None if self.weight is None else np.empty(self.n, dtype=np.float64)

    @property
    def names(self) -> list[str]:
        return [c for c in (self.user, self.item, self.time, self.event, self.weight) if c is not None]

    def _resize(self, n: int) -> None:
        for name in ("user_codes", "item_codes", "times", "events", "weights"):
            arr = getattr(self, name)
            if arr is not None:
                arr.resize(n, refcheck=False)  # the arrays are this object's alone

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` rows in the output arrays (doubling, for user shards of unknown size)."""
        if rows > len(self.user_codes):
            self._resize(max(rows, 2 * len(self.user_codes)))

    def trim(self, rows: int) -> None:
        """Drop the unused room past ``rows``."""
        if rows < len(self.user_codes):
            self._resize(rows)


def _id_codes(column: Any, vocab: _Vocabulary, where: str) -> np.ndarray:
    """Provisional codes of one batch's id column: Arrow finds its distinct ids, numpy merges them."""
    import pyarrow as pa

    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataValidationError(
            f"column {vocab.role!r}: missing id at {where}, row {row}; drop or fill those rows.")
    enc = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    distinct = normalize_ids(enc.dictionary.to_numpy(zero_copy_only=False), vocab.role)
    codes = vocab.codes(distinct, where)
    return codes[enc.indices.to_numpy(zero_copy_only=False)]


def _user_rows(column: Any, rank: int, world_size: int, where: str) -> np.ndarray:
    """Rows of one batch whose user id falls in shard ``rank`` (hashing each distinct id once)."""
    import pyarrow as pa

    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataValidationError(f"column 'user': missing id at {where}, row {row}; drop or fill those rows.")
    enc = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    owner = shard_of(normalize_ids(enc.dictionary.to_numpy(zero_copy_only=False), "user"), world_size)
    mask: np.ndarray = owner[enc.indices.to_numpy(zero_copy_only=False)] == rank
    return mask


def _fill(cols: _Columns, batch: Any, lo: int, row0: int, where: str,
          positions: np.ndarray | None = None) -> None:
    """Write one record batch into rows ``lo:lo+len(batch)`` of the output arrays (``positions``:
    the rows' places in the data set when the batch was filtered, else ``row0, row0 + 1, ...``)."""
    n = batch.num_rows
    hi = lo + n
    cols.user_codes[lo:hi] = _id_codes(batch.column(cols.user), cols.users, where)
    cols.item_codes[lo:hi] = _id_codes(batch.column(cols.item), cols.items, where)
    try:
        if cols.time is None:  # no time column: the position in the data set
            t = np.arange(row0, row0 + n, dtype=np.float64) if positions is None else positions.astype(np.float64)
            kind = "order"
        else:
            t, kind = as_times(batch.column(cols.time).to_numpy(zero_copy_only=False), cols.time, n)
        if cols.events is not None:
            cols.events[lo:hi] = encode_events(batch.column(cols.event).to_numpy(zero_copy_only=False),
                                               cols.event_types, n, cols.default_vocab)
        if cols.weights is not None:
            assert cols.weight is not None
            cols.weights[lo:hi] = as_weights(batch.column(cols.weight).to_numpy(zero_copy_only=False),
                                              cols.weight, n)
    except DataValidationError as err:  # the message's row is within the batch: say which
        raise type(err)(f"{where}: {err}") from None
    if cols.time_kind is not None and kind != cols.time_kind:
        raise DataTypeError(
            f"column {cols.time!r}: {where} holds {kind} times but earlier rows hold {cols.time_kind} "
            "times; write one kind of time (all datetimes or all numbers) in every file.")
    cols.time_kind = kind
    cols.times[lo:hi] = t


def _optional(name: str | None, default: str, names: Sequence[str], role: str, path: str) -> str | None:
    """The column to read for an optional role: absent is fine for the default name only."""
    if name is None or name in names:
        return name
    if name == default:
        return None
    raise DataValidationError(
        f"{path!r}: the {role} column {name!r} is not in the file (columns: {list(names)}); pass "
        f"{role}=<column name>, or {role}=None.")


def _row_groups(files: list[str], rank: int | None, world_size: int | None) -> list[tuple[str, int, int, int]]:
    """``(file, row group, rows, first global row)`` of this shard's row groups."""
    pq = _pyarrow()
    groups: list[tuple[str, int, int, int]] = []
    start = 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            groups.append((f, g, rows, start))
            start += rows
    if world_size is None:
        return groups
    assert rank is not None
    mine = [groups[k] for k in np.array_split(np.arange(len(groups)), world_size)[rank]]
    if not mine:
        raise DataValidationError(
            f"rank {rank} of {world_size} got no row group: the data holds {len(groups)}; write "
            "smaller row groups (pyarrow: row_group_size=...) or read with fewer ranks.")
    return mine


def _check_shard(rank: int | None, world_size: int | None, shard_by: str = "row_group") -> None:
    if shard_by not in ("row_group", "user"):
        raise DataValidationError(
            f"shard_by must be 'row_group' (a run of the row groups) or 'user' (the users whose id "
            f"hashes to rank: whole sequences), got {shard_by!r}.")
    if (rank is None) != (world_size is None):
        raise DataValidationError("pass both rank and world_size to read one shard, or neither.")
    if world_size is not None and rank is not None:
        if not (isinstance(world_size, (int, np.integer)) and world_size >= 1 and isinstance(rank, (int, np.integer))
                and 0 <= rank < world_size):
            raise DataValidationError(
                f"rank must be an int in [0, world_size) and world_size an int >= 1, got rank={rank!r}, "
                f"world_size={world_size!r}.")


def read_parquet_interactions(
    path: str | os.PathLike[str],
    *,
    user: str = "user",
    item: str = "item",
    time: str | None = "time",
    event: str | None = "event",
    weight: str | None = "weight",
    event_types: Sequence[str] | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    shard_by: str = "row_group",
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Interactions:
    """Read a Parquet file, or a directory of Parquet files, into ``Interactions`` in bounded memory.

    Only the named columns are read, ``batch_rows`` rows at a time; the ids of each batch are
    merged into the vocabularies and the batch is dropped (see the module notes). ``time``,
    ``event`` and ``weight`` are used when present, as in ``Interactions.from_frame``; without a
    time column, times are the rows' positions in the whole data set (``time_kind == "order"``).

    Args:
        path: A ``.parquet`` file or a directory (every ``*.parquet`` file under it, sorted).
        user: The user id column.
        item: The item id column.
        time: The time column (numbers, timestamps or ISO strings); ``None`` to ignore it.
        event: The event name column; ``None`` to ignore it.
        weight: The weight column; ``None`` to ignore it.
        event_types: Allowed event names when you use your own vocabulary.
        rank: Read only this shard (with ``world_size``).
        world_size: Number of shards the data is cut into.
        shard_by: How a shard is cut: ``"row_group"`` (a run of the row groups; every row
            group is read by one rank only) or ``"user"`` (the rows whose user id falls in
            shard ``rank`` by [`shard_of`][liverec.data.shard_of]; every rank streams all the
            files, and keeps each user's whole sequence; such a shard may be empty).
        batch_rows: Rows per record batch (memory of the raw columns in flight).

    Returns:
        The interactions (of this shard), with sorted ``IdMap``s (holding this shard's ids).

    Raises:
        ImportError: pyarrow is not installed (``pip install 'liverec[parquet]'``).
        DataFileNotFoundError: no such path.
        DataValidationError: a named column is missing, ids or times are missing, a shard is
            empty; the message names the file, row group batch and row.
        DataTypeError: a column changes type between files (ids, or kinds of time).

    Examples:
        >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
        >>> d = tempfile.mkdtemp()
        >>> pq.write_table(pa.table({"user": ["u1", "u2"], "item": [7, 8], "time": [1.0, 2.0]}),
        ...                f"{d}/a.parquet")
        >>> pq.write_table(pa.table({"user": ["u2"], "item": [9], "time": [3.0]}), f"{d}/b.parquet")
        >>> X = read_parquet_interactions(d)
        >>> len(X), X.users.ids.tolist(), X.items.ids.tolist()
        (3, ['u1', 'u2'], [7, 8, 9])
        >>> len(read_parquet_interactions(d, rank=1, world_size=2))
        1
        >>> [read_parquet_interactions(d, rank=r, world_size=3, shard_by="user").users.ids.tolist()
        ...  for r in range(3)]
        [[], ['u2'], ['u1']]
    """
    pq = _pyarrow()
    import pyarrow as pa

    _check_shard(rank, world_size, shard_by)
    if not isinstance(batch_rows, (int, np.integer)) or batch_rows < 1:
        raise DataValidationError(f"batch_rows must be a positive int, got {batch_rows!r}.")
    files = parquet_files(path)
    by_user = shard_by == "user" and world_size is not None
    groups = _row_groups(files, None if by_user else rank, None if by_user else world_size)
    names = list(pq.ParquetFile(groups[0][0]).schema_arrow.names)
    for role, name in (("user", user), ("item", item)):
        if name not in names:
            raise DataValidationError(
                f"{groups[0][0]!r}: the {role} column {name!r} is not in the file (columns: {names}); "
                f"pass {role}=<column name>.")
    vocab = tuple(EVENT_TYPES if event_types is None else event_types)
    cols = _Columns(user, item, _optional(time, "time", names, "time", groups[0][0]),
                    _optional(event, "event", names, "event", groups[0][0]),
                    _optional(weight, "weight", names, "weight", groups[0][0]),
                    sum(g[2] for g in groups), vocab, event_types is None)
    if cols.n == 0:
        raise DataValidationError(f"{str(path)!r} holds no rows; expected at least one event.")
    if by_user:  # sized for an even share, grown when the shard is larger
        assert world_size is not None
        cols.trim(min(cols.n, cols.n // int(world_size) + cols.n // (8 * int(world_size)) + 1024))
    lo = 0
    for f, g, _, row0 in groups:
        fh = pq.ParquetFile(f)
        missing = [c for c in cols.names if c not in fh.schema_arrow.names]
        if missing:
            raise DataValidationError(
                f"{f!r}: column {missing[0]!r} is missing from this file (columns: {fh.schema_arrow.names}); "
                "every file must hold the same columns.")
        offset = 0
        for batch in fh.iter_batches(batch_size=int(batch_rows), row_groups=[g], columns=cols.names):
            where = f"{f!r} row group {g} (from its row {offset})"
            positions = None
            if by_user:
                assert rank is not None and world_size is not None
                mask = _user_rows(batch.column(cols.user), int(rank), int(world_size), where)
                positions = row0 + offset + np.flatnonzero(mask)
                offset += batch.num_rows
                batch = batch.filter(pa.array(mask))
                cols.reserve(lo + batch.num_rows)
            else:
                offset += batch.num_rows
            if batch.num_rows:
                _fill(cols, batch, lo, row0 + offset - batch.num_rows, where, positions)
            lo += batch.num_rows
    cols.trim(lo)
    users = cols.users.finish(cols.user_codes)
    items = cols.items.finish(cols.item_codes)
    return Interactions(cols.user_codes, cols.item_codes, cols.times, users, items, cols.events, cols.weights,
                        event_types=vocab, time_kind=cols.time_kind or ("order" if cols.time is None else "numeric"))
