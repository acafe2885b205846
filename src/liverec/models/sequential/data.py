"""Sequences, training windows and batches of [`SequentialTransformer`][liverec.models.SequentialTransformer] (private).

All users' events live in flat arrays ordered by (user, time) with a CSR ``indptr``; a
training window is ``(start, length)`` into them. Batches group windows of similar length so
little compute goes to padding, and are built with fancy indexing, never a Python loop over
positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FlatSequences:
    """Every user's events in time order: rows ``indptr[u]:indptr[u+1]`` belong to user ``u``."""

    items: np.ndarray  # int64 item codes
    times: np.ndarray  # float64
    weights: np.ndarray  # float32 loss weight of the event as a target
    indptr: np.ndarray  # int64, n_users + 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)


def epoch_windows(flat: FlatSequences, users: np.ndarray, max_len: int, rng: np.random.Generator,
                  mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Windows of at most ``max_len + 1`` events (inputs plus the shifted targets).

    ``mode="last"``: each user's latest window. ``mode="random"``: the latest window plus,
    for a history longer than a window, ``ceil(L / (max_len + 1)) - 1`` more windows ending at
    random points, so that one epoch covers about every event once.

    Returns:
        ``(start, length)`` arrays into the flat arrays.
    """
    lengths = flat.lengths[users]
    keep = lengths >= 2
    users, lengths = users[keep], lengths[keep]
    w = max_len + 1
    starts_l = [flat.indptr[users] + np.maximum(lengths - w, 0)]
    lens_l = [np.minimum(lengths, w)]
    if mode == "random":
        extra = np.maximum(-(-lengths // w) - 1, 0)
        if extra.sum():
            owner = np.repeat(np.arange(len(users)), extra)
            # window end uniformly in [w, L) (the window ending at L is already there)
            span = lengths[owner] - w
            end = w + np.floor(rng.random(len(owner)) * span).astype(np.int64)
            starts_l.append(flat.indptr[users[owner]] + end - w)
            lens_l.append(np.full(len(owner), w, dtype=np.int64))
    elif mode != "last":
        raise ValueError(f"window mode must be 'last' or 'random', got {mode!r}.")
    return np.concatenate(starts_l), np.concatenate(lens_l)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of window indices of similar length, in random order.

    Windows are sorted by length with random tie-breaking and cut into consecutive chunks;
    the chunks are shuffled. Every batch then pads to nearly its own length.
    """
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    perm = rng.permutation(len(batches))
    return [batches[p] for p in perm]


@dataclass
class Batch:
    """Right-padded arrays ``(B, T)``: inputs, targets and their times; ``valid`` marks targets.

    ``later_targets`` / ``later_weights`` ``(B, T, H - 1)`` hold the events 2..H steps ahead
    of each position for a target horizon ``H > 1`` (weight 0 where the window ends first).
    """

    inputs: np.ndarray  # item codes + 1, 0 = padding
    targets: np.ndarray  # item codes (valid positions only are meaningful)
    input_times: np.ndarray
    target_times: np.ndarray
    weights: np.ndarray
    valid: np.ndarray
    later_targets: np.ndarray
    later_weights: np.ndarray


def gather_batch(flat: FlatSequences, starts: np.ndarray, lengths: np.ndarray, horizon: int = 1) -> Batch:
    """Cut windows ``flat[start:start+length]`` into inputs (all but last) and targets."""
    n_in = lengths - 1
    t = int(n_in.max())
    pos = np.arange(t)
    valid = pos[None, :] < n_in[:, None]
    idx = np.where(valid, starts[:, None] + pos[None, :], 0)
    nxt = np.where(valid, idx + 1, 0)
    inputs = np.where(valid, flat.items[idx] + 1, 0)
    targets = np.where(valid, flat.items[nxt], 0)
    later_t = np.zeros((len(starts), t, horizon - 1), dtype=np.int64)
    later_w = np.zeros((len(starts), t, horizon - 1), dtype=np.float32)
    for j in range(2, horizon + 1):  # a handful of offsets, each one vectorised
        ok = pos[None, :] + j <= n_in[:, None]
        ahead = np.where(ok, idx + j, 0)
        # where the window ends first: repeat the next target with weight 0 (keeps masks simple)
        later_t[:, :, j - 2] = np.where(ok, flat.items[ahead], targets)
        later_w[:, :, j - 2] = np.where(ok, flat.weights[ahead], 0.0)
    return Batch(inputs, targets, flat.times[idx], flat.times[nxt],
                 np.where(valid, flat.weights[nxt], 0.0).astype(np.float32), valid, later_t, later_w)


def last_occurrence_pairs(inputs: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(b, t, j)``: at position ``t`` of row ``b``, input ``j <= t`` is the latest
    consumption of its item (no later ``k`` in ``(j, t]`` has the same item).
    """
    b, tt = inputs.shape
    flat_pos = np.arange(b * tt)
    # next occurrence of the same item in the same row (tt when none)
    order = np.lexsort((flat_pos % tt, inputs.ravel(), flat_pos // tt))
    row_sorted = order // tt
    item_sorted = inputs.ravel()[order]
    same_next = np.zeros(len(order), dtype=bool)
    same_next[:-1] = (row_sorted[:-1] == row_sorted[1:]) & (item_sorted[:-1] == item_sorted[1:])
    nxt = np.full(b * tt, tt, dtype=np.int64)
    nxt[order[:-1][same_next[:-1]]] = order[1:][same_next[:-1]] % tt
    nxt = nxt.reshape(b, tt)
    t_idx = np.arange(tt)
    # mask[b, t, j]: j <= t < next[b, j], both valid
    mask = (t_idx[None, None, :] <= t_idx[None, :, None]) & (t_idx[None, :, None] < nxt[:, None, :])
    mask &= valid[:, :, None] & valid[:, None, :]
    rows, pos, prev = np.nonzero(mask)
    return rows, pos, prev


class TimeBuckets:
    """Log-scale buckets of elapsed time; bucket 0 means "never consumed before".

    Edges are geometric between a small and a large positive gap seen in training; a gap of
    0 (or below the first edge) is bucket 1, a gap beyond the last edge the last bucket.
    """

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)

    @property
    def n_buckets(self) -> int:
        return len(self.edges) + 1

    @classmethod
    def fit(cls, gaps: np.ndarray, n_buckets: int) -> TimeBuckets:
        gaps = gaps[np.isfinite(gaps) & (gaps > 0)]
        lo, hi = (np.quantile(gaps, [0.01, 1.0]) if len(gaps) else (1.0, 2.0))
        lo = max(float(lo), 1e-9)
        hi = max(float(hi), lo * 2)
        return cls(np.geomspace(lo, hi, n_buckets - 1))

    def __call__(self, dt: np.ndarray) -> np.ndarray:
        return 1 + np.searchsorted(self.edges, np.maximum(dt, 0.0), side="right")


def sample_live(indptr: np.ndarray, live: np.ndarray, n: int, rng: np.random.Generator,
                n_items: int) -> np.ndarray:
    """``n`` items per row drawn uniformly from that row's live set (uniform over the
    catalogue where nothing is live): ``(n_rows, n)`` codes."""
    counts = np.diff(indptr)
    r = rng.random((len(counts), n))
    pick = indptr[:-1, None] + np.floor(r * counts[:, None]).astype(np.int64)
    out = np.where(counts[:, None] > 0, live[np.minimum(pick, max(len(live) - 1, 0))] if len(live) else 0,
                   np.floor(r * n_items).astype(np.int64))
    return out.astype(np.int64)


def live_mask(indptr: np.ndarray, codes: np.ndarray, n_items: int) -> np.ndarray:
    """Dense ``(n_rows, n_items)`` boolean mask of a CSR of live item codes per row."""
    n = len(indptr) - 1
    mask = np.zeros((n, n_items), dtype=bool)
    mask[np.repeat(np.arange(n), np.diff(indptr)), codes] = True
    return mask


def repeat_gaps(flat: FlatSequences) -> np.ndarray:
    """Time between consecutive consumptions of the same item by the same user."""
    users = np.repeat(np.arange(len(flat.indptr) - 1), flat.lengths)
    order = np.lexsort((flat.times, flat.items, users))
    same = (users[order][1:] == users[order][:-1]) & (flat.items[order][1:] == flat.items[order][:-1])
    return np.diff(flat.times[order])[same]
