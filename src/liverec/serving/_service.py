"""``LiveService``: a fitted model plus the online state a web server holds in memory."""

from __future__ import annotations

import numbers
import threading
import time as _time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._ranking import (
    History,
    can_fold_in,
    check_k,
    id_array,
    is_sequence,
    parse_request,
    recommend_top_k,
)
from .._utils import plain
from ..base import BaseRecommender, Recommendations, check_is_fitted
from ..data import IdMap, Interactions, LiveSchedule
from ..data._columns import check_time_kind, is_scalar, parse_time_query, seconds_to_datetime
from ..data.interactions import EVENT_TYPES
from ..exceptions import DataTypeError, DataValidationError, InvalidParameterError
from ._rwlock import RWLock
from ._state import HotCounts, ViewerBuffers, Vocabulary

__all__ = ["LiveService"]

_COLUMNS = ("user", "item", "time", "event", "weight")
_COLD = ("hot", "raise")


def _reads_sequences(model: Any) -> bool:
    """Whether the model scores a known user from their event sequence (the Transformer)."""
    return bool(getattr(model, "reads_sequences", False))


def _model_kind(model: Any, schedule: LiveSchedule | None) -> str | None:
    kind = getattr(model, "time_kind_", None)
    if kind is None and schedule is not None:
        kind = schedule.time_kind
    return kind


def _check_model(model: Any, name: str = "model") -> None:
    if not isinstance(model, BaseRecommender):
        raise DataTypeError(f"{name} must be a fitted liverec model (a BaseRecommender), got {type(model).__name__}.")
    check_is_fitted(model)


class _HotScorer:
    """Scores every item by the service's hot counts: the engine's scoring hook for cold viewers."""

    _supports_history = True
    schedule_ = None

    def __init__(self, scores: np.ndarray, items: IdMap, users: IdMap, time_kind: str | None) -> None:
        self._scores, self.items_, self.users_, self.time_kind_ = scores, items, users, time_kind
        self.seen_ = sp.csr_matrix((len(users), len(items)), dtype=bool)

    def score_items(self, user_codes: np.ndarray, histories: Any = None, at: np.ndarray | None = None) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(self._scores[np.asarray(user_codes)], dtype=np.float32))


class LiveService:
    """A fitted model serving live recommendations while rooms go on and off air and events arrive.

    The service is what a web server keeps in memory (see ``liverec serve``): the model, the
    live schedule, and per-viewer buffers of recent events. Every request ranks through the
    same engine as ``model.recommend``: ``service.recommend(user, k, at=t)`` is
    ``model.recommend(user, k, at=t, schedule=service.schedule, history=service.history(user))``,
    where the history is

    * for a viewer the model never saw: their buffered events (fold-in, no refit);
    * for a viewer the model knows and a model that reads sequences
      (``SequentialTransformer``): their fitted sequence before ``at`` followed by the buffered
      events newer than it;
    * for a viewer the model knows and any other model: none (the fitted state).

    A viewer with no state anywhere (unknown to the model, nothing buffered) gets the rooms
    that are hot now (most events in the last ``hot_window``) among the live ones
    (``cold_start="hot"``), or an ``UnknownUserError`` (``cold_start="raise"``).

    All methods may be called from many threads at once. Requests never change process-wide
    state (torch threads are the caller's: set them once at start-up); ``swap`` replaces the
    model with one reference assignment, so a request uses the old model or the new one, never a
    mix.

    Args:
        model: A fitted liverec model (rooms / streamers to watch).
        schedule: The live schedule to follow and update (``on_air`` / ``off_air``). ``None``:
            a new empty one, of the model's time kind, nothing on air until ``on_air``.
        history_len: Events kept per viewer (the oldest are dropped).
        hot_window: Length of the "hot now" window, in the data's time unit (seconds for
            datetimes).
        hot_buckets: The window moves in this many steps.
        cold_start: ``"hot"`` or ``"raise"``: what a viewer with no state at all gets.
        products: A fitted ``ProfileRanker`` over products, for
            [`recommend_products`][liverec.serving.LiveService.recommend_products].
        product_rooms: Which room sells which product: a table with ``product`` and ``item``
            columns (as ``make_live_commerce().products``) or a dict product -> room.
        profiles: A fitted ``UserProfileBuilder`` kept up to date with the observed events
            (with ``update_profiles``).
        update_profiles: Fold every observed batch into ``profiles``, into a ``ProfileRanker``
            model (``partial_fit``), and every product batch into ``products``. These updates
            change objects in place, so they wait for running requests and hold new ones
            back while they run.
        clock: The current time for ``at=None``, in the data's time unit (float seconds for
            datetimes). Default: the wall clock for datetime data; for numeric data, the latest
            time the service has seen (events, on / off air).

    Examples:
        >>> from liverec.data import Interactions
        >>> from liverec.models import Popularity
        >>> X = Interactions.from_arrays(user=[1, 2, 2], item=["a", "b", "a"], time=[1, 2, 3])
        >>> service = LiveService(Popularity().fit(X))
        >>> service.on_air(["a", "b"], 5)
        >>> service.recommend(1, k=2, at=6).items.tolist()
        [['a', 'b']]
        >>> service.off_air("a", 7)
        >>> service.observe({"user": 9, "item": "b", "time": 8})
        1
        >>> service.recommend(9, k=2, at=8).items.tolist()  # a new viewer, folded in
        [['b', None]]
    """

    time_kind: str | None
    schedule: LiveSchedule
    history_len: int
    cold_start: str
    update_profiles: bool
    products: BaseRecommender | None
    profiles: Any
    _model: BaseRecommender
    _rooms: dict[Any, np.ndarray]
    _clock: Callable[[], float] | None
    _latest: float
    _lock: threading.Lock
    _rw: RWLock
    _items: Vocabulary
    _events: list[str]
    _buffers: ViewerBuffers
    _product_buffers: ViewerBuffers
    _product_items: Vocabulary
    _hot: HotCounts
    _luts: dict[tuple[int, int, int], tuple[IdMap, np.ndarray]]

    def __init__(
        self,
        model: BaseRecommender,
        schedule: LiveSchedule | None = None,
        *,
        history_len: int = 50,
        hot_window: float = 600.0,
        hot_buckets: int = 10,
        cold_start: str = "hot",
        products: BaseRecommender | None = None,
        product_rooms: Any = None,
        profiles: Any = None,
        update_profiles: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        _check_model(model)
        for name, value, low in (("history_len", history_len, 1), ("hot_buckets", hot_buckets, 1)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise InvalidParameterError(f"LiveService: {name} must be a positive integer, got {value!r}.")
        if not isinstance(hot_window, numbers.Real) or not np.isfinite(hot_window) or hot_window <= 0:
            raise InvalidParameterError(f"LiveService: hot_window must be a positive number, got {hot_window!r}.")
        if cold_start not in _COLD:
            raise InvalidParameterError(f"LiveService: cold_start must be one of {_COLD}, got {cold_start!r}.")
        if schedule is not None and not isinstance(schedule, LiveSchedule):
            raise DataTypeError(f"schedule must be a LiveSchedule or None, got {type(schedule).__name__}.")
        self.time_kind = _model_kind(model, schedule)
        if schedule is None:
            schedule = LiveSchedule.empty(time_kind="datetime" if self.time_kind == "datetime" else "numeric",
                                          items=model.items_)
        elif self.time_kind not in (None, "order"):
            check_time_kind("datetime" if schedule.time_kind == "datetime" else "numeric", self.time_kind,
                            "schedule", f"the data this {type(model).__name__} was fitted on")
        self.schedule = schedule
        self.history_len, self.cold_start = int(history_len), cold_start
        self.update_profiles = bool(update_profiles)
        self._model = model
        self.products = products
        self.profiles = profiles
        self._rooms = _product_rooms(product_rooms) if product_rooms is not None else {}
        if products is not None:
            _check_model(products, "products")
        self._clock = clock
        self._latest = -np.inf  # the latest time seen (events, schedule changes)
        self._lock = threading.Lock()  # buffers, hot counts, vocabularies
        self._rw = RWLock()  # in-place model / profile updates vs requests
        self._items = Vocabulary(model.items_, "item")
        self._events = list(EVENT_TYPES)
        self._buffers = ViewerBuffers(self.history_len, model.users_)
        self._product_buffers = ViewerBuffers(self.history_len, products.users_ if products is not None else
                                              IdMap([], "user"))
        self._product_items = Vocabulary(products.items_ if products is not None else IdMap([], "item"), "item")
        self._hot = HotCounts(float(hot_window), int(hot_buckets))
        self._luts = {}

    # Model ------------------------------------------------------------------------------------
    @property
    def model(self) -> BaseRecommender:
        """The model requests are answered with now."""
        return self._model

    def swap(self, model: BaseRecommender) -> BaseRecommender:
        """Replace the model with a newly trained one, atomically; returns the old one.

        Requests running meanwhile finish with the model they started with; the next ones use
        the new model. Buffers, hot counts and the schedule are kept.

        Raises:
            NotFittedError: ``model`` is not fitted.
            DataTypeError: ``model`` was fitted on times of another kind (datetimes vs numbers).
        """
        _check_model(model)
        kind = getattr(model, "time_kind_", None)
        if self.time_kind not in (None, "order") and kind not in (None, "order"):
            check_time_kind("datetime" if kind == "datetime" else "numeric", self.time_kind, "model",
                            "the service (the data of the model it started with)")
        with self._rw.write():  # not while an in-place profile update runs on the old model
            old, self._model = self._model, model
        return old

    # Clock and schedule ---------------------------------------------------------------------------
    def now(self) -> float:
        """The time ``at=None`` means: the ``clock`` (float seconds for datetimes)."""
        if self._clock is not None:
            return float(self._clock())
        if self.time_kind == "datetime":
            return _time.time()
        return float(self._latest) if np.isfinite(self._latest) else 0.0

    def _seen_time(self, times: np.ndarray) -> None:
        if len(times):
            latest = float(np.max(times))
            if latest > self._latest:  # a benign race: the clock only moves forward
                self._latest = latest

    def on_air(self, item: Any, t: Any = None) -> None:
        """Rooms go on air at ``t`` (``None``: now); see [`LiveSchedule.update`][liverec.data.LiveSchedule.update]."""
        self._schedule_change(item, t, True)

    def off_air(self, item: Any, t: Any = None) -> None:
        """Rooms go off air at ``t`` (``None``: now)."""
        self._schedule_change(item, t, False)

    def update_schedule(self, item: Any, t: Any = None, on_air: Any = True) -> None:
        """Many on / off-air changes at once, in row order (all or none)."""
        self._schedule_change(item, t, on_air)

    def _schedule_change(self, item: Any, t: Any, on_air: Any) -> None:
        if t is None:
            t = self.now()
            t = np.datetime64(int(round(t * 1e6)), "us") if self.schedule.time_kind == "datetime" else t
        self.schedule.update([item] if is_scalar(item) else item, t, on_air=on_air)
        self._seen_time(parse_time_query(t, "t")[0])

    def live(self, at: Any = None) -> np.ndarray:
        """External ids of the rooms on air at ``at`` (now by default)."""
        return np.asarray(self.schedule.live_at(self._at_value(at)))

    def _at_value(self, at: Any) -> Any:
        """``at`` as the schedule takes it; ``None`` is now."""
        if at is not None:
            return at
        now = self.now()
        return np.datetime64(int(round(now * 1e6)), "us") if self.time_kind == "datetime" else now

    # Events --------------------------------------------------------------------------------------
    def observe(self, events: Any) -> int:
        """Record viewer events: buffers, hot counts and (with ``update_profiles``) profiles.

        Args:
            events: An ``Interactions``, a mapping of columns (``user``, ``item`` and optionally
                ``time``, ``event``, ``weight``), or one event as a mapping of scalars. Events
                without a time are stamped with the service clock. Items the model does not know
                (new rooms) are kept too: they count as hot and are folded in once a model knows
                them.

        Returns:
            The number of events recorded.

        Raises:
            DataValidationError: missing or unknown columns, bad values (nothing is recorded).
            DataTypeError: times or ids of the wrong kind (nothing is recorded).
        """
        return self._record(events, products=False)

    def observe_products(self, events: Any) -> int:
        """Record product events (cart, purchase, ...) for [`recommend_products`][liverec.serving.LiveService.recommend_products].

        Same forms as [`observe`][liverec.serving.LiveService.observe]; items are product ids.
        """
        if self.products is None:
            raise DataValidationError("observe_products: this service has no products model; pass "
                                      "products=<a fitted ProfileRanker> to LiveService.")
        return self._record(events, products=True)

    def _record(self, events: Any, products: bool) -> int:
        """Validate (all or nothing), then write the events into the buffers and the hot counts."""
        X = self._as_interactions(events)
        if len(X) == 0:
            return 0
        ev = self._event_codes(X)
        weights = np.full(len(X), np.nan) if X.weight is None else X.weight
        buffers, vocab = (self._product_buffers, self._product_items) if products else (self._buffers, self._items)
        with self._lock:
            buffers.users.check(np.asarray(X.users.ids))  # both checked before anything is added
            vocab.check(np.asarray(X.items.ids))
            users = buffers.users.codes(np.asarray(X.users.ids), add=True)[X.user_codes]
            items = vocab.codes(np.asarray(X.items.ids), add=True)[X.item_codes]
            rows = buffers.rows(users, create=True)
            buffers.append(rows, items, X.time, ev, weights)
            if not products:
                self._hot.add(rows, items, X.time)
        self._seen_time(X.time)
        if self.update_profiles:
            self._update_profiles(X, products=products)
        return len(X)

    def _as_interactions(self, events: Any) -> Interactions:
        if isinstance(events, Interactions):
            X = events
        elif isinstance(events, Mapping):
            X = self._from_columns(events)
        else:
            raise DataTypeError(
                f"observe takes an Interactions, a mapping of columns or one event as a mapping, got "
                f"{type(events).__name__}; e.g. observe({{'user': 7, 'item': 'room3', 'time': t}}).")
        if len(X) and self.time_kind not in (None, "order"):
            if X.time_kind == "order":
                raise DataValidationError(
                    "observe: the events have no times; give a 'time' column, or leave the column out "
                    "of a mapping to stamp the events with the service clock.")
            check_time_kind("datetime" if X.time_kind == "datetime" else "numeric", self.time_kind,
                            "time", "the service (the model's data)")
        return X

    def _from_columns(self, events: Mapping[str, Any]) -> Interactions:
        unknown = [c for c in events if c not in _COLUMNS]
        if unknown:
            raise DataValidationError(f"observe: unknown column(s) {unknown}; the columns are {list(_COLUMNS)}.")
        missing = [c for c in ("user", "item") if c not in events]
        if missing:
            raise DataValidationError(f"observe: column(s) {missing} are missing; every event needs a user and an item.")
        cols = {c: ([v] if is_scalar(v) else v) for c, v in events.items() if v is not None}
        if "time" not in cols:
            n = len(cols["user"]) if is_sequence(cols["user"]) else 1
            now = self.now()
            stamp: Any = now if self.time_kind != "datetime" else np.datetime64(int(round(now * 1e6)), "us")
            cols["time"] = [stamp] * n
        return Interactions.from_arrays(cols["user"], cols["item"], time=cols["time"], event=cols.get("event"),
                                        weight=cols.get("weight"))

    def _event_codes(self, X: Interactions) -> np.ndarray:
        """Event codes in the service's vocabulary (the default one first; ``view`` when absent)."""
        if X.event is None:
            return np.zeros(len(X), dtype=np.int16)
        with self._lock:
            for name in X.event_types:
                if name not in self._events:
                    self._events.append(name)
            lut = np.array([self._events.index(name) for name in X.event_types], dtype=np.int16)
        return lut[X.event]

    def _update_profiles(self, X: Interactions, products: bool) -> None:
        from ..models.profile_ranker import ProfileRanker

        with self._rw.write():
            if products:
                if isinstance(self.products, ProfileRanker):
                    self.products.partial_fit(X)
                return
            if self.profiles is not None:
                self.profiles.update(X)
            if isinstance(self._model, ProfileRanker):
                self._model.partial_fit(X)

    def forget(self, users: Any, *, model: bool = False) -> int:
        """Drop viewers' buffers (rooms and products) and their events from the hot counts.

        Args:
            users: One viewer id or a sequence of them (unknown ones are skipped).
            model: Also remove the viewers the models know from the models themselves
                (``model.forget``, in place, and the products model's): requests wait while
                it runs. Without it the models are not changed (a viewer the model knows keeps
                getting personal recommendations); a later ``swap`` to a model trained without
                them does the same.

        Returns:
            The number of viewers whose buffers were dropped.
        """
        ids = id_array(users, "users")
        if model:
            with self._rw.write():
                for m in (self._model, self.products):
                    if m is not None:
                        known = ids[m.users_.codes(ids, missing="ignore") >= 0]
                        if len(known):
                            m.forget(known)
        with self._lock:
            codes = self._buffers.users.codes(ids, add=False)
            rows = self._buffers.drop(codes[codes >= 0])
            self._hot.forget(rows)
            pb = self._product_buffers
            p_codes = pb.users.codes(ids, add=False)
            pb.drop(p_codes[p_codes >= 0])
        return len(rows)

    # Histories ---------------------------------------------------------------------------------------
    def _buffered(self, buffers: ViewerBuffers, ids: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        with self._lock:
            rows = buffers.rows(buffers.users.codes(ids, add=False), create=False)
            return [buffers.read(int(r)) for r in rows]

    def _histories(self, model: Any, ids: np.ndarray, codes: np.ndarray, at: np.ndarray,
                   buffered: list[tuple[np.ndarray, ...]], vocab: Vocabulary) -> list[History | None]:
        """Per row, the ``History`` the model is given (model item codes), or ``None``."""
        lut = self._lut(model, vocab)
        seq = _reads_sequences(model)
        out: list[History | None] = []
        for j in range(len(ids)):
            items, times, events, weights = buffered[j]
            mapped = lut[items] if len(items) else items
            ok = mapped >= 0
            items, times, events, weights = mapped[ok], times[ok], events[ok], weights[ok]
            if codes[j] >= 0:
                if not seq:
                    out.append(None)
                    continue
                f_items, f_times = model.known_sequences(np.array([codes[j]]), at[j:j + 1])[0]
                newer = times > f_times[-1] if len(f_times) else np.ones(len(times), dtype=bool)
                n_fit = len(f_items)
                items = np.concatenate([f_items, items[newer]])
                times = np.concatenate([f_times, times[newer]])
                events = np.concatenate([np.zeros(n_fit, dtype=np.int16), events[newer]])
                weights = np.concatenate([np.full(n_fit, np.nan), weights[newer]])
            elif not len(items):
                out.append(None)  # no state at all: the hot rooms, or UnknownUserError (cold_start)
                continue
            missing = np.isnan(weights)
            w = None if missing.all() else np.where(missing, 1.0, weights)
            out.append(History(items.astype(np.int64), times, events, w))
        return out

    def _lut(self, model: Any, vocab: Vocabulary) -> np.ndarray:
        """Service item code -> model item code (``-1``: the model does not know the item)."""
        items = model.items_
        key = (id(items), id(vocab), len(vocab))
        cached = self._luts.get(key)
        if cached is None or cached[0] is not items:  # (an id may be reused by a new map)
            cached = (items, items.codes(vocab.take(np.arange(len(vocab))), missing="ignore"))
            if len(self._luts) > 8:
                self._luts.clear()
            self._luts[key] = cached
        return cached[1]

    def history(self, users: Any, at: Any = None) -> Interactions | None:
        """The events a request at ``at`` folds in for these viewers, as an ``Interactions``.

        This is the ``history=`` that makes ``model.recommend(users, k, at=at,
        schedule=service.schedule, history=service.history(users, at))`` give the service's
        answer (see the class docs for who gets which events). ``None`` when no viewer has any.
        """
        model = self._model
        ids = id_array(users, "users")
        at_arr = self._at_array(model, at, len(ids))
        codes = model.users_.codes(ids, missing="ignore")
        hs = self._histories(model, ids, codes, at_arr, self._buffered(self._buffers, ids), self._items)
        keep = [j for j, h in enumerate(hs) if h is not None]
        if not keep:
            return None
        chosen = [hs[j] for j in keep]
        n = [len(h.items) for h in chosen if h is not None]
        users_map, u_codes = IdMap.from_values(np.repeat(ids[keep], n), "user")
        cat = [np.concatenate(parts) if parts else np.zeros(0) for parts in zip(
            *[(h.items, h.time, h.event, np.full(len(h.items), np.nan) if h.weight is None else h.weight)
              for h in chosen if h is not None], strict=True)]
        weight = None if all(h is not None and h.weight is None for h in chosen) else np.where(
            np.isnan(cat[3]), 1.0, cat[3])
        return Interactions(u_codes, cat[0].astype(np.int64), cat[1], users_map, model.items_,
                            cat[2].astype(np.int16), weight, event_types=tuple(self._events),
                            time_kind=self.time_kind or "numeric")

    def _engine_at(self, at: np.ndarray, model: Any = None) -> Any:
        """Float-second request times in the form the ranking engine checks (datetimes stay datetimes)."""
        kind = self.schedule.time_kind if model is None else getattr(model, "time_kind_", None)
        return seconds_to_datetime(at) if kind == "datetime" else at

    def _at_array(self, model: Any, at: Any, n: int) -> np.ndarray:
        if at is None:
            return np.full(n, self.now())
        times, kind = parse_time_query(at, "at")
        if self.time_kind not in (None, "order"):
            check_time_kind(kind, self.time_kind, "at", f"the data this {type(model).__name__} was fitted on")
        if len(times) == 1:
            return np.repeat(times, n)
        if len(times) != n:
            raise DataValidationError(f"at has {len(times)} times for {n} users; pass one or one per user.")
        return times

    # Requests --------------------------------------------------------------------------------------
    def recommend(self, users: Any, k: int = 10, at: Any = None, *, candidates: Any = None,
                  exclude: Any = None, exclude_seen: bool = False) -> Recommendations:
        """Top-``k`` rooms on air at ``at`` (now by default) for each viewer, fresh events folded in.

        Args:
            users: One viewer id or a sequence of them.
            k: Rooms per viewer.
            at: Request time (one, or one per viewer); ``None``: [`now`][liverec.serving.LiveService.now].
            candidates: Rooms allowed (as in ``BaseRecommender.recommend``).
            exclude: Rooms never recommended.
            exclude_seen: Leave out rooms the viewer has seen (in fit and in the folded-in events).

        Returns:
            [`Recommendations`][liverec.base.Recommendations]; rows are padded (``None`` /
            ``-inf``) when fewer than ``k`` rooms are live.

        Raises:
            UnknownUserError: a viewer with no state anywhere, with ``cold_start="raise"``.
        """
        model = self._model  # read once: a concurrent swap never mixes two models in one answer
        check_k("LiveService", k)
        ids = id_array(users, "users")
        at_arr = self._at_array(model, at, len(ids))
        with self._rw.read():
            codes = model.users_.codes(ids, missing="ignore")
            histories = self._histories(model, ids, codes, at_arr, self._buffered(self._buffers, ids), self._items)
            cold = np.array([codes[j] < 0 and histories[j] is None for j in range(len(ids))], dtype=bool)
            if self.cold_start == "raise" or not cold.any():
                return self._rank(model, ids, k, at_arr, histories, candidates, exclude, exclude_seen)
            parts = [(np.flatnonzero(cold), self._rank_hot(ids[cold], k, at_arr[cold], candidates, exclude))]
            warm = np.flatnonzero(~cold)
            if len(warm):
                parts.append((warm, self._rank(model, ids[warm], k, at_arr[warm], [histories[j] for j in warm],
                                               candidates, exclude, exclude_seen)))
            return _merge(ids, k, parts)

    def _rank(self, model: Any, ids: np.ndarray, k: int, at: np.ndarray, histories: list[History | None],
              candidates: Any, exclude: Any, exclude_seen: bool) -> Recommendations:
        history = {ids[j].item(): h for j, h in enumerate(histories) if h is not None}
        if history and not can_fold_in(model):
            history = {}
        request = parse_request(model, ids, k, at=self._engine_at(at), schedule=self.schedule, candidates=candidates,
                                exclude=exclude, exclude_seen=exclude_seen, history=history or None)
        codes, scores = recommend_top_k(model, request)
        return Recommendations.from_codes(request.users, codes, scores, model.items_)

    def _rank_hot(self, ids: np.ndarray, k: int, at: np.ndarray, candidates: Any, exclude: Any) -> Recommendations:
        """Cold viewers: the live rooms with the most events in the hot window, through the engine."""
        items = self.schedule.items
        uniq, inv = np.unique(at, return_inverse=True)
        table = np.zeros((len(uniq), len(items)), dtype=np.float32)
        with self._lock:
            n = len(self._items)
            hot = [self._hot.scores(float(t), n) for t in uniq]
        lut = self._lut(_ItemsOf(items), self._items)
        ok = lut >= 0
        for r, h in enumerate(hot):
            table[r, lut[ok]] = h[ok]
        scorer = _HotScorer(table, items, IdMap(np.arange(len(uniq)), "user"), self.schedule.time_kind)
        request = parse_request(scorer, inv.reshape(-1).astype(np.int64), k, at=self._engine_at(at),
                                schedule=self.schedule,
                                candidates=candidates, exclude=exclude)
        codes, scores = recommend_top_k(scorer, request)
        return Recommendations.from_codes(ids, codes, scores, items)

    def hot(self, k: int = 10, at: Any = None, *, live_only: bool = True) -> Recommendations:
        """The rooms with the most events in the last ``hot_window`` before ``at`` (one row).

        Args:
            k: Rooms to return.
            at: The time (``None``: now).
            live_only: Only rooms on air at ``at``.
        """
        check_k("LiveService.hot", k)
        at_arr = self._at_array(self._model, at, 1)
        with self._lock:
            scores = self._hot.scores(float(at_arr[0]), len(self._items))
            ids = self._items.take(np.arange(len(self._items)))
        if live_only:
            live = self.schedule.is_live(ids, at_arr) if len(ids) else np.zeros(0, dtype=bool)
            scores = np.where(live, scores, -np.inf)
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[np.isfinite(scores[order]) & (scores[order] > 0)]
        items = np.full((1, k), None, dtype=object)
        values = np.full((1, k), -np.inf, dtype=np.float32)
        items[0, :len(order)] = ids[order].tolist()
        values[0, :len(order)] = scores[order]
        return Recommendations(np.array(["*"]), items, values)

    # Products ----------------------------------------------------------------------------------------
    def recommend_products(self, user: Any, room: Any, k: int = 10, at: Any = None) -> Recommendations:
        """The products to show ``user`` inside ``room`` (ranked by the ``products`` model).

        A viewer the products model does not know is scored from their buffered product events
        (see [`observe_products`][liverec.serving.LiveService.observe_products]); with none, from
        the population profile.

        Raises:
            DataValidationError: no products model, or a room with no known product.
        """
        model = self.products
        if model is None:
            raise DataValidationError("recommend_products: this service has no products model; pass "
                                      "products=<a fitted ProfileRanker> (and product_rooms) to LiveService.")
        key = plain(room)
        in_room = self._rooms.get(key)
        if in_room is None or not len(in_room):
            raise DataValidationError(f"recommend_products: room {key!r} sells no product known to the service; "
                                      "pass product_rooms=<table with product and item columns>.")
        ids = id_array(user, "users")[:1]
        at_arr = self._at_array(model, at, 1)
        with self._rw.read():
            codes = model.users_.codes(ids, missing="ignore")
            buffered = self._buffered(self._product_buffers, ids)
            histories = self._histories(model, ids, codes, at_arr, buffered, self._product_items)
            if codes[0] < 0 and histories[0] is None:
                histories = [History(np.zeros(0, dtype=np.int64), np.zeros(0))]  # the population profile
            history = {ids[0].item(): histories[0]} if histories[0] is not None else None
            request = parse_request(model, ids, k, at=self._engine_at(at_arr, model), candidates=in_room,
                                    history=history)
            c, s = recommend_top_k(model, request)
        return Recommendations.from_codes(ids, c, s, model.items_)

    # Introspection -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for a metrics page: viewers buffered, rooms on air now, items seen."""
        with self._lock:
            viewers, items = self._buffers.n_viewers, len(self._items)
        return {"model": type(self._model).__name__, "viewers_buffered": viewers, "items_seen": items,
                "rooms_on_air": int(self.schedule.n_open), "history_len": self.history_len}

    def __repr__(self) -> str:
        s = self.stats()
        return (f"LiveService(model={s['model']}, rooms_on_air={s['rooms_on_air']}, "
                f"viewers_buffered={s['viewers_buffered']}, history_len={self.history_len})")


class _ItemsOf:
    """A stand-in with an ``items_`` map (the item-code table of ``LiveService._lut``)."""

    def __init__(self, items: IdMap) -> None:
        self.items_ = items


def _product_rooms(table: Any) -> dict[Any, np.ndarray]:
    """room -> product ids, from a dict product -> room or a table with product and item columns."""
    if isinstance(table, Mapping) and "product" in table and "item" in table:
        products, rooms = np.asarray(table["product"]), np.asarray(table["item"])
    elif hasattr(table, "columns") and "product" in table.columns:
        products, rooms = np.asarray(table["product"]), np.asarray(table["item"])
    elif isinstance(table, Mapping):
        products, rooms = np.asarray(list(table.keys())), np.asarray(list(table.values()))
    else:
        raise DataTypeError("product_rooms must be a table with 'product' and 'item' columns or a dict "
                            f"product -> room, got {type(table).__name__}.")
    if len(products) != len(rooms):
        raise DataValidationError(f"product_rooms: {len(products)} products but {len(rooms)} rooms.")
    order = np.argsort(rooms, kind="stable")
    r_sorted = rooms[order]
    uniq, first = np.unique(r_sorted, return_index=True)
    groups = np.split(products[order], first[1:])
    return {plain(u): g for u, g in zip(uniq, groups, strict=True)}


def _merge(ids: np.ndarray, k: int, parts: list[tuple[np.ndarray, Recommendations]]) -> Recommendations:
    """Rows of several ``Recommendations`` put back in request order."""
    dtypes = [p.items.dtype for _, p in parts]
    dtype = object if any(d.kind == "O" for d in dtypes) else np.result_type(*dtypes)
    items = np.empty((len(ids), k), dtype=dtype)
    scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
    mask = np.zeros((len(ids), k), dtype=bool)
    for rows, rec in parts:
        items[rows], scores[rows], mask[rows] = rec.items, rec.scores, rec.mask
    return Recommendations(ids, items, scores, mask)
