"""Leakage-free splits: a global time cut, leave-last-out, and the live-streaming protocol."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._utils import concat_ranges
from ..data import Interactions, LiveSchedule
from ..data._columns import check_time_kind, is_scalar, normalize_ids, parse_time_query
from ..exceptions import DataTypeError, DataValidationError, InvalidParameterError

__all__ = ["Split", "leave_last_out", "live_split", "next_item_split", "temporal_split"]


@dataclass(frozen=True)
class Split:
    """Train / validation / test events that share id maps, ready for ``evaluate``.

    Attributes:
        train: Events to fit on while tuning (before the validation events).
        test: Held-out events (the targets of the final evaluation).
        validation: Held-out events for tuning, or ``None``.
        history: Recent events to score the test users from (fold-in), or ``None`` (the
            train events are the history). Set by [`live_split`][liverec.model_selection.live_split].
        validation_history: The same for the validation cases.
        schedule: When items were live (candidates of the evaluation), or ``None``.
        before_test: Every event before the test window, when that is more than
            ``train + validation`` ([`live_split`][liverec.model_selection.live_split]: validation holds one target per
            user, not the whole window); ``None`` otherwise.

    The two steps of a study::

        model.fit(split.train)                       # tune on validation
        evaluate(model, split.for_validation())
        model.fit(split.train_validation)            # final fit, then test once
        evaluate(model, split.for_test())

    Examples:
        >>> X = Interactions.from_arrays([1, 1, 1, 2, 2, 2], ["a", "b", "c", "a", "c", "b"], time=[0, 1, 2, 0, 1, 2])
        >>> s = leave_last_out(X)
        >>> len(s.train), len(s.validation), len(s.test)
        (2, 2, 2)
        >>> len(s.train_validation)
        4
    """

    train: Interactions
    test: Interactions
    validation: Interactions | None = None
    history: Interactions | None = None
    validation_history: Interactions | None = None
    schedule: LiveSchedule | None = None
    before_test: Interactions | None = None

    @property
    def train_validation(self) -> Interactions:
        """Train and validation events together: what to fit on before testing."""
        if self.before_test is not None:
            return self.before_test
        if self.validation is None:
            return self.train
        return self.train.concat(self.validation)

    def for_validation(self) -> Split:
        """The split to tune on: fit on ``train``, evaluate on ``validation``."""
        if self.validation is None:
            raise DataValidationError("this split has no validation events; build it with validation=True / a validation window.")
        return Split(train=self.train, test=self.validation, history=self.validation_history, schedule=self.schedule)

    def for_test(self) -> Split:
        """The split to report: fit on ``train_validation``, evaluate on ``test``."""
        return Split(train=self.train_validation, test=self.test, history=self.history, schedule=self.schedule)

    def __repr__(self) -> str:
        parts = [f"train={len(self.train)}"]
        if self.validation is not None:
            parts.append(f"validation={len(self.validation)}")
        parts.append(f"test={len(self.test)}")
        if self.history is not None:
            parts.append(f"history={len(self.history)}")
        if self.schedule is not None:
            parts.append("schedule")
        return f"Split({', '.join(parts)} events)"


def _check_interactions(x: Any) -> Interactions:
    if not isinstance(x, Interactions):
        raise DataTypeError(f"expected liverec Interactions, got {type(x).__name__}; build one with Interactions.from_arrays.")
    if len(x) == 0:
        raise DataValidationError("interactions are empty; there is nothing to split.")
    return x


def _cut_from_fraction(times: np.ndarray, size: Any, name: str) -> float:
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) or not 0 < size < 1:
        raise InvalidParameterError(f"{name} must be a fraction in (0, 1), got {size!r}.")
    size = float(size)
    s = np.sort(times)
    pos = int(np.floor(len(s) * (1.0 - size)))
    pos = min(max(pos, 1), len(s) - 1)
    return float(s[pos])


def _time_arg(x: Any, name: str, X: Interactions) -> float:
    """One cut time in any accepted form, of the data's kind (datetime vs numbers)."""
    if isinstance(x, (np.timedelta64,)) or hasattr(x, "total_seconds"):
        raise DataTypeError(f"{name} must be a point in time, not a duration.")
    values, kind = parse_time_query(x, name)
    if len(values) != 1:
        raise DataValidationError(f"{name}: expected one time, got {len(values)}.")
    check_time_kind(kind, X.time_kind, name, "the interactions")
    return float(values[0])


def _duration(x: Any, name: str) -> float:
    if x is None:
        return 0.0
    if isinstance(x, np.timedelta64):
        return float(x / np.timedelta64(1, "ns")) / 1e9
    if hasattr(x, "total_seconds"):
        return float(x.total_seconds())
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not 0 <= x < np.inf:
        raise InvalidParameterError(
            f"{name} must be a non-negative finite duration (seconds, or a timedelta), got {x!r}.")
    return float(x)


def temporal_split(
    interactions: Interactions,
    at: Any = None,
    *,
    test_size: float | None = None,
    validation_at: Any = None,
    validation_size: float | None = None,
) -> Split:
    """Cut the timeline globally: every test event happens at or after every train event.

    Events with ``time < at`` are train, the others test; with a validation cut,
    ``validation_at <= time < at`` are validation. A global cut is what deployment looks
    like: the model is trained on the past and asked about the future of *all* users, so
    no event that happened after the cut (of any user) reaches training.

    Args:
        interactions: The events.
        at: The test cut (a time: number, ``datetime64``, ISO string).
        test_size: Instead of ``at``: put the last ``test_size`` fraction of events (by
            time) into test. Ties at the cut go to test, so the fraction may be a bit larger.
        validation_at: The validation cut (before ``at``).
        validation_size: Instead of ``validation_at``: the fraction of all events, just
            before the test cut, that go to validation.

    Returns:
        [`Split`][liverec.model_selection.Split] (``validation`` is ``None`` without a validation cut).

    Raises:
        DataValidationError: when a part would be empty or the cuts are out of order.

    Examples:
        >>> X = Interactions.from_arrays([1, 2, 1, 2, 1], list("abcab"), time=[1, 2, 3, 4, 5])
        >>> s = temporal_split(X, at=4)
        >>> s.train.time.tolist(), s.test.time.tolist()
        ([1.0, 2.0, 3.0], [4.0, 5.0])
        >>> temporal_split(X, test_size=0.2).test.time.tolist()
        [5.0]
    """
    X = _check_interactions(interactions)
    if (at is None) == (test_size is None):
        raise InvalidParameterError("pass exactly one of at=<time> or test_size=<fraction>.")
    if validation_at is not None and validation_size is not None:
        raise InvalidParameterError("pass at most one of validation_at and validation_size.")
    cut = _time_arg(at, "at", X) if at is not None else _cut_from_fraction(X.time, test_size, "test_size")
    vcut = None
    if validation_at is not None:
        vcut = _time_arg(validation_at, "validation_at", X)
    elif validation_size is not None:
        before = X.time[X.time < cut]
        if len(before) < 2:
            raise DataValidationError("too few events before the test cut to carve out a validation part.")
        _cut_from_fraction(before, validation_size, "validation_size")  # checks the fraction itself
        frac = float(validation_size) * len(X) / len(before)
        vcut = _cut_from_fraction(before, min(frac, 0.999999), "validation_size")
    if vcut is not None and vcut > cut:
        raise DataValidationError(f"validation cut {vcut:g} is after the test cut {cut:g}; it must come first.")
    test_mask = X.time >= cut
    train_mask = X.time < (cut if vcut is None else vcut)
    parts = {"train": train_mask, "test": test_mask}
    if vcut is not None:
        parts["validation"] = ~train_mask & ~test_mask
    for name, m in parts.items():
        if not m.any():
            raise DataValidationError(
                f"the {name} part is empty (time range {X.time.min():g}..{X.time.max():g}); move the cut.")
    return Split(train=X.select(train_mask), test=X.select(test_mask),
                 validation=X.select(parts["validation"]) if vcut is not None else None)


def leave_last_out(interactions: Interactions, n: int = 1, validation: bool = True) -> Split:
    """Hold out each user's last ``n`` events for test (and the ``n`` before them for validation).

    The protocol of most sequential-recommendation papers (SASRec, BERT4Rec on ML-1M):
    events are ordered by time within each user (ties keep the row order). Users with too
    few events to leave at least one in train (``n + 1``, or ``2n + 1`` with validation)
    stay entirely in train.

    Per user no test event precedes a train event, but the cut is not global: other
    users' later events are in train. Prefer [`temporal_split`][liverec.model_selection.temporal_split] or [`live_split`][liverec.model_selection.live_split]
    to measure what a deployed model would see.

    Args:
        interactions: The events.
        n: Events per user to hold out in each of test and validation.
        validation: Also hold out the ``n`` events before the test ones.

    Returns:
        [`Split`][liverec.model_selection.Split].

    Examples:
        >>> X = Interactions.from_arrays([1, 1, 1, 1, 2], list("abcda"), time=[1, 2, 3, 4, 1])
        >>> s = leave_last_out(X, validation=False)
        >>> s.test.item.tolist(), s.train.item.tolist()
        (['d'], ['a', 'b', 'c', 'a'])
    """
    X = _check_interactions(interactions)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidParameterError(f"n must be a positive integer, got {n!r}.")
    indptr, order = X.sequence_arrays()
    counts = np.diff(indptr)
    held = n * (2 if validation else 1)
    eligible = counts >= held + 1
    pos_from_end = np.empty(len(X), dtype=np.int64)
    user_of = np.repeat(np.arange(X.n_users), counts)
    pos_from_end[order] = indptr[user_of + 1] - 1 - np.arange(len(X))
    ok = eligible[X.user_codes]
    test_mask = ok & (pos_from_end < n)
    val_mask = ok & (pos_from_end >= n) & (pos_from_end < held) if validation else np.zeros(len(X), dtype=bool)
    train_mask = ~test_mask & ~val_mask
    if not test_mask.any():
        raise DataValidationError(
            f"no user has the {held + 1} events needed to hold out {held} and train on one; lower n or validation.")
    return Split(train=X.select(train_mask), test=X.select(test_mask),
                 validation=X.select(val_mask) if validation else None)


def _last_in_window(X: Interactions, lo: float, hi: float, history_len: int | None,
                    min_history: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each user's last event with ``lo <= time < hi`` and of the events before it."""
    indptr, order = X.sequence_arrays()
    t_sorted = X.time[order]
    in_win = (t_sorted >= lo) & (t_sorted < hi)
    pos = np.arange(len(order))
    user_of = np.repeat(np.arange(X.n_users), np.diff(indptr))
    # last in-window position per user (events sorted by user, time)
    cand = np.where(in_win, pos, -1)
    last = np.full(X.n_users, -1, dtype=np.int64)
    np.maximum.at(last, user_of, cand)
    users = np.flatnonzero(last >= 0)
    tpos = last[users]
    n_before = tpos - indptr[users]
    hl = n_before if history_len is None else np.minimum(n_before, history_len)
    keep = n_before >= min_history
    users, tpos, hl = users[keep], tpos[keep], hl[keep]
    hist_pos = concat_ranges(tpos - hl, hl)
    return order[tpos], order[hist_pos]


def live_split(
    interactions: Interactions,
    schedule: LiveSchedule | None = None,
    *,
    test_window: Any,
    validation_window: Any = None,
    history_len: int | None = 16,
    min_history: int = 1,
    end: Any = None,
) -> Split:
    """The live-streaming protocol (Rappaz, McAuley & Aberer, RecSys 2021).

    With ``T`` the end of the data (or ``end``), the test window is ``[T - test_window, T]``
    and the validation window the ``validation_window`` before it. Each user with events
    in a window gives one case: their **last** event in the window is the target, their
    ``history_len`` events before it (from any time, the window included) are the history
    the model may use to score them. The target is ranked among the items live at its
    time when the schedule is passed to ``evaluate`` (``evaluate(model, split)`` does).

    ``train`` holds the events before the validation window (before the test window
    without one); ``train_validation`` the events before the test window. History events
    inside a window are never in ``train``: the model sees them only as inputs.

    Args:
        interactions: The events.
        schedule: The broadcasts; stored in the split (targets not live at their time
            are reported with a warning).
        test_window: Length of the test window (same unit as the times; seconds or a
            ``timedelta`` for datetimes). Twitch: 250 steps of 10 minutes.
        validation_window: Length of the validation window before it (Twitch: 250), or
            ``None``.
        history_len: Events before the target kept as history (Twitch: 16); ``None``
            keeps all.
        min_history: Users with fewer earlier events are not test cases (a cold user has
            nothing to be personalised from; evaluate them separately if you wish).
        end: The end of the timeline ``T`` (default: the last event time).

    Returns:
        [`Split`][liverec.model_selection.Split] with ``history`` and ``validation_history`` set.

    Examples:
        >>> X = Interactions.from_arrays([1, 1, 1, 2, 2], list("abcab"), time=[0, 5, 9, 1, 8])
        >>> s = live_split(X, test_window=3, history_len=1)
        >>> s.test.item.tolist(), s.history.item.tolist(), s.train.item.tolist()
        (['c', 'b'], ['b', 'a'], ['a', 'b', 'a'])
    """
    X = _check_interactions(interactions)
    if schedule is not None and not isinstance(schedule, LiveSchedule):
        raise DataTypeError(f"schedule must be a LiveSchedule, got {type(schedule).__name__}.")
    tw = _duration(test_window, "test_window")
    vw = _duration(validation_window, "validation_window")
    if tw <= 0:
        raise InvalidParameterError(f"test_window must be positive, got {test_window!r}.")
    if history_len is not None and (isinstance(history_len, bool) or not isinstance(history_len, (int, np.integer))
                                    or history_len < 0):
        raise InvalidParameterError(f"history_len must be an integer >= 0 or None, got {history_len!r}.")
    if isinstance(min_history, bool) or not isinstance(min_history, (int, np.integer)) or min_history < 0:
        raise InvalidParameterError(f"min_history must be an integer >= 0, got {min_history!r}.")
    t_end = float(X.time.max()) if end is None else _time_arg(end, "end", X)
    test_lo = t_end - tw
    val_lo = test_lo - vw
    test_rows, test_hist = _last_in_window(X, test_lo, np.nextafter(t_end, np.inf), history_len, min_history)
    if len(test_rows) == 0:
        raise DataValidationError(
            f"no user has an event (with {min_history} before it) in the test window "
            f"[{test_lo:g}, {t_end:g}]; widen test_window.")
    val_rows = val_hist = None
    if vw > 0:
        val_rows, val_hist = _last_in_window(X, val_lo, test_lo, history_len, min_history)
        if len(val_rows) == 0:
            raise DataValidationError(
                f"no user has an event in the validation window [{val_lo:g}, {test_lo:g}); widen validation_window.")
    train_mask = X.time < val_lo
    if not train_mask.any():
        raise DataValidationError(f"no events before {val_lo:g}: the windows cover all the data; shrink them.")
    split = Split(
        train=X.select(train_mask),
        test=X.select(np.sort(test_rows)),
        validation=None if val_rows is None else X.select(np.sort(val_rows)),
        history=X.select(np.sort(test_hist)),
        validation_history=None if val_hist is None else X.select(np.sort(val_hist)),
        schedule=schedule,
        before_test=X.select(X.time < test_lo) if vw > 0 else None,
    )
    if schedule is not None:
        tgt = split.test
        live = schedule.is_live(tgt.item, tgt.time)
        if not live.all():
            warnings.warn(f"live_split: {int((~live).sum())} of {len(tgt)} test targets are not live at their "
                          "time in the schedule; evaluate will count them as misses.", stacklevel=2)
    return split



def next_item_split(
    history: Interactions,
    users: Any,
    targets: Any,
    *,
    train: Interactions | None = None,
    schedule: LiveSchedule | None = None,
) -> Split:
    """A split from given next-item targets: one test event per user, right after their history.

    For benchmarks distributed already split (ML-1M as split by the SASRec/gSASRec authors,
    Amazon Beauty as in S3-Rec): each user's target becomes a test event timed just after
    the user's last history event, so ``evaluate`` sees the whole history as the past.

    Args:
        history: The events the targets are predicted from (for leave-one-out: everything
            but the target).
        users: The external user id of every target.
        targets: The external item id of every target (items unknown to ``history`` are
            added to the item map; ``evaluate`` counts them as misses).
        train: The events to fit on when they differ from ``history`` (e.g. without the
            validation item); default ``history``.
        schedule: Stored in the split.

    Returns:
        [`Split`][liverec.model_selection.Split] with ``train``, ``test`` and ``history`` (``None`` when it is the
        train set itself).

    Examples:
        >>> H = Interactions.from_arrays([1, 1, 2], ["a", "b", "a"], time=[0, 1, 0])
        >>> s = next_item_split(H, users=[1, 2], targets=["c", "b"])
        >>> s.test.item.tolist(), s.test.time.tolist()
        (['c', 'b'], [2.0, 1.0])
    """
    H = _check_interactions(history)
    if train is not None:
        _check_interactions(train)
    if schedule is not None and not isinstance(schedule, LiveSchedule):
        raise DataTypeError(f"schedule must be a LiveSchedule, got {type(schedule).__name__}.")
    u = normalize_ids([users] if is_scalar(users) else users, "users")
    t = normalize_ids([targets] if is_scalar(targets) else targets, "targets")

    if len(u) != len(t) or len(u) == 0:
        raise DataValidationError(f"need one target per user: got {len(u)} users and {len(t)} targets.")
    codes = H.users.codes(u, missing="ignore")
    last = np.full(H.n_users, -np.inf)
    np.maximum.at(last, H.user_codes, H.time)
    # just after the user's last event (1 time unit; the start of the data for a user without history)
    when = np.where(codes >= 0, last[np.maximum(codes, 0)], -np.inf)
    when = np.where(np.isfinite(when), when + 1.0, float(H.time.min()))
    test = Interactions.from_arrays(u, t, time=when, users=H.users, items=H.items)
    if test.time_kind != H.time_kind:
        test = Interactions(test.user_codes, test.item_codes, test.time, test.users, test.items,
                            event_types=H.event_types, time_kind=H.time_kind)
    fit_on = H if train is None else train
    return Split(train=fit_on, test=test, history=None if train is None else H, schedule=schedule)
