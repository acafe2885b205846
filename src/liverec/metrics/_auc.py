"""AUC and group AUC (GAUC) from scores and binary labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data._columns import normalize_ids
from ..exceptions import DataValidationError, InvalidParameterError
from ._ranking import as_array

__all__ = ["auc", "gauc"]


def _labels_scores(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    y = as_array(y_true, "y_true").reshape(-1)
    s = as_array(y_score, "y_score", dtype=np.float64).reshape(-1)
    if len(y) != len(s):
        raise DataValidationError(f"y_true has {len(y)} labels but y_score has {len(s)} scores.")
    if y.dtype == bool:
        y = y.astype(np.int8)
    if y.dtype.kind not in "iuf":
        raise DataValidationError(f"y_true must be binary (0/1 or bool), got an array of dtype {y.dtype}.")
    uniq = np.unique(y)
    if not np.isin(uniq, [0, 1]).all():
        raise DataValidationError(f"y_true must be binary (0/1 or bool), got values {uniq[:5].tolist()}.")
    if np.isnan(s).any():
        raise DataValidationError(f"y_score has NaN at position {int(np.flatnonzero(np.isnan(s))[0])}.")
    return y.astype(bool), s


def _group_auc(groups: np.ndarray, y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group AUC (Mann-Whitney U with mid-ranks for ties), #positives, #negatives."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    order = np.lexsort((s, groups))
    g, ss, yy = groups[order], s[order], y[order]
    n = len(order)
    # runs of equal (group, score): every member gets the mean 1-based rank of the run
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (g[1:] != g[:-1]) | (ss[1:] != ss[:-1])
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, n))
    group_start = np.searchsorted(g, np.arange(n_groups), side="left")
    # rank within group of the run's first element (1-based) and mid-rank of the run
    first_rank = run_start - group_start[g[run_start]] + 1
    mid = first_rank + (run_len - 1) / 2.0
    ranks = mid[run_id]
    pos = np.bincount(g, weights=yy, minlength=n_groups)
    tot = np.bincount(g, minlength=n_groups).astype(np.float64)
    neg = tot - pos
    rank_sum = np.bincount(g, weights=ranks * yy, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)
    return values, pos, neg


def auc(y_true: Any, y_score: Any) -> float:
    r"""Area under the ROC curve: the chance that a random positive outscores a random negative.

    .. math:: \mathrm{AUC} = \frac{1}{|P||N|} \sum_{p \in P} \sum_{n \in N}
        \left(\mathbb{1}[s_p > s_n] + \tfrac12 \mathbb{1}[s_p = s_n]\right)

    Ties count one half (computed with mid-ranks, the Mann-Whitney U statistic), so a
    constant scorer gets exactly 0.5.

    Args:
        y_true: Binary labels (0/1 or bool).
        y_score: Scores, higher = more likely positive.

    Returns:
        AUC in ``[0, 1]``; ``NaN`` when all labels are equal (AUC is undefined).

    Examples:
        >>> auc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4])
        0.875
    """
    y, s = _labels_scores(y_true, y_score)
    values, _, _ = _group_auc(np.zeros(len(y), dtype=np.int64), y, s)
    return float(values[0]) if len(values) else float("nan")


def gauc(y_true: Any, y_score: Any, groups: Any, *, weighting: str = "impressions") -> float:
    r"""Group AUC: the AUC of each user (group) separately, averaged over users.

    .. math:: \mathrm{GAUC} = \frac{\sum_u w_u \,\mathrm{AUC}_u}{\sum_u w_u}

    Users whose labels are all positive or all negative have no AUC and are left out
    (as in the DIN paper, Zhou et al. 2018). This measures how well the model orders
    items *for each user*, which a global AUC mixes with how well it orders users.

    Args:
        y_true: Binary labels.
        y_score: Scores.
        groups: The user (or session) of every row, any hashable ids.
        weighting: ``"impressions"`` (``w_u`` = the user's number of rows, as in DIN) or
            ``"uniform"`` (every user counts the same).

    Returns:
        GAUC in ``[0, 1]``; ``NaN`` when no user has both labels.

    Examples:
        >>> gauc([1, 0, 1, 0, 0], [0.9, 0.1, 0.2, 0.5, 0.1], groups=["a", "a", "b", "b", "b"])
        0.7
        >>> gauc([1, 0, 1, 0, 0], [0.9, 0.1, 0.2, 0.5, 0.1], ["a", "a", "b", "b", "b"], weighting="uniform")
        0.75
    """
    y, s = _labels_scores(y_true, y_score)
    g = normalize_ids(groups, "groups")
    if len(g) != len(y):
        raise DataValidationError(f"groups has {len(g)} entries but y_true has {len(y)}.")
    if weighting not in ("impressions", "uniform"):
        raise InvalidParameterError(f"weighting must be 'impressions' or 'uniform', got {weighting!r}.")
    _, codes = np.unique(g, return_inverse=True)
    values, pos, neg = _group_auc(codes.reshape(-1).astype(np.int64), y, s)
    ok = (pos > 0) & (neg > 0)
    if not ok.any():
        return float("nan")
    w = (pos + neg)[ok] if weighting == "impressions" else np.ones(int(ok.sum()))
    return float(np.sum(values[ok] * w) / np.sum(w))
