"""``IdMap``: external ids <-> contiguous integer codes (the only place ids are mapped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import DataTypeError, DataValidationError, UnknownIdError
from ._columns import as_1d, normalize_ids


class IdMap:
    """A bijection between external ids (any hashable scalars) and codes ``0..n-1``.

    Codes follow the order of ``ids``. Lookups are vectorised (binary search over a sorted
    copy), so mapping a million ids takes milliseconds.

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
        arr = normalize_ids(ids, name) if len(as_1d(ids, name)) else as_1d(ids, name)
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
        try:
            if self._ids.dtype == object:
                raise TypeError
            order = np.argsort(self._ids, kind="stable")
            self._order = order
            self._sorted = self._ids[order]
        except TypeError:  # mixed types that numpy cannot order: fall back to a dict
            self._order = np.zeros(0, dtype=np.int64)
            self._sorted = self._ids
            self._dict = {x: i for i, x in enumerate(self._ids.tolist())}

    def _has_duplicates(self) -> bool:
        if self._dict is not None:
            return len(self._dict) != len(self._ids)
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
        try:
            if arr.dtype == object:
                raise TypeError
            uniq, codes = np.unique(arr, return_inverse=True)
        except TypeError:
            lookup: dict[Any, int] = {}
            codes = np.fromiter(
                (lookup.setdefault(x, len(lookup)) for x in arr.tolist()), dtype=np.int64, count=len(arr)
            )
            uniq = np.empty(len(lookup), dtype=object)
            uniq[:] = list(lookup)
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
            missing: ``"raise"`` to raise :class:`~liverec.exceptions.UnknownIdError` for an
                id not in the map, ``"ignore"`` to return ``-1`` for it.

        Returns:
            An int64 array of codes.
        """
        if missing not in ("raise", "ignore"):
            raise ValueError(f"missing must be 'raise' or 'ignore', got {missing!r}.")
        if np.isscalar(ids) or ids is None or isinstance(ids, (str, bytes)):
            ids = [ids]
        q = np.asarray(ids.to_numpy() if hasattr(ids, "to_numpy") else ids)
        if q.ndim != 1:
            q = q.reshape(-1)
        if len(q) == 0:
            return np.zeros(0, dtype=np.int64)
        if self._dict is not None or q.dtype == object:
            lookup = self._dict if self._dict is not None else {
                x: i for i, x in enumerate(self._ids.tolist())
            }
            out = np.fromiter((lookup.get(x, -1) for x in q.tolist()), dtype=np.int64, count=len(q))
        else:
            out = self._search(q)
        if missing == "raise" and (out < 0).any():
            bad = q[int(np.flatnonzero(out < 0)[0])].item() if q.dtype != object else q[int(np.flatnonzero(out < 0)[0])]
            raise UnknownIdError(
                f"unknown {self.name} id {bad!r} ({int((out < 0).sum())} unknown in all); "
                f"it was not in the data this map was built from."
            )
        return out

    def _search(self, q: np.ndarray) -> np.ndarray:
        n = len(self._sorted)
        if n == 0:
            return np.full(len(q), -1, dtype=np.int64)
        if q.dtype.kind in "iuf" and self._sorted.dtype.kind in "iuf":
            pass
        elif q.dtype.kind != self._sorted.dtype.kind:
            if q.dtype.kind in "US" and self._sorted.dtype.kind in "US":
                q = q.astype(str)
            else:
                return np.full(len(q), -1, dtype=np.int64)
        try:
            pos = np.searchsorted(self._sorted, q)
        except TypeError:
            return np.full(len(q), -1, dtype=np.int64)
        pos_c = np.minimum(pos, n - 1)
        hit = (pos < n) & (self._sorted[pos_c] == q)
        return np.where(hit, self._order[pos_c], -1).astype(np.int64)

    def extend(self, ids: Any) -> IdMap:
        """A new map with the ids not yet present appended (existing codes unchanged).

        Examples:
            >>> IdMap([5, 7]).extend([7, 9, 9]).ids.tolist()
            [5, 7, 9]
        """
        arr = normalize_ids(ids, self.name) if len(as_1d(ids, self.name)) else as_1d(ids, self.name)
        if len(arr) == 0:
            return self
        new = arr[self.codes(arr, missing="ignore") < 0]
        if len(new) == 0:
            return self
        # keep first-appearance order of the new ids
        _, first = np.unique(new, return_index=True) if new.dtype != object else (
            None, np.array(sorted({x: i for i, x in reversed(list(enumerate(new.tolist())))}.values()))
        )
        new = new[np.sort(first)]
        try:
            merged = np.concatenate([self._ids, new])
        except TypeError as err:  # pragma: no cover
            raise DataTypeError(f"cannot mix {self.name} ids of dtype {self._ids.dtype} and {new.dtype}") from err
        if merged.dtype.kind != self._ids.dtype.kind and len(self._ids):
            merged = np.concatenate([self._ids.astype(object), new.astype(object)])
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
