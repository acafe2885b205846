"""Forgetting gap and the exposure / accuracy trade-off of re-ranking (issue 17).

Two measurements, written to ``benchmarks/results/trust.json``:

* **Forgetting gap** (synthetic live-commerce data). For BPR, MatrixFactorization,
  SequentialTransformer and ALS: fit on everyone, pick 10% of the users as "forgotten".
  Each forgotten user's events are cut in time: the first half is a history the model is
  given (fold-in), the second half the targets. Recall@10 of the targets is measured with
  (c) the original model, (a) the same model after ``forget``, (b) a model retrained
  without those users (same seed). ``(a) - (b)`` is what the shared parameters still know
  about the forgotten users; ``(a - b) / (c - b)`` the share of the original model's
  advantage on them that remains (0: forget is as good as a retrain).
* **Re-ranking curve**: ALS candidates (pool 50) re-ranked by
  ``liverec.rerank.ExposureReranker`` for a range of ``trade_off``: NDCG@10 of the held-out
  last item (full ranking, seen items excluded) against the Gini coefficient of exposure
  over the catalogue and the share of exposure of tail streamers; on the synthetic data and
  on ML-1M (``ml-1m-seq``; skipped when the data folder is absent).

Usage::

    python benchmarks/trust.py                 # about 3-6 minutes on 2 cores
    python benchmarks/trust.py --quick         # smaller, for a smoke run
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

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("LIVEREC_DATA", ROOT.parent / "shared" / "data"))
TRADE_OFFS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def _recall_at_10(model: Any, cases: list[tuple[Any, list[Any], set[Any]]]) -> float:
    hits = []
    for user, history, targets in cases:
        recs = model.recommend(f"probe-{user}", k=10, history=history)
        hits.append(len(set(recs[0]) & targets) / len(targets))
    return float(np.mean(hits))


def forgetting_gap(quick: bool, seed: int) -> list[dict[str, Any]]:
    from liverec.datasets import make_live_commerce
    from liverec.models import ALS, BPR, MatrixFactorization, SequentialTransformer

    data = make_live_commerce(n_users=300 if quick else 800, n_streamers=60, n_days=10, random_state=seed)
    X = data.interactions
    rng = np.random.default_rng(seed)
    user_of = X.users.take(X.user_codes)
    counts = np.bincount(X.user_codes, minlength=X.n_users)
    eligible = X.users.ids[counts >= 6]
    gone = rng.choice(eligible, size=max(5, len(X.users) // 10), replace=False).tolist()
    cases = []
    for u in gone:
        rows = np.flatnonzero(user_of == u)
        rows = rows[np.argsort(X.time[rows], kind="stable")]
        half = len(rows) // 2
        items = X.items.take(X.item_codes[rows]).tolist()
        cases.append((u, items[:half], set(items[half:])))
    rest = X.select(~np.isin(user_of, gone))
    epochs = 5 if quick else 15
    factories = {
        "ALS": lambda: ALS(n_factors=32, n_epochs=10, alpha=5.0, regularization=1.0, random_state=seed, threads=2),
        "BPR": lambda: BPR(n_factors=32, n_epochs=epochs, random_state=seed, threads=2),
        "MatrixFactorization": lambda: MatrixFactorization(n_factors=16, n_epochs=10, random_state=seed, threads=2),
        "SequentialTransformer": lambda: SequentialTransformer(
            max_len=50, embedding_dim=32, n_epochs=epochs, patience=None, validation_size=0,
            time_limit=15 if quick else 40, random_state=seed, threads=2),
    }
    rows_out = []
    for name, make in factories.items():
        t0 = time.perf_counter()
        model = make().fit(X)
        original = _recall_at_10(model, cases)
        forgotten = _recall_at_10(model.forget(gone), cases)
        retrained = _recall_at_10(make().fit(rest), cases)
        advantage = original - retrained
        rows_out.append({
            "model": name, "forgotten_users": len(gone), "recall@10_original": original,
            "recall@10_after_forget": forgotten, "recall@10_retrained": retrained,
            "gap_forget_minus_retrain": forgotten - retrained,
            # undefined when the original model had no advantage on them to keep
            "remaining_share": (forgotten - retrained) / advantage if advantage > 1e-9 else None,
            "seconds": time.perf_counter() - t0,
        })
        print(f"  {name:<22s} original {original:.4f}  after forget {forgotten:.4f}  retrained {retrained:.4f}",
              flush=True)
    return rows_out


def _curve(name: str, train: Any, test_users: np.ndarray, test_items: np.ndarray, seed: int) -> list[dict[str, Any]]:
    from liverec.metrics import exposure_report, ndcg_at_k
    from liverec.metrics._exposure import head_tail_items
    from liverec.models import ALS
    from liverec.rerank import ExposureReranker

    model = ALS(n_factors=64, n_epochs=15, regularization=10.0, alpha=1.0, random_state=seed, threads=2).fit(train)
    pool = model.recommend(test_users, k=50, exclude_seen=True)
    ids = model.items_.ids
    counts = np.asarray(train.to_csr("count").sum(axis=0)).ravel()
    tail = head_tail_items(ids, counts)
    out = []
    for lam in TRADE_OFFS:
        recs = ExposureReranker(trade_off=lam).rerank(pool, k=10)
        lists = [recs[r] for r in range(len(recs))]
        rep = exposure_report(lists, catalog=ids, tail_items=tail, weighting="position")
        ndcg = ndcg_at_k(lists, test_items.tolist(), k=10)
        out.append({"data": name, "trade_off": lam, "ndcg@10": float(ndcg), "gini": rep.gini,
                    "tail_share": rep.tail_share, "items_exposed": rep.n_exposed, "top10%_share": rep.top_share})
        print(f"  {name:<10s} trade_off {lam:.1f}  NDCG@10 {ndcg:.4f}  Gini {rep.gini:.3f}  "
              f"tail share {rep.tail_share:.3f}", flush=True)
    return out


def rerank_curves(data_dir: Path, quick: bool, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    from liverec.datasets import make_live_commerce
    from liverec.model_selection import leave_last_out

    notes = []
    data = make_live_commerce(n_users=500 if quick else 2000, n_streamers=120, n_days=14, random_state=seed)
    split = leave_last_out(data.interactions, validation=False)
    test = split.test
    rows = _curve("synthetic", split.train, test.users.take(test.user_codes), test.items.take(test.item_codes), seed)
    ml = data_dir / "ml-1m-seq"
    if ml.is_dir() and not quick:
        from liverec.datasets import load_ml1m_seq

        bench = load_ml1m_seq(ml)
        rows += _curve("ml-1m-seq", bench.test_history, np.asarray(bench.test_users),
                       np.asarray(bench.test_target), seed)
    else:
        notes.append(f"ML-1M skipped ({'--quick' if quick else f'{ml} is absent'}).")
    return rows, notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    print("Forgetting gap (synthetic live commerce):", flush=True)
    gap = forgetting_gap(args.quick, args.seed)
    print("Re-ranking curve:", flush=True)
    curve, notes = rerank_curves(args.data, args.quick, args.seed)
    gap_cols = ["model", "recall@10_original", "recall@10_after_forget", "recall@10_retrained",
                "gap_forget_minus_retrain", "remaining_share"]
    curve_cols = ["data", "trade_off", "ndcg@10", "gini", "tail_share", "items_exposed"]
    write_result("trust", {
        "description": __doc__.split("\n\n")[0],
        "tables": [
            {"title": "Forgetting gap: recall@10 of forgotten users' later events from their earlier ones",
             "columns": gap_cols, "rows": [[r[c] for c in gap_cols] for r in gap]},
            {"title": "Exposure-aware re-ranking (ALS candidates, pool 50): NDCG@10 vs exposure Gini",
             "columns": curve_cols, "rows": [[r[c] for c in curve_cols] for r in curve]},
        ],
        "forgetting_gap": gap, "rerank_curve": curve, "quick": args.quick,
        "notes": notes + [f"total {time.perf_counter() - t0:.0f} s"],
    })


if __name__ == "__main__":
    main()
