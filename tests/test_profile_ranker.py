"""ProfileRanker: products in a room ranked from user profiles, metadata and text."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

import liverec
from liverec.data import Interactions
from liverec.datasets import make_live_commerce
from liverec.exceptions import DataValidationError, UnknownItemError, UnknownUserError
from liverec.metrics import gauc
from liverec.models import ProfileRanker
from liverec.models.profile_ranker import PAIR_FEATURES
from liverec.profiles import UserProfileBuilder


class TinyEncoder:
    """Deterministic stand-in for a text encoder (letter counts, L2-normalised)."""

    def transform(self, texts: list[str]) -> np.ndarray:
        out = np.array([[t.count("a") + 0.1, t.count("o") + 0.1, t.count("e") + 0.1] for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data() -> liverec.datasets.LiveCommerceData:
    return make_live_commerce(n_users=600, n_streamers=30, n_days=8, random_state=1)


@pytest.fixture(scope="module")
def split(data: liverec.datasets.LiveCommerceData) -> tuple[Interactions, Interactions]:
    pe = data.product_events
    cut = np.quantile(pe.time, 0.75)
    return pe.select(pe.time < cut), pe.select(pe.time >= cut)


@pytest.fixture(scope="module")
def model(data: liverec.datasets.LiveCommerceData, split: tuple[Interactions, Interactions]) -> ProfileRanker:
    return ProfileRanker(n_epochs=10, random_state=0).fit(split[0], item_features=data.products)


def room_pairs(data: liverec.datasets.LiveCommerceData, test: Interactions) -> tuple[np.ndarray, ...]:
    """Every product of every room a user touched in test, labelled by cart/purchase."""
    room_of = dict(zip(data.products["product"].tolist(), data.products["item"].tolist(), strict=True))
    rooms: dict[int, list[int]] = {}
    for p, r in room_of.items():
        rooms.setdefault(r, []).append(p)
    positive = set(zip(test.user[np.isin(test.event_names, ["cart", "purchase"])].tolist(),
                       test.item[np.isin(test.event_names, ["cart", "purchase"])].tolist(), strict=True))
    visits = sorted({(u, room_of[i]) for u, i in zip(test.user.tolist(), test.item.tolist(), strict=True)})
    g, u, i, y = [], [], [], []
    for k, (user, room) in enumerate(visits):
        for p in rooms[room]:
            g.append(k)
            u.append(user)
            i.append(p)
            y.append((user, p) in positive)
    return np.array(g), np.array(u), np.array(i), np.array(y)


def test_beats_popularity_within_the_room_on_gauc(data, split, model) -> None:
    train, test = split
    g, u, i, y = room_pairs(data, test)
    positive = np.isin(train.event_names, ["cart", "purchase"])
    ids, counts = np.unique(train.item[positive], return_counts=True)
    popularity = dict(zip(ids.tolist(), counts.tolist(), strict=True))
    baseline = np.array([popularity.get(p, 0) for p in i.tolist()], dtype=float)
    assert gauc(y, model.score(u, i), g) > gauc(y, baseline, g) + 0.03


def test_recommend_ranks_only_the_rooms_products(data, model) -> None:
    room = data.products["product"][data.products["item"] == 5]
    user = model.users_.ids[0]
    recs = model.recommend(user, k=len(room) + 3, candidates=room)
    assert set(recs[0]) == set(room.tolist())
    assert np.all(np.diff(recs.scores[0][recs.mask[0]]) <= 0)


def test_a_new_product_with_only_a_title_can_be_ranked(data, split) -> None:
    m = ProfileRanker(text_encoder=TinyEncoder(), n_epochs=5, random_state=0).fit(split[0], item_features=data.products)
    new_a, new_o = int(m.items_.ids.max()) + 1, int(m.items_.ids.max()) + 2  # ids of the data's type (int)
    m.add_items({"product": [new_a, new_o], "title": ["aaaa aaaa", "oooo oooo"]})
    user = m.users_.ids[0]
    scores = m.score(user, [new_a, new_o])
    assert np.isfinite(scores).all() and scores[0] != scores[1]
    feats = m._pair_features(m.builder_, m.builder_.users_.codes([user, user]), m.items_.codes([new_a, new_o]),
                             m.builder_.now_)
    cos = feats[:, PAIR_FEATURES.index("taste_cosine")]
    assert (cos != 0).all() and cos[0] != cos[1]
    assert new_a in m.recommend(user, k=2, candidates=[new_a, new_o])[0]


def test_scoring_all_items_in_chunks_gives_the_same_ranking(model, monkeypatch) -> None:
    import liverec.models.profile_ranker as pr

    users = model.users_.ids[:5]
    whole = model.recommend(users, k=10)
    monkeypatch.setattr(pr, "_PAIRS_PER_CHUNK", len(model.items_) * 2)  # two users per chunk
    chunked = model.recommend(users, k=10)
    np.testing.assert_array_equal(chunked.items, whole.items)
    np.testing.assert_allclose(chunked.scores, whole.scores, rtol=1e-6)


def test_a_title_only_product_gets_the_category_of_its_nearest_titles() -> None:
    from liverec.text import HashingTextEncoder

    products = {"product": ["p1", "p2", "p3", "p4"], "category": ["beauty", "beauty", "food", "food"],
                "price": [10.0, 12.0, 3.0, 4.0], "title": ["red lipstick", "pink lipstick", "rice noodles", "egg noodles"]}
    rng = np.random.default_rng(0)
    n = 80
    X = Interactions.from_arrays([f"u{k}" for k in rng.integers(0, 10, n)], rng.choice(products["product"], n),
                                 time=np.sort(rng.uniform(0, 1e5, n)), event=rng.choice(["view", "view", "cart"], n))
    m = ProfileRanker(text_encoder=HashingTextEncoder(dim=512), n_epochs=2).fit(X, item_features=products)
    m.add_items({"product": ["p5", "p6"], "title": ["matte lipstick", "udon noodles"]})
    b = m.builder_
    assert [b.categories_[c] for c in b.item_cat_[b.items_.codes(["p5", "p6"])]] == ["beauty", "food"]
    plain = ProfileRanker(text_encoder=HashingTextEncoder(dim=512), n_epochs=2).fit(X, item_features=products)
    plain.add_items({"product": ["p5"], "title": ["matte lipstick"]}, infer_category=False)
    assert plain.builder_.item_cat_[plain.builder_.items_.codes(["p5"])[0]] == -1


def test_unknown_products_must_be_added_first(model) -> None:
    with pytest.raises(UnknownItemError, match="add_items"):
        model.score(model.users_.ids[0], ["never-seen"])


def test_new_viewers_get_a_cold_start_score_but_predict_refuses_them(data, model) -> None:
    room = data.products["product"][:4]
    scores = model.score("walk-in", room)
    assert scores.shape == (4,) and np.isfinite(scores).all()
    with pytest.raises(UnknownUserError):
        model.predict(["walk-in"], room[:1])


def test_a_bare_item_history_is_folded_in_as_the_latest_events(data, model) -> None:
    room = data.products["product"][data.products["item"] == 4]
    liked = room[:2].tolist()
    bare = model.recommend("newcomer", k=len(room), candidates=room, history=liked)
    now = model.builder_.now_
    timed = Interactions.from_arrays(["newcomer", "newcomer"], liked, time=[now - 1, now], event=["view", "view"])
    explicit = model.recommend("newcomer", k=len(room), candidates=room, history=timed)
    np.testing.assert_allclose(bare.scores, explicit.scores, rtol=1e-6)
    cold = np.sort(model.score("newcomer", room))[::-1]
    assert not np.allclose(bare.scores[0], cold)  # the history changed the profile


def test_training_pairs_label_carts_and_sample_negatives_in_the_same_room(data, split, model) -> None:
    train = split[0]
    positive = np.isin(train.event, [train.event_types.index("cart"), train.event_types.index("purchase")])
    rows = np.arange(len(train))
    u, i, y = model._window_pairs(train, rows, positive, np.random.default_rng(0))
    touched = set(zip(train.user_codes.tolist(), train.item_codes.tolist(), strict=True))
    sampled = [(a, b) for a, b in zip(u.tolist(), i.tolist(), strict=True) if (a, b) not in touched]
    assert y.sum() == len({(a, b) for a, b, p in zip(train.user_codes, train.item_codes, positive, strict=True) if p})
    assert sampled and not y[len(y) - len(sampled):].any()
    room = dict(zip(data.products["product"].tolist(), data.products["item"].tolist(), strict=True))
    rooms_of_user_positives = {(a, room[model.items_.ids[b]]) for a, b, p in zip(u, i, y, strict=True) if p}
    assert all((a, room[model.items_.ids[b]]) in rooms_of_user_positives for a, b in sampled)


def test_partial_fit_folds_new_events_into_the_profiles_exactly(data, split, model) -> None:
    train, test = split
    m = ProfileRanker(n_epochs=2, random_state=0).fit(train, item_features=data.products)
    m.partial_fit(test)
    full = UserProfileBuilder(half_life=m.half_life).fit(data.product_events, item_metadata=data.products)
    users = np.unique(test.user)[:20]
    np.testing.assert_allclose(m.builder_.transform(users), full.transform(users), atol=1e-6)
    assert m.recommend(np.unique(test.user)[0], k=3, exclude_seen=True).mask.all()


def test_logistic_regression_variant_fits(data, split) -> None:
    m = ProfileRanker(n_layers=0, n_epochs=3).fit(split[0], item_features=data.products)
    assert [w.shape for w in m.weights_] == [(len(PAIR_FEATURES), 1), (1,)]


def test_save_and_load_keep_scores_and_metadata(data, model) -> None:
    room = data.products["product"][data.products["item"] == 2]
    users = model.users_.ids[:3]
    with tempfile.TemporaryDirectory() as d:
        model.save(d)
        again = liverec.load(d)
    np.testing.assert_allclose(again.score(np.repeat(users, len(room)), np.tile(room, 3)),
                               model.score(np.repeat(users, len(room)), np.tile(room, 3)), rtol=1e-5)


def test_needs_an_event_column_and_positive_events() -> None:
    X = Interactions.from_arrays(["a", "b"], ["p", "q"], time=[0.0, 1.0])
    with pytest.raises(DataValidationError, match="event column"):
        ProfileRanker().fit(X)
    views = Interactions.from_arrays(["a", "b"], ["p", "q"], time=[0.0, 1.0], event=["view", "view"])
    with pytest.raises(DataValidationError, match="positive examples"):
        ProfileRanker().fit(views)


def test_one_time_window_is_rejected() -> None:
    X = Interactions.from_arrays(["a", "b"], ["p", "q"], time=[0.0, 1.0], event=["view", "cart"])
    with pytest.raises(ValueError, match="n_windows"):
        ProfileRanker(n_windows=1).fit(X)
