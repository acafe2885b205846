"""Distributed training and Parquet reading benchmark.

Sections (pick with ``--sections``; sections not run keep their results from the existing
results file):

* ``ml1m``: ``SequentialTransformer`` on MovieLens-1M (``ml-1m-seq``, see DATA.md; skipped
  when absent), the same model and global batch trained as 1 process x 2 threads, 2
  processes x 1 thread (``torchrun``, gloo, 127.0.0.1) and 1 process x 1 thread, for the same
  number of epochs (no early stopping): epochs per second, and the test NDCG@10 / HR@10 with
  95% confidence intervals (leave-one-out, full ranking, seen items excluded, as in
  ``benchmarks/sequential.py``). The 2-process run must land inside the confidence interval
  of the 1 x 2 run. Every configuration runs in its own process.
* ``parquet``: ``Interactions.read_parquet`` on synthetic Parquet directories of up to 100M
  rows (string user ids, integer item ids, float times; files of 5M rows in row groups of
  1M), written into a temporary directory: rows per second and the reading process's peak
  resident memory, next to the size of the resulting arrays.

Usage::

    python benchmarks/distributed.py                       # everything (hours on 2 cores)
    python benchmarks/distributed.py --sections ml1m --epochs 20
    python benchmarks/distributed.py --sections parquet --parquet-rows 1000000 10000000 100000000
    python benchmarks/distributed.py --quick               # minutes: smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS_DIR, machine_info, write_result  # noqa: E402

NAME = "distributed"
DEFAULT_DATA = Path(os.environ.get("LIVEREC_DATA", HERE.parent.parent / "shared" / "data"))
#: (label, processes, threads per process)
CONFIGS = [("1 x 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1), ("1 x 1 thread", 1, 1)]


# ML-1M: one configuration per process ------------------------------------------------------------
def _model(args: argparse.Namespace, processes: int, threads: int) -> Any:
    from liverec.models import SequentialTransformer

    return SequentialTransformer(max_len=args.max_len, embedding_dim=args.dim, n_layers=2, dropout=0.2,
                                 n_epochs=args.epochs, batch_size=args.batch_size // processes,
                                 learning_rate=1e-3, patience=None, validation_size=0, threads=threads,
                                 random_state=0, distributed="auto")


def worker(args: argparse.Namespace) -> None:
    """Fit and evaluate one configuration (under torchrun for several processes); rank 0 writes
    ``args.out``."""
    import torch
    from sequential import evaluate, load_ml1m

    torch.set_num_threads(args.threads)
    task = load_ml1m(args.data_dir)
    model = _model(args, args.processes, args.threads)
    t0 = time.perf_counter()
    model.fit(task.train)
    seconds = time.perf_counter() - t0
    if model.rank_ != 0:
        return
    res = evaluate(model, task)
    res.update(processes=args.processes, threads=args.threads, epochs=model.n_epochs_,
               fit_seconds=round(seconds, 2), epochs_per_second=model.n_epochs_ / seconds,
               loss=[round(h["loss"], 5) for h in model.history_])
    Path(args.out).write_text(json.dumps(res), encoding="utf-8")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_config(args: argparse.Namespace, label: str, processes: int, threads: int) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp()) / "result.json"
    common = [str(Path(__file__).resolve()), "--worker", "--processes", str(processes), "--threads", str(threads),
              "--out", str(out), "--data-dir", str(args.data_dir), "--epochs", str(args.epochs),
              "--max-len", str(args.max_len), "--dim", str(args.dim), "--batch-size", str(args.batch_size)]
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={processes}",
               "--master_addr=127.0.0.1", f"--master_port={_free_port()}", *common]
    else:
        cmd = [sys.executable, *common]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, check=True, env=env)
    res: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    res["config"] = label
    print(f"  {label:24s} {res['epochs_per_second']:.4f} epochs/s  NDCG@10 {res['ndcg@10']:.4f} "
          f"[{res['ndcg@10_ci'][0]:.4f}, {res['ndcg@10_ci'][1]:.4f}]", flush=True)
    return res


def section_ml1m(args: argparse.Namespace) -> dict[str, Any]:
    rows = [_run_config(args, *c) for c in CONFIGS]
    ref = rows[0]["ndcg@10_ci"]
    for r in rows:
        r["within_ci_of_1x2"] = bool(ref[0] <= r["ndcg@10"] <= ref[1])
    return {"rows": rows, "epochs": args.epochs, "max_len": args.max_len, "dim": args.dim,
            "global_batch_size": args.batch_size}


# Parquet ------------------------------------------------------------------------------------------
def write_synthetic(folder: Path, n_rows: int, rows_per_file: int = 5_000_000, seed: int = 0) -> int:
    """``n_rows`` events in files of ``rows_per_file`` (row groups of 1M rows): string user ids
    (``n_rows / 100`` users), integer item ids (100k items), float times. Returns the bytes written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_users, n_items = max(1, n_rows // 100), 100_000
    start = 0
    for k in range((n_rows + rows_per_file - 1) // rows_per_file):
        n = min(rows_per_file, n_rows - start)
        table = pa.table({"user": pa.array(rng.integers(0, n_users, n)).cast(pa.string()),
                          "item": rng.integers(0, n_items, n),
                          "time": start + np.arange(n, dtype=np.float64),
                          "comment": pa.array(np.full(n, "a comment that is never read"))})
        pq.write_table(table, folder / f"part-{k:04d}.parquet", row_group_size=1_000_000)
        start += n
    return sum(f.stat().st_size for f in folder.glob("*.parquet"))


def _status_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process in MB (Linux), else ``None``."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def read_worker(folder: str) -> None:
    """In a fresh process: read ``folder``, print rows, seconds and peak RSS as JSON.

    The peak is the resident high-water mark during the reading alone: it is reset after the
    imports (``/proc/self/clear_refs``, Linux); elsewhere it is the process's ``ru_maxrss``.
    """
    from liverec.data import Interactions

    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = _status_mb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    X = Interactions.read_parquet(folder)
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    arrays = X.user_codes.nbytes + X.item_codes.nbytes + X.time.nbytes
    print(json.dumps({"rows": len(X), "users": X.n_users, "items": X.n_items, "seconds": seconds,
                      "rss_before_mb": before, "peak_rss_mb": peak, "arrays_mb": arrays / 2**20}))


def section_parquet(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for n in args.parquet_rows:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            size = write_synthetic(Path(tmp), n)
            written = time.perf_counter() - t0
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--read-worker", tmp],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
        r.update(file_mb=size / 2**20, write_seconds=written, rows_per_second=r["rows"] / r["seconds"],
                 peak_above_arrays_mb=r["peak_rss_mb"] - r["rss_before_mb"] - r["arrays_mb"])
        print(f"  {n:>11,d} rows: {r['rows_per_second'] / 1e6:.2f}M rows/s, peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(arrays {r['arrays_mb']:.0f} MB, files {r['file_mb']:.0f} MB)", flush=True)
        rows.append(r)
    return {"rows": rows}


SECTIONS = {"ml1m": section_ml1m, "parquet": section_parquet}


# Report -------------------------------------------------------------------------------------------
def tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    if "ml1m" in results:
        sec = results["ml1m"]
        out.append({
            "title": f"SequentialTransformer on ML-1M, {sec['epochs']} epochs, global batch {sec['global_batch_size']}",
            "columns": ["configuration", "epochs/s", "NDCG@10", "95% CI", "HR@10", "within 1 x 2 CI"],
            "rows": [[r["config"], round(r["epochs_per_second"], 4), round(r["ndcg@10"], 4),
                      f"[{r['ndcg@10_ci'][0]:.4f}, {r['ndcg@10_ci'][1]:.4f}]", round(r["hr@10"], 4),
                      "yes" if r["within_ci_of_1x2"] else "no"] for r in sec["rows"]]})
    if "parquet" in results:
        out.append({
            "title": "Interactions.read_parquet (synthetic, string user ids)",
            "columns": ["rows", "files MB", "seconds", "M rows/s", "RSS before MB", "peak RSS MB",
                        "output arrays MB"],
            "rows": [[r["rows"], round(r["file_mb"]), round(r["seconds"], 1), round(r["rows_per_second"] / 1e6, 2),
                      round(r["rss_before_mb"]), round(r["peak_rss_mb"]), round(r["arrays_mb"])]
                     for r in results["parquet"]["rows"]]})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-len", type=int, default=200)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64, help="global batch (per process: divided)")
    p.add_argument("--parquet-rows", type=int, nargs="+", default=[1_000_000, 10_000_000, 100_000_000])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, short windows, 1M rows")
    p.add_argument("--note", default="", help="free text stored with the results (e.g. machine load)")
    # internal: one configuration, one reading
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--read-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.read_worker:
        read_worker(args.read_worker)
        return 0
    if args.worker:
        worker(args)
        return 0
    if args.quick:
        args.epochs, args.max_len, args.dim, args.parquet_rows = 1, 50, 32, [1_000_000]
    path = RESULTS_DIR / f"{NAME}.json"
    results: dict[str, Any] = json.loads(path.read_text())["results"] if path.exists() else {}
    for name in args.sections:
        if name == "ml1m" and not (args.data_dir / "ml-1m-seq").is_dir():
            print(f"{name}: data folder {args.data_dir / 'ml-1m-seq'} absent, skipped")
            continue
        print(f"== {name}", flush=True)
        t0, load0 = time.perf_counter(), os.getloadavg()[0]
        sec = SECTIONS[name](args)
        sec.update(wall_seconds=round(time.perf_counter() - t0, 1), load_average_before=load0,
                   load_average_after=os.getloadavg()[0], quick=args.quick, note=args.note, machine=machine_info())
        results[name] = sec
    write_result(NAME, {
        "description": "SequentialTransformer data-parallel training on ML-1M (1 x 2 threads, 2 processes x 1 "
                       "thread, 1 x 1) and Interactions.read_parquet throughput and peak memory.",
        "notes": ["2 processes: torchrun, gloo on 127.0.0.1, per-process batch = global batch / 2; the same "
                  "epochs for every configuration, no early stopping.",
                  "peak RSS: the reading process's resident high-water mark during the reading (reset after "
                  "the imports); RSS before: after the imports (torch, numpy, pyarrow)."],
        "tables": tables(results),
        "results": results,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
