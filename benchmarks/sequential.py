"""SequentialTransformer benchmark: accuracy on public data, live data, and training speed.

Sections (pick with ``--sections``; results of sections not run are kept from the existing
results file, so a long section can be rerun alone on a quiet machine):

* ``ml1m``: MovieLens-1M as split by the gSASRec authors (``ml-1m-seq``, see DATA.md):
  leave-one-out, the test item ranked against all items, items in the history excluded,
  HR@10 / NDCG@10 with 95% confidence intervals. Targets: NDCG@10 >= 0.17, HR@10 >= 0.29
  within 45 minutes of training on 2 CPU cores.
* ``ml1m-complete``: the published protocol on this copy. The copy lacks each test history's
  second-to-last item for 5,528 users, so the ``ml1m`` test asks for the item after the next
  one. Here each user's known events S are split leave-one-out (train on ``S[:-1]``, rank
  ``S[-1]``); the same model is also scored on the ``ml1m`` test, and on the 512 users with
  complete histories the missing event's cost is measured pairwise.
* ``beauty``: Amazon Beauty (S3-Rec files), last item = test, max_len 50, same protocol.
  Targets: NDCG@10 >= 0.062, HR@10 >= 0.101 (above BSARec 0.0611 / 0.1008).
* ``wikipedia``: JODIE Wikipedia edits, repeat consumption: last event per user = test, seen
  items NOT excluded.
* ``synthetic``: ``make_live_commerce`` room views; the last day is the test period (one case
  per user: their last view, everything before it as history, ranked at its time).
  Variants: plain model ranking all rooms; the same ranking only live rooms;
  availability-aware training; plus repeat-aware; against Popularity(strategy="live").
* ``throughput``: training targets per second of the model with the ML-1M configuration
  against the fixed textbook implementation (``textbook_sasrec.py``), alternating rounds
  in one process, medians reported.

Every section also runs ``Popularity`` and, when importable, ``ALS`` and ``BPR``.

Usage::

    python benchmarks/sequential.py                              # everything, default budgets
    python benchmarks/sequential.py --sections ml1m --time-budget 2700 --threads 2
    python benchmarks/sequential.py --sections throughput --rounds 5
    python benchmarks/sequential.py --quick                      # minutes: smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS_DIR, machine_info, write_result  # noqa: E402

from liverec.data import Interactions  # noqa: E402
from liverec.datasets import load_ml1m_seq  # noqa: E402
from liverec.models import Popularity, SequentialTransformer  # noqa: E402

NAME = "sequential"
DEFAULT_DATA = Path(os.environ.get("LIVEREC_DATA", HERE.parent.parent / "shared" / "data"))


# Data ------------------------------------------------------------------------------------------
class Task:
    """Training events plus one test case per user (history = the user's training events)."""

    def __init__(self, name: str, train: Interactions, users: np.ndarray, targets: np.ndarray,
                 exclude_seen: bool, at: np.ndarray | None = None, history: Interactions | None = None,
                 schedule: Any = None, item_features: Any = None) -> None:
        self.name, self.train, self.users, self.targets = name, train, users, targets
        self.item_features = item_features
        self.exclude_seen, self.at, self.history, self.schedule = exclude_seen, at, history, schedule


def _read_lines(path: Path) -> list[list[int]]:
    with open(path, encoding="utf-8") as f:
        return [[int(x) for x in line.split()] for line in f if line.strip()]


def _sequences_to_interactions(seqs: dict[Any, list[int]]) -> Interactions:
    users = np.concatenate([np.full(len(s), u) for u, s in seqs.items()])
    items = np.concatenate([np.asarray(s) for s in seqs.values()])
    times = np.concatenate([np.arange(len(s), dtype=np.float64) for s in seqs.values()])
    return Interactions.from_arrays(users, items, time=times)


def _ml1m_sequences(data_dir: Path) -> tuple[dict[int, list[int]], dict[int, int], np.ndarray]:
    """Each user's known events of ml-1m-seq, the test targets, and the complete-history users.

    The split's test history (:func:`liverec.datasets.load_ml1m_seq`): the training line,
    which lacks the second-to-last item, except for the 512 validation users, whose
    ``val_input + val_output`` is complete. Returns ``({user: items}, {user: test item},
    sorted complete-history users)``.
    """
    bench = load_ml1m_seq(data_dir / "ml-1m-seq")
    hist = bench.test_history
    per_code = hist.sequences()
    codes = hist.users.codes(bench.test_users)
    seqs = {int(u): hist.items.ids[per_code[c]].tolist() for u, c in zip(bench.test_users, codes, strict=True)}
    targets = {int(u): int(t) for u, t in zip(bench.test_users, bench.test_target, strict=True)}
    return seqs, targets, np.sort(np.asarray(bench.val_users))


def load_ml1m(data_dir: Path) -> Task:
    """ml-1m-seq: train on each user's test history, test on ``test_output``.

    For 5,528 of the 6,040 users the test history lacks the second-to-last item (DATA.md), so
    their target is the item after the next one.
    """
    seqs, targets, _ = _ml1m_sequences(data_dir)
    return _ml1m_copy_task(seqs, targets)


def _ml1m_copy_task(seqs: dict[int, list[int]], targets: dict[int, int]) -> Task:
    return Task("ml-1m-seq", _sequences_to_interactions(seqs), np.asarray(list(seqs)),
                np.asarray([targets[u] for u in seqs]), exclude_seen=True)


def complete_history_task(seqs: dict[int, list[int]]) -> Task:
    """ml-1m-seq as leave-one-out over complete histories: train on ``S[:-1]``, rank ``S[-1]``.

    S is each user's known events (from :func:`_ml1m_sequences`). This is the published
    protocol's form, but its test events are each user's last *known* event (the
    third-to-last for 5,528 users, the second-to-last for the 512 validation users), not the
    true last one.
    """
    train = _sequences_to_interactions({u: s[:-1] for u, s in seqs.items()})
    return Task("ml-1m-seq, complete histories", train, np.asarray(list(seqs)),
                np.asarray([s[-1] for s in seqs.values()]), exclude_seen=True)


def load_beauty(data_dir: Path) -> Task:
    lines = _read_lines(data_dir / "beauty" / "Beauty.txt")
    hist = {line[0]: line[1:-1] for line in lines}
    return Task("beauty", _sequences_to_interactions(hist), np.asarray([line[0] for line in lines]),
                np.asarray([line[-1] for line in lines]), exclude_seen=True)


def load_beauty_attributes(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Beauty item attributes (brand, categories) as ``(item ids, multi-hot matrix)``."""
    raw = json.loads((data_dir / "beauty" / "Beauty_item2attributes.json").read_text())
    ids = np.asarray([int(k) for k in raw])
    n_attr = 1 + max(a for v in raw.values() for a in v)
    mat = np.zeros((len(ids), n_attr), dtype=np.float32)
    rows = np.repeat(np.arange(len(ids)), [len(v) for v in raw.values()])
    mat[rows, np.concatenate([np.asarray(v, dtype=np.int64) for v in raw.values()])] = 1.0
    return ids, mat


def load_wikipedia(data_dir: Path) -> Task:
    rows = np.loadtxt(data_dir / "wikipedia" / "wikipedia.txt", dtype=np.int64)
    seqs: dict[int, list[int]] = {}
    for u, i in rows:
        seqs.setdefault(int(u), []).append(int(i))
    seqs = {u: s for u, s in seqs.items() if len(s) >= 3}
    hist = {u: s[:-1] for u, s in seqs.items()}
    return Task("wikipedia", _sequences_to_interactions(hist), np.asarray(list(seqs)),
                np.asarray([s[-1] for s in seqs.values()]), exclude_seen=False)


def load_synthetic(n_users: int, n_streamers: int, n_days: int, seed: int = 0) -> Task:
    """Room views of ``make_live_commerce``; last day = test (each user's last view there)."""
    from liverec.datasets import make_live_commerce

    data = make_live_commerce(n_users=n_users, n_streamers=n_streamers, n_days=n_days, text=False,
                              random_state=seed)
    X = data.interactions
    views = X.select(X.event_names == "view") if X.event is not None else X
    split = float(views.time.max()) - 86400.0
    order = views.sort_order()
    u, t = views.user_codes[order], views.time[order]
    last_of_user = np.r_[u[1:] != u[:-1], True]
    case_rows = order[last_of_user & (t >= split)]
    train = views.select(views.time < split)
    case_mask = np.zeros(len(views), dtype=bool)
    case_mask[case_rows] = True
    # history of each case: every earlier view of that user (train and test period)
    history = views.select(~case_mask & np.isin(views.user_codes, views.user_codes[case_rows]))
    return Task("synthetic-live", train, views.users.take(views.user_codes[case_rows]),
                views.items.take(views.item_codes[case_rows]), exclude_seen=False,
                at=views.time[case_rows], history=history, schedule=data.schedule)


# Evaluation ------------------------------------------------------------------------------------
def case_gains(model: Any, task: Task, *, live: bool = True, use_history: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-case hit@10 and NDCG@10 gain of the task's cases (full ranking)."""
    kwargs: dict[str, Any] = {"exclude_seen": task.exclude_seen}
    if task.at is not None:
        if live:
            kwargs.update(at=task.at, schedule=task.schedule)
        elif getattr(model, "repeat_aware", False):
            kwargs.update(at=task.at)
    if task.history is not None and use_history and model._supports_history:
        kwargs["history"] = task.history
    hits = np.zeros(len(task.users))
    gains = np.zeros(len(task.users))
    step = 1024
    for s in range(0, len(task.users), step):
        sl = slice(s, s + step)
        kw = dict(kwargs)
        if "at" in kw:
            kw["at"] = kw["at"][sl]
        recs = model.recommend(task.users[sl], k=10, **kw)
        match = recs.items == task.targets[sl][:, None]
        pos = np.where(match.any(1), match.argmax(1), -1)
        hits[sl] = pos >= 0
        gains[sl] = np.where(pos >= 0, 1.0 / np.log2(np.maximum(pos, 0) + 2.0), 0.0)
    return hits, gains


def _mean_ci(x: np.ndarray) -> list[float]:
    """Normal-approximation 95% confidence interval of the mean."""
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    return [float(x.mean() - half), float(x.mean() + half)]


def evaluate(model: Any, task: Task, *, live: bool = True, use_history: bool = True) -> dict[str, Any]:
    """HR@10 / NDCG@10 over the task's cases with normal-approximation 95% CIs."""
    hits, gains = case_gains(model, task, live=live, use_history=use_history)
    return {"hr@10": float(hits.mean()), "hr@10_ci": _mean_ci(hits), "ndcg@10": float(gains.mean()),
            "ndcg@10_ci": _mean_ci(gains), "n_cases": len(hits)}


class AccuracyCurve:
    """Test NDCG@10 after every epoch of a ``SequentialTransformer`` fit: time-to-accuracy.

    For tasks whose cases are "each user's training events, then the target" with seen items
    excluded (``ml1m-complete``, ``beauty``). Measuring only: it wraps the training loop's
    per-epoch validation (a private hook), scores every test case with the training code's own
    NDCG, and takes the scoring time off the training clock, so the time limit and the
    learning-rate schedule see training time alone. Nothing it measures feeds back into
    training (early stopping still reads the validation users only).
    """

    def __init__(self, task: Task) -> None:
        self.task, self.points, self._held_out = task, [], None
        self.scoring_seconds = 0.0

    def __enter__(self) -> AccuracyCurve:
        from liverec.models.sequential import training

        self._training, self._validate = training, training._validate

        def validate_then_test(loop: Any) -> Any:
            val = self._validate(loop)
            t0 = time.perf_counter()
            test = self._score(loop.model, loop.split.full)
            loop.net.train()
            spent = time.perf_counter() - t0
            loop.clock.t0 += spent  # scoring is not training time
            self.scoring_seconds += spent
            self.points.append({"epoch": len(loop.model.history_) + 1,
                                "train_seconds": round(loop.clock.elapsed(), 1), "val_ndcg": val,
                                "test_ndcg": round(test, 5)})
            return val

        training._validate = validate_then_test
        return self

    def __exit__(self, *exc: object) -> None:
        self._training._validate = self._validate

    def _score(self, model: Any, full: Any) -> float:
        from liverec.models.sequential.data import FlatSequences

        if self._held_out is None:  # every user's training events followed by their test target
            target_of = dict(zip(self.task.users.tolist(), self.task.targets.tolist(), strict=True))
            codes = model.items_.codes(np.asarray([target_of[u] for u in model.users_.ids.tolist()]),
                                       missing="ignore")
            ends = full.indptr[1:]
            flat = FlatSequences(np.insert(full.items, ends, np.maximum(codes, 0)),
                                 np.insert(full.times, ends, full.times[np.maximum(ends - 1, 0)] + 1.0),
                                 np.insert(full.weights, ends, 1.0), full.indptr + np.arange(len(full.indptr)))
            self._held_out = (flat, codes >= 0)
        flat, known = self._held_out
        gains = self._training.ndcg_gains(model, flat, np.arange(len(known)))
        return float(np.where(known, gains, 0.0).mean())  # a target never trained on: a miss


def run_model(label: str, model: Any, task: Task, *, fit_schedule: bool = False, features: bool = False,
              curve: bool = False, **eval_kw: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    with AccuracyCurve(task) if curve else contextlib.nullcontext() as tracker:
        model.fit(task.train, schedule=task.schedule if fit_schedule else None,
                  item_features=task.item_features if features else None)
    fit_s = time.perf_counter() - t0 - (tracker.scoring_seconds if tracker is not None else 0.0)
    t0 = time.perf_counter()
    res = evaluate(model, task, **eval_kw)
    res.update(model=label, fit_seconds=round(fit_s, 1), eval_seconds=round(time.perf_counter() - t0, 1))
    if isinstance(model, SequentialTransformer):
        res.update(epochs=model.n_epochs_, best_epoch=model.best_epoch_,
                   best_val_ndcg=model.best_val_ndcg_, params=_short_params(model),
                   epoch_log=[{k: (round(v, 5) if isinstance(v, float) else v) for k, v in h.items()}
                              for h in model.history_])
    if tracker is not None:  # the epochs' "seconds" include the curve's scoring; fit_seconds does not
        res["test_curve"] = tracker.points
    print(f"  {task.name:16s} {label:38s} HR@10 {res['hr@10']:.4f}  NDCG@10 {res['ndcg@10']:.4f}  "
          f"fit {fit_s:7.1f}s", flush=True)
    return res


def _short_params(model: SequentialTransformer) -> dict[str, Any]:
    defaults = SequentialTransformer().get_params()
    return {k: v for k, v in model.get_params().items() if v != defaults[k] and k != "verbose"}


def baselines(task: Task, live: bool = True) -> list[dict[str, Any]]:
    if _ARGS is not None and _ARGS.no_baselines:
        return []
    out = [run_model("Popularity", Popularity(), task, live=live)]
    import liverec.models as models

    for name, kwargs in (("ALS", {"random_state": 0}), ("BPR", {"random_state": 0})):
        try:
            cls = getattr(models, name)
        except (ImportError, AttributeError):
            print(f"  ({name} not available yet: skipped)", flush=True)
            continue
        try:
            out.append(run_model(name, cls(**kwargs), task, live=live))
        except Exception as err:  # a baseline under construction must not sink the benchmark
            print(f"  ({name} failed: {err!r})", flush=True)
    return out


_ARGS: argparse.Namespace | None = None


def _count_or_fraction(text: str) -> float:
    """``validation_size`` from the command line: ``"512"`` a count (int), ``"0.1"`` a fraction."""
    value = float(text)
    return int(value) if value.is_integer() else value


# Sections --------------------------------------------------------------------------------------
def _ml1m_model(args: argparse.Namespace) -> SequentialTransformer:
    return SequentialTransformer(max_len=200, embedding_dim=args.dim, n_layers=2, n_heads=1, dropout=args.dropout,
                                 loss="ce", n_epochs=args.epochs, batch_size=args.batch_size or 32,
                                 learning_rate=args.lr, target_horizon=args.horizon,
                                 horizon_decay=args.horizon_decay, output_precision=args.output_precision,
                                 sampled_warmup=args.sampled_warmup, n_negatives=args.negatives,
                                 patience=args.patience,
                                 validation_size=512 if args.validation_size is None else args.validation_size,
                                 time_limit=args.time_budget, threads=args.threads,
                                 random_state=0, verbose=args.verbose)


def section_ml1m(args: argparse.Namespace) -> dict[str, Any]:
    task = load_ml1m(args.data_dir)
    rows = [run_model("SequentialTransformer (CE)", _ml1m_model(args), task)] + baselines(task)
    return {"task": task.name, "protocol": "leave-one-out, full ranking, seen excluded", "rows": rows}


def ml1m_gap_cost(model: Any, seqs: dict[int, list[int]], targets: dict[int, int],
                  complete: np.ndarray) -> dict[str, Any]:
    """What the missing second-to-last item costs on this copy's test, measured pairwise.

    The 512 users whose complete test history is known have their test item ranked twice by the
    same model: after the complete history, and after it without its last event (the
    situation of the other 5,528 users). Arguments as returned by :func:`_ml1m_sequences`.
    """
    out: dict[str, Any] = {"n_users": len(complete)}
    gains: dict[str, np.ndarray] = {}
    for name, cut in (("complete", 0), ("without_last", 1)):
        # histories only: the model is already fitted; ``train`` is not used for fitting here
        hist = _sequences_to_interactions({u: seqs[u][:len(seqs[u]) - cut] for u in complete})
        task = Task(name, hist, complete, np.asarray([targets[u] for u in complete]), exclude_seen=True,
                    history=hist)
        hits, gains[name] = case_gains(model, task)
        out[name] = {"hr@10": float(hits.mean()), "ndcg@10": float(gains[name].mean()),
                     "ndcg@10_ci": _mean_ci(gains[name])}
    diff = gains["complete"] - gains["without_last"]
    out["ndcg@10_cost"], out["ndcg@10_cost_ci"] = float(diff.mean()), _mean_ci(diff)
    return out


def section_ml1m_complete(args: argparse.Namespace) -> dict[str, Any]:
    """Complete-history leave-one-out on this copy; the same model on this copy's test; the gap cost."""
    seqs, targets, complete = _ml1m_sequences(args.data_dir)
    task = complete_history_task(seqs)
    model = _ml1m_model(args)
    rows = [run_model("SequentialTransformer (CE)", model, task, curve=args.curve)] + baselines(task)
    known = _ml1m_copy_task(seqs, targets)
    # history = every known event, the last of which this model did not train on
    copy_test = Task(known.name, known.train, known.users, known.targets, exclude_seen=True, history=known.train)
    return {"task": task.name, "protocol": "leave-one-out of each user's known events, full ranking, seen excluded",
            "rows": rows, "same_model_on_ml1m_test": evaluate(model, copy_test),
            "missing_item_cost": ml1m_gap_cost(model, seqs, targets, complete)}


def section_beauty(args: argparse.Namespace) -> dict[str, Any]:
    """Beauty; the model also reads the item attributes (brand, categories) shipped with the files."""
    task = load_beauty(args.data_dir)
    features = not args.beauty_no_attributes
    if features:
        task.item_features = load_beauty_attributes(args.data_dir)
    model = SequentialTransformer(max_len=50, embedding_dim=args.dim, n_layers=2, n_heads=2,
                                  dropout=args.beauty_dropout, loss="ce", n_epochs=args.epochs,
                                  batch_size=args.batch_size or 64, learning_rate=args.lr,
                                  target_horizon=args.horizon, horizon_decay=args.horizon_decay,
                                  output_precision=args.output_precision, sampled_warmup=args.sampled_warmup,
                                  n_negatives=args.negatives, patience=args.patience,
                                  validation_size=0.1 if args.validation_size is None else args.validation_size,
                                  time_limit=args.time_budget, threads=args.threads, random_state=0,
                                  verbose=args.verbose)
    label = "SequentialTransformer (CE, item attributes)" if features else "SequentialTransformer (CE)"
    rows = [run_model(label, model, task, features=features, curve=args.curve)] + baselines(task)
    return {"task": task.name, "protocol": "last item test, max_len 50, full ranking, seen excluded", "rows": rows}


def section_wikipedia(args: argparse.Namespace) -> dict[str, Any]:
    task = load_wikipedia(args.data_dir)
    rows = []
    for repeat in (False, True):
        model = SequentialTransformer(max_len=50, embedding_dim=args.dim, dropout=0.3, loss="ce",
                                      n_epochs=args.epochs, learning_rate=args.lr, patience=args.patience,
                                      repeat_aware=repeat, time_limit=args.time_budget, threads=args.threads,
                                      random_state=0, verbose=args.verbose)
        rows.append(run_model(f"SequentialTransformer (CE{', repeat-aware' if repeat else ''})", model, task))
    rows += baselines(task)
    return {"task": task.name, "protocol": "last event test, full ranking, seen NOT excluded", "rows": rows}


def section_synthetic(args: argparse.Namespace) -> dict[str, Any]:
    task = load_synthetic(args.syn_users, args.syn_streamers, args.syn_days)

    def make(repeat: bool) -> SequentialTransformer:
        return SequentialTransformer(max_len=50, embedding_dim=args.dim, dropout=0.2, loss="ce",
                                     n_epochs=args.epochs, learning_rate=args.lr, patience=args.patience,
                                     repeat_aware=repeat, time_limit=args.time_budget, threads=args.threads,
                                     random_state=0, verbose=args.verbose)

    rows = [
        run_model("plain (all rooms ranked)", make(False), task, live=False),
        run_model("plain, live rooms ranked", make(False), task, live=True),
        run_model("availability-aware training + live ranking", make(False), task, fit_schedule=True),
        run_model("availability + repeat-aware", make(True), task, fit_schedule=True),
        run_model("Popularity(strategy='live')", Popularity(strategy="live"), task, live=True),
    ]
    rows += baselines(task)
    return {"task": task.name, "protocol": "last view per user on the last day; history = all earlier views; "
            "seen NOT excluded", "n_train_events": len(task.train), "rows": rows}


def section_throughput(args: argparse.Namespace) -> dict[str, Any]:
    """Targets per second, ours vs the textbook implementation, alternating rounds."""
    import textbook_sasrec as tb

    task = load_ml1m(args.data_dir)
    seqs = task.train.sequences()
    inp, tgt = tb.left_padded(seqs)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    ref = tb.TextbookSASRec(task.train.n_items)
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    ours_rate, ref_rate = [], []
    for r in range(args.rounds):
        for which in (("ours", "ref") if r % 2 == 0 else ("ref", "ours")):
            if which == "ref":
                _, n, sec = tb.train_epoch(ref, opt, inp, tgt, rng, max_batches=args.throughput_batches)
                ref_rate.append(n / sec)
            else:
                m = SequentialTransformer(max_len=200, embedding_dim=64, n_layers=2, n_heads=1, dropout=0.2,
                                          loss="ce", n_epochs=1, batch_size=128, validation_size=0,
                                          time_limit=args.throughput_seconds, threads=args.threads,
                                          random_state=r, verbose=False).fit(task.train)
                ours_rate.append(m.history_[0]["targets"] / m.history_[0]["seconds"])
        print(f"  round {r + 1}: ours {ours_rate[-1]:.0f} targets/s, textbook {ref_rate[-1]:.0f} targets/s",
              flush=True)
    ratios = [a / b for a, b in zip(ours_rate, ref_rate, strict=True)]
    return {"ours_targets_per_s": ours_rate, "textbook_targets_per_s": ref_rate, "ratios": ratios,
            "median_ratio": float(np.median(ratios)), "threads": args.threads,
            "load_average_after": os.getloadavg()[0]}


def section_latency(args: argparse.Namespace) -> dict[str, Any]:
    """Fold-in latency: top-10 for one new user from 50 recent events among 10k live rooms."""
    from liverec.data import IdMap, LiveSchedule

    rng = np.random.default_rng(0)
    n_items, n_users = 10_000, 500
    users = np.repeat(np.arange(n_users), 20)
    X = Interactions.from_arrays(users, rng.integers(n_items, size=len(users)),
                                 time=rng.uniform(0, 1000, size=len(users)))
    X = X.with_maps(items=IdMap(np.arange(n_items), "item"))
    schedule = LiveSchedule.from_arrays(np.arange(n_items), np.zeros(n_items), np.full(n_items, 2000.0))
    torch.set_num_threads(1)
    models, times = {}, {}
    history = Interactions.from_arrays(["new"] * 50, rng.integers(n_items, size=50),
                                       time=np.sort(rng.uniform(900, 1000, size=50)))
    for repeat in (False, True):
        key = "repeat_aware" if repeat else "plain"
        # latency does not depend on how well the model is trained: one cheap epoch
        models[key] = SequentialTransformer(max_len=50, n_epochs=1, validation_size=0, repeat_aware=repeat,
                                            loss="sampled_ce", n_negatives=32, random_state=0, verbose=False,
                                            threads=1).fit(X, schedule=schedule)
        times[key] = []
    for _ in range(args.latency_calls):  # alternate the models so both see the same machine load
        for key, model in models.items():
            t0 = time.perf_counter()
            model.recommend("new", k=10, at=1000.0, history=history)
            times[key].append(time.perf_counter() - t0)
    out: dict[str, Any] = {}
    for key, ts in times.items():
        out[key] = {"median_ms": 1000 * float(np.median(ts)), "min_ms": 1000 * float(np.min(ts)),
                    "p90_ms": 1000 * float(np.quantile(ts, 0.9)), "calls": len(ts)}
        print(f"  {key}: median {out[key]['median_ms']:.2f} ms, min {out[key]['min_ms']:.2f} ms", flush=True)
    out.update(n_items=n_items, threads=1, history_events=50, live_items=n_items)
    return out


SECTIONS = {"latency": section_latency, "ml1m": section_ml1m, "ml1m-complete": section_ml1m_complete,
            "beauty": section_beauty, "wikipedia": section_wikipedia, "synthetic": section_synthetic,
            "throughput": section_throughput}


# Report ----------------------------------------------------------------------------------------
def _fmt_ci(r: dict[str, Any], key: str) -> str:
    lo, hi = r[f"{key}_ci"]
    return f"{r[key]:.4f} [{lo:.4f}, {hi:.4f}]"


def tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    order = ["ml1m", "ml1m-complete", "beauty", "wikipedia", "synthetic"]
    accuracy_keys = [k for k in results if k.split(":")[0] in order]  # '<section>' or '<section>:<tag>'
    for key in sorted(accuracy_keys, key=lambda k: (order.index(k.split(":")[0]), k)):
        sec = results[key]
        rows = [[r["model"], _fmt_ci(r, "hr@10"), _fmt_ci(r, "ndcg@10"), r["fit_seconds"], r.get("epochs", "")]
                for r in sec["rows"]]
        tag = f" [{key.split(':', 1)[1]}]" if ":" in key else ""
        out.append({"title": f"{sec['task']}{tag} ({sec['protocol']})",
                    "columns": ["model", "HR@10 [95% CI]", "NDCG@10 [95% CI]", "fit s", "epochs"], "rows": rows})
    comp = results.get("ml1m-complete")
    if comp and "missing_item_cost" in comp:
        gap, copy = comp["missing_item_cost"], comp["same_model_on_ml1m_test"]
        out.append({"title": "ML-1M: the complete-history model on this copy's test, and what the missing "
                             f"second-to-last item costs ({gap['n_users']} users with complete histories, "
                             "same model, paired)",
                    "columns": ["evaluation", "HR@10", "NDCG@10 [95% CI]"],
                    "rows": [["this copy's test (all users)", f"{copy['hr@10']:.4f}", _fmt_ci(copy, "ndcg@10")],
                             ["complete history", f"{gap['complete']['hr@10']:.4f}",
                              _fmt_ci(gap["complete"], "ndcg@10")],
                             ["same users, last history event removed", f"{gap['without_last']['hr@10']:.4f}",
                              _fmt_ci(gap["without_last"], "ndcg@10")],
                             ["cost of the missing event (paired difference)", "",
                              _fmt_ci(gap, "ndcg@10_cost")]]})
    lat = results.get("latency")
    if lat:
        out.append({"title": "Fold-in latency: top-10 for one new user (50 events) among 10k live rooms, 1 CPU thread",
                    "columns": ["model", "median ms", "min ms", "p90 ms"],
                    "rows": [[k, round(lat[k]["median_ms"], 2), round(lat[k].get("min_ms", float("nan")), 2),
                              round(lat[k]["p90_ms"], 2)]
                             for k in ("plain", "repeat_aware") if k in lat]})
    tp = results.get("throughput")
    if tp:
        out.append({"title": "Training throughput on ML-1M (targets/s, median of alternating rounds)",
                    "columns": ["implementation", "targets/s"],
                    "rows": [["SequentialTransformer", round(float(np.median(tp["ours_targets_per_s"])))],
                             ["textbook SASRec", round(float(np.median(tp["textbook_targets_per_s"])))],
                             ["ratio (median of per-round ratios)", round(tp["median_ratio"], 2)]]})
    return out


def notes(results: dict[str, Any]) -> list[str]:
    """How and when each section ran: its date, the load average around it, its --note and its
    first model's NDCG@10 (so that every tagged attempt reads with its figure)."""
    out = ["Sections are rerun independently (--sections): compare figures within a section, and read wall "
           "times against the load average recorded with them."]
    for key in sorted(results):
        sec = results[key]
        when = sec.get("machine", {}).get("date", "date not recorded")
        load = ""
        if "load_average_before" in sec:
            load = f", load average {sec['load_average_before']:.1f} before / {sec['load_average_after']:.1f} after"
        figure = ""
        if sec.get("rows"):
            first = sec["rows"][0]
            figure = f"; {first['model']}: NDCG@10 {first['ndcg@10']:.4f} in {first['fit_seconds']} s of fit"
        out.append(f"{key}: {when}{load}" + (f"; {sec['note']}" if sec.get("note") else "") + figure)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--time-budget", type=float, default=2400.0, help="training seconds per model")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=None, help="ml1m / beauty batch size (default 32 / 64)")
    p.add_argument("--horizon", type=int, default=1, help="ml1m / beauty: target_horizon")
    p.add_argument("--horizon-decay", type=float, default=0.5, help="ml1m / beauty: horizon_decay")
    p.add_argument("--output-precision", default="float32", choices=["float32", "bfloat16"],
                   help="ml1m / beauty: output_precision (operand type of the output layer's products in training)")
    p.add_argument("--sampled-warmup", type=float, default=0.0,
                   help="ml1m / beauty: sampled_warmup (fraction of training on the sampled softmax)")
    p.add_argument("--negatives", type=int, default=256, help="ml1m / beauty: n_negatives")
    p.add_argument("--validation-size", type=_count_or_fraction, default=None,
                   help="ml1m / beauty: validation users, a count or a fraction (default 512 / 0.1; "
                        "0: no validation passes, the last epoch's weights)")
    p.add_argument("--curve", action="store_true",
                   help="ml1m-complete / beauty: test NDCG@10 after every epoch (time-to-accuracy)")
    p.add_argument("--beauty-dropout", type=float, default=0.5)
    p.add_argument("--beauty-no-attributes", action="store_true", help="beauty: ignore the item attributes")
    p.add_argument("--no-baselines", action="store_true", help="skip Popularity / ALS / BPR")
    p.add_argument("--tag", default="", help="store the sections as '<section>:<tag>' (keeps earlier runs)")
    p.add_argument("--rounds", type=int, default=3, help="throughput: alternating rounds")
    p.add_argument("--throughput-batches", type=int, default=12, help="textbook batches per round")
    p.add_argument("--throughput-seconds", type=float, default=40.0, help="our training seconds per round")
    p.add_argument("--latency-calls", type=int, default=300)
    p.add_argument("--syn-users", type=int, default=3000)
    p.add_argument("--syn-streamers", type=int, default=150)
    p.add_argument("--syn-days", type=int, default=14)
    p.add_argument("--quick", action="store_true", help="smoke run: tiny budgets")
    p.add_argument("--verbose", action="store_true", help="progress bars")
    p.add_argument("--note", default="", help="free text stored with the results (e.g. machine load)")
    args = p.parse_args(argv)
    global _ARGS
    _ARGS = args
    if args.quick:
        args.time_budget, args.epochs, args.rounds = 20.0, 3, 1
        args.throughput_batches, args.throughput_seconds = 2, 5.0
        args.syn_users, args.syn_streamers, args.syn_days = 300, 30, 5
    torch.set_num_threads(args.threads)
    need_data = {"ml1m", "ml1m-complete", "beauty", "wikipedia", "throughput"}
    path = RESULTS_DIR / f"{NAME}.json"
    results: dict[str, Any] = json.loads(path.read_text())["results"] if path.exists() else {}
    for name in args.sections:
        if name in need_data and not args.data_dir.is_dir():
            print(f"{name}: data folder {args.data_dir} absent, skipped")
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        load0 = os.getloadavg()[0]
        sec = SECTIONS[name](args)
        sec.update(wall_seconds=round(time.perf_counter() - t0, 1), load_average_before=load0,
                   load_average_after=os.getloadavg()[0], quick=args.quick, note=args.note,
                   machine=machine_info(), time_budget_s=args.time_budget)
        # another run of this script may have written other sections meanwhile: merge
        results = json.loads(path.read_text())["results"] if path.exists() else {}
        results[f"{name}:{args.tag}" if args.tag else name] = sec
        write_result(NAME, {
            "description": "SequentialTransformer (SASRec family) vs baselines: full-ranking HR@10/NDCG@10 "
                           "with 95% normal-approximation CIs; training throughput vs a textbook SASRec.",
            "notes": notes(results), "tables": tables(results), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
