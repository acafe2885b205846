"""The state of a `UserProfileBuilder` as three named tables.

Every array the builder accumulates lives in one of three dataclasses, chosen by what the
array's first axis counts:

- `UserTable`: one row per user (decayed totals, category / price-band affinities,
  event counts, first / last seen, watch time, comment taste);
- `ItemTable`: one row per item (metadata codes, price, event counts, decayed
  popularity, text embedding sums, fixed feature vectors);
- `PopulationTable`: the population (all users together), with no row axis.

Each field declares, in its metadata (`column`), the name it is saved under, its shape
in symbolic sizes (``rows`` and the sizes of `Dims`), its dtype, the value new cells
hold and what a loaded file must satisfy. Creating, resizing, copying, saving and loading a
table are one generic function each (`Table`) that walks ``dataclasses.fields``, so
adding a statistic is adding one field.

The saved names (``u_total_``, ``item_cat_``, ``g_counts_``, ...) are those of the flat
attributes the builder had before the tables, so saved directories load either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from typing_extensions import Self

from .. import persistence
from ..exceptions import PersistenceError
from ._store import grow

__all__ = ["Dims", "ItemTable", "PopulationTable", "Table", "UserTable", "column"]

#: What a loaded array must satisfy, by the ``check`` of its field.
#: ``log``: log-space sums and times (``-inf`` allowed; NaN and ``+inf`` refused);
#: ``count``: as ``log`` and ``>= 0``; ``price``: NaN (unknown price) allowed, ``+inf`` refused;
#: ``finite``: no NaN or infinity; ``code``: integer codes in ``[-1, n)`` with ``n`` the size
#: named by the field's ``codes``; ``flag``: booleans.
CHECKS = ("log", "count", "price", "finite", "code", "flag")


@dataclass(frozen=True)
class Dims:
    """The sizes, other than the row count, that the tables' shapes are written in.

    Examples:
        >>> d = Dims(categories=3, bands=4, events=7, dim=16)
        >>> d.size("dim+1"), d.size("one"), d.size("rows", rows=5), d.size("any")
        (17, 1, 5, None)
    """

    categories: int
    bands: int
    events: int
    dim: int
    streamers: int = 0

    def size(self, name: str, rows: int | None = None) -> int | None:
        """The size a symbolic dimension stands for (``None``: any size, or rows not given)."""
        if name == "rows":
            return rows
        if name == "one":
            return 1
        if name == "any":
            return None
        if name == "dim+1":
            return self.dim + 1
        value: int = getattr(self, name)
        return value


def column(
    key: str,
    shape: tuple[str, ...],
    fill: float | bool,
    *,
    dtype: Any = np.float64,
    check: str = "log",
    codes: str | None = None,
    optional: bool = False,
) -> Any:
    """A table field: saved as ``key``, of symbolic ``shape``, new cells hold ``fill``.

    Args:
        key: The array name in ``arrays.safetensors``.
        shape: Symbolic sizes: ``"rows"`` (the table's row axis, grown with spare capacity),
            ``"one"``, ``"any"`` or a `Dims` name (``"dim+1"`` is ``dim + 1``).
        fill: The value of cells added when the table grows.
        dtype: The numpy dtype.
        check: What a loaded array must satisfy (one of `CHECKS`).
        codes: For ``check="code"``, the `Dims` size the codes index.
        optional: The field may be ``None`` (absent from a saved directory).
    """
    if check not in CHECKS:
        raise ValueError(f"check must be one of {CHECKS}, got {check!r}")
    meta = {"key": key, "shape": shape, "fill": fill, "dtype": np.dtype(dtype), "check": check,
            "codes": codes, "optional": optional}
    return dataclasses.field(metadata=meta)


def _resized(arr: np.ndarray, shape: tuple[int | None, ...], fill: float | bool, rows_axis: bool) -> np.ndarray:
    """``arr`` grown to ``shape`` (``None``: keep); a row axis grows with spare capacity."""
    if rows_axis and shape[0] is not None:
        arr = grow(arr, shape[0], fill)
    want = tuple(a if s is None or (rows_axis and k == 0) or s <= a else s
                 for k, (a, s) in enumerate(zip(arr.shape, shape, strict=True)))
    if want == arr.shape:
        return arr
    out = np.full(want, fill, dtype=arr.dtype)
    out[tuple(slice(0, a) for a in arr.shape)] = arr
    return out


class Table:
    """Generic behaviour of the state tables, driven by the fields' `column` metadata."""

    #: The sizes of the last `resize` (a shortcut: resizing again to them is a no-op).
    _sized_for: Dims | None = None

    @classmethod
    def _columns(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)  # type: ignore[arg-type]

    @classmethod
    def _shape(cls, f: dataclasses.Field[Any], rows: int | None, dims: Dims) -> tuple[int | None, ...]:
        return tuple(dims.size(s, rows) for s in f.metadata["shape"])

    @classmethod
    def empty(cls, dims: Dims, rows: int = 0) -> Self:
        """A table with ``rows`` rows of fill values (optional fields ``None``)."""
        values: dict[str, Any] = {}
        for f in cls._columns():
            m = f.metadata
            shape = tuple(0 if s is None else s for s in cls._shape(f, rows, dims))
            values[f.name] = None if m["optional"] else np.full(shape, m["fill"], dtype=m["dtype"])
        return cls(**values)

    def resize(self, dims: Dims, rows: int | None = None) -> None:
        """Grow every field to ``rows`` rows (with spare capacity) and to the sizes in ``dims``.

        Fields never shrink; new cells hold the field's fill value.
        """
        first = getattr(self, self._columns()[0].name)
        if dims == self._sized_for and (rows is None or rows <= len(first)):
            return  # every field is already that large (the first one grows with the others)
        for f in self._columns():
            arr = getattr(self, f.name)
            if arr is not None:
                rows_axis = f.metadata["shape"][0] == "rows"
                setattr(self, f.name, _resized(arr, self._shape(f, rows, dims), f.metadata["fill"], rows_axis))
        self._sized_for = dims

    def copy(self) -> Self:
        """A copy that shares no array with this table."""
        return type(self)(**{f.name: None if (a := getattr(self, f.name)) is None else a.copy()
                             for f in self._columns()})

    def take(self, rows: np.ndarray) -> Self:
        """A copy holding only the given rows of the row fields, in that order."""
        return type(self)(**{
            f.name: None if (a := getattr(self, f.name)) is None
            else (a[rows] if f.metadata["shape"][0] == "rows" else a).copy()
            for f in self._columns()})

    def to_arrays(self, rows: int | None = None) -> dict[str, np.ndarray]:
        """The fields by saved name, cut to the first ``rows`` rows (row tables), contiguous."""
        out: dict[str, np.ndarray] = {}
        for f in self._columns():
            arr = getattr(self, f.name)
            if arr is not None:
                if rows is not None and f.metadata["shape"][0] == "rows":
                    arr = arr[:rows]
                out[f.metadata["key"]] = np.ascontiguousarray(arr)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], dims: Dims, rows: int = 0) -> Self:
        """The table saved by `to_arrays`, every field checked against its metadata.

        Raises:
            PersistenceError: for a missing array, a wrong dtype or shape, or values the
                field's ``check`` refuses.
        """
        values: dict[str, Any] = {}
        for f in cls._columns():
            m = f.metadata
            if m["optional"] and m["key"] not in arrays:
                values[f.name] = None
                continue
            values[f.name] = _load_column(arrays, m, cls._shape(f, rows, dims), dims)
        return cls(**values)


def _load_column(
    arrays: Mapping[str, np.ndarray], m: Mapping[str, Any], shape: tuple[int | None, ...], dims: Dims,
) -> np.ndarray:
    """One field read back and checked (see `CHECKS`)."""
    key, check = m["key"], m["check"]
    where = f"arrays.safetensors: tensor {key!r}"
    if check == "flag":
        return persistence.expect_array(arrays, key, "b", shape).copy()
    if check == "code":
        a = persistence.expect_array(arrays, key, "iu", shape, dtype=np.int64)
        n = dims.size(m["codes"])
        if len(a) and (a.min() < -1 or a.max() >= n):
            raise PersistenceError(f"{where}: codes must lie in [-1, {n})")
        return a.copy()
    a = persistence.expect_array(arrays, key, "f", shape, finite=check == "finite", dtype=m["dtype"])
    if np.isposinf(a).any() or (np.isnan(a).any() and check != "price"):  # log-space sums may be -inf
        raise PersistenceError(f"{where}: holds NaN or +infinity")
    if check == "count" and (a < 0).any():
        raise PersistenceError(f"{where}: counts and watch time are >= 0")
    return a.copy()


@dataclass(eq=False)
class UserTable(Table):
    """Per user (row = user code), log-space sums against the builder's anchor ``t0_``."""

    total: np.ndarray = column("u_total_", ("rows",), -np.inf)
    """Decayed event weight."""
    cat: np.ndarray = column("u_cat_", ("rows", "categories"), -np.inf)
    """Decayed weight per category."""
    band: np.ndarray = column("u_band_", ("rows", "bands"), -np.inf)
    """Decayed weight per price band."""
    price_num: np.ndarray = column("u_price_num_", ("rows",), -np.inf)
    """Decayed weight times price (of events on priced items)."""
    price_den: np.ndarray = column("u_price_den_", ("rows",), -np.inf)
    """Decayed weight of events on priced items."""
    counts: np.ndarray = column("u_counts_", ("rows", "events"), 0.0, check="count")
    """Events per type (not decayed)."""
    first: np.ndarray = column("u_first_", ("rows",), np.inf)
    """Time of the first event or comment."""
    last: np.ndarray = column("u_last_", ("rows",), -np.inf)
    """Time of the last event or comment."""
    watch: np.ndarray = column("u_watch_", ("rows",), 0.0, check="count")
    """Watch seconds (the ``weight`` of views)."""
    comment_scale: np.ndarray = column("u_comment_scale_", ("rows",), -np.inf)
    """Log scale of ``comment_vec`` (its rows are stored divided by ``exp`` of it)."""
    comment_vec: np.ndarray = column("u_comment_vec_", ("rows", "dim+1"), 0.0)
    """Decayed sum of the user's comment embeddings, and their weight in the last column."""


@dataclass(eq=False)
class ItemTable(Table):
    """Per item (row = item code): metadata, population counts and popularity, text."""

    cat: np.ndarray = column("item_cat_", ("rows",), -1, dtype=np.int64, check="code", codes="categories")
    """Category code (``-1``: none)."""
    band: np.ndarray = column("item_band_", ("rows",), -1, dtype=np.int64, check="code", codes="bands")
    """Price band code (``-1``: no price)."""
    price: np.ndarray = column("item_price_", ("rows",), np.nan, check="price")
    """Price (NaN: unknown)."""
    streamer: np.ndarray = column("item_streamer_", ("rows",), -1, dtype=np.int64, check="code", codes="streamers")
    """Streamer (room) code (``-1``: none)."""
    has_meta: np.ndarray = column("item_has_meta_", ("rows",), False, dtype=bool, check="flag")
    """Whether a metadata row was read for the item (later rows are ignored)."""
    counts: np.ndarray = column("item_counts_", ("rows", "events"), 0.0, check="count")
    """Events per type over all users (not decayed)."""
    weight: np.ndarray = column("g_item_", ("rows",), -np.inf)
    """Decayed event weight over all users (log space)."""
    text_sum: np.ndarray = column("item_text_sum_", ("rows", "dim"), 0.0)
    """Sum of the item's text embeddings."""
    text_n: np.ndarray = column("item_text_n_", ("rows",), 0.0, check="count")
    """Number of texts in ``text_sum``."""
    fixed_vec: np.ndarray | None = column("item_fixed_vec", ("rows", "any"), 0.0, check="finite", optional=True)
    """``item_features`` vectors (``None`` when none were given)."""


@dataclass(eq=False)
class PopulationTable(Table):
    """The population: log-space sums over all users (no row axis)."""

    total: np.ndarray = column("g_total_", ("one",), -np.inf)
    """Decayed event weight."""
    cat: np.ndarray = column("g_cat_", ("categories",), -np.inf)
    """Decayed weight per category."""
    band: np.ndarray = column("g_band_", ("bands",), -np.inf)
    """Decayed weight per price band."""
    price_num: np.ndarray = column("g_price_num_", ("one",), -np.inf)
    """Decayed weight times price."""
    price_den: np.ndarray = column("g_price_den_", ("one",), -np.inf)
    """Decayed weight of events on priced items."""
    counts: np.ndarray = column("g_counts_", ("events",), 0.0, check="count")
    """Events per type (not decayed)."""
