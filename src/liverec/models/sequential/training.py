"""The training loop of [`SequentialTransformer`][liverec.models.SequentialTransformer] (private).

`train` prepares the sequences (validation split, repeat buckets), builds the network
and runs the epochs: each epoch draws training windows, takes one AdamW step per batch with
the learning rate from `lr_factor`, then scores the validation users
(`validation_ndcg`) for early stopping; a time limit ends training early and stretches
the learning-rate schedule over the time instead of the steps.

Data-parallel (``distributed``, see ``liverec._distributed``): every replica draws the same
global batches of ``batch_size * world_size`` windows and trains on its part of each inside
``DistributedDataParallel``; each replica's loss is scaled by its share of the batch's target
weight, so the averaged gradient is the gradient of the global batch's loss. The clock behind
``time_limit`` is rank 0's, validation users are split among the replicas and their NDCG
summed, and rank 0's stop decision is broadcast.

On user shards (``distributed_data="sharded"``, the ``sharded`` path below) each replica holds
only its own users' events, already re-coded into the union maps by the estimator. Each replica
then draws everything that depends on its data (validation users, windows, batches, negatives)
from its own random stream (``rng.spawn``; the network's initialisation still comes from the
shared seed), and agrees with the others on what must be the same everywhere: the repeat rate
(summed counts), the trained items (an all-reduced maximum), the repeat time buckets (the
smallest lower and largest upper edge), and the steps per epoch: the most batches any replica
has. A replica that has run out of batches steps on a placeholder batch of weight 0, so every
window is trained on exactly once per epoch, none is dropped or repeated, and the
``DistributedDataParallel`` all-reduces stay matched (the last steps of an uneven epoch then
have a smaller global batch). Validation NDCG is summed over every replica's own validation
users. At the end rank 0 gathers every user's events (tensors, ``Replicas.gather_to_root``) for
the fitted sequences and ``seen_``; the other replicas keep their own.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..._distributed import Replicas, data_fingerprint
from ..._utils import Progress
from ...base import _binary_csr
from ...data import Interactions, LiveSchedule
from .data import (
    Batch,
    FlatSequences,
    TimeBuckets,
    epoch_windows,
    gather_batch,
    length_batches,
    live_mask,
    repeat_gaps,
)
from .losses import LossSettings, batch_loss, target_mass
from .network import SequenceEncoder

if TYPE_CHECKING:
    from .estimator import SequentialTransformer

_log = logging.getLogger(__name__)


@dataclass
class _Split:
    """Every user's events (``full``), the training part and the held-out validation users."""

    full: FlatSequences
    train: FlatSequences
    val_users: np.ndarray  # users whose last event of ``full`` is held out
    users: np.ndarray  # users with at least two training events (the ones windows come from)
    trained: np.ndarray  # (n_items,) bool: items with a training event


@dataclass
class _Clock:
    """Steps taken and time spent: the position in the learning-rate schedule, the time limit."""

    total_steps: int
    time_limit: float | None
    t0: float = field(default_factory=time.perf_counter)
    step: int = 0
    #: seconds elapsed as agreed by the replicas at the current step (rank 0's); ``None``: own clock
    shared: float | None = None

    def elapsed(self) -> float:
        return self.shared if self.shared is not None else time.perf_counter() - self.t0

    def fraction(self) -> float:
        """Fraction of training done: of the steps, or of the time limit when further along."""
        frac = self.step / self.total_steps
        if self.time_limit is not None:
            frac = max(frac, self.elapsed() / float(self.time_limit))
        return frac

    def out_of_time(self) -> bool:
        return self.time_limit is not None and self.elapsed() > float(self.time_limit)


@dataclass
class _EarlyStopping:
    """Best validation NDCG so far, its weights and the evaluations since it improved."""

    patience: int | None
    best: float = -np.inf
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    bad_rounds: int = 0

    def update(self, val: float | None, epoch: int, net: SequenceEncoder) -> bool:
        """Record one epoch's validation score; ``True`` when training should stop."""
        if val is None:  # no validation: the last epoch is the best
            self.best_epoch = epoch
            return False
        if val > self.best:
            self.best, self.bad_rounds, self.best_epoch = val, 0, epoch
            self.best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return False
        self.bad_rounds += 1
        return self.patience is not None and self.bad_rounds >= int(self.patience)


@dataclass
class _Loop:
    """What every step of a ``fit`` shares."""

    model: SequentialTransformer
    net: SequenceEncoder
    opt: torch.optim.Optimizer
    split: _Split
    losses: LossSettings
    rng: np.random.Generator
    clock: _Clock
    amp: bool
    #: computes a batch's loss: ``_LossModule`` around ``net``, in ``DistributedDataParallel``
    #: when data-parallel
    runner: Any = None
    replicas: Replicas | None = None
    #: draws the sampled losses' negatives (``rng`` alone; a per-rank stream when data-parallel,
    #: so that ``rng`` draws the same windows on every replica)
    loss_rng: np.random.Generator | None = None
    #: windows per step: the global batch (``batch_size`` per replica) when replicated, the
    #: replica's own batch on user shards
    batch_size: int = 1
    #: each replica holds its own users' events (``distributed_data="sharded"``)
    sharded: bool = False
    #: the sampled softmax of the first ``sampled_warmup`` of training (``None``: none)
    warm_losses: LossSettings | None = None


class _LossModule(torch.nn.Module):
    """``batch_loss`` as a module, so that ``DistributedDataParallel`` sees the whole forward."""

    def __init__(self, net: SequenceEncoder) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: Batch, rng: np.random.Generator, cfg: LossSettings) -> tuple[torch.Tensor, int]:
        return batch_loss(self.net, batch, rng, cfg)


def train(model: SequentialTransformer, X: Interactions, schedule: LiveSchedule | None,
          features: np.ndarray | None, n_items: int, rng: np.random.Generator,
          replicas: Replicas | None = None, sharded: bool = False) -> None:
    """Fit ``model`` (its fitted attributes, ``net_`` included) to ``X``; data-parallel with
    ``replicas``, on disjoint user shards (``X`` in the union maps) when ``sharded``."""
    dev = model._torch_device()
    shard = replicas if sharded else None
    if replicas is not None:
        dev = replicas.device(dev)
        if shard is None:
            replicas.check_same_data(type(model).__name__, data_fingerprint(
                len(X), X.n_users, X.n_items, X.user_codes, X.item_codes, X.time), shards_ok=True)
    if shard is not None:  # this replica's own stream for all it draws from its own data
        rng = rng.spawn(shard.world_size)[shard.rank]
    split = _split(model, X, n_items, rng, shard)
    model.trained_items_ = split.trained
    model.time_buckets_ = None
    if model.repeat_aware:
        model.time_buckets_ = _time_buckets(split.train, int(model.n_time_buckets), shard)
    model._live_training = schedule is not None and bool(model.availability)
    model._schedule_train = schedule
    net = _network(model, features, n_items, split.trained, dev)
    model.net_ = net
    model._cache = None
    opt = torch.optim.AdamW(net.parameters(), lr=float(model.learning_rate),
                            weight_decay=float(model.weight_decay))
    amp = dev.type == "cuda" and torch.cuda.is_bf16_supported()
    losses = _loss_settings(model, split.trained, n_items, dev)
    batch_size = int(model.batch_size) * (1 if replicas is None or sharded else replicas.world_size)
    n_batches = len(length_batches(epoch_windows(split.train, split.users, int(model.max_len), rng,
                                                 model.windows)[1], batch_size, rng))
    if shard is not None:  # every replica takes the steps of the one with the most batches
        n_batches = int(shard.all_max([n_batches])[0])
    clock = _Clock(max(1, n_batches) * int(model.n_epochs), model.time_limit)
    runner: Any = _LossModule(net)
    loss_rng = rng
    if replicas is not None:
        runner = replicas.wrap(runner, dev)
        if shard is None:
            loss_rng = rng.spawn(replicas.world_size)[replicas.rank]  # spawning draws nothing from rng
    warm = None
    if model.loss == "ce" and float(model.sampled_warmup) > 0:
        warm = dataclasses.replace(losses, loss="sampled_ce", correct_sampling=True)
    stopper = _run_epochs(_Loop(model, net, opt, split, losses, rng, clock, amp, runner, replicas, loss_rng,
                                batch_size, sharded, warm))
    if stopper.best_state is not None:
        net.load_state_dict(stopper.best_state)
    net.eval()
    model._cache = None
    model.best_epoch_ = stopper.best_epoch
    model.n_epochs_ = len(model.history_)
    model.fit_seconds_ = time.perf_counter() - clock.t0
    model.best_val_ndcg_ = None if not np.isfinite(stopper.best) else float(stopper.best)
    if shard is not None:
        _gather_sequences(model, split.full, shard)


def _gather_sequences(model: SequentialTransformer, full: FlatSequences, shard: Replicas) -> None:
    """Every user's events on rank 0 (the saved model's sequences and ``seen_``); the other
    replicas keep their own users' and mark them in ``local_users_``."""
    n_users, n_items = len(model.users_), len(model.items_)
    users = np.repeat(np.arange(n_users, dtype=np.int64), full.lengths)
    codes = shard.gather_to_root(np.stack([users, full.items.astype(np.int64)], axis=1))
    times = shard.gather_to_root(full.times)
    if codes is not None and times is not None:  # rank 0
        # each user's events come from one replica, in time order: a stable sort keeps it
        order = np.argsort(codes[:, 0], kind="stable")
        users, items, at = codes[order, 0], codes[order, 1], times[order]
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
        model.seq_items_, model.seq_times_, model.seq_indptr_ = items, at, indptr
        model.median_gap_ = _median_gap(at, indptr)
    else:
        items = full.items
        model.local_users_ = full.lengths > 0
    model.median_gap_ = float(shard.broadcast_floats([model.median_gap_])[0])
    model.seen_ = _binary_csr(users, items, (n_users, n_items))


# Data ---------------------------------------------------------------------------------------
def loss_weights(X: Interactions, weighting: str) -> np.ndarray:
    """Loss weight of each event as a target (``loss_weighting``)."""
    w = np.ones(len(X), dtype=np.float64)
    if weighting in ("event", "event_weight"):
        w = w * X.event_weights()
    if weighting in ("weight", "event_weight") and X.weight is not None:
        w = w * np.log1p(np.maximum(X.weight, 0.0))
    return w.astype(np.float32)


def _median_gap(times: np.ndarray, indptr: np.ndarray) -> float:
    """Median time between a user's consecutive events (1 when no user has two)."""
    counts = np.diff(indptr)
    gaps = np.diff(times)[np.diff(np.repeat(np.arange(len(counts)), counts)) == 0]
    return float(np.median(gaps)) if len(gaps) else 1.0


def _time_buckets(train_seq: FlatSequences, n_buckets: int, shard: Replicas | None) -> TimeBuckets:
    """Repeat time buckets; on user shards from the smallest lower and largest upper edge that
    any shard's gaps give (``TimeBuckets.fit`` on one shard)."""
    gaps = repeat_gaps(train_seq)
    if shard is None:
        return TimeBuckets.fit(gaps, n_buckets)
    gaps = gaps[np.isfinite(gaps) & (gaps > 0)]
    lo, hi = (np.quantile(gaps, [0.01, 1.0]) if len(gaps) else (np.inf, -np.inf))
    lo, hi = float(shard.all_min([lo])[0]), float(shard.all_max([hi])[0])
    if not np.isfinite(lo):  # no repeat anywhere
        lo, hi = 1.0, 2.0
    lo = max(lo, 1e-9)
    return TimeBuckets(np.geomspace(lo, max(hi, lo * 2), n_buckets - 1))


def _split(model: SequentialTransformer, X: Interactions, n_items: int, rng: np.random.Generator,
           shard: Replicas | None = None) -> _Split:
    """Every user's sequence (kept on ``model`` for scoring) and the validation split (on user
    shards: this shard's, with the repeat rate and trained items agreed by all)."""
    order = X.sort_order()
    counts = np.bincount(X.user_codes, minlength=len(model.users_))
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    full = FlatSequences(X.item_codes[order].copy(), X.time[order].copy(),
                         loss_weights(X, model.loss_weighting)[order], indptr)
    model.seq_items_, model.seq_times_, model.seq_indptr_ = full.items, full.times, full.indptr
    model.median_gap_ = _median_gap(full.times, indptr)  # on user shards, rank 0's after the gather
    # repeat rate decides the validation protocol: seen items excluded when repeats are rare
    n_pairs, n_events = len(np.unique(X.user_codes * np.int64(n_items) + X.item_codes)), len(X)
    if shard is not None:  # users are disjoint: so are their (user, item) pairs
        n_pairs, n_events = (int(v) for v in shard.all_sum([n_pairs, n_events]))
    model.repeat_rate_ = float(1.0 - n_pairs / n_events)

    size = model.validation_size
    if shard is not None and isinstance(size, numbers.Integral):  # a count: this shard's part of it
        size = len(np.array_split(np.arange(int(size)), shard.world_size)[shard.rank])
    val_users = _validation_users(full.lengths, size, rng)
    keep = np.ones(len(full.items), dtype=bool)
    keep[indptr[val_users + 1] - 1] = False
    tcounts = counts.copy()
    tcounts[val_users] -= 1
    tindptr = np.zeros_like(indptr)
    np.cumsum(tcounts, out=tindptr[1:])
    train_seq = FlatSequences(full.items[keep], full.times[keep], full.weights[keep], tindptr)
    trained = np.zeros(n_items, dtype=bool)
    trained[train_seq.items] = True
    if shard is not None:  # trained anywhere
        trained = shard.all_max(trained.astype(np.float64)) > 0
    return _Split(full, train_seq, val_users, np.flatnonzero(train_seq.lengths >= 2), trained)


def _validation_users(lengths: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """Users (with at least 3 events) whose last event is held out: ``size`` is a count or a fraction."""
    eligible = np.flatnonzero(lengths >= 3)
    n_val = int(size) if isinstance(size, numbers.Integral) else int(round(float(size) * len(eligible)))
    n_val = min(max(n_val, 0), len(eligible))
    return np.sort(rng.choice(eligible, n_val, replace=False)) if n_val else np.zeros(0, dtype=np.int64)


# Network and loss -----------------------------------------------------------------------------
def _network(model: SequentialTransformer, features: np.ndarray | None, n_items: int, trained: np.ndarray,
             dev: torch.device) -> SequenceEncoder:
    """A freshly initialised network on ``dev`` (cold items start from their features alone)."""
    net = SequenceEncoder(n_items, int(model.embedding_dim), int(model.n_layers), int(model.n_heads),
                          float(model.dropout), int(model.max_len),
                          0 if features is None else features.shape[1],
                          0 if model.time_buckets_ is None else model.time_buckets_.n_buckets)
    if features is not None:
        with torch.no_grad():
            net.features[1:] = torch.from_numpy(features)
            net.item_emb.weight[1:][torch.from_numpy(~trained)] = 0.0
    net.to(dev)
    return net


def _loss_settings(model: SequentialTransformer, trained: np.ndarray, n_items: int,
                   dev: torch.device) -> LossSettings:
    return LossSettings(
        loss=model.loss, n_items=n_items, n_negatives=int(model.n_negatives),
        target_horizon=int(model.target_horizon), horizon_decay=float(model.horizon_decay),
        live_codes=model._live_codes if model._live_training else None,
        pool=np.flatnonzero(trained), time_buckets=model.time_buckets_,
        cold=torch.from_numpy(~trained).to(dev) if not trained.all() else None, device=dev,
        matmul_dtype=torch.bfloat16 if model.output_precision == "bfloat16" else None)


def lr_factor(frac: float, warmup: float, schedule: str) -> float:
    """Learning rate relative to its peak after ``frac`` of training: linear warmup, then
    ``schedule`` (``"cosine"``, ``"linear"`` or ``"constant"``) decay."""
    w = float(warmup)
    if frac < w:
        return (frac + 1e-3) / w
    if schedule == "constant":
        return 1.0
    p = min(1.0, (frac - w) / max(1e-9, 1.0 - w))
    if schedule == "linear":
        return max(0.0, 1.0 - p) + 1e-3
    return 0.5 * (1.0 + math.cos(math.pi * p)) + 1e-3


# Epochs ---------------------------------------------------------------------------------------
def _run_epochs(loop: _Loop) -> _EarlyStopping:
    """Train epoch after epoch until ``n_epochs``, early stopping or the time limit."""
    model = loop.model
    stopper = _EarlyStopping(model.patience)
    shown = bool(model.verbose) and (loop.replicas is None or loop.replicas.rank == 0)
    progress_bar = Progress(int(model.n_epochs), "SequentialTransformer", "epoch", shown, _log)
    model.history_ = []
    for epoch in range(1, int(model.n_epochs) + 1):
        e0 = time.perf_counter()
        loss_sum, tgt_sum, out_of_time = _train_epoch(loop)
        if loop.replicas is not None:  # the global batch's loss per target
            summed = loop.replicas.all_sum([loss_sum, tgt_sum])
            loss_sum, tgt_sum = float(summed[0]), int(summed[1])
        model._cache = None
        val = _validate(loop)
        rec = {"epoch": epoch, "loss": loss_sum / max(tgt_sum, 1), "val_ndcg": val,
               "seconds": time.perf_counter() - e0, "targets": int(tgt_sum)}
        model.history_.append(rec)
        progress_bar.update(1, loss=rec["loss"], val_ndcg=rec["val_ndcg"])
        stop = stopper.update(val, epoch, loop.net) or out_of_time
        if loop.replicas is not None:
            stop = loop.replicas.broadcast_flag(stop)  # decided once, by rank 0
        if stop:
            break
    progress_bar.close()
    return stopper


def _train_epoch(loop: _Loop) -> tuple[float, int, bool]:
    """One pass over freshly drawn windows: (loss sum, targets, whether time ran out)."""
    if loop.sharded:
        return _train_shard_epoch(loop)
    model = loop.model
    loop.net.train()
    starts, wlens = epoch_windows(loop.split.train, loop.split.users, int(model.max_len), loop.rng, model.windows)
    loss_sum, tgt_sum = 0.0, 0
    for bidx in length_batches(wlens, loop.batch_size, loop.rng):
        own = bidx if loop.replicas is None else loop.replicas.shard(bidx)
        # a replica whose part of a short last batch is empty steps on one window with weight 0
        take = own if len(own) else bidx[:1]
        batch = gather_batch(loop.split.train, starts[take], wlens[take], int(model.target_horizon))
        loss, n_t = _step(loop, batch, counts=len(own) > 0)
        if len(own):
            loss_sum += float(loss.detach()) * n_t
            tgt_sum += n_t
        if loop.clock.out_of_time():
            return loss_sum, tgt_sum, True
    return loss_sum, tgt_sum, False


def _train_shard_epoch(loop: _Loop) -> tuple[float, int, bool]:
    """One pass over this replica's own windows, in as many steps as the replica with the most
    batches takes (zero-weight placeholder steps once this one's windows are used up)."""
    model, rep, train_seq = loop.model, loop.replicas, loop.split.train
    assert rep is not None
    horizon = int(model.target_horizon)
    loop.net.train()
    starts, wlens = epoch_windows(train_seq, loop.split.users, int(model.max_len), loop.rng, model.windows)
    batches = length_batches(wlens, loop.batch_size, loop.rng)
    n_steps = int(rep.all_max([len(batches)])[0])
    loss_sum, tgt_sum = 0.0, 0
    for s in range(n_steps):
        mine = s < len(batches)
        if mine:
            batch = gather_batch(train_seq, starts[batches[s]], wlens[batches[s]], horizon)
        elif batches:  # one of this replica's windows, weighted 0
            batch = gather_batch(train_seq, starts[batches[0][:1]], wlens[batches[0][:1]], horizon)
        else:  # a replica without windows: a two-event window of a trained item, weighted 0
            code = int(loop.losses.pool[0]) if len(loop.losses.pool) else 0
            dummy = FlatSequences(np.array([code, code], dtype=np.int64), np.zeros(2), np.ones(2, dtype=np.float32),
                                  np.array([0, 2], dtype=np.int64))
            batch = gather_batch(dummy, np.array([0]), np.array([2]), horizon)
        loss, n_t = _step(loop, batch, counts=mine)
        if mine:
            loss_sum += float(loss.detach()) * n_t
            tgt_sum += n_t
        if loop.clock.out_of_time():  # the clock is rank 0's: every replica stops at this step
            return loss_sum, tgt_sum, True
    return loss_sum, tgt_sum, False


def _replica_scale(loop: _Loop, batch: Batch, counts: bool, losses: LossSettings) -> float:
    """Data-parallel: share the clock (rank 0's) and the batch's target weight; the factor
    that turns this replica's mean loss into its part of the global batch's mean loss
    (``DistributedDataParallel`` averages the replicas' gradients)."""
    assert loop.replicas is not None
    rep = loop.replicas
    mass = target_mass(batch, losses) if counts else 0.0
    total, elapsed = rep.all_sum([mass, loop.clock.elapsed() if rep.rank == 0 else 0.0])
    loop.clock.shared = float(elapsed)
    return rep.world_size * mass / max(float(total), 1e-12)


def _step(loop: _Loop, batch: Batch, counts: bool = True) -> tuple[torch.Tensor, int]:
    """One optimiser step on ``batch``: its loss and number of targets (``counts=False``: a
    placeholder batch of a replica with no windows in this step, weight 0)."""
    model, net, opt = loop.model, loop.net, loop.opt
    # the clock is the replicas' shared one from the previous step: all choose the same loss
    losses = loop.losses
    if loop.warm_losses is not None and loop.clock.fraction() < float(model.sampled_warmup):
        losses = loop.warm_losses
    scale = None if loop.replicas is None else _replica_scale(loop, batch, counts, losses)
    for g in opt.param_groups:
        g["lr"] = float(model.learning_rate) * lr_factor(loop.clock.fraction(), model.warmup, model.lr_schedule)
    with torch.autocast(device_type=loop.losses.device.type, dtype=torch.bfloat16, enabled=loop.amp):
        out: tuple[torch.Tensor, int] = loop.runner(batch, loop.loss_rng, losses)
    loss, n_t = out
    opt.zero_grad(set_to_none=True)
    objective = loss if scale is None else loss * scale
    objective.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
    if model.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(net.parameters(), float(model.grad_clip))
    opt.step()
    loop.clock.step += 1
    return loss, n_t


# Validation -----------------------------------------------------------------------------------
def _validate(loop: _Loop) -> float | None:
    """Validation NDCG@10 (``None`` without validation users); data-parallel, each replica
    scores its part of the users and the sums are shared."""
    model, full, users = loop.model, loop.split.full, loop.split.val_users
    if loop.sharded:  # every replica scores its own validation users
        assert loop.replicas is not None
        gains = ndcg_gains(model, full, users) if len(users) else np.zeros(0)
        total, count = loop.replicas.all_sum([float(gains.sum()), len(gains)])
        return None if count == 0 else float(total / count)
    if not len(users):
        return None
    if loop.replicas is None:
        return validation_ndcg(model, full, users)
    part = loop.replicas.shard(users)
    gains = ndcg_gains(model, full, part) if len(part) else np.zeros(0)
    total, count = loop.replicas.all_sum([float(gains.sum()), len(gains)])
    return float(total / count)


def validation_ndcg(model: SequentialTransformer, full: FlatSequences, val_users: np.ndarray) -> float:
    """NDCG@10 of each validation user's held-out last event (full ranking)."""
    return float(np.mean(ndcg_gains(model, full, val_users)))


def ndcg_gains(model: SequentialTransformer, full: FlatSequences, val_users: np.ndarray) -> np.ndarray:
    """NDCG@10 gain of each validation user's held-out last event (full ranking)."""
    ends = full.indptr[val_users + 1] - 1
    target = full.items[ends]
    at = full.times[ends]
    ranks = []
    for s in range(0, len(val_users), 512):
        sl = slice(s, s + 512)
        histories = [(full.items[full.indptr[u]:e], full.times[full.indptr[u]:e])
                     for u, e in zip(val_users[sl], ends[sl], strict=True)]
        ranks.append(_target_ranks(model, histories, at[sl], target[sl]))
    rank = np.concatenate(ranks)
    gains: np.ndarray = np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0)
    return gains


def _target_ranks(model: SequentialTransformer, histories: list[tuple[np.ndarray, np.ndarray]], at: np.ndarray,
                  target: np.ndarray) -> np.ndarray:
    """Rank of each target among the items live at ``at`` (seen ones excluded when repeats are rare)."""
    sc = model._score_sequences(histories, at)
    rows = torch.arange(len(histories))
    tscore = sc[rows, torch.from_numpy(target)].clone()
    if model._live_training:
        sc = sc.masked_fill(~torch.from_numpy(live_mask(*model._live_codes(at), sc.shape[1])), -torch.inf)
    if model.repeat_rate_ < 0.05:  # repeats are rare: the usual protocol excludes seen items
        seen_rows = np.repeat(np.arange(len(histories)), [len(h[0]) for h in histories])
        seen_cols = np.concatenate([h[0] for h in histories])
        sc[torch.from_numpy(seen_rows), torch.from_numpy(seen_cols)] = -torch.inf
    ranks: np.ndarray = (sc > tscore[:, None]).sum(1).numpy()
    return ranks
