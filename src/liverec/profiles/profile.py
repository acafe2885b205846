"""``UserProfile``: the readable summary of one user built by [`UserProfileBuilder`][liverec.profiles.UserProfileBuilder]."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        return x.item()
    return x


@dataclass
class UserProfile:
    """What one viewer cares about and how engaged they are, as of ``at``.

    Shares are time-decayed, event-weighted and shrunk toward the population (see
    ``cold_start``); rates are shrunk the same way.

    Attributes:
        user: The external user id.
        at: The time the profile describes (the builder's latest event time by default).
        n_events: Events seen for this user (all time, not decayed).
        cold_start: How much of the profile comes from the population prior, in ``[0, 1]``:
            ``prior_strength / (evidence + prior_strength)``; 1 for a user never seen.
        top_streamers: ``(streamer or item, share)`` pairs, the user's strongest affinities.
        top_categories: ``(category, share)`` pairs (empty without item metadata).
        price_band: The price band with the largest share (``None`` without prices).
        price_band_shares: Share of every price band.
        mean_price: Decayed weighted mean price of what the user engaged with.
        activity: ``events_per_day``, ``watch_seconds``, ``first_seen``, ``last_seen``,
            ``time_since_last_seen`` (in the data's time unit), ``days_since_last_seen``,
            ``engagement_now`` (the user's decayed event weight at ``at``).
        funnel: Event counts by type (``view``, ``like``, ``comment``, ``cart``,
            ``purchase``, ...) and the personal rates ``ctr`` (cart per view), ``cvr``
            (purchase per cart) and ``engage_rate`` (likes/comments/shares/gifts per view).
        taste: The dense taste vector (``None`` without item vectors or text).
    """

    user: Any
    at: float
    n_events: int
    cold_start: float
    top_streamers: list[tuple[Any, float]] = field(default_factory=list)
    top_categories: list[tuple[str, float]] = field(default_factory=list)
    price_band: str | None = None
    price_band_shares: dict[str, float] = field(default_factory=dict)
    mean_price: float | None = None
    activity: dict[str, float] = field(default_factory=dict)
    funnel: dict[str, float] = field(default_factory=dict)
    taste: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numpy values become Python numbers and lists)."""
        return _plain(asdict(self))

    def __str__(self) -> str:
        def pairs(xs: list[tuple[Any, float]]) -> str:
            return ", ".join(f"{k} ({v:.0%})" for k, v in xs) or "-"

        act = self.activity
        fun = self.funnel
        counts = {k: int(v) for k, v in fun.items()
                  if k not in ("ctr", "cvr", "engage_rate") and (v or k in ("view", "cart", "purchase"))}
        lines = [
            f"UserProfile {self.user!r}: {self.n_events} events, cold start {self.cold_start:.0%}",
            f"  top streamers : {pairs(self.top_streamers)}",
            f"  top categories: {pairs(self.top_categories)}",
        ]
        if self.price_band is not None:
            price = f", mean price {self.mean_price:.2f}" if self.mean_price is not None else ""
            lines.append(f"  price band    : {self.price_band}{price}")
        lines.append(
            f"  activity      : {act.get('events_per_day', 0.0):.2f} events/day, "
            f"{act.get('watch_seconds', 0.0):.0f} s watched, engagement now "
            f"{act.get('engagement_now', 0.0):.2f}, last seen {act.get('days_since_last_seen', 0.0):.1f} days ago"
        )
        lines.append(
            "  funnel        : " + " -> ".join(f"{k} {v}" for k, v in counts.items())
            + f" | ctr {fun.get('ctr', 0.0):.1%}, cvr {fun.get('cvr', 0.0):.1%}, "
            f"engage {fun.get('engage_rate', 0.0):.1%}"
        )
        if self.taste is not None:
            lines.append(f"  taste vector  : dim {len(self.taste)}, norm {float(np.linalg.norm(self.taste)):.2f}")
        return "\n".join(lines)
