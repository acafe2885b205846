"""Fuzzing the data constructors and readers (issue 13, item 7).

Every case either succeeds with a correct result (ids and times come back as given, distinct
ids stay distinct, lengths are kept) or raises a liverec error (a ``ValueError`` /
``KeyError`` / ``TypeError`` subclass of :class:`~liverec.exceptions.LiverecError`). Nothing
else: no other exception, no silent change of meaning. Examples per test come from the
Hypothesis profile (``ci``: 100), so the file stays well under a minute;
``HYPOTHESIS_PROFILE=fuzz`` runs a deeper search (the one knob every fuzz suite reads).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from liverec.data import IdMap, Interactions, LiveSchedule
from liverec.exceptions import LiverecError

FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], deadline=None)


def attempt(fn: Any) -> Any:
    """``fn()``, or ``None`` when it raised a liverec error; any other exception fails the test."""
    try:
        out = fn()
    except LiverecError as err:
        assert isinstance(err, (ValueError, KeyError, TypeError)), type(err)
        assert str(err), "a refusal must say why"
        event(f"refused: {type(err).__name__}")
        return None
    event("accepted")
    return out


# Ids ------------------------------------------------------------------------------------------------
INT64 = st.integers(-(2**63), 2**63 - 1)
scalar_ids = st.one_of(
    st.integers(-5, 5),
    st.integers(-(2**70), 2**70),
    INT64,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -1.0, 2.0**53, 2.0**63, 1.5]),
    st.text(max_size=4),
    st.sampled_from(["1", "01", "a", "a\x00", "", " "]),
    st.booleans(),
    st.binary(max_size=3),
    st.none(),
    st.just(np.datetime64("2024-01-01")),
    st.builds(np.int64, st.integers(-100, 100)),
    st.builds(np.uint64, st.integers(0, 2**64 - 1)),
)


@st.composite
def id_columns(draw: Any) -> Any:
    """A column of ids: a plain list of anything, or a typed numpy array."""
    n = draw(st.integers(1, 8))
    form = draw(st.sampled_from(["list", "one-type list", "int64", "uint64", "float", "str", "bool", "datetime"]))
    if form == "list":
        return draw(st.lists(scalar_ids, min_size=n, max_size=n))
    if form == "one-type list":
        return draw(st.one_of(st.lists(st.integers(-(2**64), 2**64), min_size=n, max_size=n),
                              st.lists(st.text(max_size=3), min_size=n, max_size=n)))
    if form == "int64":
        return np.array(draw(st.lists(INT64, min_size=n, max_size=n)), dtype=np.int64)
    if form == "uint64":
        return np.array(draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n)), dtype=np.uint64)
    if form == "float":
        return np.array(draw(st.lists(st.floats(), min_size=n, max_size=n)), dtype=np.float64)
    if form == "str":
        return np.array(draw(st.lists(st.text(max_size=3), min_size=n, max_size=n)), dtype=str)
    if form == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return np.array(draw(st.lists(st.integers(-(10**6), 10**6), min_size=n, max_size=n)), dtype="datetime64[D]")


def id_key(x: Any) -> tuple[str, Any]:
    """What an accepted id must mean: ints (and whole floats) by value, strings by text."""
    if isinstance(x, (bytes, np.bytes_)):
        return ("str", bytes(x).decode("utf-8"))
    if isinstance(x, str):
        return ("str", str(x))
    return ("int", int(x))


def check_ids(given: Any, returned: np.ndarray, idmap: IdMap) -> None:
    values = given.tolist() if isinstance(given, np.ndarray) else list(given)
    assert len(returned) == len(values)
    assert returned.dtype.kind in "iU"
    keys = [id_key(x) for x in values]
    assert len({k for k in keys}) == len({k[0] for k in keys}) * 0 + len(set(keys))
    assert len({k[0] for k in keys}) == 1, "a column of mixed id types was accepted"
    assert [id_key(x) for x in returned.tolist()] == keys  # every id exactly as given
    assert len(idmap) == len(set(keys))  # distinct ids stay distinct, equal ids merge


@FUZZ
@given(id_columns(), st.data())
def test_from_arrays_ids_are_kept_exactly_or_refused(user: Any, data: Any) -> None:
    item = data.draw(id_columns())
    X = attempt(lambda: Interactions.from_arrays(user, item))
    if X is None or len(user) != len(item):
        assert X is None
        return
    out = X.to_dict()
    assert len(X) == len(user)
    check_ids(user, out["user"], X.users)
    check_ids(item, out["item"], X.items)


@FUZZ
@given(id_columns())
def test_idmap_ids_are_kept_exactly_or_refused(ids: Any) -> None:
    m = attempt(lambda: IdMap(ids, "user"))
    if m is None:
        return
    keys = [id_key(x) for x in (ids.tolist() if isinstance(ids, np.ndarray) else ids)]
    assert len(set(keys)) == len(keys) and [id_key(x) for x in m.ids.tolist()] == keys
    assert m.codes(m.ids).tolist() == list(range(len(m)))


@FUZZ
@given(id_columns(), id_columns())
def test_idmap_extend_never_duplicates_or_recodes(first: Any, more: Any) -> None:
    built = attempt(lambda: IdMap.from_values(first, "user"))
    if built is None:
        return
    m = built[0]
    ext = attempt(lambda: m.extend(more))
    if ext is None:
        return
    assert ext.ids[: len(m)].tolist() == m.ids.tolist()  # existing codes unchanged
    assert len(set(id_key(x) for x in ext.ids.tolist())) == len(ext)  # no duplicate id
    assert (ext.codes(more) >= 0).all()
    assert {id_key(x) for x in ext.ids.tolist()} == {id_key(x) for x in m.ids.tolist()} | {
        id_key(x) for x in (more.tolist() if isinstance(more, np.ndarray) else more)}


@FUZZ
@given(id_columns(), id_columns())
def test_idmap_codes_only_match_ids_of_the_same_meaning(ids: Any, query: Any) -> None:
    built = attempt(lambda: IdMap.from_values(ids, "user"))
    if built is None:
        return
    m = built[0]
    codes = attempt(lambda: m.codes(query, missing="ignore"))
    if codes is None:
        return
    known = {id_key(x): c for c, x in enumerate(m.ids.tolist())}
    for x, c in zip(query.tolist() if isinstance(query, np.ndarray) else query, codes.tolist(), strict=True):
        if c >= 0:  # a hit must be the same id: same type, same value
            assert not isinstance(x, (bool, np.bool_))
            assert known.get(id_key(x)) == c


# Times ------------------------------------------------------------------------------------------------
UNITS = ["Y", "M", "D", "h", "m", "s", "ms", "us", "ns"]
scalar_times = st.one_of(
    st.integers(-(2**60), 2**60),
    st.floats(),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.datetimes(timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-7))]),
                 min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31)),
    st.dates(),
    st.builds(lambda v, u: np.datetime64(v, u), st.integers(-(2**40), 2**40), st.sampled_from(UNITS)),
    st.sampled_from(["2024-06-03T20:00", "2024-06-03T20:00:00Z", "2024-06-03 20:00:00+02:00", "1.5", "abc",
                     "9999-12-31", "10000-01-01", "nan", "inf", "", "now", "NaT"]),
    st.just(np.timedelta64(5, "s")),
)


@st.composite
def time_columns(draw: Any, n: int) -> Any:
    form = draw(st.sampled_from(["list", "numbers", "datetime64", "datetime64 wide", "iso", "objects"]))
    if form == "list":
        return draw(st.lists(scalar_times, min_size=n, max_size=n))
    if form == "numbers":
        return np.array(draw(st.lists(st.floats(width=64), min_size=n, max_size=n)))
    if form in ("datetime64", "datetime64 wide"):
        lim = 2**62 if form == "datetime64 wide" else 10**9
        unit = draw(st.sampled_from(UNITS))
        return np.array(draw(st.lists(st.integers(-lim, lim), min_size=n, max_size=n)), dtype=f"datetime64[{unit}]")
    if form == "iso":
        days = draw(st.lists(st.datetimes(min_value=dt.datetime(1, 1, 1)), min_size=n, max_size=n))
        return [d.isoformat() for d in days]
    return np.array(draw(st.lists(scalar_times, min_size=n, max_size=n)) + [None], dtype=object)[:n]


def expected_seconds(x: Any) -> tuple[str, float]:
    """The kind and UTC seconds a time must mean, computed without liverec."""
    if isinstance(x, str):
        try:
            return "numeric", float(x)
        except ValueError:
            x = dt.datetime.fromisoformat(x)
    if isinstance(x, np.datetime64):
        return "datetime", _datetime64_seconds(x)
    if isinstance(x, dt.datetime):
        if x.tzinfo is not None:
            x = x.astimezone(dt.timezone.utc).replace(tzinfo=None)
        delta = x - dt.datetime(1970, 1, 1)
        return "datetime", delta.days * 86400.0 + delta.seconds + delta.microseconds / 1e6
    if isinstance(x, dt.date):
        return "datetime", (x - dt.date(1970, 1, 1)).days * 86400.0
    return "numeric", float(x)


_UNIT_SECONDS = {"W": 604800, "D": 86400, "h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _datetime64_seconds(x: np.datetime64) -> float:
    unit, count = np.datetime_data(x.dtype)
    if unit in ("Y", "M"):  # calendar units: days are exact for years 1..9999
        x, unit, count = x.astype("datetime64[D]"), "D", 1
    return int(x.astype(np.int64)) * count * _UNIT_SECONDS[unit]


@FUZZ
@given(st.integers(1, 6).flatmap(time_columns))
def test_from_arrays_times_mean_what_was_given_or_are_refused(times: Any) -> None:
    n = len(times)
    X = attempt(lambda: Interactions.from_arrays(list(range(n)), [0] * n, time=times))
    if X is None:
        return
    values = times.tolist() if isinstance(times, np.ndarray) and times.dtype.kind != "M" else list(times)
    expected = [expected_seconds(x) for x in values]
    assert {k for k, _ in expected} == {X.time_kind}, "a column of mixed time kinds was accepted"
    assert np.isfinite(X.time).all() and len(X) == n
    want = np.array([s for _, s in expected])
    np.testing.assert_allclose(X.time, want, rtol=0, atol=2e-6 + float(np.abs(want).max()) * 4e-16)
    back = X.to_dict()["time"]
    if X.time_kind == "datetime":  # round trip to datetime64[us], exact within 1970 +- 285 years
        assert back.dtype == np.dtype("datetime64[us]") and not np.isnat(back).any()
        near = np.abs(want) < 2**53 / 1e6
        us = back.astype(np.int64)[near]
        np.testing.assert_allclose(us, np.round(want[near] * 1e6), rtol=0, atol=1)


@FUZZ
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(time_columns(n), time_columns(n))), st.data())
def test_schedule_broadcasts_are_live_at_their_start_or_refused(cols: Any, data: Any) -> None:
    start, end = cols
    n = len(start)
    if isinstance(start, np.ndarray) and start.dtype.kind in "fM" and data.draw(st.booleans()):
        step = np.timedelta64(1, np.datetime_data(start.dtype)[0]) if start.dtype.kind == "M" else 1.0
        end = start + step  # mostly valid broadcasts (overflow to NaT/inf is refused)
    items = data.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    s = attempt(lambda: LiveSchedule.from_arrays(items, start, end))
    if s is None:
        return
    assert len(s) == n and (s.end > s.start).all()
    for j in range(n):
        t = s.time_values("start")[j]
        assert items[j] in s.live_at(t).tolist()


# from_frame / from_csr ------------------------------------------------------------------------------------
@FUZZ
@given(id_columns(), st.data())
def test_from_frame_with_pandas_is_the_same_as_from_arrays(user: Any, data: Any) -> None:
    import pandas as pd

    n = len(user)
    item = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    frame = pd.DataFrame({"user": pd.Series(list(user), dtype=object), "item": item})
    a = attempt(lambda: Interactions.from_frame(frame))
    b = attempt(lambda: Interactions.from_arrays(user, item))
    assert (a is None) == (b is None)
    if a is not None:
        assert a.to_dict()["user"].tolist() == b.to_dict()["user"].tolist()


@FUZZ
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_from_csr_rebuilds_the_matrix_or_refuses(n_rows: int, n_cols: int, data: Any) -> None:
    values = st.one_of(st.floats(), st.integers(-3, 5).map(float), st.just(0.0))
    dense = np.array(data.draw(st.lists(st.lists(values, min_size=n_cols, max_size=n_cols),
                                        min_size=n_rows, max_size=n_rows)))
    keep = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=n_cols, max_size=n_cols),
                                       min_size=n_rows, max_size=n_rows)))
    rows, cols = np.nonzero(keep)
    fmt = data.draw(st.sampled_from(["csr", "csc", "coo", "csr_array"]))
    m: Any = sp.coo_matrix((dense[rows, cols], (rows, cols)), shape=(n_rows, n_cols))
    m = m.tocsr() if fmt == "csr" else m.tocsc() if fmt == "csc" else sp.csr_array(m) if fmt == "csr_array" else m
    mode = data.draw(st.sampled_from(["weight", "count", "binary"]))
    X = attempt(lambda: Interactions.from_csr(m, values=mode))
    if X is None:
        return
    stored = dense[rows, cols]
    assert np.isfinite(stored).all() and (stored != 0).all()
    assert (X.n_users, X.n_items) == (n_rows, n_cols)
    if mode == "weight":
        np.testing.assert_array_equal(X.to_csr("sum", dtype=np.float64).toarray(), np.where(keep, dense, 0.0))
    elif mode == "count":
        np.testing.assert_array_equal(X.to_csr("count", dtype=np.float64).toarray(), np.where(keep, dense, 0.0))
    else:
        assert len(X) == len(stored) and X.weight is None


# Readers -----------------------------------------------------------------------------------------------
def _write(content: bytes) -> Path:
    path = Path(tempfile.mkdtemp()) / "events.csv"
    path.write_bytes(content)
    return path


@FUZZ
@given(st.sampled_from([b"", b"user,item\n", b"item,start,end\n"]), st.binary(max_size=200))
def test_read_csv_on_random_bytes_reads_or_refuses(header: bytes, content: bytes) -> None:
    path = _write(header + content)
    attempt(lambda: Interactions.read_csv(path))
    attempt(lambda: LiveSchedule.read_csv(path))


field = st.one_of(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=5),
                  st.sampled_from(["007", "7", "1.0", "2024-01-01", "", "a,b", 'q"q', "x\ny", " 1 ", "-0"]))


@FUZZ
@given(st.integers(1, 6), st.data())
def test_read_csv_ids_come_back_exactly_as_written(n: int, data: Any) -> None:
    users = data.draw(st.lists(field, min_size=n, max_size=n))
    items = data.draw(st.lists(field, min_size=n, max_size=n))
    extra = data.draw(st.lists(st.sampled_from([[]] * 7 + [[""], ["x"]]), min_size=n, max_size=n))  # odd rows
    buf = io.StringIO()
    writer = csv.writer(buf)  # "\r\n" line ends: fields holding "\r" or "\n" get quoted
    writer.writerow(["user", "item"])
    for u, i, e in zip(users, items, extra, strict=True):
        writer.writerow([u, i, *e])
    path = _write(buf.getvalue().encode("utf-8"))
    X = attempt(lambda: Interactions.read_csv(path))
    if X is None:
        return
    assert not any(extra), "a row with an extra field was accepted"
    out = X.to_dict()
    assert out["user"].tolist() == users and out["item"].tolist() == items
    assert X.n_users == len(set(users))
