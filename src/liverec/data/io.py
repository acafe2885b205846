"""Readers for CSV and Parquet files; pandas is used when installed, never required for CSV."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping

import numpy as np

from ..exceptions import DataFileNotFoundError, DataValidationError

_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def read_csv_columns(path: str | os.PathLike[str], delimiter: str = ",") -> dict[str, np.ndarray]:
    """Read a CSV with a header row into ``{column: array of str}``, exactly as written.

    Nothing is inferred here: every cell stays the text in the file (``007`` stays ``"007"``),
    so ids never change meaning; the constructors parse times and weights as numbers or
    datetimes. Uses only the standard ``csv`` module (pandas is not needed).

    Raises:
        FileNotFoundError: no such file.
        DataValidationError: the file is not UTF-8 text, has no header, repeats a column name,
            holds a NUL character, or a row has more or fewer fields than the header (the
            message names the line).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataFileNotFoundError(f"no such file: {path!r}")
    if not os.path.isfile(path):
        raise DataValidationError(f"{path!r} is not a regular file; pass the path of a CSV file.")
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataValidationError(
            f"{path!r} line {line}: not UTF-8 text (byte {err.start}); save the file as UTF-8."
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise DataValidationError(
            f"{path!r} line {text.count(chr(10), 0, nul) + 1}: a NUL character; the file is binary "
            "or UTF-16, not a UTF-8 CSV."
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        while header == []:  # blank lines before the header
            header = next(reader, None)
        if header is None:
            raise DataValidationError(f"{path!r} is empty; expected a header row and events.")
        if len(set(header)) != len(header):
            dup = next(h for h in header if header.count(h) > 1)
            raise DataValidationError(
                f"{path!r} line {reader.line_num}: the header names column {dup!r} twice; "
                "give every column a distinct name."
            )
        cols: list[list[str]] = [[] for _ in header]
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise DataValidationError(
                    f"{path!r} line {reader.line_num}: {len(row)} fields but the header has "
                    f"{len(header)} ({', '.join(header)}); every row needs one field per column "
                    "(a trailing delimiter counts as an extra empty field): fix that line."
                )
            for col, value in zip(cols, row, strict=True):
                col.append(value)
    except csv.Error as err:
        raise DataValidationError(f"{path!r} line {reader.line_num}: malformed CSV ({err}).") from None
    return {h: _str_array(vals) for h, vals in zip(header, cols, strict=True)}


def _str_array(values: list[str]) -> np.ndarray:
    return np.asarray(values, dtype=str) if values else np.zeros(0, dtype=str)


def parse_int_ids(values: np.ndarray, column: str) -> np.ndarray:
    """Id strings as int64, for ``read_csv(id_type="int")``: every cell must be an integer literal."""
    uniq, inverse = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    parsed = np.empty(len(uniq), dtype=np.int64)
    for j, text in enumerate(uniq.tolist()):
        v = int(text) if _INT_TEXT.fullmatch(text) else None
        if v is None or not -(2**63) <= v < 2**63:
            row = int(np.flatnonzero(inverse.reshape(-1) == j)[0])
            why = "is not an integer" if v is None else "does not fit in int64"
            raise DataValidationError(
                f"column {column!r}: {text!r} at row {row} {why}; read the ids as strings "
                "(id_type='str', the default) or fix that row."
            )
        parsed[j] = v
    return parsed[inverse.reshape(-1)]


def convert_ids(columns: dict[str, np.ndarray], names: dict[str, str | None],
                id_type: str | Mapping[str, str]) -> dict[str, np.ndarray]:
    """Apply ``id_type`` to the id columns.

    Args:
        columns: The columns read from the file.
        names: Id role (``"user"``, ``"item"``) -> column name.
        id_type: ``"str"`` (ids as written) or ``"int"`` (integer literals) for every id
            column, or a mapping role -> type such as ``{"user": "int"}`` (others stay str).
    """
    per_role = dict(id_type) if isinstance(id_type, Mapping) else dict.fromkeys(names, id_type)
    unknown = set(per_role) - set(names)
    if unknown:
        raise DataValidationError(
            f"id_type names unknown id columns {sorted(unknown)}; use {sorted(names)}."
        )
    out = dict(columns)
    for role, kind in per_role.items():
        if kind not in ("str", "int"):
            raise DataValidationError(
                f"id_type for {role!r} must be 'str' (ids exactly as written) or 'int', got {kind!r}."
            )
        name = names[role]
        if kind == "int" and name is not None and name in out:
            out[name] = parse_int_ids(out[name], name)
    return out
