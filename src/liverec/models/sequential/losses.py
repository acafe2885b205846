"""Training losses of [`SequentialTransformer`][liverec.models.SequentialTransformer] (private).

``"ce"`` is the full softmax over the catalogue (computed by the fused, chunked
`ChunkedSoftmaxCE` unless repeat scores must be added to the logits); ``"sampled_ce"``
and ``"bce"`` score each target against ``n_negatives`` sampled items. With a schedule, the
softmax is restricted to, and negatives are drawn from, the items live at each target's time;
with ``repeat_aware``, every candidate the user consumed before gets its repeat score added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .data import Batch, TimeBuckets, last_occurrence_pairs, live_mask, sample_live
from .network import SequenceEncoder

#: rows per chunk of the fused cross-entropy: ~512 x n_items logits stay in cache
CE_CHUNK = 512

#: (row of the valid target, item code, time bucket) of every item consumed before a target
RepeatPairs = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class LossSettings:
    """What a loss needs besides the batch: the model's settings for this ``fit``.

    Attributes:
        loss: ``"ce"``, ``"sampled_ce"`` or ``"bce"``.
        n_items: Catalogue size.
        n_negatives: Negatives per target of the sampled losses.
        target_horizon: Targets per position of ``"ce"`` (the next event, then later ones).
        horizon_decay: Weight ratio between consecutive horizon targets.
        live_codes: Items live at each time, as a CSR ``(indptr, codes)`` in model codes;
            ``None`` trains without availability.
        pool: Codes of the items seen in training (where unrestricted negatives come from).
        time_buckets: Buckets of the time since the last consumption (repeat-aware models).
        cold: ``(n_items,)`` boolean tensor of the items without training events, kept out of
            the full softmax (``None`` when every item has some).
        device: Torch device of the network.
        matmul_dtype: Operand type of the output layer's three products in ``"ce"``
            (``torch.bfloat16``: bf16 operands and products, float32 softmax; ``None``: float32).
        correct_sampling: Add ``log(n / k)`` to the scores of ``k`` negatives drawn uniformly
            from ``n`` candidates (``"sampled_ce"``), so that the sampled softmax estimates the
            full one (the sampled start of ``sampled_warmup``).
    """

    loss: str
    n_items: int
    n_negatives: int
    target_horizon: int
    horizon_decay: float
    live_codes: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None
    pool: np.ndarray
    time_buckets: TimeBuckets | None
    cold: Any
    device: Any
    matmul_dtype: Any = None
    correct_sampling: bool = False


@dataclass
class _Targets:
    """The valid positions of a batch: hidden states, targets, weights and target times."""

    h: torch.Tensor  # (n, d) hidden states
    item_w: torch.Tensor  # (n_items, d) item embeddings (padding row dropped)
    tgt_np: np.ndarray  # (n,) target item codes
    tgt: torch.Tensor
    w: torch.Tensor  # (n,) loss weights
    tau: np.ndarray  # (n,) target times
    rep: RepeatPairs | None

    @property
    def n(self) -> int:
        return len(self.tgt_np)


def batch_loss(net: SequenceEncoder, batch: Batch, rng: np.random.Generator,
               cfg: LossSettings) -> tuple[torch.Tensor, int]:
    """Weighted mean loss of every valid target in ``batch`` and the number of targets."""
    dev = cfg.device
    valid_np = batch.valid
    inputs = torch.from_numpy(batch.inputs).to(dev)
    valid = torch.from_numpy(valid_np).to(dev)
    items = net.item_matrix()
    h = net(inputs, items)[valid]
    tgt_np = batch.targets[valid_np]
    rep = None
    if net.repeat_emb is not None:
        assert cfg.time_buckets is not None
        rep = repeat_pairs(batch, valid_np, cfg.time_buckets)
    t = _Targets(h, items[1:], tgt_np, torch.from_numpy(tgt_np).to(dev),
                 torch.from_numpy(batch.weights[valid_np]).to(dev), batch.target_times[valid_np], rep)
    if cfg.loss == "ce":
        return full_softmax_loss(net, batch, t, cfg), t.n
    per = sampled_loss(net, t, rng, cfg)
    wsum = t.w.sum().clamp_min(1e-12)
    return (per * t.w).sum() / wsum, t.n


def target_mass(batch: Batch, cfg: LossSettings) -> float:
    """The total target weight ``batch_loss`` divides by (its loss is a weighted mean): the
    next events' weights, plus the decayed later ones of a ``"ce"`` target horizon."""
    valid = batch.valid
    mass = float(batch.weights[valid].sum(dtype=np.float64))
    if cfg.loss == "ce" and int(cfg.target_horizon) > 1:
        decay = float(cfg.horizon_decay) ** np.arange(1, int(cfg.target_horizon), dtype=np.float64)
        mass += float((batch.later_weights[valid] * decay).sum())
    return mass


def full_softmax_loss(net: SequenceEncoder, batch: Batch, t: _Targets, cfg: LossSettings) -> torch.Tensor:
    """``"ce"``: cross-entropy over the (live, trained) catalogue, ``target_horizon`` targets a row."""
    dev, n, valid_np = cfg.device, t.n, batch.valid
    mask = None
    if cfg.live_codes is not None:
        mask = torch.from_numpy(live_mask(*cfg.live_codes(t.tau), cfg.n_items)).to(dev)
    if cfg.cold is not None:
        mask = ~cfg.cold.expand(n, -1) if mask is None else mask & ~cfg.cold
    # targets (n, horizon): the next event, then the later ones with decaying weight
    tgt_k = torch.cat([t.tgt[:, None], torch.from_numpy(batch.later_targets[valid_np]).to(dev)], 1)
    decay = float(cfg.horizon_decay) ** np.arange(1, int(cfg.target_horizon), dtype=np.float32)
    w_k = torch.cat([t.w[:, None], torch.from_numpy(batch.later_weights[valid_np] * decay).to(dev)], 1)
    if mask is not None:
        mask = mask.clone()
        mask.scatter_(1, tgt_k, True)
    if t.rep is None:
        # the common case: chunked, fused softmax + gradient (no (N, n_items) logits)
        return ChunkedSoftmaxCE.apply(t.h, t.item_w, tgt_k, w_k, mask, CE_CHUNK,  # type: ignore[no-untyped-call]
                                      cfg.matmul_dtype)
    rows, cols, buckets = t.rep
    hr = _repeat_scores(net, t.h)
    r_t = torch.from_numpy(rows).to(dev)
    c_t = torch.from_numpy(cols).to(dev)
    logits = (t.h @ t.item_w.T).float()
    logits = logits.index_put((r_t, c_t), logits[r_t, c_t] + hr[r_t, torch.from_numpy(buckets).to(dev)]
                              - hr[r_t, 0])
    if mask is not None:
        logits = logits.masked_fill(~mask, -torch.inf)
    logp = F.log_softmax(logits, dim=1).gather(1, tgt_k)
    return -(logp * w_k).sum() / w_k.sum().clamp_min(1e-12)


def sampled_loss(net: SequenceEncoder, t: _Targets, rng: np.random.Generator,
                 cfg: LossSettings) -> torch.Tensor:
    """``"sampled_ce"`` / ``"bce"``: per-target loss against ``n_negatives`` sampled items."""
    k = int(cfg.n_negatives)
    pos = (t.h * t.item_w[t.tgt]).sum(-1).float()
    negs_np, negs, neg = _negative_scores(t, k, rng, cfg)
    if t.rep is not None:
        pos, neg = _add_sampled_repeat_scores(net, t, negs_np, pos, neg, k, cfg)
    hit = negs == t.tgt[:, None]
    neg = neg.masked_fill(hit, -torch.inf)
    if cfg.loss == "sampled_ce":
        return -F.log_softmax(torch.cat([pos[:, None], neg], 1), dim=1)[:, 0]
    return F.softplus(-pos) + (F.softplus(neg) * (~hit)).sum(1) / (~hit).sum(1).clamp_min(1)


def _negative_scores(t: _Targets, k: int, rng: np.random.Generator,
                     cfg: LossSettings) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """``k`` negatives per target (live ones with a schedule, else shared by the batch):
    their codes as an array and a tensor, and their scores ``(n, k)``."""
    dev, n = cfg.device, t.n
    if cfg.live_codes is not None:
        indptr, live = cfg.live_codes(t.tau)
        negs_np = sample_live(indptr, live, k, rng, cfg.n_items)
        negs = torch.from_numpy(negs_np).to(dev)
        scores = torch.einsum("nd,nkd->nk", t.h, t.item_w[negs]).float()
        if cfg.correct_sampling:  # each row's negatives come from its live items (all when none is)
            counts = np.diff(indptr)
            candidates = np.where(counts > 0, counts, cfg.n_items).astype(np.float32)
            scores = scores + torch.from_numpy(np.log(candidates / k)).to(dev)[:, None]
        return negs_np, negs, scores
    pool = cfg.pool
    negs_np = np.broadcast_to(pool[rng.integers(len(pool), size=k)], (n, k))
    negs = torch.from_numpy(np.ascontiguousarray(negs_np)).to(dev)
    scores = (t.h @ t.item_w[negs[0]].T).float()
    if cfg.correct_sampling:
        scores = scores + float(np.log(len(pool) / k))
    return negs_np, negs, scores


def _add_sampled_repeat_scores(net: SequenceEncoder, t: _Targets, negs_np: np.ndarray, pos: torch.Tensor,
                               neg: torch.Tensor, k: int,
                               cfg: LossSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative scores plus the repeat score of each (user, candidate) pair."""
    assert t.rep is not None
    dev, n = cfg.device, t.n
    rows, cols, buckets = t.rep
    hr = _repeat_scores(net, t.h)
    lookup = PairLookup(rows, cols, buckets, cfg.n_items)
    pos = pos + hr[torch.arange(n, device=dev),
                   torch.from_numpy(lookup(np.arange(n), t.tgt_np)).to(dev)] - hr[:, 0]
    nb = lookup(np.repeat(np.arange(n), k), negs_np.reshape(-1)).reshape(n, k)
    neg = neg + torch.gather(hr, 1, torch.from_numpy(nb).to(dev)) - hr[:, :1]
    return pos, neg


def _repeat_scores(net: SequenceEncoder, h: torch.Tensor) -> torch.Tensor:
    hr = net.repeat_scores(h)
    assert hr is not None
    return hr.float()


def repeat_pairs(batch: Batch, valid: np.ndarray, time_buckets: TimeBuckets) -> RepeatPairs:
    """(row of the valid target, item code, time bucket) of every item consumed before it."""
    b, t, j = last_occurrence_pairs(batch.inputs, valid)
    row_of = np.cumsum(valid.ravel()) - 1
    rows = row_of[b * valid.shape[1] + t]
    dt = batch.target_times[b, t] - batch.input_times[b, j]
    return rows, batch.inputs[b, j] - 1, time_buckets(dt)


class PairLookup:
    """Vectorised ``(row, item) -> bucket`` lookup (0 when the pair is absent)."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, buckets: np.ndarray, n_items: int) -> None:
        self.n = np.int64(n_items)
        key = rows.astype(np.int64) * self.n + cols
        order = np.argsort(key)
        self.key, self.val = key[order], buckets[order]

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        q = rows.astype(np.int64) * self.n + cols
        if not len(self.key):
            return np.zeros(len(q), dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.key, q), len(self.key) - 1)
        return np.where(self.key[pos] == q, self.val[pos], 0).astype(np.int64)


class ChunkedSoftmaxCE(torch.autograd.Function):
    """Weighted softmax cross-entropy of ``h @ W.T`` over the whole catalogue, in row chunks.

    The ``(N, n_items)`` logits are never held at once: each chunk of rows computes its logits,
    log-sum-exp, loss and, right away, its gradients (``softmax - onehot``), so the big matrix
    stays in cache instead of streaming through memory four times (logits, log-softmax, its
    backward, the matmul backward). On a 2-core CPU this roughly halves a SASRec training step,
    whose cost is dominated by the output layer.

    ``forward(h, W, target, weight, allowed, chunk)``: ``h`` ``(N, d)``, ``W`` ``(V, d)``,
    ``target`` ``(N, K)`` item codes (K targets per row, e.g. the next events of a horizon),
    ``weight`` ``(N, K)`` their loss weights, ``allowed`` an optional ``(N, V)`` boolean mask
    of the items each row's softmax may use (every target must be allowed), ``chunk`` rows per
    chunk and ``matmul_dtype`` (``torch.bfloat16`` or ``None``) the operand type of the three
    products: with bf16 they run on the CPU's bf16 dot-product units where it has them; the
    log-sum-exp, the softmax and the loss stay float32. Returns ``sum(weight * -log_softmax[target]) / sum(weight)``.
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                allowed: torch.Tensor | None, chunk: int, matmul_dtype: Any = None) -> torch.Tensor:
        hf, wf = h.detach().float(), w.detach().float()
        low = matmul_dtype is not None and matmul_dtype != torch.float32
        hm, wm = (hf.to(matmul_dtype), wf.to(matmul_dtype)) if low else (hf, wf)
        scale = weight.float() / weight.float().sum().clamp_min(1e-12)
        row_scale = scale.sum(dim=1)
        grad_h = torch.empty_like(hf)
        grad_w = torch.zeros_like(wf)
        total = hf.new_zeros(())
        for s in range(0, hf.shape[0], chunk):
            e = min(s + chunk, hf.shape[0])
            logits = (hm[s:e] @ wm.T).float()
            if allowed is not None:
                logits.masked_fill_(~allowed[s:e], -torch.inf)
            target_logit = logits.gather(1, target[s:e])
            top = logits.amax(dim=1, keepdim=True)
            # one pass of exp serves both the log-sum-exp and the gradient
            probs = logits.sub_(top).exp_()
            norm = probs.sum(dim=1)
            lse = top[:, 0] + norm.log()
            total += (row_scale[s:e] * lse).sum() - (scale[s:e] * target_logit).sum()
            # d loss / d logits = row_scale * softmax - sum_k scale_k * onehot_k, in place
            probs.mul_((row_scale[s:e] / norm)[:, None])
            probs.scatter_add_(1, target[s:e], -scale[s:e])
            if low:
                p_low = probs.to(matmul_dtype)
                grad_h[s:e] = p_low @ wm
                grad_w += p_low.T @ hm[s:e]
            else:
                grad_h[s:e] = probs @ wf
                grad_w.addmm_(probs.T, hf[s:e])
        ctx.save_for_backward(grad_h.to(h.dtype), grad_w.to(w.dtype))
        return total

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad_out, grad_w * grad_out, None, None, None, None, None
