"""Readers for CSV and Parquet files; pandas is used when installed, never required for CSV."""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from ..exceptions import DataValidationError


def _parse_column(values: list[str]) -> np.ndarray:
    arr = np.asarray(values, dtype=str)
    for dtype in (np.int64, np.float64):
        try:
            return arr.astype(dtype)
        except ValueError:
            continue
    return arr


def read_csv_columns(path: str | os.PathLike[str], delimiter: str = ",") -> dict[str, np.ndarray]:
    """Read a CSV with a header row into ``{column: array}``; numbers become numbers.

    Empty cells stay empty strings so that validation reports them as missing values.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        frame = pd.read_csv(path, sep=delimiter)
        return {str(c): frame[c].to_numpy() for c in frame.columns}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise DataValidationError(f"{path!r} is empty; expected a header row and events.") from None
        rows = list(reader)
    cols: dict[str, list[str]] = {h: [] for h in header}
    for r, row in enumerate(rows):
        if len(row) != len(header):
            raise DataValidationError(
                f"{path!r} row {r + 1}: {len(row)} fields but the header has {len(header)}."
            )
        for h, v in zip(header, row, strict=True):
            cols[h].append(v)
    out: dict[str, Any] = {}
    for h, vals in cols.items():
        out[h] = _parse_column(vals) if all(v != "" for v in vals) else np.asarray(vals, dtype=object)
    return out


def read_parquet_columns(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a Parquet file into ``{column: array}`` (requires pandas and pyarrow)."""
    try:
        import pandas as pd
    except ImportError as err:  # pragma: no cover
        raise ImportError("reading Parquet needs pandas and pyarrow: pip install pandas pyarrow") from err
    frame = pd.read_parquet(os.fspath(path))
    return {str(c): frame[c].to_numpy() for c in frame.columns}
