"""Every model goes through the same contract suite (liverec.testing.CHECKS).

To add a model, add a factory to MODELS: a small, fast configuration with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from liverec.base import BaseRecommender
from liverec.models import (
    ALS,
    BPR,
    MatrixFactorization,
    Popularity,
    ProfileRanker,
    SequentialTransformer,
)
from liverec.testing import CHECKS

MODELS: dict[str, Callable[[], BaseRecommender]] = {
    "ALS-cg": lambda: ALS(n_factors=8, n_epochs=4, random_state=0, threads=1),
    "ALS-cholesky": lambda: ALS(n_factors=8, n_epochs=3, solver="cholesky", random_state=0, threads=2),
    "BPR-tiny": lambda: BPR(n_factors=8, n_epochs=3, batch_size=64, random_state=0, threads=1),
    "MatrixFactorization-als": lambda: MatrixFactorization(n_factors=4, n_epochs=4, random_state=0, threads=1),
    "MatrixFactorization-sgd": lambda: MatrixFactorization(
        n_factors=4, n_epochs=3, solver="sgd", batch_size=64, validation=0.2, random_state=0, threads=1),
    "Popularity-global": lambda: Popularity(),
    "Popularity-recent": lambda: Popularity(strategy="recent", weighting="event"),
    "ProfileRanker-tiny": lambda: ProfileRanker(n_windows=2, n_epochs=3, embedding_dim=8, random_state=0),
    "SequentialTransformer-tiny": lambda: SequentialTransformer(
        embedding_dim=16, max_len=16, n_epochs=3, batch_size=16, repeat_aware=True, random_state=0, verbose=False),
}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_contract(model: str, check: str) -> None:
    CHECKS[check](MODELS[model])
