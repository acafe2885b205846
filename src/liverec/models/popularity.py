"""Popularity baselines: global, recent-window and currently-live."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from .._params import Interval, Options
from .._utils import sorted_unique
from ..base import BaseRecommender, History
from ..data import Interactions, LiveSchedule
from ..data._columns import check_nonnegative_weights
from ..exceptions import DataValidationError, PersistenceError
from ..explain import Explanation, Reason
from ..persistence import expect_array, expect_attribute, expect_indices, register

_STRATEGIES = ("global", "recent", "live")
_WEIGHTINGS = ("count", "users", "event", "sum")


@register
class Popularity(BaseRecommender):
    """Recommend what most people do: the non-personalised baseline every model must beat.

    Args:
        strategy: ``"global"`` ranks by all-time popularity. ``"recent"`` ranks by the
            events in the ``window`` before the request time ``at`` (before the end of the
            training data when ``at`` is not given). ``"live"`` ranks by all-time popularity
            but only among the items live at ``at`` (it needs ``at`` and a schedule).
        window: Length of the recent window, in the time unit of the data (seconds for
            datetimes). ``None`` uses the last tenth of the training time span.
        weighting: What an item's popularity counts: ``"count"`` events, distinct
            ``"users"``, ``"event"`` (event-type worth) or ``"sum"`` of weights.

    Examples:
        >>> from liverec.data import Interactions
        >>> X = Interactions.from_arrays(user=[1, 2, 2, 3], item=["a", "b", "a", "a"])
        >>> Popularity().fit(X).recommend(1, k=2).items.tolist()
        [['a', 'b']]
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "strategy": [Options(_STRATEGIES)],
        "window": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "weighting": [Options(_WEIGHTINGS)],
    }

    def __init__(self, strategy: str = "global", window: float | None = None, weighting: str = "count") -> None:
        self.strategy = strategy
        self.window = window
        self.weighting = weighting

    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any, text: Any) -> None:
        w = self._row_weights(interactions)
        order = np.argsort(interactions.time, kind="stable")
        self.event_times_ = interactions.time[order]
        self.event_items_ = interactions.item_codes[order]
        self.event_weights_ = w[order]
        self.event_users_: np.ndarray | None = interactions.user_codes[order]
        self._summarise(interactions.n_items)

    def _summarise(self, n_items: int) -> None:
        """Popularity, window and end time from the stored events (fit, and forget)."""
        if self.weighting == "users":
            pairs = sorted_unique(self.event_users_ * np.int64(n_items) + self.event_items_)
            counts: np.ndarray = np.bincount(pairs % n_items, minlength=n_items).astype(np.float64)
        else:
            counts = np.bincount(self.event_items_, weights=self.event_weights_, minlength=n_items)
        self.item_popularity_ = counts.astype(np.float32)
        if not len(self.event_times_):  # every user forgotten: nothing is popular any more
            return
        span = float(self.event_times_[-1] - self.event_times_[0])
        self.window_ = float(self.window) if self.window is not None else max(span / 10.0, 1e-9)
        self.t_end_ = float(self.event_times_[-1]) + 1e-9

    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """Exact: the users' events are removed and everything is recounted from the rest."""
        if self.event_users_ is None:
            raise PersistenceError(
                "this Popularity model was saved by a liverec version that did not record who did each "
                "event, so it cannot forget users; refit it on the events without those users.")
        mine = drop[self.event_users_]
        new_code = np.cumsum(~drop) - 1
        self.event_times_ = self.event_times_[~mine]
        self.event_items_ = self.event_items_[~mine]
        self.event_weights_ = self.event_weights_[~mine]
        self.event_users_ = new_code[self.event_users_[~mine]]
        self._summarise(len(self.items_))

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        """The count behind each score: all-time (and, for ``"recent"``, in-window) popularity."""
        what = {"count": "events", "users": "distinct viewers", "event": "event-weighted events",
                "sum": "summed weight"}[self.weighting]
        recent = self._recent_counts(self.t_end_) if self.strategy == "recent" else None
        out = []
        for c in item_codes:
            total = float(self.item_popularity_[c])
            reasons = [Reason("count", "all-time popularity", total, value=total,
                              text=f"{total:.4g} {what} in the training data")]
            score = total
            if recent is not None:
                score = float(recent[c])
                in_window = score - total / (float(self.item_popularity_.max()) + 1.0)
                reasons = [Reason("count", "recent popularity", in_window, value=in_window,
                                  text=f"{in_window:.4g} {what} in the last {self.window_:.4g} time units"),
                           Reason("count", "all-time popularity (tie-break)", score - in_window, value=total,
                                  text=f"{total:.4g} {what} in all, to break ties")]
            out.append(Explanation(self.users_.ids[user_code], self.items_.ids[c], score, reasons,
                                   method="count", baseline=0.0, additive=True))
        return out

    def _row_weights(self, X: Interactions) -> np.ndarray:
        if self.weighting == "event":
            return X.event_weights()
        if self.weighting == "sum" and X.weight is not None:
            check_nonnegative_weights(X.weight, "Popularity(weighting='sum')", "popularity sums them")
            return X.weight
        return np.ones(len(X), dtype=np.float64)

    def _recent_counts(self, t: float) -> np.ndarray:
        lo, hi = np.searchsorted(self.event_times_, [t - self.window_, t], side="left")
        counts = np.bincount(self.event_items_[lo:hi], weights=self.event_weights_[lo:hi],
                             minlength=len(self.items_)).astype(np.float32)
        # all-time popularity breaks ties (and ranks items with no recent event)
        tie = self.item_popularity_ / (self.item_popularity_.max() + 1.0)
        return counts + tie

    def _scores_at(self, n: int, at: np.ndarray | None) -> np.ndarray:
        if self.strategy == "live" and at is None:
            raise DataValidationError(
                "Popularity(strategy='live') ranks the items live at a time: pass at=... "
                "(and a schedule to fit or recommend)."
            )
        if self.strategy != "recent":
            return np.broadcast_to(self.item_popularity_, (n, len(self.item_popularity_)))
        times = np.full(n, self.t_end_) if at is None else at
        uniq, inv = np.unique(times, return_inverse=True)
        table = np.stack([self._recent_counts(t) for t in uniq])
        return table[inv]

    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> np.ndarray:
        return self._scores_at(len(user_codes), at)

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> np.ndarray:
        return self._scores_at(len(histories), at)

    def _predict_pairs(self, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        return self.item_popularity_[item_codes]

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"window": self.window_, "t_end": self.t_end_}, {
            "item_popularity": self.item_popularity_, "event_times": self.event_times_,
            "event_items": self.event_items_, "event_weights": self.event_weights_,
            **({} if self.event_users_ is None else {"event_users": self.event_users_}),
        }

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.window_ = expect_attribute(attributes, "window", float)
        self.t_end_ = expect_attribute(attributes, "t_end", float)
        if not self.window_ > 0:
            raise PersistenceError(f"config.json: attributes.window: must be positive, got {self.window_}")
        n_i = len(self.items_)
        self.item_popularity_ = expect_array(arrays, "item_popularity", "f", (n_i,), finite=True)
        self.event_times_ = expect_array(arrays, "event_times", "f", (None,), finite=True)
        n_e = len(self.event_times_)
        if (np.diff(self.event_times_) < 0).any():
            raise PersistenceError("arrays.safetensors: tensor 'event_times': must be in time order")
        self.event_items_ = expect_indices(arrays, "event_items", n_i, (n_e,))
        self.event_weights_ = expect_array(arrays, "event_weights", "f", (n_e,), finite=True)
        # saved before forget existed: no record of who did each event (forget then refuses)
        self.event_users_ = (expect_indices(arrays, "event_users", len(self.users_), (n_e,))
                             if "event_users" in arrays else None)
