"""StreamTextEmbedder / embed_streams: one text vector per stream, optionally as of a time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liverec.data import IdMap, TextEvents
from liverec.exceptions import (
    DataTypeError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
)
from liverec.text import HashingTextEncoder, StreamTextEmbedder, embed_streams

ENC = HashingTextEncoder(dim=256)


@pytest.fixture
def text() -> TextEvents:
    return TextEvents.from_arrays(
        item=["r1", "r1", "r1", "r2", "r2", "r1"],
        text=["新款口红试色", "这个色号好看", "多少钱", "今晚抽奖送手机", "手机多少钱", "link please"],
        time=[0, 60, 300, 0, 90, 500],
        kind=["title", "comment", "transcript", "title", "comment", "comment"],
    )


def mean_unit(vectors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    w = np.ones(len(vectors)) if weights is None else np.asarray(weights, dtype=np.float64)
    v = (vectors.astype(np.float64) * w[:, None]).sum(0) / w.sum()
    return v / np.linalg.norm(v)


def test_without_time_a_row_is_the_normalised_mean_of_its_texts(text: TextEvents) -> None:
    X = embed_streams(text, ENC)
    np.testing.assert_allclose(X[0], mean_unit(ENC.transform(["新款口红试色", "这个色号好看", "多少钱", "link please"])), atol=1e-6)
    np.testing.assert_allclose(X[1], mean_unit(ENC.transform(["今晚抽奖送手机", "手机多少钱"])), atol=1e-6)


def test_rows_follow_the_given_id_map_and_unknown_items_are_zero(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=IdMap(["r2", "zz", "r1"]))
    full = embed_streams(text, ENC)
    np.testing.assert_array_equal(X[0], full[1])
    np.testing.assert_array_equal(X[2], full[0])
    assert not X[1].any()


def test_window_keeps_only_recent_texts_and_titles(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=["r1"], at=400, window=200)
    # r1 at 400, window (200, 400]: the transcript at 300, plus the title; not the comment at 60
    np.testing.assert_allclose(X[0], mean_unit(ENC.transform(["新款口红试色", "多少钱"])), atol=1e-6)


def test_texts_after_at_are_ignored(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=["r1"], at=60)
    np.testing.assert_allclose(X[0], mean_unit(ENC.transform(["新款口红试色", "这个色号好看"])), atol=1e-6)


def test_a_title_from_the_future_is_ignored_too() -> None:
    T = TextEvents.from_arrays(item=["a", "a"], text=["x", "title later"], time=[0, 100], kind=["comment", "title"])
    X = embed_streams(T, ENC, at=50)
    np.testing.assert_allclose(X[0], ENC.transform(["x"])[0], atol=1e-6)


def test_half_life_decays_weights_exponentially_except_titles(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=["r1"], at=500, half_life=100)
    vectors = ENC.transform(["新款口红试色", "这个色号好看", "多少钱", "link please"])
    weights = [1.0, 0.5 ** (440 / 100), 0.5 ** (200 / 100), 1.0]
    np.testing.assert_allclose(X[0], mean_unit(vectors, weights), atol=1e-6)


def test_kind_weights_scale_and_drop_kinds(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=["r1"], kind_weights={"comment": 0.0, "transcript": 3.0})
    vectors = ENC.transform(["新款口红试色", "多少钱"])
    np.testing.assert_allclose(X[0], mean_unit(vectors, [1.0, 3.0]), atol=1e-6)


def test_one_time_per_row_and_repeated_items(text: TextEvents) -> None:
    emb = StreamTextEmbedder(ENC, window=100).fit(text)
    X = emb.transform(["r1", "r1", "r2"], at=[60, 500, 90])
    np.testing.assert_allclose(X[0], emb.transform(["r1"], at=60)[0], atol=1e-7)
    np.testing.assert_allclose(X[1], emb.transform(["r1"], at=500)[0], atol=1e-7)
    np.testing.assert_allclose(X[2], emb.transform(["r2"], at=90)[0], atol=1e-7)
    assert not np.allclose(X[0], X[1])


def test_an_item_with_no_text_in_the_window_is_zero(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=["r2"], at=1000, window=10, kind_weights={"title": 0})
    assert not X.any()


def test_normalize_false_gives_the_weighted_mean(text: TextEvents) -> None:
    X = embed_streams(text, ENC, items=["r2"], normalize=False)
    np.testing.assert_allclose(X[0], ENC.transform(["今晚抽奖送手机", "手机多少钱"]).mean(0), atol=1e-6)


def test_datetimes_with_a_timedelta_window() -> None:
    t0 = np.datetime64("2026-06-18T20:00:00")
    T = TextEvents.from_arrays(item=["a", "a"], text=["old", "new"], time=[t0, t0 + np.timedelta64(30, "m")])
    X = embed_streams(T, ENC, at=t0 + np.timedelta64(40, "m"), window=dt.timedelta(minutes=15))
    np.testing.assert_allclose(X[0], ENC.transform(["new"])[0], atol=1e-6)


def test_partial_fit_equals_fitting_everything_at_once(text: TextEvents) -> None:
    first = text.select(np.arange(3))
    more = TextEvents.from_arrays(item=["r1", "r3"], text=["多少钱", "new room"], time=[600, 610])
    emb = StreamTextEmbedder(ENC, half_life=200).fit(first).partial_fit(more)
    everything = TextEvents.from_arrays(
        item=list(first.item) + ["r1", "r3"], text=list(first.text) + ["多少钱", "new room"],
        time=list(first.time) + [600, 610], kind=list(first.kind_names) + ["comment", "comment"])
    ref = StreamTextEmbedder(ENC, half_life=200).fit(everything)
    np.testing.assert_allclose(emb.transform(["r1", "r3"], at=700), ref.transform(["r1", "r3"], at=700), atol=1e-6)


def test_an_idf_encoder_is_fitted_on_a_copy(text: TextEvents) -> None:
    enc = HashingTextEncoder(dim=64, idf=True)
    emb = StreamTextEmbedder(enc).fit(text)
    assert not hasattr(enc, "idf_") and hasattr(emb.encoder_, "idf_")


def test_default_encoder_is_the_hashing_encoder(text: TextEvents) -> None:
    emb = StreamTextEmbedder().fit(text)
    assert isinstance(emb.encoder_, HashingTextEncoder)


def test_transform_before_fit_is_an_error() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        StreamTextEmbedder().transform()


def test_fit_needs_text_events() -> None:
    with pytest.raises(DataTypeError, match="TextEvents"):
        StreamTextEmbedder().fit(["a comment"])


def test_at_with_the_wrong_length_is_refused(text: TextEvents) -> None:
    with pytest.raises(DataValidationError, match="one per row"):
        StreamTextEmbedder(ENC).fit(text).transform(["r1", "r2"], at=[1, 2, 3])


def test_unknown_kind_weight_is_refused(text: TextEvents) -> None:
    with pytest.raises(InvalidParameterError, match="kind"):
        StreamTextEmbedder(ENC, kind_weights={"chat": 1.0}).fit(text)


def test_negative_window_is_refused(text: TextEvents) -> None:
    with pytest.raises(InvalidParameterError, match="window"):
        StreamTextEmbedder(ENC, window=-5).fit(text)


def naive(T: TextEvents, items: list, at: list, window: float | None, half_life: float | None) -> np.ndarray:
    """Row by row, text by text: the definition the vectorised transform must match."""
    vec = ENC.transform(list(T.text))
    out = np.zeros((len(items), ENC.dim))
    for r, (item, t) in enumerate(zip(items, at, strict=True)):
        total, wsum = np.zeros(ENC.dim), 0.0
        for j in range(len(T)):
            if T.item[j] != item or T.time[j] > t:
                continue
            title = T.kind_names[j] == "title"
            if not title and window is not None and T.time[j] <= t - window:
                continue
            w = 1.0 if (title or half_life is None) else 0.5 ** ((t - T.time[j]) / half_life)
            total += w * vec[j]
            wsum += w
        if wsum > 0 and np.linalg.norm(total) > 0:
            out[r] = total / np.linalg.norm(total)
    return out


events = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["口红", "手机", "hello", "多少钱", "好看", ""]),
              st.integers(0, 50), st.sampled_from(["comment", "transcript", "title"])),
    min_size=1, max_size=25,
)


@settings(max_examples=60)
@given(rows=events, queries=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 60)), min_size=1, max_size=6),
       window=st.one_of(st.none(), st.integers(1, 30)), half_life=st.one_of(st.none(), st.integers(1, 30)))
def test_vectorised_transform_equals_the_naive_definition(rows, queries, window, half_life) -> None:
    items, texts, times, kinds = (list(c) for c in zip(*rows, strict=True))
    T = TextEvents.from_arrays(item=items, text=texts, time=times, kind=kinds)
    q_items, q_at = (list(c) for c in zip(*queries, strict=True))
    got = StreamTextEmbedder(ENC, window=window, half_life=half_life).fit(T).transform(q_items, at=q_at)
    np.testing.assert_allclose(got, naive(T, q_items, q_at, window, half_life), atol=1e-5)


def test_save_and_load_keep_the_encoded_texts_and_the_fitted_encoder(text: TextEvents, tmp_path) -> None:
    import liverec

    emb = StreamTextEmbedder(HashingTextEncoder(dim=128, idf=True), window=300, half_life=100).fit(text)
    emb.save(tmp_path / "streams")
    again = liverec.load(tmp_path / "streams")
    assert isinstance(again, StreamTextEmbedder) and again.window == 300
    for at in (60, 310, 900):
        np.testing.assert_array_equal(again.transform(["r1", "r2", "zz"], at=at), emb.transform(["r1", "r2", "zz"], at=at))
    more = TextEvents.from_arrays(item=["r2", "r9"], text=["手机壳有吗", "新直播间"], time=[950, 960])
    np.testing.assert_array_equal(again.partial_fit(more).transform(at=1000), emb.partial_fit(more).transform(at=1000))


def test_saving_before_fit_is_an_error(tmp_path) -> None:
    with pytest.raises(NotFittedError, match="fit"):
        StreamTextEmbedder().save(tmp_path / "x")


def test_a_query_time_of_the_wrong_kind_is_refused() -> None:
    from liverec.exceptions import DataTypeError

    text = TextEvents.from_arrays(item=["r1"], time=[10.0], text=["hello"], kind=["comment"])
    embedder = StreamTextEmbedder(HashingTextEncoder(dim=16)).fit(text)
    with pytest.raises(DataTypeError, match="got a datetime time but the texts this StreamTextEmbedder"):
        embedder.transform(["r1"], at=np.datetime64("2024-01-01"))
    assert embedder.transform(["r1"], at=20.0).shape == (1, 16)
