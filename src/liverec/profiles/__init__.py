"""User profiles: time-decayed affinities, activity, funnel and taste, updated incrementally.

Examples:
    >>> from liverec.data import Interactions
    >>> from liverec.profiles import UserProfileBuilder
    >>> X = Interactions.from_arrays(["ann", "bob"], ["s1", "s1"], time=[0.0, 60.0],
    ...                              event=["view", "cart"])
    >>> UserProfileBuilder().fit(X).profile("bob").funnel["cart"]
    1.0
"""

from __future__ import annotations

from .builder import UserProfileBuilder, read_item_table
from .profile import UserProfile

__all__ = ["UserProfile", "UserProfileBuilder", "read_item_table"]
