"""``ProfileRanker``: rank the products shown in a live room for one viewer."""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .._params import DictOf, HasMethods, Interval, SequenceOf
from ..base import BaseRecommender, History
from ..data import Interactions, LiveSchedule, TextEvents
from ..data.interactions import EVENT_TYPES
from ..exceptions import DataTypeError, DataValidationError, PersistenceError, UnknownItemError
from ..explain import Explanation, Reason, sort_reasons
from ..persistence import StateArrays, expect_array, expect_attribute, register
from ..profiles.builder import UserProfileBuilder, read_item_table

__all__ = ["ProfileRanker", "PAIR_FEATURES"]

#: Names of the columns of the (user, product) feature matrix the ranker learns from.
PAIR_FEATURES: tuple[str, ...] = (
    # user x product
    "category_share", "price_band_share", "log_price_vs_user", "abs_log_price_vs_user",
    "streamer_share", "item_share", "taste_cosine",
    # product
    "item_popularity", "item_positive_rate", "log_price", "category_popularity",
    "has_category", "has_price", "has_vector",
    # user
    "user_ctr", "user_cvr", "user_engage_rate", "user_log_events", "user_engagement_now",
    "user_cold_start", "user_loyalty",
)


#: Pairs scored at once when ranking every item for many users (about 40 MB of features).
_PAIRS_PER_CHUNK = 250_000

#: Neighbours that vote on the category of a product known only by its title.
_INFER_NEIGHBOURS = 10


@register
class ProfileRanker(BaseRecommender):
    """Products (or rooms) ranked for a user from their profile, item metadata and text.

    A small model (logistic regression with ``n_layers=0``, otherwise an MLP with
    ``n_layers`` hidden layers of ``embedding_dim`` units, in PyTorch) scores a (user,
    product) pair from the `PAIR_FEATURES`: how much of the user's decayed activity
    goes to the product's category, price band, streamer and to the product itself, the
    cosine between the user's taste vector and the product's text embedding, the price
    relative to what the user usually pays, the product's popularity and conversion rate,
    and the user's own funnel rates and activity (see
    [`UserProfileBuilder`][liverec.profiles.UserProfileBuilder]).

    Training avoids leakage by replaying time: the events are cut into ``n_windows`` equal
    slices; the pairs of slice ``k`` are described by the profiles built from slices
    ``< k`` (folded in with the builder's exact incremental ``update``), then slice ``k`` is
    folded in. A pair is positive when the user did one of ``positive_events`` (cart or
    purchase) on the product in that slice; negatives are the products the user was shown
    (viewed) but did not buy, plus ``n_negatives`` products per positive from the same
    room (streamer) that the user did not touch. After ``fit`` the profiles cover all
    events.

    A product known only from metadata (a new product with a title, category or price) is
    ranked from those features: pass it in ``item_features`` at ``fit`` or later with
    [`add_items`][liverec.models.profile_ranker.ProfileRanker.add_items]. ``partial_fit`` folds new events into the profiles without
    retraining the network.

    Args:
        event_weights: Worth of each event type in the profiles (default: the builder's).
        half_life: Half-life of the profiles' time decay (data time unit; seconds for
            datetimes).
        text_encoder: Encoder of product titles and stream text (``transform(texts)``).
        prior_strength: Cold-start shrinkage of the profiles (pseudo-events).
        positive_events: Event types that make a pair positive.
        n_windows: Time slices replayed to build leakage-free training pairs (>= 2).
        n_negatives: Extra negatives per positive, drawn from the same room's products.
        n_layers: Hidden layers (0 = logistic regression).
        embedding_dim: Width of the hidden layers.
        n_epochs: Passes over the training pairs.
        learning_rate: Adam step size.
        regularization: L2 weight decay.
        batch_size: Pairs per gradient step.
        random_state: Seed of the negative sampling and of the network.

    Attributes:
        builder_: The fitted [`UserProfileBuilder`][liverec.profiles.UserProfileBuilder] (all events).
        n_train_pairs_: Number of training pairs; ``train_positive_rate_`` their share of
            positives.

    Examples:
        >>> from liverec.datasets import make_live_commerce
        >>> data = make_live_commerce(n_users=150, n_streamers=15, n_days=4, random_state=0)
        >>> model = ProfileRanker(n_epochs=5).fit(data.product_events, item_features=data.products)
        >>> room = data.products["product"][data.products["item"] == 3]
        >>> user = data.product_events.users.ids[0]
        >>> model.recommend(user, k=3, candidates=room).items.shape
        (1, 3)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "event_weights": [DictOf(str, Interval(numbers.Real, 0, None, closed="left"), min_length=1), None],
        "half_life": [Interval(numbers.Real, 0, None, closed="neither")],
        "text_encoder": [HasMethods("transform"), None],
        "prior_strength": [Interval(numbers.Real, 0, None, closed="left")],
        "positive_events": [SequenceOf(str, min_length=1)],
        # profiles of earlier slices describe the pairs of later ones: at least two slices
        "n_windows": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_negatives": [Interval(numbers.Integral, 0, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 0, None, closed="left")],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        event_weights: dict[str, float] | None = None,
        half_life: float = 7 * 86400.0,
        text_encoder: Any = None,
        prior_strength: float = 3.0,
        positive_events: tuple[str, ...] = ("cart", "purchase"),
        n_windows: int = 4,
        n_negatives: int = 4,
        n_layers: int = 1,
        embedding_dim: int = 16,
        n_epochs: int = 30,
        learning_rate: float = 0.01,
        regularization: float = 1e-4,
        batch_size: int = 1024,
        random_state: int | None = 0,
    ) -> None:
        self.event_weights = event_weights
        self.half_life = half_life
        self.text_encoder = text_encoder
        self.prior_strength = prior_strength
        self.positive_events = positive_events
        self.n_windows = n_windows
        self.n_negatives = n_negatives
        self.n_layers = n_layers
        self.embedding_dim = embedding_dim
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.batch_size = batch_size
        self.random_state = random_state

    # Fitting ----------------------------------------------------------------------------------
    def _new_builder(self) -> UserProfileBuilder:
        return UserProfileBuilder(event_weights=self.event_weights, half_life=self.half_life,
                                  text_encoder=self.text_encoder, prior_strength=self.prior_strength)

    def _positive_mask(self, X: Interactions) -> np.ndarray:
        """Which events are positives (one of ``positive_events``); the data must have some."""
        if X.event is None:
            raise DataValidationError(
                "ProfileRanker learns from cart/purchase events: the interactions need an event "
                "column (event=... in Interactions.from_arrays)."
            )
        unknown = [e for e in self.positive_events if e not in X.event_types]
        if unknown or not len(self.positive_events):
            raise DataValidationError(
                f"positive_events {list(self.positive_events)} must be event types of the data "
                f"({list(X.event_types)})."
            )
        pos_codes = [X.event_types.index(e) for e in self.positive_events]
        positive = np.isin(X.event, pos_codes)
        if not positive.any():
            raise DataValidationError(
                f"no {' or '.join(self.positive_events)} event in the data: the ranker needs positive "
                "examples to learn from."
            )
        return positive

    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any, text: Any) -> None:
        X = interactions
        positive = self._positive_mask(X)
        meta = read_item_table(item_features, "item_features") if item_features is not None else {}
        if meta:
            self.items_ = self.items_.extend(meta["item"])
        if text is not None and not isinstance(text, TextEvents):
            raise DataTypeError(f"text must be liverec.data.TextEvents, got {type(text).__name__}.")
        if len(X) < self.n_windows:
            raise DataValidationError(
                f"ProfileRanker cuts the events into n_windows={self.n_windows} time windows but got only "
                f"{len(X)} event(s); pass at least {self.n_windows} events or lower n_windows."
            )
        rng = np.random.default_rng(self.random_state)
        order = np.argsort(X.time, kind="stable")
        window = np.empty(len(X), dtype=np.int64)
        window[order] = np.minimum(np.arange(len(X)) * self.n_windows // len(X), self.n_windows - 1)
        bounds = [float(X.time[order[np.searchsorted(window[order], k)]]) for k in range(self.n_windows)]
        tw = None if text is None else np.searchsorted(np.asarray(bounds[1:]), text.time, side="right")
        builder = self._new_builder()
        first = window == 0
        builder.fit(X.select(first), text=None if text is None else text.select(tw == 0), item_metadata=meta or None)
        self.builder_ = builder
        feats, labels = [], []
        for k in range(1, self.n_windows):
            rows = np.flatnonzero(window == k)
            if not len(rows):
                continue
            u, i, y = self._window_pairs(X, rows, positive, rng)
            bu = builder.users_.codes(self.users_.ids[u], missing="ignore")
            feats.append(self._pair_features(builder, bu, i, bounds[k]))
            labels.append(y)
            builder.update(X.select(rows), text=None if text is None else text.select(tw == k))
        F = np.vstack(feats) if feats else np.zeros((0, len(PAIR_FEATURES)))
        y = np.concatenate(labels) if labels else np.zeros(0)
        if not len(y) or y.min() == y.max():
            raise DataValidationError(
                "the replayed time slices hold no mix of positive and negative pairs to learn from; "
                "use more data or fewer n_windows."
            )
        self.n_train_pairs_ = len(y)
        self.train_positive_rate_ = float(y.mean())
        self.mean_ = F.mean(axis=0)
        self.scale_ = np.where(F.std(axis=0) > 1e-12, F.std(axis=0), 1.0)
        self._train((F - self.mean_) / self.scale_, y)

    def _window_pairs(self, X: Interactions, rows: np.ndarray, positive: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user code, item code, label) of one slice: touched pairs plus same-room negatives."""
        n_items = np.int64(len(self.items_))
        keys = X.user_codes[rows] * n_items + X.item_codes[rows]
        uniq, inv = np.unique(keys, return_inverse=True)
        y = np.zeros(len(uniq))
        np.maximum.at(y, inv.reshape(-1), positive[rows].astype(np.float64))
        u, i = uniq // n_items, uniq % n_items
        if self.n_negatives and y.any():
            pu = np.repeat(u[y > 0], self.n_negatives)
            pi = np.repeat(i[y > 0], self.n_negatives)
            ni = self._same_room(pi, rng)
            nkeys = np.unique(pu * n_items + ni)
            nkeys = nkeys[~np.isin(nkeys, uniq)]
            u = np.concatenate([u, nkeys // n_items])
            i = np.concatenate([i, nkeys % n_items])
            y = np.concatenate([y, np.zeros(len(nkeys))])
        return u, i, y

    def _same_room(self, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random item from the same streamer as each given item (any item without streamers)."""
        b = self.builder_
        n = len(self.items_)
        bi = b.items_.codes(self.items_.ids, missing="ignore")
        room = np.where(bi >= 0, b.item_streamer_[np.maximum(bi, 0)], -1)
        if (room < 0).all():
            return rng.integers(0, n, size=len(items))
        order = np.argsort(room, kind="stable")
        sorted_room = room[order]
        r = room[items]
        lo = np.searchsorted(sorted_room, r, side="left")
        hi = np.searchsorted(sorted_room, r, side="right")
        pick = order[np.minimum(lo + (rng.random(len(items)) * (hi - lo)).astype(np.int64), n - 1)]
        return np.where(r >= 0, pick, rng.integers(0, n, size=len(items)))

    def _train(self, F: np.ndarray, y: np.ndarray) -> None:
        import torch

        g = torch.Generator().manual_seed(int(self.random_state or 0))
        dims = [F.shape[1]] + [int(self.embedding_dim)] * int(self.n_layers) + [1]
        params = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            w = (torch.randn(a, b, generator=g, dtype=torch.float64) * math.sqrt(2.0 / a)).float()
            params += [w.requires_grad_(), torch.zeros(b, requires_grad=True)]
        opt = torch.optim.Adam(params, lr=float(self.learning_rate), weight_decay=float(self.regularization))
        Xt = torch.as_tensor(F, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for _ in range(int(self.n_epochs)):
            perm = torch.randperm(len(yt), generator=g)
            for s in range(0, len(yt), int(self.batch_size)):
                idx = perm[s:s + int(self.batch_size)]
                opt.zero_grad()
                loss = loss_fn(_forward(params, Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        self.weights_ = [p.detach().numpy().copy() for p in params]

    # Features -------------------------------------------------------------------------------------
    def _pair_features(self, b: UserProfileBuilder, bu: np.ndarray, items: np.ndarray, at: float) -> np.ndarray:
        """The `PAIR_FEATURES` of pairs (builder user code, model item code) at time ``at``."""
        n = len(bu)
        names = b.feature_names_
        col = {name: j for j, name in enumerate(names)}
        uniq, inv = np.unique(bu, return_inverse=True)
        inv = inv.reshape(-1)
        UF = b._features(uniq, at)
        bi_all = b.items_.codes(self.items_.ids, missing="ignore")
        bi = bi_all[items]
        known = bi >= 0
        bs = np.maximum(bi, 0)
        pop = b._population()
        out = np.zeros((n, len(PAIR_FEATURES)))
        f = {name: j for j, name in enumerate(PAIR_FEATURES)}
        cat = np.where(known, b.item_cat_[bs], -1)
        has_cat = cat >= 0
        if b.categories_ and has_cat.any():
            c0 = col[f"cat:{b.categories_[0]}"]
            out[has_cat, f["category_share"]] = UF[inv[has_cat], c0 + cat[has_cat]]
            out[has_cat, f["category_popularity"]] = pop["cat"][cat[has_cat]]
        out[:, f["has_category"]] = has_cat
        price = np.where(known, b.item_price_[bs], np.nan) if b.has_prices_ else np.full(n, np.nan)
        has_price = np.isfinite(price)
        if has_price.any():
            band = b.item_band_[bs[has_price]]
            b0 = col[f"price_band:{b.band_labels_[0]}"]
            out[has_price, f["price_band_share"]] = UF[inv[has_price], b0 + band]
            lp = np.log(price[has_price])
            diff = lp - UF[inv[has_price], col["log_mean_price"]]
            out[has_price, f["log_price_vs_user"]] = diff
            out[has_price, f["abs_log_price_vs_user"]] = np.abs(diff)
            out[has_price, f["log_price"]] = lp
        out[:, f["has_price"]] = has_price
        out[:, f["item_share"]] = np.where(known, b.user_affinity(bu, bs, "item"), 0.0)
        if b.streamers_ is not None:
            out[:, f["streamer_share"]] = np.where(known, b.user_affinity(bu, bs, "streamer"), 0.0)
        V = b.item_vectors()
        if V is not None:
            has_vec = known & (b._cache["V"][1][bs])
            t0 = col["taste:0"]
            T = UF[:, t0:t0 + V.shape[1]]
            Tn = T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-12)
            Vn = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
            cos = np.zeros(n)
            for s in range(0, n, 2048):
                e = min(n, s + 2048)
                cos[s:e] = np.einsum("ij,ij->i", Tn[inv[s:e]], Vn[bs[s:e]])
            out[:, f["taste_cosine"]] = np.where(has_vec, cos, 0.0)
            out[:, f["has_vector"]] = has_vec
        out[:, f["item_popularity"]] = np.where(known, b._item_popularity(at)[bs], 0.0)
        counts = b.item_counts_[: len(b.items_)]
        pos_cols = [b.event_types_.index(e) for e in self.positive_events if e in b.event_types_]
        pos = counts[:, pos_cols].sum(axis=1)
        tot = counts.sum(axis=1)
        base_rate = pos.sum() / max(tot.sum(), 1.0)
        m = float(self.prior_strength)
        rate = (pos + m * base_rate) / np.maximum(tot + m, 1e-12)
        out[:, f["item_positive_rate"]] = np.where(known, rate[bs], base_rate)
        for pname, uname in (("user_ctr", "ctr"), ("user_cvr", "cvr"), ("user_engage_rate", "engage_rate"),
                             ("user_log_events", "log_events"), ("user_engagement_now", "engagement_now"),
                             ("user_cold_start", "cold_start"), ("user_loyalty", "loyalty")):
            out[:, f[pname]] = UF[inv, col[uname]]
        return out

    def _scores(self, b: UserProfileBuilder, bu: np.ndarray, items: np.ndarray, at: float) -> np.ndarray:
        import torch

        F = (self._pair_features(b, bu, items, at) - self.mean_) / self.scale_
        params = [torch.as_tensor(w) for w in self.weights_]
        with torch.no_grad():
            return _forward(params, torch.as_tensor(F, dtype=torch.float32)).numpy()

    def _dense(self, b: UserProfileBuilder, bu: np.ndarray, at: np.ndarray | None) -> np.ndarray:
        n_items = len(self.items_)
        times = np.full(len(bu), b.now_) if at is None else np.asarray(at, dtype=np.float64)
        out = np.empty((len(bu), n_items), dtype=np.float32)
        step = max(1, _PAIRS_PER_CHUNK // max(n_items, 1))  # bounds the pair-feature memory
        for t in np.unique(times):
            same = np.flatnonzero(times == t)
            for s in range(0, len(same), step):
                rows = same[s:s + step]
                pu = np.repeat(bu[rows], n_items)
                pi = np.tile(np.arange(n_items), len(rows))
                out[rows] = self._scores(b, pu, pi, float(t)).reshape(len(rows), n_items)
        return out

    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> np.ndarray:
        b = self.builder_
        return self._dense(b, b.users_.codes(self.users_.ids[user_codes], missing="ignore"), at)

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> np.ndarray:
        """Profiles of unseen users built from their history alone (population priors kept)."""
        b = self.builder_.empty_copy()
        users, items, times, events = [], [], [], []
        for j, h in enumerate(histories):
            users.append(np.full(len(h.items), j))
            items.append(np.asarray(h.items, dtype=np.int64))
            t = np.asarray(h.time, dtype=np.float64)
            if len(t) and np.array_equal(t, np.arange(len(t))):
                # a bare list of items (no times): treat it as the latest events, one second apart
                t = self.builder_.now_ - (len(t) - 1 - t)
            times.append(t)
            ev = np.zeros(len(h.items), dtype=np.int64) if h.event is None else np.asarray(h.event, dtype=np.int64)
            events.append(np.clip(ev, 0, len(EVENT_TYPES) - 1))
        n_events = sum(len(x) for x in users)
        if n_events:
            X = Interactions.from_arrays(
                np.concatenate(users), self.items_.ids[np.concatenate(items)], time=np.concatenate(times),
                event=np.asarray(EVENT_TYPES, dtype=object)[np.concatenate(events)])
            b._ingest(X, None, population=False)
        bu = b.users_.codes(np.arange(len(histories)), missing="ignore") if len(b.users_) else np.full(len(histories), -1)
        return self._dense(b, bu, at)

    def _predict_pairs(self, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        b = self.builder_
        bu = b.users_.codes(self.users_.ids[user_codes], missing="ignore")
        return self._scores(b, bu, item_codes, float(b.now_)).astype(np.float32)

    # Extra API ------------------------------------------------------------------------------------
    def score(self, users: Any, items: Any, *, at: Any = None) -> np.ndarray:
        """Scores of ``(users[j], items[j])`` pairs; users never seen get the cold-start profile.

        Unlike [`predict`][liverec.models.profile_ranker.ProfileRanker.predict], unknown users are scored from the population profile rather
        than refused, which is what a room does when a new viewer walks in.

        Args:
            users: External user ids (a scalar is broadcast over ``items``).
            items: External item ids known to the model (from ``fit`` or [`add_items`][liverec.models.profile_ranker.ProfileRanker.add_items]).
            at: Time of the request (default: the latest event seen).
        """
        self._check_fitted()
        b = self.builder_
        items_arr = np.atleast_1d(np.asarray(items))
        users_arr = np.atleast_1d(np.asarray(users))
        if len(users_arr) == 1 and len(items_arr) != 1:
            users_arr = np.repeat(users_arr, len(items_arr))
        if len(users_arr) != len(items_arr):
            raise DataValidationError(f"score needs one item per user: got {len(users_arr)} users and {len(items_arr)} items.")
        codes = self.items_.codes(items_arr, missing="ignore")
        if (codes < 0).any():
            bad = items_arr[int(np.flatnonzero(codes < 0)[0])]
            raise UnknownItemError(f"unknown item {bad!r}: add new products with add_items(table) first.")
        bu = b.users_.codes(users_arr, missing="ignore")
        return self._scores(b, bu, codes, b._time(at)).astype(np.float32)

    def add_items(self, item_table: Any, *, infer_category: bool = True) -> ProfileRanker:
        """Make new products rankable from their metadata alone (title, category, price, streamer).

        Args:
            item_table: Same columns as ``item_features`` in ``fit`` (``product``/``item``,
                ``category``, ``price``, ``title``, ...). Items already known are ignored.
            infer_category: Give a product without a category the category most common among
                the known products with the most similar title embeddings (cosine-weighted vote
                of the nearest 10; needs a ``text_encoder`` and a title), so the user's
                category affinity applies to it.

        Returns:
            ``self``.
        """
        self._check_fitted()
        meta = read_item_table(item_table, "item_table")
        b = self.builder_
        items = self.items_.extend(meta["item"])  # refuses ids of the other type before any change
        b._ingest_metadata(meta)
        self.items_ = items
        self._resize_seen()
        if infer_category and b.categories_ and b.dim_:
            self._infer_categories(b.items_.codes(meta["item"]))
        return self

    def _infer_categories(self, codes: np.ndarray) -> None:
        """Category of uncategorised items by a vote of their nearest categorised neighbours."""
        b = self.builder_
        V = b.item_vectors()
        if V is None:
            return
        has_vec = b._cache["V"][1]
        cat = b.item_cat_[: len(V)]
        known = (cat >= 0) & has_vec
        todo = codes[(b.item_cat_[codes] < 0) & has_vec[codes]]
        if not len(todo) or not known.any():
            return
        n_cat = len(b.categories_)
        ref = np.flatnonzero(known)
        Vn = V[ref] / np.maximum(np.linalg.norm(V[ref], axis=1, keepdims=True), 1e-12)
        k = min(_INFER_NEIGHBOURS, len(ref))
        for s in range(0, len(todo), 1024):
            chunk = todo[s:s + 1024]
            q = V[chunk] / np.maximum(np.linalg.norm(V[chunk], axis=1, keepdims=True), 1e-12)
            sims = q @ Vn.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            votes = np.zeros((len(chunk), n_cat))
            rows = np.repeat(np.arange(len(chunk)), k)
            np.add.at(votes, (rows, cat[ref[top.ravel()]]), np.maximum(np.take_along_axis(sims, top, 1).ravel(), 0.0))
            b.item_cat_[chunk] = np.argmax(votes, axis=1)
        b._cache.clear()

    def partial_fit(self, new_interactions: Interactions, text: TextEvents | None = None) -> ProfileRanker:
        """Fold new events into the profiles (exact, incremental); the network is kept.

        New users are added; new items get codes (score them after adding their metadata
        with [`add_items`][liverec.models.profile_ranker.ProfileRanker.add_items] for best results).
        """
        self._check_fitted()
        if not isinstance(new_interactions, Interactions):
            raise DataTypeError(f"partial_fit expects liverec.data.Interactions, got {type(new_interactions).__name__}.")
        self.builder_.update(new_interactions, text=text)
        X = new_interactions.with_maps(self.users_, self.items_)
        self.users_, self.items_ = X.users, X.items
        seen = self._resize_seen()
        extra = sp.csr_matrix((np.ones(len(X), dtype=bool), (X.user_codes, X.item_codes)), shape=seen.shape)
        self.seen_ = (seen + extra).astype(bool).tocsr()
        self.seen_.sort_indices()
        return self

    # Privacy and explanations --------------------------------------------------------------------
    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """The users' profiles go, exactly (see [`UserProfileBuilder.forget`][liverec.profiles.UserProfileBuilder.forget]).

        The network's weights (and the feature means and scales) were trained on pairs that
        included the users' events and stay as they are: a handful of numbers shared by
        every pair, not a per-user state; refit to remove that too.
        """
        ids = self.users_.ids[drop]
        mine = self.builder_.users_.codes(ids, missing="ignore") >= 0
        if mine.any():
            self.builder_.forget(ids[mine])

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        """The profile features behind each product's score, by feature occlusion.

        The contribution of a feature is ``score - score with that feature at its training
        mean``; with ``n_layers=0`` (logistic regression) this is exactly the feature's term
        of the logit, and the contributions sum to the score minus the bias
        (``additive=True``). Scores are logits of the purchase probability, at ``now_``.
        """
        import torch

        b = self.builder_
        bu = b.users_.codes(self.users_.ids[[user_code]], missing="ignore")
        F = self._pair_features(b, np.repeat(bu, len(item_codes)), item_codes, float(b.now_))
        Z = (F - self.mean_) / self.scale_
        n_f = Z.shape[1]
        # row 0 of each block: the pair as it is; row 1 + f: feature f set to its mean (z = 0)
        blocks = np.repeat(Z[:, None, :], n_f + 1, axis=1)
        blocks[:, np.arange(1, n_f + 1), np.arange(n_f)] = 0.0
        params = [torch.as_tensor(w) for w in self.weights_]
        with torch.no_grad():
            s = _forward(params, torch.as_tensor(blocks.reshape(-1, n_f), dtype=torch.float32))
        s = s.numpy().astype(np.float64).reshape(len(item_codes), n_f + 1)
        linear = len(self.weights_) == 2
        user, ids = self.users_.ids[user_code], self.items_.ids
        out = []
        for r, c in enumerate(item_codes):
            drops = s[r, 0] - s[r, 1:]
            reasons = sort_reasons([
                Reason("profile_feature", name, float(drops[f]), value=float(F[r, f]),
                       text=f"{name} = {float(F[r, f]):.3g} ({'raises' if drops[f] >= 0 else 'lowers'} the score "
                            f"by {abs(float(drops[f])):.3g})")
                for f, name in enumerate(PAIR_FEATURES) if drops[f] != 0.0])
            baseline = float(s[r, 0] - drops.sum()) if linear else 0.0
            out.append(Explanation(user, ids[c], float(s[r, 0]), reasons, method="feature occlusion",
                                   baseline=baseline, additive=linear))
        return out

    def _resize_seen(self) -> sp.csr_matrix:
        s = self.seen_
        n_u, n_i = len(self.users_), len(self.items_)
        indptr = np.concatenate([s.indptr, np.full(n_u - s.shape[0], s.indptr[-1])])
        self.seen_ = sp.csr_matrix((s.data, s.indices, indptr), shape=(n_u, n_i))
        return self.seen_

    # Persistence ----------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        attrs, arrays = self.builder_.get_state()
        out_arrays = {f"builder/{k}": v for k, v in arrays.items()}
        for j, w in enumerate(self.weights_):
            out_arrays[f"net/{j}"] = w
        out_arrays["mean"], out_arrays["scale"] = self.mean_, self.scale_
        return {"builder": attrs, "n_params": len(self.weights_), "n_train_pairs": self.n_train_pairs_,
                "train_positive_rate": self.train_positive_rate_}, out_arrays

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        b = self._new_builder()
        b.set_state(expect_attribute(attributes, "builder", dict), StateArrays.view(arrays).sub("builder/"))
        self.builder_ = b
        n_params = expect_attribute(attributes, "n_params", int)
        if n_params < 2 or n_params % 2 or n_params > 64:
            raise PersistenceError(f"config.json: attributes.n_params: expected an even count of weights, got {n_params}")
        # an MLP: (weight (n_in, n_out), bias (n_out,)) pairs from PAIR_FEATURES inputs to one score
        self.weights_, width = [], len(PAIR_FEATURES)
        for j in range(0, n_params, 2):
            w = expect_array(arrays, f"net/{j}", "f", (width, None), finite=True, dtype=np.float32)
            width = w.shape[1] if j + 2 < n_params else 1
            w = expect_array(arrays, f"net/{j}", "f", (w.shape[0], width), finite=True, dtype=np.float32)
            self.weights_ += [w, expect_array(arrays, f"net/{j + 1}", "f", (width,), finite=True, dtype=np.float32)]
        self.mean_ = expect_array(arrays, "mean", "f", (len(PAIR_FEATURES),), finite=True)
        self.scale_ = expect_array(arrays, "scale", "f", (len(PAIR_FEATURES),), finite=True)
        if not (self.scale_ > 0).all():
            raise PersistenceError("arrays.safetensors: tensor 'scale': must be positive")
        self.n_train_pairs_ = expect_attribute(attributes, "n_train_pairs", int)
        self.train_positive_rate_ = expect_attribute(attributes, "train_positive_rate", float)


def _forward(params: list[Any], x: Any) -> Any:
    import torch

    h = x
    for j in range(0, len(params) - 2, 2):
        h = torch.relu(h @ params[j] + params[j + 1])
    return (h @ params[-2] + params[-1]).reshape(-1)
