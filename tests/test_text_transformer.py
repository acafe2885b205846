"""TransformerTextEncoder on a tiny random BERT built in a temp folder (no real model, no network).

Every expected value is computed here by hand with transformers and torch directly: the
tokenizer's ids, the model's last hidden states, the masked mean / first token, the
weighted mean over chunks and the L2 normalisation.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import liverec
from liverec.exceptions import DataValidationError, InvalidParameterError
from liverec.text import TransformerTextEncoder

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

CHINESE = list("主播好美口红多少钱来了直播间今晚抽奖手机颜色看这个")
ENGLISH = ["how", "much", "is", "the", "lipstick", "live", "buy", "now", "hello", "world", "good", "##s", "##ing"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CHINESE + ENGLISH + list("abcdefghijklmnopqrstuvwxyz0123456789") + list("!?.,，。？！")

TEXTS = [
    "主播好美",
    "how much is the lipstick?",
    "这个口红多少钱？",
    "666 😀😀 来了来了",
    "buy now",
    "今晚 直播间 抽奖 送 手机 good lipstick colours",
    "a",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random BERT with a 100-token vocabulary, saved with its tokenizer."""
    path = tmp_path_factory.mktemp("tiny-bert")
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizer(str(path / "vocab.txt"))
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=128,
    )
    transformers.logging.set_verbosity_error()
    transformers.BertModel(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def reference(tiny_bert: Path):
    """The tokenizer and model loaded directly with transformers, for hand computation."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tiny_bert))
    model = transformers.AutoModel.from_pretrained(str(tiny_bert)).eval()
    return tokenizer, model


def hidden_states(model, ids: list[int]) -> np.ndarray:
    """Last hidden states of one unpadded input (no batching, no padding)."""
    with torch.inference_mode():
        t = torch.tensor([ids])
        return model(input_ids=t, attention_mask=torch.ones_like(t)).last_hidden_state[0].double().numpy()


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_mean_pooling_matches_hand_computation(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    X = TransformerTextEncoder(model=str(tiny_bert), device="cpu").transform(TEXTS)
    for row, text in zip(X, TEXTS, strict=True):
        ids = tokenizer(text)["input_ids"]
        np.testing.assert_allclose(row, unit(hidden_states(model, ids).mean(axis=0)), atol=1e-5)


def test_cls_pooling_takes_the_first_token(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    X = TransformerTextEncoder(model=str(tiny_bert), pooling="cls", device="cpu").transform(TEXTS)
    for row, text in zip(X, TEXTS, strict=True):
        np.testing.assert_allclose(row, unit(hidden_states(model, tokenizer(text)["input_ids"])[0]), atol=1e-5)


def test_normalize_false_returns_the_raw_mean(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    X = TransformerTextEncoder(model=str(tiny_bert), normalize=False).transform(TEXTS[:2])
    expected = hidden_states(model, tokenizer(TEXTS[1])["input_ids"]).mean(axis=0)
    np.testing.assert_allclose(X[1], expected, atol=1e-5)
    assert abs(np.linalg.norm(X[1]) - 1) > 1e-3


def test_output_shape_dtype_and_dim(tiny_bert: Path) -> None:
    enc = TransformerTextEncoder(model=str(tiny_bert))
    X = enc.transform(TEXTS)
    assert X.shape == (len(TEXTS), 32) and X.dtype == np.float32 and enc.dim == 32


def test_length_sorted_batches_equal_a_naive_loop_in_input_order(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    texts = TEXTS * 3
    X = TransformerTextEncoder(model=str(tiny_bert), batch_size=4).transform(texts)
    naive = []
    with torch.inference_mode():
        for start in range(0, len(texts), 4):  # fixed-size batches in input order, padded by the tokenizer
            batch = tokenizer(texts[start:start + 4], padding=True, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            m = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * m).sum(1) / m.sum(1)
            naive.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    np.testing.assert_allclose(X, np.vstack(naive), atol=1e-5)


def test_results_come_back_in_input_order(tiny_bert: Path) -> None:
    enc = TransformerTextEncoder(model=str(tiny_bert), batch_size=2)
    forward = enc.transform(TEXTS)
    backward = enc.transform(TEXTS[::-1])
    np.testing.assert_allclose(backward, forward[::-1], atol=1e-6)


def test_progress_bar_does_not_change_the_results(tiny_bert: Path, capsys) -> None:
    pytest.importorskip("tqdm")
    quiet = TransformerTextEncoder(model=str(tiny_bert), batch_size=2).transform(TEXTS)
    shown = TransformerTextEncoder(model=str(tiny_bert), batch_size=2, verbose=True).transform(TEXTS)
    np.testing.assert_array_equal(quiet, shown)
    assert "TransformerTextEncoder" in capsys.readouterr().err
    with pytest.warns(DeprecationWarning, match="verbose"):
        old = TransformerTextEncoder(model=str(tiny_bert), batch_size=2, progress=True).transform(TEXTS)
    np.testing.assert_array_equal(quiet, old)


def test_duplicate_texts_get_identical_rows(tiny_bert: Path) -> None:
    X = TransformerTextEncoder(model=str(tiny_bert)).transform(["主播好美", "buy now", "主播好美"])
    np.testing.assert_array_equal(X[0], X[2])


def test_empty_and_whitespace_texts_are_zero_vectors(tiny_bert: Path) -> None:
    X = TransformerTextEncoder(model=str(tiny_bert)).transform(["", "主播好美", "  \n"])
    assert not X[0].any() and not X[2].any() and X[1].any()


def test_only_empty_texts_need_no_forward_pass(tiny_bert: Path) -> None:
    X = TransformerTextEncoder(model=str(tiny_bert)).transform(["", ""])
    assert X.shape == (2, 32) and not X.any()


def test_none_is_an_error_naming_the_row(tiny_bert: Path) -> None:
    with pytest.raises(DataValidationError, match="row 1"):
        TransformerTextEncoder(model=str(tiny_bert)).transform(["x", None])


def test_unknown_characters_and_emoji_still_give_unit_vectors(tiny_bert: Path) -> None:
    X = TransformerTextEncoder(model=str(tiny_bert)).transform(["😀🎁", "ñ§µ"])
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)


def windows(ids: list[int], max_length: int, overlap: int) -> list[list[int]]:
    """Hand-written chunking: [CLS] + window + [SEP], windows of max_length - 2 tokens."""
    cls, body, sep = ids[:1], ids[1:-1], ids[-1:]
    room = max_length - 2
    out, start = [], 0
    while True:
        out.append(cls + body[start:start + room] + sep)
        if start + room >= len(body):
            return out
        start += room - overlap


LONG = " ".join(["主播好美", "how much is the lipstick", "这个口红多少钱", "buy now"] * 6)


def test_long_text_is_chunked_and_pooled_by_token_weighted_mean(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    ids = tokenizer(LONG)["input_ids"]
    assert len(ids) > 40
    chunks = windows(ids, 16, 4)
    assert len(chunks) > 2
    total = sum(hidden_states(model, c).mean(axis=0) * len(c) for c in chunks)
    expected = unit(total / sum(len(c) for c in chunks))
    X = TransformerTextEncoder(model=str(tiny_bert), max_length=16, chunk_overlap=4, batch_size=3).transform(["buy", LONG])
    np.testing.assert_allclose(X[1], expected, atol=1e-5)


def test_long_text_with_cls_pooling_averages_the_windows_first_tokens(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    chunks = windows(tokenizer(LONG)["input_ids"], 16, 0)
    expected = unit(np.mean([hidden_states(model, c)[0] for c in chunks], axis=0))
    X = TransformerTextEncoder(model=str(tiny_bert), pooling="cls", max_length=16, chunk_overlap=0).transform([LONG])
    np.testing.assert_allclose(X[0], expected, atol=1e-5)


def test_truncate_keeps_only_the_first_window(tiny_bert: Path, reference) -> None:
    tokenizer, model = reference
    ids = tokenizer(LONG, truncation=True, max_length=16)["input_ids"]
    X = TransformerTextEncoder(model=str(tiny_bert), max_length=16, long_text="truncate").transform([LONG])
    np.testing.assert_allclose(X[0], unit(hidden_states(model, ids).mean(axis=0)), atol=1e-5)


def test_very_long_text_beyond_the_position_limit_is_encoded(tiny_bert: Path) -> None:
    # 128 positions in the tiny model; this text has thousands of tokens
    X = TransformerTextEncoder(model=str(tiny_bert), max_length=128).transform([LONG * 20])
    assert abs(np.linalg.norm(X[0]) - 1) < 1e-5


def test_max_length_defaults_to_sentence_bert_config(tiny_bert: Path, tmp_path: Path) -> None:
    copy = tmp_path / "with-st-config"
    shutil.copytree(tiny_bert, copy)
    (copy / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    default = TransformerTextEncoder(model=str(copy)).transform([LONG])
    explicit = TransformerTextEncoder(model=str(tiny_bert), max_length=16).transform([LONG])
    np.testing.assert_allclose(default, explicit, atol=1e-6)


def test_cache_returns_stored_vectors_without_running_the_model(tiny_bert: Path, tmp_path: Path, monkeypatch) -> None:
    enc = TransformerTextEncoder(model=str(tiny_bert), cache_dir=str(tmp_path / "cache"))
    first = enc.transform(TEXTS)
    assert (tmp_path / "cache" / "embeddings.sqlite").exists()

    def fail(*args, **kwargs):
        raise AssertionError("the model ran although every text was cached")

    monkeypatch.setattr(TransformerTextEncoder, "_encode_chunks", fail)
    np.testing.assert_array_equal(enc.transform(TEXTS[::-1]), first[::-1])


def test_cache_keys_depend_on_the_settings(tiny_bert: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    mean = TransformerTextEncoder(model=str(tiny_bert), cache_dir=cache).transform(TEXTS)
    cls = TransformerTextEncoder(model=str(tiny_bert), pooling="cls", cache_dir=cache).transform(TEXTS)
    uncached = TransformerTextEncoder(model=str(tiny_bert), pooling="cls").transform(TEXTS)
    np.testing.assert_array_equal(cls, uncached)
    assert not np.allclose(mean, cls)


def test_get_params_set_params_and_clone(tiny_bert: Path) -> None:
    base = pytest.importorskip("sklearn.base")
    enc = TransformerTextEncoder(model=str(tiny_bert), pooling="cls", batch_size=8)
    assert enc.get_params()["pooling"] == "cls"
    enc.set_params(pooling="mean")
    twin = base.clone(enc)
    assert twin.get_params() == enc.get_params()


def test_fit_loads_the_model_and_returns_self(tiny_bert: Path) -> None:
    enc = TransformerTextEncoder(model=str(tiny_bert))
    assert enc.fit(TEXTS) is enc and enc.is_fitted_


def test_save_writes_the_configuration_not_the_weights(tiny_bert: Path, tmp_path: Path) -> None:
    enc = TransformerTextEncoder(model=str(tiny_bert), pooling="cls", max_length=16)
    enc.save(tmp_path / "enc")
    config = json.loads((tmp_path / "enc" / "config.json").read_text())
    assert config["class"] == "TransformerTextEncoder" and config["params"]["model"] == str(tiny_bert)
    assert os.path.getsize(tmp_path / "enc" / "arrays.safetensors") < 1024
    again = liverec.load(tmp_path / "enc")
    np.testing.assert_array_equal(again.transform(TEXTS), enc.transform(TEXTS))


@pytest.mark.parametrize(
    "params, match",
    [({"pooling": "max"}, "pooling"), ({"batch_size": 0}, "batch_size"),
     ({"long_text": "drop"}, "long_text"), ({"max_length": 2}, "max_length")],
)
def test_bad_parameters_are_refused(tiny_bert: Path, params: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        TransformerTextEncoder(model=str(tiny_bert), **params).transform(["x"])


def test_a_missing_model_directory_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="could not load model"):
        TransformerTextEncoder(model=str(tmp_path / "nope"), local_files_only=True).transform(["x"])


def test_stream_embeddings_work_with_the_transformer_encoder(tiny_bert: Path) -> None:
    from liverec.data import TextEvents
    from liverec.text import embed_streams

    enc = TransformerTextEncoder(model=str(tiny_bert))
    T = TextEvents.from_arrays(item=["a", "a", "b"], text=TEXTS[:3], time=[0, 1, 2])
    X = embed_streams(T, enc, items=["b", "a"])
    V = enc.transform(TEXTS[:3])
    np.testing.assert_allclose(X[0], V[2], atol=1e-6)
    np.testing.assert_allclose(X[1], unit(V[0] + V[1]), atol=1e-6)


def test_a_saved_encoder_loads_and_encodes_in_a_fresh_process(tiny_bert: Path) -> None:
    from liverec.testing import check_loads_in_fresh_process

    check_loads_in_fresh_process(TransformerTextEncoder(model=str(tiny_bert), device="cpu"), "transform",
                                 np.array(TEXTS[:3]))
