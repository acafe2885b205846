"""UserProfileBuilder: decayed affinities, exact incremental updates, cold start, taste, errors."""

from __future__ import annotations

import json
import math
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liverec
from liverec.data import Interactions, TextEvents
from liverec.exceptions import DataValidationError, NotFittedError, UnknownUserError
from liverec.profiles import UserProfile, UserProfileBuilder
from liverec.profiles._store import HashIndex, LogSparse

DAY = 86400.0
META = {
    "item": ["s1", "s2", "s3"],
    "category": ["beauty", "food", "food"],
    "price": [10.0, 50.0, 200.0],
}


class TinyEncoder:
    """A deterministic stand-in for a text encoder: letter counts, L2-normalised."""

    def transform(self, texts: list[str]) -> np.ndarray:
        out = np.array([[t.count("a") + 1.0, t.count("o"), len(t) % 5] for t in texts], dtype=float)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def feature(builder: UserProfileBuilder, user: object, name: str, **kw: object) -> float:
    row = builder.transform([user], **kw)[0]
    return float(row[builder.feature_names_.index(name)])


def random_events(seed: int, n: int, n_users: int = 8, n_items: int = 6) -> Interactions:
    rng = np.random.default_rng(seed)
    events = np.array(["view", "like", "comment", "cart", "purchase"])
    return Interactions.from_arrays(
        [f"u{k}" for k in rng.integers(0, n_users, n)],
        [f"i{k}" for k in rng.integers(0, n_items, n)],
        time=rng.uniform(0, 20 * DAY, n).round(),
        event=events[rng.integers(0, len(events), n)],
        weight=rng.uniform(1, 300, n).round(),
    )


ITEM_META = {
    "item": [f"i{k}" for k in range(6)],
    "category": ["a", "b", "c", "a", "b", "c"],
    "price": [5.0, 12.0, 30.0, 80.0, 150.0, 400.0],
    "streamer": ["s0", "s0", "s1", "s1", "s2", "s2"],
}


# Decay and weighting ----------------------------------------------------------------------------
def test_category_shares_match_a_hand_computation_of_decayed_event_weights() -> None:
    # ann: a view of s1 (beauty, weight 1) two half-lives before a purchase of s2 (food, weight 6)
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=[0.0, 2 * DAY], event=["view", "purchase"])
    b = UserProfileBuilder(half_life=DAY, prior_strength=0.0).fit(X, item_metadata=META)
    beauty, food = 1.0 * 2.0 ** -2, 6.0
    assert feature(b, "ann", "cat:beauty") == pytest.approx(beauty / (beauty + food), rel=1e-12)
    assert feature(b, "ann", "cat:food") == pytest.approx(food / (beauty + food), rel=1e-12)


def test_engagement_now_is_the_decayed_event_weight_at_the_query_time() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=[0.0, DAY], event=["like", "cart"])
    b = UserProfileBuilder(half_life=DAY).fit(X)
    at = 3 * DAY
    expected = 2.0 * 2.0 ** -3 + 4.0 * 2.0 ** -2
    assert math.expm1(feature(b, "ann", "engagement_now", at=at)) == pytest.approx(expected, rel=1e-12)
    assert b.profile("ann", at=at).activity["engagement_now"] == pytest.approx(expected, rel=1e-12)


def test_event_weights_change_the_affinities() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=[0.0, 0.0], event=["view", "cart"])
    b = UserProfileBuilder(event_weights={"view": 3.0, "cart": 1.0}, prior_strength=0.0).fit(X, item_metadata=META)
    assert feature(b, "ann", "cat:beauty") == pytest.approx(0.75)


def test_mean_price_is_the_decayed_weighted_mean() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s3"], time=[0.0, DAY], event=["view", "view"])
    b = UserProfileBuilder(half_life=DAY, prior_strength=0.0).fit(X, item_metadata=META)
    w = np.array([0.5, 1.0])
    assert b.profile("ann").mean_price == pytest.approx(float(w @ [10.0, 200.0] / w.sum()))


def test_funnel_counts_and_rates_without_shrinkage() -> None:
    X = Interactions.from_arrays(["ann"] * 6, ["s1"] * 6, time=np.arange(6.0),
                                 event=["view", "view", "view", "view", "cart", "purchase"])
    p = UserProfileBuilder(prior_strength=0.0).fit(X).profile("ann")
    assert p.funnel["view"] == 4 and p.funnel["cart"] == 1 and p.funnel["purchase"] == 1
    assert p.funnel["ctr"] == pytest.approx(1 / 4)
    assert p.funnel["cvr"] == pytest.approx(1.0)


def test_watch_seconds_sum_the_weight_of_view_events() -> None:
    X = Interactions.from_arrays(["ann"] * 3, ["s1"] * 3, time=[0, 1, 2], event=["view", "view", "like"],
                                 weight=[30.0, 90.0, 1.0])
    assert UserProfileBuilder().fit(X).profile("ann").activity["watch_seconds"] == 120.0


def test_datetime_times_decay_in_seconds() -> None:
    t = np.array(["2024-05-01T00:00", "2024-05-02T00:00"], dtype="datetime64[s]")
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=t, event=["view", "view"])
    b = UserProfileBuilder(half_life=DAY, prior_strength=0.0).fit(X, item_metadata=META)
    assert feature(b, "ann", "cat:beauty") == pytest.approx(0.5 / 1.5)


# Incremental update -----------------------------------------------------------------------------
@settings(max_examples=30)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), cut=st.floats(0.05, 0.95), by_time=st.booleans())
def test_update_after_fit_equals_fit_on_all_events(seed: int, n: int, cut: float, by_time: bool) -> None:
    X = random_events(seed, n)
    if by_time:
        first = X.time <= np.quantile(X.time, cut)
    else:
        first = np.random.default_rng(seed).random(n) < cut
    if first.all() or not first.any():
        first[0], first[-1] = True, False
    full = UserProfileBuilder(half_life=2 * DAY).fit(X, item_metadata=ITEM_META)
    inc = UserProfileBuilder(half_life=2 * DAY).fit(X.select(first), item_metadata=ITEM_META)
    inc.update(X.select(~first))
    users = np.unique(X.user)
    assert inc.feature_names_ == full.feature_names_
    np.testing.assert_allclose(inc.transform(users), full.transform(users), atol=1e-6, rtol=0)
    for u in users[:2]:
        a, b = inc.profile(u).to_dict(), full.profile(u).to_dict()
        assert a["n_events"] == b["n_events"] and a["funnel"] == b["funnel"]


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), n_chunks=st.integers(2, 6))
def test_many_small_updates_equal_one_fit_with_text(seed: int, n_chunks: int) -> None:
    X = random_events(seed, 40)
    rng = np.random.default_rng(seed)
    T = TextEvents.from_arrays(
        item=[f"i{k}" for k in rng.integers(0, 6, 12)],
        text=["ao" * int(k) for k in rng.integers(0, 4, 12)],
        time=rng.uniform(0, 20 * DAY, 12).round(), kind="comment",
        user=[f"u{k}" for k in rng.integers(0, 8, 12)],
    )
    chunks = np.array_split(np.argsort(X.time, kind="stable"), n_chunks)
    tchunks = np.array_split(np.argsort(T.time, kind="stable"), n_chunks)
    full = UserProfileBuilder(text_encoder=TinyEncoder()).fit(X, text=T, item_metadata=ITEM_META)
    inc = UserProfileBuilder(text_encoder=TinyEncoder()).fit(X.select(chunks[0]), text=T.select(tchunks[0]),
                                                             item_metadata=ITEM_META)
    for rows, trows in zip(chunks[1:], tchunks[1:], strict=True):
        inc.update(X.select(rows), text=T.select(trows))
    users = np.unique(np.concatenate([X.user, T.user.astype(str)]))
    np.testing.assert_allclose(inc.transform(users), full.transform(users), atol=1e-6, rtol=0)


def test_update_adds_new_users_and_items() -> None:
    b = UserProfileBuilder().fit(Interactions.from_arrays(["ann"], ["s1"], time=[0.0], event=["view"]))
    b.update(Interactions.from_arrays(["bob"], ["s9"], time=[5.0], event=["purchase"]))
    assert "bob" in b.users_ and "s9" in b.items_
    assert b.profile("bob").top_streamers == [("s9", 1.0)]


def test_update_leaves_other_users_item_affinities_untouched() -> None:
    X = random_events(0, 200)
    b = UserProfileBuilder().fit(X)
    rows, cols, logv = (a.copy() for a in b.pairs_item_.entries())
    b.update(Interactions.from_arrays(["u0"], ["i1"], time=[30 * DAY], event=["view"]))
    r2, c2, v2 = b.pairs_item_.entries()
    other = rows != b.users_.codes(["u0"])[0]
    np.testing.assert_array_equal(v2[: len(rows)][other], logv[other])


def test_decay_stays_finite_over_thousands_of_half_lives() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=[0.0, 5000.0], event=["view", "view"])
    b = UserProfileBuilder(half_life=1.0, prior_strength=0.0).fit(X.select([0]), item_metadata=META)
    b.update(X.select([1]))
    row = b.transform(["ann"])[0]
    assert np.isfinite(row).all()
    assert feature(b, "ann", "cat:food") == pytest.approx(1.0)


# Cold start --------------------------------------------------------------------------------------
def test_a_user_with_one_event_is_shrunk_toward_the_population() -> None:
    X = Interactions.from_arrays(["ann"] * 4 + ["bob"], ["s2"] * 4 + ["s1"], time=np.zeros(5), event=["view"] * 5)
    b = UserProfileBuilder(prior_strength=3.0).fit(X, item_metadata=META)
    population_beauty = 1 / 5
    expected = (1 * 1.0 + 3.0 * population_beauty) / (1 + 3.0)
    assert feature(b, "bob", "cat:beauty") == pytest.approx(expected)
    assert b.profile("bob").cold_start == pytest.approx(3 / 4)


def test_unknown_users_get_the_population_profile_on_request() -> None:
    X = Interactions.from_arrays(["ann", "bob"], ["s1", "s2"], time=[0.0, 0.0], event=["view", "view"])
    b = UserProfileBuilder().fit(X, item_metadata=META)
    row = b.transform(["stranger"], unknown="default")[0]
    names = b.feature_names_
    assert row[names.index("cat:beauty")] == pytest.approx(0.5)
    assert row[names.index("cold_start")] == 1.0
    assert row[names.index("log_events")] == 0.0


def test_unknown_users_raise_by_default() -> None:
    b = UserProfileBuilder().fit(Interactions.from_arrays(["ann"], ["s1"], time=[0.0]))
    with pytest.raises(UnknownUserError, match="unknown='default'"):
        b.transform(["stranger"])
    with pytest.raises(UnknownUserError):
        b.profile("stranger")


# Errors --------------------------------------------------------------------------------------------
def test_unknown_event_types_error_clearly() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s1"], event=["view", "follow"],
                                 event_types=["view", "follow"])
    with pytest.raises(DataValidationError, match=r"unknown event type\(s\) \['follow'\].*event_weights"):
        UserProfileBuilder().fit(X)
    b = UserProfileBuilder().fit(Interactions.from_arrays(["ann"], ["s1"], event=["view"]))
    with pytest.raises(DataValidationError, match="follow"):
        b.update(X)


def test_events_without_a_weight_are_rejected_even_when_other_types_are_known() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s1"], event=["view", "gift"])
    with pytest.raises(DataValidationError, match="gift"):
        UserProfileBuilder(event_weights={"view": 1.0}).fit(X)


def test_negative_event_weights_are_rejected() -> None:
    X = Interactions.from_arrays(["ann"], ["s1"], event=["view"])
    with pytest.raises(ValueError, match="event_weights\\['view'\\]"):
        UserProfileBuilder(event_weights={"view": -1.0}).fit(X)


def test_methods_before_fit_raise_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        UserProfileBuilder().transform(["ann"])


def test_text_without_an_encoder_is_an_error() -> None:
    X = Interactions.from_arrays(["ann"], ["s1"], event=["view"])
    T = TextEvents.from_arrays(item=["s1"], text=["hello"])
    with pytest.raises(DataValidationError, match="text_encoder"):
        UserProfileBuilder().fit(X, text=T)


def test_missing_event_column_counts_events_as_views() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=[0.0, 1.0])
    assert UserProfileBuilder().fit(X).profile("ann").funnel["view"] == 2


def test_metadata_can_be_a_pandas_frame_indexed_by_item() -> None:
    pd = pytest.importorskip("pandas")
    meta = pd.DataFrame({"category": ["beauty", "food"], "price": [10.0, 50.0]}, index=["s1", "s2"])
    X = Interactions.from_arrays(["ann"], ["s2"], time=[0.0], event=["view"])
    b = UserProfileBuilder(prior_strength=0.0).fit(X, item_metadata=meta)
    assert b.profile("ann").top_categories[0] == ("food", 1.0)


def test_bad_metadata_is_rejected_with_the_column_named() -> None:
    X = Interactions.from_arrays(["ann"], ["s1"], time=[0.0], event=["view"])
    with pytest.raises(DataValidationError, match="'item' column"):
        UserProfileBuilder().fit(X, item_metadata={"category": ["a"]})
    with pytest.raises(DataValidationError, match="prices must be positive"):
        UserProfileBuilder().fit(X, item_metadata={"item": ["s1"], "price": [-3.0]})


# Taste vector ---------------------------------------------------------------------------------------
def test_taste_is_the_embedding_of_what_the_user_watched() -> None:
    X = Interactions.from_arrays(["ann", "bob"], ["s1", "s2"], time=[0.0, 0.0], event=["view", "view"])
    T = TextEvents.from_arrays(item=["s1", "s2"], text=["aaa", "ooo"], kind="title")
    b = UserProfileBuilder(text_encoder=TinyEncoder(), prior_strength=0.0).fit(X, text=T)
    np.testing.assert_allclose(b.profile("ann").taste, TinyEncoder().transform(["aaa"])[0], atol=1e-12)


def test_taste_mixes_in_the_users_own_comments() -> None:
    X = Interactions.from_arrays(["ann"], ["s1"], time=[0.0], event=["view"])
    T = TextEvents.from_arrays(item=["s1", "s1"], text=["aaa", "ooo"], time=[0.0, 0.0],
                               kind=["title", "comment"], user=[None, "ann"])
    b = UserProfileBuilder(text_encoder=TinyEncoder(), prior_strength=0.0, comment_weight=1.0).fit(X, text=T)
    enc = TinyEncoder().transform(["aaa", "ooo", "ooo"])
    item_vec = (enc[0] + enc[1]) / 2  # the item's text: its title and the comment on it
    np.testing.assert_allclose(b.profile("ann").taste, (item_vec + enc[2]) / 2, atol=1e-12)


def test_item_features_give_a_taste_without_text() -> None:
    X = Interactions.from_arrays(["ann", "ann"], ["s1", "s2"], time=[0.0, 0.0], event=["view", "view"])
    b = UserProfileBuilder(prior_strength=0.0).fit(X, item_features={"s1": [1.0, 0.0], "s2": [0.0, 1.0]})
    np.testing.assert_allclose(b.profile("ann").taste, [0.5, 0.5])


def test_metadata_titles_are_embedded_for_the_taste() -> None:
    X = Interactions.from_arrays(["ann"], ["p1"], time=[0.0], event=["cart"])
    meta = {"item": ["p1", "p2"], "title": ["aaa lipstick", "ooo noodles"], "streamer": ["s1", "s1"]}
    b = UserProfileBuilder(text_encoder=TinyEncoder(), prior_strength=0.0).fit(X, item_metadata=meta)
    np.testing.assert_allclose(b.profile("ann").taste, TinyEncoder().transform(["aaa lipstick"])[0])


# Readable profile and persistence --------------------------------------------------------------------
def test_profile_rolls_products_up_to_streamers() -> None:
    X = random_events(3, 80)
    p = UserProfileBuilder(top_n=2).fit(X, item_metadata=ITEM_META).profile("u1")
    assert isinstance(p, UserProfile)
    assert len(p.top_streamers) <= 2 and {s for s, _ in p.top_streamers} <= {"s0", "s1", "s2"}
    shares = [s for _, s in p.top_streamers]
    assert shares == sorted(shares, reverse=True)


def test_profile_reads_well_and_serialises_to_json() -> None:
    X = random_events(5, 80)
    p = UserProfileBuilder().fit(X, item_metadata=ITEM_META).profile("u2")
    text = str(p)
    assert "top streamers" in text and "top categories" in text and "price band" in text
    assert json.loads(json.dumps(p.to_dict()))["user"] == "u2"


def test_save_and_load_keep_the_profiles_and_allow_updates() -> None:
    X = random_events(7, 100)
    b = UserProfileBuilder(text_encoder=None).fit(X.select(X.time < 10 * DAY), item_metadata=ITEM_META)
    with tempfile.TemporaryDirectory() as d:
        b.save(d)
        again = liverec.load(d)
    users = np.unique(X.user[X.time < 10 * DAY])
    np.testing.assert_allclose(again.transform(users), b.transform(users))
    rest = X.select(X.time >= 10 * DAY)
    np.testing.assert_allclose(again.update(rest).transform(users), b.update(rest).transform(users), atol=1e-12)


# Storage internals ------------------------------------------------------------------------------------
@given(st.lists(st.lists(st.integers(0, 2**40), max_size=40), max_size=8))
def test_hash_index_agrees_with_a_dict(batches: list[list[int]]) -> None:
    h, ref = HashIndex(), {}
    for batch in batches:
        new = np.array(sorted({k for k in batch if k not in ref}), dtype=np.int64)
        slots = np.arange(len(ref), len(ref) + len(new))
        h.insert(new, slots)
        ref.update(zip(new.tolist(), slots.tolist(), strict=True))
    queries = np.array(list(ref) + [2**41, 3], dtype=np.int64)
    assert h.lookup(queries).tolist() == [ref.get(k, -1) for k in queries.tolist()]


def test_user_affinity_is_the_share_of_the_users_decayed_weight() -> None:
    X = Interactions.from_arrays(["ann", "ann", "ann", "bob"], ["s1", "s1", "s2", "s2"], time=[0.0, 0.0, 0.0, 0.0],
                                 event=["view", "view", "purchase", "view"])
    b = UserProfileBuilder().fit(X)
    u = b.users_.codes(["ann", "ann", "bob", "bob"])
    i = b.items_.codes(["s1", "s2", "s1", "s2"])
    np.testing.assert_allclose(b.user_affinity(u, i), [2 / 8, 6 / 8, 0.0, 1.0])
    assert b.user_affinity(np.array([-1]), np.array([0])).tolist() == [0.0]


@given(st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=30),
                          st.booleans()), min_size=1, max_size=8))
def test_log_sparse_row_view_stays_sorted_across_adds_and_reads(batches: list) -> None:
    s = LogSparse()
    for pairs, read in batches:
        rows, cols = (np.array(x) for x in zip(*pairs, strict=True))
        s.add(rows, cols, np.zeros(len(rows)))
        if read:
            s.csr(10)
    r, c, v = s.entries()
    order = np.argsort(r, kind="stable")
    indptr, cols_sorted, logv_sorted = s.csr(10)
    assert cols_sorted.tolist() == c[order].tolist()
    np.testing.assert_array_equal(logv_sorted, v[order])
    assert indptr.tolist() == [0, *np.cumsum(np.bincount(r, minlength=10)).tolist()]


def test_log_sparse_sums_duplicates_across_batches() -> None:
    s = LogSparse()
    s.add(np.array([1, 1]), np.array([4, 4]), np.log([1.0, 2.0]))
    s.add(np.array([1, 0]), np.array([4, 2]), np.log([3.0, 5.0]))
    indptr, cols, logv = s.csr(2)
    assert cols.tolist() == [2, 4]
    np.testing.assert_allclose(np.exp(logv), [5.0, 6.0])
    np.testing.assert_allclose(np.exp(s.get(np.array([1, 0, 0, -1]), np.array([4, 2, 4, 4]))), [6.0, 5.0, 0.0, 0.0])


# State tables ------------------------------------------------------------------------------------
# The array names of a saved builder: the format directories from earlier versions were written in.
SAVED_TABLE_ARRAYS = {
    "item_cat_", "item_band_", "item_price_", "item_streamer_", "item_has_meta_", "item_counts_", "g_item_",
    "item_text_sum_", "item_text_n_", "u_total_", "u_cat_", "u_band_", "u_price_num_", "u_price_den_",
    "u_counts_", "u_first_", "u_last_", "u_watch_", "u_comment_scale_", "u_comment_vec_", "g_total_", "g_cat_",
    "g_band_", "g_price_num_", "g_price_den_", "g_counts_",
}


def test_saved_array_names_stay_those_of_earlier_versions() -> None:
    X = random_events(3, 40)
    _, arrays = UserProfileBuilder().fit(X, item_metadata=ITEM_META).get_state()
    assert SAVED_TABLE_ARRAYS | {"price_edges_", "users", "items", "streamers"} <= set(arrays)
    extra = set(arrays) - SAVED_TABLE_ARRAYS - {"price_edges_", "users", "items", "streamers", "item_fixed_vec"}
    # pairs_event (per-user event counts, for forget) was added in issue 17; older files lack it
    assert {k.split("/")[0] for k in extra} == {"pairs_item", "pairs_streamer", "pairs_event"}


@pytest.mark.parametrize("prices", [[10.0, 50.0, 200.0], [20.0, 20.0, 20.0]])
def test_a_single_price_band_saves_and_loads(prices: list[float]) -> None:
    X = Interactions.from_arrays(["ann", "bob", "bob"], ["s1", "s2", "s3"], time=[0.0, 60.0, 90.0])
    b = UserProfileBuilder(n_price_bands=1).fit(X, item_metadata={**META, "price": prices})
    assert b.band_labels_ == ["all"]
    with tempfile.TemporaryDirectory() as d:
        b.save(d)
        np.testing.assert_array_equal(liverec.load(d).transform(["ann", "bob"]), b.transform(["ann", "bob"]))


def test_update_after_load_grows_every_table() -> None:
    from liverec.text import HashingTextEncoder

    X = random_events(5, 60)
    first = X.time < np.median(X.time)
    full = UserProfileBuilder(text_encoder=HashingTextEncoder(dim=8)).fit(X, item_metadata=ITEM_META)
    b = UserProfileBuilder(text_encoder=HashingTextEncoder(dim=8)).fit(X.select(first), item_metadata=ITEM_META)
    with tempfile.TemporaryDirectory() as d:
        b.save(d)
        loaded = liverec.load(d)
    loaded.update(X.select(~first))
    users = np.unique(X.user)
    np.testing.assert_allclose(loaded.transform(users), full.transform(users), atol=1e-6, rtol=0)
    # a new item with a new category and the first title: new columns, text vectors, users
    loaded.update(Interactions.from_arrays(["u99"], ["i9"], time=[float(X.time.max())]),
                  item_metadata={"item": ["i9"], "category": ["new"], "title": ["a new room"]})
    assert loaded.categories_[-1] == "new" and loaded.dim_ == 8
    assert feature(loaded, "u99", "cat:new") > feature(loaded, users[0], "cat:new")
    V = loaded.item_vectors()
    assert V is not None and np.abs(V[loaded.items_.codes(["i9"])[0]]).sum() > 0
    assert loaded.transform(users).shape == (len(users), len(loaded.feature_names_))


def test_a_query_time_of_the_wrong_kind_is_refused() -> None:
    from liverec.exceptions import DataTypeError

    X = Interactions.from_arrays(["ann", "bob"], ["s1", "s1"],
                                 time=np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[s]"))
    builder = UserProfileBuilder().fit(X)
    with pytest.raises(DataTypeError, match="got a numeric time but the data this UserProfileBuilder"):
        builder.profile("ann", at=1.7e9)
    assert builder.profile("ann", at="2024-01-03").user == "ann"
