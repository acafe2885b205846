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
from .._utils import concat_ranges
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
from ._store import LogSparse, add_columns, group_logsumexp, grow
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
    ``T``. Sums are kept in log space against a fixed anchor time, so :meth:`update` folds
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
            :data:`liverec.data.interactions.DEFAULT_EVENT_WEIGHTS`). Events of a type not
            listed raise :class:`~liverec.exceptions.DataValidationError`. Weights must be
            ``>= 0``.
        half_life: Time for an event's weight to halve, in the data's time unit (seconds
            when times are datetimes). Default 7 days in seconds.
        text_encoder: Any object with ``transform(texts) -> np.ndarray`` (for example
            :class:`liverec.text.HashingTextEncoder`); used for the taste vector.
        top_n: How many streamers / categories :meth:`profile` lists.
        prior_strength: Pseudo-events of population behaviour mixed into every profile.
        n_price_bands: Number of price bands (quantiles of the item prices at ``fit``).
        comment_weight: Weight of one of the user's own comments in the taste vector.
        day: Length of a day in the data's time unit (for events per day and recency).

    Attributes:
        users_, items_: :class:`~liverec.data.IdMap` of the users and items seen so far.
        feature_names_: Names of the columns of :meth:`transform`.
        categories_: Category names (columns ``cat:<name>``).
        price_edges_: Inner edges of the price bands.
        now_: The latest event time seen.

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
                ``price``, ``streamer``, ``title`` (see :func:`read_item_table`).

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
        self.c_ = _LN2 / float(self.half_life)
        self.t0_ = float(interactions.time.max())
        self.now_ = -np.inf
        self.users_ = IdMap(np.zeros(0, dtype=interactions.users.ids.dtype), "user")
        self.items_ = IdMap(np.zeros(0, dtype=interactions.items.ids.dtype), "item")
        self.time_kind_ = interactions.time_kind
        meta = read_item_table(item_metadata)
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
        n_cat, n_band, n_types = len(self.categories_), self.n_bands_, len(self.event_types_)
        # per item
        self.item_cat_ = np.zeros(0, dtype=np.int64)
        self.item_band_ = np.zeros(0, dtype=np.int64)
        self.item_price_ = np.zeros(0, dtype=np.float64)
        self.item_streamer_ = np.zeros(0, dtype=np.int64)
        self.item_has_meta_ = np.zeros(0, dtype=bool)
        self.item_counts_ = np.zeros((0, n_types), dtype=np.float64)
        self.g_item_ = np.zeros(0, dtype=np.float64)
        # per user
        self.u_total_ = np.zeros(0)
        self.u_cat_ = np.zeros((0, n_cat))
        self.u_band_ = np.zeros((0, n_band))
        self.u_price_num_ = np.zeros(0)
        self.u_price_den_ = np.zeros(0)
        self.u_counts_ = np.zeros((0, n_types))
        self.u_first_ = np.zeros(0)
        self.u_last_ = np.zeros(0)
        self.u_watch_ = np.zeros(0)
        self.pairs_item_ = LogSparse()
        self.pairs_streamer_ = LogSparse()
        # population (log space, same anchor)
        self.g_total_ = np.full(1, -np.inf)
        self.g_cat_ = np.full(n_cat, -np.inf)
        self.g_band_ = np.full(n_band, -np.inf)
        self.g_price_num_ = np.full(1, -np.inf)
        self.g_price_den_ = np.full(1, -np.inf)
        self.g_counts_ = np.zeros(n_types)
        # text / vectors
        self.dim_ = 0
        self.item_text_sum_ = np.zeros((0, 0))
        self.item_text_n_ = np.zeros(0)
        self.u_comment_scale_ = np.zeros(0)
        self.u_comment_vec_ = np.zeros((0, 1))
        self.item_fixed_vec_: np.ndarray | None = None
        self._cache: dict[str, Any] = {}
        self.is_fitted_ = True
        self._ingest_metadata(meta)
        if item_features is not None:
            self._set_item_features(item_features)
        self._ingest(interactions, text)
        return self

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

    #: Alias of :meth:`update`, the name the estimator API uses for incremental fitting.
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

    def _grow_users(self, n: int) -> None:
        self.u_total_ = grow(self.u_total_, n, -np.inf)
        self.u_cat_ = grow(self.u_cat_, n, -np.inf)
        self.u_band_ = grow(self.u_band_, n, -np.inf)
        self.u_price_num_ = grow(self.u_price_num_, n, -np.inf)
        self.u_price_den_ = grow(self.u_price_den_, n, -np.inf)
        self.u_counts_ = grow(self.u_counts_, n, 0.0)
        self.u_first_ = grow(self.u_first_, n, np.inf)
        self.u_last_ = grow(self.u_last_, n, -np.inf)
        self.u_watch_ = grow(self.u_watch_, n, 0.0)
        self.u_comment_scale_ = grow(self.u_comment_scale_, n, -np.inf)
        self.u_comment_vec_ = grow(self.u_comment_vec_, n, 0.0)

    def _grow_items(self, n: int) -> None:
        self.item_cat_ = grow(self.item_cat_, n, -1)
        self.item_band_ = grow(self.item_band_, n, -1)
        self.item_price_ = grow(self.item_price_, n, np.nan)
        self.item_streamer_ = grow(self.item_streamer_, n, -1)
        self.item_has_meta_ = grow(self.item_has_meta_, n, False)
        self.item_counts_ = grow(self.item_counts_, n, 0.0)
        self.g_item_ = grow(self.g_item_, n, -np.inf)
        self.item_text_sum_ = grow(self.item_text_sum_, n, 0.0)
        self.item_text_n_ = grow(self.item_text_n_, n, 0.0)
        if self.item_fixed_vec_ is not None:
            self.item_fixed_vec_ = grow(self.item_fixed_vec_, n, 0.0)

    def _ensure_users(self, ids: np.ndarray) -> np.ndarray:
        self.users_ = IdMap.from_values(ids, "user")[0] if not len(self.users_) else self.users_.extend(ids)
        self._grow_users(len(self.users_))
        return self.users_.codes(ids)

    def _ensure_items(self, ids: np.ndarray) -> np.ndarray:
        self.items_ = IdMap.from_values(ids, "item")[0] if not len(self.items_) else self.items_.extend(ids)
        self._grow_items(len(self.items_))
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
        fresh = ~self.item_has_meta_[codes]
        codes = codes[fresh]
        if not len(codes):
            return
        sub = {k: v[fresh] for k, v in meta.items()}
        self.item_has_meta_[codes] = True
        if "category" in sub:
            new = sorted(set(sub["category"].tolist()) - set(self.categories_))
            if new:
                self.categories_ = self.categories_ + new
                self.u_cat_ = add_columns(self.u_cat_, len(self.categories_), -np.inf)
                self.g_cat_ = np.concatenate([self.g_cat_, np.full(len(new), -np.inf)])
            lut = {c: k for k, c in enumerate(self.categories_)}
            self.item_cat_[codes] = [lut[c] for c in sub["category"].tolist()]
        if "price" in sub and self.has_prices_:
            p = sub["price"]
            self.item_price_[codes] = p
            self.item_band_[codes] = np.where(np.isfinite(p), np.searchsorted(self.price_edges_, p, side="right"), -1)
        if "streamer" in sub and self.streamers_ is not None:
            self.streamers_ = self.streamers_.extend(sub["streamer"])
            self.item_streamer_[codes] = self.streamers_.codes(sub["streamer"])
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
        self.item_fixed_vec_ = np.zeros((len(self.item_cat_), mat.shape[1]))
        self.item_fixed_vec_[codes] = mat

    def _encode(self, texts: list[str]) -> np.ndarray:
        emb = np.asarray(self.text_encoder.transform(texts), dtype=np.float64)
        if emb.ndim != 2 or len(emb) != len(texts):
            raise DataValidationError(
                f"text_encoder.transform returned shape {emb.shape} for {len(texts)} texts; "
                "it must return one row per text."
            )
        if self.dim_ == 0:
            self.dim_ = emb.shape[1]
            self.item_text_sum_ = np.zeros((len(self.item_cat_), self.dim_))
            self.u_comment_vec_ = np.zeros((len(self.u_total_), self.dim_ + 1))
        elif emb.shape[1] != self.dim_:
            raise DataValidationError(f"text_encoder returned dimension {emb.shape[1]}, earlier {self.dim_}.")
        return emb

    def _add_item_text(self, codes: np.ndarray, emb: np.ndarray) -> None:
        np.add.at(self.item_text_sum_, codes, emb)
        np.add.at(self.item_text_n_, codes, 1.0)

    def _logw(self, ev: np.ndarray, time: np.ndarray) -> np.ndarray:
        w = self.event_weight_values_[ev]
        with np.errstate(divide="ignore"):
            return np.log(w) + (time - self.t0_) * self.c_

    def _ingest(self, X: Interactions, text: TextEvents | None, population: bool = True) -> None:
        if len(X):
            lut = self._event_lut(X)
            u = self._recode(X.user_codes, X.users, self._ensure_users)
            i = self._recode(X.item_codes, X.items, self._ensure_items)
            t = X.time
            view = self.event_types_.index("view") if "view" in self.event_types_ else -1
            ev = np.full(len(X), view, dtype=np.int64) if lut is None else lut[X.event]
            lw = self._logw(ev, t)
            n_types = len(self.event_types_)
            _fold(self.u_total_, u, lw)
            _scatter_add(self.u_counts_.reshape(-1), u * n_types + ev, np.ones(len(u)))
            np.minimum.at(self.u_first_, u, t)
            np.maximum.at(self.u_last_, u, t)
            if X.weight is not None and view >= 0:
                is_view = ev == view
                _scatter_add(self.u_watch_, u[is_view], X.weight[is_view])
            self.pairs_item_.add(u, i, lw)
            cat = self.item_cat_[i]
            has = cat >= 0
            if has.any():
                n_cat = len(self.categories_)
                _fold(self.u_cat_.reshape(-1), u[has] * n_cat + cat[has], lw[has])
                if population:
                    _fold(self.g_cat_, cat[has], lw[has])
            band = self.item_band_[i]
            has = band >= 0
            if has.any():
                nb = self.n_bands_
                _fold(self.u_band_.reshape(-1), u[has] * nb + band[has], lw[has])
                lp = lw[has] + np.log(self.item_price_[i[has]])
                _fold(self.u_price_num_, u[has], lp)
                _fold(self.u_price_den_, u[has], lw[has])
                if population:
                    _fold(self.g_band_, band[has], lw[has])
                    _fold(self.g_price_num_, np.zeros(int(has.sum()), dtype=np.int64), lp)
                    _fold(self.g_price_den_, np.zeros(int(has.sum()), dtype=np.int64), lw[has])
            s = self.item_streamer_[i]
            has = s >= 0
            if has.any():
                self.pairs_streamer_.add(u[has], s[has], lw[has])
            if population:
                _fold(self.g_total_, np.zeros(len(u), dtype=np.int64), lw)
                _fold(self.g_item_, i, lw)
                self.g_counts_ += np.bincount(ev, minlength=n_types)
                _scatter_add(self.item_counts_.reshape(-1), i * n_types + ev, np.ones(len(i)))
            self.now_ = max(self.now_, float(t.max()))
        if text is not None:
            self._ingest_text(text, population)
        self._cache.clear()

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
        old = self.u_comment_scale_[uniq]
        new = np.maximum(old, top)
        self.u_comment_vec_[uniq] *= np.exp(old - new)[:, None]
        coef = np.exp(lw - new[inv])
        ext = np.hstack([emb[rows], np.ones((len(rows), 1))])
        m = sp.csr_matrix((coef, (inv, np.arange(len(rows)))), shape=(len(uniq), len(rows)))
        self.u_comment_vec_[uniq] += m @ ext
        self.u_comment_scale_[uniq] = new
        np.minimum.at(self.u_first_, users, t)
        np.maximum.at(self.u_last_, users, t)
        self.now_ = max(self.now_, float(t.max()))

    # Features ---------------------------------------------------------------------------------
    def item_vectors(self) -> np.ndarray | None:
        """Item vectors behind the taste (text mean, else ``item_features``), or ``None``."""
        self._check_fitted()
        if "V" not in self._cache:
            n = len(self.items_)
            if self.dim_:
                cnt = self.item_text_n_[:n]
                V = self.item_text_sum_[:n] / np.maximum(cnt, 1.0)[:, None]
                has = cnt > 0
            elif self.item_fixed_vec_ is not None:
                V = self.item_fixed_vec_[:n]
                has = np.abs(V).sum(axis=1) > 0
            else:
                V, has = None, None
            self._cache["V"] = (V, has)
        return self._cache["V"][0]

    @property
    def feature_names_(self) -> list[str]:
        """Names of the columns :meth:`transform` returns."""
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

        counts = dict(zip(self.event_types_, self.g_counts_, strict=True))
        views = counts.get("view", 0.0)
        carts = counts.get("cart", 0.0)
        buys = counts.get("purchase", 0.0)
        eng = sum(counts.get(k, 0.0) for k in _ENGAGE)
        pop = {
            "cat": shares(self.g_cat_), "band": shares(self.g_band_),
            "lmp": float(self.g_price_num_[0] - self.g_price_den_[0]) if np.isfinite(self.g_price_den_[0]) else 0.0,
            "ctr": carts / views if views else 0.0,
            "cvr": buys / max(carts, buys) if max(carts, buys) else 0.0,
            "engage": eng / views if views else 0.0,
        }
        V = self.item_vectors()
        if V is not None:
            has = self._cache["V"][1]
            g = self.g_item_[: len(V)]
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
        return float(as_time_query(at)[0])

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
        """Profile features of users, one row per user (columns: :attr:`feature_names_`).

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
        last = np.where(known, self.u_last_[c], at)
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
            blocks.append(shrunk_shares(gather(self.u_cat_, -np.inf), pop["cat"]))
        if self.has_prices_:
            blocks.append(shrunk_shares(gather(self.u_band_, -np.inf), pop["band"]))
            num, den = gather(self.u_price_num_, -np.inf), gather(self.u_price_den_, -np.inf)
            e = evidence(den)
            with np.errstate(invalid="ignore"):
                own = np.where(np.isfinite(den), num - den, 0.0)
            blocks.append(((e * own + m * pop["lmp"]) / np.maximum(e + m, 1e-300))[:, None])
        counts = gather(self.u_counts_, 0.0)
        by = {k: counts[:, j] for j, k in enumerate(self.event_types_)}
        zero = np.zeros(n)
        views, carts, buys = by.get("view", zero), by.get("cart", zero), by.get("purchase", zero)
        eng = sum((by.get(k, zero) for k in _ENGAGE), zero)
        denom = max(m, 1e-12)
        ctr = (carts + m * pop["ctr"]) / np.maximum(views + m, denom)
        cvr = (buys + m * pop["cvr"]) / np.maximum(np.maximum(carts, buys) + m, denom)
        engage = (eng + m * pop["engage"]) / np.maximum(views + m, denom)
        n_events = counts.sum(axis=1)
        first = np.where(known, self.u_first_[c], at)
        span = np.maximum(last - first, float(self.day))
        per_day = n_events / (span / float(self.day))
        watch = gather(self.u_watch_, 0.0)
        since = np.maximum(at - last, 0.0) / float(self.day)
        total = gather(self.u_total_, -np.inf)
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
        cs = np.where(known, self.u_comment_scale_[np.where(known, codes, 0)], -np.inf) if self.dim_ else np.full(n, -np.inf)
        M = np.maximum(top, cs)
        safe = np.where(np.isfinite(M), M, 0.0)
        w = np.exp(logv - safe[seg])
        W = sp.csr_matrix((w, (seg, cols)), shape=(n, len(V)))
        num = np.asarray(W @ V)
        den: np.ndarray = np.bincount(seg, weights=w, minlength=n).astype(np.float64)
        if self.dim_ and np.isfinite(cs).any():
            cv = self.u_comment_vec_[np.where(known, codes, 0)] * np.exp(np.where(np.isfinite(cs), cs - safe, -np.inf))[:, None]
            num = num + cv[:, :d]
            den = den + cv[:, d]
        with np.errstate(over="ignore"):
            e = np.where(den > 0, den * np.exp(np.minimum(safe - ref, 700.0)), 0.0)
        own = num / np.maximum(den, 1e-300)[:, None]
        m = float(self.prior_strength)
        return (e[:, None] * own + m * pop_taste[None, :]) / np.maximum(e + m, 1e-300)[:, None]

    # Readable profile -----------------------------------------------------------------------------
    def profile(self, user: Any, *, at: Any = None) -> UserProfile:
        """A readable summary of one user (see :class:`UserProfile`).

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
            top_streamers = [(_py(idmap.ids[cols[j]]), float(w[j])) for j in order]
        cat = [(c, f[f"cat:{c}"]) for c in self.categories_]
        cat.sort(key=lambda x: -x[1])
        bands = {b: f[f"price_band:{b}"] for b in self.band_labels_}
        counts = self.u_counts_[code]
        funnel: dict[str, float] = {k: float(counts[self.event_types_.index(k)]) for k in _FUNNEL if k in self.event_types_}
        funnel.update(ctr=f["ctr"], cvr=f["cvr"], engage_rate=f["engage_rate"])
        V = self.item_vectors()
        taste = row[-V.shape[1]:] if V is not None else None
        return UserProfile(
            user=_py(arr[0]), at=t, n_events=int(counts.sum()), cold_start=f["cold_start"],
            top_streamers=top_streamers, top_categories=cat[: self.top_n],
            price_band=max(bands, key=lambda k: bands[k]) if bands else None, price_band_shares=bands,
            mean_price=float(np.exp(f["log_mean_price"])) if self.has_prices_ else None,
            activity={
                "events_per_day": f["events_per_day"], "watch_seconds": float(self.u_watch_[code]),
                "first_seen": float(self.u_first_[code]), "last_seen": float(self.u_last_[code]),
                "time_since_last_seen": max(t - float(self.u_last_[code]), 0.0),
                "days_since_last_seen": max(t - float(self.u_last_[code]), 0.0) / float(self.day),
                "engagement_now": float(np.expm1(f["engagement_now"])),
            },
            funnel=funnel, taste=taste,
        )

    # Derived item-side quantities (used by ProfileRanker) ----------------------------------------
    def item_popularity(self, at: Any = None) -> np.ndarray:
        """Decayed event weight of every item at ``at`` (default ``now_``), log1p-scaled."""
        self._check_fitted()
        t = self._time(at)
        g = self.g_item_[: len(self.items_)]
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
        cols_q = item_codes if kind == "item" else (self.item_streamer_[item_codes] if self.streamers_ is not None else np.full(len(item_codes), -1))
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
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_") or k == "_cache"})
        out._cache = {}
        out.users_ = IdMap(np.zeros(0, dtype=self.users_.ids.dtype), "user")
        for name in ("u_total_", "u_price_num_", "u_price_den_", "u_watch_", "u_first_", "u_last_", "u_comment_scale_"):
            setattr(out, name, np.zeros(0))
        out.u_cat_ = np.zeros((0, len(self.categories_)))
        out.u_band_ = np.zeros((0, self.n_bands_))
        out.u_counts_ = np.zeros((0, len(self.event_types_)))
        out.u_comment_vec_ = np.zeros((0, self.u_comment_vec_.shape[1]))
        out.pairs_item_ = LogSparse()
        out.pairs_streamer_ = LogSparse()
        # arrays shared with self must not be written in place by the copy's ingest
        for name in ("item_cat_", "item_band_", "item_price_", "item_streamer_", "item_has_meta_",
                     "item_counts_", "g_item_", "item_text_sum_", "item_text_n_", "g_cat_", "g_band_",
                     "g_counts_", "g_total_", "g_price_num_", "g_price_den_"):
            setattr(out, name, getattr(self, name).copy())
        out._cache = {"V": self._cache["V"]} if "V" in self._cache else {}
        if "pop" in self._cache:
            out._cache["pop"] = self._cache["pop"]
        return out

    # Persistence ----------------------------------------------------------------------------------
    _STATE_ARRAYS = (
        "item_cat_", "item_band_", "item_price_", "item_streamer_", "item_has_meta_", "item_counts_",
        "g_item_", "item_text_sum_", "item_text_n_", "u_total_", "u_cat_", "u_band_", "u_price_num_",
        "u_price_den_", "u_counts_", "u_first_", "u_last_", "u_watch_", "u_comment_scale_",
        "u_comment_vec_", "g_total_", "g_cat_", "g_band_", "g_price_num_", "g_price_den_", "g_counts_",
        "price_edges_",
    )

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-safe attributes and arrays of the fitted state (for saving inside a model)."""
        self._check_fitted()
        n_u, n_i = len(self.users_), len(self.items_)
        arrays: dict[str, np.ndarray] = {}
        for name in self._STATE_ARRAYS:
            a = getattr(self, name)
            if name.startswith("u_"):
                a = a[:n_u]
            elif name.startswith("item_") or name == "g_item_":
                a = a[:n_i]
            arrays[name] = np.ascontiguousarray(a)
        arrays["users"] = self.users_.to_array()
        arrays["items"] = self.items_.to_array()
        for key, store in (("pairs_item", self.pairs_item_), ("pairs_streamer", self.pairs_streamer_)):
            r, c, v = store.entries()
            arrays[f"{key}/rows"], arrays[f"{key}/cols"], arrays[f"{key}/logv"] = r.copy(), c.copy(), v.copy()
        if self.streamers_ is not None:
            arrays["streamers"] = self.streamers_.to_array()
        if self.item_fixed_vec_ is not None:
            arrays["item_fixed_vec"] = self.item_fixed_vec_[:n_i]
        attrs = {"t0": self.t0_, "now": self.now_, "c": self.c_, "dim": self.dim_, "categories": list(self.categories_),
                 "has_prices": self.has_prices_, "event_types": list(self.event_types_),
                 "event_weight_values": self.event_weight_values_.tolist(), "time_kind": self.time_kind_}
        return attrs, arrays

    def set_state(self, attrs: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`get_state` returned, checking it (it may come from a file)."""
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
        self.users_ = P.expect_ids(arrays, "users", "user")
        self.items_ = P.expect_ids(arrays, "items", "item")
        self.streamers_ = P.expect_ids(arrays, "streamers", "streamer") if "streamers" in arrays else None
        n_u, n_i, n_e, n_c = len(self.users_), len(self.items_), len(events), len(self.categories_)
        n_s = 0 if self.streamers_ is None else len(self.streamers_)
        self.price_edges_ = P.expect_array(arrays, "price_edges_", "f", (None,), finite=True, dtype=np.float64)
        n_b = len(self.price_edges_) + 1 if len(self.price_edges_) else 0
        shapes: dict[str, tuple[int | None, ...]] = {
            "item_counts_": (n_i, n_e), "g_item_": (n_i,), "item_text_sum_": (n_i, self.dim_), "item_text_n_": (n_i,),
            "u_total_": (n_u,), "u_cat_": (n_u, n_c), "u_band_": (n_u, n_b), "u_price_num_": (n_u,),
            "u_price_den_": (n_u,), "u_counts_": (n_u, n_e), "u_first_": (n_u,), "u_last_": (n_u,), "u_watch_": (n_u,),
            "u_comment_scale_": (n_u,), "u_comment_vec_": (n_u, self.dim_ + 1), "g_total_": (1,), "g_cat_": (n_c,),
            "g_band_": (n_b,), "g_price_num_": (1,), "g_price_den_": (1,), "g_counts_": (n_e,), "item_price_": (n_i,),
        }
        for name, shape in shapes.items():  # log-space sums may be -inf (nothing yet); never NaN or +inf
            a = P.expect_array(arrays, name, "f", shape, dtype=np.float64)
            if np.isposinf(a).any() or (np.isnan(a).any() and name != "item_price_"):
                raise PersistenceError(f"arrays.safetensors: tensor {name!r}: holds NaN or +infinity")
            if name in ("item_counts_", "item_text_n_", "u_counts_", "u_watch_", "g_counts_") and (a < 0).any():
                raise PersistenceError(f"arrays.safetensors: tensor {name!r}: counts and watch time are >= 0")
            setattr(self, name, a.copy())
        for name, n in (("item_cat_", n_c), ("item_band_", n_b), ("item_streamer_", n_s)):
            a = P.expect_array(arrays, name, "iu", (n_i,), dtype=np.int64)
            if len(a) and (a.min() < -1 or a.max() >= n):
                raise PersistenceError(f"arrays.safetensors: tensor {name!r}: codes must lie in [-1, {n})")
            setattr(self, name, a.copy())
        self.item_has_meta_ = P.expect_array(arrays, "item_has_meta_", "b", (n_i,)).copy()
        for key, n_cols in (("pairs_item", n_i), ("pairs_streamer", n_s)):
            rows = P.expect_indices(arrays, f"{key}/rows", n_u)
            cols = P.expect_indices(arrays, f"{key}/cols", n_cols, (len(rows),))
            logv = P.expect_array(arrays, f"{key}/logv", "f", (len(rows),), dtype=np.float64)
            if np.isnan(logv).any() or np.isposinf(logv).any():
                raise PersistenceError(f"arrays.safetensors: tensor '{key}/logv': holds NaN or +infinity")
            try:
                store = LogSparse.from_arrays(rows, cols, logv)
            except ValueError as err:
                raise PersistenceError(f"arrays.safetensors: tensor '{key}/rows': {err}") from err
            setattr(self, f"{key}_", store)
        self.item_fixed_vec_ = None
        if "item_fixed_vec" in arrays:
            self.item_fixed_vec_ = P.expect_array(arrays, "item_fixed_vec", "f", (n_i, None), finite=True,
                                                  dtype=np.float64).copy()
        self._cache = {}
        self.is_fitted_ = True

    def save(self, path: str) -> None:
        """Save to a directory (``config.json`` + arrays); read back with :func:`liverec.load`."""
        attrs, arrays = self.get_state()
        persistence.save_state(path, type(self).__name__, self.get_params(deep=False), attrs, arrays)

    def _set_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.set_state(attributes, arrays)


def _py(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x

