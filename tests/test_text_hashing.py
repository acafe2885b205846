"""HashingTextEncoder: hashed character/word n-grams, Chinese and English, no model."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liverec
from liverec.exceptions import (
    DataTypeError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
)
from liverec.text import HashingTextEncoder, normalize_text

COMMENTS = ["主播好美", "这个口红多少钱？", "666666", "How much is the lipstick?", "yyds 😀😀", "来了来了", ""]


def only_chars(n: int = 1, **kw) -> HashingTextEncoder:
    """Unsigned counts of character n-grams of one length, in a space with few collisions."""
    return HashingTextEncoder(dim=2**20, char_ngram_range=(n, n), word_ngram_range=None, alternate_sign=False, **kw)


def test_output_is_float32_with_unit_or_zero_rows() -> None:
    X = HashingTextEncoder(dim=512).transform(COMMENTS)
    assert X.shape == (len(COMMENTS), 512) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X[:-1], axis=1), 1.0, rtol=1e-6)


def test_empty_and_whitespace_texts_are_zero_vectors() -> None:
    X = HashingTextEncoder(dim=64).transform(["", "   ", "\n\t　"])
    assert not X.any()


def test_none_is_an_error_naming_the_row() -> None:
    with pytest.raises(DataValidationError, match="row 1"):
        HashingTextEncoder().transform(["ok", None])


def test_nan_is_an_error() -> None:
    with pytest.raises(DataValidationError, match="None/NaN"):
        HashingTextEncoder().transform(["ok", float("nan")])


def test_a_bare_string_is_refused_with_a_hint() -> None:
    with pytest.raises(DataTypeError, match=r"wrap it in a list"):
        HashingTextEncoder().transform("主播好美")


def test_a_non_string_element_is_refused() -> None:
    with pytest.raises(DataTypeError, match="row 0"):
        HashingTextEncoder().transform([123])


def test_empty_batch_gives_an_empty_matrix() -> None:
    assert HashingTextEncoder(dim=32).transform([]).shape == (0, 32)


def test_numpy_and_pandas_inputs_work_like_lists() -> None:
    pd = pytest.importorskip("pandas")
    enc = HashingTextEncoder(dim=128)
    expected = enc.transform(COMMENTS)
    np.testing.assert_array_equal(enc.transform(np.asarray(COMMENTS, dtype=object)), expected)
    np.testing.assert_array_equal(enc.transform(pd.Series(COMMENTS)), expected)


def test_character_counts_match_hand_computation() -> None:
    # "口口红": 口 twice, 红 once -> (2, 1) / sqrt(5) in two columns
    X = only_chars(1).transform_sparse(["口口红"])
    assert sorted(X.data.tolist()) == pytest.approx([1 / np.sqrt(5), 2 / np.sqrt(5)])


def test_word_unigrams_and_bigrams_match_hand_computation() -> None:
    # "buy buy": word "buy" twice, bigram "buy buy" once
    enc = HashingTextEncoder(dim=2**20, char_ngram_range=None, word_ngram_range=(1, 2), alternate_sign=False)
    X = enc.transform_sparse(["buy buy"])
    assert sorted(X.data.tolist()) == pytest.approx([1 / np.sqrt(5), 2 / np.sqrt(5)])


def test_word_ngram_range_can_start_above_one() -> None:
    enc = HashingTextEncoder(dim=2**20, char_ngram_range=None, word_ngram_range=(2, 2))
    assert enc.transform_sparse(["one"]).nnz == 0
    assert enc.transform_sparse(["one two three"]).nnz == 2


def test_chinese_characters_are_not_words() -> None:
    words_only = HashingTextEncoder(dim=256, char_ngram_range=None, word_ngram_range=(1, 1))
    assert not words_only.transform(["主播好美"]).any()
    assert words_only.transform(["主播 618 好美"]).any()  # the number is a word


def test_character_ngrams_do_not_cross_whitespace_or_texts() -> None:
    bigrams = only_chars(2)
    assert not bigrams.transform(["a b", "a", "b"]).any()
    assert bigrams.transform(["ab"]).any()


def test_full_width_and_case_variants_encode_identically() -> None:
    enc = HashingTextEncoder(dim=256)
    X = enc.transform(["ＬＩＶＥ　Ｎｏ．１！", "live no.1!", "Live No.1!"])
    np.testing.assert_array_equal(X[0], X[1])
    np.testing.assert_array_equal(X[1], X[2])


def test_normalize_text_applies_nfkc_and_lower_case() -> None:
    assert normalize_text("ＡＢＣ１２３，Ｘ") == "abc123,x"


def test_shared_characters_make_chinese_texts_similar() -> None:
    X = HashingTextEncoder(dim=4096).transform(["这个口红颜色好看", "口红颜色太好看了", "今晚抽奖送手机"])
    assert X[0] @ X[1] > 0.3 > X[0] @ X[2]


def test_emoji_outside_the_basic_plane_are_features() -> None:
    X = only_chars(1).transform(["😀", "🎁"])
    assert X[0].any() and X[1].any() and float(X[0] @ X[1]) == 0.0


def test_the_separator_character_inside_a_text_acts_as_a_space() -> None:
    enc = HashingTextEncoder(dim=256)
    np.testing.assert_array_equal(enc.transform(["a\x00b"]), enc.transform(["a b"]))


def test_vectors_are_identical_in_another_process() -> None:
    enc = HashingTextEncoder(dim=64)
    here = enc.transform(COMMENTS)
    code = (
        "import sys, numpy as np; from liverec.text import HashingTextEncoder as H; "
        f"sys.stdout.write(H(dim=64).transform({COMMENTS!r}).tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert bytes.fromhex(out.stdout) == here.tobytes()


def test_large_batches_equal_small_batches() -> None:
    texts = [f"评论{i % 97} comment {i}" for i in range(9000)]  # crosses the 8,192-row block
    enc = HashingTextEncoder(dim=128)
    np.testing.assert_array_equal(enc.transform(texts), np.vstack([enc.transform(texts[:5000]), enc.transform(texts[5000:])]))


def test_a_dim_that_is_not_a_power_of_two_works() -> None:
    X = HashingTextEncoder(dim=1000).transform(COMMENTS)
    assert X.shape == (len(COMMENTS), 1000)
    np.testing.assert_allclose(np.linalg.norm(X[:-1], axis=1), 1.0, rtol=1e-6)


def test_transform_sparse_equals_transform() -> None:
    enc = HashingTextEncoder(dim=256)
    np.testing.assert_allclose(enc.transform_sparse(COMMENTS).toarray(), enc.transform(COMMENTS))


def test_sublinear_tf_uses_one_plus_log_count() -> None:
    X = only_chars(1, sublinear_tf=True).transform_sparse(["口口红"])
    big, small = 1 + np.log(2), 1.0
    norm = np.hypot(big, small)
    assert sorted(X.data.tolist()) == pytest.approx([small / norm, big / norm])


def test_idf_is_learned_in_fit_with_the_smoothed_formula() -> None:
    enc = only_chars(1, idf=True).fit(["口", "口红"])
    # df(口) = 2, df(红) = 1 over n = 2 texts
    X = enc.transform_sparse(["口红"])
    w_kou, w_hong = np.log(3 / 3) + 1, np.log(3 / 2) + 1
    norm = np.hypot(w_kou, w_hong)
    assert sorted(X.data.tolist()) == pytest.approx([w_kou / norm, w_hong / norm])
    assert enc.idf_.shape == (2**20,) and enc.n_texts_seen_ == 2


def test_idf_encoder_needs_fit_before_transform() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        HashingTextEncoder(idf=True).transform(["x"])


def test_stateless_encoder_fit_returns_self_and_changes_nothing() -> None:
    enc = HashingTextEncoder(dim=64)
    before = enc.transform(COMMENTS)
    assert enc.fit(["other", "texts"]) is enc
    np.testing.assert_array_equal(enc.transform(COMMENTS), before)


def test_fit_transform_equals_fit_then_transform() -> None:
    a = HashingTextEncoder(dim=64, idf=True).fit_transform(COMMENTS)
    b = HashingTextEncoder(dim=64, idf=True).fit(COMMENTS).transform(COMMENTS)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"dim": 0}, "dim"),
        ({"char_ngram_range": (3, 1)}, "char_ngram_range"),
        ({"word_ngram_range": "x"}, "word_ngram_range"),
        ({"char_ngram_range": None, "word_ngram_range": None}, "no features"),
    ],
)
def test_bad_parameters_are_refused_with_the_parameter_named(params: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        HashingTextEncoder(**params).transform(["x"])


def test_get_params_and_set_params_follow_scikit_learn() -> None:
    enc = HashingTextEncoder(dim=128, idf=True)
    assert enc.get_params()["dim"] == 128 and enc.get_params()["idf"] is True
    assert enc.set_params(dim=64).dim == 64


def test_sklearn_clone_copies_parameters_not_state() -> None:
    base = pytest.importorskip("sklearn.base")
    enc = HashingTextEncoder(dim=32, idf=True).fit(COMMENTS)
    twin = base.clone(enc)
    assert twin.get_params() == enc.get_params() and not hasattr(twin, "idf_")


def test_save_and_load_round_trip_keeps_idf(tmp_path) -> None:
    enc = HashingTextEncoder(dim=256, idf=True, char_ngram_range=(1, 2)).fit(COMMENTS)
    enc.save(tmp_path / "enc")
    again = liverec.load(tmp_path / "enc")
    assert isinstance(again, HashingTextEncoder) and again.get_params() == enc.get_params()
    np.testing.assert_array_equal(again.transform(COMMENTS), enc.transform(COMMENTS))


def test_unfitted_stateless_encoder_can_be_saved_and_loaded(tmp_path) -> None:
    enc = HashingTextEncoder(dim=32)
    enc.save(tmp_path / "enc")
    np.testing.assert_array_equal(liverec.load(tmp_path / "enc").transform(COMMENTS), enc.transform(COMMENTS))


texts_strategy = st.lists(st.text(max_size=30), min_size=1, max_size=12)


@settings(max_examples=60)
@given(texts=texts_strategy)
def test_rows_have_unit_norm_or_are_zero(texts: list[str]) -> None:
    X = HashingTextEncoder(dim=128).transform(texts)
    norms = np.linalg.norm(X, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))


@settings(max_examples=60)
@given(texts=texts_strategy)
def test_each_text_is_encoded_independently_of_its_batch(texts: list[str]) -> None:
    enc = HashingTextEncoder(dim=128)
    together = enc.transform(texts)
    alone = np.vstack([enc.transform([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


@settings(max_examples=40)
@given(texts=texts_strategy, seed=st.integers(0, 2**32 - 1))
def test_permuting_the_batch_permutes_the_rows(texts: list[str], seed: int) -> None:
    enc = HashingTextEncoder(dim=64)
    perm = np.random.default_rng(seed).permutation(len(texts))
    np.testing.assert_allclose(enc.transform([texts[i] for i in perm]), enc.transform(texts)[perm], atol=1e-6)
