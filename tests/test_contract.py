"""Every model goes through the same contract suite (liverec.testing.CHECKS).

To add a model, add a factory to MODELS: a small, fast configuration with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from liverec.base import BaseRecommender
from liverec.models import Popularity, SequentialTransformer
from liverec.testing import CHECKS

MODELS: dict[str, Callable[[], BaseRecommender]] = {
    "Popularity-global": lambda: Popularity(),
    "Popularity-recent": lambda: Popularity(strategy="recent", weighting="event"),
    "SequentialTransformer-tiny": lambda: SequentialTransformer(
        embedding_dim=16, max_len=16, n_epochs=3, batch_size=16, repeat_aware=True, random_state=0, verbose=False),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_contract(model: str, check: str) -> None:
    CHECKS[check](MODELS[model])
