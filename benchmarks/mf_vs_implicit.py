"""liverec ALS and BPR against ``implicit``, side by side (issue 4).

What is measured, in one process run, alternating the two libraries on every repeat:

* **ALS fit** (64 factors, 15 iterations, the same regularisation and the same confidence
  matrix ``1 + alpha * r``) on ``ml-1m-seq`` (train = every user's history, test = their last
  item) and on a synthetic matrix of the same shape; at 1 and at 2 threads. Median wall
  seconds, median CPU seconds, the ratio liverec/implicit, and HR@10 / NDCG@10 of both
  (full ranking against all items, items in the history excluded, ties counted against the
  target).
* **BPR fit** against ``implicit.bpr`` with the same factors and epochs, when
  ``liverec.models.BPR`` is available.
* **Recommend**: top-10 for all users with seen items excluded, through each library's
  public ``recommend``.
* **Peak memory** of ALS fit on 10M synthetic interactions (100k users x 50k items), each
  library in a fresh child process: the high-water mark of the resident set during ``fit``
  (``VmHWM`` reset just before it) and, for reference, before it.

``implicit`` is given its recommended setting (BLAS limited to one thread) and data already
in CSR form; liverec's time includes turning ``Interactions`` into its matrices. implicit
weights an event by ``alpha * r``; it is given the matrix ``1 + alpha * r`` with its own
``alpha=1`` so that both minimise the same objective.

Usage::

    python benchmarks/mf_vs_implicit.py                       # everything (about 10-20 min)
    python benchmarks/mf_vs_implicit.py --repeats 3 --threads 1 --parts als recommend
    python benchmarks/mf_vs_implicit.py --parts memory

The machine may be shared: every figure is a median of alternating repeats, and the
ratios are the figures to trust. CPU seconds (``time.process_time``) are less sensitive to
other jobs than wall seconds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("LIVEREC_DATA", ROOT.parent / "shared" / "data"))

#: Hyper-parameters shared by both libraries (chosen on ml-1m-seq for both; see the docs page).
ALS_PARAMS = {"factors": 64, "iterations": 15, "regularization": 10.0, "alpha": 1.0}
BPR_PARAMS = {"factors": 64, "epochs": 20}


# Data ------------------------------------------------------------------------------------------
class Dataset:
    """A user x item count matrix, one held-out target item per user, and the liverec events."""

    def __init__(self, name: str, interactions: Any, targets: np.ndarray) -> None:
        self.name = name
        self.interactions = interactions
        self.counts = interactions.to_csr("count")  # users x items, codes of the Interactions
        self.targets = targets  # item code per user code (-1: no target)

    def describe(self) -> dict[str, Any]:
        return {"users": int(self.counts.shape[0]), "items": int(self.counts.shape[1]),
                "nonzeros": int(self.counts.nnz), "events": len(self.interactions)}


def load_ml1m(folder: Path) -> Dataset:
    from liverec.datasets import load_ml1m_seq

    bench = load_ml1m_seq(folder)
    X = bench.test_history
    targets = np.full(X.n_users, -1, dtype=np.int64)
    users = X.users.codes(bench.test_users)
    targets[users] = X.items.codes(bench.test_target, missing="ignore")
    return Dataset("ml-1m-seq", X, targets)


def synthetic_like(real: Dataset, seed: int = 0) -> Dataset:
    """Same users, items and history lengths as ``real``, from a planted low-rank taste model.

    Each user draws their history and then one target item without replacement from
    ``softmax(4 * u . v + log popularity)`` (Gumbel top-k), with rank-16 tastes and Zipf
    item popularity, so the target is predictable from the history.
    """
    from liverec.data import Interactions

    rng = np.random.default_rng(seed)
    n_users, n_items = real.counts.shape
    lengths = np.diff(real.counts.indptr)
    U = rng.normal(size=(n_users, 16)).astype(np.float32) / 4.0
    V = rng.normal(size=(n_items, 16)).astype(np.float32)
    log_pop = -0.8 * np.log(rng.permutation(n_items) + 10.0).astype(np.float32)
    rows, cols, targets = [], [], np.empty(n_users, dtype=np.int64)
    for start in range(0, n_users, 512):
        stop = min(n_users, start + 512)
        logits = U[start:stop] @ V.T * 4.0 + log_pop
        logits += rng.gumbel(size=logits.shape).astype(np.float32)
        order = np.argsort(-logits, axis=1)
        for r in range(stop - start):
            n = int(lengths[start + r])
            rows.append(np.full(n, start + r))
            cols.append(order[r, :n])
            targets[start + r] = order[r, n]
    user = np.concatenate(rows)
    item = np.concatenate(cols)
    X = Interactions.from_arrays(user, item)
    # Interactions codes follow the sorted ids, which are the integers 0..n-1 here
    return Dataset("synthetic (same shape)", X, X.items.codes(targets, missing="ignore"))


# Quality ---------------------------------------------------------------------------------------
def hr_ndcg(user_factors: np.ndarray, item_factors: np.ndarray, data: Dataset, k: int = 10,
            block: int = 1024) -> tuple[float, float]:
    """HR@k and NDCG@k: the target ranked against all items, history excluded, ties against it."""
    seen = data.counts
    hits, gains = 0.0, 0.0
    users = np.flatnonzero(data.targets >= 0)
    for start in range(0, len(users), block):
        u = users[start:start + block]
        S = user_factors[u] @ item_factors.T
        t = data.targets[u]
        target_scores = S[np.arange(len(u)), t].copy()
        sub = seen[u]
        S[np.repeat(np.arange(len(u)), np.diff(sub.indptr)), sub.indices] = -np.inf
        S[np.arange(len(u)), t] = -np.inf  # the target itself does not count against itself
        rank = (S >= target_scores[:, None]).sum(1)
        hit = rank < k
        hits += float(hit.sum())
        gains += float((hit / np.log2(rank + 2.0)).sum())
    n = max(1, len(users))
    return hits / n, gains / n


# Timing helpers ----------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def med(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


#: Seconds of idle time before every timed call. Both libraries run OpenMP thread pools whose
#: workers spin for a while after a parallel region; without a pause, the pool of the library
#: that ran last still holds the cores when the other starts (measured: liverec's top-10 for
#: all ML-1M users took 0.05 s on its own and 0.11 s right after implicit's call, 2 threads).
PAUSE_S = 0.5


def alternate(contenders: dict[str, Callable[[], Any]], repeats: int, log: str) -> dict[str, dict[str, Any]]:
    """Run every contender ``repeats`` times, alternating (and swapping who goes first), with
    ``PAUSE_S`` of idle time before each call."""
    names = list(contenders)
    out: dict[str, dict[str, Any]] = {n: {"wall": [], "cpu": [], "last": None} for n in names}
    for rep in range(repeats):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            time.sleep(PAUSE_S)
            wall, cpu, result = timed(contenders[name])
            out[name]["wall"].append(wall)
            out[name]["cpu"].append(cpu)
            out[name]["last"] = result
            print(f"  {log} rep {rep} {name}: {wall:.3f} s wall, {cpu:.3f} s CPU", flush=True)
    return out


# ALS ---------------------------------------------------------------------------------------------
def implicit_matrix(data: Dataset, alpha: float) -> sp.csr_matrix:
    """The confidence matrix ``1 + alpha * r`` on the non-zeros (implicit's alpha is then 1)."""
    C = data.counts.astype(np.float32).copy()
    C.data = 1.0 + alpha * C.data
    return C


def fit_liverec_als(data: Dataset, threads: int, seed: int) -> Any:
    from liverec.models import ALS

    p = ALS_PARAMS
    return ALS(n_factors=p["factors"], n_epochs=p["iterations"], regularization=p["regularization"],
               alpha=p["alpha"], random_state=seed, threads=threads).fit(data.interactions)


def fit_implicit_als(C: sp.csr_matrix, threads: int, seed: int) -> Any:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    p = ALS_PARAMS
    model = AlternatingLeastSquares(factors=p["factors"], regularization=p["regularization"], alpha=1.0,
                                    iterations=p["iterations"], num_threads=threads, random_state=seed,
                                    calculate_training_loss=False)
    with threadpool_limits(1, "blas"):
        model.fit(C, show_progress=False)
    return model


def bench_als(data: Dataset, threads_list: list[int], repeats: int, seed: int) -> list[dict[str, Any]]:
    C = implicit_matrix(data, ALS_PARAMS["alpha"])
    rows = []
    for threads in threads_list:
        runs = alternate({
            "liverec": lambda t=threads: fit_liverec_als(data, t, seed),
            "implicit": lambda t=threads: fit_implicit_als(C, t, seed),
        }, repeats, f"ALS {data.name} threads={threads}")
        lv, im = runs["liverec"]["last"], runs["implicit"]["last"]
        q_lv = hr_ndcg(lv.user_factors_, lv.item_factors_, data)
        q_im = hr_ndcg(np.asarray(im.user_factors), np.asarray(im.item_factors), data)
        rows.append(comparison_row(data.name, threads, repeats, runs, q_lv, q_im))
        print(f"  -> ratio wall {rows[-1]['ratio_wall']:.3f}, cpu {rows[-1]['ratio_cpu']:.3f}; "
              f"NDCG@10 liverec {q_lv[1]:.4f} implicit {q_im[1]:.4f}", flush=True)
    return rows


def comparison_row(dataset: str, threads: int, repeats: int, runs: dict[str, Any],
                   q_lv: tuple[float, float], q_im: tuple[float, float]) -> dict[str, Any]:
    """One result row of a side-by-side fit: median times, their ratios, HR@10 / NDCG@10."""
    wall = {name: med(runs[name]["wall"]) for name in ("liverec", "implicit")}
    cpu = {name: med(runs[name]["cpu"]) for name in ("liverec", "implicit")}
    return {
        "dataset": dataset, "threads": threads, "repeats": repeats,
        "liverec_wall_s": wall["liverec"], "implicit_wall_s": wall["implicit"],
        "liverec_cpu_s": cpu["liverec"], "implicit_cpu_s": cpu["implicit"],
        "ratio_wall": wall["liverec"] / wall["implicit"], "ratio_cpu": cpu["liverec"] / cpu["implicit"],
        "liverec_hr10": q_lv[0], "liverec_ndcg10": q_lv[1],
        "implicit_hr10": q_im[0], "implicit_ndcg10": q_im[1],
        "raw": {n: {"wall": r["wall"], "cpu": r["cpu"]} for n, r in runs.items()},
    }


# BPR ---------------------------------------------------------------------------------------------
def liverec_bpr_available() -> bool:
    try:
        from liverec.models import BPR  # noqa: F401
    except (ImportError, AttributeError):
        return False
    return True


def bench_bpr(data: Dataset, threads_list: list[int], repeats: int, seed: int) -> list[dict[str, Any]]:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    from liverec.models import BPR

    binary = data.counts.copy()
    binary.data[:] = 1.0
    rows = []
    for threads in threads_list:
        def ours(t: int = threads) -> Any:
            return BPR(n_factors=BPR_PARAMS["factors"], n_epochs=BPR_PARAMS["epochs"], random_state=seed,
                       threads=t).fit(data.interactions)

        def theirs(t: int = threads) -> Any:
            model = BayesianPersonalizedRanking(factors=BPR_PARAMS["factors"], iterations=BPR_PARAMS["epochs"],
                                                num_threads=t, random_state=seed)
            model.fit(binary, show_progress=False)
            return model

        runs = alternate({"liverec": ours, "implicit": theirs}, repeats, f"BPR {data.name} threads={threads}")
        lv, im = runs["liverec"]["last"], runs["implicit"]["last"]
        q_lv = liverec_quality(lv, data)
        q_im = hr_ndcg(np.asarray(im.user_factors), np.asarray(im.item_factors), data)
        rows.append(comparison_row(data.name, threads, repeats, runs, q_lv, q_im))
        print(f"  -> ratio wall {rows[-1]['ratio_wall']:.3f}; NDCG@10 liverec {q_lv[1]:.4f} "
              f"implicit {q_im[1]:.4f}", flush=True)
    return rows


def liverec_quality(model: Any, data: Dataset, k: int = 10) -> tuple[float, float]:
    """HR@k / NDCG@k of any liverec model through its public ``recommend`` (seen excluded)."""
    users = np.flatnonzero(data.targets >= 0)
    recs = model.recommend(data.interactions.users.ids[users], k=k, exclude_seen=True)
    target_ids = data.interactions.items.ids[data.targets[users]]
    match = recs.items == target_ids[:, None]
    hit = match.any(1)
    rank = np.where(hit, match.argmax(1), k)
    return float(hit.mean()), float((hit / np.log2(rank + 2.0)).mean())


# Recommend ---------------------------------------------------------------------------------------
def numpy_top_k(user_factors: np.ndarray, item_factors: np.ndarray, seen: sp.csr_matrix, k: int,
                threads: int, block: int = 1024) -> np.ndarray:
    """The plain baseline: BLAS matmul, seen items set to -inf, argpartition then sort the k.

    Blocks of users keep the score matrix in cache, as any careful hand-written version would.
    """
    from threadpoolctl import threadpool_limits

    n = user_factors.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    with threadpool_limits(threads, "blas"):
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            scores = user_factors[lo:hi] @ item_factors.T
            part = seen[lo:hi]
            scores[np.repeat(np.arange(hi - lo), np.diff(part.indptr)), part.indices] = -np.inf
            top = np.argpartition(-scores, k, axis=1)[:, :k]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
            out[lo:hi] = np.take_along_axis(top, order, axis=1)
    return out


def bench_recommend(data: Dataset, threads_list: list[int], repeats: int, seed: int) -> list[dict[str, Any]]:
    import torch

    lv = fit_liverec_als(data, max(threads_list), seed)
    im = fit_implicit_als(implicit_matrix(data, ALS_PARAMS["alpha"]), max(threads_list), seed)
    users = data.interactions.users.ids
    codes = np.arange(data.counts.shape[0])
    rows = []
    before = torch.get_num_threads()
    for threads in threads_list:
        im.num_threads = threads

        def ours(t: int = threads) -> Any:
            torch.set_num_threads(t)
            try:
                return lv.recommend(users, k=10, exclude_seen=True)
            finally:
                torch.set_num_threads(before)

        def theirs() -> Any:
            return im.recommend(codes, data.counts, N=10, filter_already_liked_items=True)

        def plain(t: int = threads) -> Any:
            return numpy_top_k(lv.user_factors_, lv.item_factors_, data.counts, 10, t)

        ours(), theirs(), plain()  # warm-up (first-call allocations, thread pools)
        runs = alternate({"liverec": ours, "implicit": theirs, "numpy": plain}, repeats,
                         f"recommend {data.name} threads={threads}")
        ids, _ = runs["implicit"]["last"]
        seen_ok = all(not set(ids[u]) & set(data.counts[u].indices) for u in range(0, len(codes), 97))
        same_as_numpy = float((np.sort(runs["numpy"]["last"], axis=1)
                               == np.sort(lv.items_.codes(runs["liverec"]["last"].items.ravel())
                                          .reshape(-1, 10), axis=1)).all(axis=1).mean())
        rows.append({
            "dataset": data.name, "threads": threads, "users": len(users), "k": 10, "repeats": repeats,
            "liverec_wall_s": med(runs["liverec"]["wall"]), "implicit_wall_s": med(runs["implicit"]["wall"]),
            "numpy_wall_s": med(runs["numpy"]["wall"]),
            "liverec_cpu_s": med(runs["liverec"]["cpu"]), "implicit_cpu_s": med(runs["implicit"]["cpu"]),
            "ratio_wall": med(runs["liverec"]["wall"]) / med(runs["implicit"]["wall"]),
            "ratio_wall_vs_numpy": med(runs["liverec"]["wall"]) / med(runs["numpy"]["wall"]),
            "rows_equal_to_numpy": same_as_numpy,
            "implicit_excludes_seen": seen_ok,
            "raw": {n: {"wall": r["wall"], "cpu": r["cpu"]} for n, r in runs.items()},
        })
    return rows


# Memory --------------------------------------------------------------------------------------------
def synthetic_10m(seed: int = 0, n_users: int = 100_000, n_items: int = 50_000,
                  n_events: int = 10_000_000) -> tuple[np.ndarray, np.ndarray]:
    """10M (user, item) events: users uniform, items Zipf-like popular (duplicates are repeats)."""
    return synthetic_events(n_events, seed, n_users, n_items)


def synthetic_events(n_events: int, seed: int = 0, n_users: int | None = None,
                     n_items: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n_events`` (user, item) events with the 10M shape rules: 100 events per user and 200
    per item on average (100k x 50k at 10M), users uniform, items Zipf-like popular."""
    n_users = n_users or n_events // 100
    n_items = n_items or n_events // 200
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, size=n_events)
    p = 1.0 / (np.arange(n_items) + 10.0) ** 0.8
    items = rng.choice(n_items, size=n_events, p=p / p.sum())
    return users, items


def _rss_status() -> dict[str, float]:
    out = {}
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024**2  # GiB
    return out


def memory_child(library: str, threads: int, epochs: int, n_events: int = 10_000_000) -> dict[str, Any]:
    """Runs in a fresh process: build the data, reset the peak, fit, report time and the peak."""
    import gc
    import resource

    users, items = synthetic_events(n_events)
    n_users, n_items = n_events // 100, n_events // 200
    if library == "liverec":
        import torch  # noqa: F401  # imported before the measurement, as implicit's modules are

        import liverec.models._linalg  # noqa: F401
        from liverec.data import Interactions
        from liverec.models import ALS

        X = Interactions.from_arrays(users, items)
        del users, items
        model = ALS(n_factors=64, n_epochs=epochs, regularization=ALS_PARAMS["regularization"],
                    alpha=ALS_PARAMS["alpha"], random_state=0, threads=threads)
        fit: Callable[[], Any] = lambda: model.fit(X)  # noqa: E731
    else:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        C = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=(n_users, n_items))
        C.sum_duplicates()
        C.data = 1.0 + ALS_PARAMS["alpha"] * C.data
        del users, items
        model = AlternatingLeastSquares(factors=64, iterations=epochs, regularization=ALS_PARAMS["regularization"],
                                        alpha=1.0, num_threads=threads, random_state=0)

        def fit() -> Any:
            with threadpool_limits(1, "blas"):
                return model.fit(C, show_progress=False)
    gc.collect()
    before = _rss_status()
    reset = False
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM, the peak resident set
        reset = True
    except OSError:
        pass
    wall, cpu, _ = timed(fit)
    after = _rss_status()
    peak = after.get("VmHWM") if reset else None
    return {
        "library": library, "events": n_events, "threads": threads, "epochs": epochs, "fit_wall_s": wall,
        "fit_cpu_s": cpu, "rss_before_fit_gb": before.get("VmRSS"),
        # what the fit itself adds: the inputs differ (liverec: Interactions with its id maps and
        # torch imported; implicit: a ready CSR matrix), the fit's working memory does not
        "fit_memory_gb": None if peak is None else peak - before.get("VmRSS", 0.0),
        "peak_rss_during_fit_gb": after.get("VmHWM") if reset else None,
        "peak_rss_process_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "peak_reset_before_fit": reset,
    }


def bench_memory(threads_list: list[int], epochs: int, sizes: list[int]) -> list[dict[str, Any]]:
    """ALS fit at scale, each library in a fresh child process per (size, threads), alternating
    who goes first: fit time and peak memory."""
    rows = []
    for n_events in sizes:
        for t_i, threads in enumerate(threads_list):
            pair = []
            for library in ("liverec", "implicit") if t_i % 2 == 0 else ("implicit", "liverec"):
                cmd = [sys.executable, __file__, "--memory-child", library, "--threads", str(threads),
                       "--memory-epochs", str(epochs), "--memory-events", str(n_events)]
                print(f"  scale: {library} {n_events:,} events, {threads} threads (child process)", flush=True)
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"memory child for {library} failed:\n{done.stderr[-3000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"  -> {row}", flush=True)
                pair.append(row)
            by = {r["library"]: r for r in pair}
            for r in pair:
                r["fit_ratio_vs_implicit"] = r["fit_wall_s"] / by["implicit"]["fit_wall_s"]
            rows += pair
    return rows


# Report ----------------------------------------------------------------------------------------------
def tables(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, title in (("als", "ALS fit (64 factors, 15 iterations)"), ("bpr", "BPR fit")):
        if result.get(key):
            out.append({
                "title": title,
                "columns": ["data", "threads", "liverec s", "implicit s", "ratio (wall)", "ratio (CPU)",
                            "liverec HR@10", "implicit HR@10", "liverec NDCG@10", "implicit NDCG@10"],
                "rows": [[r["dataset"], r["threads"], r["liverec_wall_s"], r["implicit_wall_s"], r["ratio_wall"],
                          r["ratio_cpu"], r["liverec_hr10"], r["implicit_hr10"], r["liverec_ndcg10"],
                          r["implicit_ndcg10"]] for r in result[key]],
            })
    if result.get("recommend"):
        out.append({
            "title": "Recommend top-10 for all users, seen items excluded",
            "columns": ["data", "users", "threads", "liverec s", "implicit s", "numpy s", "ratio vs implicit",
                        "ratio vs numpy", "liverec CPU s", "implicit CPU s"],
            "rows": [[r["dataset"], r["users"], r["threads"], r["liverec_wall_s"], r["implicit_wall_s"],
                      r.get("numpy_wall_s", float("nan")), r["ratio_wall"], r.get("ratio_wall_vs_numpy", float("nan")),
                      r["liverec_cpu_s"], r["implicit_cpu_s"]] for r in result["recommend"]],
        })
    if result.get("memory"):
        out.append({
            "title": "ALS fit at scale (users = events / 100, items = events / 200), fresh process each",
            "columns": ["library", "events", "threads", "epochs", "fit s", "ratio vs implicit",
                        "RSS before fit (GB)", "peak RSS during fit (GB)", "fit's own memory (GB)"],
            "rows": [[r["library"], r.get("events", 10_000_000), r["threads"], r["epochs"], r["fit_wall_s"],
                      r.get("fit_ratio_vs_implicit", float("nan")), r["rss_before_fit_gb"],
                      r["peak_rss_during_fit_gb"] if r["peak_rss_during_fit_gb"] is not None
                      else r["peak_rss_process_gb"], r.get("fit_memory_gb", float("nan"))]
                     for r in result["memory"]],
        })
    return out


def markdown(tbls: list[dict[str, Any]]) -> str:
    def cell(x: Any) -> str:
        if isinstance(x, float):
            return f"{x:.4f}" if abs(x) < 1 else f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"
        return str(x)

    parts = []
    for t in tbls:
        parts.append(f"### {t['title']}\n")
        parts.append("| " + " | ".join(t["columns"]) + " |")
        parts.append("|" + "---|" * len(t["columns"]))
        parts += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t["rows"]]
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--parts", nargs="+", default=["als", "bpr", "recommend", "memory"],
                        choices=["als", "bpr", "recommend", "memory"])
    parser.add_argument("--datasets", nargs="+", default=["ml-1m-seq", "synthetic"], choices=["ml-1m-seq", "synthetic"])
    parser.add_argument("--bpr-threads", type=int, nargs="+", default=None,
                        help="thread counts for BPR (default: --threads)")
    parser.add_argument("--bpr-repeats", type=int, default=None, help="repeats for BPR (default: --repeats)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-epochs", type=int, default=3)
    parser.add_argument("--memory-events", type=int, nargs="+", default=[10_000_000, 50_000_000],
                        help="interaction counts of the ALS scale / memory part")
    parser.add_argument("--memory-child", choices=["liverec", "implicit"], help=argparse.SUPPRESS)
    parser.add_argument("--out", default="mf_vs_implicit", help="results file stem")
    args = parser.parse_args(argv)

    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.threads[0], args.memory_epochs,
                                      args.memory_events[0])))
        return 0
    try:
        import implicit  # noqa: F401
    except ImportError:
        print("implicit is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    folder = args.data / "ml-1m-seq"
    if not folder.is_dir():
        print(f"skipped: {folder} is absent (set LIVEREC_DATA or --data)")
        return 0

    real = load_ml1m(folder)
    sets = {"ml-1m-seq": real}
    if "synthetic" in args.datasets:
        sets["synthetic"] = synthetic_like(real, args.seed)
    sets = {k: v for k, v in sets.items() if k in args.datasets}
    result: dict[str, Any] = {
        "title": "Matrix factorisation: liverec vs implicit",
        "description": (
            "ALS (and BPR) fit by liverec and by implicit on ml-1m-seq (train = every user's history, "
            "test = the last item, full ranking, seen items excluded) and on a synthetic matrix of the same "
            "shape, alternating the libraries in one process run; top-10 recommendation for all users; "
            "peak memory of ALS fit on 10M interactions in child processes."),
        "params": {"als": ALS_PARAMS, "bpr": BPR_PARAMS, "repeats": args.repeats, "threads": args.threads,
                   "seed": args.seed, "memory_epochs": args.memory_epochs},
        "datasets": {k: v.describe() for k, v in sets.items()},
        "notes": [
            "Medians of alternating repeats (who goes first swaps each repeat; the count is each row's "
            "'repeats'). The machine may be shared with other jobs: the ratios, and CPU seconds, are steadier "
            "than wall seconds. CPU seconds count all threads of the process.",
            "implicit gets the confidence matrix 1 + alpha * r with alpha=1 (the same objective as liverec's "
            "1 + alpha * r) and BLAS limited to one thread, as it recommends.",
            "HR@10 / NDCG@10 computed from each library's factors by the same code: the target is ranked "
            "against all items, history excluded, ties counted against the target.",
        ],
    }
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    result["measured"] = {part: now for part in args.parts}
    # parts not run this time keep their figures from an earlier run of the same file
    from _common import RESULTS_DIR

    previous_path = RESULTS_DIR / f"{args.out}.json"
    if previous_path.exists():
        previous = json.loads(previous_path.read_text(encoding="utf-8"))
        for part in ("als", "bpr", "recommend", "memory"):
            if part not in args.parts and previous.get(part):
                result[part] = previous[part]
                when = previous.get("measured", {}).get(part, previous["machine"]["date"])
                result["measured"][part] = when
                result["notes"].append(f"{part}: figures kept from the run of {when}.")
    if "als" in args.parts:
        result["als"] = [row for d in sets.values() for row in bench_als(d, args.threads, args.repeats, args.seed)]
    if "bpr" in args.parts:
        if liverec_bpr_available():
            result["bpr"] = [row for d in sets.values()
                             for row in bench_bpr(d, args.bpr_threads or args.threads,
                                                  args.bpr_repeats or args.repeats, args.seed)]
        else:
            result["notes"].append("BPR: liverec.models.BPR is not available in this checkout; not measured.")
    if "recommend" in args.parts:
        result["recommend"] = bench_recommend(real, args.threads, max(args.repeats, 7), args.seed)
    if "memory" in args.parts:
        result["memory"] = bench_memory(args.threads, args.memory_epochs, args.memory_events)
    result["tables"] = tables(result)
    path = write_result(args.out, result)
    print(markdown(result["tables"]))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
