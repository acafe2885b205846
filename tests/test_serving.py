"""liverec.serving.LiveService: the online answer is the model's answer on the live set and the buffer."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_contract import MODELS  # the tiny configuration of every model

from liverec.base import BaseRecommender
from liverec.data import IdMap, Interactions, LiveSchedule
from liverec.exceptions import DataTypeError, DataValidationError, UnknownUserError
from liverec.models import ALS, Popularity, ProfileRanker, SequentialTransformer
from liverec.serving import LiveService
from liverec.serving._state import HotCounts, ViewerBuffers
from liverec.testing import contract_data

T_LIVE, T_REQ = 190.0, 200.0  # after every training event: rooms go on air, then requests come
ON_AIR = [f"room{i}" for i in range(0, 25, 2)]  # 13 of the 25 rooms


@pytest.fixture(scope="module")
def data() -> tuple[Interactions, LiveSchedule]:
    return contract_data()


@pytest.fixture(scope="module")
def fitted(data: tuple[Interactions, LiveSchedule]) -> dict[str, BaseRecommender]:
    X, schedule = data
    return {name: factory().fit(X, schedule=schedule) for name, factory in MODELS.items()}


def _live_service(model: BaseRecommender, **kwargs: Any) -> LiveService:
    service = LiveService(model, **kwargs)
    service.on_air(ON_AIR, T_LIVE)
    return service


def _fresh_events(known_user: str) -> Interactions:
    """New events of a known viewer and of two viewers the model never saw."""
    users = [known_user, known_user, "newbie", "newbie", "newbie", "other-new"]
    items = ["room2", "room4", "room6", "room6", "room8", "room2"]
    return Interactions.from_arrays(users, items, time=[191, 193, 192, 194, 196, 195],
                                    event=["view", "like", "view", "cart", "view", "view"],
                                    weight=[3.0, 4.0, 5.0, 2.0, 4.0, 1.0])


# --- correctness: the service's answer is the model's, for every model -------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("who", ["known", "newbie"])
def test_recommend_equals_model_recommend_on_live_set_and_buffer(fitted: dict[str, BaseRecommender], name: str,
                                                                 who: str) -> None:
    model = fitted[name]
    service, known = _known_viewer_with_fresh_events(model)
    user = known if who == "known" else "newbie"
    got = service.recommend(user, k=5, at=T_REQ)
    want = model.recommend(user, k=5, at=T_REQ, schedule=service.schedule, history=service.history(user, at=T_REQ))
    np.testing.assert_array_equal(got.items, want.items)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-6)
    assert set(got[0]) <= set(ON_AIR), "only rooms on air are recommended"


def _known_viewer_with_fresh_events(model: BaseRecommender) -> tuple[LiveService, Any]:
    user = model.users_.ids[3].item()
    service = _live_service(model)
    service.observe(_fresh_events(user))
    return service, user


def test_known_viewer_of_a_model_without_sequences_is_scored_from_the_fitted_state(
        fitted: dict[str, BaseRecommender]) -> None:
    model = fitted["ALS-cg"]
    service, user = _known_viewer_with_fresh_events(model)
    assert service.history(user, at=T_REQ) is None
    want = model.recommend(user, k=5, at=T_REQ, schedule=service.schedule)
    np.testing.assert_array_equal(service.recommend(user, k=5, at=T_REQ).items, want.items)


def test_known_viewer_of_a_sequence_model_gets_fitted_sequence_then_fresh_events(
        fitted: dict[str, BaseRecommender]) -> None:
    service, user = _known_viewer_with_fresh_events(fitted["SequentialTransformer-tiny"])
    h = service.history(user, at=T_REQ)
    assert h is not None
    assert h.item[-2:].tolist() == ["room2", "room4"]  # the two fresh events come last
    assert len(h) > 2  # after the viewer's fitted sequence


def test_a_batch_of_viewers_matches_one_request_per_viewer(fitted: dict[str, BaseRecommender]) -> None:
    model = fitted["ALS-cg"]
    service = _live_service(model)
    service.observe(_fresh_events(model.users_.ids[3].item()))
    users = [model.users_.ids[3].item(), "newbie", "never-seen", model.users_.ids[5].item()]
    batch = service.recommend(users, k=4, at=T_REQ)
    for row, user in enumerate(users):
        assert batch[row] == service.recommend(user, k=4, at=T_REQ)[0]


# --- freshness --------------------------------------------------------------------------------------------
def test_an_observed_event_changes_the_very_next_recommendation_of_a_sequence_model(
        fitted: dict[str, BaseRecommender]) -> None:
    model = fitted["SequentialTransformer-tiny"]
    user = model.users_.ids[3].item()
    service = _live_service(model)
    before = service.recommend(user, k=5, at=T_REQ)
    service.observe({"user": user, "item": "room10", "time": 199.0})
    after = service.recommend(user, k=5, at=T_REQ)
    assert not np.array_equal(before.scores, after.scores)


def test_an_observed_event_changes_the_very_next_recommendation_of_a_new_viewer(
        fitted: dict[str, BaseRecommender]) -> None:
    model = fitted["ALS-cg"]
    service = _live_service(model)
    before = service.recommend("newbie", k=5, at=T_REQ)
    service.observe({"user": "newbie", "item": "room12", "time": 199.0})
    after = service.recommend("newbie", k=5, at=T_REQ)
    assert not np.array_equal(before.scores, after.scores)


# --- the live set -------------------------------------------------------------------------------------------
def test_a_room_going_off_air_is_no_longer_recommended(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"])
    user = fitted["ALS-cg"].users_.ids[0].item()
    top = service.recommend(user, k=1, at=T_REQ)[0][0]
    service.off_air(top, T_REQ - 1)
    assert top not in service.recommend(user, k=13, at=T_REQ)[0]


def test_nothing_on_air_gives_padded_rows(fitted: dict[str, BaseRecommender]) -> None:
    service = LiveService(fitted["ALS-cg"])
    recs = service.recommend(fitted["ALS-cg"].users_.ids[0].item(), k=3, at=T_REQ)
    assert not recs.mask.any()


def test_at_defaults_to_the_latest_time_seen_for_numeric_data(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"])
    service.observe({"user": "newbie", "item": "room2", "time": T_REQ})
    user = fitted["ALS-cg"].users_.ids[0].item()
    assert service.now() == T_REQ
    assert service.recommend(user, k=5)[0] == service.recommend(user, k=5, at=T_REQ)[0]


# --- cold start and the hot state ---------------------------------------------------------------------------
def test_a_viewer_with_no_state_gets_the_hot_live_rooms(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"])
    service.observe({"user": ["a", "b", "c", "d"], "item": ["room6", "room6", "room6", "room4"],
                     "time": [195, 196, 197, 198]})
    assert service.recommend("stranger", k=2, at=T_REQ)[0] == ["room6", "room4"]
    assert service.hot(k=2, at=T_REQ)[0] == ["room6", "room4"]


def test_cold_start_raise_refuses_a_viewer_with_no_state(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"], cold_start="raise")
    with pytest.raises(UnknownUserError, match="stranger"):
        service.recommend("stranger", k=2, at=T_REQ)


def test_hot_counts_forget_the_window_after_it_passes(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"], hot_window=10.0, hot_buckets=5)
    service.observe({"user": "a", "item": "room6", "time": 191.0})
    assert service.hot(k=1, at=195.0)[0] == ["room6"]
    assert service.hot(k=1, at=250.0)[0] == []


# --- forget ----------------------------------------------------------------------------------------------------
def test_forget_drops_the_buffer_and_the_hot_contribution(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"])
    service.observe({"user": ["newbie", "newbie", "x"], "item": ["room6", "room6", "room4"],
                     "time": [195, 196, 197]})
    assert service.forget(["newbie"]) == 1
    assert service.history("newbie", at=T_REQ) is None
    assert service.hot(k=2, at=T_REQ)[0] == ["room4"]


def test_forget_with_model_removes_the_viewer_from_the_model_too(data: tuple[Interactions, LiveSchedule]) -> None:
    X, schedule = data
    model = ALS(n_factors=8, n_epochs=4, random_state=0, threads=1).fit(X, schedule=schedule)
    user = model.users_.ids[3].item()
    service = _live_service(model, cold_start="raise")
    service.forget([user, "never-seen"], model=True)
    assert user not in model.users_
    with pytest.raises(UnknownUserError):
        service.recommend(user, k=3, at=T_REQ)


def test_forget_of_unknown_viewers_is_a_no_op(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"])
    assert service.forget(["nobody"]) == 0


# --- swap and threads ------------------------------------------------------------------------------------------
def test_swap_replaces_the_model_while_requests_run(fitted: dict[str, BaseRecommender]) -> None:
    a, b = fitted["ALS-cg"], fitted["BPR-tiny"]
    users = [a.users_.ids[j].item() for j in range(6)]
    service = _live_service(a)
    answers = {id(m): _live_service(m).recommend(users, k=3, at=T_REQ).items.tolist() for m in (a, b)}
    seen, errors = [], []

    def ask() -> None:
        try:
            for _ in range(30):
                seen.append(service.recommend(users, k=3, at=T_REQ).items.tolist())
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for th in threads:
        th.start()
    for j in range(20):
        service.swap(b if j % 2 == 0 else a)
    for th in threads:
        th.join()
    assert not errors
    assert all(ans in answers.values() for ans in seen), "every answer comes from one model, never a mix"


def test_swap_refuses_an_unfitted_model(fitted: dict[str, BaseRecommender]) -> None:
    service = LiveService(fitted["ALS-cg"])
    with pytest.raises(Exception, match="not fitted"):
        service.swap(ALS())


def test_observe_while_recommending_from_threads_loses_no_event(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"], history_len=1000)

    def observe(offset: int) -> None:
        for j in range(100):
            service.observe({"user": "busy", "item": "room2", "time": 191.0 + offset * 1e-3 + j * 1e-2})

    threads = [threading.Thread(target=observe, args=(o,)) for o in range(3)]
    for th in threads:
        th.start()
    for _ in range(20):
        service.recommend("busy", k=3, at=T_REQ)
    for th in threads:
        th.join()
    h = service.history("busy", at=T_REQ)
    assert h is not None and len(h) == 300


# --- bad input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("events", "error", "match"), [
    ({"user": 1}, DataValidationError, "missing"),
    ({"user": "a", "item": "room1", "colour": "red"}, DataValidationError, "unknown column"),
    ({"user": "a", "item": "room1", "event": "teleport"}, DataValidationError, "unknown event"),
    ({"user": "a", "item": "room1", "time": np.datetime64("2024-01-01")}, DataTypeError, "numeric"),
    ([1, 2, 3], DataTypeError, "Interactions"),
])
def test_bad_events_are_refused_and_change_nothing(fitted: dict[str, BaseRecommender], events: Any,
                                                   error: type[Exception], match: str) -> None:
    service = _live_service(fitted["ALS-cg"])
    with pytest.raises(error, match=match):
        service.observe(events)
    assert service.stats()["viewers_buffered"] == 0


def test_constructor_refuses_bad_parameters(fitted: dict[str, BaseRecommender]) -> None:
    with pytest.raises(ValueError, match="history_len"):
        LiveService(fitted["ALS-cg"], history_len=0)
    with pytest.raises(ValueError, match="cold_start"):
        LiveService(fitted["ALS-cg"], cold_start="guess")


def test_events_without_time_are_stamped_with_the_clock(fitted: dict[str, BaseRecommender]) -> None:
    service = _live_service(fitted["ALS-cg"], clock=lambda: 198.5)
    service.observe({"user": "newbie", "item": "room2"})
    h = service.history("newbie")
    assert h is not None and h.time.tolist() == [198.5]


# --- products inside a room --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def commerce() -> Any:
    from liverec.datasets import make_live_commerce

    d = make_live_commerce(n_users=150, n_streamers=15, n_days=4, random_state=0)
    ranker = ProfileRanker(n_epochs=3, embedding_dim=8, random_state=0).fit(d.product_events,
                                                                             item_features=d.products)
    rooms = Popularity().fit(d.interactions, schedule=d.schedule)
    return d, ranker, rooms


def test_products_are_ranked_among_the_products_of_the_room(commerce: Any) -> None:
    d, ranker, rooms = commerce
    service = LiveService(rooms, d.schedule, products=ranker, product_rooms=d.products)
    room = int(d.products["item"][0])
    in_room = set(d.products["product"][d.products["item"] == room].tolist())
    user = ranker.users_.ids[0].item()
    recs = service.recommend_products(user, room, k=3, at=d.product_events.time_values()[-1])
    assert recs.mask.any() and set(recs[0]) <= in_room


def test_products_of_a_new_viewer_come_from_their_product_events(commerce: Any) -> None:
    d, ranker, rooms = commerce
    service = LiveService(rooms, d.schedule, products=ranker, product_rooms=d.products)
    room = int(d.products["item"][0])
    in_room = d.products["product"][d.products["item"] == room]
    at = d.product_events.time_values()[-1]
    service.observe_products({"user": [999_999], "item": [int(in_room[0])], "time": [at], "event": ["cart"]})
    got = service.recommend_products(999_999, room, k=3, at=at)
    want = ranker.recommend(999_999, k=3, at=at, candidates=in_room,
                            history=Interactions.from_arrays([999_999], [int(in_room[0])], time=[at],
                                                             event=["cart"]))
    assert got[0] == want[0]


def test_update_profiles_folds_events_into_a_profile_ranker(commerce: Any) -> None:
    d, ranker, _ = commerce
    service = LiveService(rooms_model := Popularity().fit(d.interactions), d.schedule, products=ranker,
                          product_rooms=d.products, update_profiles=True)
    assert service.model is rooms_model
    at = d.product_events.time_values()[-1]
    service.observe_products({"user": [888_888], "item": [int(d.products["product"][0])], "time": [at],
                              "event": ["purchase"]})
    assert 888_888 in ranker.users_


def test_recommend_products_without_a_products_model_says_how_to_fix_it(fitted: dict[str, BaseRecommender]) -> None:
    with pytest.raises(DataValidationError, match="products="):
        LiveService(fitted["ALS-cg"]).recommend_products("a", "room1")


# --- datetime data ------------------------------------------------------------------------------------------------
def test_datetime_service_matches_the_model(commerce: Any) -> None:
    d, _, _ = commerce
    model = SequentialTransformer(embedding_dim=16, max_len=16, n_epochs=2, repeat_aware=True, random_state=0,
                                  verbose=False).fit(d.interactions, schedule=d.schedule)
    service = LiveService(model)
    at = d.interactions.time_values()[-1] + np.timedelta64(1, "h")
    service.on_air(model.items_.ids[:6], at - np.timedelta64(30, "m"))
    user = model.users_.ids[0].item()
    service.observe({"user": user, "item": int(model.items_.ids[2]), "time": at - np.timedelta64(5, "m")})
    got = service.recommend(user, k=4, at=at)
    want = model.recommend(user, k=4, at=at, schedule=service.schedule, history=service.history(user, at=at))
    assert got[0] == want[0] and len(got[0]) == 4


# --- invariants of the state (Hypothesis) ------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(0, 50)), max_size=12),
                max_size=6), st.integers(1, 4))
def test_buffers_hold_the_last_events_of_each_viewer_in_time_order(batches: list[list[tuple[int, int, int]]],
                                                                   capacity: int) -> None:
    buffers = ViewerBuffers(capacity, IdMap(np.arange(3), "user"))
    arrived: dict[int, list[tuple[int, int, int]]] = {}
    for batch in batches:
        if not batch:
            continue
        users = np.array([u for u, _, _ in batch])
        codes = buffers.users.codes(users, add=True)
        rows = buffers.rows(codes, create=True)
        items = np.array([i for _, i, _ in batch])
        times = np.array([t for _, _, t in batch], dtype=float)
        buffers.append(rows, items, times, np.zeros(len(batch), dtype=np.int16), np.ones(len(batch)))
        for j, (u, i, t) in enumerate(batch):
            arrived.setdefault(u, []).append((j, i, t))
    for u, evs in arrived.items():
        row = buffers.rows(buffers.users.codes(np.array([u]), add=False), create=False)[0]
        items, times, _, _ = buffers.read(int(row))
        last = evs[-capacity:]
        want = sorted(last, key=lambda e: e[2])  # stable: arrival order breaks ties
        assert items.tolist() == [i for _, i, _ in want]
        assert times.tolist() == [float(t) for _, _, t in want]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.floats(0, 100)), min_size=1, max_size=40),
       st.floats(0, 40), st.sampled_from([1, 2, 5]))
def test_hot_counts_equal_a_recount_of_the_window(events: list[tuple[int, int, float]], later: float,
                                                  n_buckets: int) -> None:
    events = sorted(events, key=lambda e: e[2])
    at = events[-1][2] + later  # requests come at or after the newest event
    hot = HotCounts(window=20.0, n_buckets=n_buckets)
    for r, i, t in events:
        hot.add(np.array([r]), np.array([i]), np.array([t]))
    width = 20.0 / n_buckets
    b_at = np.floor(at / width)
    want = np.zeros(5)
    for _, i, t in events:
        if b_at - n_buckets < np.floor(t / width) <= b_at:
            want[i] += 1
    np.testing.assert_array_equal(hot.scores(at, 5), want)
