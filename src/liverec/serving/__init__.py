"""Real-time serving: a live service that follows rooms going on and off air and viewers' events.

* [`LiveService`][liverec.serving.LiveService]: a fitted model plus the online state a web
  server keeps in memory (live schedule, recent events per viewer, what is hot now); answers
  ``recommend`` through the same ranking engine as ``model.recommend``; ``swap`` replaces the
  model atomically.
* [`replay`][liverec.serving.replay]: online evaluation, held-out events streamed in time order.
* ``liverec serve MODEL_DIR``: the HTTP application (``pip install 'liverec[serve]'``), built by
  [`create_app`][liverec.serving.create_app]; FastAPI is imported only when the app is built.

Examples:
    >>> from liverec.data import Interactions
    >>> from liverec.models import ALS
    >>> from liverec.serving import LiveService
    >>> X = Interactions.from_arrays(user=[1, 1, 2, 3], item=["a", "b", "a", "c"], time=[1, 2, 3, 4])
    >>> service = LiveService(ALS(n_factors=4, random_state=0).fit(X))
    >>> service.on_air(["a", "c"], 10)
    >>> service.recommend(1, k=5, at=11)[0]   # only the two rooms on air (ranked)
    ['a', 'c']
"""

from __future__ import annotations

from ._http import Metrics, create_app
from ._replay import ReplayResult, replay
from ._service import LiveService

__all__ = ["LiveService", "Metrics", "ReplayResult", "create_app", "replay"]
