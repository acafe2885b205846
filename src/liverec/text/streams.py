"""One text vector per stream: aggregate the embeddings of its comments, transcript and title.

The result is a float32 matrix whose rows follow a given item order (an [`IdMap`][liverec.data.IdMap], e.g.
``interactions.items``, or a list of ids), so it can be passed as ``item_features`` to
models and profiles. Items with no text (in the window) get a zero row.
"""

from __future__ import annotations

import copy
import datetime as _dt
import numbers
import os
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from typing_extensions import Self

from .. import persistence
from .._params import DictOf, HasMethods, Interval, Options, ParamsMixin, Timedelta
from ..data import IdMap, TextEvents
from ..data._columns import as_time_query
from ..data.text import TEXT_KINDS
from ..exceptions import DataTypeError, DataValidationError, NotFittedError, PersistenceError
from .base import BaseTextEncoder

__all__ = ["StreamTextEmbedder", "embed_streams"]

_TITLE = TEXT_KINDS.index("title")


def _as_duration(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    elif isinstance(value, np.timedelta64):
        value = value / np.timedelta64(1, "s")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataTypeError(f"{name} must be a number (in the data's time unit) or a timedelta, got {value!r}.") from None
    if not out > 0:
        raise DataValidationError(f"{name} must be positive, got {value!r}.")
    return out


@persistence.register
class StreamTextEmbedder(ParamsMixin):
    """Embed each stream (item) from its texts, optionally as of a time ``at``.

    ``fit(text)`` encodes every distinct text of a [`TextEvents`][liverec.data.TextEvents] once
    (fitting the encoder first when it needs it, e.g. ``HashingTextEncoder(idf=True)``, on a
    copy). ``transform(items, at)`` then aggregates, without encoding again, as often and for
    as many times as needed:

    * ``at=None``: all texts of each item, no time decay.
    * ``at`` a time (or one time per requested row): the texts with
      ``at - window < time <= at``, weighted by ``kind_weights[kind] * 0.5 ** ((at - time) /
      half_life)``. Titles describe the whole stream: they count whenever ``time <= at``,
      without window or decay.

    A row is the weighted mean of its texts' embeddings, L2-normalised when ``normalize``;
    an item without texts gets the zero vector. ``save(path)`` / [`liverec.load`][liverec.load] keep the
    encoded texts and the fitted encoder, so a loaded embedder transforms and calls ``partial_fit``
    without encoding the old texts again (a ``TransformerTextEncoder`` is saved as its
    configuration: its model directory must still exist to encode new texts). Times, ``window`` and ``half_life`` are in
    the time unit of the data (seconds for datetimes; ``datetime.timedelta`` also works).

    Args:
        encoder: Any liverec text encoder; ``None`` uses ``HashingTextEncoder()``.
        window: Only texts newer than ``at - window`` count (``None``: no limit).
        half_life: Age at which a text's weight halves (``None``: no decay).
        kind_weights: Weight of each text kind, e.g. ``{"transcript": 2.0, "comment": 1.0}``;
            kinds not named weigh 1.0, a weight of 0 drops that kind.
        normalize: L2-normalise the rows.

    Attributes:
        items_: [`IdMap`][liverec.data.IdMap] of the items seen in ``fit`` / ``partial_fit``.
        encoder_: The (possibly fitted copy of the) encoder used.
        embeddings_: float32 ``(n_distinct_texts, dim)``, the encoded texts.

    Examples:
        >>> from liverec.data import TextEvents
        >>> from liverec.text import HashingTextEncoder
        >>> T = TextEvents.from_arrays(
        ...     item=["room1", "room1", "room2", "room2"],
        ...     text=["新款口红试色", "这个色号好看", "今晚抽奖送手机", "手机多少钱"],
        ...     time=[0, 60, 0, 90], kind=["title", "comment", "title", "comment"])
        >>> emb = StreamTextEmbedder(HashingTextEncoder(dim=256), window=600, half_life=300).fit(T)
        >>> emb.transform(at=120).shape
        (2, 256)
        >>> X = emb.transform(["room2", "room3"], at=[120, 120])  # room3 has no text: zero row
        >>> float(abs(X[1]).sum())
        0.0
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "encoder": [HasMethods("transform"), None],
        "window": [Interval(numbers.Real, 0, None, closed="neither"), Timedelta(), None],
        "half_life": [Interval(numbers.Real, 0, None, closed="neither"), Timedelta(), None],
        "kind_weights": [DictOf(Options(TEXT_KINDS), Interval(numbers.Real, 0, None, closed="left")), None],
        "normalize": [bool],
    }

    def __init__(
        self,
        encoder: BaseTextEncoder | None = None,
        window: float | None = None,
        half_life: float | None = None,
        kind_weights: dict[str, float] | None = None,
        normalize: bool = True,
    ) -> None:
        self.encoder = encoder
        self.window = window
        self.half_life = half_life
        self.kind_weights = kind_weights
        self.normalize = normalize

    # Fitting ------------------------------------------------------------------------------------
    def _kind_weights(self) -> np.ndarray:
        """Weight of every text kind (validated parameters: known kinds, weights >= 0)."""
        w = np.ones(len(TEXT_KINDS), dtype=np.float64)
        for name, value in dict(self.kind_weights or {}).items():
            w[TEXT_KINDS.index(name)] = float(value)
        return w

    def fit(self, text: TextEvents) -> Self:
        """Encode the texts of ``text`` (each distinct string once).

        Args:
            text: The texts, one row per comment / transcript snippet / title.

        Returns:
            ``self``.

        Raises:
            InvalidParameterError: for a hyper-parameter outside what the class declares.
        """
        self._validate_params()
        if not isinstance(text, TextEvents):
            raise DataTypeError(
                f"fit expects liverec.data.TextEvents, got {type(text).__name__}; build one with "
                "TextEvents.from_arrays(item, text, time, kind)."
            )
        encoder = self.encoder
        if encoder is None:
            from .hashing import HashingTextEncoder

            encoder = HashingTextEncoder()
        if not hasattr(encoder, "transform"):
            raise DataTypeError(f"encoder must be a text encoder with transform(texts), got {type(encoder).__name__}.")
        uniq, inverse = np.unique(text.text.astype(str), return_inverse=True)
        if not getattr(encoder, "_stateless", True) and not getattr(encoder, "is_fitted_", False):
            encoder = copy.deepcopy(encoder).fit(uniq.tolist())
        self.encoder_ = encoder
        self.vocabulary_ = {t: j for j, t in enumerate(uniq.tolist())}
        self.embeddings_ = np.asarray(encoder.transform(uniq.tolist()), dtype=np.float32)
        self.items_ = text.items
        self.time_kind_ = text.time_kind
        self._set_events(text.item_codes, text.time, text.kind, inverse.reshape(-1).astype(np.int64))
        return self

    def partial_fit(self, text: TextEvents) -> Self:
        """Add new texts (e.g. the comments of the last minute) without re-encoding old ones.

        New items are appended to ``items_``; the encoder is not refitted.

        Returns:
            ``self``.
        """
        if not hasattr(self, "embeddings_"):
            return self.fit(text)
        if not isinstance(text, TextEvents):
            raise DataTypeError(f"partial_fit expects liverec.data.TextEvents, got {type(text).__name__}.")
        strings = text.text.astype(str).tolist()
        new = sorted({s for s in strings if s not in self.vocabulary_})
        if new:
            base = len(self.vocabulary_)
            self.vocabulary_.update({t: base + j for j, t in enumerate(new)})
            emb = np.asarray(self.encoder_.transform(new), dtype=np.float32)
            self.embeddings_ = np.concatenate([self.embeddings_, emb])
        idx = np.fromiter((self.vocabulary_[s] for s in strings), dtype=np.int64, count=len(strings))
        items = self.items_.extend(text.item)
        codes = items.codes(text.item)
        self.items_ = items
        self._set_events(np.concatenate([self.event_item_, codes]), np.concatenate([self.event_time_, text.time]),
                         np.concatenate([self.event_kind_, text.kind]), np.concatenate([self.event_text_, idx]))
        return self

    def _set_events(self, item: np.ndarray, time: np.ndarray, kind: np.ndarray, text_idx: np.ndarray) -> None:
        # sorted by (titles last, item, time): each item's timed texts and titles are contiguous
        is_title = (kind == _TITLE).astype(np.int8)
        order = np.lexsort((time, item, is_title))
        self.event_item_ = item[order].astype(np.int64)
        self.event_time_ = time[order].astype(np.float64)
        self.event_kind_ = kind[order].astype(np.int8)
        self.event_text_ = text_idx[order].astype(np.int64)
        self._times = np.unique(self.event_time_)
        rank = np.searchsorted(self._times, self.event_time_)
        self._stride = np.int64(len(self._times) + 1)
        n_items = np.int64(len(self.items_) + 1)
        title = self.event_kind_ == _TITLE
        # one sorted int64 key per event: group (timed / title), item, time rank
        self._keys = (title.astype(np.int64) * n_items + self.event_item_) * self._stride + rank

    # Aggregation --------------------------------------------------------------------------------
    def transform(self, items: Any = None, at: Any = None) -> np.ndarray:
        """Text vectors of ``items``, as of ``at``.

        Args:
            items: An [`IdMap`][liverec.data.IdMap] (rows in its code order — pass
                ``interactions.items`` to align with a model), a sequence of external ids (may
                repeat, e.g. one stream at several times), or ``None`` for ``items_``.
            at: ``None`` (all texts, no decay), one time, or one time per requested row.

        Returns:
            float32 array ``(n_rows, dim)``; ids not seen in fit get zero rows.
        """
        self._validate_params()
        if not hasattr(self, "embeddings_"):
            raise NotFittedError("this StreamTextEmbedder is not fitted yet; call fit(text) first.")
        if items is None:
            codes = np.arange(len(self.items_), dtype=np.int64)
        elif isinstance(items, IdMap):
            codes = self.items_.codes(items.ids, missing="ignore")
        else:
            ids = np.atleast_1d(np.asarray(items.to_numpy() if hasattr(items, "to_numpy") else items))
            codes = self.items_.codes(ids, missing="ignore") if len(ids) else np.zeros(0, dtype=np.int64)
        n = len(codes)
        dim = self.embeddings_.shape[1]
        if n == 0:
            return np.zeros((0, dim), dtype=np.float32)
        kind_w = self._kind_weights()
        window = _as_duration(self.window, "window")
        half_life = _as_duration(self.half_life, "half_life")
        n_items = np.int64(len(self.items_) + 1)
        known = codes >= 0
        safe = np.where(known, codes, 0)
        timed_base = safe * self._stride
        title_base = (n_items + safe) * self._stride
        if at is None:
            t_at = None
            lo_t = np.searchsorted(self._keys, timed_base, side="left")
            hi_t = np.searchsorted(self._keys, timed_base + self._stride, side="left")
            hi_ti = np.searchsorted(self._keys, title_base + self._stride, side="left")
        else:
            t_at = _query_times(at, n, self.time_kind_)
            r_hi = np.searchsorted(self._times, t_at, side="right")  # rank < r_hi  <=>  time <= at
            r_lo = (np.searchsorted(self._times, t_at - window, side="right") if window is not None
                    else np.zeros(n, dtype=np.int64))
            lo_t = np.searchsorted(self._keys, timed_base + r_lo, side="left")
            hi_t = np.searchsorted(self._keys, timed_base + r_hi, side="left")
            hi_ti = np.searchsorted(self._keys, title_base + r_hi, side="left")
        lo_ti = np.searchsorted(self._keys, title_base, side="left")
        lo = np.concatenate([lo_t, lo_ti])
        hi = np.concatenate([hi_t, hi_ti])
        row = np.concatenate([np.arange(n), np.arange(n)])
        length = np.where(np.concatenate([known, known]), np.maximum(hi - lo, 0), 0)
        total = int(length.sum())
        pair_row = np.repeat(row, length)
        offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(length)[:-1]]), length)
        pair_event = offsets + np.arange(total)
        weight = kind_w[self.event_kind_[pair_event]]
        if t_at is not None and half_life is not None:
            age = t_at[pair_row] - self.event_time_[pair_event]
            decay = np.exp2(-np.maximum(age, 0.0) / half_life)
            weight = np.where(self.event_kind_[pair_event] == _TITLE, weight, weight * decay)
        W = sp.csr_matrix((weight, (pair_row, self.event_text_[pair_event])),
                          shape=(n, len(self.embeddings_)), dtype=np.float64)
        out = np.asarray(W @ self.embeddings_.astype(np.float64))
        wsum = np.asarray(W.sum(axis=1)).reshape(-1)
        has = wsum > 0
        out[has] /= wsum[has, None]
        if self.normalize:
            norms = np.linalg.norm(out, axis=1)
            nz = norms > 0
            out[nz] /= norms[nz, None]
        return out.astype(np.float32)

    def fit_transform(self, text: TextEvents, items: Any = None, at: Any = None) -> np.ndarray:
        """``fit(text)`` then ``transform(items, at)``."""
        return self.fit(text).transform(items, at)

    # Persistence --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the encoded texts, the events and the fitted encoder; load with [`liverec.load`][liverec.load].

        Args:
            path: Directory to write (created if needed; existing files are overwritten).
        """
        if not hasattr(self, "embeddings_"):
            raise NotFittedError("this StreamTextEmbedder is not fitted yet; call fit(text) before save.")
        enc = self.encoder_
        if not isinstance(enc, BaseTextEncoder) or type(enc).__name__ not in persistence.registered_classes():
            raise PersistenceError(
                f"cannot save a StreamTextEmbedder whose encoder is a {type(enc).__name__}; "
                "only liverec text encoders can be saved."
            )
        enc_attrs, enc_arrays = enc._saved_state()
        vocabulary = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        attrs = {
            "time_kind": self.time_kind_,
            "encoder_class": type(enc).__name__,
            "encoder_params": {k: persistence.encode_value(v) for k, v in enc.get_params(deep=False).items()},
            "encoder_attributes": enc_attrs,
        }
        arrays = {
            "embeddings": self.embeddings_, "texts": np.asarray(vocabulary, dtype=str),
            "items": self.items_.to_array(), "event_item": self.event_item_, "event_time": self.event_time_,
            "event_kind": self.event_kind_, "event_text": self.event_text_,
            **{f"encoder/{k}": v for k, v in enc_arrays.items()},
        }
        persistence.save_state(path, type(self).__name__, self.get_params(deep=False), attrs, arrays)

    def _set_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Called by [`liverec.load`][liverec.load]."""
        P = persistence
        field = "config.json: attributes.encoder"
        cls = P.lookup_class(P.expect_attribute(attributes, "encoder_class", str), f"{field}_class")
        if not issubclass(cls, BaseTextEncoder):
            raise PersistenceError(f"{field}_class: {cls.__name__} is not a text encoder")
        params = P.expect_attribute(attributes, "encoder_params", dict)
        encoder = P.build(cls, {k: P.decode_value(v, f"{field}_params.{k}") for k, v in params.items()},
                          f"{field}_params")
        encoder._set_state(P.expect_attribute(attributes, "encoder_attributes", dict),
                           P.StateArrays.view(arrays).sub("encoder/"))
        texts = P.expect_array(arrays, "texts", "U", (None,)).tolist()
        if len(set(texts)) != len(texts):
            raise PersistenceError("arrays.safetensors: tensor 'texts': texts must be distinct")
        dim = getattr(encoder, "dim", None)  # the encoder's output width, when it declares one
        self.embeddings_ = P.expect_array(arrays, "embeddings", "f", (len(texts), dim if isinstance(dim, int) else None),
                                          finite=True, dtype=np.float32)
        self.encoder_ = encoder
        self.vocabulary_ = {t: j for j, t in enumerate(texts)}
        self.items_ = P.expect_ids(arrays, "items", "item")
        self.time_kind_ = P.expect_attribute(attributes, "time_kind", str, choices=("numeric", "datetime", "order"))
        event_item = P.expect_indices(arrays, "event_item", len(self.items_))
        n = len(event_item)
        event_time = P.expect_array(arrays, "event_time", "f", (n,), finite=True, dtype=np.float64)
        event_kind = P.expect_indices(arrays, "event_kind", len(TEXT_KINDS), (n,)).astype(np.int8)
        event_text = P.expect_indices(arrays, "event_text", len(texts), (n,))
        self._set_events(event_item, event_time, event_kind, event_text)


def embed_streams(
    text: TextEvents,
    encoder: BaseTextEncoder | None = None,
    *,
    items: Any = None,
    at: Any = None,
    window: float | None = None,
    half_life: float | None = None,
    kind_weights: dict[str, float] | None = None,
    normalize: bool = True,
) -> np.ndarray:
    """One text vector per stream (item), ready to pass as ``item_features``.

    A one-call form of [`StreamTextEmbedder`][liverec.text.StreamTextEmbedder]; use the class to aggregate at many times
    without encoding the texts again.

    Args:
        text: Comments, transcript snippets and titles of the streams.
        encoder: A liverec text encoder (default ``HashingTextEncoder()``).
        items: Row order of the result: an [`IdMap`][liverec.data.IdMap] such as
            ``interactions.items``, a sequence of ids, or ``None`` for ``text.items``.
        at: ``None`` (all texts), a time, or one time per row.
        window: Only texts with ``at - window < time <= at`` count.
        half_life: Exponential decay of a text's weight with its age.
        kind_weights: Weight per text kind (``"comment"``, ``"transcript"``, ``"title"``).
        normalize: L2-normalise the rows.

    Returns:
        float32 array ``(len(items), dim)``; row ``j`` belongs to ``items.ids[j]`` (or
        ``items[j]``), zero for items without text.

    Examples:
        >>> from liverec.data import IdMap, TextEvents
        >>> T = TextEvents.from_arrays(item=[7, 7, 9], text=["口红试色", "好看", "手机"], time=[0, 5, 3])
        >>> X = embed_streams(T, items=IdMap([9, 7, 8]), at=10, window=60)
        >>> X.shape, [round(float(v @ v), 3) for v in X]
        ((3, 2048), [1.0, 1.0, 0.0])
    """
    embedder = StreamTextEmbedder(encoder, window=window, half_life=half_life,
                                  kind_weights=kind_weights, normalize=normalize)
    return embedder.fit(text).transform(items, at)


def _query_times(at: Any, n: int, kind: str) -> np.ndarray:
    """``at`` of ``transform`` as one float time per requested row (one time is repeated); its
    kind must match the fitted texts' time ``kind``."""
    t_at = np.asarray(as_time_query(at, kind, "the texts this StreamTextEmbedder was fitted on"),
                      dtype=np.float64).reshape(-1)
    if len(t_at) == 1:
        t_at = np.full(n, t_at[0])
    if len(t_at) != n:
        raise DataValidationError(
            f"at has {len(t_at)} times but {n} rows were requested; pass one time or one per row."
        )
    if np.isnan(t_at).any():
        raise DataValidationError(f"at: missing time (NaN) at row {int(np.flatnonzero(np.isnan(t_at))[0])}.")
    return t_at
