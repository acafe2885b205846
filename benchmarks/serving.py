"""Real-time serving (issue 15): LiveService latency under load, observe throughput, HTTP.

Targets, on the project's 2-core machine:

* in-process ``LiveService.recommend`` latency (one viewer, k=10) with 10k rooms on air and
  100k known viewers, while another thread observes 10k events/s: p99 < 10 ms for ALS and
  < 20 ms for a repeat-aware SequentialTransformer;
* ``observe`` throughput: at least 50k events/s (batches of 1,000; one-event calls reported too);
* HTTP (``liverec serve`` in a subprocess, uvicorn) with a real client (``http.client``
  keep-alive connections, several threads) on the loopback interface: at least 500 requests/s
  with p99 < 50 ms.

Data: synthetic, ``n_viewers`` viewers with ``events_per_viewer`` events each over a week on
``n_rooms`` rooms (Zipf-like room popularity, each viewer with a few favourite rooms). The
models are trained briefly: latency does not depend on how well they rank. Requests go to
viewers drawn at random among the known ones, at the time of the latest observed event. torch
runs one intra-op thread (set once at start-up, as a service would), so one core answers
requests while the other observes.

Usage::

    python benchmarks/serving.py            # full sizes (10k rooms, 100k viewers); ~10 min
    python benchmarks/serving.py --quick    # small sizes, a smoke run (about a minute)

Results: ``benchmarks/results/serving.json`` (``$LIVEREC_RESULTS`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from liverec.base import BaseRecommender  # noqa: E402
from liverec.data import Interactions  # noqa: E402
from liverec.models import ALS, SequentialTransformer  # noqa: E402
from liverec.serving import LiveService  # noqa: E402

WEEK = 7 * 86400.0


def synthetic_log(n_viewers: int, n_rooms: int, events_per_viewer: int, seed: int) -> Interactions:
    """Events of viewers on rooms over a week: favourite rooms plus Zipf-like popular ones."""
    rng = np.random.default_rng(seed)
    n = n_viewers * events_per_viewer
    users = np.repeat(np.arange(n_viewers), events_per_viewer)
    popular = np.minimum(rng.zipf(1.3, n) - 1, n_rooms - 1)
    favourites = rng.integers(0, n_rooms, size=(n_viewers, 3))
    fav = favourites[users, rng.integers(0, 3, n)]
    items = np.where(rng.random(n) < 0.6, fav, popular)
    times = rng.uniform(0, WEEK, n)
    events = rng.choice(np.array(["view", "view", "view", "like", "comment", "cart"]), n)
    return Interactions.from_arrays(users, items, time=times, event=events)


def percentiles(seconds: list[float] | np.ndarray) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max()), "n": int(len(ms))}


class Observer(threading.Thread):
    """Observes ``rate`` events/s in batches of ``batch`` (paced against the clock) until stopped."""

    def __init__(self, service: LiveService, n_viewers: int, n_rooms: int, rate: float, batch: int,
                 start_time: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.service, self.n_viewers, self.n_rooms = service, n_viewers, n_rooms
        self.rate, self.batch, self.t = rate, batch, start_time
        self.rng = np.random.default_rng(seed)
        self.stop = threading.Event()
        self.observed = 0
        self.seconds = 0.0

    def run(self) -> None:
        begin = time.perf_counter()
        while not self.stop.is_set():
            users = self.rng.integers(0, self.n_viewers, self.batch)
            items = self.rng.integers(0, self.n_rooms, self.batch)
            times = self.t + np.sort(self.rng.uniform(0, self.batch / self.rate, self.batch))
            self.t = float(times[-1])
            self.observed += self.service.observe({"user": users, "item": items, "time": times})
            ahead = begin + self.observed / self.rate - time.perf_counter()
            if ahead > 0:
                self.stop.wait(ahead)
        self.seconds = time.perf_counter() - begin


def latency_under_load(model: BaseRecommender, n_viewers: int, n_rooms: int, n_requests: int, rate: float,
                       seed: int) -> dict[str, Any]:
    """``recommend`` latency of one viewer at a time while an Observer thread runs."""
    service = LiveService(model, history_len=50)
    service.on_air(np.arange(n_rooms), WEEK)
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_viewers, n_requests)
    for u in users[:20]:  # warm-up (first calls build caches)
        service.recommend(int(u), k=10)
    observer = Observer(service, n_viewers, n_rooms, rate, 100, WEEK + 1.0, seed + 1)
    observer.start()
    lat = []
    begin = time.perf_counter()
    for u in users:
        t = time.perf_counter()
        service.recommend(int(u), k=10)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - begin
    observer.stop.set()
    observer.join()
    return {"latency_ms": percentiles(lat), "requests_per_s": n_requests / wall,
            "observed_events_per_s": observer.observed / max(observer.seconds, 1e-9),
            "rooms_on_air": int(service.schedule.n_open)}


def observe_throughput(model: BaseRecommender, n_viewers: int, n_rooms: int, n_events: int,
                       seed: int) -> dict[str, float]:
    """Events/s of ``observe`` in batches of 1,000 (columns), and one event per call."""
    rng = np.random.default_rng(seed)
    service = LiveService(model, history_len=50)
    users = rng.integers(0, n_viewers, n_events)
    items = rng.integers(0, n_rooms, n_events)
    times = WEEK + np.sort(rng.uniform(0, 3600, n_events))
    begin = time.perf_counter()
    for lo in range(0, n_events, 1000):
        service.observe({"user": users[lo:lo + 1000], "item": items[lo:lo + 1000], "time": times[lo:lo + 1000]})
    batched = n_events / (time.perf_counter() - begin)
    n_single = min(n_events, 5000)
    begin = time.perf_counter()
    for j in range(n_single):
        service.observe({"user": int(users[j]), "item": int(items[j]), "time": float(times[j]) + 3600})
    single = n_single / (time.perf_counter() - begin)
    return {"batched_events_per_s": batched, "single_events_per_s": single}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def http_load(model: BaseRecommender, n_viewers: int, n_rooms: int, seconds: float, clients: int,
              seed: int) -> dict[str, Any]:
    """``liverec serve`` in a subprocess; ``clients`` threads with keep-alive connections call
    ``GET /recommend`` for ``seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "model"))
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "liverec.cli", "serve", os.path.join(tmp, "model"),
                                 "--port", str(port), "--threads", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            conn = _wait_for_server(port, proc)
            for lo in range(0, n_rooms, 10_000):  # the rooms go on air
                changes = [{"item": int(i), "on_air": True, "time": WEEK} for i in range(lo, min(n_rooms, lo + 10_000))]
                status, _ = _request(conn, "POST", "/schedule", {"changes": changes})
                assert status == 200, status
            _request(conn, "POST", "/events", {"events": [{"user": 0, "item": 0, "time": WEEK + 1}]})
            return _hammer(port, n_viewers, seconds, clients, seed) | {"clients": clients}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait_for_server(port: int, proc: subprocess.Popen[bytes]) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 120
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if _request(conn, "GET", "/healthz")[0] == 200:
                return conn
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("liverec serve did not start") from None
            time.sleep(0.2)


def _hammer(port: int, n_viewers: int, seconds: float, clients: int, seed: int) -> dict[str, Any]:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(j: int) -> None:
        rng = np.random.default_rng(seed + j)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            status, _ = _request(conn, "GET", f"/recommend?user={int(rng.integers(n_viewers))}&k=10")
            mine.append(time.perf_counter() - t)
            if status != 200:
                errors[0] += 1
        with lock:
            lat.extend(mine)

    begin = time.perf_counter()
    threads = [threading.Thread(target=client, args=(j,)) for j in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - begin
    return {"requests_per_s": len(lat) / wall, "latency_ms": percentiles(lat), "errors": errors[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)  # once, at start-up: one core answers, the other observes
    if args.quick:
        n_viewers, n_rooms, per_viewer, n_requests, http_seconds, seq_limit = 5_000, 2_000, 8, 300, 3.0, 10.0
    else:
        n_viewers, n_rooms, per_viewer, n_requests, http_seconds, seq_limit = 100_000, 10_000, 10, 3_000, 20.0, 120.0
    rate = 10_000.0
    X = synthetic_log(n_viewers, n_rooms, per_viewer, args.seed)
    t = time.perf_counter()
    als = ALS(n_factors=64, n_epochs=5, random_state=args.seed, threads=2).fit(X)
    als_fit = time.perf_counter() - t
    t = time.perf_counter()
    seq = SequentialTransformer(max_len=50, embedding_dim=64, n_epochs=1, repeat_aware=True, loss="sampled_ce",
                                validation_size=0, time_limit=seq_limit, random_state=args.seed, threads=2,
                                verbose=False).fit(X)
    seq_fit = time.perf_counter() - t
    lat_als = latency_under_load(als, n_viewers, n_rooms, n_requests, rate, args.seed)
    lat_seq = latency_under_load(seq, n_viewers, n_rooms, n_requests // 2, rate, args.seed)
    obs = observe_throughput(als, n_viewers, n_rooms, 200_000 if args.quick else 1_000_000, args.seed)
    web = http_load(als, n_viewers, n_rooms, http_seconds, 8, args.seed)
    report(args, n_viewers, n_rooms, len(X), rate, als_fit, seq_fit, lat_als, lat_seq, obs, web)


def report(args: Any, n_viewers: int, n_rooms: int, n_events: int, rate: float, als_fit: float, seq_fit: float,
           lat_als: dict[str, Any], lat_seq: dict[str, Any], obs: dict[str, float], web: dict[str, Any]) -> None:
    def ok(value: float, target: float, below: bool = True) -> str:
        return "yes" if (value < target if below else value >= target) else "NO"

    rows_lat = [
        ["ALS (64 factors)", lat_als["latency_ms"]["p50"], lat_als["latency_ms"]["p99"], 10.0,
         ok(lat_als["latency_ms"]["p99"], 10.0), lat_als["observed_events_per_s"]],
        ["SequentialTransformer (repeat-aware, 64 dims, max_len 50)", lat_seq["latency_ms"]["p50"],
         lat_seq["latency_ms"]["p99"], 20.0, ok(lat_seq["latency_ms"]["p99"], 20.0), lat_seq["observed_events_per_s"]],
    ]
    payload = {
        "title": "Real-time serving (LiveService, liverec serve)",
        "description": (f"{n_rooms:,} rooms on air, {n_viewers:,} known viewers ({n_events:,} training events); "
                        f"recommend (one viewer, k=10) while another thread observes {rate:,.0f} events/s; "
                        "observe throughput; HTTP GET /recommend from 8 keep-alive client threads on loopback."),
        "notes": [("quick run (smaller sizes): a smoke test, not the figures of the targets" if args.quick
                   else "full run"),
                  "torch intra-op threads: 1 (set once at start-up); the machine's cores are shared by the "
                  "requests, the observer thread and, for HTTP, the client threads",
                  f"models trained briefly (ALS {als_fit:.0f} s, SequentialTransformer {seq_fit:.0f} s): "
                  "latency does not depend on ranking quality"],
        "tables": [
            {"title": "recommend latency under a 10k events/s observe load (ms)",
             "columns": ["model", "p50", "p99", "target p99", "met", "observed events/s"], "rows": rows_lat},
            {"title": "observe throughput (events/s; target >= 50,000)",
             "columns": ["calls", "events/s", "met"],
             "rows": [["batches of 1,000 events", obs["batched_events_per_s"],
                       ok(obs["batched_events_per_s"], 50_000, below=False)],
                      ["one event per call", obs["single_events_per_s"], "-"]]},
            {"title": "HTTP GET /recommend on loopback (targets: >= 500 req/s, p99 < 50 ms)",
             "columns": ["requests/s", "p50 ms", "p99 ms", "errors", "met"],
             "rows": [[web["requests_per_s"], web["latency_ms"]["p50"], web["latency_ms"]["p99"], web["errors"],
                       ok(web["requests_per_s"], 500, below=False) if web["latency_ms"]["p99"] < 50 else "NO"]]},
        ],
        "quick": args.quick, "als": lat_als, "sequential": lat_seq, "observe": obs, "http": web,
        "fit_seconds": {"als": als_fit, "sequential": seq_fit},
    }
    path = write_result("serving", payload)
    print(json.dumps({k: payload[k] for k in ("als", "sequential", "observe", "http")}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
