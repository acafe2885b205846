"""Ids and times never change meaning, and every common input form works (issue 13, items 4-5).

One behaviour per test; each was a silent wrong result (or a raw third-party error) before.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import scipy.sparse as sp

from liverec.data import IdMap, Interactions, LiveSchedule, TextEvents
from liverec.exceptions import DataTypeError, DataValidationError, LiverecError
from liverec.model_selection import live_split, temporal_split
from liverec.models import ALS, Popularity

DAYS = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[D]")


def _dt_data() -> Interactions:
    return Interactions.from_arrays([1, 2, 1, 2], ["a", "b", "b", "a"], time=DAYS)


def _dt_schedule() -> LiveSchedule:
    return LiveSchedule.from_arrays(["a", "b"], DAYS[:2], np.array(["9999-12-31", "2024-01-05"], dtype="datetime64[D]"))


# Ids ---------------------------------------------------------------------------------------------
def test_mixed_int_and_str_ids_are_refused_with_column_row_and_fix() -> None:
    with pytest.raises(DataTypeError, match=r"column 'user' mixes int and str ids: row 1 .*'1'.*all str.*all int"):
        Interactions.from_arrays([1, "1", 2], ["a", "b", "c"])


def test_mixed_ids_in_a_pandas_object_column_are_refused() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataTypeError, match="column 'item' mixes"):
        Interactions.from_frame(pd.DataFrame({"user": [1, 2, 3], "item": pd.Series(["a", 7, "b"], dtype=object)}))


def test_schedule_item_ids_of_mixed_types_are_refused() -> None:
    with pytest.raises(DataTypeError, match="column 'item' mixes"):
        LiveSchedule.from_arrays([1, "1"], [0, 0], [1, 1])


def test_text_item_ids_of_mixed_types_are_refused() -> None:
    with pytest.raises(DataTypeError, match="column 'item' mixes"):
        TextEvents.from_arrays([1, "1"], ["x", "y"], kind="title")


def test_whole_float_ids_become_int64() -> None:
    X = Interactions.from_arrays([1.0, 2.0, 1.0], [3.0, 3.0, 4.0])
    assert X.users.ids.dtype == np.int64 and X.users.ids.tolist() == [1, 2]


def test_fractional_float_ids_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"column 'user': id 1.5 at row 1 is not a whole number"):
        Interactions.from_arrays([1.0, 1.5], [1, 2])


def test_float_ids_beyond_2_to_the_53_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"column 'user'.*row 0 is beyond 2\*\*53.*str"):
        Interactions.from_arrays([2.0**63, 2.0**64], [1, 2])


def test_uint64_ids_above_int64_are_refused() -> None:
    ids = np.array([5, 2**63 + 1], dtype=np.uint64)
    with pytest.raises(DataValidationError, match=r"column 'user': id 9223372036854775809 at row 1 .*strings"):
        Interactions.from_arrays(ids, [1, 2])


def test_uint64_ids_within_int64_are_kept_exactly() -> None:
    ids = np.array([5, 2**63 - 1], dtype=np.uint64)
    assert Interactions.from_arrays(ids, [1, 2]).to_dict()["user"].tolist() == [5, 2**63 - 1]


def test_python_ints_beyond_int64_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"column 'item': id 36893488147419103232 at row 1 does not fit in int64"):
        Interactions.from_arrays([1, 2], [3, 2**65])


def test_huge_python_ints_within_int64_stay_distinct() -> None:
    big = [2**62 + 1, 2**62 + 2]
    assert Interactions.from_arrays(big, [1, 1]).to_dict()["user"].tolist() == big


def test_bool_ids_are_refused() -> None:
    with pytest.raises(DataTypeError, match=r"column 'user': boolean id True at row 0.*merge with 1"):
        Interactions.from_arrays([True, 1], [1, 2])


def test_bool_array_ids_are_refused() -> None:
    with pytest.raises(DataTypeError, match="column 'item': boolean ids"):
        Interactions.from_arrays([1, 2], np.array([True, False]))


def test_other_id_types_are_refused() -> None:
    with pytest.raises(DataTypeError, match=r"column 'user': id .* of type datetime at row 0"):
        Interactions.from_arrays([dt.datetime(2024, 1, 1)], [1])


def test_utf8_bytes_ids_become_str() -> None:
    assert Interactions.from_arrays([b"a", b"b"], [1, 2]).users.ids.tolist() == ["a", "b"]


def test_idmap_extend_refuses_ids_of_the_other_type() -> None:
    with pytest.raises(DataTypeError, match=r"IdMap\('id'\).extend: the map holds str ids but the new ids are int"):
        IdMap(["1", "x"]).extend([1, 2])


def test_interactions_with_an_existing_map_refuse_the_other_id_type() -> None:
    X = Interactions.from_arrays(["1", "2"], ["a", "b"])
    with pytest.raises(DataTypeError, match="extend"):
        Interactions.from_arrays([1], ["a"], users=X.users)


def test_idmap_of_ints_never_matches_a_str_query() -> None:
    m = IdMap([1, 2])
    assert m.codes(["1"], missing="ignore").tolist() == [-1]
    assert m.codes(np.array(["1", "2"]), missing="ignore").tolist() == [-1, -1]
    assert "1" not in m and 1 in m


def test_idmap_of_str_never_matches_an_int_query() -> None:
    m = IdMap(["1", "2"])
    assert m.codes([1, 2], missing="ignore").tolist() == [-1, -1]
    assert m.codes(np.array([1]), missing="ignore").tolist() == [-1]


def test_idmap_mixed_query_matches_each_id_against_its_own_type() -> None:
    assert IdMap([1, 2]).codes([2, "1", True, 1.0], missing="ignore").tolist() == [1, -1, -1, 0]


def test_idmap_query_with_uint64_above_int64_is_unknown() -> None:
    m = IdMap([2**63 - 1])
    assert m.codes(np.array([2**63], dtype=np.uint64), missing="ignore").tolist() == [-1]


# CSV ----------------------------------------------------------------------------------------------
def test_read_csv_keeps_ids_exactly_as_written(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item,time\n007,1,5\n7,01,6\n")
    X = Interactions.read_csv(path)
    assert X.users.ids.tolist() == ["007", "7"] and X.items.ids.tolist() == ["01", "1"]
    assert X.time.tolist() == [5.0, 6.0] and X.time_kind == "numeric"


def test_read_csv_id_type_int_parses_integer_ids(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item\n007,a\n7,b\n")
    assert Interactions.read_csv(path, id_type={"user": "int"}).users.ids.tolist() == [7]


def test_read_csv_id_type_int_refuses_a_cell_that_is_not_an_integer(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item\n1,2\n3.5,4\n")
    with pytest.raises(DataValidationError, match=r"column 'user': '3.5' at row 1 is not an integer"):
        Interactions.read_csv(path, id_type="int")


def test_read_csv_parses_iso_times_and_numeric_weights(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item,time,weight\nu,a,2024-01-01T10:00:00Z,2.5\nu,b,2024-01-01T12:00:00+02:00,1\n")
    X = Interactions.read_csv(path)
    assert X.time_kind == "datetime" and X.weight.tolist() == [2.5, 1.0]
    assert X.to_dict()["time"].tolist() == [dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 10)]


def test_read_csv_refuses_rows_with_an_extra_field(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item,time\n1,2,3,4\n5,6,7,8\n")
    with pytest.raises(DataValidationError, match=r"line 2: 4 fields but the header has 3"):
        Interactions.read_csv(path)


def test_read_csv_refuses_a_row_with_a_missing_field(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item,time\n1,2,3\n5,6\n")
    with pytest.raises(DataValidationError, match=r"line 3: 2 fields but the header has 3"):
        Interactions.read_csv(path)


def test_read_csv_refuses_a_file_that_is_not_utf8(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"user,item\n1,\xff\n")
    with pytest.raises(DataValidationError, match="line 2: not UTF-8"):
        Interactions.read_csv(path)


def test_read_csv_refuses_a_repeated_column_name(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item,user\n1,2,3\n")
    with pytest.raises(DataValidationError, match="names column 'user' twice"):
        Interactions.read_csv(path)


def test_schedule_read_csv_keeps_item_ids_as_written(tmp_path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("item,start,end\n007,0,10\n7,0,10\n")
    assert LiveSchedule.read_csv(path).items.ids.tolist() == ["007", "7"]


# Times --------------------------------------------------------------------------------------------
def test_datetimes_after_2262_keep_their_value() -> None:
    t = np.array(["2300-01-01", "2500-06-01T12:00"], dtype="datetime64[s]")
    out = Interactions.from_arrays([1, 2], [1, 2], time=t).to_dict()["time"]
    np.testing.assert_array_equal(out, t.astype("datetime64[us]"))


def test_datetimes_before_1678_keep_their_value() -> None:
    t = np.array(["1500-01-01"], dtype="datetime64[D]")
    assert Interactions.from_arrays([1], [1], time=t).to_dict()["time"][0] == np.datetime64("1500-01-01")


def test_datetimes_beyond_year_9999_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"column 'time': datetime 12000 at row 1 is outside the supported range"):
        Interactions.from_arrays([1, 2], [1, 2], time=np.array(["2000", "12000"], dtype="datetime64[Y]"))


def test_an_object_column_mixing_datetimes_and_numbers_is_refused() -> None:
    col = np.array([np.datetime64("2020-01-01"), np.datetime64("2020-01-02"), 5.0], dtype=object)
    with pytest.raises(DataTypeError, match=r"column 'time' mixes numbers and datetimes: row 2 holds 5.0"):
        Interactions.from_arrays([1, 2, 3], [1, 2, 3], time=col)


def test_strings_mixing_numbers_and_iso_dates_are_refused() -> None:
    with pytest.raises(DataTypeError, match="column 'time' mixes numbers and datetimes: row 1"):
        Interactions.from_arrays([1, 2, 3], [1, 2, 3], time=["2024-01-01", "5", "2024-01-03"])


def test_numeric_times_beyond_2_to_the_53_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"column 'time': time .* at row 1 is beyond \+-2\*\*53"):
        Interactions.from_arrays([1, 2], [1, 2], time=np.array([1, 2**60], dtype=np.int64))


def test_boolean_times_are_refused() -> None:
    with pytest.raises(DataTypeError, match="column 'time': boolean times"):
        Interactions.from_arrays([1, 2], [1, 2], time=np.array([True, False]))


def test_durations_are_not_times() -> None:
    with pytest.raises(DataTypeError, match="durations"):
        Interactions.from_arrays([1], [1], time=np.array([5], dtype="timedelta64[s]"))


def test_a_schedule_may_end_on_9999_12_31() -> None:
    s = _dt_schedule()
    assert s.to_dict()["end"][0] == np.datetime64("9999-12-31")
    assert s.live_at(np.datetime64("5000-01-01")).tolist() == ["a"]


def test_tz_aware_pandas_times_are_converted_to_utc() -> None:
    pd = pytest.importorskip("pandas")
    t = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-01 12:00"]).tz_localize("Europe/Paris"))
    X = Interactions.from_frame({"user": [1, 2], "item": [1, 2], "time": t})
    assert X.to_dict()["time"].tolist() == [dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 11)]


def test_naive_times_are_taken_as_utc() -> None:
    naive = Interactions.from_arrays([1], [1], time=["2024-01-01T10:00"]).time
    aware = Interactions.from_arrays([1], [1], time=[dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone.utc)]).time
    assert naive.tolist() == aware.tolist()


def _time_forms() -> dict[str, object]:
    pd = pytest.importorskip("pandas")
    return {
        "datetime64[s]": np.datetime64("2024-01-02T12:00", "s"),
        "datetime64[ns]": np.datetime64("2024-01-02T12:00", "ns"),
        "datetime64[D]+12h": np.datetime64("2024-01-02") + np.timedelta64(12, "h"),
        "datetime": dt.datetime(2024, 1, 2, 12),
        "aware datetime": dt.datetime(2024, 1, 2, 13, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "pd.Timestamp": pd.Timestamp("2024-01-02 12:00"),
        "aware pd.Timestamp": pd.Timestamp("2024-01-02 13:00", tz="Europe/Paris"),
        "ISO string": "2024-01-02T12:00",
        "ISO string with Z": "2024-01-02T12:00:00Z",
    }


FORMS = ["datetime64[s]", "datetime64[ns]", "datetime64[D]+12h", "datetime", "aware datetime", "pd.Timestamp",
         "aware pd.Timestamp", "ISO string", "ISO string with Z"]


@pytest.mark.parametrize("form", FORMS)
def test_every_time_form_works_in_before(form: str) -> None:
    assert len(_dt_data().before(_time_forms()[form])) == 2


@pytest.mark.parametrize("form", FORMS)
def test_every_time_form_works_in_live_at(form: str) -> None:
    assert _dt_schedule().live_at(_time_forms()[form]).tolist() == ["a", "b"]


@pytest.mark.parametrize("form", FORMS)
def test_every_time_form_works_in_temporal_split(form: str) -> None:
    assert len(temporal_split(_dt_data(), at=_time_forms()[form]).train) == 2


@pytest.mark.parametrize("form", FORMS)
def test_every_time_form_works_in_recommend_at(form: str) -> None:
    model = Popularity().fit(_dt_data(), schedule=_dt_schedule())
    assert sorted(model.recommend(1, k=2, at=_time_forms()[form])[0]) == ["a", "b"]


def test_a_date_is_midnight_utc() -> None:
    assert len(_dt_data().before(dt.date(2024, 1, 3))) == 2


def test_a_series_of_timestamps_works_in_live_at() -> None:
    pd = pytest.importorskip("pandas")
    t = pd.Series(pd.to_datetime(["2024-01-02", "2030-01-01"]).tz_localize("UTC"))
    assert [x.tolist() for x in _dt_schedule().live_at(t)] == [["a", "b"], ["a"]]


def test_a_datetime_at_against_a_model_fitted_on_numbers_is_refused() -> None:
    model = Popularity().fit(Interactions.from_arrays([1, 2], [1, 2], time=[5, 6]))
    with pytest.raises(DataTypeError, match="at: got a datetime time but the data this Popularity was fitted on has numeric"):
        model.recommend(1, at=np.datetime64("2024-01-01"))


def test_a_numeric_at_against_a_model_fitted_on_datetimes_is_refused() -> None:
    model = Popularity().fit(_dt_data())
    with pytest.raises(DataTypeError, match="at: got a numeric time but .* has datetime times"):
        model.recommend(1, at=5)


def test_a_numeric_at_against_a_datetime_schedule_is_refused() -> None:
    model = Popularity().fit(Interactions.from_arrays([1, 2], ["a", "b"]))  # no times: the schedule decides
    with pytest.raises(DataTypeError, match="the schedule has datetime times"):
        model.recommend(1, at=5, schedule=_dt_schedule())


def test_the_time_kind_survives_save_and_load(tmp_path) -> None:
    import liverec

    Popularity().fit(_dt_data()).save(str(tmp_path / "m"))
    loaded = liverec.load(str(tmp_path / "m"))
    assert loaded.time_kind_ == "datetime"
    with pytest.raises(DataTypeError):
        loaded.recommend(1, at=5)


def test_live_at_refuses_a_time_of_the_other_kind() -> None:
    with pytest.raises(DataTypeError, match="t: got a numeric time but the schedule has datetime"):
        _dt_schedule().live_at(5.0)
    with pytest.raises(DataTypeError, match="t: got a datetime time but the schedule has numeric"):
        LiveSchedule.from_arrays(["a"], [0], [10]).live_at(np.datetime64("2024-01-01"))


def test_before_refuses_a_time_of_the_other_kind() -> None:
    with pytest.raises(DataTypeError, match="got a numeric time but the data has datetime"):
        _dt_data().before(5)


def test_splits_refuse_a_time_of_the_other_kind() -> None:
    with pytest.raises(DataTypeError, match="at: got a datetime time but the interactions have|at: got a datetime"):
        temporal_split(Interactions.from_arrays([1, 2], [1, 2], time=[1, 2]), at="2024-01-01")
    with pytest.raises(DataTypeError, match="end: got a numeric time"):
        live_split(_dt_data(), test_window=86400, end=5)


def test_concat_refuses_row_order_times_with_numeric_times() -> None:
    with pytest.raises(DataTypeError, match="cannot concatenate order times with numeric times"):
        Interactions.from_arrays([1], [1]).concat(Interactions.from_arrays([2], [2], time=[5]))


def test_concat_of_row_order_data_keeps_the_row_order() -> None:
    both = Interactions.from_arrays([1, 2], [1, 2]) + Interactions.from_arrays([3, 4], [3, 4])
    assert both.time.tolist() == [0, 1, 2, 3]


# Models and queries --------------------------------------------------------------------------------
def test_recommend_refuses_a_2d_array_of_users() -> None:
    model = Popularity().fit(Interactions.from_arrays([1, 2], [1, 2], time=[5, 6]))
    with pytest.raises(DataValidationError, match=r"users must be one id or a 1-D sequence of ids, got an array of shape \(2, 2\)"):
        model.recommend(np.array([[1, 2], [2, 1]]), k=1)


def test_predict_refuses_a_2d_array_of_users() -> None:
    model = Popularity().fit(Interactions.from_arrays([1, 2], [1, 2], time=[5, 6]))
    with pytest.raises(DataValidationError, match=r"users must be one id or a 1-D sequence"):
        model.predict(np.array([[1, 2]]), [1, 2])


def test_popularity_sum_refuses_negative_weights() -> None:
    X = Interactions.from_arrays([1, 2], [1, 2], weight=[-1.0, 2.0])
    with pytest.raises(DataValidationError, match=r"column 'weight': Popularity\(weighting='sum'\) needs finite weights >= 0.*-1.0 at row 0"):
        Popularity(weighting="sum").fit(X)


def test_als_and_popularity_refuse_negative_weights_alike() -> None:
    X = Interactions.from_arrays([1, 2], [1, 2], weight=[2.0, -3.0])
    with pytest.raises(DataValidationError, match=r"column 'weight': ALS needs finite weights >= 0 .*-3.0 at row 1"):
        ALS(weighting="sum", n_factors=2, n_epochs=1).fit(X)


# Polars --------------------------------------------------------------------------------------------
def test_from_frame_accepts_a_polars_frame_without_event_or_weight_columns() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"user": [1, 2, 2], "item": ["a", "b", "a"], "time": [1.0, 2.0, 3.0]})
    X = Interactions.from_frame(df)
    assert X.to_dict()["user"].tolist() == [1, 2, 2] and X.event is None and X.weight is None


def test_from_frame_polars_reads_event_weight_and_aware_times() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"user": ["u", "v"], "item": [1, 2], "event": ["view", "like"], "weight": [2.0, 3.0],
                       "time": [dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 11)]})
    df = df.with_columns(pl.col("time").dt.replace_time_zone("Europe/Paris"))
    X = Interactions.from_frame(df)
    assert X.event_names.tolist() == ["view", "like"] and X.weight.tolist() == [2.0, 3.0]
    assert X.to_dict()["time"].tolist() == [dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 10)]


def test_from_frame_polars_missing_required_column_is_a_liverec_error() -> None:
    pl = pytest.importorskip("polars")
    with pytest.raises(DataValidationError, match="the user column 'viewer' is not in the data"):
        Interactions.from_frame(pl.DataFrame({"user": [1], "item": [2]}), user="viewer")


def test_schedule_from_polars_frame() -> None:
    pl = pytest.importorskip("polars")
    s = LiveSchedule.from_frame(pl.DataFrame({"item": ["a"], "start": [0], "end": [5]}))
    assert s.live_at(1).tolist() == ["a"]


# from_csr --------------------------------------------------------------------------------------------
def test_from_csr_values_become_weights_and_round_trip() -> None:
    m = sp.csr_matrix(np.array([[0, 3.0, 0], [1.5, 0, 2.0]]))
    X = Interactions.from_csr(m, users=["ann", "bob"], items=["a", "b", "c"])
    assert X.user.tolist() == ["ann", "bob", "bob"] and X.item.tolist() == ["b", "a", "c"]
    assert X.weight.tolist() == [3.0, 1.5, 2.0] and X.time_kind == "order"
    assert (X.to_csr("sum") != m).nnz == 0


def test_from_csr_ids_default_to_row_and_column_indices_and_keep_empty_rows() -> None:
    X = Interactions.from_csr(sp.coo_matrix(([1.0], ([2], [1])), shape=(4, 3)))
    assert X.users.ids.tolist() == [0, 1, 2, 3] and X.items.ids.tolist() == [0, 1, 2]
    assert X.to_csr().shape == (4, 3)


def test_from_csr_count_repeats_events() -> None:
    X = Interactions.from_csr(sp.csc_matrix(np.array([[2, 0], [0, 1]])), values="count")
    assert X.user.tolist() == [0, 0, 1] and X.weight is None


def test_from_csr_binary_has_no_weight() -> None:
    X = Interactions.from_csr(sp.csr_array(np.array([[5.0, 0], [0, 7.0]])), values="binary")
    assert len(X) == 2 and X.weight is None


def test_from_csr_refuses_explicit_zeros() -> None:
    m = sp.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 1, 2])), shape=(2, 2))
    with pytest.raises(DataValidationError, match=r"explicitly stored zero at row 0, column 0.*eliminate_zeros"):
        Interactions.from_csr(m)


def test_from_csr_refuses_nan() -> None:
    with pytest.raises(DataValidationError, match=r"NaN or infinite value at row 1, column 0"):
        Interactions.from_csr(sp.csr_matrix(np.array([[1.0, 0], [np.nan, 0]])))


def test_from_csr_count_refuses_negative_or_fractional_counts() -> None:
    with pytest.raises(DataValidationError, match=r"counts must be whole numbers >= 1, got at row 0, column 1"):
        Interactions.from_csr(sp.csr_matrix(np.array([[0, -2.0]])), values="count")


def test_from_csr_refuses_ids_of_the_wrong_length() -> None:
    with pytest.raises(DataValidationError, match="users has 1 ids but the matrix has 2 rows"):
        Interactions.from_csr(sp.eye(2, format="csr"), users=["a"])


def test_from_csr_refuses_a_dense_array() -> None:
    with pytest.raises(DataTypeError, match="expects a scipy.sparse matrix"):
        Interactions.from_csr(np.eye(2))


def test_every_refusal_here_is_a_liverec_error() -> None:
    for bad in ([1, "1"], [True], [1.5], [object()]):
        with pytest.raises(LiverecError):
            Interactions.from_arrays(bad, [1] * len(bad))
