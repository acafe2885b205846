"""Loaders for the real data files (sequence text files, MovieLens, Twitch).

Every loader checks the file as it reads it: a malformed line raises a
[`DataValidationError`][liverec.exceptions.DataValidationError] that names the file, the line number
(1-based, as editors show it) and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data import IdMap, Interactions, LiveSchedule
from ..exceptions import DataFileNotFoundError, DataValidationError

__all__ = [
    "SEQUENCE_FORMATS",
    "SequenceBenchmark",
    "TwitchData",
    "load_ml1m_seq",
    "load_movielens",
    "load_sequences",
    "load_twitch",
    "merge_intervals",
]

#: The layouts [`load_sequences`][liverec.datasets.load_sequences] reads.
SEQUENCE_FORMATS: tuple[str, ...] = ("auto", "items", "user_items", "pairs")


def _read_lines(path: str | os.PathLike[str]) -> tuple[str, list[str]]:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DataFileNotFoundError(f"no such file: {p!r}")
    if not os.path.isfile(p):
        raise DataValidationError(f"{p!r} is not a regular file (a folder?); pass the path of the data file.")
    with open(p, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")  # -sig: a leading BOM is not part of an id
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataValidationError(f"{p}, line {line}: not UTF-8 text (byte {err.start}); save the file as UTF-8.") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataValidationError(f"{p}: the file is empty; expected at least one line of ids.")
    return p, lines


def _as_int_ids(tokens: list[str], line_of: np.ndarray, path: str, what: str) -> np.ndarray:
    """Integer array of ``tokens``; the first non-integer names its line."""
    try:
        return np.array(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        for k, tok in enumerate(tokens):
            try:
                value = int(tok)
            except ValueError:
                raise DataValidationError(
                    f"{path}, line {int(line_of[k]) + 1}: {what} {tok!r} is not an integer; this format "
                    "holds integer ids separated by spaces: fix the line (or build the data with "
                    "Interactions.from_arrays for other ids)."
                ) from None
            if not -(2**63) <= value < 2**63:
                raise DataValidationError(
                    f"{path}, line {int(line_of[k]) + 1}: {what} {tok!r} is outside the int64 range; ids "
                    "of this format must fit in 64 bits (build the data with Interactions.from_arrays "
                    "and string ids for others)."
                ) from None
        raise  # pragma: no cover - numpy failed on something int() accepts


def _detect_format(counts: np.ndarray, first: list[str]) -> str:
    nonblank = counts > 0
    firsts = [f for f, ok in zip(first, nonblank.tolist(), strict=True) if ok]
    if np.all(counts[nonblank] == 2) and len(set(firsts)) < len(firsts):
        return "pairs"
    line_numbers = [str(k + 1) for k in np.flatnonzero(nonblank).tolist()]
    if len(firsts) == len(line_numbers) and firsts == line_numbers:
        return "user_items"
    return "items"


def load_sequences(path: str | os.PathLike[str], format: str = "auto") -> Interactions:
    """Read a text file of item sequences into [`Interactions`][liverec.data.Interactions].

    Three layouts, ids are integers separated by whitespace:

    * ``"items"``: one line per user holding only items, in time order; the user is the line
      number starting at 1 (ml-1m-seq's ``train_input.txt``). A blank line is a user
      without events (the numbering goes on).
    * ``"user_items"``: one line per user, ``user item item ...`` (``Beauty.txt``).
    * ``"pairs"``: one ``user item`` pair per line, each user's lines in time order
      (JODIE ``wikipedia.txt``).

    ``time`` is the position order: the index in the user's line (0, 1, ...) for the two
    line-per-user layouts, the file's line index (0-based) for ``"pairs"`` (which keeps both
    each user's order and the file's global order). ``event`` and ``weight`` are absent.

    ``format="auto"`` sniffs: ``"pairs"`` when every line has two ids and some user has
    several lines; else ``"user_items"`` when the first id of every line is its line number
    (1, 2, 3, ...); else ``"items"``. A one-pair-per-user file reads the same either way.
    A ``user item ...`` file whose users are not numbered by line is read as ``"items"``
    by the sniffer: pass ``format="user_items"`` for it.

    Args:
        path: The text file.
        format: One of `SEQUENCE_FORMATS`.

    Returns:
        The events, with integer user and item ids.

    Raises:
        FileNotFoundError: no such file.
        DataValidationError: unknown ``format``; an empty file; a non-integer id; a
            ``pairs`` line without exactly two ids; a ``user_items`` line without items or a
            user on two lines. The message names the file and line.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "seq.txt")
        >>> _ = open(path, "w").write("1 10 11 12\\n2 11 13\\n")
        >>> X = load_sequences(path)
        >>> X.users.ids.tolist(), X.items.ids.tolist(), X.time.tolist()
        ([1, 2], [10, 11, 12, 13], [0.0, 1.0, 2.0, 0.0, 1.0])
    """
    if format not in SEQUENCE_FORMATS:
        raise DataValidationError(f"format must be one of {list(SEQUENCE_FORMATS)}, got {format!r}.")
    p, lines = _read_lines(path)
    split = [ln.split() for ln in lines]
    counts = np.fromiter((len(s) for s in split), dtype=np.int64, count=len(split))
    if format == "auto":
        format = _detect_format(counts, [s[0] if s else "" for s in split])
    line_of = np.repeat(np.arange(len(split), dtype=np.int64), counts)
    flat = _as_int_ids(list(chain.from_iterable(split)), line_of, p, "id")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    if format == "pairs":
        bad = (counts != 2) & (counts != 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataValidationError(
                f"{p}, line {row + 1}: {int(counts[row])} ids, but format='pairs' expects 'user item' "
                "per line; fix that line, or pass format='user_items' / 'items' if the file holds "
                "one user per line."
            )
        user, item = flat[0::2], flat[1::2]
        time = np.flatnonzero(counts == 2).astype(np.float64)
    elif format == "user_items":
        has = counts > 0
        lonely = has & (counts < 2)
        if lonely.any():
            row = int(np.flatnonzero(lonely)[0])
            raise DataValidationError(
                f"{p}, line {row + 1}: a user id but no items; with format='user_items' every line "
                "is 'user item item ...': remove the line or add its items."
            )
        users = flat[starts[has]]
        _check_distinct_users(users, np.flatnonzero(has), p)
        n_items = counts - 1
        is_item = np.ones(len(flat), dtype=bool)
        is_item[starts[has]] = False
        item = flat[is_item]
        user = np.repeat(users, n_items[has])
        time = _positions(n_items[has])
    else:  # items
        user = np.repeat(np.arange(1, len(split) + 1, dtype=np.int64), counts)
        item = flat
        time = _positions(counts)
    if len(item) == 0:
        raise DataValidationError(f"{p}: no items in the file; expected lines of integer ids.")
    return Interactions.from_arrays(user, item, time=time)


def _positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for every count, concatenated."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return (np.arange(total) - starts).astype(np.float64)


def _check_distinct_users(users: np.ndarray, rows: np.ndarray, path: str) -> None:
    order = np.argsort(users, kind="stable")
    dup = np.flatnonzero(users[order][1:] == users[order][:-1])
    if len(dup):
        a, b = sorted((int(rows[order[dup[0]]]), int(rows[order[dup[0] + 1]])))
        raise DataValidationError(
            f"{path}, lines {a + 1} and {b + 1}: user {int(users[order[dup[0]]])} has two lines; with "
            "format='user_items' every user has one line: merge them, or pass format='pairs' for "
            "one 'user item' pair per line."
        )


# ml-1m-seq -----------------------------------------------------------------------------------
@dataclass(repr=False, eq=False)
class SequenceBenchmark:
    """A leave-one-out sequence benchmark, as split by its authors (see [`load_ml1m_seq`][liverec.datasets.load_ml1m_seq]).

    Attributes:
        train: Training events of every user (ids 1..n_users), ``time`` = position.
        val_users: The validation users.
        val_history: Their validation histories (``train`` plus one item).
        val_target: Their next item (one per validation user, same order).
        test_users: Every user, 1..n_users.
        test_history: The history the test target is predicted from.
        test_target: Every user's last item (the test target).
    """

    train: Interactions
    val_users: np.ndarray
    val_history: Interactions
    val_target: np.ndarray
    test_users: np.ndarray
    test_history: Interactions
    test_target: np.ndarray

    def __repr__(self) -> str:
        return (
            f"SequenceBenchmark(n_users={len(self.test_users)}, n_items={self.train.n_items}, "
            f"n_train_events={len(self.train)}, n_val_users={len(self.val_users)})"
        )


def _read_targets(path: Path) -> np.ndarray:
    p, lines = _read_lines(path)
    split = [ln.split() for ln in lines]
    for k, s in enumerate(split):
        if len(s) != 1:
            raise DataValidationError(
                f"{p}, line {k + 1}: {len(s)} ids, but this file holds one target item per line; fix "
                "that line."
            )
    return _as_int_ids([s[0] for s in split], np.arange(len(split)), p, "item")


def load_ml1m_seq(folder: str | os.PathLike[str]) -> SequenceBenchmark:
    """Load the ml-1m-seq folder (MovieLens-1M, SASRec preprocessing, gSASRec split).

    Follows the folder's ``DATA.md``: ``train_input.txt`` line i is user i+1's items in
    time order without the last two (without the last three for the 512 validation
    users); ``val_input.txt`` / ``val_output.txt`` are the validation users' histories and
    next items; ``test_output.txt`` line i is user i+1's last item. Each validation line is
    matched to its user as the one whose training line it extends by one item.

    The test history is ``val_input + val_output`` for validation users (complete) and the
    training line for the others (which lacks the second-to-last item: the file holding it
    was not available). Items share one id map across all parts.

    Args:
        folder: The folder holding the four files.

    Returns:
        A [`SequenceBenchmark`][liverec.datasets.SequenceBenchmark].

    Raises:
        FileNotFoundError: a file is missing.
        DataValidationError: line counts that disagree, a validation line that extends no
            training line, a malformed line.

    Examples:
        >>> import os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> for name, text in {"train_input.txt": "1 2\\n3 4 5\\n", "val_input.txt": "3 4 5 6\\n",
        ...                    "val_output.txt": "7\\n", "test_output.txt": "9\\n8\\n"}.items():
        ...     _ = open(os.path.join(d, name), "w").write(text)
        >>> b = load_ml1m_seq(d)
        >>> b.val_users.tolist(), b.val_target.tolist(), b.test_target.tolist()
        ([2], [7], [9, 8])
        >>> [b.test_history.items.ids[s].tolist() for s in b.test_history.sequences()]
        [[1, 2], [3, 4, 5, 6, 7]]
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataFileNotFoundError(f"no such folder: {str(root)!r} (expected the ml-1m-seq folder)")
    names = ("train_input.txt", "val_input.txt", "val_output.txt", "test_output.txt")
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DataFileNotFoundError(f"{root}: missing {missing}; the ml-1m-seq folder holds {list(names)}.")
    p_train, train_lines = _read_lines(root / "train_input.txt")
    p_val, val_lines = _read_lines(root / "val_input.txt")
    train_split = [ln.split() for ln in train_lines]
    val_split = [ln.split() for ln in val_lines]
    val_target = _read_targets(root / "val_output.txt")
    test_target = _read_targets(root / "test_output.txt")
    n_users = len(train_split)
    if len(test_target) != n_users:
        raise DataValidationError(
            f"{root}: test_output.txt has {len(test_target)} lines but train_input.txt has {n_users}; "
            "both hold one line per user: use the files of one split."
        )
    if len(val_target) != len(val_split):
        raise DataValidationError(
            f"{root}: val_output.txt has {len(val_target)} lines but val_input.txt has {len(val_split)}; "
            "both hold one line per validation user."
        )
    by_prefix: dict[tuple[str, ...], list[int]] = {}
    for u, toks in enumerate(train_split):
        by_prefix.setdefault(tuple(toks), []).append(u)
    val_users = np.zeros(len(val_split), dtype=np.int64)
    for k, toks in enumerate(val_split):
        owners = by_prefix.get(tuple(toks[:-1]))
        if not owners:
            raise DataValidationError(
                f"{p_val}, line {k + 1}: this history extends no line of train_input.txt by one item, "
                "so its user is unknown; use val_input.txt and train_input.txt of the same split."
            )
        val_users[k] = owners.pop(0) + 1
    train = load_sequences(p_train, format="items")
    val_item = _as_int_ids(
        list(chain.from_iterable(val_split)),
        np.repeat(np.arange(len(val_split)), [len(s) for s in val_split]), p_val, "id",
    )
    all_items = np.unique(np.concatenate([train.items.ids, val_item, val_target, test_target]))
    items = IdMap(all_items, "item")
    train = train.with_maps(items=items)
    val_counts = np.array([len(s) for s in val_split], dtype=np.int64)
    val_history = Interactions.from_arrays(
        np.repeat(val_users, val_counts), val_item, time=_positions(val_counts), items=items,
    )
    # test history: val_input + val_output for validation users, the training line for the rest
    is_val = np.zeros(n_users + 1, dtype=bool)
    is_val[val_users] = True
    rest = train.select(~is_val[train.user])
    full_counts = val_counts + 1
    ends = np.cumsum(full_counts) - 1
    full_items = np.zeros(int(full_counts.sum()), dtype=np.int64)
    mask = np.ones(len(full_items), dtype=bool)
    mask[ends] = False
    full_items[mask] = val_item
    full_items[ends] = val_target
    completed = Interactions.from_arrays(
        np.repeat(val_users, full_counts), full_items, time=_positions(full_counts), items=items,
    )
    test_history = Interactions.from_arrays(
        np.concatenate([rest.user, completed.user]), np.concatenate([rest.item, completed.item]),
        time=np.concatenate([rest.time, completed.time]), items=items,
    )
    return SequenceBenchmark(
        train=train, val_users=val_users, val_history=val_history, val_target=val_target,
        test_users=np.arange(1, n_users + 1, dtype=np.int64), test_history=test_history,
        test_target=test_target,
    )


# MovieLens -----------------------------------------------------------------------------------
def load_movielens(path: str | os.PathLike[str]) -> Interactions:
    """Read MovieLens ratings: ml-100k ``u.data`` (tab-separated) or ml-1m ``ratings.dat`` (``::``).

    Each line is ``user item rating unix_time``. ``weight`` is the rating and ``time`` the
    datetime (seconds) of the rating; there is no event column.

    Args:
        path: The ratings file, or a folder holding ``u.data`` or ``ratings.dat``.

    Raises:
        FileNotFoundError: no such file.
        DataValidationError: a line without four fields, or a field that is not a number.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "u.data")
        >>> _ = open(path, "w").write("196\\t242\\t3\\t881250949\\n186\\t302\\t4\\t891717742\\n")
        >>> X = load_movielens(path)
        >>> X.weight.tolist(), str(X.to_dict()["time"][0])[:10]
        ([3.0, 4.0], '1997-12-04')
    """
    p = Path(path)
    if p.is_dir():
        for name in ("u.data", "ratings.dat"):
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise DataFileNotFoundError(f"{str(p)!r} holds neither u.data nor ratings.dat.")
    fname, lines = _read_lines(p)
    sep = "::" if "::" in lines[0] else None
    split = [ln.split(sep) for ln in lines]
    counts = np.fromiter((len(s) for s in split), dtype=np.int64, count=len(split))
    bad = counts != 4
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"{fname}, line {row + 1}: {int(counts[row])} fields, expected 4 (user, item, rating, "
            "unix time) separated by tabs (u.data) or '::' (ratings.dat); fix or remove that line."
        )
    line_of = np.repeat(np.arange(len(split)), 4)
    flat = list(chain.from_iterable(split))
    ids = _as_int_ids(flat[0::4] + flat[1::4] + flat[3::4], np.concatenate([line_of[0::4]] * 3), fname, "field")
    n = len(split)
    try:
        rating = np.array(flat[2::4], dtype=np.float64)
    except ValueError:
        k = next(k for k, r in enumerate(flat[2::4]) if not _is_float(r))
        raise DataValidationError(
            f"{fname}, line {k + 1}: rating {flat[2::4][k]!r} is not a number; fix that line."
        ) from None
    time = ids[2 * n:].astype("datetime64[s]")
    return Interactions.from_arrays(ids[:n], ids[n:2 * n], time=time, weight=rating)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


# Twitch ----------------------------------------------------------------------------------------
class TwitchData(NamedTuple):
    """What [`load_twitch`][liverec.datasets.load_twitch] returns: the watch events and the streamers' live intervals."""

    interactions: Interactions
    schedule: LiveSchedule


def merge_intervals(codes: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, ...]:
    """Union of ``[start, stop)`` intervals per code: ``(code, start, stop)`` of disjoint intervals.

    Intervals that overlap or touch merge. Vectorised: one sort, one running maximum.

    Examples:
        >>> c, s, e = merge_intervals(np.array([0, 0, 1, 0]), np.array([0, 3, 0, 9]), np.array([5, 7, 2, 10]))
        >>> c.tolist(), s.tolist(), e.tolist()
        ([0, 0, 1], [0, 9, 0], [7, 10, 2])
    """
    codes = np.asarray(codes, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    stop = np.asarray(stop, dtype=np.int64)
    order = np.lexsort((start, codes))
    c, s, e = codes[order], start[order], stop[order]
    lo = min(int(s.min()), int(e.min()))
    width = np.int64(max(int(s.max()), int(e.max())) - lo + 1)
    # shift every code's times into its own band, so one running maximum serves all codes
    s_band = (s - lo) + c * width
    e_band = (e - lo) + c * width
    reach = np.maximum.accumulate(e_band)
    new = np.r_[True, s_band[1:] > reach[:-1]]
    first = np.flatnonzero(new)
    end = np.maximum.reduceat(e_band, first) - c[first] * width + lo
    return c[first], s[first], end


#: Largest |time step| load_twitch accepts: exact as float64 and far beyond any real data.
_MAX_STEP = 2**40


def load_twitch(path: str | os.PathLike[str]) -> TwitchData:

    """Read the Twitch live-streaming data (Rappaz, McAuley and Aberer, RecSys 2021).

    A CSV without header: ``user_id, stream_id, streamer_name, start, stop``, where start
    and stop are 10-minute time steps. Each row is a user watching a streamer's stream over
    ``[start, stop)``. ``stream_id`` is read past (streams are identified by streamer).

    Returns:
        ``TwitchData(interactions, schedule)``: ``interactions`` has ``user`` = user_id,
        ``item`` = streamer_name, ``time`` = start step and ``weight`` = stop - start (steps
        watched); ``schedule`` says a streamer is live at step t when some row has
        start <= t < stop (the rows' intervals merged per streamer), and shares the item map.

    Raises:
        FileNotFoundError: no such file.
        DataValidationError: a row without five fields, a non-integer user or step, an
            empty streamer name or ``stop <= start``; the message names the line.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "twitch.csv")
        >>> _ = open(path, "w").write("1,10,alice,0,3\\n2,11,alice,2,5\\n2,12,bob,1,2\\n")
        >>> X, sched = load_twitch(path)
        >>> X.weight.tolist(), sched.live_at(4).tolist(), sched.live_at(1).tolist()
        ([3.0, 3.0, 1.0], ['alice'], ['alice', 'bob'])
    """
    p, lines = _read_lines(path)
    commas = np.fromiter((ln.count(",") for ln in lines), dtype=np.int64, count=len(lines))
    if (commas != 4).any():
        row = int(np.flatnonzero(commas != 4)[0])
        raise DataValidationError(
            f"{p}, line {row + 1}: {int(commas[row]) + 1} fields, expected 5 (user_id, stream_id, "
            "streamer_name, start, stop) separated by commas, without a header; fix or remove that line."
        )
    flat = ",".join(lines).split(",")
    n = len(lines)
    rows = np.arange(n)
    user = _as_int_ids(flat[0::5], rows, p, "user_id")
    names = [x.strip() for x in flat[2::5]]  # a list: numpy's str dtype would drop trailing NULs
    empty = np.array([x == "" for x in names], dtype=bool)
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataValidationError(f"{p}, line {row + 1}: empty streamer_name; every row needs one.")
    start = _as_int_ids(flat[3::5], rows, p, "start step")
    stop = _as_int_ids(flat[4::5], rows, p, "stop step")
    huge = (np.abs(start) > _MAX_STEP) | (np.abs(stop) > _MAX_STEP)
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise DataValidationError(
            f"{p}, line {row + 1}: step beyond +-2**40 (start {int(start[row])}, stop {int(stop[row])}); "
            "steps are 10-minute time steps, so this is not a real time: fix or remove that row."
        )
    bad = stop <= start
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"{p}, line {row + 1}: stop ({int(stop[row])}) <= start ({int(start[row])}); a watch interval "
            "must end after it starts: fix or remove that row."
        )
    items, codes = IdMap.from_values(names, "item")
    users, ucodes = IdMap.from_values(user, "user")
    interactions = Interactions(
        ucodes, codes, start.astype(np.float64), users, items, None, (stop - start).astype(np.float64),
    )
    c, s, e = merge_intervals(codes, start, stop)
    schedule = LiveSchedule(c, s.astype(np.float64), e.astype(np.float64), items)
    return TwitchData(interactions, schedule)
