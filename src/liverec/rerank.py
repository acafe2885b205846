"""Exposure-aware re-ranking: spread exposure over more streamers, at a chosen accuracy cost.

[`ExposureReranker`][liverec.rerank.ExposureReranker] takes any model's candidate lists (a
``Recommendations`` with more than ``k`` items per user) and re-ranks them greedily, user by
user: an item's value is

``(1 - trade_off) * relevance - trade_off * exposure``

where ``relevance`` is the model score min-max scaled to ``[0, 1]`` within the user's
candidates and ``exposure`` the exposure the item has already received in this batch of
lists, scaled by the most exposed item's (so also in ``[0, 1]``). ``trade_off=0`` keeps
the model's order; larger values hand slots from over-exposed streamers to less exposed
ones among each viewer's candidates. ``benchmarks/trust.py`` traces NDCG@10 against the
exposure Gini for a range of ``trade_off`` so an operator can pick one.

Examples:
    >>> import numpy as np
    >>> from liverec.base import Recommendations
    >>> pool = Recommendations(np.array([1, 2]), np.array([["a", "b", "c"]] * 2),
    ...                        np.array([[0.9, 0.8, 0.1]] * 2))
    >>> ExposureReranker(trade_off=0.0).rerank(pool, k=2).items.tolist()
    [['a', 'b'], ['a', 'b']]
    >>> ExposureReranker(trade_off=0.5).rerank(pool, k=2).items.tolist()
    [['a', 'b'], ['b', 'a']]
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from ._params import Interval, Options, ParamsMixin
from .base import Recommendations
from .exceptions import DataValidationError

__all__ = ["ExposureReranker"]


class ExposureReranker(ParamsMixin):
    """Greedy exposure-penalised re-ranking of any model's candidate lists.

    Args:
        trade_off: Weight of exposure against relevance, in ``[0, 1]`` (0: the model's order).
        pool: Candidates per user that [`recommend`][liverec.rerank.ExposureReranker.recommend]
            asks the model for (at least ``k``).
        weighting: Exposure a slot gives: ``"position"`` (``1 / log2(rank + 1)``, the
            attention a rank gets) or ``"uniform"`` (1 per slot).

    Lists are built in the order of the users in the input; each list's exposure counts
    for the next ones (the batch is what is measured: one refresh of every viewer's feed).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "trade_off": [Interval(numbers.Real, 0, 1, closed="both")],
        "pool": [Interval(numbers.Integral, 1, None, closed="left")],
        "weighting": [Options(("position", "uniform"))],
    }

    def __init__(self, trade_off: float = 0.3, pool: int = 50, weighting: str = "position") -> None:
        self.trade_off = trade_off
        self.pool = pool
        self.weighting = weighting

    def recommend(self, model: Any, users: Any, k: int = 10, **kwargs: Any) -> Recommendations:
        """Top-``k`` for ``users``: ``model.recommend(users, k=max(k, pool), **kwargs)``, re-ranked.

        Args:
            model: Any fitted liverec model.
            users: External user ids.
            k: Items per user.
            **kwargs: Passed to ``model.recommend`` (``at``, ``candidates``, ``exclude_seen``, ...).
        """
        self._validate_params()
        return self.rerank(model.recommend(users, k=max(int(k), int(self.pool)), **kwargs), k)

    def rerank(self, candidates: Recommendations, k: int = 10) -> Recommendations:
        """Re-rank candidate lists; returns ``k`` items per user (fewer when fewer candidates).

        Args:
            candidates: The model's lists, best first, usually longer than ``k``.
            k: Items per user to keep.

        Returns:
            [`Recommendations`][liverec.base.Recommendations] whose scores are the re-ranking
            values (decreasing along each row).
        """
        self._validate_params()
        if not isinstance(candidates, Recommendations):
            raise DataValidationError(
                f"rerank expects liverec Recommendations, got {type(candidates).__name__}; pass "
                "model.recommend(users, k=pool).")
        if not isinstance(k, numbers.Integral) or k < 1:
            raise DataValidationError(f"k must be a positive integer, got {k!r}.")
        lam = float(self.trade_off)
        slot = 1.0 / np.log2(np.arange(2, k + 2)) if self.weighting == "position" else np.ones(k)
        exposure: dict[Any, float] = {}
        n = len(candidates)
        out_items = np.empty((n, k), dtype=object)
        out_scores = np.full((n, k), -np.inf)
        for r in range(n):
            items = candidates[r]
            s = candidates.scores[r][candidates.mask[r]].astype(np.float64)
            if not items:
                continue
            spread = float(s.max() - s.min())
            rel = (s - s.min()) / spread if spread > 0 else np.ones(len(s))
            top = max(exposure.values(), default=0.0)
            seen = np.array([exposure.get(i, 0.0) for i in items]) / top if top > 0 else np.zeros(len(items))
            value = (1.0 - lam) * rel - lam * seen
            order = np.argsort(-value, kind="stable")[:k]
            for c, j in enumerate(order):
                out_items[r, c] = items[j]
                out_scores[r, c] = value[j]
                exposure[items[j]] = exposure.get(items[j], 0.0) + float(slot[c])
        mask = np.isfinite(out_scores)
        if mask.all():
            out_items = np.asarray(out_items.tolist())
        return Recommendations(candidates.users, out_items, out_scores.astype(np.float32), mask)
