"""Validation and conversion of input columns at the library's boundary.

Every check names the column, the first bad row and the fix; nothing is silently dropped.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import re
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..exceptions import DataTypeError, DataValidationError

TimeKind = str  # "datetime" | "numeric" | "order"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: Largest magnitude of a float that still holds every integer below it exactly (2**53).
_EXACT_FLOAT = 2**53
#: Datetimes must lie in [0001-01-01, 9999-12-31T23:59:59.999999] (Python's datetime range).
_DT_MIN = np.datetime64("0001-01-01T00:00:00.000000", "us")
_DT_MAX = np.datetime64("9999-12-31T23:59:59.999999", "us")
_ISO_INT = re.compile(r"\s*[+-]?[0-9]+\s*")


def is_scalar(x: Any) -> bool:
    """Whether ``x`` is one value (a number, string, datetime, ``pd.Timestamp``...), not a sequence.

    ``pd.Timestamp`` has a ``to_numpy`` method like a Series, so duck typing on ``to_numpy``
    alone would take it for a column; a scalar has no length.
    """
    if isinstance(x, (str, bytes, numbers.Number, _dt.date, _dt.time, _dt.timedelta, np.generic)) or x is None:
        return True
    if isinstance(x, np.ndarray):
        return x.ndim == 0
    return not hasattr(x, "__len__") and not hasattr(x, "__iter__")


def as_1d(values: Any, column: str) -> np.ndarray:
    """A 1-D numpy array from a list, tuple, numpy array or pandas/polars Series / Index."""
    if values is None:
        raise DataValidationError(f"column {column!r}: got None; pass a sequence of values.")
    if not is_scalar(values) and hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    if is_scalar(values):
        raise DataTypeError(
            f"column {column!r}: expected a sequence (list, numpy array, pandas Series), "
            f"got a scalar {type(values).__name__}; wrap it in a list."
        )
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise DataValidationError(
            f"column {column!r}: could not be read as a 1-D column ({err}); pass one scalar per row."
        ) from None
    if arr.ndim != 1:
        raise DataValidationError(
            f"column {column!r}: expected a 1-D sequence, got shape {arr.shape}; flatten it first."
        )
    return arr


def as_row_index(rows: Any, n: int) -> np.ndarray:
    """``rows`` (a boolean mask of length ``n``, integer positions, one position or a slice) as int64 positions.

    Examples:
        >>> as_row_index([True, False, True], 3).tolist(), as_row_index(slice(None, None, -1), 2).tolist()
        ([0, 2], [1, 0])
    """
    if isinstance(rows, slice):
        return np.arange(n)[rows]
    if isinstance(rows, (numbers.Integral, np.integer)) and not isinstance(rows, (bool, np.bool_)):
        rows = [rows]
    try:
        arr = np.asarray(rows.to_numpy() if hasattr(rows, "to_numpy") else rows)
    except (TypeError, ValueError, OverflowError) as err:
        raise DataTypeError(f"rows: expected a boolean mask or integer positions ({err}).") from None
    if arr.ndim != 1:
        raise DataValidationError(f"rows: expected a 1-D boolean mask or positions, got shape {arr.shape}.")
    if arr.dtype == bool:
        if len(arr) != n:
            raise DataValidationError(f"boolean mask has {len(arr)} entries but there are {n} rows.")
        return np.flatnonzero(arr)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise DataTypeError(
            f"rows: expected a boolean mask or integer positions, got dtype {arr.dtype}; "
            "convert with np.asarray(rows, dtype=int)."
        )
    out_of_range = (arr >= n) | (arr < -n) if arr.dtype.kind == "i" else arr >= np.uint64(n)
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        raise DataValidationError(f"rows: position {arr[row]} (entry {row}) is out of range for {n} rows.")
    return arr.astype(np.int64)


def _is_missing_scalar(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        return x == ""
    try:
        return bool(x != x)  # NaN, NaT, pandas.NA-like
    except Exception:
        return True  # pandas.NA raises on bool(): treat as missing


def missing_mask(arr: np.ndarray) -> np.ndarray:
    """True where a value is None, NaN, NaT or an empty string."""
    kind = arr.dtype.kind
    if kind == "f" or kind == "c":
        return np.isnan(arr)
    if kind in "mM":
        return np.isnat(arr)
    if kind in "iub":
        return np.zeros(len(arr), dtype=bool)
    if kind == "U" or kind == "S":
        return arr == arr.dtype.type()
    return np.fromiter((_is_missing_scalar(x) for x in arr), dtype=bool, count=len(arr))


def first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_no_missing(arr: np.ndarray, column: str) -> None:
    miss = missing_mask(arr)
    if miss.any():
        row = first_bad(miss)
        raise DataValidationError(
            f"column {column!r}: missing value (None/NaN) at row {row} "
            f"({int(miss.sum())} missing in all); drop or fill those rows before building the data."
        )


_ID_FIX = "convert the whole column to one type first: all str (e.g. [str(x) for x in ids]) or all int"


def _object_array(values: Any) -> np.ndarray:
    """A 1-D object array holding the elements of a list/tuple as they are (no coercion)."""
    out = np.empty(len(values), dtype=object)
    for j, x in enumerate(values):
        out[j] = x
    return out


def _id_group(x: Any) -> str:
    """The kind of one id: ``str``, ``int`` (ints and whole floats), ``bool``, ``bytes``, or its type name."""
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (np.timedelta64, _dt.timedelta)):  # np.timedelta64 is an np.integer
        return "duration"
    if isinstance(x, str):
        return "str"
    if isinstance(x, (int, np.integer, float, np.floating)):
        return "int"
    if isinstance(x, (bytes, np.bytes_)):
        return "bytes"
    return type(x).__name__


def _bad_float_id(arr: np.ndarray, column: str) -> None:
    """Refuse float ids that are not whole numbers within the range where floats are exact."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(arr) | (np.mod(arr, 1) != 0) | (np.abs(arr) > _EXACT_FLOAT)
    if bad.any():
        row = first_bad(bad)
        x = float(arr[row])
        why = ("is not a whole number" if np.isfinite(x) and x % 1 else
               "is beyond 2**53, where floats cannot hold every integer (distinct ids may already "
               "have merged)" if np.isfinite(x) else "is infinite")
        raise DataValidationError(
            f"column {column!r}: id {x!r} at row {row} {why}; ids must be integers or strings: "
            "read the column as int64 or str (not float), e.g. pandas dtype={...: str}."
        )


def _int_ids_from_python(values: list[Any], column: str) -> np.ndarray:
    """Python/numpy ints and whole floats -> int64, refusing anything outside int64."""
    out = np.empty(len(values), dtype=np.int64)
    for row, x in enumerate(values):
        if isinstance(x, (float, np.floating)):
            try:
                _bad_float_id(np.asarray([x], dtype=np.float64), column)
            except DataValidationError as err:
                raise DataValidationError(str(err).replace(" at row 0 ", f" at row {row} ")) from None
        v = int(x)
        if not _INT64_MIN <= v <= _INT64_MAX:
            raise DataValidationError(
                f"column {column!r}: id {v} at row {row} does not fit in int64; pass such ids as "
                "strings (str(x)) so that they stay exact."
            )
        out[row] = v
    return out


def _str_ids(values: list[Any], column: str) -> np.ndarray:
    if not any(x.endswith("\x00") for x in values):
        return np.asarray(values, dtype=str) if values else np.zeros(0, dtype=str)
    for row, x in enumerate(values):
        if x.endswith("\x00"):
            raise DataValidationError(
                f"column {column!r}: id {x!r} at row {row} ends with a NUL character, which numpy "
                "strips (it would merge with the id without it); remove the NUL characters."
            )
    return np.asarray([str(x) for x in values], dtype=str) if values else np.zeros(0, dtype=str)


def _decode_bytes_ids(values: list[Any], column: str) -> list[str]:
    out = []
    for row, x in enumerate(values):
        try:
            out.append(bytes(x).decode("utf-8"))
        except UnicodeDecodeError:
            raise DataTypeError(
                f"column {column!r}: id {x!r} at row {row} is bytes that are not UTF-8 text; "
                "decode the column to str yourself (ids must be integers or strings)."
            ) from None
    return out


def _object_ids(arr: np.ndarray, column: str) -> np.ndarray:
    """Ids held as Python objects (a list, an object array): one type per column, kept exactly."""
    values = arr.tolist()
    types = set(map(type, values))
    if types == {int}:  # fast path: plain Python ints
        fast = np.asarray(values)
        if fast.dtype == np.int64:
            return fast
    elif types == {str}:
        return _str_ids(values, column)
    groups = [_id_group(x) for x in values]
    kinds = set(groups)
    for bad in ("bool",):
        if bad in kinds:
            row = groups.index(bad)
            raise DataTypeError(
                f"column {column!r}: boolean id {values[row]!r} at row {row}; ids must be integers "
                "or strings (True would merge with 1): convert the column with astype(int) or astype(str)."
            )
    other = kinds - {"str", "int", "bytes"}
    if other:
        row = next(j for j, g in enumerate(groups) if g in other)
        raise DataTypeError(
            f"column {column!r}: id {values[row]!r} of type {groups[row]} at row {row}; ids must be "
            "integers or strings: convert the column with str() (or to integer codes)."
        )
    if len(kinds) > 1:
        counts = {k: groups.count(k) for k in kinds}
        minority = min(sorted(kinds), key=lambda k: counts[k])
        majority = max(sorted(kinds), key=lambda k: counts[k])
        row = groups.index(minority)
        raise DataTypeError(
            f"column {column!r} mixes {majority} and {minority} ids: row {row} holds "
            f"{values[row]!r} ({minority}) while {counts[majority]} rows hold {majority} ids, so "
            f"1 and '1' would be different ids or silently merge; {_ID_FIX}."
        )
    kind = kinds.pop() if kinds else "str"
    if kind == "int":
        return _int_ids_from_python(values, column)
    if kind == "bytes":
        values = _decode_bytes_ids(values, column)
    return _str_ids(values, column)


def normalize_ids(values: Any, column: str) -> np.ndarray:
    """Ids as an exact numpy array: int64 for integers, ``str`` for text; nothing else.

    Ids never change meaning: a column mixing ``int`` and ``str`` ids (``1`` and ``"1"``),
    booleans, floats that are not whole numbers or lie beyond 2**53, integers outside int64
    (including ``uint64`` above 2**63 - 1) and bytes that are not UTF-8 are refused with an
    error naming the column, the row and the fix. Lists and tuples are read element by
    element, so numpy's silent coercion of ``[1, "1"]`` to strings never happens.
    """
    arr = _object_array(values) if isinstance(values, (list, tuple)) else as_1d(values, column)
    if arr.ndim != 1:
        raise DataValidationError(
            f"column {column!r}: expected a 1-D sequence, got shape {arr.shape}; flatten it first."
        )
    check_no_missing(arr, column)
    kind = arr.dtype.kind
    if kind == "i":
        return arr.astype(np.int64, copy=False)
    if kind == "u":
        if arr.dtype.itemsize == 8 and len(arr) and (arr > np.uint64(_INT64_MAX)).any():
            row = first_bad(arr > np.uint64(_INT64_MAX))
            raise DataValidationError(
                f"column {column!r}: id {int(arr[row])} at row {row} is above the int64 range "
                "(2**63 - 1); pass such ids as strings (astype(str)) so that they stay exact."
            )
        return arr.astype(np.int64)
    if kind == "b":
        raise DataTypeError(
            f"column {column!r}: boolean ids; ids must be integers or strings (True would merge "
            "with 1): convert the column with astype(int) or astype(str)."
        )
    if kind == "f":
        _bad_float_id(arr, column)
        return arr.astype(np.int64)
    if kind == "U":
        return arr
    if kind == "S":
        return _str_ids(_decode_bytes_ids(arr.tolist(), column), column)
    if kind == "O":
        return _object_ids(arr, column)
    raise DataTypeError(
        f"column {column!r}: ids of dtype {arr.dtype} are not supported; use integers or strings."
    )


_TIME_FIX = (
    "convert the whole column to one kind first: all datetimes (numpy datetime64, datetime, "
    "pd.Timestamp, ISO-8601 strings) or all numbers"
)


def _datetime64_to_seconds(arr: np.ndarray, column: str, row0: int = 0) -> np.ndarray:
    """``datetime64`` of any unit -> float seconds since the epoch, refusing values out of range.

    Nothing goes through ``datetime64[ns]`` (which wraps around after 2262): units finer than
    a microsecond are first narrowed to microseconds (cannot overflow), coarser ones are
    range-checked in their own unit before they are widened.
    """
    nat = np.isnat(arr)
    if nat.any():
        raise DataValidationError(
            f"column {column!r}: missing time (NaT) at row {row0 + first_bad(nat)}; every event "
            "needs a time: drop or fill those rows."
        )
    unit, _ = np.datetime_data(arr.dtype)
    if unit not in ("ns", "ps", "fs", "as"):
        lo, hi = _DT_MIN.astype(arr.dtype), _DT_MAX.astype(arr.dtype)
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            row = first_bad(bad)
            raise DataValidationError(
                f"column {column!r}: datetime {arr[row]} at row {row0 + row} is outside the "
                "supported range 0001-01-01 .. 9999-12-31T23:59:59.999999; fix or drop that row "
                "(a far-future end such as 9999-12-31 is fine)."
            )
    us = arr.astype("datetime64[us]").view(np.int64)
    return us.astype(np.float64) / 1e6


def _numbers_to_seconds(arr: np.ndarray, column: str, row0: int = 0) -> np.ndarray:
    """Numeric times as float64, refusing NaN, inf, booleans and magnitudes beyond 2**53."""
    if arr.dtype.kind == "b":
        raise DataTypeError(
            f"column {column!r}: boolean times; pass numbers (any unit) or datetimes."
        )
    if arr.dtype.kind in "iu":
        big = (arr > _EXACT_FLOAT) if arr.dtype.kind == "u" else (arr > _EXACT_FLOAT) | (arr < -_EXACT_FLOAT)
        out = arr.astype(np.float64)
    else:
        out = arr.astype(np.float64)
        big = np.zeros(len(out), dtype=bool)
    if np.isnan(out).any():
        raise DataValidationError(
            f"column {column!r}: NaN time at row {row0 + first_bad(np.isnan(out))}; every event "
            "needs a time: drop or fill those rows."
        )
    if np.isinf(out).any():
        raise DataValidationError(
            f"column {column!r}: infinite time at row {row0 + first_bad(np.isinf(out))}; fix or "
            "drop that row."
        )
    big |= np.abs(out) > _EXACT_FLOAT
    if big.any():
        row = first_bad(big)
        raise DataValidationError(
            f"column {column!r}: time {arr[row]!r} at row {row0 + row} is beyond +-2**53, where "
            "float64 seconds lose precision (distinct times would merge); use a coarser unit "
            "(seconds rather than nanoseconds) or pass datetime64 values."
        )
    return out


def _parse_iso(text: str) -> np.datetime64 | None:
    """An ISO-8601 string as ``datetime64[us]`` in UTC (naive = UTC), or ``None``."""
    try:
        value = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return _datetime_to_dt64(value)


def _datetime_to_dt64(value: Any) -> np.datetime64:
    """A ``datetime``/``date``/``pd.Timestamp``/``datetime64`` as ``datetime64`` (UTC, naive)."""
    if isinstance(value, np.datetime64):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(_dt.timezone.utc)
        value = value.replace(tzinfo=None)
        if hasattr(value, "to_datetime64"):  # pd.Timestamp: keep its nanoseconds
            return np.datetime64(value.to_datetime64())
        return np.datetime64(value, "us")
    return np.datetime64(value, "D")  # datetime.date


def _time_kind_of(x: Any) -> str:
    """``number``, ``datetime``, ``str`` or the name of an unsupported type."""
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (np.timedelta64, _dt.timedelta)):  # np.timedelta64 is an np.integer
        return "duration"
    if isinstance(x, (numbers.Real, np.integer, np.floating)):
        return "number"
    if isinstance(x, (_dt.date, np.datetime64)):
        return "datetime"
    if isinstance(x, str):
        return "str"
    return type(x).__name__


def _object_times(arr: np.ndarray, column: str) -> tuple[np.ndarray, TimeKind]:
    """Times held as Python objects or strings: one kind per column (all numbers or all datetimes)."""
    values = arr.tolist()
    kinds = []
    parsed: list[Any] = []
    for row, x in enumerate(values):
        kind = _time_kind_of(x)
        if kind == "str":
            try:
                parsed.append(float(x))
                kind = "number"
            except ValueError:
                d = _parse_iso(x)
                if d is None:
                    raise DataTypeError(
                        f"column {column!r}: {x!r} at row {row} is neither a number nor an "
                        "ISO-8601 datetime; pass numbers, datetime64, datetime objects or ISO "
                        "strings such as '2024-06-03T20:00:00Z'."
                    ) from None
                parsed.append(d)
                kind = "datetime"
        elif kind == "number":
            parsed.append(x)
        elif kind == "datetime":
            parsed.append(_datetime_to_dt64(x))
        elif kind == "duration":
            raise DataTypeError(
                f"column {column!r}: {x!r} at row {row} is a duration, not a point in time; "
                "pass datetimes or numbers."
            )
        else:
            raise DataTypeError(
                f"column {column!r}: {x!r} ({kind}) at row {row} is not a time; pass numbers, "
                "datetime64, datetime objects or ISO-8601 strings."
            )
        kinds.append(kind)
    if len(set(kinds)) > 1:
        n_num = kinds.count("number")
        minority = "number" if n_num <= len(kinds) - n_num else "datetime"
        row = kinds.index(minority)
        raise DataTypeError(
            f"column {column!r} mixes numbers and datetimes: row {row} holds {values[row]!r} "
            f"(a {minority}) while most rows hold {'datetimes' if minority == 'number' else 'numbers'}; "
            f"{_TIME_FIX}."
        )
    if kinds and kinds[0] == "datetime":
        out = np.empty(len(parsed), dtype=np.float64)
        for row, d in enumerate(parsed):
            out[row] = _datetime64_to_seconds(np.asarray([d]), column, row)[0]
        return out, "datetime"
    nums = np.empty(len(parsed), dtype=np.float64)
    for row, x in enumerate(parsed):
        if isinstance(x, (int, np.integer)) and abs(int(x)) > _EXACT_FLOAT:
            raise DataValidationError(
                f"column {column!r}: time {x!r} at row {row} is beyond +-2**53, where float64 "
                "seconds lose precision (distinct times would merge); use a coarser unit "
                "(seconds rather than nanoseconds) or pass datetime64 values."
            )
        try:
            nums[row] = float(x)
        except OverflowError:
            nums[row] = np.inf
    return _numbers_to_seconds(nums, column), "numeric"


def _str_times(arr: np.ndarray, column: str) -> tuple[np.ndarray, TimeKind]:
    """A column of strings: numbers if every string is one, else ISO-8601 datetimes."""
    try:
        return _numbers_to_seconds(arr.astype(np.float64), column), "numeric"
    except ValueError as err:
        if isinstance(err, DataValidationError):
            raise
    # fast path: numpy parses plain ISO strings (no time zone: numpy would warn and guess)
    if not np.isin(arr, ["now", "today"]).any():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                parsed = np.asarray(arr, dtype="datetime64")
        except (ValueError, TypeError, UserWarning, DeprecationWarning, OverflowError):
            parsed = None
        if parsed is not None and not np.isnat(parsed).any():
            return _datetime64_to_seconds(parsed, column), "datetime"
    return _object_times(arr.astype(object), column)


def _pandas_tz_to_utc(values: Any) -> Any:
    """A time-zone-aware pandas Series / Index as naive UTC (vectorised; no Python loop)."""
    if getattr(getattr(values, "dtype", None), "tz", None) is None:
        return values
    if hasattr(values, "dt"):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.tz_convert("UTC").tz_localize(None)


def as_times(values: Any, column: str, n: int | None = None) -> tuple[np.ndarray, TimeKind]:
    """Times as float64 seconds, and whether they came as datetimes or numbers.

    Accepted: numbers of any unit (kept as they are; magnitudes up to 2**53), ``datetime64``
    of any unit, ``datetime``/``date``/``pd.Timestamp`` objects and ISO-8601 strings.
    Datetimes become seconds since the Unix epoch in UTC: time-zone-aware values are
    converted to UTC, naive ones are taken as UTC. Datetimes must lie in years 1..9999
    (``9999-12-31`` as a far-future end is fine). A column must hold one kind: numbers and
    datetimes mixed are refused, as are NaN/NaT/None, infinities, booleans and durations.
    """
    values = _pandas_tz_to_utc(values)
    arr = _object_array(values) if isinstance(values, (list, tuple)) else as_1d(values, column)
    if arr.ndim != 1:
        raise DataValidationError(
            f"column {column!r}: expected a 1-D sequence, got shape {arr.shape}; flatten it first."
        )
    if n is not None and len(arr) != n:
        raise DataValidationError(
            f"column {column!r} has {len(arr)} rows but the other columns have {n}; "
            "all columns must have the same length."
        )
    kind = arr.dtype.kind
    if kind in "OUS":
        miss = missing_mask(arr)
        if miss.any():
            raise DataValidationError(
                f"column {column!r}: missing time (None/NaN/NaT) at row {first_bad(miss)}; "
                "every event needs a time: drop or fill those rows."
            )
        if kind == "S":
            try:
                arr = arr.astype(str)
            except UnicodeDecodeError:
                raise DataTypeError(f"column {column!r}: bytes that are not text; decode them to str.") from None
            kind = "U"
        if kind == "U":
            return _str_times(arr, column)
        types = set(map(type, arr.tolist()))
        if types == {float}:  # fast paths: plain Python numbers
            return _numbers_to_seconds(arr.astype(np.float64), column), "numeric"
        if types == {int}:
            ints = np.asarray(arr.tolist())
            if ints.dtype == np.int64:
                return _numbers_to_seconds(ints, column), "numeric"
        return _object_times(arr, column)
    if kind == "M":
        return _datetime64_to_seconds(arr, column), "datetime"
    if kind in "iufb":
        return _numbers_to_seconds(arr, column), "numeric"
    if kind == "m":
        raise DataTypeError(
            f"column {column!r}: durations (timedelta64), not points in time; pass datetimes or numbers."
        )
    raise DataTypeError(
        f"column {column!r}: dtype {arr.dtype} is not a time; pass numbers or datetime64."
    )


def parse_time_query(t: Any, name: str = "at") -> tuple[np.ndarray, TimeKind]:
    """A query time (one value or a sequence) as float seconds, with its kind.

    Every form a data column accepts works here, one value or many: numbers, numpy numbers,
    ``datetime64`` of any unit, ``datetime``, ``date``, ``pd.Timestamp`` (time-zone-aware
    ones are converted to UTC), ISO-8601 strings, lists, arrays and pandas/polars Series.
    """
    if t is None:
        raise DataValidationError(f"{name}: got None; pass a time (number or datetime).")
    if isinstance(t, (_dt.timedelta, np.timedelta64)):
        raise DataTypeError(f"{name} must be a point in time, not a duration ({t!r}).")
    if is_scalar(t):
        if isinstance(t, np.ndarray):
            t = t.reshape(1)
        else:
            t = [t]
    return as_times(t, name)


def check_time_kind(kind: TimeKind, expected: TimeKind | None, name: str, against: str) -> None:
    """Refuse a query time of the wrong kind (a datetime against numeric times, or the reverse).

    ``expected`` is the ``time_kind`` of the data/model/schedule (``None``: unknown, no check).
    Row-order times (``"order"``) take numbers (row positions).
    """
    if expected is None:
        return
    want = "datetime" if expected == "datetime" else "numeric"
    if kind != want:
        if want == "datetime":
            fix = ("pass a datetime (datetime64, datetime, pd.Timestamp or an ISO string); a "
                   "number from .time is seconds since the epoch: np.datetime64(int(t * 1e6), 'us')")
        else:
            fix = "pass a number in the same unit as those times"
        raise DataTypeError(
            f"{name}: got a {kind} time but {against} has {want} times; {fix}."
        )


def as_time_query(t: Any, expected: TimeKind | None, against: str, name: str = "at") -> np.ndarray:
    """A query time (scalar or array; any accepted form) as float seconds, refused when its kind
    does not match ``expected`` (the ``time_kind`` of what ``against`` names)."""
    times, kind = parse_time_query(t, name)
    check_time_kind(kind, expected, name, against)
    return times


def time_window_mask(time: np.ndarray, start: Any = None, end: Any = None,
                     kind: TimeKind | None = None) -> np.ndarray:
    """``start <= time < end`` as a boolean mask (either bound may be ``None``).

    With ``kind`` (the data's ``time_kind``), a bound of the other kind is refused.
    """
    mask = np.ones(len(time), dtype=bool)
    for bound, name in ((start, "start"), (end, "end")):
        if bound is None:
            continue
        value, got = parse_time_query(bound, name)
        if len(value) != 1:
            raise DataValidationError(f"{name}: expected one time, got {len(value)}.")
        check_time_kind(got, kind, name, "the data")
        mask &= (time >= value[0]) if name == "start" else (time < value[0])
    return mask


def seconds_to_datetime(seconds: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(seconds) * 1e6).astype(np.int64).astype("datetime64[us]")


def as_weights(values: Any, column: str, n: int) -> np.ndarray:
    arr = as_1d(values, column)
    if len(arr) != n:
        raise DataValidationError(
            f"column {column!r} has {len(arr)} rows but the other columns have {n}; "
            "all columns must have the same length."
        )
    if arr.dtype.kind not in "iufb":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            bad = next(row for row, x in enumerate(arr) if not _is_number(x))
            raise DataTypeError(
                f"column {column!r}: non-numeric value {arr[bad]!r} at row {bad}; weights must be "
                "numbers (watch seconds, rating, amount)."
            ) from None
    out = arr.astype(np.float64)
    if not np.isfinite(out).all():
        row = first_bad(~np.isfinite(out))
        raise DataValidationError(
            f"column {column!r}: NaN or infinite weight at row {row}; fill it (e.g. with 1.0) or "
            "drop the row."
        )
    return out


def check_nonnegative_weights(weight: np.ndarray | None, who: str, why: str) -> None:
    """Refuse negative (or non-finite) weights for a model that sums them as amounts.

    One check shared by every model that needs ``weight >= 0`` (``ALS``, ``Popularity`` with
    ``weighting="sum"``), so they refuse the same rows with the same message.

    Args:
        weight: The ``weight`` column (``None``: no column, nothing to check).
        who: The caller, e.g. ``"ALS"``.
        why: What the weights are used for, e.g. ``"confidence 1 + alpha * r"``.
    """
    if weight is None:
        return
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        row = first_bad(bad)
        raise DataValidationError(
            f"column 'weight': {who} needs finite weights >= 0 ({why}), got {float(weight[row])!r} at "
            f"row {row}; drop or clip such rows, or use weighting='count'."
        )


def _is_number(x: Any) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return True


def check_lengths(columns: dict[str, np.ndarray | None]) -> int:
    lengths = {k: len(v) for k, v in columns.items() if v is not None}
    if len(set(lengths.values())) > 1:
        raise DataValidationError(
            "columns have different lengths: "
            + ", ".join(f"{k}={v}" for k, v in lengths.items())
            + "; every column needs one value per row."
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise DataValidationError(
            "no rows: the data is empty; pass at least one event."
        )
    return n


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """Validate a batch of texts and return it as a list of ``str``.

    Args:
        texts: A sequence of strings (list, tuple, numpy array, pandas Series, any iterable).
        name: What to call the argument in error messages.

    Returns:
        The texts as a list.

    Raises:
        DataTypeError: ``texts`` is a single string, not iterable, or holds a non-string.
        DataValidationError: an element is ``None`` or NaN.

    Examples:
        >>> check_texts(("a", "直播"))
        ['a', '直播']
        >>> check_texts([None])
        Traceback (most recent call last):
        ...
        liverec.exceptions.DataValidationError: texts: missing text (None/NaN) at row 0; ...
    """
    if isinstance(texts, (str, bytes)):
        raise DataTypeError(
            f"{name} must be a sequence of strings, got a single {type(texts).__name__}; "
            "wrap it in a list: [text]."
        )
    if hasattr(texts, "to_numpy"):  # pandas Series / Index
        texts = texts.to_numpy()
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise DataTypeError(f"{name} must be one-dimensional, got an array of shape {texts.shape}.")
        texts = texts.tolist()
    elif not isinstance(texts, list):
        if not isinstance(texts, Iterable):
            raise DataTypeError(f"{name} must be a sequence of strings, got {type(texts).__name__}.")
        texts = list(texts)
    if all(type(t) is str for t in texts):
        _check_encodable(texts, name)
        return texts
    for row, value in enumerate(texts):
        if value is None or (isinstance(value, float) and value != value):
            raise DataValidationError(
                f"{name}: missing text (None/NaN) at row {row}; use '' for an empty text "
                "(encoders map it to the zero vector) or drop the row."
            )
        if not isinstance(value, str):
            raise DataTypeError(
                f"{name}: expected a string at row {row}, got {type(value).__name__} ({value!r})."
            )
    out = [str(t) for t in texts]  # str subclasses (e.g. numpy.str_) become plain str
    _check_encodable(out, name)
    return out


def _check_encodable(texts: list[str], name: str) -> None:
    """Refuse texts holding a lone surrogate (``"\\ud800"``): not Unicode text, no encoder can read it."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        row = next(r for r, t in enumerate(texts) if not _encodes(t))
        raise DataValidationError(
            f"{name}: text at row {row} holds a lone surrogate code point, which is not valid Unicode; "
            "decode the source with errors='replace' (or 'surrogatepass' then re-encode) first."
        ) from None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
