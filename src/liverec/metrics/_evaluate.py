"""``evaluate``: full-ranking, leakage-free, availability-aware evaluation of a fitted model."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._utils import Progress, check_random_state, concat_ranges, sorted_unique
from ..base import BaseRecommender, History
from ..data import Interactions, LiveSchedule
from ..exceptions import DataValidationError
from ._ranking import RANKING_METRICS, _per_user, _Relevance, is_member

__all__ = ["EvaluationResult", "evaluate", "SEGMENTS"]

#: The breakdown of every result: all targets, targets the user had already interacted
#: with before (repeat consumption), and targets new to the user.
SEGMENTS: tuple[str, ...] = ("all", "repeat", "new")

_ALL_METRICS = (*RANKING_METRICS, "coverage")
_LABELS = {"hit_rate": "HR", "ndcg": "NDCG", "mrr": "MRR", "recall": "Recall",
           "precision": "Precision", "map": "MAP", "coverage": "Coverage"}


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured: means, confidence intervals, per-case values.

    A *case* is one ranking request: one test event (``per="event"``) or one user with all
    their test items (``per="user"``). Values are keyed ``"<metric>@<k>"`` (``"ndcg@10"``).

    Attributes:
        k: The cut-offs.
        metrics: The metric names.
        mean: ``mean[segment][key]``: the mean over the segment's cases.
        ci: ``ci[segment][key] = (low, high)``: percentile-bootstrap confidence interval
            (resampling cases; ``NaN`` when ``n_bootstrap=0`` and for coverage).
        n_cases: ``n_cases[segment]``: cases with at least one target of the segment.
        per_user: ``per_user[key]``: the per-case values of segment ``"all"``.
        per_segment: ``per_segment[segment][key]``: per-case values, ``NaN`` for cases
            without a target of that segment.
        users: External user id of every evaluated case.
        times: The request time of every case (the event time, or the user's first test
            event time with ``per="user"``).
        n_repeat, n_new: Per case, how many targets were repeat / new.
        target_case, target_item, target_rank: One row per (case, target): its case index,
            external item id, and its 0-based position in the full ranking (``inf`` when it
            could not be ranked: unknown to the model, off air, or excluded as seen).
        n_candidates: Per case, how many items were ranked (all items, or the live ones,
            minus excluded seen items).
        skipped_users: External ids of test users that could not be scored (unknown to
            the model and no events to fold in, or a model without fold-in); their
            ``n_skipped_cases`` cases are not in any mean.
        n_unknown_targets: Targets the model has never seen (counted as misses).
        n_unavailable_targets: Targets not live at their time under the schedule (misses).
        n_excluded_targets: Targets removed by ``exclude_seen`` (misses).
        settings: The options used (``per``, ``ties``, ``exclude_seen``, ...).

    Examples:
        >>> from liverec.data import Interactions
        >>> from liverec.model_selection import leave_last_out
        >>> from liverec.models import Popularity
        >>> X = Interactions.from_arrays([1, 1, 2, 2, 3, 3], list("abacaa"), time=[0, 1, 0, 1, 0, 1])
        >>> split = leave_last_out(X, validation=False)
        >>> result = evaluate(Popularity().fit(split.train), split, k=(1,), metrics=("hit_rate",))
        >>> result.n_cases, result.per_user["hit_rate@1"].tolist()
        ({'all': 3, 'repeat': 1, 'new': 2}, [0.0, 0.0, 1.0])
        >>> [round(r["mean"], 4) for r in result.to_records()]  # all, repeat, new
        [0.3333, 1.0, 0.0]
    """

    k: tuple[int, ...]
    metrics: tuple[str, ...]
    mean: dict[str, dict[str, float]]
    ci: dict[str, dict[str, tuple[float, float]]]
    n_cases: dict[str, int]
    per_segment: dict[str, dict[str, np.ndarray]]
    users: np.ndarray
    times: np.ndarray
    n_repeat: np.ndarray
    n_new: np.ndarray
    target_case: np.ndarray
    target_item: np.ndarray
    target_rank: np.ndarray
    n_candidates: np.ndarray
    skipped_users: np.ndarray
    n_skipped_cases: int
    n_unknown_targets: int
    n_unavailable_targets: int
    n_excluded_targets: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def per_user(self) -> dict[str, np.ndarray]:
        """Per-case values of segment ``"all"`` keyed ``"ndcg@10"``."""
        return self.per_segment["all"]

    @property
    def is_repeat(self) -> np.ndarray:
        """Per case: whether (one of) its target(s) was already in the user's history."""
        return self.n_repeat > 0

    @property
    def ranks(self) -> np.ndarray:
        """0-based rank of each case's target (one target per case only; ``inf`` = not ranked)."""
        if len(self.target_case) != len(self.users):
            raise ValueError("cases have several targets (per='user'); use target_case / target_rank.")
        return self.target_rank

    def compare(
        self,
        other: EvaluationResult,
        key: str = "ndcg@10",
        *,
        segment: str = "all",
        n_resamples: int = 10_000,
        confidence: float = 0.95,
        random_state: Any = 0,
    ) -> dict[str, float]:
        """Paired comparison with another model evaluated on the same cases.

        Per case ``d = self - other``. Returns the mean difference, a percentile-bootstrap
        interval of it (cases resampled), and a two-sided p-value from a paired sign-flip
        permutation test (under "no difference" each ``d`` is as likely to be ``-d``). Far
        more sensitive than checking whether two unpaired intervals overlap.

        Args:
            other: The result of :func:`evaluate` for another model, same cases.
            key: The metric, e.g. ``"hit_rate@10"``.
            segment: ``"all"``, ``"repeat"`` or ``"new"``.
            n_resamples: Bootstrap resamples and sign flips.
            confidence: Level of the interval.
            random_state: Seed.

        Returns:
            ``{"diff", "ci_low", "ci_high", "p_value", "n_cases"}``.

        Raises:
            ValueError: when the two results are not on the same cases.
        """
        if (len(self.users) != len(other.users) or not np.array_equal(self.users, other.users)
                or not np.array_equal(self.times, other.times)
                or not np.array_equal(self.target_item, other.target_item)):
            raise ValueError("compare needs two results on the same cases: evaluate both models with the "
                             "same train/test, split options and users (no user skipped in one only).")
        a, b = self.per_segment[segment][key], other.per_segment[segment][key]
        ok = ~np.isnan(a) & ~np.isnan(b)
        d = (a - b)[ok]
        n = len(d)
        if n == 0:
            nan = float("nan")
            return {"diff": nan, "ci_low": nan, "ci_high": nan, "p_value": nan, "n_cases": 0}
        rng = check_random_state(random_state)
        means = np.empty(n_resamples)
        flips = np.empty(n_resamples)
        chunk = max(1, (1 << 22) // n)
        for s0 in range(0, n_resamples, chunk):
            m = min(chunk, n_resamples - s0)
            means[s0:s0 + m] = d[rng.integers(0, n, size=(m, n))].mean(axis=1)
            flips[s0:s0 + m] = (d * rng.choice(np.array([-1.0, 1.0]), size=(m, n))).mean(axis=1)
        alpha = (1.0 - confidence) / 2.0
        observed = float(d.mean())
        p = (1.0 + float(np.sum(np.abs(flips) >= abs(observed) - 1e-12))) / (n_resamples + 1.0)
        return {"diff": observed, "ci_low": float(np.quantile(means, alpha)),
                "ci_high": float(np.quantile(means, 1.0 - alpha)), "p_value": min(p, 1.0), "n_cases": n}

    def keys(self) -> list[str]:
        """The metric keys, e.g. ``['hit_rate@1', ..., 'coverage@10']``."""
        return list(self.mean["all"])

    def __getitem__(self, key: str) -> float:
        """The mean over all cases: ``result["ndcg@10"]``."""
        try:
            return self.mean["all"][key]
        except KeyError:
            raise KeyError(f"no metric {key!r}; available: {self.keys()}") from None

    def to_dict(self) -> dict[str, Any]:
        """Means, intervals and counts as plain JSON-ready Python values."""
        out: dict[str, Any] = {"settings": dict(self.settings), "n_cases": dict(self.n_cases),
                               "n_skipped_cases": self.n_skipped_cases,
                               "n_skipped_users": len(self.skipped_users),
                               "n_unknown_targets": self.n_unknown_targets,
                               "n_unavailable_targets": self.n_unavailable_targets,
                               "n_excluded_targets": self.n_excluded_targets,
                               "mean_candidates": float(self.n_candidates.mean()) if len(self.n_candidates) else float("nan")}
        for seg in SEGMENTS:
            out[seg] = {key: {"mean": _py(self.mean[seg][key]), "ci_low": _py(self.ci[seg][key][0]),
                              "ci_high": _py(self.ci[seg][key][1])} for key in self.mean[seg]}
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """One record per (segment, metric, k): mean, ci_low, ci_high, n_cases."""
        rows = []
        for seg in SEGMENTS:
            for key, value in self.mean[seg].items():
                name, kk = key.split("@")
                lo, hi = self.ci[seg][key]
                rows.append({"segment": seg, "metric": name, "k": int(kk), "mean": value,
                             "ci_low": lo, "ci_high": hi, "n_cases": self.n_cases[seg]})
        return rows

    def to_frame(self) -> Any:
        """A pandas DataFrame of :meth:`to_records` (requires pandas)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover
            raise ImportError("to_frame() needs pandas: pip install pandas (or use to_records()).") from err
        return pd.DataFrame.from_records(
            self.to_records(), columns=["segment", "metric", "k", "mean", "ci_low", "ci_high", "n_cases"])

    def __str__(self) -> str:
        conf = self.settings.get("confidence", 0.95)
        head = ["metric"] + [f"{seg} (n={self.n_cases[seg]})" for seg in SEGMENTS]
        rows = []
        for key in self.mean["all"]:
            name, kk = key.split("@")
            cells = [f"{_LABELS.get(name, name)}@{kk}"]
            for seg in SEGMENTS:
                m = self.mean[seg][key]
                lo, hi = self.ci[seg][key]
                if np.isnan(m):
                    cells.append("-")
                elif np.isnan(lo):
                    cells.append(f"{m:.4f}")
                else:
                    cells.append(f"{m:.4f} [{lo:.4f}, {hi:.4f}]")
            rows.append(cells)
        widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]

        def line(r: list[str]) -> str:
            return "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths, strict=True)))

        s = self.settings
        title = (f"EvaluationResult: {s.get('model', '?')}, {len(self.users)} cases, "
                 f"ranked against {s.get('candidates', '?')}"
                 f"{', seen excluded' if s.get('exclude_seen') else ''}, ties {s.get('ties')}, "
                 f"{int(round(conf * 100))}% bootstrap CI")
        lines = [title, line(head), line(["-" * w for w in widths]), *map(line, rows)]
        notes = []
        if len(self.skipped_users):
            notes.append(f"{self.n_skipped_cases} cases of {len(self.skipped_users)} users skipped (cannot be scored)")
        for n, what in ((self.n_unknown_targets, "targets unknown to the model"),
                        (self.n_unavailable_targets, "targets not live at their time"),
                        (self.n_excluded_targets, "targets excluded as seen")):
            if n:
                notes.append(f"{n} {what} (counted as misses)")
        if notes:
            lines.append("note: " + "; ".join(notes))
        return "\n".join(lines)

    def __repr__(self) -> str:
        main = f"ndcg@{max(self.k)}"
        val = self.mean["all"].get(main, float("nan"))
        return f"EvaluationResult(n_cases={len(self.users)}, k={self.k}, {main}={val:.4f})"


def _py(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------
@dataclass
class _Cases:
    user: np.ndarray  # code in test.users
    time: np.ndarray
    rel_ptr: np.ndarray  # CSR over cases of target rows
    rel_item: np.ndarray  # model item codes (-1 unknown)
    rel_ext: np.ndarray  # external ids of targets


def _build_cases(test: Interactions, item_lut: np.ndarray, per: str) -> _Cases:
    order = test.sort_order()
    u, t, items = test.user_codes[order], test.time[order], test.item_codes[order]
    if per == "event":
        n = len(order)
        return _Cases(u, t, np.arange(n + 1, dtype=np.int64), item_lut[items], test.items.take(items))
    # one case per user: distinct items, request time = first test event
    new_user = np.ones(len(u), dtype=bool)
    new_user[1:] = u[1:] != u[:-1]
    starts = np.flatnonzero(new_user)
    case_of_row = np.cumsum(new_user) - 1
    key = case_of_row * np.int64(test.n_items + 1) + items
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)  # in (case, time) order of first occurrence
    counts = np.bincount(case_of_row[first], minlength=len(starts))
    ptr = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return _Cases(u[starts], t[starts], ptr, item_lut[items[first]], test.items.take(items[first]))


@dataclass
class _Context:
    """Events of one source (train or history), sorted by (user, time), in test-user space."""

    user: np.ndarray
    time: np.ndarray
    item: np.ndarray  # model item codes, -1 = unknown to the model
    event: np.ndarray | None
    weight: np.ndarray | None
    ptr: np.ndarray  # CSR over test users


def _context(source: Interactions | None, test: Interactions, item_lut_of: Any) -> _Context | None:
    if source is None or len(source) == 0:
        return None
    ulut = np.arange(source.n_users) if source.users is test.users else test.users.codes(source.users.ids, missing="ignore")
    u = ulut[source.user_codes]
    keep = u >= 0
    order = np.lexsort((np.arange(len(source)), source.time, u))
    order = order[keep[order]]
    u = u[order]
    ptr = np.zeros(test.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=test.n_users), out=ptr[1:])
    return _Context(u, source.time[order], item_lut_of(source)[source.item_codes[order]],
                    None if source.event is None else source.event[order],
                    None if source.weight is None else source.weight[order], ptr)


def _ranges_before(ctx: _Context | None, cases: _Cases) -> tuple[np.ndarray, np.ndarray]:
    """For every case, the ``[lo, hi)`` rows of its user's context events at or before its time."""
    n = len(cases.user)
    if ctx is None:
        z = np.zeros(n, dtype=np.int64)
        return z, z
    lo = ctx.ptr[cases.user]
    # rank times jointly so that (user, time) becomes one sortable integer key
    all_t = sorted_unique(np.concatenate([ctx.time, cases.time]))
    width = np.int64(len(all_t) + 1)
    ctx_key = ctx.user * width + np.searchsorted(all_t, ctx.time)
    case_key = cases.user * width + np.searchsorted(all_t, cases.time)
    hi = np.searchsorted(ctx_key, case_key, side="right")
    return lo, np.maximum(hi, lo)


def _pair_keys(case_idx: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    return case_idx.astype(np.int64) * np.int64(n_items + 1) + items


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------
def evaluate(
    model: BaseRecommender,
    train: Any,
    test: Interactions | None = None,
    *,
    k: int | Iterable[int] = (1, 5, 10),
    schedule: LiveSchedule | None = None,
    exclude_seen: bool = False,
    metrics: Iterable[str] = _ALL_METRICS,
    history: Interactions | None = None,
    use_history: str = "always",
    per: str = "auto",
    ties: str = "pessimistic",
    batch_size: int | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: Any = 0,
    progress: bool | None = None,
) -> EvaluationResult:
    """Rank every test target against the whole catalogue (or the live items) and score it.

    No sampled negatives: each target's position is counted among *all* candidate items,
    which are every item the model knows, or, with a ``schedule``, the items live at the
    case's time. Nothing from the test set reaches the model: it is scored from what it was
    fitted on, or folded in from events at or before the case's time.

    Args:
        model: A fitted liverec model (anything following the estimator API).
        train: The events the model was fitted on, used for the history of each user
            (repeat/new breakdown, ``exclude_seen``, fold-in of users the model does not
            know). A :class:`~liverec.model_selection.Split` may be passed instead of
            ``train, test``: its ``train``, ``test``, ``history`` and ``schedule`` are used
            (explicit arguments win).
        test: The held-out events; each is a target.
        k: Cut-off(s).
        schedule: Rank only the items live at each case's time (``start <= t < end``).
        exclude_seen: Leave out of the ranking the items the user interacted with before
            (the model's ``seen_`` plus ``train`` and ``history`` events). A target the
            user had already seen can then never be hit: it counts as a miss and is
            counted in ``n_excluded_targets``.
        metrics: Among ``hit_rate``, ``ndcg``, ``mrr``, ``recall``, ``precision``,
            ``map`` and ``coverage`` (the share of the catalogue in at least one top-k).
        history: Recent events to score users from (fold-in), e.g. ``split.history`` of
            :func:`~liverec.model_selection.live_split`. Only events at or before each
            case's time are used. Models without fold-in score known users as usual.
        use_history: ``"always"``: every user with ``history`` events is scored from them,
            as ``model.recommend(history=...)`` does (sequence models read them as their
            input). ``"unknown"``: only users the model does not know are folded in;
            known users are scored from their fitted state (e.g. matrix-factorisation
            user vectors).
        per: ``"event"``: one case per test event (its item is the target, its time the
            request time). ``"user"``: one case per user, all their distinct test items
            relevant, requested at their first test event time. ``"auto"``: ``"event"``
            with a schedule (availability depends on the time), else ``"user"``.
        ties: How a target tied in score with other candidates is placed:
            ``"pessimistic"`` (after every tied non-target item: a constant model gets
            the worst rank, never a free hit) or ``"optimistic"`` (before them). Targets
            tied with each other take consecutive positions.
        batch_size: Cases scored at once (default: about 16M scores per batch).
        n_bootstrap: Bootstrap resamples for the confidence intervals (0 to skip).
        confidence: Level of the intervals.
        random_state: Seed of the bootstrap.
        progress: Show a progress bar (tqdm when installed). ``None``: only on a terminal
            and for more than a few batches.

    Returns:
        :class:`EvaluationResult`; ``print(result)`` shows a table.

    Raises:
        NotFittedError: if the model is not fitted.
        DataValidationError: empty test set, bad options.

    Examples:
        >>> from liverec.data import Interactions
        >>> from liverec.model_selection import temporal_split
        >>> from liverec.models import Popularity
        >>> X = Interactions.from_arrays(user=[1, 2, 3, 1, 2, 3], item=["a", "a", "b", "a", "b", "c"],
        ...                              time=[0, 0, 0, 1, 1, 1])
        >>> split = temporal_split(X, at=1)
        >>> result = evaluate(Popularity().fit(split.train), split, k=(1, 3), n_bootstrap=0)
        >>> result.target_rank.tolist()  # a is the most popular, then b; c was never seen
        [0.0, 1.0, 2.0]
        >>> round(result["hit_rate@1"], 4), result.mean["repeat"]["hit_rate@1"], result.mean["new"]["hit_rate@1"]
        (0.3333, 1.0, 0.0)
    """
    split = None
    if not isinstance(train, Interactions) and hasattr(train, "train") and hasattr(train, "test"):
        split = train
        train = split.train
        test = split.test if test is None else test
        history = getattr(split, "history", None) if history is None else history
        schedule = getattr(split, "schedule", None) if schedule is None else schedule
    if not isinstance(model, BaseRecommender):
        raise TypeError(
            f"evaluate expects a liverec model, got {type(model).__name__}: it ranks with the model's "
            "scores of every item, so wrap your model in a liverec.BaseRecommender subclass "
            "(implement _fit and _score_known, optionally _score_history)."
        )
    model._check_fitted()
    for name, value in (("train", train), ("test", test)):
        if not isinstance(value, Interactions):
            raise TypeError(f"{name} must be liverec Interactions, got {type(value).__name__}.")
    if history is not None and not isinstance(history, Interactions):
        raise TypeError(f"history must be liverec Interactions, got {type(history).__name__}.")
    if schedule is not None and not isinstance(schedule, LiveSchedule):
        raise TypeError(f"schedule must be a LiveSchedule, got {type(schedule).__name__}.")
    assert test is not None
    if len(test) == 0:
        raise DataValidationError("test has no events; there is nothing to evaluate.")
    ks = sorted({int(k)} if isinstance(k, (int, np.integer)) else {int(x) for x in k})
    if not ks or ks[0] < 1:
        raise ValueError(f"k must be positive integers, got {k!r}.")
    names = list(dict.fromkeys(metrics))
    bad = [m for m in names if m not in _ALL_METRICS]
    if bad:
        raise ValueError(f"unknown metric(s) {bad}; choose from {_ALL_METRICS}.")
    if per == "auto":
        per = "event" if schedule is not None else "user"
    if per not in ("event", "user"):
        raise ValueError(f"per must be 'event', 'user' or 'auto', got {per!r}.")
    if use_history not in ("always", "unknown"):
        raise ValueError(f"use_history must be 'always' or 'unknown', got {use_history!r}.")
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties must be 'pessimistic' or 'optimistic', got {ties!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")

    n_items = len(model.items_)
    lut_cache: dict[int, np.ndarray] = {}

    def item_lut(x: Interactions) -> np.ndarray:
        key = id(x.items)
        if key not in lut_cache:
            lut_cache[key] = (np.arange(len(x.items)) if x.items is model.items_
                              else model.items_.codes(x.items.ids, missing="ignore"))
        return lut_cache[key]

    cases = _build_cases(test, item_lut(test), per)
    n_cases_total = len(cases.user)
    model_user = (model.users_.codes(test.users.ids, missing="ignore") if test.users is not model.users_
                  else np.arange(test.n_users))[cases.user]
    tr = _context(train, test, item_lut)
    hi_ctx = _context(history, test, item_lut)
    tr_lo, tr_hi = _ranges_before(tr, cases)
    hs_lo, hs_hi = _ranges_before(hi_ctx, cases)

    # who can be scored, and how
    supports = bool(getattr(model, "_supports_history", False))
    has_hist = (hs_hi > hs_lo) if hi_ctx is not None else np.zeros(n_cases_total, dtype=bool)
    has_train = tr_hi > tr_lo
    # a user counts as known only if the model saw events of theirs (shared id maps may
    # hold users that had no event in fit: the id alone tells the model nothing)
    seen_m = getattr(model, "seen_", None)
    known = model_user >= 0
    if seen_m is not None:
        known &= np.diff(seen_m.indptr)[np.maximum(model_user, 0)] > 0
    fold = supports & ((has_hist & (~known | (use_history == "always"))) | (~known & has_train))
    scorable = known | fold
    skipped = np.flatnonzero(~scorable)
    if len(skipped):
        cold = int((~has_hist[skipped] & ~has_train[skipped]).sum())
        reasons = []
        if cold:
            reasons.append(f"{cold} have no events before the test time")
        if len(skipped) - cold:
            reasons.append(f"{len(skipped) - cold} could only be folded in, which "
                           f"{type(model).__name__} does not support")
        warnings.warn(
            f"evaluate: {len(skipped)} test cases of {len(np.unique(cases.user[skipped]))} users unknown to "
            f"the model were skipped ({'; '.join(reasons)}); see result.skipped_users.",
            stacklevel=2)
    ev = np.flatnonzero(scorable)

    # past items of every case (train + history at or before its time), for repeat / seen
    def ctx_pairs(ctx: _Context | None, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if ctx is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows = concat_ranges(lo, hi - lo)
        return np.repeat(np.arange(len(lo)), hi - lo), ctx.item[rows]

    c1, i1 = ctx_pairs(tr, tr_lo[ev], tr_hi[ev])
    c2, i2 = ctx_pairs(hi_ctx, hs_lo[ev], hs_hi[ev])
    past_c, past_i = np.concatenate([c1, c2]), np.concatenate([i1, i2])
    ok = past_i >= 0
    past_keys = sorted_unique(_pair_keys(past_c[ok], past_i[ok], n_items))

    # targets of evaluated cases
    n_rel = np.diff(cases.rel_ptr)[ev]
    t_rows = concat_ranges(cases.rel_ptr[ev], n_rel)
    t_case = np.repeat(np.arange(len(ev)), n_rel)
    t_item = cases.rel_item[t_rows]
    t_ext = cases.rel_ext[t_rows]
    t_repeat = is_member(_pair_keys(t_case, t_item, n_items), past_keys) & (t_item >= 0)

    times = cases.time[ev]
    n_ev = len(ev)
    nb_default = max(1, min(4096, (1 << 24) // max(n_items, 1)))
    bs = int(batch_size) if batch_size else nb_default
    if bs < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}.")
    max_k = max(ks)
    sched_lut = None if schedule is None else model.items_.codes(schedule.items.ids, missing="ignore")
    seen_known = getattr(model, "seen_", None)

    t_gt = np.zeros(len(t_item), dtype=np.int64)
    t_eq = np.zeros(len(t_item), dtype=np.int64)
    t_score = np.zeros(len(t_item), dtype=np.float64)
    t_allowed = np.zeros(len(t_item), dtype=bool)
    t_live = np.ones(len(t_item), dtype=bool)  # live at the case time (or no schedule)
    top_codes = np.full((n_ev, max_k), -1, dtype=np.int64)
    n_cand = np.zeros(n_ev, dtype=np.int64)
    t_ptr = np.zeros(n_ev + 1, dtype=np.int64)
    np.cumsum(n_rel, out=t_ptr[1:])
    show = progress if progress is not None else (sys.stderr.isatty() and n_ev > 5 * bs)
    bar = Progress(n_ev, "evaluate", "case", bool(show))
    nan_warned = False

    import torch

    try:
        for start in range(0, n_ev, bs):
            stop = min(n_ev, start + bs)
            idx = np.arange(start, stop)
            nb = len(idx)
            g = ev[idx]
            hists: list[History | None] = [None] * nb
            for j in np.flatnonzero(fold[g]):
                c = g[j]
                hists[j] = (_history(hi_ctx, hs_lo[c], hs_hi[c]) if has_hist[c]
                            else _history(tr, tr_lo[c], tr_hi[c]))
            codes_b = np.where(fold[g], -1, model_user[g])
            raw = model._scores_for(codes_b, hists, times[idx])
            if isinstance(raw, torch.Tensor):
                scores = raw.detach().float()
            else:
                arr = np.asarray(raw, dtype=np.float32)
                scores = torch.from_numpy(arr if arr.flags.writeable and arr.flags.c_contiguous else arr.copy())
            if scores.shape != (nb, n_items):
                raise DataValidationError(
                    f"{type(model).__name__} returned scores of shape {tuple(scores.shape)}, expected {(nb, n_items)}.")
            dev = scores.device
            if torch.isnan(scores).any():
                if not nan_warned:
                    warnings.warn("evaluate: the model returned NaN scores; they are ranked last (-inf).", stacklevel=2)
                    nan_warned = True
                scores = torch.nan_to_num(scores, nan=-float("inf"))
            # targets of this batch
            tsl = slice(t_ptr[start], t_ptr[stop])
            tc = torch.as_tensor(t_case[tsl] - start, device=dev)
            ti_np = t_item[tsl]
            ti = torch.as_tensor(np.maximum(ti_np, 0), device=dev)
            allowed = torch.ones((nb, n_items), dtype=torch.bool, device=dev)
            if schedule is not None:
                assert sched_lut is not None
                indptr, live = schedule.live_codes(times[idx])
                cols = sched_lut[live]
                rows = np.repeat(np.arange(nb), np.diff(indptr))
                keep = cols >= 0
                allowed = torch.zeros((nb, n_items), dtype=torch.bool, device=dev)
                allowed[torch.as_tensor(rows[keep], device=dev), torch.as_tensor(cols[keep], device=dev)] = True
                t_live[tsl] = allowed[tc, ti].cpu().numpy() | (ti_np < 0)
            if exclude_seen:
                pr, pi = [], []
                in_b = (past_c >= start) & (past_c < stop) & (past_i >= 0)
                pr.append(past_c[in_b] - start)
                pi.append(past_i[in_b])
                kb = np.flatnonzero((model_user[g] >= 0) & ~fold[g])
                if seen_known is not None and len(kb):
                    sub = seen_known[model_user[g[kb]]]
                    pr.append(kb[np.repeat(np.arange(len(kb)), np.diff(sub.indptr))])
                    pi.append(sub.indices.astype(np.int64))
                rr, ii = np.concatenate(pr), np.concatenate(pi)
                allowed[torch.as_tensor(rr, device=dev), torch.as_tensor(ii, device=dev)] = False
            n_cand[idx] = allowed.sum(dim=1).cpu().numpy()
            st = scores[tc, ti]
            a_t = allowed[tc, ti] & torch.as_tensor(ti_np >= 0, device=dev)
            # off-candidate items become -inf: they can never outscore a target, and they tie
            # with it only when the target's own score is -inf (corrected below)
            masked = scores.masked_fill(~allowed, -float("inf"))
            n_off = n_items - torch.as_tensor(n_cand[idx], device=dev)
            gt = torch.empty(len(ti_np), dtype=torch.long, device=dev)
            eq = torch.empty(len(ti_np), dtype=torch.long, device=dev)
            one_per_row = len(ti_np) == nb and bool((t_case[tsl] == np.arange(start, stop)).all())
            for p in range(0, len(ti_np), bs):
                q = slice(p, p + bs)
                rows_s = masked[p:p + bs] if one_per_row else masked[tc[q]]
                s_q = st[q][:, None]
                gt[q] = (rows_s > s_q).sum(dim=1)
                eq[q] = (rows_s == s_q).sum(dim=1)
            eq -= torch.where(torch.isneginf(st), n_off[tc], torch.zeros_like(eq))
            t_gt[tsl], t_eq[tsl] = gt.cpu().numpy(), eq.cpu().numpy()
            t_score[tsl] = st.double().cpu().numpy()
            t_allowed[tsl] = a_t.cpu().numpy()
            kk = min(max_k, n_items)
            _, top = torch.topk(masked, kk, dim=1)
            top_ok = allowed.gather(1, top)
            top_codes[idx, :kk] = torch.where(top_ok, top, torch.full_like(top, -1)).cpu().numpy()
            bar.update(nb)
    finally:
        bar.close()

    rank = _tie_ranks(t_case, t_score, t_gt, t_eq, t_allowed, ties)
    n_unknown = int((t_item < 0).sum())
    n_unavail = int(((t_item >= 0) & ~t_live).sum())
    n_excl = int(((t_item >= 0) & t_live & ~t_allowed).sum())

    per_segment, mean, n_seg = _segment_values(rank, t_case, t_repeat, n_ev, ks, names, top_codes, n_items)

    ci = _bootstrap(per_segment, names, ks, n_bootstrap, confidence, random_state)
    candidates = "live items" if schedule is not None else "all items"
    settings = {"model": type(model).__name__, "per": per, "ties": ties, "exclude_seen": bool(exclude_seen),
                "candidates": candidates, "n_items": n_items, "k": list(ks), "n_bootstrap": int(n_bootstrap),
                "confidence": confidence, "history": history is not None, "use_history": use_history,
                "split": type(split).__name__ if split else None}
    return EvaluationResult(
        k=tuple(ks), metrics=tuple(names), mean=mean, ci=ci, n_cases=n_seg, per_segment=per_segment,
        users=test.users.take(cases.user[ev]), times=times,
        n_repeat=np.bincount(t_case[t_repeat], minlength=n_ev), n_new=np.bincount(t_case[~t_repeat], minlength=n_ev),
        target_case=t_case, target_item=t_ext, target_rank=rank, n_candidates=n_cand,
        skipped_users=test.users.take(np.unique(cases.user[skipped])), n_skipped_cases=len(skipped),
        n_unknown_targets=n_unknown, n_unavailable_targets=n_unavail, n_excluded_targets=n_excl,
        settings=settings,
    )


def _history(src: _Context | None, lo: int, hi: int) -> History:
    """The events ``[lo, hi)`` of a context, in model item codes (unknown items left out)."""
    assert src is not None
    sel = np.arange(lo, hi)
    sel = sel[src.item[sel] >= 0]
    return History(src.item[sel], src.time[sel], None if src.event is None else src.event[sel],
                   None if src.weight is None else src.weight[sel])


def _tie_ranks(t_case: np.ndarray, t_score: np.ndarray, t_gt: np.ndarray, t_eq: np.ndarray,
               t_allowed: np.ndarray, ties: str) -> np.ndarray:
    """0-based rank of every target (``inf`` when not a candidate).

    ``t_gt`` / ``t_eq``: candidates scoring above / equal to the target (the target and the
    case's other targets included). Targets of one case tied with each other take
    consecutive positions in their order; non-target ties go before them (pessimistic) or
    after them (optimistic).
    """
    rank = np.full(len(t_case), np.inf)
    v = np.flatnonzero(t_allowed)
    if len(v) == 0:
        return rank
    vo = v[np.lexsort((v, -t_score[v], t_case[v]))]
    new_grp = np.ones(len(vo), dtype=bool)
    new_grp[1:] = (t_case[vo][1:] != t_case[vo][:-1]) | (t_score[vo][1:] != t_score[vo][:-1])
    grp_start = np.flatnonzero(new_grp)
    grp = np.cumsum(new_grp) - 1
    tie_idx = np.arange(len(vo)) - grp_start[grp]
    base = t_gt[vo] + tie_idx
    if ties == "pessimistic":
        grp_size = np.diff(np.append(grp_start, len(vo)))
        base = base + (t_eq[vo] - grp_size[grp])
    rank[vo] = base
    return rank


def _segment_values(
    rank: np.ndarray, t_case: np.ndarray, t_repeat: np.ndarray, n_cases: int, ks: list[int],
    names: list[str], top_codes: np.ndarray, n_items: int,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, float]], dict[str, int]]:
    """Per-case values, means and case counts of every metric in every segment."""
    max_k = max(ks)
    seg_masks = {"all": np.ones(len(t_case), dtype=bool), "repeat": t_repeat, "new": ~t_repeat}
    per_segment: dict[str, dict[str, np.ndarray]] = {}
    mean: dict[str, dict[str, float]] = {}
    n_seg: dict[str, int] = {}
    for seg, msk in seg_masks.items():
        n_rel = np.bincount(t_case[msk], minlength=n_cases).astype(np.int64)
        gains = np.zeros((n_cases, max_k), dtype=np.float64)
        hit = msk & (rank < max_k)
        gains[t_case[hit], rank[hit].astype(np.int64)] = 1.0
        active = n_rel > 0
        n_seg[seg] = int(active.sum())
        vals: dict[str, np.ndarray] = {}
        means: dict[str, float] = {}
        for kk in ks:
            rel = _Relevance(gains[:, :kk], n_rel, None, kk)
            for name in names:
                key = f"{name}@{kk}"
                if name == "coverage":
                    top = top_codes[active, :kk]
                    vals[key] = np.full(n_cases, np.nan)
                    means[key] = len(np.unique(top[top >= 0])) / n_items if n_seg[seg] else float("nan")
                else:
                    vals[key] = _per_user(name, rel)
                    means[key] = float(np.nanmean(vals[key])) if n_seg[seg] else float("nan")
        per_segment[seg] = vals
        mean[seg] = means
    return per_segment, mean, n_seg


def _bootstrap(per_segment: dict[str, dict[str, np.ndarray]], names: list[str], ks: list[int],
               n_bootstrap: int, confidence: float, random_state: Any) -> dict[str, dict[str, tuple[float, float]]]:
    """Percentile bootstrap over cases, all series at once (one resample serves every metric)."""
    keys = [(seg, f"{n}@{kk}") for seg in SEGMENTS for kk in ks for n in names]
    nan = (float("nan"), float("nan"))
    out: dict[str, dict[str, tuple[float, float]]] = {seg: {} for seg in SEGMENTS}
    boot_keys = [(s, key) for s, key in keys if not key.startswith("coverage@")]
    for s, key in keys:
        out[s][key] = nan
    if n_bootstrap <= 0 or not boot_keys:
        return out
    vals = np.stack([per_segment[s][key] for s, key in boot_keys], axis=1)  # (n, series)
    n = vals.shape[0]
    if n == 0:
        return out
    present = ~np.isnan(vals)
    v0 = np.where(present, vals, 0.0)
    rng = check_random_state(random_state)
    stats = np.empty((n_bootstrap, vals.shape[1]))
    chunk = max(1, min(n_bootstrap, (1 << 22) // max(n, 1)))
    for b0 in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - b0)
        draws = rng.integers(0, n, size=(b, n))
        w = np.bincount((draws + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[b0:b0 + b] = (w @ v0) / (w @ present)
    alpha = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(stats, alpha, axis=0)
        hi = np.nanquantile(stats, 1.0 - alpha, axis=0)
    for j, (s, key) in enumerate(boot_keys):
        out[s][key] = (float(lo[j]), float(hi[j]))
    return out
