"""Interactions.read_parquet: Parquet files and directories, streamed in record batches."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from liverec.data import Interactions  # noqa: E402
from liverec.exceptions import DataTypeError, DataValidationError  # noqa: E402

COLUMNS = {
    "user": ["u3", "u1", "u2", "u1", "u3", "u4", "u2", "u1"],
    "item": [30, 10, 20, 20, 10, 40, 30, 10],
    "time": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    "event": ["view", "like", "view", "purchase", "view", "view", "gift", "view"],
    "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    "text": ["unused"] * 8,
}


def _write(folder: Path, sizes: tuple[int, ...] = (3, 5), row_group_size: int = 2) -> Path:
    """COLUMNS split over files of ``sizes`` rows, in row groups of ``row_group_size``."""
    start = 0
    for k, size in enumerate(sizes):
        part = {name: values[start:start + size] for name, values in COLUMNS.items()}
        pq.write_table(pa.table(part), folder / f"part-{k}.parquet", row_group_size=row_group_size)
        start += size
    return folder


def _same(a: Interactions, b: Interactions) -> None:
    assert a.users == b.users and a.items == b.items
    np.testing.assert_array_equal(a.user_codes, b.user_codes)
    np.testing.assert_array_equal(a.item_codes, b.item_codes)
    np.testing.assert_array_equal(a.time, b.time)
    assert a.time_kind == b.time_kind


def _expected(rows: slice | np.ndarray = slice(None)) -> Interactions:
    cols = {k: np.asarray(v)[rows] for k, v in COLUMNS.items()}
    return Interactions.from_arrays(cols["user"], cols["item"], cols["time"], cols["event"], cols["weight"])


def test_directory_reads_like_from_arrays(tmp_path: Path) -> None:
    got = Interactions.read_parquet(str(_write(tmp_path)))
    _same(got, _expected())
    np.testing.assert_array_equal(got.event, _expected().event)
    np.testing.assert_array_equal(got.weight, _expected().weight)


def test_small_batches_give_the_same_interactions(tmp_path: Path) -> None:
    _same(Interactions.read_parquet(str(_write(tmp_path)), batch_rows=1), _expected())


def test_single_file_with_renamed_columns(tmp_path: Path) -> None:
    pq.write_table(pa.table({"viewer": COLUMNS["user"], "room": COLUMNS["item"]}), tmp_path / "x.parquet")
    got = Interactions.read_parquet(str(tmp_path / "x.parquet"), user="viewer", item="room")
    _same(got, Interactions.from_arrays(COLUMNS["user"], COLUMNS["item"]))


def test_shards_partition_the_rows_in_order(tmp_path: Path) -> None:
    folder = _write(tmp_path, sizes=(4, 4), row_group_size=2)  # 4 row groups of 2 rows
    shards = [Interactions.read_parquet(str(folder), rank=r, world_size=2) for r in range(2)]
    _same(shards[0], _expected(slice(0, 4)))
    _same(shards[1], _expected(slice(4, 8)))


def test_shard_without_row_group_names_the_fix(tmp_path: Path) -> None:
    folder = _write(tmp_path, sizes=(8,), row_group_size=8)
    with pytest.raises(DataValidationError, match="smaller row groups"):
        Interactions.read_parquet(str(folder), rank=1, world_size=2)


@pytest.mark.parametrize("world_size", [2, 3])
def test_user_shards_read_like_in_memory_shards(tmp_path: Path, world_size: int) -> None:
    folder = _write(tmp_path, sizes=(3, 5), row_group_size=2)
    shards = [Interactions.read_parquet(str(folder), rank=r, world_size=world_size, shard_by="user", batch_rows=1)
              for r in range(world_size)]
    for r, got in enumerate(shards):
        want = _expected().shard(r, world_size)
        if len(want):
            _same(got, want)
            np.testing.assert_array_equal(got.weight, want.weight)
        else:  # an empty shard holds nothing, and says so
            assert len(got) == 0 and got.n_users == 0
    # disjoint by user, and together every row
    assert sum(len(s) for s in shards) == len(COLUMNS["user"])
    owners = [set(s.users.ids.tolist()) for s in shards]
    assert sum(len(o) for o in owners) == len(set().union(*owners)) == 4


def test_user_shards_without_time_keep_global_positions(tmp_path: Path) -> None:
    folder = _write(tmp_path, sizes=(4, 4), row_group_size=2)
    full = Interactions.read_parquet(str(folder), time=None)
    for r in range(2):
        got = Interactions.read_parquet(str(folder), time=None, rank=r, world_size=2, shard_by="user")
        mine = np.isin(full.user, got.users.ids)
        assert got.time_kind == "order" and got.time.tolist() == full.time[mine].tolist()


def test_unknown_shard_by_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="'row_group'.*'user'"):
        Interactions.read_parquet(str(_write(tmp_path)), rank=0, world_size=2, shard_by="item")


def test_without_time_column_times_are_global_positions(tmp_path: Path) -> None:
    folder = _write(tmp_path, sizes=(4, 4), row_group_size=2)
    got = Interactions.read_parquet(str(folder), time=None, rank=1, world_size=2)
    assert got.time_kind == "order" and got.time.tolist() == [4.0, 5.0, 6.0, 7.0]


def test_timestamps_become_datetime_times(tmp_path: Path) -> None:
    stamps = np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:10"], dtype="datetime64[us]")
    pq.write_table(pa.table({"user": [1, 2], "item": [1, 1], "time": stamps}), tmp_path / "t.parquet")
    got = Interactions.read_parquet(str(tmp_path / "t.parquet"))
    assert got.time_kind == "datetime" and got.time[1] - got.time[0] == 10.0


def test_missing_id_names_file_and_row(tmp_path: Path) -> None:
    pq.write_table(pa.table({"user": ["a", None], "item": [1, 2]}), tmp_path / "bad.parquet")
    with pytest.raises(DataValidationError, match=r"column 'user': missing id at .*bad.parquet.* row 1"):
        Interactions.read_parquet(str(tmp_path / "bad.parquet"))


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    pq.write_table(pa.table({"viewer": ["a"], "item": [1]}), tmp_path / "x.parquet")
    with pytest.raises(DataValidationError, match=r"user column 'user' is not in the file .*viewer"):
        Interactions.read_parquet(str(tmp_path / "x.parquet"))


def test_id_type_changing_between_files_is_refused(tmp_path: Path) -> None:
    pq.write_table(pa.table({"user": ["a"], "item": [1]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"user": [5], "item": [1]}), tmp_path / "b.parquet")
    with pytest.raises(DataTypeError, match="one id type"):
        Interactions.read_parquet(str(tmp_path))


def test_directory_without_parquet_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="no .parquet files"):
        Interactions.read_parquet(str(tmp_path))


def test_rank_without_world_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="both rank and world_size"):
        Interactions.read_parquet(str(_write(tmp_path)), rank=0)


def test_without_pyarrow_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"liverec\[parquet\]"):
        Interactions.read_parquet(str(tmp_path))
