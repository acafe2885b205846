"""Metrics: pure numpy ranking / classification / beyond-accuracy metrics, and ``evaluate``.

Ranking metrics take ``ranked`` (``(n_users, L)`` item ids, best first) and ``relevant``
(one target per user, one collection per user, or a gain matrix); see
`liverec.metrics._ranking` for the conventions shared by all of them.
[`evaluate`][liverec.metrics.evaluate] ranks held-out events against the full catalogue (or the live items) and
reports means, bootstrap confidence intervals and the all / repeat / new breakdown.

Examples:
    >>> from liverec.metrics import hit_rate_at_k, ndcg_at_k
    >>> ranked = [[10, 11, 12], [12, 10, 11]]
    >>> hit_rate_at_k(ranked, [11, 13], k=3), round(ndcg_at_k(ranked, [11, 12], k=3), 4)
    (0.5, 0.8155)
"""

from ._auc import auc, gauc
from ._beyond import catalog_coverage, ctr, cvr, intra_list_diversity, novelty
from ._evaluate import SEGMENTS, EvaluationResult, evaluate
from ._exposure import (
    ExposureReport,
    calibration_kl,
    exposure_gini,
    exposure_report,
    exposure_shares,
    gini,
    group_exposure,
    tail_share,
)
from ._ranking import (
    RANKING_METRICS,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)

__all__ = [
    "RANKING_METRICS",
    "SEGMENTS",
    "EvaluationResult",
    "ExposureReport",
    "auc",
    "calibration_kl",
    "catalog_coverage",
    "ctr",
    "cvr",
    "evaluate",
    "exposure_gini",
    "exposure_report",
    "exposure_shares",
    "gauc",
    "gini",
    "group_exposure",
    "hit_rate_at_k",
    "intra_list_diversity",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
    "tail_share",
]
