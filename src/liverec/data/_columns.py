"""Validation and conversion of input columns at the library's boundary.

Every check names the column, the first bad row and the fix; nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..exceptions import DataTypeError, DataValidationError

TimeKind = str  # "datetime" | "numeric" | "order"


def as_1d(values: Any, column: str) -> np.ndarray:
    """A 1-D numpy array from a list, tuple, numpy array or pandas Series / Index."""
    if values is None:
        raise DataValidationError(f"column {column!r}: got None; pass a sequence of values.")
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()
    if isinstance(values, (str, bytes)) or np.isscalar(values):
        raise DataTypeError(
            f"column {column!r}: expected a sequence (list, numpy array, pandas Series), "
            f"got a scalar {type(values).__name__}; wrap it in a list."
        )
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataValidationError(
            f"column {column!r}: expected a 1-D sequence, got shape {arr.shape}; flatten it first."
        )
    return arr


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


def normalize_ids(values: Any, column: str) -> np.ndarray:
    """Ids as a clean numpy array: int64 for integers, str for text, object otherwise."""
    arr = as_1d(values, column)
    check_no_missing(arr, column)
    kind = arr.dtype.kind
    if kind in "iu":
        return arr.astype(np.int64, copy=False)
    if kind == "b":
        return arr.astype(np.int64)
    if kind == "f":
        if np.all(np.mod(arr, 1) == 0):
            return arr.astype(np.int64)
        return arr.astype(np.float64, copy=False)
    if kind == "U":
        return arr
    if kind == "S":
        return arr.astype(str)
    if kind == "O":
        if len(arr) and all(isinstance(x, str) for x in arr):
            return arr.astype(str)
        if len(arr) and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in arr):
            return arr.astype(np.int64)
        return arr
    raise DataTypeError(
        f"column {column!r}: ids of dtype {arr.dtype} are not supported; use integers or strings."
    )


def as_times(values: Any, column: str, n: int | None = None) -> tuple[np.ndarray, TimeKind]:
    """Times as float64 seconds, and whether they came as datetimes or numbers.

    Datetimes (numpy ``datetime64``, pandas timestamps, ISO strings) become seconds since
    the Unix epoch; numbers are kept as they are (any unit: steps, seconds, days).
    """
    arr = as_1d(values, column)
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
        try:
            arr = arr.astype(np.float64)
            kind = "f"
        except (TypeError, ValueError):
            try:
                arr = np.asarray(arr, dtype="datetime64[ns]")
                kind = "M"
            except (TypeError, ValueError) as err:
                raise DataTypeError(
                    f"column {column!r}: values such as {arr[0]!r} are neither numbers nor "
                    "datetimes; pass numbers, numpy datetime64 or ISO-8601 strings."
                ) from err
    if kind == "M":
        if np.isnat(arr).any():
            row = first_bad(np.isnat(arr))
            raise DataValidationError(
                f"column {column!r}: missing time (NaT) at row {row}; drop or fill those rows."
            )
        ns = arr.astype("datetime64[ns]").astype(np.int64)
        return ns.astype(np.float64) / 1e9, "datetime"
    if kind in "iufb":
        out = arr.astype(np.float64)
        if np.isnan(out).any():
            row = first_bad(np.isnan(out))
            raise DataValidationError(
                f"column {column!r}: NaN time at row {row}; every event needs a time: "
                "drop or fill those rows."
            )
        if np.isinf(out).any():
            row = first_bad(np.isinf(out))
            raise DataValidationError(f"column {column!r}: infinite time at row {row}.")
        return out, "numeric"
    raise DataTypeError(
        f"column {column!r}: dtype {arr.dtype} is not a time; pass numbers or datetime64."
    )


def as_time_query(t: Any) -> np.ndarray:
    """A query time (scalar or array; number, datetime64, datetime, ISO string) as float seconds."""
    if isinstance(t, (np.ndarray, list, tuple)) or hasattr(t, "to_numpy"):
        return as_times(t, "at")[0]
    if hasattr(t, "timestamp") and not isinstance(t, np.datetime64):  # datetime / Timestamp
        return np.asarray([np.datetime64(t, "ns")], dtype="datetime64[ns]").astype(np.int64) / 1e9
    return as_times([t], "at")[0]


def time_window_mask(time: np.ndarray, start: Any = None, end: Any = None) -> np.ndarray:
    """``start <= time < end`` as a boolean mask (either bound may be ``None``)."""
    mask = np.ones(len(time), dtype=bool)
    if start is not None:
        mask &= time >= as_time_query(start)[0]
    if end is not None:
        mask &= time < as_time_query(end)[0]
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
    return [str(t) for t in texts]  # str subclasses (e.g. numpy.str_) become plain str
