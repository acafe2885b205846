"""Open broadcasts and live on/off-air updates of ``LiveSchedule``."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from liverec.data import Interactions, LiveSchedule
from liverec.exceptions import DataTypeError, DataValidationError


def _brute(schedule: LiveSchedule, t: float) -> set[object]:
    items, codes, start, end = schedule.columns()
    live = (start <= t) & (t < end)
    return set(items.take(codes[live]).tolist())


def test_a_missing_end_is_an_open_broadcast() -> None:
    s = LiveSchedule.from_arrays(["a", "b", "c"], [0, 5, 1], [10, None, np.nan])
    assert sorted(s.live_at(1e12).tolist()) == ["b", "c"] and s.n_open == 2


def test_end_none_opens_every_broadcast() -> None:
    s = LiveSchedule.from_arrays(["a", "b"], [0, 5])
    assert s.live_at(4).tolist() == ["a"] and np.isinf(s.end).all()


def test_a_nat_end_is_open_for_a_datetime_schedule() -> None:
    start = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[s]")
    end = np.array(["2024-01-03", "NaT"], dtype="datetime64[s]")
    s = LiveSchedule.from_arrays(["a", "b"], start, end)
    assert s.live_at("2030-01-01").tolist() == ["b"]
    assert np.isnat(s.to_dict()["end"]).tolist() == [False, True]


def test_open_ends_show_as_nan_in_to_dict_and_round_trip() -> None:
    s = LiveSchedule.from_arrays(["a", "b"], [0, 5], [10, None])
    d = s.to_dict()
    assert np.isnan(d["end"]).tolist() == [False, True]
    back = LiveSchedule.from_arrays(**d)
    assert np.array_equal(back.end, s.end)


def test_end_before_start_and_mixed_kinds_are_still_refused() -> None:
    with pytest.raises(DataValidationError, match="end <= start"):
        LiveSchedule.from_arrays(["a", "b"], [0, 5], [None, 4])
    with pytest.raises(DataValidationError, match="both be datetimes or both numbers"):
        LiveSchedule.from_arrays(["a", "b"], [0, 5], [None, np.datetime64("2024-01-01")])
    with pytest.raises(DataValidationError):
        LiveSchedule.from_arrays(["a"], [None], [5])


def test_on_air_then_off_air_closes_the_broadcast() -> None:
    s = LiveSchedule.empty().on_air("a", 5)
    assert s.live_at(100).tolist() == ["a"]
    s.off_air("a", 8)
    assert [x.tolist() for x in s.live_at([4, 5, 7.9, 8])] == [[], ["a"], ["a"], []]
    assert s.n_open == 0


def test_on_air_of_an_item_already_on_air_is_refused() -> None:
    s = LiveSchedule.empty().on_air("a", 5)
    with pytest.raises(DataValidationError, match="already on air"):
        s.on_air("a", 6)


def test_off_air_of_an_item_not_on_air_is_refused() -> None:
    s = LiveSchedule.from_arrays(["a"], [0], [10])
    with pytest.raises(DataValidationError, match="not on air"):
        s.off_air("a", 5)
    with pytest.raises(DataValidationError, match="not on air"):
        s.off_air("zzz", 5)


def test_off_air_not_after_the_start_is_refused() -> None:
    s = LiveSchedule.empty().on_air("a", 5)
    with pytest.raises(DataValidationError, match="not after its broadcast started"):
        s.off_air("a", 5)
    assert s.n_open == 1


def test_a_bad_change_in_a_batch_changes_nothing() -> None:
    s = LiveSchedule.empty().on_air("a", 0)
    with pytest.raises(DataValidationError):
        s.update(["b", "a"], [1, 2], on_air=[True, True])
    assert s.live_at(5).tolist() == ["a"] and "b" not in s.items.ids.tolist()


def test_update_applies_changes_in_order() -> None:
    s = LiveSchedule.empty().update(["a", "a", "a"], [0, 2, 4], on_air=[True, False, True])
    assert [x.tolist() for x in s.live_at([1, 3, 5])] == [["a"], [], ["a"]]


def test_new_items_follow_the_strict_id_rules() -> None:
    s = LiveSchedule.empty().on_air(1, 0)
    with pytest.raises(DataTypeError):
        s.on_air("1", 1)


def test_times_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(DataTypeError):
        LiveSchedule.empty().on_air("a", "2024-01-01")
    with pytest.raises(DataTypeError):
        LiveSchedule.empty(time_kind="datetime").on_air("a", 5)


def test_live_codes_remap_follows_a_growing_item_map() -> None:
    X = Interactions.from_arrays(["u"] * 3, ["a", "b", "c"])
    s = LiveSchedule.empty().on_air("a", 0)
    assert s.live_codes(1, items=X.items)[1].tolist() == [0]
    s.on_air("c", 1)  # grows the schedule's map: the cached lookup table must follow
    assert s.live_codes(2, items=X.items)[1].tolist() == [0, 2]


def test_open_broadcasts_with_history_use_the_index_correctly() -> None:
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1000, 300)
    s = LiveSchedule.from_arrays(np.arange(300) % 40, start, start + rng.uniform(1, 20, 300))
    for i in range(2500):  # passes the rebuild threshold more than once
        s.on_air(1000 + i, 1000.0 + i)
        if i % 3 == 0:
            s.off_air(1000 + i, 1000.5 + i)
    for t in (10.0, 500.0, 1500.2, 3600.0):
        assert set(s.live_at(t).tolist()) == _brute(s, t)


def test_concurrent_readers_see_consistent_snapshots() -> None:
    s = LiveSchedule.empty()
    n_rooms, n_steps = 50, 3000
    errors: list[str] = []
    stop = threading.Event()
    opened_ever: set[int] = set()

    def writer() -> None:
        rng = np.random.default_rng(1)
        on: set[int] = set()
        for step in range(n_steps):
            room = int(rng.integers(n_rooms))
            t = float(step + 1)
            if room in on:
                s.off_air(room, t)
                on.discard(room)
            else:
                opened_ever.add(room)
                s.on_air(room, t)
                on.add(room)
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            snap = s._snap  # what a query reads: answers equal brute force over that snapshot
            t = float(np.random.default_rng().uniform(0, n_steps + 2))
            got = set(s.live_at(t).tolist())
            if not got <= set(range(n_rooms)):
                errors.append(f"unknown items {got}")
            live = (snap.start <= t) & (t < snap.end)
            want = set(snap.items.take(snap.codes[live]).tolist())
            if s._snap is snap and got != want:  # no update in between: must be exact
                errors.append(f"t={t}: {got} != {want}")

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]
    for t in (0.5, 100.0, n_steps / 2, n_steps + 1.0):
        assert set(s.live_at(t).tolist()) == _brute(s, t)
    assert set(s.items.ids.tolist()) == opened_ever


class ScheduleMachine(RuleBasedStateMachine):
    """Random on/off-air sequences against a brute-force list of broadcasts."""

    def __init__(self) -> None:
        super().__init__()
        self.s = LiveSchedule.from_arrays(["h0", "h1"], [0.0, 2.0], [5.0, None])
        self.model: list[list[object]] = [["h0", 0.0, 5.0], ["h1", 2.0, np.inf]]
        self.now = 3.0

    @rule(item=st.sampled_from(["h0", "h1", "a", "b", "c"]), dt=st.sampled_from([0.0, 0.5, 1.0, 7.0]))
    def toggle(self, item: str, dt: float) -> None:
        self.now += dt
        open_rows = [b for b in self.model if b[0] == item and b[2] == np.inf]
        if open_rows:
            if self.now <= open_rows[0][1]:
                with pytest.raises(DataValidationError):
                    self.s.off_air(item, self.now)
                return
            self.s.off_air(item, self.now)
            open_rows[0][2] = self.now
        else:
            self.s.on_air(item, self.now)
            self.model.append([item, self.now, np.inf])

    @rule(item=st.sampled_from(["a", "b"]))
    def wrong_change_is_refused(self, item: str) -> None:
        is_open = any(b[0] == item and b[2] == np.inf for b in self.model)
        with pytest.raises(DataValidationError):
            (self.s.on_air if is_open else self.s.off_air)(item, self.now + 100)

    @invariant()
    def answers_equal_brute_force(self) -> None:
        times = [0.0, 1.0, 2.5, self.now - 0.5, self.now, self.now + 1e6]
        for t, got in zip(times, self.s.live_at(times)):
            want = {b[0] for b in self.model if b[1] <= t < b[2]}
            assert set(got.tolist()) == want


TestScheduleMachine = ScheduleMachine.TestCase


def test_a_model_saved_with_open_broadcasts_answers_the_same_in_a_fresh_process(tmp_path: Path) -> None:
    from liverec.models import Popularity

    X = Interactions.from_arrays(["u1", "u2", "u1", "u3"], ["a", "b", "c", "a"], time=[1, 2, 3, 4])
    s = LiveSchedule.from_arrays(["a", "b"], [0, 0], [None, None])
    s.on_air("c", 5).off_air("b", 6)
    model = Popularity().fit(X, schedule=s)
    model.save(tmp_path / "m")
    want = model.recommend(["u1"], k=3, at=1e6).items[0].tolist()
    code = ("import sys, liverec; m = liverec.load(sys.argv[1]); "
            "print(m.recommend(['u1'], k=3, at=1e6).items[0].tolist()); print(m.schedule_.n_open)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == str(want) and out[1] == "2" and sorted(x for x in want if x is not None) == ["a", "c"]


def test_a_bad_end_next_to_open_ones_is_named_by_its_own_row() -> None:
    with pytest.raises(DataTypeError, match="at row 2"):
        LiveSchedule.from_arrays(["a", "b", "c"], [0, 1, 2], [None, 5, "x"])
