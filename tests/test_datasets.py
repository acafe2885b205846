"""liverec.datasets: the synthetic live-commerce generator and the loaders for real files."""

from __future__ import annotations

import numpy as np
import pytest

from liverec.data import EVENT_TYPES, Interactions
from liverec.datasets import LiveCommerceData, make_live_commerce, repeat_share


@pytest.fixture(scope="module")
def data() -> LiveCommerceData:
    return make_live_commerce(n_users=300, n_streamers=30, n_days=7, random_state=0)


def _counts(X: Interactions) -> dict[str, int]:
    ev = np.bincount(X.event, minlength=len(X.event_types))
    return dict(zip(X.event_types, ev.tolist()))


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
