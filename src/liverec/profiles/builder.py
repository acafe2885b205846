"""``UserProfileBuilder``: time-decayed user profiles that fold in new events exactly."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from typing_extensions import Self

from .. import persistence
from .._params import DictOf, HasMethods, Interval, ParamsMixin
from .._utils import concat_ranges, plain
from ..data import IdMap, Interactions, TextEvents
from ..data._columns import _object_array, as_1d, as_time_query, is_scalar
from ..data.interactions import DEFAULT_EVENT_WEIGHTS
from ..exceptions import (
    DataTypeError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
    PersistenceError,
    UnknownUserError,
)
from ._store import LogSparse, group_logsumexp
from ._tables import Dims, ItemTable, PopulationTable, UserTable
from .profile import UserProfile

__all__ = ["UserProfileBuilder", "read_item_table"]

_LN2 = math.log(2.0)
_ENGAGE = ("like", "comment", "share", "gift")
_FUNNEL = ("view", "like", "comment", "share", "gift", "cart", "purchase")
_TABLE_COLUMNS = ("item", "category", "price", "streamer", "title")


def read_item_table(table: Any, what: str = "item_metadata") -> dict[str, np.ndarray]:
    """Columns ``item`` (required), ``category``, ``price``, ``streamer``, ``title`` of a table.

    Accepts a pandas DataFrame (the index is the item id when there is no ``item`` column)
    or any mapping of column name -> sequence. Missing optional columns are left out.
    A product catalogue (a table with a ``product`` column, like
    ``make_live_commerce().products``) uses ``product`` as the item id and its ``item``
    column as the streamer; a streamer table without ``price`` uses ``mean_price``.

    Examples:
        >>> t = read_item_table({"item": ["a", "b"], "price": [9.9, 120]})
        >>> sorted(t), t["price"].tolist()
        (['item', 'price'], [9.9, 120.0])
        >>> sorted(read_item_table({"product": [1, 2], "item": [7, 7], "title": ["a", "b"]}))
        ['item', 'streamer', 'title']
    """
    if table is None:
        return {}
    names = list(table.columns) if hasattr(table, "columns") else list(table.keys()) if isinstance(table, Mapping) else None
    if names is None:
        raise DataTypeError(
            f"{what} must be a pandas DataFrame or a mapping of column name -> values "
            f"(columns item, category, price, streamer, title); got {type(table).__name__}."
        )
    out: dict[str, np.ndarray] = {}
    if "product" in names:  # a product catalogue: its "item" column is the streamer selling it
        out["item"] = as_1d(table["product"], f"{what}.product")
        if "item" in names and "streamer" not in names:
            out["streamer"] = as_1d(table["item"], f"{what}.item")
    elif "item" in names:
        out["item"] = as_1d(table["item"], f"{what}.item")
    elif hasattr(table, "index") and hasattr(table, "columns"):
        out["item"] = as_1d(table.index, f"{what}.item")
    else:
        raise DataValidationError(f"{what} has no 'item' column (columns: {names}); add one with the item ids.")
    for col in _TABLE_COLUMNS[1:]:
        source = "mean_price" if col == "price" and "price" not in names and "mean_price" in names else col
        if source in names:
            out[col] = as_1d(table[source], f"{what}.{source}")
            if len(out[col]) != len(out["item"]):
                raise DataValidationError(f"{what}: column {col!r} has {len(out[col])} rows, 'item' has {len(out['item'])}.")
    if "price" in out:
        try:
            out["price"] = out["price"].astype(np.float64)
        except (TypeError, ValueError) as err:
            raise DataTypeError(f"{what}: column 'price' must be numeric.") from err
        if (out["price"][np.isfinite(out["price"])] <= 0).any():
            raise DataValidationError(f"{what}: prices must be positive (or NaN when unknown).")
    if "category" in out:
        out["category"] = np.asarray([str(c) for c in out["category"].tolist()], dtype=object)
    if "title" in out:
        out["title"] = np.asarray(["" if x is None else str(x) for x in out["title"].tolist()], dtype=object)
    return out


def _segment_reduce(values: np.ndarray, indptr: np.ndarray, ufunc: Any, empty: float) -> np.ndarray:
    """``ufunc.reduce`` over every CSR segment (``empty`` for empty ones)."""
    n = len(indptr) - 1
    out = np.full(n, empty, dtype=np.float64)
    nonempty = np.diff(indptr) > 0
    if nonempty.any() and len(values):
        out[nonempty] = ufunc.reduceat(values, indptr[:-1][nonempty])
    return out


def _row_lse(L: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of a 2-D log array (``-inf`` for all-``-inf`` rows)."""
    if L.shape[1] == 0:
        return np.full(L.shape[0], -np.inf)
    top = L.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(L - safe[:, None]).sum(axis=1))


def _fold(arr: np.ndarray, idx: np.ndarray, logw: np.ndarray) -> None:
    """``arr[idx] <- logaddexp(arr[idx], logw)`` with repeated indices summed (in place)."""
    if len(idx) == 0:
        return
    uniq, inv = np.unique(idx, return_inverse=True)
    g = group_logsumexp(logw, inv.reshape(-1), len(uniq))
    arr[uniq] = np.logaddexp(arr[uniq], g)


def _scatter_add(arr: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    if len(idx) == 0:
        return
    uniq, inv = np.unique(idx, return_inverse=True)
    arr[uniq] += np.bincount(inv.reshape(-1), weights=values, minlength=len(uniq))


@persistence.register
class UserProfileBuilder(ParamsMixin):
    """Per-user profiles: affinities, activity, funnel and taste, updated incrementally.

    Every affinity is an exponentially time-decayed, event-weighted sum: an event of type
    ``e`` at time ``t`` counts ``event_weights[e] * 2 ** (-(T - t) / half_life)`` at time
    ``T``. Sums are kept in log space against a fixed anchor time, so [`update`][liverec.profiles.UserProfileBuilder.update] folds
    new events in exactly, touching only what they hit: ``fit(a)`` then ``update(b)`` gives
    the same profiles as ``fit(a + b)`` (up to float rounding).

    Per user the builder keeps affinities to items (streamers or products; sparse), to
    streamers (when the item metadata has a ``streamer`` column: products roll up to their
    room), to categories and to price bands (dense), the decayed mean price, raw activity
    (events per type, first/last seen, watch seconds: the ``weight`` of ``view`` events) and,
    with ``text`` and a ``text_encoder``, a taste vector: the decayed weighted mean of the
    text embeddings of the items the user engaged with and of the user's own comments (or of
    ``item_features`` rows when no text is given).

    Cold start: shares, rates, mean price and taste are shrunk toward the population
    (time-decayed over all users): ``(n * own + prior_strength * population) / (n +
    prior_strength)``, where ``n`` is the user's decayed event weight at their last event.
    A user with one view (``n = 1``) and the default ``prior_strength=3`` is 75% population;
    ``transform(..., unknown="default")`` returns the pure population profile for users never
    seen. The ``cold_start`` feature is ``prior_strength / (n + prior_strength)``.

    Args:
        event_weights: Worth of each event type (default
            [`liverec.data.DEFAULT_EVENT_WEIGHTS`][liverec.data.DEFAULT_EVENT_WEIGHTS]). Events of a type not
            listed raise [`DataValidationError`][liverec.exceptions.DataValidationError]. Weights must be
            ``>= 0``.
        half_life: Time for an event's weight to halve, in the data's time unit (seconds
            when times are datetimes). Default 7 days in seconds.
        text_encoder: Any object with ``transform(texts) -> np.ndarray`` (for example
            [`liverec.text.HashingTextEncoder`][liverec.text.HashingTextEncoder]); used for the taste vector.
        top_n: How many streamers / categories [`profile`][liverec.profiles.UserProfileBuilder.profile] lists.
        prior_strength: Pseudo-events of population behaviour mixed into every profile.
        n_price_bands: Number of price bands (quantiles of the item prices at ``fit``).
        comment_weight: Weight of one of the user's own comments in the taste vector.
        day: Length of a day in the data's time unit (for events per day and recency).

    Attributes:
        users_, items_: [`IdMap`][liverec.data.IdMap] of the users and items seen so far.
        feature_names_: Names of the columns of [`transform`][liverec.profiles.UserProfileBuilder.transform].
        categories_: Category names (columns ``cat:<name>``).
        price_edges_: Inner edges of the price bands.
        now_: The latest event time seen.
        user_table_, item_table_, pop_table_: The accumulated sums and counts, one row per
            user, one row per item, and the population (dataclasses whose fields say how each
            array is grown, saved and checked on load; see ``liverec.profiles._tables``).

    Examples:
        >>> from liverec.data import Interactions
        >>> X = Interactions.from_arrays(
        ...     user=["ann", "ann", "bob"], item=["s1", "s2", "s1"], time=[0.0, 3600.0, 7200.0],
        ...     event=["view", "purchase", "view"])
        >>> meta = {"item": ["s1", "s2"], "category": ["beauty", "food"], "price": [10.0, 50.0]}
        >>> b = UserProfileBuilder(half_life=86400.0).fit(X, item_metadata=meta)
        >>> b.transform(["ann", "bob"]).shape[0]
        2
        >>> b.profile("ann").top_categories[0][0]
        'food'
        >>> b = b.update(Interactions.from_arrays(["cy"], ["s2"], time=[9000.0], event=["cart"]))
        >>> b.profile("cy").n_events
        1
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "event_weights": [DictOf(str, Interval(numbers.Real, 0, None, closed="left"), min_length=1), None],
        "half_life": [Interval(numbers.Real, 0, None, closed="neither")],
        "text_encoder": [HasMethods("transform"), None],
        "top_n": [Interval(numbers.Integral, 1, None, closed="left")],
        "prior_strength": [Interval(numbers.Real, 0, None, closed="left")],
        "n_price_bands": [Interval(numbers.Integral, 1, None, closed="left")],
        "comment_weight": [Interval(numbers.Real, 0, None, closed="neither")],
        "day": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        event_weights: dict[str, float] | None = None,
        half_life: float = 7 * 86400.0,
        text_encoder: Any = None,
        top_n: int = 5,
        prior_strength: float = 3.0,
        n_price_bands: int = 4,
        comment_weight: float = 1.0,
        day: float = 86400.0,
    ) -> None:
        self.event_weights = event_weights
        self.half_life = half_life
        self.text_encoder = text_encoder
        self.top_n = top_n
        self.prior_strength = prior_strength
        self.n_price_bands = n_price_bands
        self.comment_weight = comment_weight
        self.day = day

    # Validation ---------------------------------------------------------------------------------
    def _set_event_table(self) -> None:
        """Validate the parameters and fix the event vocabulary (``event_types_``) and weights."""
        self._validate_params()
        table = dict(DEFAULT_EVENT_WEIGHTS if self.event_weights is None else self.event_weights)
        self.event_types_ = tuple(table)
        self.event_weight_values_ = np.array([float(table[k]) for k in self.event_types_], dtype=np.float64)

    def _check_fitted(self) -> None:
        if not getattr(self, "is_fitted_", False):
            raise NotFittedError("this UserProfileBuilder is not fitted yet; call fit(interactions) first.")

    # Fitting ----------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        text: TextEvents | None = None,
        item_features: Any = None,
        item_metadata: Any = None,
    ) -> Self:
        """Build profiles from scratch.

        Args:
            interactions: The events (``event`` column optional: without it every event is a
                ``view``).
            text: Titles, transcripts and comments (with ``user`` for comments) to embed
                with ``text_encoder`` for the taste vector.
            item_features: Item vectors for the taste vector when no text is used: a dict
                ``item -> vector`` or a pair ``(item ids, matrix)``.
            item_metadata: A table with columns ``item`` and optional ``category``,
                ``price``, ``streamer``, ``title`` (see [`read_item_table`][liverec.profiles.read_item_table]).

        Returns:
            ``self``.

        Raises:
            DataValidationError: for an event type without a weight, empty data, bad metadata.
        """
        if not isinstance(interactions, Interactions):
            raise DataTypeError(
                f"fit expects liverec.data.Interactions, got {type(interactions).__name__}; "
                "build one with Interactions.from_arrays(user, item, time, event)."
            )
        if len(interactions) == 0:
            raise DataValidationError("fit got no interactions; pass at least one event.")
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
        self._set_event_table()
        self._event_lut(interactions)  # fail on unknown events before building anything
        meta = read_item_table(item_metadata)
        self._start(interactions, meta)
        self._ingest_metadata(meta)
        if item_features is not None:
            self._set_item_features(item_features)
        self._ingest(interactions, text)
        return self

    def _start(self, X: Interactions, meta: dict[str, np.ndarray]) -> None:
        """Fix the time anchor, the vocabularies (categories, price bands) and empty tables."""
        self.c_ = _LN2 / float(self.half_life)
        self.t0_ = float(X.time.max())
        self.now_ = -np.inf
        self.users_ = IdMap(np.zeros(0, dtype=X.users.ids.dtype), "user")
        self.items_ = IdMap(np.zeros(0, dtype=X.items.ids.dtype), "item")
        self.time_kind_ = X.time_kind
        self.categories_: list[str] = sorted(set(meta["category"].tolist())) if "category" in meta else []
        prices = meta.get("price", np.zeros(0))
        prices = prices[np.isfinite(prices)]
        if len(prices):
            qs = np.quantile(prices, np.linspace(0, 1, int(self.n_price_bands) + 1)[1:-1])
            self.price_edges_ = np.unique(qs)
        else:
            self.price_edges_ = np.zeros(0)
        self.has_prices_ = bool(len(prices))
        self.streamers_ = IdMap.from_values(meta["streamer"], "streamer")[0] if "streamer" in meta else None
        self.dim_ = 0
        dims = self._dims()
        self.user_table_ = UserTable.empty(dims)
        self.item_table_ = ItemTable.empty(dims)
        self.pop_table_ = PopulationTable.empty(dims)
        self.pairs_item_ = LogSparse()
        self.pairs_streamer_ = LogSparse()
        # per (user, item * n_event_types + event): log event count, so forget can take a user's
        # events out of the item counts (None in directories saved before forget existed)
        self.pairs_event_: LogSparse | None = LogSparse()
        self._cache: dict[str, Any] = {}
        self.is_fitted_ = True

    def _dims(self) -> Dims:
        """The current sizes the tables' shapes are written in."""
        return Dims(categories=len(self.categories_), bands=self.n_bands_, events=len(self.event_types_),
                    dim=self.dim_, streamers=0 if self.streamers_ is None else len(self.streamers_))

    def _resize(self, *, users: bool = True, items: bool = True, population: bool = True) -> None:
        """Grow the tables to the users, items, categories and text dimension known now."""
        dims = self._dims()
        if users:
            self.user_table_.resize(dims, len(self.users_))
        if items:
            self.item_table_.resize(dims, len(self.items_))
        if population:
            self.pop_table_.resize(dims)

    @property
    def n_bands_(self) -> int:
        return len(self.price_edges_) + 1 if getattr(self, "has_prices_", False) else 0

    def update(self, new_events: Interactions, text: TextEvents | None = None, item_metadata: Any = None) -> Self:
        """Fold new events (and text) into the profiles, in time proportional to the new data.

        New users and items are added. Metadata rows for items already known are ignored;
        new categories get new columns (appended to ``feature_names_``); the price bands
        stay those set at ``fit``.

        Args:
            new_events: The new events (same event vocabulary as ``event_weights``).
            text: New titles, transcripts and comments.
            item_metadata: Metadata of new items (same columns as in ``fit``).

        Returns:
            ``self``.
        """
        self._check_fitted()
        if not isinstance(new_events, Interactions):
            raise DataTypeError(f"update expects liverec.data.Interactions, got {type(new_events).__name__}.")
        self._event_lut(new_events)
        if item_metadata is not None:
            self._ingest_metadata(read_item_table(item_metadata))
        if len(new_events) or text is not None:
            self._ingest(new_events, text)
        return self

    #: Alias of [`update`][liverec.profiles.UserProfileBuilder.update], the name the estimator API uses for incremental fitting.
    partial_fit = update

    # Ingestion ----------------------------------------------------------------------------------
    def _event_lut(self, X: Interactions) -> np.ndarray | None:
        """Map the data's event codes to indices into ``event_types_`` (error on unknown types)."""
        types = getattr(self, "event_types_", None)
        if types is None:
            self._set_event_table()
            types = self.event_types_
        if X.event is None:
            if "view" not in types:
                raise DataValidationError(
                    "the interactions have no event column, so every event counts as a 'view', "
                    f"but event_weights has no 'view' (given: {list(types)}); add 'view'."
                )
            return None
        present = np.unique(X.event) if len(X) else np.zeros(0, dtype=np.int64)
        missing = [X.event_types[c] for c in present if X.event_types[c] not in types]
        if missing:
            raise DataValidationError(
                f"unknown event type(s) {missing}: event_weights gives a weight to {list(types)}; "
                "add the missing types to event_weights=... (or drop those events)."
            )
        return np.array([types.index(n) if n in types else -1 for n in X.event_types], dtype=np.int64)

    def _ensure_users(self, ids: np.ndarray) -> np.ndarray:
        self.users_ = IdMap.from_values(ids, "user")[0] if not len(self.users_) else self.users_.extend(ids)
        self._resize(items=False, population=False)
        return self.users_.codes(ids)

    def _ensure_items(self, ids: np.ndarray) -> np.ndarray:
        self.items_ = IdMap.from_values(ids, "item")[0] if not len(self.items_) else self.items_.extend(ids)
        self._resize(users=False, population=False)
        return self.items_.codes(ids)

    @staticmethod
    def _recode(codes: np.ndarray, idmap: IdMap, ensure: Any) -> np.ndarray:
        """Codes of the data's map -> codes of ours, adding only ids that occur."""
        used, inv = np.unique(codes, return_inverse=True)
        return ensure(idmap.take(used))[inv.reshape(-1)]

    def _ingest_metadata(self, meta: dict[str, np.ndarray]) -> None:
        if not meta:
            return
        codes = self._ensure_items(meta["item"])
        fresh = ~self.item_table_.has_meta[codes]
        codes = codes[fresh]
        if not len(codes):
            return
        sub = {k: v[fresh] for k, v in meta.items()}
        items = self.item_table_
        items.has_meta[codes] = True
        if "category" in sub:
            new = sorted(set(sub["category"].tolist()) - set(self.categories_))
            if new:
                self.categories_ = self.categories_ + new
                self._resize()  # new category columns
            lut = {c: k for k, c in enumerate(self.categories_)}
            items.cat[codes] = [lut[c] for c in sub["category"].tolist()]
        if "price" in sub and self.has_prices_:
            p = sub["price"]
            items.price[codes] = p
            items.band[codes] = np.where(np.isfinite(p), np.searchsorted(self.price_edges_, p, side="right"), -1)
        if "streamer" in sub and self.streamers_ is not None:
            self.streamers_ = self.streamers_.extend(sub["streamer"])
            items.streamer[codes] = self.streamers_.codes(sub["streamer"])
        if "title" in sub and self.text_encoder is not None:
            has = np.array([bool(t) for t in sub["title"].tolist()], dtype=bool)
            if has.any():
                self._add_item_text(codes[has], self._encode(sub["title"][has].tolist()))
        self._cache.clear()

    def _set_item_features(self, item_features: Any) -> None:
        if isinstance(item_features, Mapping):
            ids = np.asarray(list(item_features.keys()))
            mat = np.asarray([np.asarray(v, dtype=np.float64) for v in item_features.values()])
        elif isinstance(item_features, tuple) and len(item_features) == 2:
            ids, mat = np.asarray(item_features[0]), np.asarray(item_features[1], dtype=np.float64)
        else:
            raise DataTypeError(
                "item_features must be a dict item -> vector or a pair (item ids, matrix); got "
                f"{type(item_features).__name__}."
            )
        if mat.ndim != 2 or len(mat) != len(ids):
            raise DataValidationError(f"item_features: expected one vector per item, got shape {mat.shape} for {len(ids)} items.")
        if not np.isfinite(mat).all():
            raise DataValidationError("item_features has NaN or infinite values; fill them first.")
        codes = self._ensure_items(ids)
        self.item_table_.fixed_vec = np.zeros((len(self.item_table_.cat), mat.shape[1]))
        self.item_table_.fixed_vec[codes] = mat

    def _encode(self, texts: list[str]) -> np.ndarray:
        emb = np.asarray(self.text_encoder.transform(texts), dtype=np.float64)
        if emb.ndim != 2 or len(emb) != len(texts):
            raise DataValidationError(
                f"text_encoder.transform returned shape {emb.shape} for {len(texts)} texts; "
                "it must return one row per text."
            )
        if self.dim_ == 0:
            self.dim_ = emb.shape[1]
            self._resize()  # text columns (empty until now)
        elif emb.shape[1] != self.dim_:
            raise DataValidationError(f"text_encoder returned dimension {emb.shape[1]}, earlier {self.dim_}.")
        return emb

    def _add_item_text(self, codes: np.ndarray, emb: np.ndarray) -> None:
        np.add.at(self.item_table_.text_sum, codes, emb)
        np.add.at(self.item_table_.text_n, codes, 1.0)

    def _logw(self, ev: np.ndarray, time: np.ndarray) -> np.ndarray:
        w = self.event_weight_values_[ev]
        with np.errstate(divide="ignore"):
            return np.log(w) + (time - self.t0_) * self.c_

    def _ingest(self, X: Interactions, text: TextEvents | None, population: bool = True) -> None:
        """Fold events and text in; ``population=False`` leaves the population and items as they are."""
        if len(X):
            self._ingest_events(X, population)
        if text is not None:
            self._ingest_text(text, population)
        self._cache.clear()

    def _ingest_events(self, X: Interactions, population: bool) -> None:
        lut = self._event_lut(X)
        u = self._recode(X.user_codes, X.users, self._ensure_users)
        i = self._recode(X.item_codes, X.items, self._ensure_items)
        t = X.time
        view = self.event_types_.index("view") if "view" in self.event_types_ else -1
        ev = np.full(len(X), view, dtype=np.int64) if lut is None else lut[X.event]
        lw = self._logw(ev, t)
        n_types = len(self.event_types_)
        users, items, pop = self.user_table_, self.item_table_, self.pop_table_
        _fold(users.total, u, lw)
        _scatter_add(users.counts.reshape(-1), u * n_types + ev, np.ones(len(u)))
        np.minimum.at(users.first, u, t)
        np.maximum.at(users.last, u, t)
        if X.weight is not None and view >= 0:
            is_view = ev == view
            _scatter_add(users.watch, u[is_view], X.weight[is_view])
        self.pairs_item_.add(u, i, lw)
        self._fold_categories(u, i, lw, population)
        self._fold_prices(u, i, lw, population)
        s = items.streamer[i]
        has = s >= 0
        if has.any():
            self.pairs_streamer_.add(u[has], s[has], lw[has])
        if population:
            _fold(pop.total, np.zeros(len(u), dtype=np.int64), lw)
            _fold(items.weight, i, lw)
            pop.counts += np.bincount(ev, minlength=n_types)
            _scatter_add(items.counts.reshape(-1), i * n_types + ev, np.ones(len(i)))
            if self.pairs_event_ is not None:
                self.pairs_event_.add(u, i * n_types + ev, np.zeros(len(u)))
        self.now_ = max(self.now_, float(t.max()))

    def _fold_categories(self, u: np.ndarray, i: np.ndarray, lw: np.ndarray, population: bool) -> None:
        cat = self.item_table_.cat[i]
        has = cat >= 0
        if has.any():
            n_cat = len(self.categories_)
            _fold(self.user_table_.cat.reshape(-1), u[has] * n_cat + cat[has], lw[has])
            if population:
                _fold(self.pop_table_.cat, cat[has], lw[has])

    def _fold_prices(self, u: np.ndarray, i: np.ndarray, lw: np.ndarray, population: bool) -> None:
        band = self.item_table_.band[i]
        has = band >= 0
        if not has.any():
            return
        users, pop = self.user_table_, self.pop_table_
        _fold(users.band.reshape(-1), u[has] * self.n_bands_ + band[has], lw[has])
        lp = lw[has] + np.log(self.item_table_.price[i[has]])
        _fold(users.price_num, u[has], lp)
        _fold(users.price_den, u[has], lw[has])
        if population:
            zeros = np.zeros(int(has.sum()), dtype=np.int64)
            _fold(pop.band, band[has], lw[has])
            _fold(pop.price_num, zeros, lp)
            _fold(pop.price_den, zeros, lw[has])

    def _ingest_text(self, text: TextEvents, population: bool) -> None:
        if not isinstance(text, TextEvents):
            raise DataTypeError(f"text must be liverec.data.TextEvents, got {type(text).__name__}.")
        if self.text_encoder is None:
            raise DataValidationError(
                "text was given but the builder has no text_encoder; pass "
                "text_encoder=liverec.text.HashingTextEncoder() (or any object with transform)."
            )
        if not len(text):
            return
        emb = self._encode(text.text.tolist())
        if population:
            items = self._recode(text.item_codes, text.items, self._ensure_items)
            self._add_item_text(items, emb)
        if text.user is None:
            return
        authored = np.array([x is not None and x == x and x != "" for x in text.user.tolist()], dtype=bool)
        is_comment = (text.kind == 0) & authored
        if not is_comment.any():
            return
        rows = np.flatnonzero(is_comment)
        users = self._ensure_users(np.asarray(text.user[rows].tolist()))
        t = text.time[rows]
        lw = math.log(float(self.comment_weight)) + (t - self.t0_) * self.c_
        uniq, inv = np.unique(users, return_inverse=True)
        inv = inv.reshape(-1)
        top = np.full(len(uniq), -np.inf)
        np.maximum.at(top, inv, lw)
        table = self.user_table_
        old = table.comment_scale[uniq]
        new = np.maximum(old, top)
        table.comment_vec[uniq] *= np.exp(old - new)[:, None]
        coef = np.exp(lw - new[inv])
        ext = np.hstack([emb[rows], np.ones((len(rows), 1))])
        m = sp.csr_matrix((coef, (inv, np.arange(len(rows)))), shape=(len(uniq), len(rows)))
        table.comment_vec[uniq] += m @ ext
        table.comment_scale[uniq] = new
        np.minimum.at(table.first, users, t)
        np.maximum.at(table.last, users, t)
        self.now_ = max(self.now_, float(t.max()))

    # Forgetting -------------------------------------------------------------------------------
    def forget(self, users: Any) -> Self:
        """Remove users and every trace of their events from the profiles, exactly.

        Their rows (affinities, counts, activity, comment taste) go, and everything summed
        over users is recomputed from the users who remain: the population profile (the
        cold-start prior), the items' decayed popularity and their event counts. Profiles
        of the remaining users then equal those of a refit without the removed users (up to
        float rounding). Two things are kept: the clock ``now_`` (the latest event time
        seen) and the text of comments the users wrote, which was folded into the items'
        text vectors anonymously (it is item text, keyed by item, not by user).

        Args:
            users: One external user id or a sequence of them, all known.

        Returns:
            ``self``.

        Raises:
            UnknownUserError: for an unknown user (nothing is changed).
            PersistenceError: for a builder loaded from a directory saved before
                ``forget`` existed (it has no per-user event counts); refit it.

        Examples:
            >>> from liverec.data import Interactions
            >>> X = Interactions.from_arrays(["ann", "bob", "bob"], ["s1", "s1", "s2"],
            ...                              time=[0.0, 1.0, 2.0], event=["view", "view", "cart"])
            >>> b = UserProfileBuilder().fit(X).forget("bob")
            >>> b.users_.ids.tolist(), b.item_counts_[:2].sum(axis=1).tolist()
            (['ann'], [1.0, 0.0])
        """
        self._check_fitted()
        _, codes = self._codes(users, "raise")
        if self.pairs_event_ is None:
            raise PersistenceError(
                "this UserProfileBuilder was saved by a liverec version without per-user event counts, "
                "so it cannot forget users exactly; refit it on the events without those users.")
        n_users, n_items = len(self.users_), len(self.items_)
        drop = np.zeros(n_users, dtype=bool)
        drop[codes] = True
        keep = np.flatnonzero(~drop)
        new_code = np.cumsum(~drop) - 1
        # take the users' events out of the item counts (exact: integer counts)
        r, c, v = self.pairs_event_.entries()
        gone = drop[r]
        _scatter_add(self.item_table_.counts.reshape(-1), c[gone], -np.rint(np.exp(v[gone])))
        stores = {}
        for key in (*self._PAIR_STORES, "pairs_event"):
            r, c, v = getattr(self, f"{key}_").entries()
            mine = drop[r]
            stores[key] = LogSparse.from_arrays(new_code[r[~mine]], c[~mine], v[~mine])
        self.pairs_item_, self.pairs_streamer_ = stores["pairs_item"], stores["pairs_streamer"]
        self.pairs_event_ = stores["pairs_event"]
        self.user_table_ = self.user_table_.take(keep)
        self.users_ = IdMap(self.users_.ids[keep], "user") if len(keep) else IdMap(self.users_.ids[:0], "user")
        self._recompute_population(n_items)
        self._cache.clear()
        return self

    def _recompute_population(self, n_items: int) -> None:
        """Sums over users (population profile, item popularity) from the users' own rows."""
        users, pop, n = self.user_table_, self.pop_table_, len(self.users_)
        pop.total[:] = _row_lse(users.total[None, :n])
        pop.cat[:] = _row_lse(users.cat[:n].T)
        pop.band[:] = _row_lse(users.band[:n].T)
        pop.price_num[:] = _row_lse(users.price_num[None, :n])
        pop.price_den[:] = _row_lse(users.price_den[None, :n])
        pop.counts[:] = users.counts[:n].sum(axis=0)
        _, cols, logv = self.pairs_item_.entries()
        self.item_table_.weight[:] = -np.inf
        self.item_table_.weight[:n_items] = group_logsumexp(logv, cols, n_items)

    # Features ---------------------------------------------------------------------------------
    def item_vectors(self) -> np.ndarray | None:
        """Item vectors behind the taste (text mean, else ``item_features``), or ``None``."""
        self._check_fitted()
        if "V" not in self._cache:
            n = len(self.items_)
            if self.dim_:
                cnt = self.item_table_.text_n[:n]
                V = self.item_table_.text_sum[:n] / np.maximum(cnt, 1.0)[:, None]
                has = cnt > 0
            elif self.item_table_.fixed_vec is not None:
                V = self.item_table_.fixed_vec[:n]
                has = np.abs(V).sum(axis=1) > 0
            else:
                V, has = None, None
            self._cache["V"] = (V, has)
        return self._cache["V"][0]

    @property
    def feature_names_(self) -> list[str]:
        """Names of the columns [`transform`][liverec.profiles.UserProfileBuilder.transform] returns."""
        self._check_fitted()
        names = [f"cat:{c}" for c in self.categories_]
        names += [f"price_band:{b}" for b in self.band_labels_]
        if self.has_prices_:
            names.append("log_mean_price")
        names += ["ctr", "cvr", "engage_rate", "log_events", "events_per_day", "log_watch_seconds",
                  "log_days_since_last", "engagement_now", "loyalty", "cold_start"]
        self.item_vectors()
        V = self._cache["V"][0]
        if V is not None:
            names += [f"taste:{j}" for j in range(V.shape[1])]
        return names

    @property
    def band_labels_(self) -> list[str]:
        """Readable names of the price bands (``"<35"``, ``"35-80"``, ``">=80"``)."""
        if not getattr(self, "has_prices_", False):
            return []
        e = [f"{x:.4g}" for x in self.price_edges_]
        if not e:
            return ["all"]
        return [f"<{e[0]}"] + [f"{a}-{b}" for a, b in zip(e[:-1], e[1:], strict=True)] + [f">={e[-1]}"]

    def _population(self) -> dict[str, Any]:
        if "pop" in self._cache:
            return self._cache["pop"]

        def shares(g: np.ndarray) -> np.ndarray:
            if not len(g) or not np.isfinite(g).any():
                return np.full(len(g), 1.0 / max(len(g), 1))
            return np.exp(g - _row_lse(g[None, :])[0])

        g_pop = self.pop_table_
        counts = dict(zip(self.event_types_, g_pop.counts, strict=True))
        views = counts.get("view", 0.0)
        carts = counts.get("cart", 0.0)
        buys = counts.get("purchase", 0.0)
        eng = sum(counts.get(k, 0.0) for k in _ENGAGE)
        pop = {
            "cat": shares(g_pop.cat), "band": shares(g_pop.band),
            "lmp": float(g_pop.price_num[0] - g_pop.price_den[0]) if np.isfinite(g_pop.price_den[0]) else 0.0,
            "ctr": carts / views if views else 0.0,
            "cvr": buys / max(carts, buys) if max(carts, buys) else 0.0,
            "engage": eng / views if views else 0.0,
        }
        V = self.item_vectors()
        if V is not None:
            has = self._cache["V"][1]
            g = self.item_table_.weight[: len(V)]
            ok = has & np.isfinite(g)
            if ok.any():
                w = np.exp(g[ok] - g[ok].max())
                pop["taste"] = (w @ V[ok]) / w.sum()
            else:
                pop["taste"] = np.zeros(V.shape[1])
        self._cache["pop"] = pop
        return pop

    def _time(self, at: Any) -> float:
        if at is None:
            return float(self.now_)
        return float(as_time_query(at, self.time_kind_, "the data this UserProfileBuilder was fitted on")[0])

    def _codes(self, users: Any, unknown: str) -> tuple[np.ndarray, np.ndarray]:
        if unknown not in ("raise", "default"):
            raise InvalidParameterError(f"unknown must be 'raise' or 'default', got {unknown!r}.")
        # ids one by one (numpy would turn [1, "1"] into two "1"s); IdMap.codes refuses what no id can be
        arr = _object_array([users] if is_scalar(users) else list(users.to_numpy() if hasattr(users, "to_numpy")
                                                                   else users))
        codes = self.users_.codes(arr, missing="ignore") if len(arr) else np.zeros(0, dtype=np.int64)
        if unknown == "raise" and (codes < 0).any():
            bad = arr[int(np.flatnonzero(codes < 0)[0])]
            raise UnknownUserError(
                f"unknown user {bad!r} ({int((codes < 0).sum())} unknown in all): no events for them; "
                "pass unknown='default' for the population (cold-start) profile, or update() with their events."
            )
        return arr, codes

    def transform(self, users: Any, *, at: Any = None, unknown: str = "raise") -> np.ndarray:
        """Profile features of users, one row per user (columns: [`feature_names_`][liverec.profiles.UserProfileBuilder.feature_names_]).

        Args:
            users: External user ids.
            at: The time the profiles describe (recency and ``engagement_now`` depend on it);
                default: the latest event time seen (``now_``).
            unknown: ``"raise"`` for users never seen, or ``"default"`` to give them the
                population (cold-start) profile.

        Returns:
            float64 array ``(len(users), len(feature_names_))``.

        Raises:
            UnknownUserError: for a user never seen (with ``unknown="raise"``).
        """
        self._check_fitted()
        _, codes = self._codes(users, unknown)
        return self._features(codes, self._time(at))

    def _features(self, codes: np.ndarray, at: float) -> np.ndarray:
        n = len(codes)
        known = codes >= 0
        c = np.where(known, codes, 0)
        m = float(self.prior_strength)
        pop = self._population()
        users = self.user_table_
        last = np.where(known, users.last[c], at)
        ref = (last - self.t0_) * self.c_  # log of the decay factor at the user's last event

        def gather(a: np.ndarray, fill: float) -> np.ndarray:
            out = a[c].copy()
            out[~known] = fill
            return out

        def evidence(log_total: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore"):
                return np.where(np.isfinite(log_total), np.exp(log_total - ref), 0.0)

        def shrunk_shares(L: np.ndarray, p: np.ndarray) -> np.ndarray:
            tot = _row_lse(L)
            ok = np.isfinite(tot)
            share = np.zeros_like(L)
            share[ok] = np.exp(L[ok] - tot[ok, None])
            e = evidence(tot)[:, None]
            return (e * share + m * p[None, :]) / np.maximum(e + m, 1e-300)

        blocks: list[np.ndarray] = []
        if self.categories_:
            blocks.append(shrunk_shares(gather(users.cat, -np.inf), pop["cat"]))
        if self.has_prices_:
            blocks.append(shrunk_shares(gather(users.band, -np.inf), pop["band"]))
            num, den = gather(users.price_num, -np.inf), gather(users.price_den, -np.inf)
            e = evidence(den)
            with np.errstate(invalid="ignore"):
                own = np.where(np.isfinite(den), num - den, 0.0)
            blocks.append(((e * own + m * pop["lmp"]) / np.maximum(e + m, 1e-300))[:, None])
        counts = gather(users.counts, 0.0)
        by = {k: counts[:, j] for j, k in enumerate(self.event_types_)}
        zero = np.zeros(n)
        views, carts, buys = by.get("view", zero), by.get("cart", zero), by.get("purchase", zero)
        eng = sum((by.get(k, zero) for k in _ENGAGE), zero)
        denom = max(m, 1e-12)
        ctr = (carts + m * pop["ctr"]) / np.maximum(views + m, denom)
        cvr = (buys + m * pop["cvr"]) / np.maximum(np.maximum(carts, buys) + m, denom)
        engage = (eng + m * pop["engage"]) / np.maximum(views + m, denom)
        n_events = counts.sum(axis=1)
        first = np.where(known, users.first[c], at)
        span = np.maximum(last - first, float(self.day))
        per_day = n_events / (span / float(self.day))
        watch = gather(users.watch, 0.0)
        since = np.maximum(at - last, 0.0) / float(self.day)
        total = gather(users.total, -np.inf)
        with np.errstate(over="ignore"):
            now_mass = np.where(np.isfinite(total), np.exp(np.minimum(total - (at - self.t0_) * self.c_, 700.0)), 0.0)
        loyalty = self._loyalty(codes)
        n_tot = evidence(total)
        cold = m / np.maximum(n_tot + m, 1e-300) if m > 0 else (n_tot == 0).astype(np.float64)
        blocks.append(np.column_stack([
            ctr, cvr, engage, np.log1p(n_events), per_day, np.log1p(watch), np.log1p(since),
            np.log1p(now_mass), loyalty, cold,
        ]))
        V = self.item_vectors()
        if V is not None:
            blocks.append(self._taste(codes, ref, pop["taste"]))
        return np.hstack(blocks) if blocks else np.zeros((n, 0))

    def _user_entries(self, store: LogSparse, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, cols, logv)`` of the given users' rows (unknown users: empty rows)."""
        indptr, cols, logv = store.csr(len(self.users_))
        c = np.where(codes >= 0, codes, 0)
        starts = indptr[c]
        counts = np.where(codes >= 0, indptr[c + 1] - starts, 0)
        sel = concat_ranges(starts, counts)
        out_ptr = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(counts, out=out_ptr[1:])
        return out_ptr, cols[sel], logv[sel]

    def _loyalty(self, codes: np.ndarray) -> np.ndarray:
        store = self.pairs_streamer_ if self.streamers_ is not None else self.pairs_item_
        ptr, _, logv = self._user_entries(store, codes)
        top = _segment_reduce(logv, ptr, np.maximum, -np.inf)
        seg = np.repeat(np.arange(len(codes)), np.diff(ptr))
        safe = np.where(np.isfinite(top), top, 0.0)
        tot = np.bincount(seg, weights=np.exp(logv - safe[seg]), minlength=len(codes))
        return np.where(tot > 0, 1.0 / np.maximum(tot, 1e-300), 0.0)

    def _taste(self, codes: np.ndarray, ref: np.ndarray, pop_taste: np.ndarray) -> np.ndarray:
        V, has = self._cache["V"]
        n, d = len(codes), V.shape[1]
        ptr, cols, logv = self._user_entries(self.pairs_item_, codes)
        seg = np.repeat(np.arange(n), np.diff(ptr))
        ok = has[cols]
        seg, cols, logv = seg[ok], cols[ok], logv[ok]
        top = np.full(n, -np.inf)
        np.maximum.at(top, seg, logv)
        known = codes >= 0
        cs = np.where(known, self.user_table_.comment_scale[np.where(known, codes, 0)], -np.inf) if self.dim_ else np.full(n, -np.inf)
        M = np.maximum(top, cs)
        safe = np.where(np.isfinite(M), M, 0.0)
        w = np.exp(logv - safe[seg])
        W = sp.csr_matrix((w, (seg, cols)), shape=(n, len(V)))
        num = np.asarray(W @ V)
        den: np.ndarray = np.bincount(seg, weights=w, minlength=n).astype(np.float64)
        if self.dim_ and np.isfinite(cs).any():
            cv = self.user_table_.comment_vec[np.where(known, codes, 0)] * np.exp(np.where(np.isfinite(cs), cs - safe, -np.inf))[:, None]
            num = num + cv[:, :d]
            den = den + cv[:, d]
        with np.errstate(over="ignore"):
            e = np.where(den > 0, den * np.exp(np.minimum(safe - ref, 700.0)), 0.0)
        own = num / np.maximum(den, 1e-300)[:, None]
        m = float(self.prior_strength)
        return (e[:, None] * own + m * pop_taste[None, :]) / np.maximum(e + m, 1e-300)[:, None]

    # Readable profile -----------------------------------------------------------------------------
    def profile(self, user: Any, *, at: Any = None) -> UserProfile:
        """A readable summary of one user (see [`UserProfile`][liverec.profiles.UserProfile]).

        Raises:
            UnknownUserError: for a user never seen.
        """
        self._check_fitted()
        arr, codes = self._codes([user], "raise")
        t = self._time(at)
        row = self._features(codes, t)[0]
        names = self.feature_names_
        f = dict(zip(names, row.tolist(), strict=True))
        code = int(codes[0])
        store, idmap = (self.pairs_streamer_, self.streamers_) if self.streamers_ is not None else (self.pairs_item_, self.items_)
        ptr, cols, logv = self._user_entries(store, codes)
        top_streamers: list[tuple[Any, float]] = []
        if len(cols):
            w = np.exp(logv - logv.max())
            w /= w.sum()
            order = np.argsort(-w, kind="stable")[: self.top_n]
            top_streamers = [(plain(idmap.ids[cols[j]]), float(w[j])) for j in order]
        cat = [(c, f[f"cat:{c}"]) for c in self.categories_]
        cat.sort(key=lambda x: -x[1])
        bands = {b: f[f"price_band:{b}"] for b in self.band_labels_}
        users = self.user_table_
        counts = users.counts[code]
        funnel: dict[str, float] = {k: float(counts[self.event_types_.index(k)]) for k in _FUNNEL if k in self.event_types_}
        funnel.update(ctr=f["ctr"], cvr=f["cvr"], engage_rate=f["engage_rate"])
        V = self.item_vectors()
        taste = row[-V.shape[1]:] if V is not None else None
        return UserProfile(
            user=plain(arr[0]), at=t, n_events=int(counts.sum()), cold_start=f["cold_start"],
            top_streamers=top_streamers, top_categories=cat[: self.top_n],
            price_band=max(bands, key=lambda k: bands[k]) if bands else None, price_band_shares=bands,
            mean_price=float(np.exp(f["log_mean_price"])) if self.has_prices_ else None,
            activity={
                "events_per_day": f["events_per_day"], "watch_seconds": float(users.watch[code]),
                "first_seen": float(users.first[code]), "last_seen": float(users.last[code]),
                "time_since_last_seen": max(t - float(users.last[code]), 0.0),
                "days_since_last_seen": max(t - float(users.last[code]), 0.0) / float(self.day),
                "engagement_now": float(np.expm1(f["engagement_now"])),
            },
            funnel=funnel, taste=taste,
        )

    # Derived item-side quantities (used by ProfileRanker) ----------------------------------------
    def item_popularity(self, at: Any = None) -> np.ndarray:
        """Decayed event weight of every item at ``at`` (default ``now_``), log1p-scaled."""
        self._check_fitted()
        return self._item_popularity(self._time(at))

    def _item_popularity(self, t: float) -> np.ndarray:
        """`item_popularity` at ``t`` already in float seconds (callers inside liverec)."""
        g = self.item_table_.weight[: len(self.items_)]
        with np.errstate(over="ignore"):
            return np.log1p(np.where(np.isfinite(g), np.exp(np.minimum(g - (t - self.t0_) * self.c_, 700.0)), 0.0))

    def user_affinity(self, user_codes: np.ndarray, item_codes: np.ndarray, kind: str = "item") -> np.ndarray:
        """Share of the user's decayed weight on each item (``kind="item"``) or its streamer.

        Args:
            user_codes: Codes into ``users_`` (``-1`` for unknown users: share 0).
            item_codes: Codes into ``items_``, same length.
            kind: ``"item"`` or ``"streamer"``.
        """
        self._check_fitted()
        store = self.pairs_item_ if kind == "item" else self.pairs_streamer_
        cols_q = item_codes if kind == "item" else (self.item_table_.streamer[item_codes] if self.streamers_ is not None else np.full(len(item_codes), -1))
        user_codes = np.asarray(user_codes, dtype=np.int64)
        uniq, inv = np.unique(user_codes, return_inverse=True)
        ptr, _, logv = self._user_entries(store, uniq)
        seg = np.repeat(np.arange(len(uniq)), np.diff(ptr))
        tot = group_logsumexp(logv, seg, len(uniq))[inv.reshape(-1)]
        vals = store.get(user_codes, cols_q)
        ok = np.isfinite(vals) & np.isfinite(tot)
        out = np.zeros(len(user_codes))
        out[ok] = np.exp(vals[ok] - tot[ok])
        return out

    def empty_copy(self) -> UserProfileBuilder:
        """A builder sharing this one's items, metadata and population but with no users.

        Feeding it events (``_ingest(..., population=False)``) profiles new users against the
        fitted population without changing it (used for fold-in of unseen users).
        """
        self._check_fitted()
        out = UserProfileBuilder(**self.get_params(deep=False))
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        out.users_ = IdMap(np.zeros(0, dtype=self.users_.ids.dtype), "user")
        out.user_table_ = UserTable.empty(self._dims())
        out.pairs_item_ = LogSparse()
        out.pairs_streamer_ = LogSparse()
        out.pairs_event_ = LogSparse()
        # tables shared with self must not be written in place by the copy's ingest
        out.item_table_ = self.item_table_.copy()
        out.pop_table_ = self.pop_table_.copy()
        out._cache = {k: self._cache[k] for k in ("V", "pop") if k in self._cache}
        return out

    # Item columns read by ProfileRanker (views of ``item_table_``) ---------------------------------
    @property
    def item_cat_(self) -> np.ndarray:
        """Category code of every item (``-1``: none); rows past ``len(items_)`` are spare."""
        return self.item_table_.cat

    @property
    def item_band_(self) -> np.ndarray:
        """Price band code of every item (``-1``: no price)."""
        return self.item_table_.band

    @property
    def item_price_(self) -> np.ndarray:
        """Price of every item (NaN: unknown)."""
        return self.item_table_.price

    @property
    def item_streamer_(self) -> np.ndarray:
        """Streamer (room) code of every item (``-1``: none)."""
        return self.item_table_.streamer

    @property
    def item_counts_(self) -> np.ndarray:
        """Events per item and event type over all users."""
        return self.item_table_.counts

    # Persistence ----------------------------------------------------------------------------------
    _PAIR_STORES = ("pairs_item", "pairs_streamer")

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-safe attributes and arrays of the fitted state (for saving inside a model)."""
        self._check_fitted()
        arrays = {
            **self.item_table_.to_arrays(len(self.items_)),
            **self.user_table_.to_arrays(len(self.users_)),
            **self.pop_table_.to_arrays(),
            "price_edges_": np.ascontiguousarray(self.price_edges_),
            "users": self.users_.to_array(),
            "items": self.items_.to_array(),
        }
        for key in self._PAIR_STORES + ("pairs_event",):
            store = getattr(self, f"{key}_", None)
            if store is not None:
                r, c, v = store.entries()
                arrays[f"{key}/rows"], arrays[f"{key}/cols"], arrays[f"{key}/logv"] = r.copy(), c.copy(), v.copy()
        if self.streamers_ is not None:
            arrays["streamers"] = self.streamers_.to_array()
        attrs = {"t0": self.t0_, "now": self.now_, "c": self.c_, "dim": self.dim_, "categories": list(self.categories_),
                 "has_prices": self.has_prices_, "event_types": list(self.event_types_),
                 "event_weight_values": self.event_weight_values_.tolist(), "time_kind": self.time_kind_}
        return attrs, arrays

    def set_state(self, attrs: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore what [`get_state`][liverec.profiles.UserProfileBuilder.get_state] returned, checking it (it may come from a file)."""
        P = persistence
        self._set_attributes(attrs)
        self.users_ = P.expect_ids(arrays, "users", "user")
        self.items_ = P.expect_ids(arrays, "items", "item")
        self.streamers_ = P.expect_ids(arrays, "streamers", "streamer") if "streamers" in arrays else None
        self.price_edges_ = P.expect_array(arrays, "price_edges_", "f", (None,), finite=True, dtype=np.float64)
        dims = self._dims()
        self.item_table_ = ItemTable.from_arrays(arrays, dims, len(self.items_))
        self.user_table_ = UserTable.from_arrays(arrays, dims, len(self.users_))
        self.pop_table_ = PopulationTable.from_arrays(arrays, dims)
        for key, n_cols in zip(self._PAIR_STORES, (len(self.items_), dims.streamers), strict=True):
            setattr(self, f"{key}_", _load_pairs(arrays, key, len(self.users_), n_cols))
        self.pairs_event_ = (_load_pairs(arrays, "pairs_event", len(self.users_), len(self.items_) * dims.events)
                             if "pairs_event/rows" in arrays else None)
        self._cache = {}
        self.is_fitted_ = True

    def _set_attributes(self, attrs: dict[str, Any]) -> None:
        """The scalar attributes (time anchor, vocabularies) of `set_state`, checked."""
        P = persistence
        self.t0_, self.now_, self.c_ = (P.expect_attribute(attrs, k, float) for k in ("t0", "now", "c"))
        self.dim_ = P.expect_attribute(attrs, "dim", int)
        self.has_prices_ = P.expect_attribute(attrs, "has_prices", bool)
        self.time_kind_ = P.expect_attribute(attrs, "time_kind", str, choices=("numeric", "datetime", "order"))
        self.categories_ = P.expect_attribute(attrs, "categories", list)
        events = P.expect_attribute(attrs, "event_types", list)
        values = P.expect_attribute(attrs, "event_weight_values", list)
        if (not all(isinstance(e, str) for e in events) or len(values) != len(events) or self.dim_ < 0
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)):
            raise PersistenceError("config.json: attributes.event_types / event_weight_values / dim: expected "
                                     "event names with one finite weight each and dim >= 0")
        self.event_types_ = tuple(events)
        self.event_weight_values_ = np.asarray(values, dtype=np.float64)

    def save(self, path: str) -> None:
        """Save to a directory (``config.json`` + arrays); read back with [`liverec.load`][liverec.load]."""
        attrs, arrays = self.get_state()
        persistence.save_state(path, type(self).__name__, self.get_params(deep=False), attrs, arrays)

    def _set_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.set_state(attributes, arrays)


def _load_pairs(arrays: Mapping[str, np.ndarray], key: str, n_rows: int, n_cols: int) -> LogSparse:
    """The sparse store saved under ``key/rows``, ``key/cols``, ``key/logv``, checked."""
    P = persistence
    rows = P.expect_indices(arrays, f"{key}/rows", n_rows)
    cols = P.expect_indices(arrays, f"{key}/cols", n_cols, (len(rows),))
    logv = P.expect_array(arrays, f"{key}/logv", "f", (len(rows),), dtype=np.float64)
    if np.isnan(logv).any() or np.isposinf(logv).any():
        raise PersistenceError(f"arrays.safetensors: tensor '{key}/logv': holds NaN or +infinity")
    try:
        return LogSparse.from_arrays(rows, cols, logv)
    except ValueError as err:
        raise PersistenceError(f"arrays.safetensors: tensor '{key}/rows': {err}") from err


