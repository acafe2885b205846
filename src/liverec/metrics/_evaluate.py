"""``evaluate``: full-ranking, leakage-free, availability-aware evaluation of a fitted model."""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._params import Interval, Options, SequenceOf, validate_parameter
from .._ranking import History, ItemFilter, can_fold_in, rank_targets
from .._utils import Progress, check_random_state, concat_ranges, html_table, sorted_unique
from ..base import BaseRecommender, check_is_fitted
from ..data import Interactions, LiveSchedule
from ..exceptions import DataTypeError, DataValidationError, InvalidParameterError
from ._exposure import ExposureReport, exposure_report, head_tail_items
from ._ranking import RANKING_METRICS, _per_user, _Relevance, check_cutoffs, is_member

__all__ = ["EvaluationResult", "evaluate", "SEGMENTS"]

_log = logging.getLogger(__name__)


def _verbose_flag(verbose: Any, progress: Any) -> bool:
    """``verbose``, or the deprecated ``progress`` spelling of it (with a warning)."""
    validate_parameter("evaluate", "verbose", verbose, [bool])
    if progress is None:
        return bool(verbose)
    warnings.warn("evaluate(progress=...) is deprecated; use verbose=... (same meaning).",
                  DeprecationWarning, stacklevel=3)
    validate_parameter("evaluate", "progress", progress, [bool])
    return bool(progress)


#: The breakdown of every result: all targets, targets the user had already interacted
#: with before (repeat consumption), and targets new to the user.
SEGMENTS: tuple[str, ...] = ("all", "repeat", "new")

_ALL_METRICS = (*RANKING_METRICS, "coverage")
#: Metric rows shown by ``EvaluationResult._repr_html_``.
_HTML_MAX_ROWS = 60
_LABELS = {"hit_rate": "HR", "ndcg": "NDCG", "mrr": "MRR", "recall": "Recall",
           "precision": "Precision", "map": "MAP", "coverage": "Coverage"}


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@dataclass
class EvaluationResult:
    """What [`evaluate`][liverec.metrics.evaluate] measured: means, confidence intervals, per-case values.

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
    exposure: ExposureReport | None = None

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
            raise DataValidationError("cases have several targets (per='user'); use target_case / target_rank.")
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
            other: The result of [`evaluate`][liverec.metrics.evaluate] for another model, same cases.
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
            raise DataValidationError(
                "compare needs two results on the same cases: evaluate both models with the same "
                "train/test, split options and users (no user skipped in one only).")
        validate_parameter("compare", "segment", segment, [Options(tuple(self.per_segment))])
        validate_parameter("compare", "key", key, [Options(tuple(self.per_segment[segment]))])
        if key not in other.per_segment[segment]:
            raise DataValidationError(f"compare: the other result has no {key!r}; evaluate it with the same k and metrics.")
        validate_parameter("compare", "n_resamples", n_resamples, [Interval(numbers.Integral, 1, None, closed="left")])
        validate_parameter("compare", "confidence", confidence, [Interval(numbers.Real, 0, 1, closed="neither")])
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
        """A pandas DataFrame of [`to_records`][liverec.metrics.EvaluationResult.to_records] (requires pandas)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover
            raise ImportError("to_frame() needs pandas: pip install pandas (or use to_records()).") from err
        return pd.DataFrame.from_records(
            self.to_records(), columns=["segment", "metric", "k", "mean", "ci_low", "ci_high", "n_cases"])

    def _table(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the summary table (``print(result)``, notebooks)."""
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
        return head, rows

    def _title_and_notes(self) -> tuple[str, list[str]]:
        s = self.settings
        conf = s.get("confidence", 0.95)
        title = (f"EvaluationResult: {s.get('model', '?')}, {len(self.users)} cases, "
                 f"ranked against {s.get('candidates', '?')}"
                 f"{', seen excluded' if s.get('exclude_seen') else ''}, ties {s.get('ties')}, "
                 f"{int(round(conf * 100))}% bootstrap CI")
        notes = []
        if len(self.skipped_users):
            notes.append(f"{self.n_skipped_cases} cases of {len(self.skipped_users)} users skipped (cannot be scored)")
        for n, what in ((self.n_unknown_targets, "targets unknown to the model"),
                        (self.n_unavailable_targets, "targets not live at their time"),
                        (self.n_excluded_targets, "targets excluded as seen")):
            if n:
                notes.append(f"{n} {what} (counted as misses)")
        return title, notes

    def _repr_html_(self) -> str:
        """The summary table as HTML for notebooks (at most 60 metric rows shown)."""
        head, rows = self._table()
        title, notes = self._title_and_notes()
        if len(rows) > _HTML_MAX_ROWS:
            notes = [f"... {len(rows) - _HTML_MAX_ROWS} more metric rows (see to_records())", *notes]
            rows = rows[:_HTML_MAX_ROWS]
        return html_table(title, head, rows, ["note: " + n for n in notes])

    def __str__(self) -> str:
        head, rows = self._table()
        widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]

        def line(r: list[str]) -> str:
            return "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths, strict=True)))

        title, notes = self._title_and_notes()
        lines = [title, line(head), line(["-" * w for w in widths]), *map(line, rows)]
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
    verbose: bool = False,
    progress: bool | None = None,
    exposure: bool = False,
    item_groups: Mapping[Any, Any] | None = None,
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
            know). A [`Split`][liverec.model_selection.Split] may be passed instead of
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
            [`live_split`][liverec.model_selection.live_split]. Only events at or before each
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
        verbose: Show a progress bar over the cases (tqdm when installed, else INFO
            records of the ``liverec.metrics._evaluate`` logger).
        progress: Deprecated spelling of ``verbose`` (warns with a ``DeprecationWarning``).
        exposure: Also measure the exposure of the top-``max(k)`` lists (``result.exposure``,
            an [`ExposureReport`][liverec.metrics.ExposureReport]): shares, Gini over the
            catalogue, the share of tail items (outside the most popular items that make
            80% of ``train`` events) and of new items (no ``train`` event).
        item_groups: Item -> group (e.g. category) for the exposure's group shares and the
            calibration of each case's list against its user's past events (needs
            ``exposure=True``).

    Returns:
        [`EvaluationResult`][liverec.metrics.EvaluationResult]; ``print(result)`` shows a table.

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
    train, test, history, schedule, split = _unpack(train, test, history, schedule)
    ks, names, per = _check_arguments(model, train, test, history, schedule, k, metrics, per, use_history,
                                      ties, confidence)
    n_items = len(model.items_)
    plan = _plan(model, train, test, history, per, use_history)
    validate_parameter("evaluate", "batch_size", batch_size, [Interval(numbers.Integral, 1, None, closed="left"), None])
    bs = int(batch_size) if batch_size else max(1, min(4096, (1 << 24) // max(n_items, 1)))
    show = _verbose_flag(verbose, progress)
    validate_parameter("evaluate", "exposure", exposure, [bool])
    validate_parameter("evaluate", "item_groups", item_groups, [Mapping, None])
    ranked = _rank_cases(model, plan, _case_filter(model, plan, schedule, exclude_seen),
                         min(max(ks), n_items), bs, bool(show))  # no list is longer than the catalogue

    t_case, t_item, t_repeat, n_ev = plan.t_case, plan.t_item, plan.t_repeat, len(plan.ev)
    rank = _tie_ranks(t_case, ranked.score, ranked.above, ranked.tied, ranked.allowed, ties)
    per_segment, mean, n_seg = _segment_values(rank, t_case, t_repeat, n_ev, ks, names, ranked.top, n_items)
    ci = _bootstrap(per_segment, names, ks, n_bootstrap, confidence, random_state)
    settings = {"model": type(model).__name__, "per": per, "ties": ties, "exclude_seen": bool(exclude_seen),
                "candidates": "live items" if schedule is not None else "all items", "n_items": n_items,
                "k": list(ks), "n_bootstrap": int(n_bootstrap), "confidence": confidence,
                "history": history is not None, "use_history": use_history,
                "split": type(split).__name__ if split else None}
    cases = plan.cases
    return EvaluationResult(
        k=tuple(ks), metrics=tuple(names), mean=mean, ci=ci, n_cases=n_seg, per_segment=per_segment,
        users=test.users.take(cases.user[plan.ev]), times=plan.times,
        n_repeat=np.bincount(t_case[t_repeat], minlength=n_ev), n_new=np.bincount(t_case[~t_repeat], minlength=n_ev),
        target_case=t_case, target_item=plan.t_ext, target_rank=rank, n_candidates=ranked.n_allowed,
        skipped_users=test.users.take(np.unique(cases.user[plan.skipped])), n_skipped_cases=len(plan.skipped),
        n_unknown_targets=int((t_item < 0).sum()),
        n_unavailable_targets=int(((t_item >= 0) & ~ranked.live).sum()),
        n_excluded_targets=int(((t_item >= 0) & ranked.live & ~ranked.allowed).sum()),
        settings=settings,
        exposure=_exposure_of(model, train, plan, ranked.top, item_groups) if exposure else None,
    )


def _exposure_of(model: BaseRecommender, train: Interactions, plan: _Plan, top: np.ndarray,
                 groups: Mapping[Any, Any] | None) -> ExposureReport:
    """The exposure report of the evaluated top lists (tail and new items from ``train``)."""
    ids = model.items_.ids
    lists = [ids[row[row >= 0]].tolist() for row in top]
    codes = model.items_.codes(train.items.ids, missing="ignore")[train.item_codes]
    counts = np.bincount(codes[codes >= 0], minlength=len(ids)).astype(np.float64)
    histories = None
    if groups is not None:
        bounds = np.searchsorted(plan.past_c, np.arange(len(top) + 1))
        histories = [ids[plan.past_i[bounds[c]:bounds[c + 1]]].tolist() for c in range(len(top))]
    return exposure_report(lists, catalog=ids, groups=groups, tail_items=head_tail_items(ids, counts),
                           new_items=ids[counts == 0], histories=histories)


def _unpack(train: Any, test: Interactions | None, history: Interactions | None,
            schedule: LiveSchedule | None) -> tuple[Any, Any, Any, Any, Any]:
    """``train, test, history, schedule, split`` (a ``Split`` given as ``train`` fills the rest)."""
    if isinstance(train, Interactions) or not (hasattr(train, "train") and hasattr(train, "test")):
        return train, test, history, schedule, None
    split = train
    return (split.train, split.test if test is None else test,
            getattr(split, "history", None) if history is None else history,
            getattr(split, "schedule", None) if schedule is None else schedule, split)


def _check_arguments(model: Any, train: Any, test: Any, history: Any, schedule: Any, k: Any, metrics: Any,
                     per: str, use_history: str, ties: str, confidence: float) -> tuple[list[int], list[str], str]:
    """Validate ``evaluate``'s arguments; return the sorted cut-offs, metric names and ``per``."""
    if not isinstance(model, BaseRecommender):
        raise DataTypeError(
            f"evaluate expects a liverec model, got {type(model).__name__}: it ranks with the model's "
            "scores of every item, so wrap your model in a liverec.BaseRecommender subclass "
            "(implement _fit and _score_known, optionally _score_history)."
        )
    check_is_fitted(model)
    for name, value in (("train", train), ("test", test)):
        if not isinstance(value, Interactions):
            raise DataTypeError(f"{name} must be liverec Interactions, got {type(value).__name__}.")
    if history is not None and not isinstance(history, Interactions):
        raise DataTypeError(f"history must be liverec Interactions, got {type(history).__name__}.")
    if schedule is not None and not isinstance(schedule, LiveSchedule):
        raise DataTypeError(f"schedule must be a LiveSchedule, got {type(schedule).__name__}.")
    if len(test) == 0:
        raise DataValidationError("test has no events; there is nothing to evaluate.")
    return _check_options(schedule, k, metrics, per, use_history, ties, confidence)


def _check_options(schedule: Any, k: Any, metrics: Any, per: str, use_history: str, ties: str,
                   confidence: float) -> tuple[list[int], list[str], str]:
    ks = sorted(set(check_cutoffs(k)))
    if not ks:
        raise InvalidParameterError(f"evaluate: parameter 'k' must name at least one cut-off, got {k!r}.")
    if isinstance(metrics, str):
        metrics = [metrics]
    elif isinstance(metrics, Iterable) and not isinstance(metrics, Mapping):
        metrics = list(metrics)
    validate_parameter("evaluate", "metrics", metrics, [SequenceOf(Options(_ALL_METRICS), min_length=1)])
    names = list(dict.fromkeys(metrics))
    validate_parameter("evaluate", "per", per, [Options(("event", "user", "auto"))])
    validate_parameter("evaluate", "use_history", use_history, [Options(("always", "unknown"))])
    validate_parameter("evaluate", "ties", ties, [Options(("pessimistic", "optimistic"))])
    validate_parameter("evaluate", "confidence", confidence, [Interval(numbers.Real, 0, 1, closed="neither")])
    if per == "auto":
        per = "event" if schedule is not None else "user"
    return ks, names, per


@dataclass
class _Plan:
    """The cases to rank: who is scored how, their targets, and what each user did before."""

    cases: _Cases
    ev: np.ndarray  # evaluated case indices
    skipped: np.ndarray  # cases that cannot be scored
    model_user: np.ndarray  # per case: model user code (-1 unknown)
    fold: np.ndarray  # per case: scored from its events (fold-in)
    tr: _Context | None
    hi_ctx: _Context | None
    tr_lo: np.ndarray
    tr_hi: np.ndarray
    hs_lo: np.ndarray
    hs_hi: np.ndarray
    has_hist: np.ndarray
    past_c: np.ndarray  # (evaluated case, known item) pairs seen at or before the case time
    past_i: np.ndarray
    t_case: np.ndarray  # per target: evaluated case index
    t_item: np.ndarray  # model item code (-1 unknown)
    t_ext: np.ndarray
    t_repeat: np.ndarray
    t_ptr: np.ndarray  # CSR over evaluated cases of their targets
    times: np.ndarray  # per evaluated case


def _plan(model: BaseRecommender, train: Interactions, test: Interactions, history: Interactions | None,
          per: str, use_history: str) -> _Plan:
    """Build the cases, decide how each is scored, and find its targets and past items."""
    n_items = len(model.items_)
    lut_cache: dict[int, np.ndarray] = {}

    def item_lut(x: Interactions) -> np.ndarray:
        key = id(x.items)
        if key not in lut_cache:
            lut_cache[key] = (np.arange(len(x.items)) if x.items is model.items_
                              else model.items_.codes(x.items.ids, missing="ignore"))
        return lut_cache[key]

    cases = _build_cases(test, item_lut(test), per)
    model_user = (model.users_.codes(test.users.ids, missing="ignore") if test.users is not model.users_
                  else np.arange(test.n_users))[cases.user]
    tr = _context(train, test, item_lut)
    hi_ctx = _context(history, test, item_lut)
    tr_lo, tr_hi = _ranges_before(tr, cases)
    hs_lo, hs_hi = _ranges_before(hi_ctx, cases)

    # who can be scored, and how
    has_hist = (hs_hi > hs_lo) if hi_ctx is not None else np.zeros(len(cases.user), dtype=bool)
    has_train = tr_hi > tr_lo
    # a user counts as known only if the model saw events of theirs (shared id maps may
    # hold users that had no event in fit: the id alone tells the model nothing)
    seen_m = getattr(model, "seen_", None)
    known = model_user >= 0
    if seen_m is not None:
        known &= np.diff(seen_m.indptr)[np.maximum(model_user, 0)] > 0
    fold = can_fold_in(model) & ((has_hist & (~known | (use_history == "always"))) | (~known & has_train))
    skipped = np.flatnonzero(~(known | fold))
    if len(skipped):
        _warn_skipped(model, cases, skipped, has_hist, has_train)
    ev = np.flatnonzero(known | fold)

    # past items of every case (train + history at or before its time), for repeat / seen
    c1, i1 = _ctx_pairs(tr, tr_lo[ev], tr_hi[ev])
    c2, i2 = _ctx_pairs(hi_ctx, hs_lo[ev], hs_hi[ev])
    past_c, past_i = np.concatenate([c1, c2]), np.concatenate([i1, i2])
    ok = past_i >= 0
    order = np.argsort(past_c[ok], kind="stable")
    past_c, past_i = past_c[ok][order], past_i[ok][order]

    # targets of evaluated cases
    n_rel = np.diff(cases.rel_ptr)[ev]
    t_rows = concat_ranges(cases.rel_ptr[ev], n_rel)
    t_case = np.repeat(np.arange(len(ev)), n_rel)
    t_item = cases.rel_item[t_rows]
    t_repeat = is_member(_pair_keys(t_case, t_item, n_items), sorted_unique(_pair_keys(past_c, past_i, n_items)))
    t_ptr = np.zeros(len(ev) + 1, dtype=np.int64)
    np.cumsum(n_rel, out=t_ptr[1:])
    return _Plan(cases, ev, skipped, model_user, fold, tr, hi_ctx, tr_lo, tr_hi, hs_lo, hs_hi, has_hist,
                 past_c, past_i, t_case, t_item, cases.rel_ext[t_rows], t_repeat & (t_item >= 0), t_ptr,
                 cases.time[ev])


def _warn_skipped(model: Any, cases: _Cases, skipped: np.ndarray, has_hist: np.ndarray,
                  has_train: np.ndarray) -> None:
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
        stacklevel=4)


def _ctx_pairs(ctx: _Context | None, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(case, item)`` of the context events ``[lo[c], hi[c])`` of every case ``c``."""
    if ctx is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = concat_ranges(lo, hi - lo)
    return np.repeat(np.arange(len(lo)), hi - lo), ctx.item[rows]


def _case_filter(model: BaseRecommender, plan: _Plan, schedule: LiveSchedule | None,
                 exclude_seen: bool) -> ItemFilter:
    """What each evaluated case ranks: the items live at its time, minus seen ones if asked."""
    filters = ItemFilter(len(model.items_))
    if schedule is not None:
        filters.schedule, filters.items, filters.times = schedule, model.items_, plan.times
    if exclude_seen:
        filters.seen = getattr(model, "seen_", None)
        filters.seen_users = np.where(plan.fold, -1, plan.model_user)[plan.ev]
        filters.seen_extra = (plan.past_c, plan.past_i)
    return filters


@dataclass
class _Ranked:
    """Per target: counts above / tied, score, allowed, live; per case: candidates, top-k."""

    above: np.ndarray
    tied: np.ndarray
    score: np.ndarray
    allowed: np.ndarray
    live: np.ndarray
    n_allowed: np.ndarray
    top: np.ndarray


def _rank_cases(model: BaseRecommender, plan: _Plan, filters: ItemFilter, max_k: int, bs: int,
                show: bool) -> _Ranked:
    """Score every evaluated case through ``model.score_items`` and place its targets."""
    import torch

    n_ev, n_t = len(plan.ev), len(plan.t_item)
    out = _Ranked(np.zeros(n_t, dtype=np.int64), np.zeros(n_t, dtype=np.int64), np.zeros(n_t),
                  np.zeros(n_t, dtype=bool), np.ones(n_t, dtype=bool), np.zeros(n_ev, dtype=np.int64),
                  np.full((n_ev, max_k), -1, dtype=np.int64))
    bar = Progress(n_ev, "evaluate", "case", show, _log)
    nan_warned = False
    try:
        for start in range(0, n_ev, bs):
            stop = min(n_ev, start + bs)
            scores = model.score_items(*_batch_inputs(plan, start, stop))
            if torch.isnan(scores).any():
                if not nan_warned:
                    warnings.warn("evaluate: the model returned NaN scores; they are ranked last (-inf).",
                                  stacklevel=3)
                    nan_warned = True
                scores = torch.nan_to_num(scores, nan=-float("inf"))
            tsl = slice(plan.t_ptr[start], plan.t_ptr[stop])
            t_row, t_item = plan.t_case[tsl] - start, plan.t_item[tsl]
            allowed = filters.keep_mask(start, stop, scores.device)
            if allowed is None:
                allowed = torch.ones(scores.shape, dtype=torch.bool, device=scores.device)
            else:  # live at the case time (before seen items are taken out)
                dev = allowed.device
                out.live[tsl] = allowed[torch.as_tensor(t_row, device=dev),
                                        torch.as_tensor(np.maximum(t_item, 0), device=dev)].cpu().numpy()
                out.live[tsl] |= t_item < 0
            filters.drop_from(allowed, start, stop)
            r = rank_targets(scores, allowed, t_row, t_item, max_k, bs)
            out.above[tsl], out.tied[tsl], out.score[tsl], out.allowed[tsl] = r.above, r.tied, r.score, r.allowed
            out.n_allowed[start:stop], out.top[start:stop] = r.n_allowed, r.top
            bar.update(stop - start)
    finally:
        bar.close()
    return out


def _batch_inputs(plan: _Plan, start: int, stop: int) -> tuple[np.ndarray, list[History | None], np.ndarray]:
    """``score_items`` arguments of evaluated cases ``[start, stop)``: codes, histories, times."""
    g = plan.ev[start:stop]
    hists: list[History | None] = [None] * len(g)
    for j in np.flatnonzero(plan.fold[g]):
        c = g[j]
        hists[j] = (_history(plan.hi_ctx, plan.hs_lo[c], plan.hs_hi[c]) if plan.has_hist[c]
                    else _history(plan.tr, plan.tr_lo[c], plan.tr_hi[c]))
    return np.where(plan.fold[g], -1, plan.model_user[g]), hists, plan.times[start:stop]


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
    max_k = min(max(ks), n_items)  # a cut-off past the catalogue ranks the whole catalogue
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
