"""The data model: IdMap, Interactions, LiveSchedule, TextEvents and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liverec.data import IdMap, Interactions, LiveSchedule, TextEvents
from liverec.exceptions import DataTypeError, DataValidationError, UnknownIdError

ids_strategy = st.one_of(
    st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=60),
    # numpy fixed-width strings drop trailing NUL characters, so ids never contain them
    st.lists(st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=6), min_size=1, max_size=60),
)


# IdMap ---------------------------------------------------------------------------------------
@given(ids_strategy)
def test_idmap_round_trips_every_id(values: list) -> None:
    idmap, codes = IdMap.from_values(values)
    assert len(idmap) == len(set(values))
    assert idmap.take(codes).tolist() == values
    np.testing.assert_array_equal(idmap.codes(values), codes)


@given(ids_strategy, ids_strategy)
def test_idmap_extend_keeps_existing_codes(first: list, second: list) -> None:
    if type(first[0]) is not type(second[0]):
        return
    idmap, _ = IdMap.from_values(first)
    bigger = idmap.extend(second)
    np.testing.assert_array_equal(bigger.codes(idmap.ids), np.arange(len(idmap)))
    assert set(bigger.ids.tolist()) == set(first) | set(second)
    assert len(bigger) == len(set(first) | set(second))


def test_idmap_unknown_id_raises_keyerror_with_name() -> None:
    idmap = IdMap([1, 2], name="user")
    with pytest.raises(UnknownIdError, match="unknown user id 3") as info:
        idmap.codes([1, 3])
    assert isinstance(info.value, KeyError)
    assert idmap.codes([3, 1], missing="ignore").tolist() == [-1, 0]


def test_idmap_rejects_duplicates() -> None:
    with pytest.raises(DataValidationError, match="distinct"):
        IdMap([1, 1])


def test_idmap_lookup_of_other_dtype_is_unknown() -> None:
    assert IdMap(["a", "b"]).codes([1], missing="ignore").tolist() == [-1]


# Interactions --------------------------------------------------------------------------------
def _toy() -> Interactions:
    return Interactions.from_arrays(
        user=["u1", "u2", "u1", "u1"], item=["a", "b", "b", "a"], time=[3.0, 1.0, 2.0, 5.0],
        event=["view", "like", "view", "purchase"], weight=[10, 20, 30, 40],
    )


def test_interactions_sizes_and_repr() -> None:
    X = _toy()
    assert (len(X), X.n_users, X.n_items) == (4, 2, 2)
    assert "n_events=4" in repr(X)


def test_to_dict_gives_back_external_ids() -> None:
    d = _toy().to_dict()
    assert d["user"].tolist() == ["u1", "u2", "u1", "u1"]
    assert d["event"].tolist() == ["view", "like", "view", "purchase"]


@pytest.mark.parametrize(
    ("weighting", "expected"),
    [("count", [[2, 1], [0, 1]]), ("binary", [[1, 1], [0, 1]]), ("sum", [[50, 30], [0, 20]]),
     ("event", [[7, 1], [0, 2]]), ("last", [[40, 30], [0, 20]])],
)
def test_to_csr_weightings(weighting: str, expected: list) -> None:
    assert _toy().to_csr(weighting).toarray().tolist() == expected


def test_sequences_are_time_ordered() -> None:
    X = _toy()
    seqs = X.sequences(return_times=True)
    items, times = seqs[X.users.codes(["u1"])[0]]
    assert X.items.take(items).tolist() == ["b", "a", "a"]
    assert times.tolist() == [2.0, 3.0, 5.0]


def test_slicing_by_time_and_user_shares_maps() -> None:
    X = _toy()
    early = X.before(3.0)
    assert sorted(early.time.tolist()) == [1.0, 2.0]
    assert early.users is X.users and early.items is X.items
    assert X.after(3.0).time.tolist() == [3.0, 5.0]
    assert X.for_users(["u2"]).item.tolist() == ["b"]


def test_datetime_times_round_trip() -> None:
    t = np.array(["2026-01-01T10:00", "2026-01-01T11:30"], dtype="datetime64[s]")
    X = Interactions.from_arrays([1, 2], [1, 1], time=t)
    assert X.time_kind == "datetime"
    assert X.to_dict()["time"].astype("datetime64[s]").tolist() == t.tolist()
    assert X.between(np.datetime64("2026-01-01T11:00")).user.tolist() == [2]


def test_from_frame_accepts_a_dict_of_columns() -> None:
    X = Interactions.from_frame({"uid": [1, 2], "iid": [3, 4], "ts": [1, 2]}, user="uid", item="iid", time="ts")
    assert X.n_items == 2


def test_from_frame_accepts_pandas() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [1, 2], "item": ["x", "y"], "time": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    X = Interactions.from_frame(df)
    assert X.time_kind == "datetime" and X.to_frame().shape == (2, 3)


def test_read_csv(tmp_path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("user,item,time,event\n1,a,5,view\n2,b,6,purchase\n")
    X = Interactions.read_csv(str(path))
    assert X.event_names.tolist() == ["view", "purchase"]


def test_concat_merges_maps_and_keeps_codes() -> None:
    X = _toy()
    Y = Interactions.from_arrays(["u3", "u1"], ["c", "a"], time=[9, 10], event=["view", "view"], weight=[1, 1])
    Z = X + Y
    assert len(Z) == 6 and Z.n_users == 3 and Z.n_items == 3
    np.testing.assert_array_equal(Z.user_codes[:4], X.user_codes)
    assert Z.user[4:].tolist() == ["u3", "u1"]


def test_compact_drops_unused_ids() -> None:
    X = _toy().for_users(["u2"]).compact()
    assert X.n_users == 1 and X.n_items == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"user": [], "item": []}, DataValidationError, "empty"),
        ({"user": [1, None], "item": [1, 2]}, DataValidationError, "column 'user'.*row 1"),
        ({"user": [1, 2], "item": [1, float("nan")]}, DataValidationError, "column 'item'.*row 1"),
        ({"user": [1, 2], "item": [1, 2], "time": [1.0, float("nan")]}, DataValidationError, "column 'time'.*row 1"),
        ({"user": [1, 2], "item": [1]}, DataValidationError, "different lengths"),
        ({"user": [1, 2], "item": [1, 2], "event": ["view", "poke"]}, DataValidationError, "unknown event 'poke' at row 1"),
        ({"user": [1, 2], "item": [1, 2], "weight": [1, "lots"]}, DataTypeError, "column 'weight'.*row 1"),
        ({"user": [1, 2], "item": [1, 2], "weight": [1, 2, 3]}, DataValidationError, "column 'weight'"),
        ({"user": 5, "item": [1]}, DataTypeError, "scalar"),
    ],
)
def test_bad_input_is_named_with_row_and_fix(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Interactions.from_arrays(**kwargs)


@given(st.integers(2, 40), st.data(), st.sampled_from(["user", "item", "time", "weight"]),
       st.sampled_from([None, float("nan")]))
def test_a_missing_value_anywhere_is_reported_at_its_row(n: int, data: st.DataObject, column: str, missing: object) -> None:
    row = data.draw(st.integers(0, n - 1))
    columns: dict[str, list] = {"user": list(range(n)), "item": [i % 3 for i in range(n)],
                                "time": [float(i) for i in range(n)], "weight": [1.0] * n}
    columns[column][row] = missing
    with pytest.raises(DataValidationError, match=rf"column '{column}'.* row {row}\b"):
        Interactions.from_arrays(**columns)


def test_custom_event_vocabulary() -> None:
    X = Interactions.from_arrays([1], [1], event=["poke"], event_types=["poke", "view"])
    assert X.event_names.tolist() == ["poke"]


def test_errors_subclass_builtins() -> None:
    assert issubclass(DataValidationError, ValueError) and issubclass(DataTypeError, TypeError)


# LiveSchedule ---------------------------------------------------------------------------------
broadcasts = st.lists(
    st.tuples(st.integers(0, 8), st.floats(0, 100, allow_nan=False), st.floats(0.01, 30, allow_nan=False)),
    min_size=1, max_size=40,
)


@given(broadcasts, st.lists(st.floats(-5, 140, allow_nan=False), min_size=1, max_size=30))
def test_live_at_matches_brute_force(rows: list, times: list) -> None:
    item = [r[0] for r in rows]
    start = np.array([r[1] for r in rows])
    end = start + np.array([r[2] for r in rows])
    schedule = LiveSchedule.from_arrays(item, start, end)
    got = schedule.live_at(times)
    for t, live in zip(times, got):
        expected = sorted({i for i, s, e in zip(item, start, end) if s <= t < e})
        assert sorted(live.tolist()) == expected


@given(broadcasts, st.lists(st.tuples(st.integers(0, 9), st.floats(-5, 140, allow_nan=False)), min_size=1, max_size=30))
def test_is_live_matches_brute_force(rows: list, queries: list) -> None:
    item = [r[0] for r in rows]
    start = np.array([r[1] for r in rows])
    end = start + np.array([r[2] for r in rows])
    schedule = LiveSchedule.from_arrays(item, start, end)
    got = schedule.is_live([q[0] for q in queries], [q[1] for q in queries])
    expected = [any(i == q_item and s <= q_t < e for i, s, e in zip(item, start, end)) for q_item, q_t in queries]
    assert got.tolist() == expected


def test_live_at_scalar_returns_ids() -> None:
    s = LiveSchedule.from_arrays(["a", "b"], [0, 5], [10, 6])
    assert s.live_at(5).tolist() == ["a", "b"]
    assert s.live_at(10).tolist() == []  # end is exclusive


def test_live_matrix_follows_another_map() -> None:
    s = LiveSchedule.from_arrays(["a", "b"], [0, 0], [10, 10])
    m = s.live_matrix([1.0], items=IdMap(["b", "z"]))
    assert m.toarray().tolist() == [[True, False]]


def test_schedule_rejects_end_before_start() -> None:
    with pytest.raises(DataValidationError, match="end <= start at row 1"):
        LiveSchedule.from_arrays(["a", "b"], [0, 5], [1, 5])


def test_schedule_with_datetimes() -> None:
    s = LiveSchedule.from_arrays(["a"], np.array(["2026-01-01T10:00"], "datetime64[s]"),
                                 np.array(["2026-01-01T12:00"], "datetime64[s]"))
    assert s.live_at(np.datetime64("2026-01-01T11:00")).tolist() == ["a"]


def test_live_at_is_vectorised_over_many_broadcasts() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    start = rng.uniform(0, 1e7, n)
    s = LiveSchedule.from_arrays(rng.integers(0, 20_000, n), start, start + rng.exponential(3600, n) + 1)
    queries = rng.uniform(0, 1e7, 2000)
    indptr, codes = s.live_codes(queries)
    q = 17
    brute = np.unique(s.item_codes[(start <= queries[q]) & (queries[q] < s.end)])
    np.testing.assert_array_equal(codes[indptr[q]:indptr[q + 1]], brute)


# TextEvents -----------------------------------------------------------------------------------
def test_text_events_kinds_and_validation() -> None:
    T = TextEvents.from_arrays([1, 1, 2], ["好物推荐", "hello", ""], time=[0, 1, 2],
                               kind=["comment", "transcript", "title"], user=[7, None, None])
    assert T.of_kind("comment").text.tolist() == ["好物推荐"]
    assert T.user.tolist() == [7, None, None]
    with pytest.raises(DataValidationError, match="column 'text'.*row 1"):
        TextEvents.from_arrays([1, 2], ["ok", None])
    with pytest.raises(DataValidationError, match="unknown kind 'tweet'"):
        TextEvents.from_arrays([1], ["x"], kind="tweet")
