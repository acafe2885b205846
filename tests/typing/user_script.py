"""A typed user script: every model, fit / recommend / save / load."""
from __future__ import annotations

import tempfile

import numpy as np

import liverec
from liverec import Interactions, Recommendations
from liverec.base import BaseRecommender
from liverec.datasets import make_live_commerce
from liverec.models import (
    ALS,
    BPR,
    MatrixFactorization,
    Popularity,
    ProfileRanker,
    SequentialTransformer,
)
from liverec.profiles import UserProfileBuilder
from liverec.text import HashingTextEncoder


def top(model: BaseRecommender, data: Interactions) -> Recommendations:
    return model.fit(data).recommend(data.users.ids[:2], k=3)


data = make_live_commerce(n_users=40, n_streamers=8, n_days=2, random_state=0)
models: list[BaseRecommender] = [
    Popularity(), ALS(n_factors=4, n_epochs=2), BPR(n_factors=4, n_epochs=1),
    MatrixFactorization(n_factors=2, n_epochs=2),
    SequentialTransformer(embedding_dim=8, max_len=8, n_epochs=1, verbose=False),
]
ranker: ProfileRanker = ProfileRanker(n_epochs=1)
als: ALS = ALS(n_factors=4).fit(data.interactions)
factors: np.ndarray = als.item_factors_
with tempfile.TemporaryDirectory() as d:
    als.save(d)
    again = liverec.load(d)
vectors: np.ndarray = HashingTextEncoder(dim=32).fit(["a b"]).transform(["a"])
profiles = UserProfileBuilder().fit(data.interactions)
recs: list[Recommendations] = [top(m, data.interactions) for m in models]
