"""liverec: recommendation for e-commerce live streaming.

Availability-aware (only live rooms are recommended), repeat-aware (viewers come back to
their streamers) and text-aware (titles, transcripts, comments), behind one scikit-learn
style ``fit`` / ``predict`` / ``recommend`` API.

Examples:
    >>> import liverec
    >>> data = liverec.datasets.make_live_commerce(n_users=100, n_streamers=20, n_days=3, random_state=0)
    >>> model = liverec.models.Popularity().fit(data.interactions)
    >>> recs = model.recommend(data.interactions.users.ids[:2], k=3)
    >>> recs.items.shape
    (2, 3)
"""

from __future__ import annotations

import logging as _logging
from typing import TYPE_CHECKING

from . import data, datasets, exceptions, metrics, model_selection, models
from ._version import __version__
from .base import BaseRecommender, Recommendations
from .data import IdMap, Interactions, LiveSchedule, TextEvents
from .persistence import load

# Library convention: log records go to ``liverec.*`` loggers; the application decides
# where they go (``logging.basicConfig(level=logging.INFO)`` shows progress and training logs).
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "BaseRecommender",
    "IdMap",
    "Interactions",
    "LiveSchedule",
    "Recommendations",
    "TextEvents",
    "__version__",
    "data",
    "datasets",
    "exceptions",
    "load",
    "metrics",
    "model_selection",
    "models",
]


if TYPE_CHECKING:  # typed for checkers and IDEs; imported lazily at run time (see __getattr__)
    from . import profiles as profiles
    from . import serving as serving
    from . import testing as testing
    from . import text as text


def __getattr__(name: str) -> object:
    # text, profiles and serving import lazily (text may pull transformers when used)
    if name in ("text", "profiles", "serving", "testing"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'liverec' has no attribute {name!r}")
