"""Exposure diagnostics: who gets shown, how unequally, and how well lists match each viewer.

A set of recommendation lists gives every item (streamer) some *exposure*: one unit per slot
it fills (``weighting="uniform"``), or the attention a slot gets at its rank
(``weighting="position"``: ``1 / log2(rank + 1)``, the DCG discount). From it:

* `exposure_shares`: each item's share of all exposure; `group_exposure`: each group's
  (category, new vs established, small vs big streamers);
* `gini`: inequality of exposure over the catalogue (0: everyone equally, 1: one item gets
  everything); `exposure_gini` computes it from lists;
* `tail_share`: the share of exposure going to a given set (new or small streamers);
* `calibration_kl`: how far the categories recommended to a viewer are from the categories
  of their history, ``KL(p || (1 - a) q + a p)`` as in Steck (RecSys 2018), averaged over
  viewers.

`exposure_report` gathers them; ``evaluate(..., exposure=True)`` fills one in.

Examples:
    >>> lists = [["a", "b"], ["a", "c"], ["a", "b"]]
    >>> {k: round(v, 3) for k, v in exposure_shares(lists).items()}
    {'a': 0.5, 'b': 0.333, 'c': 0.167}
    >>> round(exposure_gini(lists, catalog=["a", "b", "c", "d"]), 3)
    0.417
    >>> round(tail_share(lists, ["c", "d"]), 3)
    0.167
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._params import Interval, Options, validate_parameter
from .._utils import plain as _plain
from ..exceptions import DataValidationError

__all__ = [
    "ExposureReport",
    "calibration_kl",
    "exposure_gini",
    "exposure_report",
    "exposure_shares",
    "gini",
    "group_exposure",
    "tail_share",
]

_WEIGHTINGS = ("uniform", "position")


def _slots(recommended: Any, weighting: str) -> tuple[list[list[Any]], list[np.ndarray]]:
    """Rows of recommended ids (padding dropped) and the exposure weight of each slot."""
    validate_parameter("exposure", "weighting", weighting, [Options(_WEIGHTINGS)])
    if hasattr(recommended, "mask") and hasattr(recommended, "items"):  # Recommendations
        rows = [list(r) for r in recommended]
    else:
        rows = [[_plain(x) for x in r if x is not None and not (isinstance(x, (int, np.integer)) and x < 0)]
                for r in recommended]
    weights = [np.ones(len(r)) if weighting == "uniform" else 1.0 / np.log2(np.arange(2, len(r) + 2))
               for r in rows]
    return rows, weights


def _exposure(recommended: Any, weighting: str) -> dict[Any, float]:
    rows, weights = _slots(recommended, weighting)
    out: dict[Any, float] = {}
    for r, w in zip(rows, weights, strict=True):
        for item, x in zip(r, w.tolist(), strict=True):
            out[item] = out.get(item, 0.0) + x
    return out


def exposure_shares(recommended: Any, *, weighting: str = "uniform") -> dict[Any, float]:
    """Each recommended item's share of all exposure (shares sum to 1), largest first.

    Args:
        recommended: [`Recommendations`][liverec.base.Recommendations], or rows of item ids
            (``None`` or negative codes are padding).
        weighting: ``"uniform"`` (every slot counts 1) or ``"position"`` (``1/log2(rank+1)``).

    Returns:
        ``{item: share}``; items never recommended are absent.

    Examples:
        >>> exposure_shares([["a", "b"]], weighting="position")["a"] > 0.6
        True
    """
    exp = _exposure(recommended, weighting)
    total = sum(exp.values())
    if total <= 0:
        return {}
    return {k: v / total for k, v in sorted(exp.items(), key=lambda kv: -kv[1])}


def gini(values: Any) -> float:
    """Gini coefficient of non-negative amounts: 0 when equal, ``(n-1)/n`` when one has all.

    Examples:
        >>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
        (0.0, 0.75)
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if len(x) == 0:
        raise DataValidationError("gini needs at least one value.")
    if (x < 0).any() or not np.isfinite(x).all():
        raise DataValidationError("gini needs finite, non-negative amounts (exposure, counts).")
    total = x.sum()
    if total == 0:
        return 0.0
    n = len(x)
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


def exposure_gini(recommended: Any, *, catalog: Any = None, weighting: str = "uniform") -> float:
    """Gini coefficient of exposure over ``catalog`` (default: the items recommended at least once).

    Pass the whole catalogue to count items never shown (as zero exposure): that is the
    inequality streamers experience.
    """
    exp = _exposure(recommended, weighting)
    items = list(exp) if catalog is None else [_plain(x) for x in catalog]
    missing = set(exp) - set(items)
    if missing:
        raise DataValidationError(f"recommended item {next(iter(missing))!r} is not in catalog; pass the full catalogue.")
    return gini([exp.get(i, 0.0) for i in items])


def group_exposure(recommended: Any, groups: Mapping[Any, Any], *, weighting: str = "uniform") -> dict[Any, float]:
    """Share of exposure per group (``groups``: item -> group); unmapped items form group ``None``.

    Examples:
        >>> group_exposure([["a", "b"], ["a", "c"]], {"a": "big", "b": "small", "c": "small"})
        {'big': 0.5, 'small': 0.5}
    """
    out: dict[Any, float] = {}
    for item, share in exposure_shares(recommended, weighting=weighting).items():
        g = groups.get(item)
        out[g] = out.get(g, 0.0) + share
    return out


def tail_share(recommended: Any, items: Iterable[Any], *, weighting: str = "uniform") -> float:
    """Share of exposure that goes to ``items`` (e.g. new or small streamers)."""
    wanted = {_plain(x) for x in items}
    return float(sum(v for k, v in exposure_shares(recommended, weighting=weighting).items() if k in wanted))


def calibration_kl(recommended: Any, histories: Iterable[Iterable[Any]], categories: Mapping[Any, Any], *,
                   alpha: float = 0.01, weighting: str = "uniform") -> float:
    """Mean miscalibration ``KL(p || (1 - alpha) q + alpha p)`` over viewers (Steck, 2018).

    ``p`` is the category distribution of a viewer's history (one unit per event), ``q`` that
    of their list (slot weights as ``weighting``); ``alpha`` keeps the divergence finite. 0 is
    perfectly calibrated. Viewers whose history has no categorised item are skipped.

    Args:
        recommended: Lists, one per viewer (as in `exposure_shares`).
        histories: The items each viewer interacted with, same order as the lists.
        categories: Item -> category.
        alpha: Mixing weight in ``(0, 1)``.
        weighting: ``"uniform"`` or ``"position"``.

    Examples:
        >>> cats = {"a": "x", "b": "y"}
        >>> calibration_kl([["a"], ["a"]], [["a"], ["a"]], cats)
        0.0
        >>> calibration_kl([["a"]], [["a", "b"]], cats) > 0.5
        True
    """
    validate_parameter("calibration_kl", "alpha", alpha, [Interval(numbers.Real, 0, 1, closed="neither")])
    rows, weights = _slots(recommended, weighting)
    hist = list(histories)
    if len(hist) != len(rows):
        raise DataValidationError(f"calibration_kl got {len(rows)} lists and {len(hist)} histories; pass one each.")
    kls = []
    for r, w, h in zip(rows, weights, hist, strict=True):
        p = _distribution([categories.get(_plain(i)) for i in h], np.ones(len(list(h))))
        if not p:
            continue
        q = _distribution([categories.get(i) for i in r], w)
        kl = 0.0
        for g, pg in p.items():
            kl += pg * np.log(pg / ((1 - alpha) * q.get(g, 0.0) + alpha * pg))
        kls.append(kl)
    return float(np.mean(kls)) if kls else float("nan")


def _distribution(cats: list[Any], w: np.ndarray) -> dict[Any, float]:
    out: dict[Any, float] = {}
    for c, x in zip(cats, w.tolist(), strict=True):
        if c is not None:
            out[c] = out.get(c, 0.0) + x
    total = sum(out.values())
    return {k: v / total for k, v in out.items()} if total > 0 else {}


@dataclass
class ExposureReport:
    """Exposure of a set of recommendation lists (see the module docs).

    Attributes:
        n_lists: Lists measured.
        n_items: Items in the catalogue; ``n_exposed`` of them were recommended at least once.
        gini: Gini coefficient of exposure over the catalogue.
        top_share: Share of exposure of the most exposed 10% of the catalogue.
        shares: ``{item: share}``, largest first.
        group_shares: ``{group: share}`` (empty without groups).
        tail_share: Share going to the given tail items (new or small streamers), or ``None``.
        new_share: Share going to the given new items, or ``None``.
        calibration_kl: Mean miscalibration of categories, or ``None`` without histories.
    """

    n_lists: int
    n_items: int
    n_exposed: int
    gini: float
    top_share: float
    shares: dict[Any, float] = field(repr=False)
    group_shares: dict[Any, float] = field(default_factory=dict)
    tail_share: float | None = None
    new_share: float | None = None
    calibration_kl: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (shares keyed by ``str`` of the id)."""
        out = asdict(self)
        out["shares"] = {str(k): v for k, v in self.shares.items()}
        out["group_shares"] = {str(k): v for k, v in self.group_shares.items()}
        return out


def exposure_report(
    recommended: Any,
    *,
    catalog: Any = None,
    groups: Mapping[Any, Any] | None = None,
    tail_items: Iterable[Any] | None = None,
    new_items: Iterable[Any] | None = None,
    histories: Iterable[Iterable[Any]] | None = None,
    weighting: str = "uniform",
) -> ExposureReport:
    """Every exposure diagnostic of ``recommended`` at once.

    Args:
        recommended: Lists of item ids (or [`Recommendations`][liverec.base.Recommendations]).
        catalog: All items (default: those recommended); items never shown count as zero.
        groups: Item -> group (category, streamer size, ...) for ``group_shares`` and, with
            ``histories``, the calibration.
        tail_items: Small streamers (e.g. outside the head that makes 80% of events).
        new_items: New streamers (no events before).
        histories: Each list's viewer history, for ``calibration_kl`` (needs ``groups``).
        weighting: ``"uniform"`` or ``"position"``.

    Examples:
        >>> r = exposure_report([["a", "b"], ["a", "c"]], catalog=["a", "b", "c", "d"],
        ...                     groups={"a": "x", "b": "y", "c": "y"}, histories=[["b"], ["a"]])
        >>> r.n_exposed, round(r.gini, 3), r.group_shares
        (3, 0.375, {'x': 0.5, 'y': 0.5})
    """
    shares = exposure_shares(recommended, weighting=weighting)
    items = list(shares) if catalog is None else [_plain(x) for x in catalog]
    values = np.array([shares.get(i, 0.0) for i in items])
    top_n = max(1, int(np.ceil(0.1 * len(items))))
    return ExposureReport(
        n_lists=len(_slots(recommended, weighting)[0]), n_items=len(items), n_exposed=len(shares),
        gini=exposure_gini(recommended, catalog=items, weighting=weighting),
        top_share=float(np.sort(values)[::-1][:top_n].sum()), shares=shares,
        group_shares=group_exposure(recommended, groups, weighting=weighting) if groups is not None else {},
        tail_share=None if tail_items is None else tail_share(recommended, tail_items, weighting=weighting),
        new_share=None if new_items is None else tail_share(recommended, new_items, weighting=weighting),
        calibration_kl=(calibration_kl(recommended, histories, groups, weighting=weighting)
                        if histories is not None and groups is not None else None),
    )


def head_tail_items(item_ids: np.ndarray, counts: np.ndarray, head_mass: float = 0.8) -> np.ndarray:
    """The tail: items outside the most popular ones that together make ``head_mass`` of events."""
    order = np.argsort(-counts, kind="stable")
    cum = np.cumsum(counts[order]) / max(float(counts.sum()), 1e-12)
    n_head = int(np.searchsorted(cum, head_mass, side="left")) + 1
    return np.asarray(item_ids)[order[n_head:]]
