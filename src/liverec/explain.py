"""Structured reasons behind a score: what ``model.explain(user, items)`` returns.

Every model explains a (user, item) score with a list of [`Reason`][liverec.explain.Reason]s:
a history item, a history event, a profile feature, a count, a bias. How the contributions
relate to the score is part of the answer (`Explanation.method`, `Explanation.additive`):

* ``additive=True``: ``baseline + sum(contributions) == explained_score`` (an exact
  decomposition: ALS history items, matrix-factorisation terms, a linear ranker's features);
* ``additive=False``: each contribution is measured on its own (leave-one-out: the score
  drop when that event is removed; occlusion: when that feature is set to its mean).

Examples:
    >>> r = Reason("history_item", "tea", 0.75, value=3.0, text="you bought tea 3 times")
    >>> e = Explanation("ann", "cake", 1.0, [r], method="exact", baseline=0.25, additive=True)
    >>> e.to_records()[0]["name"], e.explained_score
    ('tea', 1.0)
    >>> print(e)
    ann -> cake: score 1 (exact)
      +0.75  you bought tea 3 times
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._utils import plain as _plain

__all__ = ["Explanation", "Reason"]


@dataclass(frozen=True)
class Reason:
    """One reason behind a score.

    Attributes:
        kind: What the reason is: ``"history_item"``, ``"history_event"``,
            ``"profile_feature"``, ``"count"``, ``"bias"``, ``"match"`` or
            ``"similar_history_item"``.
        name: The item id, feature name or term the reason is about.
        contribution: Its part of the score (see `Explanation.additive`).
        value: The underlying quantity (an event count, a feature value, an event time).
        text: One human-readable line.
    """

    kind: str
    name: Any
    contribution: float
    value: Any = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The reason as a JSON-friendly dict."""
        return {"kind": self.kind, "name": _plain(self.name), "contribution": float(self.contribution),
                "value": _plain(self.value), "text": self.text}


@dataclass
class Explanation:
    """Why ``item`` scored what it did for ``user``.

    Attributes:
        user: External user id.
        item: External item id.
        score: The model's score of the pair (what ``recommend`` ranks by).
        reasons: Reasons, largest absolute contribution first.
        method: How contributions were computed (``"exact decomposition"``,
            ``"leave-one-out"``, ``"feature occlusion"``, ``"count"``).
        baseline: The part of the score no reason accounts for (additive methods).
        additive: Whether ``baseline + sum(contributions)`` is the explained score.
        context: Supporting evidence that is not part of the score (e.g. the history
            items most similar to ``item``), with ``contribution`` a similarity.
    """

    user: Any
    item: Any
    score: float
    reasons: list[Reason]
    method: str
    baseline: float = 0.0
    additive: bool = False
    context: list[Reason] = field(default_factory=list)

    @property
    def explained_score(self) -> float:
        """``baseline + sum(contributions)`` (equals ``score`` for exact additive methods)."""
        return float(self.baseline + sum(r.contribution for r in self.reasons))

    def top(self, n: int = 3) -> list[Reason]:
        """The ``n`` reasons that pushed the score up the most (positive contributions)."""
        return [r for r in self.reasons if r.contribution > 0][:n]

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per reason (and context entry) with ``user``, ``item``, ``score``, ``method``."""
        head = {"user": _plain(self.user), "item": _plain(self.item), "score": float(self.score),
                "method": self.method}
        rows = [{**head, "role": "reason", **r.to_dict()} for r in self.reasons]
        rows += [{**head, "role": "context", **r.to_dict()} for r in self.context]
        return rows

    def __repr__(self) -> str:
        return (f"Explanation(user={_plain(self.user)!r}, item={_plain(self.item)!r}, score={self.score:.4g}, "
                f"method={self.method!r}, n_reasons={len(self.reasons)})")

    def __str__(self) -> str:
        lines = [f"{_plain(self.user)} -> {_plain(self.item)}: score {self.score:.4g} ({self.method})"]
        lines += [f"  {r.contribution:+.4g}  {r.text or r.name}" for r in self.reasons[:10]]
        if len(self.reasons) > 10:
            lines.append(f"  ... {len(self.reasons) - 10} more reasons")
        lines += [f"  (similar: {r.text or r.name})" for r in self.context[:3]]
        return "\n".join(lines)


def sort_reasons(reasons: list[Reason]) -> list[Reason]:
    """Reasons by decreasing absolute contribution (stable)."""
    return sorted(reasons, key=lambda r: -abs(r.contribution))


def factor_explanations(model: Any, user_code: int, item_codes: Any, *, baseline: float = 0.0,
                        user_bias: float | None = None, n_similar: int = 3) -> list[Explanation]:
    """Exact decomposition of a factor model's score ``baseline + b_u + b_i + p_u . q_i``.

    Used by BPR and matrix factorisation (private helper). The terms are the item's bias
    (how much everybody likes it), the user's bias (when the model has one) and the match of
    the user's and item's vectors; ``context`` holds the user's history items whose vectors
    are the most similar (cosine) to the item's, which is what the match term reflects.
    """
    import numpy as np

    P, Q = model.user_factors_, model.item_factors_
    p = P[user_code].astype(np.float64)
    hist = model.seen_[user_code].indices
    Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    user, ids = model.users_.ids[user_code], model.items_.ids
    out = []
    for c in np.asarray(item_codes, dtype=np.int64):
        match = float(p @ Q[c])
        b_i = float(model.item_bias_[c])
        reasons = [Reason("match", "taste match", match, value=match,
                          text=f"your taste vector matches this item's: {match:+.3g}"),
                   Reason("bias", "item bias", b_i, value=b_i,
                          text=f"how much viewers like this item in general: {b_i:+.3g}")]
        if user_bias is not None:
            reasons.append(Reason("bias", "user bias", float(user_bias), value=float(user_bias),
                                  text=f"how generous your ratings are: {float(user_bias):+.3g}"))
        sims = Qn[hist] @ Qn[c] if len(hist) else np.zeros(0)
        top = np.argsort(-sims, kind="stable")[:n_similar]
        context = [Reason("similar_history_item", ids[hist[j]], float(sims[j]), value=float(sims[j]),
                          text=f"{_plain(ids[hist[j]])} in your history (similarity {float(sims[j]):.2f})")
                   for j in top]
        score = baseline + sum(r.contribution for r in reasons)
        out.append(Explanation(user, ids[c], float(score), sort_reasons(reasons), method="exact decomposition",
                               baseline=baseline, additive=True, context=context))
    return out
