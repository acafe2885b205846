"""Beyond accuracy: catalogue coverage, novelty, intra-list diversity; CTR and CVR from logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._utils import plain
from ..data import Interactions
from ..data._columns import is_scalar, normalize_ids
from ..exceptions import DataTypeError, DataValidationError, InvalidParameterError
from ._ranking import _as_ranked, _check_k, _padding, as_array

__all__ = ["catalog_coverage", "ctr", "cvr", "intra_list_diversity", "novelty"]


def _top(ranked: Any, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    arr = _as_ranked(ranked)
    kk = _check_k(k, arr.shape[1])
    top = arr[:, :kk]
    return top, ~_padding(top)


def _int_codes(top: np.ndarray, valid: np.ndarray, n: int, what: str) -> np.ndarray:
    if top.dtype.kind not in "iu":
        raise DataValidationError(
            f"ranked must hold integer item indices into {what} (0..{n - 1}); got dtype {top.dtype}. "
            "Map ids to codes first, e.g. with model.items_.codes(ids)."
        )
    codes = np.where(valid, top, 0).astype(np.int64)
    if valid.any() and codes[valid].max() >= n:
        raise DataValidationError(f"ranked holds index {int(codes[valid].max())} but {what} has only {n} rows.")
    return codes


def catalog_coverage(ranked: Any, catalog: Any, k: int | None = 10) -> float:
    r"""Catalogue coverage: the share of the catalogue recommended to at least one user.

    .. math:: \mathrm{Coverage@k} = \frac{|\bigcup_u \mathrm{top}_k(u) \cap C|}{|C|}

    Args:
        ranked: ``(n_users, L)`` item ids, best first (padding as in the ranking metrics).
        catalog: The catalogue ``C``: an int ``n`` (items ``0..n-1``) or a sequence of ids.
            Recommended ids outside the catalogue are ignored.
        k: Cut-off; ``None`` uses the whole list.

    Returns:
        Coverage in ``[0, 1]``.

    Examples:
        >>> catalog_coverage([[0, 1], [1, 2]], catalog=10, k=2)
        0.3
        >>> catalog_coverage([["a", "b"], ["a", "c"]], catalog=["a", "b", "c", "d"], k=1)
        0.25
    """
    top, valid = _top(ranked, k)
    items = top[valid]
    if isinstance(catalog, (int, np.integer)) and not isinstance(catalog, bool):
        if catalog < 1:
            raise InvalidParameterError(f"catalog must have at least one item, got {catalog}.")
        if items.dtype.kind not in "iu":
            raise DataValidationError("catalog=<int> needs integer item indices in ranked; pass the catalogue ids instead.")
        items = items.astype(np.int64)
        items = items[(items >= 0) & (items < catalog)]
        return float(len(np.unique(items)) / catalog)
    if isinstance(catalog, (bool, float)):
        raise InvalidParameterError(f"catalog must be a number of items or a sequence of ids, got {catalog!r}.")
    cat = np.zeros(0) if is_scalar(catalog) else np.unique(normalize_ids(catalog, "catalog"))
    if len(cat) == 0:
        raise DataValidationError("catalog is empty; pass the ids of the catalogue's items or their number.")
    return float(np.isin(cat, items).sum() / len(cat))


def novelty(ranked: Any, item_counts: Any, n_users: int, k: int | None = 10, *, average: bool = True) -> float | np.ndarray:
    r"""Novelty: the mean self-information of recommended items (Zhou et al. 2010).

    .. math:: \mathrm{Novelty@k}(u) = \frac{1}{|L_u|} \sum_{i \in L_u} -\log_2 p(i), \qquad
        p(i) = \frac{\max(c_i, 1)}{n_{\text{users}}}

    where ``c_i`` is the number of users who interacted with ``i`` in training and
    ``L_u`` the user's (non-empty) top-``k`` slots. Recommending only blockbusters scores
    near 0; long-tail items score high. Items never seen count as seen once, so the value
    stays finite. Users with an empty list get ``NaN`` and are left out of the mean.

    Args:
        ranked: ``(n_users, L)`` integer item indices into ``item_counts`` (when it is an
            array) or item ids (when it is a mapping id -> count).
        item_counts: Users per item: an array indexed by item code, or a mapping.
        n_users: The number of users ``c_i`` was counted over.
        k: Cut-off.
        average: Mean over users, or the per-user array.

    Examples:
        >>> novelty([[0, 1]], item_counts=[8, 2], n_users=8)  # (0 + 2) / 2
        1.0
    """
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise InvalidParameterError(f"n_users must be a positive integer, got {n_users!r}.")
    top, valid = _top(ranked, k)
    if isinstance(item_counts, Mapping):
        flat = top[valid]
        counts = np.array([item_counts.get(plain(x), 0) for x in flat], dtype=np.float64)
        info = np.zeros(top.shape)
        info[valid] = -np.log2(np.maximum(counts, 1.0) / n_users)
    else:
        c = as_array(item_counts, "item_counts", dtype=np.float64).reshape(-1)
        if not (np.isfinite(c) & (c >= 0)).all():
            raise DataValidationError("item_counts must be finite counts >= 0 (users per item).")
        codes = _int_codes(top, valid, len(c), "item_counts")
        counts_at = c[codes] if len(c) else np.zeros(codes.shape)  # no valid slot when c is empty
        info = np.where(valid, -np.log2(np.maximum(counts_at, 1.0) / n_users), 0.0)
    m = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_user = info.sum(axis=1) / m
    per_user[m == 0] = np.nan
    if not average:
        return per_user
    ok = ~np.isnan(per_user)
    return float(per_user[ok].mean()) if ok.any() else float("nan")


def intra_list_diversity(
    ranked: Any, item_vectors: Any, k: int | None = 10, *, average: bool = True, batch_size: int = 8192
) -> float | np.ndarray:
    r"""Intra-list diversity: the mean pairwise cosine distance within each top-k list.

    .. math:: \mathrm{ILD@k}(u) = \frac{2}{m(m-1)} \sum_{i<j \le m} \left(1 - \cos(v_i, v_j)\right)

    over the ``m`` non-empty slots of the list. Computed without the ``k x k`` matrix:
    ``sum_{i != j} cos = |sum_i e_i|^2 - sum_i |e_i|^2`` with ``e_i = v_i / |v_i|``. A zero
    vector has similarity 0 to everything. Lists with fewer than 2 items get ``NaN``.

    Args:
        ranked: ``(n_users, L)`` integer item indices into ``item_vectors``.
        item_vectors: ``(n_items, d)`` item embeddings or features.
        k: Cut-off.
        average: Mean over users, or the per-user array.
        batch_size: Users per batch (bounds memory at ``batch_size * k * d`` floats).

    Examples:
        >>> round(intra_list_diversity([[0, 1, 2]], [[1, 0], [0, 1], [1, 0]], k=3), 4)  # 2 of 3 pairs orthogonal
        0.6667
    """
    v = as_array(item_vectors, "item_vectors", dtype=np.float64)
    if v.ndim != 2:
        raise DataValidationError(f"item_vectors must be 2-D (n_items, dim), got shape {v.shape}.")
    if not np.isfinite(v).all():
        raise DataValidationError("item_vectors must be finite (no NaN or inf).")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    e = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    top, valid = _top(ranked, k)
    codes = _int_codes(top, valid, len(v), "item_vectors")
    out = np.empty(len(top), dtype=np.float64)
    for start in range(0, len(top), batch_size):
        sl = slice(start, start + batch_size)
        emb = e[codes[sl]] * valid[sl][:, :, None]
        s = emb.sum(axis=1)
        self_sim = (emb * emb).sum(axis=(1, 2))
        m = valid[sl].sum(axis=1).astype(np.float64)
        pairs = m * (m - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = 1.0 - ((s * s).sum(axis=1) - self_sim) / pairs
        out[sl][m < 2] = np.nan
    if not average:
        return out
    ok = ~np.isnan(out)
    return float(out[ok].mean()) if ok.any() else float("nan")


def _event_column(events: Any) -> np.ndarray:
    if isinstance(events, Interactions):
        if events.event is None:
            raise DataValidationError("these interactions have no event column; ctr/cvr need event types.")
        return np.asarray(events.event_names).astype(str)
    names = as_array(events, "events").reshape(-1)
    if names.dtype.kind != "U":
        bad = [j for j, x in enumerate(names.tolist()) if not isinstance(x, str)]
        if bad:
            raise DataTypeError(
                f"events: event names must be strings, got {type(names[bad[0]]).__name__} "
                f"{names[bad[0]]!r} at row {bad[0]}; pass an array of event names or Interactions."
            )
        names = names.astype(str)
    return names


def _group_column(events: Any, by: Any, n: int) -> np.ndarray | None:
    if by is None:
        return None
    if isinstance(by, str) and isinstance(events, Interactions):
        if by not in ("user", "item"):
            raise InvalidParameterError(f"by must be 'user', 'item' or an array of group keys, got {by!r}.")
        return events.user if by == "user" else events.item
    g = normalize_ids(by, "by")
    if len(g) != n:
        raise DataValidationError(f"by has {len(g)} keys but there are {n} events.")
    return g


def _rate(events: Any, numerator: str, denominator: str, by: Any) -> float | dict[Any, float]:
    names = _event_column(events)
    num, den = names == numerator, names == denominator
    groups = _group_column(events, by, len(names))
    if groups is None:
        d = int(den.sum())
        return float(num.sum() / d) if d else float("nan")
    keys, codes = np.unique(groups, return_inverse=True)
    codes = codes.reshape(-1)
    n_num = np.bincount(codes, weights=num, minlength=len(keys))
    n_den = np.bincount(codes, weights=den, minlength=len(keys))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(n_den > 0, n_num / np.maximum(n_den, 1), np.nan)
    return {plain(key): float(r) for key, r in zip(keys, rates, strict=True)}


def ctr(events: Any, *, impression: str = "impression", click: str = "click", by: Any = None) -> float | dict[Any, float]:
    r"""Click-through rate from an event log: clicks per impression.

    .. math:: \mathrm{CTR} = \frac{\#\text{click events}}{\#\text{impression events}}

    Args:
        events: An [`Interactions`][liverec.data.Interactions] with an event column, or an array
            of event names (one per logged event).
        impression: The event name of an impression (an item shown).
        click: The event name of a click (for live rooms: entering the room, e.g. ``"view"``).
        by: Group the rate: ``"user"`` or ``"item"`` (with ``Interactions``) or an array
            of group keys, one per event.

    Returns:
        The rate (``NaN`` without impressions), or ``{group: rate}`` with ``by``.

    Examples:
        >>> ctr(["impression", "impression", "click", "impression", "purchase"])
        0.3333333333333333
        >>> ctr(["impression", "click", "impression"], by=["a", "a", "b"])
        {'a': 1.0, 'b': 0.0}
    """
    return _rate(events, click, impression, by)


def cvr(events: Any, *, click: str = "click", conversion: str = "purchase", by: Any = None) -> float | dict[Any, float]:
    r"""Post-click conversion rate from an event log: conversions per click.

    .. math:: \mathrm{CVR} = \frac{\#\text{conversion events}}{\#\text{click events}}

    Args:
        events: Interactions with an event column, or an array of event names.
        click: The event name of a click (``"view"`` for entering a live room).
        conversion: The event name of a conversion (``"purchase"``, or ``"cart"``).
        by: Group the rate, as in [`ctr`][liverec.metrics.ctr].

    Examples:
        >>> cvr(["click", "click", "purchase", "click", "click"])
        0.25
    """
    return _rate(events, conversion, click, by)
