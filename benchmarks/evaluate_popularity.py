"""Evaluate Popularity with liverec's protocol, and time the metric functions.

1. Synthetic live commerce (``make_live_commerce``): ``live_split`` (one case per user in
   the last day, 16 events of history, a validation day before it), targets ranked against
   the rooms live at the event time (the protocol) and, for contrast, against all rooms.
2. ML-1M (``ml-1m-seq``, SASRec preprocessing as split by the gSASRec authors):
   leave-one-out, full ranking over all 3,416 items, items in the user's history excluded:
   the published protocol. Skipped when the folder is absent.
3. Timing of the vectorised metric functions on 100k users x top-100 lists, and of
   ``evaluate`` on ML-1M (medians of repeats; the machine is shared, so absolute times
   are noisy).

Usage::

    python benchmarks/evaluate_popularity.py [--data ../shared/data] [--quick]

Writes ``benchmarks/results/evaluate_popularity.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from liverec.datasets import load_ml1m_seq, make_live_commerce  # noqa: E402
from liverec.metrics import evaluate, ranking_metrics  # noqa: E402
from liverec.model_selection import live_split, next_item_split  # noqa: E402
from liverec.models import Popularity  # noqa: E402

DAY = 86_400.0


def _fmt(result: Any, key: str, seg: str = "all") -> str:
    if result.n_cases[seg] == 0:
        return "-"
    lo, hi = result.ci[seg][key]
    return f"{result.mean[seg][key]:.4f} [{lo:.4f}, {hi:.4f}]"


def _row(name: str, result: Any, seconds: float) -> list[Any]:
    return [name, len(result.users), round(float(result.n_candidates.mean()), 1),
            _fmt(result, "hit_rate@10"), _fmt(result, "ndcg@10"),
            _fmt(result, "hit_rate@10", "repeat"), _fmt(result, "hit_rate@10", "new"), round(seconds, 2)]


def synthetic(quick: bool) -> tuple[list[list[Any]], dict[str, Any]]:
    data = make_live_commerce(n_users=800 if quick else 3000, n_streamers=60 if quick else 150,
                              n_days=7 if quick else 14, text=False, random_state=0)
    views = data.interactions.select(data.interactions.event_names == "view")
    split = live_split(views, data.schedule, test_window=DAY, validation_window=DAY, history_len=16)
    print(f"synthetic: {data.interactions.n_users} users, {data.interactions.n_items} rooms, "
          f"{len(views)} views; {split}")
    rows, raw = [], {}
    for name, model, kwargs in (
        ("global, live rooms", Popularity(), {}),
        ("recent (1 day), live rooms", Popularity(strategy="recent", window=DAY), {}),
        ("global, all rooms", Popularity(), {"schedule": None}),
    ):
        model.fit(split.train_validation, schedule=data.schedule)
        t0 = time.perf_counter()
        if "schedule" in kwargs:  # all rooms: same cases, no availability filter
            result = evaluate(model, split.train_validation, split.test, history=split.history, per="event")
        else:
            result = evaluate(model, split.for_test())
        dt = time.perf_counter() - t0
        print(f"\n== Popularity {name} ==\n{result}")
        rows.append(_row(name, result, dt))
        raw[name] = result.to_dict()
    return rows, raw


def ml1m(folder: Path) -> tuple[list[list[Any]], dict[str, Any], float]:
    bench = load_ml1m_seq(folder)
    split = next_item_split(bench.test_history, bench.test_users, bench.test_target, train=bench.train)
    model = Popularity().fit(split.train)
    times, result = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        result = evaluate(model, split, k=(1, 5, 10), exclude_seen=True)
        times.append(time.perf_counter() - t0)
    assert result is not None
    print(f"\n== ML-1M, Popularity, leave-one-out, full ranking, seen excluded ==\n{result}")
    return [_row("ML-1M global", result, float(np.median(times)))], result.to_dict(), float(np.median(times))


def metric_timing(repeats: int) -> list[list[Any]]:
    rng = np.random.default_rng(0)
    n, length, n_items = 100_000, 100, 50_000
    ranked = rng.integers(0, n_items, size=(n, length))
    target = rng.integers(0, n_items, size=n)
    rel_sets = [rng.integers(0, n_items, size=5) for _ in range(n)]
    rows = []
    for label, rel, metrics in (
        ("HR@10 + NDCG@10, one target per user", target, ("hit_rate", "ndcg")),
        ("all 6 ranking metrics @10, one target per user", target, None),
        ("all 6 ranking metrics @10, 5 relevant items per user", rel_sets, None),
    ):
        kw = {} if metrics is None else {"metrics": metrics}
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ranking_metrics(ranked, rel, k=10, **kw)
            times.append(time.perf_counter() - t0)
        rows.append([label, round(float(np.median(times)), 3), round(float(min(times)), 3)])
        print(f"{label}: median {np.median(times):.3f} s, min {min(times):.3f} s over {repeats} runs")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("LIVEREC_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    parser.add_argument("--quick", action="store_true", help="smaller synthetic data, fewer timing repeats")
    args = parser.parse_args()
    columns = ["data / model", "cases", "mean candidates", "HR@10 [95% CI]", "NDCG@10 [95% CI]",
               "HR@10 repeat", "HR@10 new", "evaluate seconds"]
    rows, raw = synthetic(args.quick)
    notes = ["Protocol: full ranking (no sampled negatives), pessimistic ties, 95% percentile bootstrap "
             "CIs over cases (1000 resamples, seed 0).",
             "Synthetic: make_live_commerce(n_users=3000, n_streamers=150, n_days=14, random_state=0), "
             "view events; live_split with a 1-day test window, 1-day validation window, 16 events of history; "
             "fitted on everything before the test day.",
             "Timings: medians of repeats in one process on a machine shared with other jobs."]
    ml_dir = Path(args.data) / "ml-1m-seq"
    eval_seconds = None
    if ml_dir.is_dir():
        ml_rows, ml_raw, eval_seconds = ml1m(ml_dir)
        rows += ml_rows
        raw["ml-1m"] = ml_raw
        notes.append("ML-1M: ml-1m-seq (gSASRec split), leave-one-out on all 6,040 users, ranked against all "
                     "3,416 items with the user's history excluded; this copy lacks the second-to-last item "
                     "for 5,528 users (see DATA.md).")
    else:
        print(f"ml-1m-seq not found under {args.data}: skipped")
    timing = metric_timing(3 if args.quick else 5)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load is not None:
        notes.append(f"Load average when the timings were taken: {load[0]:.1f} (1 min) on "
                     f"{os.cpu_count()} cores; absolute seconds scale with it.")
    path = write_result("evaluate_popularity", {
        "description": "Popularity evaluated with liverec.metrics.evaluate (full ranking, live candidates on "
                       "synthetic live commerce; the published leave-one-out protocol on ML-1M), and the "
                       "speed of the metric functions.",
        "notes": notes,
        "tables": [
            {"title": "Popularity: HR@10 / NDCG@10 with 95% bootstrap CIs", "columns": columns, "rows": rows},
            {"title": "Metric functions, 100k users x top-100 lists (50k items)",
             "columns": ["computation", "median seconds", "min seconds"], "rows": timing},
        ],
        "ml1m_evaluate_seconds": eval_seconds,
        "results": raw,
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
