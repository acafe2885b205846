"""``IdMap``: external ids <-> contiguous integer codes (the only place ids are mapped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import DataTypeError, DataValidationError, UnknownIdError
from ._columns import as_1d, is_scalar, normalize_ids


def _normalize_or_empty(ids: Any, name: str) -> np.ndarray:
    """``normalize_ids``, but an empty sequence gives an empty array (a map with no ids yet)."""
    if isinstance(ids, (list, tuple)) and len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    arr = ids if isinstance(ids, (list, tuple)) else as_1d(ids, name)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    return normalize_ids(ids, name)


def _kind_name(arr: np.ndarray) -> str:
    return "str" if arr.dtype.kind == "U" else "int"


class IdMap:
    """A bijection between external ids (integers or strings) and codes ``0..n-1``.

    Codes follow the order of ``ids``. Lookups are vectorised (binary search over a sorted
    copy), so mapping a million ids takes milliseconds.

    A map holds one id type, int64 or str (see `normalize_ids`:
    mixed types, booleans and ids that cannot be held exactly are refused), and a lookup
    never converts between them: in a map of ints, ``"1"`` is unknown, not the code of ``1``
    (whole floats such as ``1.0`` do match ``1``, as they do in Python).

    Args:
        ids: The distinct external ids, in code order.
        name: What the ids are ("user", "item"), used in error messages.

    Examples:
        >>> m = IdMap(["b", "a", "c"])
        >>> m.codes(["c", "b"]).tolist()
        [2, 0]
        >>> m.ids.tolist(), len(m)
        (['b', 'a', 'c'], 3)
        >>> m.codes(["zzz"], missing="ignore").tolist()
        [-1]
    """

    __slots__ = ("_ids", "name", "_sorted", "_order", "_dict")

    def __init__(self, ids: Any, name: str = "id") -> None:
        arr = _normalize_or_empty(ids, name)
        self._ids: np.ndarray = arr
        self.name = name
        self._build_index()
        if len(arr) and self._has_duplicates():
            raise DataValidationError(
                f"IdMap({name!r}): ids must be distinct; pass np.unique(ids) or build it with "
                "IdMap.from_values."
            )

    def _build_index(self) -> None:
        self._dict: dict[Any, int] | None = None
        order = np.argsort(self._ids, kind="stable")
        self._order = order
        self._sorted = self._ids[order]

    def _has_duplicates(self) -> bool:
        return bool(len(self._sorted) > 1 and (self._sorted[1:] == self._sorted[:-1]).any())

    @classmethod
    def from_values(cls, values: Any, name: str = "id") -> tuple[IdMap, np.ndarray]:
        """Build a map of the distinct values (sorted) and the code of every value.

        Examples:
            >>> m, codes = IdMap.from_values([30, 10, 30], name="user")
            >>> m.ids.tolist(), codes.tolist()
            ([10, 30], [1, 0, 1])
        """
        arr = normalize_ids(values, name)
        uniq, codes = np.unique(arr, return_inverse=True)
        out = cls.__new__(cls)
        out._ids, out.name = uniq, name
        out._build_index()
        return out, codes.astype(np.int64).reshape(-1)

    @property
    def ids(self) -> np.ndarray:
        """The external ids in code order (read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._ids.tolist())

    def __contains__(self, x: Any) -> bool:
        return bool(self.codes([x], missing="ignore")[0] >= 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdMap):
            return NotImplemented
        return len(self) == len(other) and bool(np.array_equal(self._ids, other._ids))

    def __hash__(self) -> int:  # pragma: no cover - maps are compared, not hashed
        return id(self)

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self._ids[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"IdMap({self.name!r}, n={len(self)}, ids=[{head}{more}])"

    def codes(self, ids: Any, missing: str = "raise") -> np.ndarray:
        """Codes of external ids.

        Args:
            ids: A sequence of external ids (a scalar is treated as one id).
            missing: ``"raise"`` to raise [`UnknownIdError`][liverec.exceptions.UnknownIdError] for an
                id not in the map, ``"ignore"`` to return ``-1`` for it.

        Returns:
            An int64 array of codes.
        """
        if missing not in ("raise", "ignore"):
            raise ValueError(f"missing must be 'raise' or 'ignore', got {missing!r}.")
        if is_scalar(ids):
            ids = [ids]
        if isinstance(ids, (list, tuple)):
            q = np.empty(len(ids), dtype=object)
            for j, x in enumerate(ids):
                q[j] = x
        else:
            q = np.asarray(ids.to_numpy() if hasattr(ids, "to_numpy") else ids)
        if q.ndim != 1:
            q = q.reshape(-1)
        if len(q) == 0:
            return np.zeros(0, dtype=np.int64)
        out = self._lookup_objects(q) if q.dtype == object else self._search(q)
        if missing == "raise" and (out < 0).any():
            bad = q[int(np.flatnonzero(out < 0)[0])]
            bad = bad.item() if isinstance(bad, np.generic) else bad
            raise UnknownIdError(
                f"unknown {self.name} id {bad!r} ({int((out < 0).sum())} unknown in all); "
                f"it was not in the data this map was built from."
            )
        return out

    def _lookup_objects(self, q: np.ndarray) -> np.ndarray:
        """Codes of ids held as Python objects: each id matches only ids of its own type."""
        if self._dict is None:
            self._dict = {x: i for i, x in enumerate(self._ids.tolist())}
        lookup, text = self._dict, self._ids.dtype.kind == "U"

        def code(x: Any) -> int:
            if isinstance(x, (bool, np.bool_)):
                return -1
            if text:
                if isinstance(x, (bytes, np.bytes_)):  # bytes ids are stored decoded (UTF-8)
                    try:
                        x = bytes(x).decode("utf-8")
                    except UnicodeDecodeError:
                        return -1
                return lookup.get(str(x), -1) if isinstance(x, str) else -1
            if isinstance(x, (int, np.integer)):
                return lookup.get(int(x), -1)
            if isinstance(x, (float, np.floating)) and np.isfinite(x) and float(x) % 1 == 0:
                return lookup.get(int(x), -1)
            return -1

        return np.fromiter((code(x) for x in q.tolist()), dtype=np.int64, count=len(q))

    def _search(self, q: np.ndarray) -> np.ndarray:
        n = len(self._sorted)
        miss = np.full(len(q), -1, dtype=np.int64)
        if n == 0:
            return miss
        mine, theirs = self._sorted.dtype.kind, q.dtype.kind
        valid = np.ones(len(q), dtype=bool)
        if mine == "U":
            if theirs == "S":  # bytes ids are stored decoded (UTF-8)
                return self._lookup_objects(q.astype(object))
            if theirs != "U":  # never match ints, datetimes, ... against text ids
                return miss
        elif theirs == "u":
            valid = q <= np.uint64(2**63 - 1)
            q = np.where(valid, q, 0).astype(np.int64)
        elif theirs == "f":
            with np.errstate(invalid="ignore"):
                valid = np.isfinite(q) & (np.mod(q, 1) == 0) & (q >= -(2.0**63)) & (q < 2.0**63)
            q = np.where(valid, q, 0).astype(np.int64)
        elif theirs != "i":  # bool, str, datetime, ...: never a code of an int id
            return miss
        pos = np.searchsorted(self._sorted, q)
        pos_c = np.minimum(pos, n - 1)
        hit = valid & (pos < n) & (self._sorted[pos_c] == q)
        return np.where(hit, self._order[pos_c], -1).astype(np.int64)

    def extend(self, ids: Any) -> IdMap:
        """A new map with the ids not yet present appended (existing codes unchanged).

        Examples:
            >>> IdMap([5, 7]).extend([7, 9, 9]).ids.tolist()
            [5, 7, 9]
        """
        arr = _normalize_or_empty(ids, self.name)
        if len(arr) == 0:
            return self
        if len(self._ids) and arr.dtype.kind != self._ids.dtype.kind:
            raise DataTypeError(
                f"IdMap({self.name!r}).extend: the map holds {_kind_name(self._ids)} ids but the new "
                f"ids are {_kind_name(arr)} (first: {arr[0].item()!r} at row 0); 1 and '1' would be "
                f"different {self.name}s: convert the new ids to {_kind_name(self._ids)}, or rebuild "
                "all the data with one id type."
            )
        new = arr[self.codes(arr, missing="ignore") < 0]
        if len(new) == 0:
            return self
        # keep first-appearance order of the new ids
        _, first = np.unique(new, return_index=True)
        new = new[np.sort(first)]
        merged = np.concatenate([self._ids, new]) if len(self._ids) else new
        out = IdMap.__new__(IdMap)
        out._ids, out.name = merged, self.name
        out._build_index()
        return out

    def take(self, codes: np.ndarray) -> np.ndarray:
        """External ids of codes (vectorised ``ids[codes]``)."""
        return self._ids[np.asarray(codes, dtype=np.int64)]

    # Persistence ---------------------------------------------------------------------------
    def to_array(self) -> np.ndarray:
        """The ids as an array that ``np.save`` stores without pickle (ints, floats or str)."""
        if self._ids.dtype != object:
            return self._ids
        if all(isinstance(x, str) for x in self._ids):
            return self._ids.astype(str)
        raise DataTypeError(
            f"{self.name} ids of mixed types cannot be saved without pickle; "
            "convert them to str or int before fitting."
        )
