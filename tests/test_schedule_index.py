"""LiveSchedule's interval index: exact answers, and bounded size for very long broadcasts."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from liverec.data import LiveSchedule

FAR = float(np.datetime64("9999-12-31T00:00:00", "s").astype(np.int64))  # seconds since 1970


def _brute_force(schedule: LiveSchedule, t: float) -> set[object]:
    live = (schedule.start <= t) & (t < schedule.end)
    return set(schedule.items.take(schedule.item_codes[live]).tolist())


broadcasts = st.lists(
    st.tuples(st.integers(0, 6), st.floats(0, 1000), st.one_of(st.floats(0.01, 50), st.floats(1e3, 1e12),
                                                               st.just(FAR))),
    min_size=1, max_size=40,
)


@given(rows=broadcasts, times=st.lists(st.one_of(st.floats(-10, 2000), st.just(FAR - 1.0), st.just(1e11)),
                                        min_size=1, max_size=8))
def test_live_at_equals_a_brute_force_scan_whatever_the_broadcast_lengths(rows, times) -> None:
    items = [f"room{i}" for i, _, _ in rows]
    start = [s for _, s, _ in rows]
    end = [s + d if d != FAR else FAR for _, s, d in rows]
    schedule = LiveSchedule.from_arrays(items, start, end)
    got = schedule.live_at(times)
    for t, live in zip(times, got):
        assert set(live.tolist()) == _brute_force(schedule, t)


def test_broadcasts_ending_in_9999_keep_the_index_small() -> None:
    # 2,000 two-hour shows and 1,000 channels on air until 9999: before, each far-future
    # broadcast filled every one of the 4M time buckets (4 billion index entries)
    rng = np.random.default_rng(0)
    start = np.concatenate([rng.uniform(0, 30 * 86400, 2000), rng.uniform(0, 86400, 1000)])
    end = np.concatenate([start[:2000] + 7200, np.full(1000, FAR)])
    schedule = LiveSchedule.from_arrays(np.arange(3000) % 500, start, end)
    assert schedule._bucket_members.size <= 100 * 2000
    t = 15 * 86400.0
    assert set(schedule.live_at(t).tolist()) == _brute_force(schedule, t)


def test_a_schedule_of_only_long_broadcasts_answers_correctly() -> None:
    schedule = LiveSchedule.from_arrays(["a", "b"], [0.0, 5.0], [FAR, FAR])
    assert [sorted(x.tolist()) for x in schedule.live_at([-1.0, 1.0, 6.0])] == [[], ["a"], ["a", "b"]]
