"""Text features for live streams: comments, ASR transcripts and titles, Chinese and English.

* [`HashingTextEncoder`][liverec.text.HashingTextEncoder] — hashed character and word n-grams; no model, no download.
* [`TransformerTextEncoder`][liverec.text.TransformerTextEncoder] — a Hugging Face encoder (e.g. all-MiniLM-L6-v2), imported
  lazily: ``import liverec.text`` never imports ``transformers``.
* [`StreamTextEmbedder`][liverec.text.StreamTextEmbedder] / [`embed_streams`][liverec.text.embed_streams] — one vector per stream (item) from its
  texts, optionally at a time ``at`` over a recent window with exponential time decay, aligned
  with an [`IdMap`][liverec.data.IdMap] so it can be passed as ``item_features``.
"""

from .base import BaseTextEncoder, check_texts
from .hashing import HashingTextEncoder, normalize_text
from .streams import StreamTextEmbedder, embed_streams
from .transformer import DEFAULT_MODEL, TransformerTextEncoder

__all__ = [
    "BaseTextEncoder",
    "DEFAULT_MODEL",
    "HashingTextEncoder",
    "StreamTextEmbedder",
    "TransformerTextEncoder",
    "check_texts",
    "embed_streams",
    "normalize_text",
]
