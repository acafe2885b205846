"""``HashingTextEncoder``: bag of character and word n-grams, feature-hashed, no model needed.

How a batch is encoded (all steps vectorised with numpy over the whole batch — there is no
Python loop over texts or n-grams, which is what makes it fast):

1. **Normalise** — the texts are joined with ``"\\x00"`` and normalised once: Unicode NFKC
   (full-width Latin letters, digits and punctuation become their ASCII forms, ``"ｌｉｖｅ！"``
   -> ``"live!"``; compatibility ideographs become the unified ones) and lower case.
2. **Code points** — the joined string becomes a ``uint32`` array of code points
   (``str.encode("utf-32-le")``).
3. **Character n-grams** — every run of ``n`` consecutive non-space characters, for ``n`` in
   ``char_ngram_range``. Chinese needs no word segmenter: ``"口红"`` gives ``口``, ``红``,
   ``口红``. n-grams never cross whitespace or the boundary between two texts.
4. **Word n-grams** — maximal runs of letters and digits that are not CJK ideographs, kana or
   hangul (so Latin, Cyrillic, Greek... words and numbers such as ``618``), and n-grams of
   consecutive words, for ``n`` in ``word_ngram_range``.
5. **Hash** — each n-gram gets a 64-bit polynomial hash computed from prefix sums modulo
   2**64, then the MurmurHash3 finaliser with a tag for its kind and length. The same text
   gives the same features in every process and on every platform (no Python ``hash()``).
   The low bits pick one of ``dim`` columns, the top bit a sign (signed hashing: colliding
   features cancel on average instead of piling up).
6. **Weight** — counts (optionally ``1 + log(count)``), times the IDF learned in ``fit`` when
   ``idf=True``, then each row is L2-normalised.
"""

from __future__ import annotations

import numbers
import unicodedata
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .._params import Interval, SequenceOf
from ..exceptions import DataValidationError, InvalidParameterError, PersistenceError
from ..persistence import expect_array, expect_attribute, register
from .base import BaseTextEncoder, check_texts

#: An n-gram range ``(min_n, max_n)``: two lengths >= 1, ``min_n <= max_n``.
_NGRAM_RANGE = SequenceOf(Interval(numbers.Integral, 1, None, closed="left"), length=2, ordered=True)

__all__ = ["HashingTextEncoder", "normalize_text"]

_SEP = "\x00"
_MASK64 = (1 << 64) - 1
_BASE = 0x100000001B3  # odd 64-bit multiplier (the FNV-1 prime)
_BASE_INV = pow(_BASE, -1, 1 << 64)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S63 = np.uint64(63)
_TAG_CHAR = 0x9E3779B97F4A7C15
_TAG_WORD = 0xD6E8FEB86659FD93
_BIGRAM = np.uint64(0xA0761D6478BD642F)

_POW_CACHE: dict[str, np.ndarray] = {}
_WORD_TABLE: np.ndarray | None = None
_SPACE_TABLE: np.ndarray | None = None
# CJK ideographs, kana and hangul are letters for str.isalnum but are covered by character
# n-grams; they are not "words" here.
_NOT_WORD_RANGES = [
    (0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3100, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xA960, 0xA97F), (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFFDC),
]


def normalize_text(text: str) -> str:
    """The normalisation [`HashingTextEncoder`][liverec.text.HashingTextEncoder] applies: NFKC, then lower case.

    Args:
        text: Any string.

    Returns:
        The normalised string.

    Examples:
        >>> normalize_text("ＬＩＶＥ直播！ Ｎｏ．１")
        'live直播! no.1'
    """
    return unicodedata.normalize("NFKC", text).lower()


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables over the Basic Multilingual Plane: is a word character / is whitespace."""
    global _WORD_TABLE, _SPACE_TABLE
    if _WORD_TABLE is None or _SPACE_TABLE is None:
        chars = "".join(map(chr, range(0x10000)))
        word = np.fromiter((c.isalnum() for c in chars), dtype=bool, count=0x10000)
        for lo, hi in _NOT_WORD_RANGES:
            word[lo:hi + 1] = False
        space = np.fromiter((c.isspace() for c in chars), dtype=bool, count=0x10000)
        space[0] = True  # the separator between texts
        _WORD_TABLE, _SPACE_TABLE = word, space
    return _WORD_TABLE, _SPACE_TABLE


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``BASE**i`` and ``BASE**-i`` modulo 2**64 for ``i < n`` (cached, grown by doubling)."""
    have = _POW_CACHE.get("pow")
    if have is None or len(have) < n:
        size = max(n, 2 * (0 if have is None else len(have)), 4096)
        with np.errstate(over="ignore"):
            pw = np.full(size, _BASE, dtype=np.uint64)
            pw[0] = 1
            pw = np.cumprod(pw, dtype=np.uint64)
            inv = np.full(size, _BASE_INV, dtype=np.uint64)
            inv[0] = 1
            inv = np.cumprod(inv, dtype=np.uint64)
        _POW_CACHE["pow"], _POW_CACHE["inv"] = pw, inv
    return _POW_CACHE["pow"][:n], _POW_CACHE["inv"][:n]


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (in place on a fresh array)."""
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


def _code_points(texts: list[str]) -> np.ndarray:
    joined = _SEP.join(texts)
    if joined.count(_SEP) != len(texts) - 1:  # a text contains the separator itself
        joined = _SEP.join(t.replace(_SEP, " ") for t in texts)
    if not joined.isascii():
        joined = unicodedata.normalize("NFKC", joined)
    joined = joined.lower()
    return np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")


@register
class HashingTextEncoder(BaseTextEncoder):
    """Text -> vector without a model: hashed character and word n-grams, Chinese and English.

    Needs no download and no vocabulary; the same text gives the same vector in every
    process. Character n-grams make it work on Chinese (no word segmenter) and on slang,
    typos and bullet-chat ("哈哈哈哈", "yyds", "666"); word n-grams add whole Latin words.
    Encodes well over 50,000 short comments per second on one core (see ``docs/text.md``).

    An empty (or whitespace-only) string gives the zero vector; ``None`` raises
    [`DataValidationError`][liverec.exceptions.DataValidationError].

    Args:
        dim: Number of hashed features (output columns). More columns mean fewer collisions
            and a larger matrix; ``2**10`` .. ``2**14`` is the useful range.
        char_ngram_range: ``(min_n, max_n)`` lengths of character n-grams; ``None`` for none.
        word_ngram_range: ``(min_n, max_n)`` lengths of word n-grams; ``None`` for none.
        idf: Learn inverse document frequencies in ``fit`` and weight features by them
            (``transform`` then needs ``fit`` first). Without it the encoder is stateless and
            ``transform`` works unfitted, like scikit-learn's ``HashingVectorizer``.
        sublinear_tf: Use ``1 + log(count)`` instead of the raw count of an n-gram in a text
            (helps long transcripts, where frequent n-grams would otherwise dominate).
        alternate_sign: Give each feature a hash-derived sign, so collisions cancel on average.

    Attributes:
        idf_: float32 array ``(dim,)`` of inverse document frequencies (after ``fit`` with
            ``idf=True``): ``ln((1 + n) / (1 + df)) + 1``, with ``df`` the number of texts that
            have the column.
        n_texts_seen_: Number of texts seen in ``fit``.

    Examples:
        >>> enc = HashingTextEncoder(dim=256)
        >>> X = enc.transform(["这个口红颜色好看", "口红多少钱", "hello world", ""])
        >>> X.shape, X.dtype.name
        ((4, 256), 'float32')
        >>> bool(X[0] @ X[1] > X[0] @ X[2])  # shared characters make texts similar
        True
        >>> float(abs(X[3]).sum())  # the empty string is the zero vector
        0.0
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "char_ngram_range": [_NGRAM_RANGE, None],
        "word_ngram_range": [_NGRAM_RANGE, None],
        "idf": [bool],
        "sublinear_tf": [bool],
        "alternate_sign": [bool],
    }

    def __init__(
        self,
        dim: int = 2048,
        char_ngram_range: tuple[int, int] | None = (1, 3),
        word_ngram_range: tuple[int, int] | None = (1, 2),
        idf: bool = False,
        sublinear_tf: bool = False,
        alternate_sign: bool = True,
    ) -> None:
        self.dim = dim
        self.char_ngram_range = char_ngram_range
        self.word_ngram_range = word_ngram_range
        self.idf = idf
        self.sublinear_tf = sublinear_tf
        self.alternate_sign = alternate_sign

    @property
    def _stateless(self) -> bool:  # type: ignore[override]
        return not self.idf

    # Validation ---------------------------------------------------------------------------
    def _validate_param_relations(self) -> None:
        if self.char_ngram_range is None and self.word_ngram_range is None:
            raise InvalidParameterError(
                f"{type(self).__name__}: char_ngram_range and word_ngram_range are both None: the "
                "encoder would have no features; set at least one, e.g. char_ngram_range=(1, 3)."
            )

    def _ranges(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """The validated n-gram ranges as ``(min_n, max_n)`` int pairs (``None`` when off)."""
        char, word = self.char_ngram_range, self.word_ngram_range
        return (None if char is None else (int(char[0]), int(char[1])),
                None if word is None else (int(word[0]), int(word[1])))

    # Core -----------------------------------------------------------------------------------
    def _features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Row (text index) and 64-bit key of every n-gram occurrence in the batch."""
        char_range, word_range = self._ranges()
        cp = _code_points(texts)
        n = len(cp)
        word_table, space_table = _tables()
        bmp = cp < 0x10000
        cp_bmp = np.where(bmp, cp, 0)
        boundary = space_table[cp_bmp] & bmp  # whitespace or the text separator
        doc = np.cumsum(cp == 0, dtype=np.int64)  # text index of every position
        pw, inv = _powers(n + 1)
        with np.errstate(over="ignore"):
            c = cp.astype(np.uint64) + np.uint64(1)
            prefix = np.zeros(n + 1, dtype=np.uint64)
            np.cumsum(c * inv[:n], out=prefix[1:])
        rows: list[np.ndarray] = []
        keys: list[np.ndarray] = []

        def substring_hash(start: np.ndarray, end: np.ndarray) -> np.ndarray:
            # sum_{j in [start, end)} c_j * BASE**(end-1-j)  (mod 2**64)
            with np.errstate(over="ignore"):
                return pw[end - 1] * (prefix[end] - prefix[start])

        if char_range is not None:
            bcount = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(boundary, out=bcount[1:])
            for size in range(char_range[0], char_range[1] + 1):
                if size > n:
                    break
                start = np.arange(n - size + 1)
                ok = bcount[size:] == bcount[:-size]  # no boundary inside the n-gram
                start = start[ok]
                with np.errstate(over="ignore"):
                    h = substring_hash(start, start + size) ^ np.uint64((_TAG_CHAR * size) & _MASK64)
                keys.append(_fmix64(h))
                rows.append(doc[start])
        if word_range is not None:
            is_word = word_table[cp_bmp] & bmp
            edges = np.diff(is_word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
            w_start = np.flatnonzero(edges == 1)
            w_end = np.flatnonzero(edges == -1)
            if len(w_start):
                with np.errstate(over="ignore"):
                    wh = _fmix64(substring_hash(w_start, w_end) ^ np.uint64(_TAG_WORD))
                w_doc = doc[w_start]
                gram = wh
                for size in range(1, word_range[1] + 1):
                    if size > 1:
                        # n-gram ending at word k = (n-1)-gram ending at k-1 combined with word k
                        same = w_doc[size - 1:] == w_doc[: len(w_doc) - size + 1]
                        with np.errstate(over="ignore"):
                            gram = _fmix64(gram[:-1] * _BIGRAM + wh[size - 1:])
                        if size >= word_range[0]:
                            keys.append(gram[same])
                            rows.append(w_doc[size - 1:][same])
                    elif word_range[0] == 1:
                        keys.append(gram)
                        rows.append(w_doc)
        if not keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
        return np.concatenate(rows), np.concatenate(keys)

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        """Signed n-gram counts per hashed column, duplicates summed, as float32 CSR."""
        rows, keys = self._features(texts)
        dim = int(self.dim)
        if dim & (dim - 1) == 0:
            cols = (keys & np.uint64(dim - 1)).astype(np.int32)
        else:
            cols = (keys % np.uint64(dim)).astype(np.int32)
        if self.alternate_sign:
            vals = 1.0 - 2.0 * (keys >> _S63).astype(np.float32)
        else:
            vals = np.ones(len(keys), dtype=np.float32)
        X = sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), dim), dtype=np.float32)
        X.sum_duplicates()
        X.eliminate_zeros()  # signed collisions that cancelled exactly
        if self.sublinear_tf and X.nnz:
            X.data = np.sign(X.data) * (1.0 + np.log(np.abs(X.data)))
        return X

    def _fit(self, texts: list[str] | None) -> None:
        if not self.idf:
            self.n_texts_seen_ = 0 if texts is None else len(texts)
            return
        if texts is None or len(texts) == 0:
            raise DataValidationError("HashingTextEncoder(idf=True).fit needs a non-empty sequence of texts.")
        df = np.zeros(int(self.dim), dtype=np.float64)
        for start in range(0, len(texts), 8192):
            X = self._counts(texts[start:start + 8192])
            df += np.bincount(X.indices, minlength=int(self.dim))
        n = len(texts)
        self.idf_ = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        self.n_texts_seen_ = n

    def transform_sparse(self, texts: Any) -> sp.csr_matrix:
        """Like [`transform`][liverec.text.HashingTextEncoder.transform] but returns a ``scipy.sparse`` CSR matrix (for large ``dim``).

        Examples:
            >>> X = HashingTextEncoder(dim=2**20).transform_sparse(["主播好美", "666"])
            >>> X.shape, X.format
            ((2, 1048576), 'csr')
        """
        self._validate_params()
        self._check_ready()
        checked = check_texts(texts)
        if not checked:
            return sp.csr_matrix((0, int(self.dim)), dtype=np.float32)
        out = []
        for start in range(0, len(checked), 8192):
            out.append(self._weighted(checked[start:start + 8192]))
        return out[0] if len(out) == 1 else sp.vstack(out, format="csr")

    def _weighted(self, texts: list[str]) -> sp.csr_matrix:
        X = self._counts(texts)
        if self.idf:
            X.data *= self.idf_[X.indices]
        if X.nnz:
            row = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            norms = np.sqrt(np.bincount(row, weights=np.square(X.data, dtype=np.float64), minlength=X.shape[0]))
            X.data /= norms[row].astype(np.float32)
        return X

    def _transform(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), int(self.dim)), dtype=np.float32)
        for start in range(0, len(texts), 8192):
            X = self._weighted(texts[start:start + 8192])
            block = out[start:start + X.shape[0]]
            row = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            block[row, X.indices] = X.data
        return out

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"idf": self.idf_} if self.idf else {}
        return {"n_texts_seen": int(self.n_texts_seen_)}, arrays

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.n_texts_seen_ = expect_attribute(attributes, "n_texts_seen", int)
        if self.idf:
            self.idf_ = expect_array(arrays, "idf", "f", (self.dim,), finite=True, dtype=np.float32)
            if (self.idf_ < 1.0 - 1e-6).any():  # log((1 + n) / (1 + df)) + 1 >= 1
                raise PersistenceError("arrays.safetensors: tensor 'idf': inverse document frequencies are >= 1")
