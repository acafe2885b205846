"""Quick start: the whole library end to end on built-in synthetic live-commerce data.

Run with ``make demo`` (or ``python examples/quickstart.py``; ``--quick`` or the environment
variable ``LIVEREC_QUICK=1`` for a smaller, faster run). The steps live in
`liverec.demo`, which ``liverec demo`` runs too; read it for the API calls.

The first lines below are the smallest useful program: generate data, split by time, fit
the live popularity baseline and recommend the rooms live at a moment.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import liverec
from liverec.datasets import make_live_commerce
from liverec.model_selection import temporal_split


def minimal(random_state: int = 0) -> None:
    data = make_live_commerce(n_users=200, n_streamers=30, n_days=5, random_state=random_state)
    split = temporal_split(data.interactions, test_size=0.2)
    model = liverec.models.Popularity(strategy="live").fit(split.train, schedule=data.schedule)
    at = split.test.time_values()[0]                     # the first request after the cut
    users = np.unique(split.test.user)[:3]
    recs = model.recommend(users, k=3, at=at)            # only rooms on air at `at`
    print(f"At {at.astype('datetime64[m]')}, {len(data.schedule.live_at(at))} rooms are live.")
    for row, user in enumerate(users):
        print(f"  viewer {user}: rooms {recs[row]}")


if __name__ == "__main__":
    quick = "--quick" in sys.argv or os.environ.get("LIVEREC_QUICK") == "1"
    print("--- the smallest program -------------------------------------------------")
    minimal()
    from liverec.demo import run_demo

    run_demo(quick=quick)
