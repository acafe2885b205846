"""Ranking metrics over top-k lists: hit rate, recall, precision, NDCG, MRR, MAP.

Every function takes the same two inputs and works on all users at once (no Python loop
over users):

``ranked``
    A 2-D array ``(n_users, L)`` of item ids, best first. Rows shorter than ``L`` are
    padded with a negative integer (``-1``), ``None`` or ``NaN``; padded slots never count
    as relevant. An item repeated within a row counts once, at its first position.
``relevant``
    What each user really did, in one of three forms:

    * a 1-D array (or list of scalars) of length ``n_users``: one target item per user
      (leave-one-out, next-item prediction);
    * a list of ``n_users`` sequences (lists, sets, arrays): the relevant items of each
      user, binary relevance;
    * a 2-D array or ``scipy.sparse`` matrix ``(n_users, n_items)`` of non-negative gains
      (graded relevance, 0 = not relevant); ``ranked`` must then hold integer column
      indices of that matrix.

Conventions (the same in every function):

* ``k`` larger than ``L``: slots ``L..k-1`` hold nothing and count as misses; precision
  still divides by ``k``. ``k=None`` means ``k = L``.
* A user with no relevant item has no defined value (``NaN`` in the per-user array) and is
  left out of the mean: nothing can be ranked right for them. The mean of an input where
  no user has a relevant item is ``NaN``.
* Ties: these functions take an already ordered list; how ties between equal scores were
  broken is the caller's choice. [`evaluate`][liverec.metrics.evaluate] ranks pessimistically
  (see there).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._utils import sorted_unique
from ..data._columns import is_scalar
from ..exceptions import DataTypeError, DataValidationError, InvalidParameterError

__all__ = [
    "hit_rate_at_k",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "ranking_metrics",
    "RANKING_METRICS",
]

#: Names accepted by [`ranking_metrics`][liverec.metrics.ranking_metrics] (and ``evaluate(metrics=...)``).
RANKING_METRICS: tuple[str, ...] = ("hit_rate", "ndcg", "mrr", "recall", "precision", "map")


@dataclass
class _Relevance:
    """Gains of the top-k slots of every row, and what the ideal list would hold."""

    gains: np.ndarray  # (n, k) float64, 0 where the slot is not relevant (or empty)
    n_relevant: np.ndarray  # (n,) int64: relevant items per row (in the whole catalogue)
    ideal: np.ndarray | None  # (n, k) ideal gains sorted descending; None for binary relevance
    k: int


def _check_k(k: Any, length: int) -> int:
    if k is None:
        return max(length, 1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer (or None for the whole list), got {k!r}.")
    return int(k)


def as_array(value: Any, name: str, dtype: Any = None) -> np.ndarray:
    """``np.asarray(value)`` of a metric argument; what numpy cannot read is a liverec error naming ``name``."""
    if value is None or isinstance(value, (str, bytes, Mapping)):
        raise DataTypeError(f"{name} must be an array or a list, got {type(value).__name__}.")
    try:
        return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise DataValidationError(
            f"{name} could not be read as a {'numeric ' if dtype is not None else ''}array ({err}); pass "
            "equal-length rows of numbers or ids (pad short rows with -1 or None)."
        ) from None


def check_cutoffs(k: Any) -> list[int]:
    """The cut-offs ``k`` (one positive int or an iterable of them) as a list of ints."""
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        return [_check_k(k, 1)]
    if isinstance(k, (str, bytes, Mapping)) or not isinstance(k, Iterable):
        raise InvalidParameterError(f"k must be a positive integer or a list of them, got {k!r}.")
    ks = list(k)
    for x in ks:
        if x is None:
            raise InvalidParameterError(f"k must be a positive integer or a list of them, got {k!r}.")
        _check_k(x, 1)
    return [int(x) for x in ks]


def _as_ranked(ranked: Any) -> np.ndarray:
    arr = as_array(ranked, "ranked")
    if arr.ndim == 1 and arr.dtype != object:
        raise DataValidationError(
            f"ranked must be 2-D (n_users, list length), got shape {arr.shape}; for one user "
            "pass [list], for one item per user pass list[:, None]."
        )
    if arr.ndim != 2:
        raise DataValidationError(f"ranked must be a 2-D array (n_users, list length), got shape {arr.shape}.")
    return arr


def _padding(arr: np.ndarray) -> np.ndarray:
    """Mask of empty slots: negative ints, NaN, None."""
    kind = arr.dtype.kind
    if kind in "iu":
        return arr < 0 if kind == "i" else np.zeros(arr.shape, dtype=bool)
    if kind == "f":
        return np.isnan(arr)
    if kind == "O":
        flat = arr.ravel()
        out = np.fromiter(
            (x is None or (isinstance(x, float) and x != x) or (isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x < 0)
             for x in flat.tolist()), dtype=bool, count=flat.size)
        return out.reshape(arr.shape)
    return np.zeros(arr.shape, dtype=bool)


def _first_occurrence(rows: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index into ``rows`` of the first occurrence of every ``(row, key)`` pair (rows sorted by position)."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(len(rows)), keys, rows))
    r, kk = rows[order], keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (kk[1:] != kk[:-1])
    return np.sort(order[first])


def _csr_lookup(mat: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``mat[rows[j], cols[j]]`` for every j, vectorised (binary search over sorted keys)."""
    mat.sum_duplicates()
    mat.sort_indices()
    width = np.int64(mat.shape[1] + 1)
    keys = np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr)) * width + mat.indices
    q = rows.astype(np.int64) * width + cols
    pos = np.minimum(np.searchsorted(keys, q), max(len(keys) - 1, 0))
    if len(keys) == 0:
        return np.zeros(len(q))
    return np.where(keys[pos] == q, mat.data[pos], 0.0)


def is_member(q: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin(q, sorted_keys)`` for an already sorted ``sorted_keys`` (binary search)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(q), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, q), len(sorted_keys) - 1)
    return sorted_keys[pos] == q


def _shared_codes(a: np.ndarray, b: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.int64]:
    """Integer codes of the ids in ``a`` and ``b`` (one code space) and its size + 1.

    Keys ``row * size + code`` for ``row < n_rows`` must fit in int64.
    """
    if a.dtype.kind in "iu" and (len(b) == 0 or b.dtype.kind in "iu"):
        both_min = min(int(a.min()) if len(a) else 0, int(b.min()) if len(b) else 0)
        both_max = max(int(a.max()) if len(a) else 0, int(b.max()) if len(b) else 0)
        span = both_max - both_min + 2
        if span * (n_rows + 1) < 2**62:
            return (a.astype(np.int64) - both_min, b.astype(np.int64) - both_min, np.int64(span))
    for arr in (a, b):
        if arr.dtype.kind not in "iufbUSO":
            raise DataTypeError(
                f"ranked / relevant hold values of dtype {arr.dtype}, which cannot be item ids; pass ids "
                "(ints or strings), one list of them per user."
            )
    try:
        both = np.concatenate([a, b]) if len(b) else a
    except TypeError:  # e.g. ints next to strings: compare them as Python objects
        both = np.concatenate([a.astype(object), b.astype(object)])
    try:
        uniq, inv = np.unique(both, return_inverse=True)
        size = len(uniq)
    except TypeError:  # mixed types that cannot be sorted
        lookup: dict[Any, int] = {}
        try:
            inv = np.fromiter((lookup.setdefault(x, len(lookup)) for x in both.tolist()), dtype=np.int64,
                              count=len(both))
        except TypeError:
            bad = next(x for x in both.tolist() if not isinstance(x, Hashable))
            raise DataTypeError(
                f"ranked / relevant hold {type(bad).__name__} {bad!r}, which cannot be an item id; pass "
                "ids (ints or strings), one list of them per user."
            ) from None
        size = len(lookup)
    inv = inv.reshape(-1).astype(np.int64)
    return inv[: len(a)], inv[len(a):], np.int64(size + 1)


def _is_target_vector(relevant: Any, n: int) -> bool:
    if isinstance(relevant, np.ndarray):
        if relevant.ndim != 1:
            return False
        if relevant.dtype != object:
            return True
        return not any(isinstance(x, (list, tuple, set, frozenset, np.ndarray)) for x in relevant[:50])
    if isinstance(relevant, (list, tuple)) or hasattr(relevant, "to_numpy"):
        seq = relevant.to_numpy() if hasattr(relevant, "to_numpy") else relevant
        return not any(isinstance(x, (list, tuple, set, frozenset, np.ndarray, dict)) for x in list(seq[:50]))
    return False


def _matrix_relevance(relevant: Any, top: np.ndarray, pad: np.ndarray, gains: np.ndarray, kk: int,
                      gain: str) -> _Relevance:
    """Gains of ``top`` (integer column indices) read from a gain matrix ``(n_users, n_items)``."""
    n = top.shape[0]
    if relevant.shape[0] != n:
        raise DataValidationError(
            f"relevant has {relevant.shape[0]} rows but ranked has {n}; pass one row per user."
        )
    try:
        mat = sp.csr_matrix(relevant, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataValidationError(f"relevant gain matrix could not be read as numbers ({err}).") from None
    if mat.nnz and not np.isfinite(mat.data).all():
        raise DataValidationError(
            "relevance gains must be finite numbers; got NaN or inf (use 0 for not relevant)."
        )
    if mat.nnz and mat.data.min() < 0:
        raise DataValidationError("relevance gains must be >= 0 (0 = not relevant).")
    mat.eliminate_zeros()
    if top.dtype.kind not in "iu":
        raise DataValidationError(
            "with a relevance matrix, ranked must hold integer column indices of it; got "
            f"dtype {top.dtype}."
        )
    if top.size and top.max(initial=-1) >= mat.shape[1]:
        raise DataValidationError(
            f"ranked holds item index {int(top.max())} but relevant has only {mat.shape[1]} columns."
        )
    rows, cols = np.nonzero(~pad)
    items = top[rows, cols].astype(np.int64)
    vals = _csr_lookup(mat, rows, items)
    hit = vals > 0
    rows, cols, items, vals = rows[hit], cols[hit], items[hit], vals[hit]
    keep = _first_occurrence(rows, items)
    gains[rows[keep], cols[keep]] = vals[keep]
    n_rel = np.diff(mat.indptr).astype(np.int64)
    # ideal list: each row's gains sorted descending, first k
    r_of = np.repeat(np.arange(n), n_rel)
    order = np.lexsort((-mat.data, r_of))
    pos = np.arange(len(order)) - np.repeat(mat.indptr[:-1], n_rel)
    width = min(kk, int(n_rel.max(initial=0)))
    sel = pos < width
    ideal = np.zeros((n, width), dtype=np.float64)
    ideal[r_of[order][sel], pos[sel]] = mat.data[order][sel]
    if gain == "exponential":
        gains, ideal = np.exp2(gains) - 1.0, np.exp2(ideal) - 1.0
    elif gain != "linear":
        raise InvalidParameterError(f"gain must be 'linear' or 'exponential', got {gain!r}.")
    return _Relevance(gains, n_rel, ideal, kk)


def _relevance(ranked: Any, relevant: Any, k: Any, gain: str = "linear") -> _Relevance:
    arr = _as_ranked(ranked)
    n, length = arr.shape
    kk = _check_k(k, length)
    top = arr[:, : min(kk, length)]
    pad = _padding(top)
    # slots past the list's end are misses: only min(k, L) columns are stored (k may be huge)
    gains = np.zeros((n, top.shape[1]), dtype=np.float64)
    if isinstance(relevant, Mapping) or is_scalar(relevant):
        raise DataTypeError(
            f"relevant must be one target per user, one collection of items per user, or a gain "
            f"matrix (n_users, n_items); got {type(relevant).__name__}."
        )
    if sp.issparse(relevant) or (isinstance(relevant, np.ndarray) and relevant.ndim == 2):
        return _matrix_relevance(relevant, top, pad, gains, kk, gain)
    if _is_target_vector(relevant, n):
        target = np.asarray(relevant.to_numpy() if hasattr(relevant, "to_numpy") else relevant)
        if len(target) != n:
            raise DataValidationError(
                f"relevant has {len(target)} targets but ranked has {n} rows; pass one per user."
            )
        tpad = _padding(target[:, None])[:, 0]
        eq = (top == target[:, None]) & ~pad
        eq &= np.cumsum(eq, axis=1) == 1  # first occurrence only
        gains[:, : top.shape[1]] = eq
        n_rel = (~tpad).astype(np.int64)
        return _Relevance(gains, n_rel, None, kk)
    try:
        seqs = list(relevant)
    except TypeError:
        raise DataTypeError(
            f"relevant must be one target per user, one collection of items per user, or a gain "
            f"matrix; got {type(relevant).__name__}."
        ) from None
    if len(seqs) != n:
        raise DataValidationError(
            f"relevant has {len(seqs)} entries but ranked has {n} rows; pass one per user."
        )
    sets = [s if isinstance(s, np.ndarray) and s.ndim == 1 else
            as_array(list(s) if isinstance(s, (set, frozenset)) else s, f"relevant[{row}]").reshape(-1)
            for row, s in enumerate(seqs)]
    lengths = np.fromiter(map(len, sets), dtype=np.int64, count=n)
    flat = np.concatenate(sets) if lengths.sum() else np.zeros(0, dtype=top.dtype)
    rel_rows = np.repeat(np.arange(n), lengths)
    if len(flat):
        keep_rel = ~_padding(flat[:, None])[:, 0]
        flat, rel_rows = flat[keep_rel], rel_rows[keep_rel]
    rows, cols = np.nonzero(~pad)
    items = top[rows, cols]
    list_codes, rel_codes, m = _shared_codes(items, flat, n)
    rel_keys = sorted_unique(rel_rows * m + rel_codes)
    list_keys = rows * m + list_codes
    hit = is_member(list_keys, rel_keys)
    rows, cols, codes = rows[hit], cols[hit], list_codes[hit]
    keep = _first_occurrence(rows, codes)
    gains[rows[keep], cols[keep]] = 1.0
    n_rel = np.bincount(rel_keys // m, minlength=n).astype(np.int64)
    return _Relevance(gains, n_rel, None, kk)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _per_user(name: str, rel: _Relevance) -> np.ndarray:
    """Per-user values of one metric (NaN for users without relevant items)."""
    g, n_rel, k = rel.gains, rel.n_relevant, rel.k
    width = g.shape[1]  # <= k: slots past the end of the lists hold nothing
    hits = g > 0
    n_hits = hits.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "hit_rate":
            out = (n_hits > 0).astype(np.float64)
        elif name == "precision":
            out = n_hits / float(k)
        elif name == "recall":
            out = n_hits / n_rel
        elif name == "mrr":
            first = np.argmax(hits, axis=1) if width else np.zeros(len(hits), dtype=np.int64)
            out = np.where(n_hits > 0, 1.0 / (first + 1.0), 0.0)
        elif name == "map":
            cum = np.cumsum(hits, axis=1)
            prec = cum / np.arange(1, width + 1, dtype=np.float64)
            out = (prec * hits).sum(axis=1) / np.minimum(n_rel, min(k, 2**62))
        elif name == "ndcg":
            dcg = g @ _discounts(width)
            if rel.ideal is None:
                n_ideal = np.minimum(n_rel, min(k, 2**62))
                cum = np.concatenate([[0.0], np.cumsum(_discounts(int(n_ideal.max(initial=0))))])
                idcg = cum[n_ideal]
            else:
                idcg = rel.ideal @ _discounts(rel.ideal.shape[1])
            out = dcg / idcg
        else:
            raise InvalidParameterError(f"unknown ranking metric {name!r}; choose from {RANKING_METRICS}.")
    out = np.asarray(out, dtype=np.float64)
    out[n_rel == 0] = np.nan
    return out


def _reduce(values: np.ndarray, average: bool) -> float | np.ndarray:
    if not average:
        return values
    valid = ~np.isnan(values)
    return float(values[valid].mean()) if valid.any() else float("nan")


def hit_rate_at_k(ranked: Any, relevant: Any, k: int | None = 10, *, average: bool = True) -> float | np.ndarray:
    r"""Hit rate (HR@k): whether at least one relevant item is in the top ``k``.

    .. math:: \mathrm{HR@k}(u) = \mathbb{1}\left[\,|\mathrm{top}_k(u) \cap R_u| > 0\,\right]

    With one target per user this is what papers also call Recall@k or HitRatio@k.

    Args:
        ranked: ``(n_users, L)`` item ids, best first (see the module docs for padding).
        relevant: One target per user, one collection per user, or a gain matrix.
        k: Cut-off; ``None`` uses the whole list.
        average: Return the mean over users with a relevant item; ``False`` returns the
            per-user array (``NaN`` where a user has no relevant item).

    Returns:
        The mean, or the per-user values, in ``[0, 1]``.

    Examples:
        >>> hit_rate_at_k([[3, 1, 2], [5, 6, 7]], [1, 9], k=2)
        0.5
    """
    return _reduce(_per_user("hit_rate", _relevance(ranked, relevant, k)), average)


def recall_at_k(ranked: Any, relevant: Any, k: int | None = 10, *, average: bool = True) -> float | np.ndarray:
    r"""Recall@k: the share of a user's relevant items found in the top ``k``.

    .. math:: \mathrm{Recall@k}(u) = \frac{|\mathrm{top}_k(u) \cap R_u|}{|R_u|}

    The denominator is all of ``R_u`` (not ``min(|R_u|, k)``), so a user with more
    relevant items than ``k`` cannot reach 1. Equal to the hit rate with one target.

    Examples:
        >>> recall_at_k([[1, 2, 3]], [[1, 3, 8, 9]], k=3)
        0.5
    """
    return _reduce(_per_user("recall", _relevance(ranked, relevant, k)), average)


def precision_at_k(ranked: Any, relevant: Any, k: int | None = 10, *, average: bool = True) -> float | np.ndarray:
    r"""Precision@k: the share of the ``k`` slots that hold a relevant item.

    .. math:: \mathrm{Precision@k}(u) = \frac{|\mathrm{top}_k(u) \cap R_u|}{k}

    Always divides by ``k``, also when the list is shorter than ``k`` (empty slots are
    misses) or when the user has fewer than ``k`` relevant items; with one target per user
    it is at most ``1/k``.

    Examples:
        >>> precision_at_k([[1, 2, 3, 4]], [[1, 3, 8]], k=4)
        0.5
    """
    return _reduce(_per_user("precision", _relevance(ranked, relevant, k)), average)


def ndcg_at_k(
    ranked: Any, relevant: Any, k: int | None = 10, *, gain: str = "linear", average: bool = True
) -> float | np.ndarray:
    r"""Normalised discounted cumulative gain (NDCG@k).

    .. math::
        \mathrm{DCG@k}(u) = \sum_{i=1}^{k} \frac{g(\mathrm{rel}_{u,i})}{\log_2(i + 1)}, \qquad
        \mathrm{NDCG@k}(u) = \frac{\mathrm{DCG@k}(u)}{\mathrm{IDCG@k}(u)}

    where ``rel`` is 1/0 for binary relevance or the gain from a relevance matrix,
    ``g(x) = x`` (``gain="linear"``, as ``sklearn.metrics.ndcg_score``) or ``2**x - 1``
    (``gain="exponential"``), and IDCG is the DCG of the best possible list: the user's
    ``min(|R_u|, k)`` largest gains in the first slots. With one target at 0-based position
    ``p < k``, NDCG@k = ``1 / log2(p + 2)``.

    Examples:
        >>> round(ndcg_at_k([[7, 1, 2]], [1], k=3), 4)
        0.6309
        >>> import numpy as np
        >>> gains = np.array([[0.0, 3.0, 1.0]])
        >>> round(ndcg_at_k([[2, 1, 0]], gains, k=3), 4)
        0.7967
    """
    return _reduce(_per_user("ndcg", _relevance(ranked, relevant, k, gain)), average)


def mrr_at_k(ranked: Any, relevant: Any, k: int | None = 10, *, average: bool = True) -> float | np.ndarray:
    r"""Mean reciprocal rank (MRR@k): one over the 1-based position of the first hit.

    .. math:: \mathrm{RR@k}(u) = \frac{1}{\min\{i \le k : \mathrm{item}_i \in R_u\}}, \text{ or 0 without a hit}

    Examples:
        >>> mrr_at_k([[5, 1, 2], [1, 2, 3]], [1, 1], k=3)
        0.75
    """
    return _reduce(_per_user("mrr", _relevance(ranked, relevant, k)), average)


def map_at_k(ranked: Any, relevant: Any, k: int | None = 10, *, average: bool = True) -> float | np.ndarray:
    r"""Mean average precision (MAP@k).

    .. math::
        \mathrm{AP@k}(u) = \frac{1}{\min(|R_u|, k)} \sum_{i=1}^{k}
        \mathrm{Precision@i}(u)\,\mathbb{1}[\mathrm{item}_i \in R_u]

    The normaliser ``min(|R_u|, k)`` makes a perfect top-``k`` list score 1 even when the
    user has more than ``k`` relevant items. With one target AP@k equals RR@k.

    Examples:
        >>> map_at_k([[1, 5, 3]], [[1, 3]], k=3)  # (1/1 + 2/3) / 2
        0.8333333333333333
    """
    return _reduce(_per_user("map", _relevance(ranked, relevant, k)), average)


def ranking_metrics(
    ranked: Any,
    relevant: Any,
    k: int | Iterable[int] = (1, 5, 10),
    metrics: Iterable[str] = RANKING_METRICS,
    *,
    gain: str = "linear",
    average: bool = True,
) -> dict[str, Any]:
    """Several ranking metrics at several cut-offs in one pass.

    Args:
        ranked: ``(n_users, L)`` item ids, best first.
        relevant: As in [`hit_rate_at_k`][liverec.metrics.hit_rate_at_k].
        k: One cut-off or several.
        metrics: Names among `RANKING_METRICS`.
        gain: NDCG gain (``"linear"`` or ``"exponential"``).
        average: Means (``True``) or per-user arrays.

    Returns:
        ``{"ndcg@10": value, ...}``.

    Examples:
        >>> out = ranking_metrics([[1, 2, 3]], [2], k=(1, 3), metrics=("hit_rate", "mrr"))
        >>> out
        {'hit_rate@1': 0.0, 'mrr@1': 0.0, 'hit_rate@3': 1.0, 'mrr@3': 0.5}
    """
    ks = check_cutoffs(k)
    if isinstance(metrics, str) or not isinstance(metrics, Iterable):
        metrics = [metrics]
    names = list(metrics)
    bad = [m for m in names if not isinstance(m, str) or m not in RANKING_METRICS]
    if bad:
        raise InvalidParameterError(f"unknown ranking metric(s) {bad}; choose from {RANKING_METRICS}.")
    out: dict[str, Any] = {}
    if not ks:
        return out
    full = _relevance(ranked, relevant, max(ks), gain)  # one pass, sliced per k
    for kk in ks:
        rel = _Relevance(full.gains[:, :kk], full.n_relevant,
                         None if full.ideal is None else full.ideal[:, :kk], kk)
        for name in names:
            out[f"{name}@{kk}"] = _reduce(_per_user(name, rel), average)
    return out
