"""Splits: no test event ever precedes a train event; parts share the id maps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liverec.data import Interactions, LiveSchedule
from liverec.exceptions import DataValidationError
from liverec.model_selection import Split, leave_last_out, live_split, temporal_split
from liverec.testing import contract_data


@st.composite
def interactions(draw, min_size: int = 2):
    n = draw(st.integers(min_size, 60))
    users = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))  # many ties on purpose
    return Interactions.from_arrays(users, items, time=times)


def _rows(X: Interactions) -> list[tuple]:
    return sorted(zip(X.user.tolist(), X.item.tolist(), X.time.tolist(), strict=True))


def _by_user(X: Interactions) -> dict:
    out: dict = {}
    for u, t in zip(X.user.tolist(), X.time.tolist(), strict=True):
        out.setdefault(u, []).append(t)
    return out


# --- temporal_split --------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(X=interactions(), frac=st.floats(0.05, 0.95))
def test_temporal_split_puts_every_test_event_after_every_train_event(X, frac):
    try:
        s = temporal_split(X, test_size=frac)
    except DataValidationError:
        return  # all events at one time: nothing to cut
    assert s.train.time.max() < s.test.time.min()
    assert _rows(s.train.concat(s.test)) == _rows(X)


@settings(max_examples=100, deadline=None)
@given(X=interactions(min_size=5), a=st.floats(0.1, 0.5), b=st.floats(0.1, 0.4))
def test_temporal_split_with_validation_is_ordered(X, a, b):
    try:
        s = temporal_split(X, test_size=a, validation_size=b)
    except DataValidationError:
        return
    assert s.train.time.max() < s.validation.time.min()
    assert s.validation.time.max() < s.test.time.min()
    assert len(s.train) + len(s.validation) + len(s.test) == len(X)


def test_temporal_split_at_a_time():
    X = Interactions.from_arrays([1, 2, 3, 1], list("abca"), time=[1, 2, 3, 4])
    s = temporal_split(X, at=3, validation_at=2)
    assert s.train.time.tolist() == [1.0]
    assert s.validation.time.tolist() == [2.0]
    assert s.test.time.tolist() == [3.0, 4.0]


def test_temporal_split_with_datetimes():
    t = np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[ns]")
    X = Interactions.from_arrays([1, 2, 1], list("abc"), time=t)
    s = temporal_split(X, at=np.datetime64("2024-01-02"))
    assert len(s.train) == 1 and len(s.test) == 2


def test_test_size_takes_about_that_fraction():
    X = Interactions.from_arrays(np.arange(100) % 7, np.arange(100) % 11, time=np.arange(100))
    assert len(temporal_split(X, test_size=0.2).test) == 20


def test_split_parts_share_the_id_maps():
    X, _ = contract_data()
    for s in (temporal_split(X, test_size=0.2), leave_last_out(X), live_split(X, test_window=24)):
        assert s.train.users is X.users and s.test.items is X.items


def test_temporal_split_argument_errors():
    X = Interactions.from_arrays([1, 2], ["a", "b"], time=[1, 2])
    with pytest.raises(ValueError, match="exactly one"):
        temporal_split(X)
    with pytest.raises(ValueError, match="exactly one"):
        temporal_split(X, at=2, test_size=0.5)
    with pytest.raises(ValueError, match="fraction"):
        temporal_split(X, test_size=1.5)
    with pytest.raises(DataValidationError, match="empty"):
        temporal_split(X, at=100)
    with pytest.raises(DataValidationError, match="after the test cut"):
        temporal_split(X, at=1.5, validation_at=2)
    with pytest.raises(TypeError, match="Interactions"):
        temporal_split({"user": [1]}, at=1)


# --- leave_last_out --------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(X=interactions(), n=st.integers(1, 3), validation=st.booleans())
def test_leave_last_out_holds_out_each_users_last_events(X, n, validation):
    try:
        s = leave_last_out(X, n=n, validation=validation)
    except DataValidationError:
        assert max(np.bincount(X.user_codes)) < n * (2 if validation else 1) + 1
        return
    train, test = _by_user(s.train), _by_user(s.test)
    val = _by_user(s.validation) if validation else {}
    for u, times in test.items():
        assert len(times) == n
        assert max(train[u]) <= min(times)  # per user: never a test event before a train event
        if validation:
            assert len(val[u]) == n
            assert max(train[u]) <= min(val[u]) <= max(val[u]) <= min(times)
    counts = dict(zip(*np.unique(X.user, return_counts=True), strict=True))
    for u, c in counts.items():
        assert (u in test) == (c >= n * (2 if validation else 1) + 1)
    parts = s.train.concat(s.test) if not validation else s.train.concat(s.validation).concat(s.test)
    assert _rows(parts) == _rows(X)


def test_leave_last_out_keeps_row_order_for_equal_times():
    X = Interactions.from_arrays([1, 1, 1], ["a", "b", "c"], time=[5, 5, 5])
    s = leave_last_out(X, validation=True)
    assert (s.train.item.tolist(), s.validation.item.tolist(), s.test.item.tolist()) == (["a"], ["b"], ["c"])


def test_train_validation_is_what_to_refit_on():
    X, _ = contract_data()
    s = leave_last_out(X)
    assert len(s.train_validation) == len(s.train) + len(s.validation)
    v, t = s.for_validation(), s.for_test()
    assert isinstance(v, Split) and v.test is s.validation and v.train is s.train
    assert len(t.train) == len(s.train_validation) and t.test is s.test
    with pytest.raises(DataValidationError, match="no validation"):
        leave_last_out(X, validation=False).for_validation()


def test_leave_last_out_rejects_bad_n():
    X = Interactions.from_arrays([1, 1], ["a", "b"])
    with pytest.raises(ValueError, match="positive integer"):
        leave_last_out(X, n=0)


# --- live_split --------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(X=interactions(), tw=st.integers(1, 15), vw=st.integers(0, 10), hl=st.integers(0, 5))
def test_live_split_cases_follow_the_protocol(X, tw, vw, hl):
    try:
        s = live_split(X, test_window=tw, validation_window=vw or None, history_len=hl, min_history=0)
    except DataValidationError:
        return
    t_end = X.time.max()
    test_lo, val_lo = t_end - tw, t_end - tw - vw
    assert (s.train.time < val_lo).all() and len(s.train) == int((X.time < val_lo).sum())
    # one case per user: their last event in the test window
    users = s.test.user.tolist()
    assert len(users) == len(set(users))
    order = X.sort_order()
    for u in users:
        rows = order[X.user[order] == u]
        in_win = rows[X.time[rows] >= test_lo]
        last = in_win[-1]
        (j,) = np.flatnonzero(s.test.user == u)
        assert s.test.item[j] == X.item[last] and s.test.time[j] == X.time[last]
        hist = s.history.time[s.history.user == u]
        assert len(hist) == min(hl, int(np.flatnonzero(rows == last)[0]))
        assert (hist <= X.time[last]).all()
    # nothing of the test window is in train
    assert not set(map(tuple, zip(s.train.user, s.train.time, strict=True))) & set(
        map(tuple, zip(s.test.user, s.test.time, strict=True)))
    if vw:
        assert ((s.validation.time >= val_lo) & (s.validation.time < test_lo)).all()
        assert len(s.train_validation) == int((X.time < test_lo).sum())


def test_live_split_matches_the_twitch_windows():
    # steps 0..999; validation [500, 750), test [750, 999]
    rng = np.random.default_rng(0)
    n = 3000
    X = Interactions.from_arrays(rng.integers(0, 50, n), rng.integers(0, 30, n), time=rng.integers(0, 1000, n))
    s = live_split(X, test_window=249, validation_window=250, history_len=16)
    assert s.test.time.min() >= 750 and s.validation.time.max() < 750 and s.validation.time.min() >= 500
    assert s.train.time.max() < 500
    assert np.bincount(s.history.user_codes).max() <= 16


def test_live_split_min_history_drops_cold_cases():
    X = Interactions.from_arrays([1, 1, 2], ["a", "b", "c"], time=[0, 9, 9])
    s = live_split(X, test_window=2)
    assert s.test.user.tolist() == [1]
    assert live_split(X, test_window=2, min_history=0).test.user.tolist() == [1, 2]


def test_live_split_warns_about_targets_off_air():
    X = Interactions.from_arrays([1, 1], ["a", "b"], time=[0, 9])
    schedule = LiveSchedule.from_arrays(["a", "b"], [0, 0], [1, 5])
    with pytest.warns(UserWarning, match="not live"):
        s = live_split(X, schedule, test_window=2)
    assert s.schedule is schedule


def test_live_split_with_datetimes_and_timedeltas():
    t = np.array(["2024-01-01T00", "2024-01-01T10", "2024-01-01T20", "2024-01-01T23"], dtype="datetime64[ns]")
    X = Interactions.from_arrays([1, 1, 1, 2], list("abcd"), time=t)
    s = live_split(X, test_window=np.timedelta64(5, "h"), validation_window=np.timedelta64(12, "h"))
    assert s.test.item.tolist() == ["c"]  # user 2 has no earlier event (min_history=1)
    assert s.validation.item.tolist() == ["b"]


def test_live_split_argument_errors():
    X = Interactions.from_arrays([1, 1], ["a", "b"], time=[0, 9])
    with pytest.raises(ValueError, match="positive"):
        live_split(X, test_window=0)
    with pytest.raises(DataValidationError, match="cover all the data"):
        live_split(X, test_window=100)
    with pytest.raises(TypeError, match="LiveSchedule"):
        live_split(X, schedule="no", test_window=2)


# --- next_item_split ---------------------------------------------------------------------------
def test_next_item_split_times_each_target_after_its_users_history():
    from liverec.model_selection import next_item_split

    H = Interactions.from_arrays(["u", "u", "v"], ["a", "b", "a"], time=[3, 7, 1])
    train = H.select(H.time < 7)
    s = next_item_split(H, users=["v", "u"], targets=["b", "zzz"], train=train)
    assert s.test.time.tolist() == [2.0, 8.0]
    assert s.test.users is H.users and s.train is train and s.history is H
    assert "zzz" in s.test.items  # unknown targets are kept (evaluate counts them as misses)
    with pytest.raises(DataValidationError, match="one target per user"):
        next_item_split(H, users=["u"], targets=["a", "b"])
