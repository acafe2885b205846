"""liverec.datasets: the synthetic live-commerce generator and the loaders for real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liverec.data import EVENT_TYPES, Interactions
from liverec.datasets import (
    LiveCommerceData,
    load_ml1m_seq,
    load_movielens,
    load_sequences,
    load_twitch,
    make_live_commerce,
    merge_intervals,
    repeat_share,
)
from liverec.exceptions import DataValidationError


@pytest.fixture(scope="module")
def data() -> LiveCommerceData:
    return make_live_commerce(n_users=300, n_streamers=30, n_days=7, random_state=0)


def _counts(X: Interactions) -> dict[str, int]:
    ev = np.bincount(X.event, minlength=len(X.event_types))
    return dict(zip(X.event_types, ev.tolist(), strict=True))


# Generator: determinism and sizes ---------------------------------------------------------
def test_same_seed_gives_identical_data() -> None:
    a = make_live_commerce(n_users=80, n_streamers=10, n_days=3, random_state=7)
    b = make_live_commerce(n_users=80, n_streamers=10, n_days=3, random_state=7)
    for x, y in ((a.interactions, b.interactions), (a.product_events, b.product_events)):
        for col in ("user_codes", "item_codes", "time", "event", "weight"):
            np.testing.assert_array_equal(getattr(x, col), getattr(y, col))
    np.testing.assert_array_equal(a.schedule.start, b.schedule.start)
    assert a.text is not None and b.text is not None
    assert a.text.text.tolist() == b.text.text.tolist()


def test_other_seed_gives_other_data() -> None:
    a = make_live_commerce(n_users=80, n_streamers=10, n_days=3, random_state=1)
    b = make_live_commerce(n_users=80, n_streamers=10, n_days=3, random_state=2)
    assert len(a.interactions) != len(b.interactions) or not np.array_equal(a.interactions.time, b.interactions.time)


def test_sizes_follow_the_parameters(data: LiveCommerceData) -> None:
    X = data.interactions
    assert X.n_items == 30 and len(data.items["item"]) == 30
    assert set(X.user.tolist()) <= set(range(300))
    assert len(data.users["taste"]) == 300
    days = (X.time.max() - X.time.min()) / 86400
    assert 5 <= days < 8
    assert len(data.products["product"]) == data.product_events.n_items
    assert data.schedule.items is X.items


def test_times_are_datetimes_from_the_start_date(data: LiveCommerceData) -> None:
    t = data.interactions.to_dict()["time"]
    assert t.dtype.kind == "M"
    assert t.min() >= np.datetime64("2024-06-03")
    assert t.max() < np.datetime64("2024-06-03") + np.timedelta64(8, "D")


# Generator: behaviour ---------------------------------------------------------------------
def test_every_event_is_on_a_live_room(data: LiveCommerceData) -> None:
    X = data.interactions
    assert data.schedule.is_live(X.item, X.time).all()


def test_every_product_event_is_in_a_live_room(data: LiveCommerceData) -> None:
    P = data.product_events
    room = data.products["item"][P.item]
    assert data.schedule.is_live(room, P.time).all()


@settings(max_examples=25, deadline=None)
@given(
    n_users=st.integers(1, 40), n_streamers=st.integers(1, 8), n_days=st.integers(1, 3),
    n_categories=st.integers(1, 10), n_favorites=st.integers(0, 4), seed=st.integers(0, 2**32 - 1),
)
def test_any_size_gives_consistent_data(
    n_users: int, n_streamers: int, n_days: int, n_categories: int, n_favorites: int, seed: int
) -> None:
    try:
        d = make_live_commerce(n_users, n_streamers, n_days, n_categories=n_categories,
                               n_favorites=n_favorites, random_state=seed)
    except DataValidationError as err:  # tiny worlds can have no session meeting a live room
        assert "no session found a live room" in str(err)
        return
    X, P = d.interactions, d.product_events
    assert d.schedule.is_live(X.item, X.time).all()
    assert len(P) == 0 or d.schedule.is_live(d.products["item"][P.item], P.time).all()
    assert P.users is X.users
    assert (X.weight > 0).all() and (P.weight > 0).all()
    assert np.allclose(d.users["taste"].sum(1), 1.0)
    assert set(d.products["item"].tolist()) == set(range(n_streamers))


def test_broadcasts_are_daily_slots_mostly_in_the_evening(data: LiveCommerceData) -> None:
    sched = data.schedule
    start = sched.time_values("start")
    day = start.astype("datetime64[D]")
    hour = (start - day).astype("timedelta64[m]").astype(int) / 60
    hours = (sched.end - sched.start) / 3600
    assert (hours >= 0.5).all() and (hours <= 6).all() and hours.std() > 0.3
    assert np.mean((hour >= 17) & (hour < 24)) > 0.5
    # at most one broadcast a day per streamer, and not every day
    key = sched.item_codes * 100_000 + day.astype(int)
    assert len(np.unique(key)) == len(sched) < 30 * 7


def test_user_activity_is_heavy_tailed(data: LiveCommerceData) -> None:
    X = data.interactions
    views = np.sort(np.bincount(X.user_codes[X.event == 0]))[::-1]
    top_tenth = views[: len(views) // 10].sum() / views.sum()
    assert top_tenth > 0.25


def test_funnel_narrows_from_view_to_purchase(data: LiveCommerceData) -> None:
    c = _counts(data.interactions)
    assert c["view"] > 2 * max(c["like"], c["comment"])
    assert min(c["like"], c["comment"]) > c["cart"] > c["purchase"] > 0
    p = _counts(data.product_events)
    assert p["view"] > p["cart"] > p["purchase"] > 0


def test_most_views_are_repeats(data: LiveCommerceData) -> None:
    assert repeat_share(data.interactions) > 0.5


def test_text_is_in_chinese_and_english(data: LiveCommerceData) -> None:
    assert data.text is not None
    texts = data.text.text.tolist()
    has_cjk = [any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts]
    assert 0.2 < np.mean(has_cjk) < 0.95
    assert set(data.text.kind_names.tolist()) == {"title", "transcript", "comment"}


def test_text_names_the_rooms_categories(data: LiveCommerceData) -> None:
    from liverec.datasets import _vocab

    assert data.text is not None
    titles = data.text.of_kind("title")
    main = data.items["category"][titles.item]
    second = data.items["secondary_category"][titles.item]
    hits = 0
    for text, m, s in zip(titles.text.tolist(), main.tolist(), second.tolist(), strict=True):
        nouns = _vocab.NOUNS_EN[m] + _vocab.NOUNS_ZH[m] + _vocab.NOUNS_EN[s] + _vocab.NOUNS_ZH[s]
        hits += any(n in text for n in nouns)
    assert hits == len(titles)


def test_comments_carry_the_commenting_user(data: LiveCommerceData) -> None:
    assert data.text is not None and data.text.user is not None
    X = data.interactions
    comment = X.event == X.event_types.index("comment")
    events = set(zip(X.user[comment].tolist(), X.item[comment].tolist(), X.time[comment].tolist(), strict=True))
    T = data.text.of_kind("comment")
    texts = set(zip(T.user.tolist(), T.item.tolist(), T.time.tolist(), strict=True))
    assert texts == events
    assert (data.text.of_kind("title", "transcript").user == -1).all()


def test_room_purchases_have_product_twins(data: LiveCommerceData) -> None:
    X, P = data.interactions, data.product_events
    buy = X.event == EVENT_TYPES.index("purchase")
    pbuy = P.event == EVENT_TYPES.index("purchase")
    rooms = data.products["item"][P.item_codes[pbuy]]
    assert sorted(zip(X.user[buy].tolist(), X.item[buy].tolist(), X.time[buy].tolist(), strict=True)) == sorted(
        zip(P.user[pbuy].tolist(), rooms.tolist(), P.time[pbuy].tolist(), strict=True))
    np.testing.assert_allclose(np.sort(X.weight[buy]), np.sort(P.weight[pbuy]))


def test_purchases_follow_category_taste(data: LiveCommerceData) -> None:
    P = data.product_events
    taste = data.users["taste"]
    cat_code = {c: k for k, c in enumerate(data.categories)}
    cats = np.array([cat_code[c] for c in data.products["category"][P.item].tolist()])
    t = taste[P.user, cats]
    view, buy = P.event == EVENT_TYPES.index("view"), P.event == EVENT_TYPES.index("purchase")
    assert t[buy].mean() > t[view].mean() > 1.0 / len(data.categories)


def test_purchases_follow_price_fit(data: LiveCommerceData) -> None:
    """Bought products sit closer to the buyer's price preference than clicked ones."""
    P, products = data.product_events, data.products
    log_price = np.log(products["price"])
    cats = products["category"]
    typical = {c: np.median(log_price[cats == c]) for c in np.unique(cats).tolist()}
    relative = log_price - np.array([typical[c] for c in cats.tolist()])
    gap = np.abs(relative[P.item] - data.users["price_shift"][P.user])
    view, buy = P.event == EVENT_TYPES.index("view"), P.event == EVENT_TYPES.index("purchase")
    assert gap[buy].mean() < 0.8 * gap[view].mean()


def test_view_weight_is_watch_seconds_within_the_broadcast(data: LiveCommerceData) -> None:
    X = data.interactions
    view = X.event == 0
    end = X.time[view] + X.weight[view] - 1
    assert (X.weight[view] >= 1).all()
    assert data.schedule.is_live(X.item[view], end).all()


def test_users_watch_only_what_is_live_so_availability_is_informative(data: LiveCommerceData) -> None:
    """Ranking by popularity among the live rooms beats ranking among all rooms."""
    hr_all, hr_live, _ = _hit_rates(data)
    assert hr_live > hr_all + 0.1


def test_personal_history_beats_popularity(data: LiveCommerceData) -> None:
    """Repeat visits and stable tastes: a user's own past views predict their next view."""
    _, hr_pop, hr_personal = _hit_rates(data)
    assert hr_personal > hr_pop + 0.1


def _hit_rates(data: LiveCommerceData, k: int = 1) -> tuple[float, float, float]:
    """HR@k of popularity over all rooms, of popularity among live rooms, of the user's own
    view counts (popularity breaking ties) among live rooms; train = all but the last 2 days."""
    X = data.interactions
    views = X.select(X.event == 0)
    cut = views.time.max() - 2 * 86400
    train, test = views.select(views.time < cut), views.select(views.time >= cut)
    pop = np.bincount(train.item_codes, minlength=X.n_items).astype(float)
    counts = train.to_csr().toarray()
    live = data.schedule.live_matrix(test.time, items=X.items).toarray()

    def hr(score: np.ndarray, mask: np.ndarray) -> float:
        s = np.where(mask, score, -np.inf)
        target = s[np.arange(len(s)), test.item_codes]
        return float(((s > target[:, None]).sum(1) < k).mean())

    pop_rows = np.broadcast_to(pop, live.shape)
    personal = counts[test.user_codes] + 1e-3 * pop
    return hr(pop_rows, np.ones_like(live)), hr(pop_rows, live), hr(personal, live)


def test_summary_reports_counts_and_repeat_share(data: LiveCommerceData) -> None:
    s = data.summary()
    assert s["n_events"] == len(data.interactions)
    assert s["events"]["view"] == int((data.interactions.event == 0).sum())
    assert s["repeat_share"] == repeat_share(data.interactions)
    assert "repeat share" in repr(data) and "LiveCommerceData(" in repr(data)


def test_text_can_be_skipped() -> None:
    d = make_live_commerce(n_users=50, n_streamers=5, n_days=2, text=False, random_state=0)
    assert d.text is None and "text:" not in repr(d)


def test_loyalty_raises_the_share_of_views_on_favourites() -> None:
    def fav_share(loyalty: float) -> float:
        d = make_live_commerce(n_users=200, n_streamers=30, n_days=5, loyalty=loyalty, random_state=3)
        X = d.interactions.select(d.interactions.event == 0)
        return float((d.users["favorites"][X.user] == X.item[:, None]).any(1).mean())

    assert fav_share(4.0) > fav_share(0.0) + 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_users": 0}, "n_users must be >= 1"),
        ({"n_categories": 11}, "n_categories must be <= 10"),
        ({"zh_share": 1.5}, "zh_share must be in"),
        ({"start": "not a date"}, "is not a date"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        make_live_commerce(**kwargs)


def test_non_int_size_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="n_days must be an int"):
        make_live_commerce(n_days=2.5)  # type: ignore[arg-type]


# Loaders: sequence files ------------------------------------------------------------------
def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _seqs(X: Interactions) -> dict[int, list[int]]:
    return {int(X.users.ids[u]): X.items.ids[s].tolist() for u, s in enumerate(X.sequences()) if len(s)}


def test_items_format_numbers_users_by_line(tmp_path: Path) -> None:
    f = _write(tmp_path / "train_input.txt", "5 6 7\n8 5\n")
    X = load_sequences(f, format="items")
    assert _seqs(X) == {1: [5, 6, 7], 2: [8, 5]}
    assert X.time.tolist() == [0, 1, 2, 0, 1]


def test_user_items_format_takes_the_first_id_as_user(tmp_path: Path) -> None:
    f = _write(tmp_path / "Beauty.txt", "10 1 2 3\n7 2 4\n")
    assert _seqs(load_sequences(f, format="user_items")) == {10: [1, 2, 3], 7: [2, 4]}


def test_pairs_format_keeps_file_order_as_time(tmp_path: Path) -> None:
    f = _write(tmp_path / "wikipedia.txt", "1 1\n2 2\n1 3\n2 2\n")
    X = load_sequences(f, format="pairs")
    assert _seqs(X) == {1: [1, 3], 2: [2, 2]}
    assert X.time.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 1\n1 2\n2 2\n", "pairs"),  # two ids per line, a user on several lines
        ("1 4 5\n2 5 6 7\n3 4\n", "user_items"),  # first id = line number
        ("4 5\n9 5 6 7\n4\n", "items"),
    ],
)
def test_auto_format_sniffs_the_layout(tmp_path: Path, text: str, expected: str) -> None:
    f = _write(tmp_path / "seq.txt", text)
    auto = load_sequences(f)
    explicit = load_sequences(f, format=expected)
    assert _seqs(auto) == _seqs(explicit)


def test_items_format_blank_line_is_a_user_without_events(tmp_path: Path) -> None:
    f = _write(tmp_path / "seq.txt", "5 6\n\n7\n\n")
    assert _seqs(load_sequences(f, format="items")) == {1: [5, 6], 3: [7]}


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("1 2\n3 x 4\n", "items", r"line 2: id 'x' is not an integer"),
        ("1 2\n3 4 5\n", "pairs", r"line 2: 3 ids, but format='pairs'"),
        ("1 2 3\n2\n", "user_items", r"line 2: a user id but no items"),
        ("1 2 3\n1 4\n", "user_items", r"lines 1 and 2: user 1 has two lines"),
        ("\n\n", "auto", "the file is empty"),
    ],
)
def test_malformed_sequence_files_name_file_and_line(tmp_path: Path, text: str, fmt: str, message: str) -> None:
    f = _write(tmp_path / "bad.txt", text)
    with pytest.raises(DataValidationError, match=message) as err:
        load_sequences(f, format=fmt)
    assert "bad.txt" in str(err.value)


def test_unknown_format_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="format must be one of"):
        load_sequences(_write(tmp_path / "a.txt", "1 2\n"), format="csv")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_sequences(tmp_path / "nope.txt")


# Loaders: ml-1m-seq, MovieLens, Twitch ----------------------------------------------------
def _ml1m_folder(root: Path) -> Path:
    # user 1: full 1 2 3 4 5 (test target 5); user 2 is a validation user: full 6 7 8 9 10 11
    files = {"train_input.txt": "1 2 3\n6 7 8\n", "val_input.txt": "6 7 8 9\n",
             "val_output.txt": "10\n", "test_output.txt": "5\n11\n"}
    for name, text in files.items():
        _write(root / name, text)
    return root


def test_ml1m_seq_follows_the_split_of_data_md(tmp_path: Path) -> None:
    b = load_ml1m_seq(_ml1m_folder(tmp_path))
    assert _seqs(b.train) == {1: [1, 2, 3], 2: [6, 7, 8]}
    assert b.val_users.tolist() == [2] and b.val_target.tolist() == [10]
    assert _seqs(b.val_history) == {2: [6, 7, 8, 9]}
    assert b.test_users.tolist() == [1, 2] and b.test_target.tolist() == [5, 11]
    assert _seqs(b.test_history) == {1: [1, 2, 3], 2: [6, 7, 8, 9, 10]}
    assert b.train.items == b.test_history.items  # one item map across the parts


def test_ml1m_seq_rejects_a_validation_line_of_another_split(tmp_path: Path) -> None:
    root = _ml1m_folder(tmp_path)
    _write(root / "val_input.txt", "6 7 9 9\n")
    with pytest.raises(DataValidationError, match=r"val_input.txt, line 1: .*extends no line"):
        load_ml1m_seq(root)


def test_ml1m_seq_rejects_line_counts_that_disagree(tmp_path: Path) -> None:
    root = _ml1m_folder(tmp_path)
    _write(root / "test_output.txt", "5\n")
    with pytest.raises(DataValidationError, match="test_output.txt has 1 lines but train_input.txt has 2"):
        load_ml1m_seq(root)


def test_movielens_reads_ratings_and_unix_times(tmp_path: Path) -> None:
    f = _write(tmp_path / "u.data", "196\t242\t3\t881250949\n186\t302\t4\t891717742\n")
    X = load_movielens(tmp_path)
    assert X.user.tolist() == [196, 186] and X.weight.tolist() == [3.0, 4.0]
    assert X.to_dict()["time"][0] == np.datetime64(881250949, "s")
    _write(f, "196\t242\t3\n")
    with pytest.raises(DataValidationError, match=r"u.data, line 1: 3 fields, expected 4"):
        load_movielens(f)


def test_movielens_reads_ml1m_double_colon_files(tmp_path: Path) -> None:
    f = _write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    assert load_movielens(f).item.tolist() == [1193, 661]


TWITCH = "1,100,alice,0,3\n2,101,alice,2,5\n2,102,bob,1,2\n3,103,alice,7,9\n3,104,bob,2,4\n"


def test_twitch_rows_become_events_and_a_schedule(tmp_path: Path) -> None:
    X, schedule = load_twitch(_write(tmp_path / "twitch.csv", TWITCH))
    assert X.user.tolist() == [1, 2, 2, 3, 3]
    assert X.item.tolist() == ["alice", "alice", "bob", "alice", "bob"]
    assert X.time.tolist() == [0, 2, 1, 7, 2] and X.weight.tolist() == [3, 3, 1, 2, 2]
    # alice's [0,3) and [2,5) merge; [7,9) stays apart; bob's [1,2) and [2,4) touch and merge
    got = sorted(zip(schedule.item.tolist(), schedule.start.tolist(), schedule.end.tolist(), strict=True))
    assert got == [("alice", 0, 5), ("alice", 7, 9), ("bob", 1, 4)]
    assert schedule.live_at(5).tolist() == [] and schedule.live_at(8).tolist() == ["alice"]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(1, 8)), min_size=1, max_size=40))
def test_merged_intervals_are_live_exactly_when_some_row_is(rows: list[tuple[int, int, int]]) -> None:
    codes = np.array([r[0] for r in rows])
    start = np.array([r[1] for r in rows])
    stop = start + np.array([r[2] for r in rows])
    c, s, e = merge_intervals(codes, start, stop)
    for t in range(0, 40):
        for k in range(4):
            brute = bool(((codes == k) & (start <= t) & (t < stop)).any())
            merged = ((c == k) & (s <= t) & (t < e))
            assert brute == bool(merged.any()) and merged.sum() <= 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,100,alice,0,3\n2,101,alice,2\n", r"line 2: 4 fields, expected 5"),
        ("1,100,alice,0,3\nx,101,bob,2,4\n", r"line 2: user_id 'x' is not an integer"),
        ("1,100,alice,3,3\n", r"line 1: stop \(3\) <= start \(3\)"),
        ("1,100,,0,3\n", r"line 1: empty streamer_name"),
    ],
)
def test_malformed_twitch_rows_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        load_twitch(_write(tmp_path / "twitch.csv", text))


# Real data (skipped when the shared data folder is absent) ------------------------------
def test_real_beauty_and_wikipedia_match_data_md(shared_data: Path) -> None:
    beauty = load_sequences(shared_data / "beauty" / "Beauty.txt")
    assert (len(beauty), beauty.n_users, beauty.n_items) == (198_502, 22_363, 12_101)
    wiki = load_sequences(shared_data / "wikipedia" / "wikipedia.txt")
    assert (len(wiki), wiki.n_users, wiki.n_items) == (157_474, 8_227, 1_000)
    assert repeat_share(wiki, event=None) > 0.8


def test_real_ml1m_seq_split(shared_data: Path) -> None:
    b = load_ml1m_seq(shared_data / "ml-1m-seq")
    assert len(b.test_users) == 6_040 and len(b.val_users) == 512 and b.train.n_items == 3_416
    history = b.test_history.sequences()
    train = b.train.sequences()
    val = np.isin(b.test_history.users.ids, b.val_users)
    extra = np.array([len(h) for h in history]) - np.array([len(t) for t in train])
    assert (extra[val] == 2).all() and (extra[~val] == 0).all()


def test_real_movielens_100k(shared_data: Path) -> None:
    X = load_movielens(shared_data / "ml-100k" / "u.data")
    assert (len(X), X.n_users, X.n_items) == (100_000, 943, 1_682)
    assert set(np.unique(X.weight).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
