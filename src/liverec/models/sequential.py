"""``SequentialTransformer``: a live-aware, repeat-aware SASRec-family recommender."""

from __future__ import annotations

import math
import numbers
import time as _time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .._params import Device, Interval, Options
from .._runtime import resolve_device, torch_threads
from .._utils import Progress
from ..base import BaseRecommender, History
from ..data import Interactions, LiveSchedule
from ..exceptions import DataValidationError, InvalidParameterError, PersistenceError
from ..persistence import StateArrays, expect_array, expect_attribute, expect_csr, register
from ._sequential_data import (
    FlatSequences,
    TimeBuckets,
    epoch_windows,
    gather_batch,
    last_occurrence_pairs,
    length_batches,
    sample_live,
)

_LOSSES = ("ce", "sampled_ce", "bce")
_SCHEDULES = ("cosine", "linear", "constant")
_WEIGHTINGS = ("none", "event", "weight", "event_weight")
#: rows per chunk of the fused cross-entropy: ~512 x n_items logits stay in cache
_CE_CHUNK = 512


@register
class SequentialTransformer(BaseRecommender):
    """A causal Transformer over each user's event sequence (the SASRec family).

    Each event is an item embedding (plus a projection of the item's features, when given)
    plus a learned position; pre-LayerNorm causal self-attention blocks turn the sequence into
    one hidden state per position, and the score of an item is the dot product of the last
    hidden state with the item's embedding (the output layer is tied to the input embeddings).
    Training predicts every next event of every training window at once.

    Live streaming adds three things, all optional:

    * **Availability.** Given a ``LiveSchedule`` in ``fit``, the training softmax (``"ce"``)
      is restricted to the items live at each target's time and sampled negatives
      (``"sampled_ce"``, ``"bce"``) are drawn from them, as in LiveRec (Rappaz et al., RecSys
      2021); ``recommend(..., at=t)`` ranks only what is live at ``t``.
    * **Repeat consumption** (``repeat_aware=True``): a learned embedding of the
      log-bucketed time since the user last consumed each candidate (bucket 0 = never) is
      added to the candidate's embedding when it is scored, so the model learns how likely
      viewers return to a streamer after an hour, a day or a week.
    * **Cold start.** ``item_features`` (e.g. text embeddings of stream titles) are projected
      and added to the item embeddings; items that appear only in ``item_features`` (never in
      the interactions) join the catalogue and are scored from their features.
      ``recommend(user, history=[...])`` scores a new user from their recent events without
      refitting.

    Args:
        max_len: Longest history the model reads (older events are cut off).
        embedding_dim: Width of the item embeddings and hidden states.
        n_layers: Number of Transformer blocks.
        n_heads: Attention heads per block (must divide ``embedding_dim``).
        dropout: Dropout on embeddings, attention and feed-forward layers.
        loss: ``"ce"``: full softmax cross-entropy over the catalogue (the strongest,
            Klenitskiy & Vasilev 2023). ``"sampled_ce"``: softmax over the target and
            ``n_negatives`` sampled items (cheaper for huge catalogues). ``"bce"``: binary
            cross-entropy against ``n_negatives`` sampled items (the original SASRec).
        n_negatives: Negatives per target for the sampled losses.
        n_epochs: Maximum passes over the training windows.
        batch_size: Training windows per step.
        learning_rate: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup: Fraction of training spent warming the learning rate up linearly.
        lr_schedule: Decay after warmup: ``"cosine"``, ``"linear"`` or ``"constant"``.
        grad_clip: Maximum gradient norm (``None`` to disable).
        windows: ``"random"``: each epoch, every user's latest window plus randomly placed
            windows over the rest of a long history (about one pass over all events);
            ``"last"``: only each user's latest ``max_len + 1`` events.
        patience: Stop after this many evaluations without a better validation NDCG@10 and
            restore the best weights (``None``: train all epochs, no early stopping).
        validation_size: Users whose last event is held out for early stopping: a fraction
            (float) or a count (int). ``0`` disables validation.
        repeat_aware: Add the repeat-consumption embedding.
        n_time_buckets: Buckets of the time since last consumption (log scale).
        availability: With a schedule, restrict training negatives to live items.
        loss_weighting: Weight each target in the loss by ``"event"`` worth (purchase >
            view, see ``Interactions.event_weights``), by ``"weight"`` (``log1p`` of watch
            time or amount), by both (``"event_weight"``) or not at all (``"none"``).
        target_horizon: With ``loss="ce"``, each position learns the next ``target_horizon``
            events, not only the next one: the ``k``-th event ahead has weight
            ``horizon_decay ** (k - 1)``. A denser signal per window, meant for data where the
            order within a session is arbitrary or logs drop events (on ML-1M it gave no
            measurable gain). ``1`` is plain next-item training.
        horizon_decay: Weight ratio between consecutive horizon targets, in ``(0, 1]``.
        time_limit: Stop training after this many seconds (the learning-rate schedule then
            follows elapsed time, so it still decays to the end). ``None``: no limit.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...; an
            explicit ``"cuda"`` without a GPU falls back to the CPU with a warning.
        random_state: Seed for initialisation, sampling and dropout.
        threads: CPU threads for torch during ``fit`` (``None``: all usable cores, as in every
            model); the caller's setting is restored afterwards.
        verbose: Show a progress bar (tqdm when installed) with loss and validation NDCG.

    Attributes:
        history_: One dict per epoch: ``epoch``, ``loss``, ``val_ndcg`` (or ``None``),
            ``seconds``, ``targets``.
        best_epoch_: The epoch whose weights were kept.
        n_epochs_: Epochs run.
        fit_seconds_: Wall time of training.

    Examples:
        >>> from liverec.data import Interactions
        >>> X = Interactions.from_arrays(user=[1, 1, 1, 2, 2, 2], item=["a", "b", "c", "a", "b", "c"],
        ...                              time=[1, 2, 3, 1, 2, 3])
        >>> model = SequentialTransformer(embedding_dim=16, n_epochs=40, learning_rate=5e-3,
        ...                               validation_size=0, random_state=0, verbose=False).fit(X)
        >>> model.recommend(3, k=1, history=["a", "b"]).items.tolist()
        [['c']]
    """

    #: every scoring call returns a newly computed tensor, so ``recommend`` may write into it
    _fresh_scores = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_len": [Interval(numbers.Integral, 1, None, closed="left")],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss": [Options(_LOSSES)],
        "n_negatives": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "warmup": [Interval(numbers.Real, 0, 1, closed="left")],
        "lr_schedule": [Options(_SCHEDULES)],
        "grad_clip": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "windows": [Options(("random", "last"))],
        "patience": [Interval(numbers.Integral, 1, None, closed="left"), None],
        # a count of users (int) or a fraction of the eligible users (float below 1)
        "validation_size": [Interval(numbers.Integral, 0, None, closed="left"),
                            Interval(numbers.Real, 0, 1, closed="left")],
        "repeat_aware": [bool],
        "n_time_buckets": [Interval(numbers.Integral, 1, None, closed="left")],
        "availability": [bool],
        "loss_weighting": [Options(_WEIGHTINGS)],
        "target_horizon": [Interval(numbers.Integral, 1, None, closed="left")],
        "horizon_decay": [Interval(numbers.Real, 0, 1, closed="right")],
        "time_limit": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "device": [Device()],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": [bool],
    }

    def __init__(
        self,
        max_len: int = 200,
        embedding_dim: int = 64,
        n_layers: int = 2,
        n_heads: int = 1,
        dropout: float = 0.2,
        loss: str = "ce",
        n_negatives: int = 256,
        n_epochs: int = 100,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        warmup: float = 0.02,
        lr_schedule: str = "cosine",
        grad_clip: float | None = 1.0,
        windows: str = "random",
        patience: int | None = 5,
        validation_size: float = 0.1,
        repeat_aware: bool = False,
        n_time_buckets: int = 32,
        availability: bool = True,
        loss_weighting: str = "none",
        target_horizon: int = 1,
        horizon_decay: float = 0.5,
        time_limit: float | None = None,
        device: str = "auto",
        random_state: int | None = None,
        threads: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.max_len = max_len
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.loss = loss
        self.n_negatives = n_negatives
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.lr_schedule = lr_schedule
        self.grad_clip = grad_clip
        self.windows = windows
        self.patience = patience
        self.validation_size = validation_size
        self.repeat_aware = repeat_aware
        self.n_time_buckets = n_time_buckets
        self.availability = availability
        self.loss_weighting = loss_weighting
        self.target_horizon = target_horizon
        self.horizon_decay = horizon_decay
        self.time_limit = time_limit
        self.device = device
        self.random_state = random_state
        self.threads = threads
        self.verbose = verbose

    # Validation of hyper-parameters ------------------------------------------------------------
    def _validate_param_relations(self) -> None:
        name = type(self).__name__
        if self.embedding_dim % self.n_heads:
            raise InvalidParameterError(
                f"{name}: n_heads ({self.n_heads}) must divide embedding_dim ({self.embedding_dim}); "
                "change one of them.")
        if self.target_horizon > 1 and self.loss != "ce":
            raise InvalidParameterError(
                f"{name}: target_horizon={self.target_horizon} needs loss='ce' (got {self.loss!r}); "
                "use target_horizon=1 with the sampled losses.")
        if self.repeat_aware and self.n_time_buckets < 2:
            raise InvalidParameterError(
                f"{name}: repeat_aware=True needs n_time_buckets >= 2, got {self.n_time_buckets}.")

    def _torch_device(self) -> Any:
        return resolve_device(self.device)

    # Fitting ---------------------------------------------------------------------------------
    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any,
             text: Any) -> None:
        import torch

        features = self._align_features(item_features)
        n_items = len(self.items_)
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(2**31 - 1))
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch_threads(self.threads), torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            self._train(interactions, schedule, features, n_items, rng)

    def _align_features(self, item_features: Any) -> np.ndarray | None:
        """Item features as a float32 matrix aligned to ``self.items_`` (which may grow)."""
        if item_features is None:
            return None
        ids = None
        if isinstance(item_features, Mapping):
            ids = np.asarray(list(item_features.keys()))
            mat = np.asarray([np.asarray(v, dtype=np.float32) for v in item_features.values()])
        elif isinstance(item_features, tuple) and len(item_features) == 2:
            ids = np.asarray(item_features[0])
            mat = np.asarray(item_features[1])
        elif hasattr(item_features, "index") and hasattr(item_features, "to_numpy"):
            ids = np.asarray(item_features.index)
            mat = item_features.to_numpy()
        else:
            mat = np.asarray(item_features)
        try:
            mat = np.asarray(mat, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise DataValidationError(f"item_features must be numeric: {err}") from err
        if mat.ndim != 2:
            raise DataValidationError(
                f"item_features must be a 2-D matrix (one row per item), got shape {mat.shape}.")
        if not np.isfinite(mat).all():
            raise DataValidationError("item_features contains NaN or infinite values; fill or drop them.")
        n_known = len(self.items_)
        if ids is None:
            if len(mat) != n_known:
                raise DataValidationError(
                    f"item_features has {len(mat)} rows but the interactions have {n_known} items; "
                    "pass one row per item in the order of interactions.items, or (ids, matrix) / "
                    "a dict id -> vector to align by id (and to add items not in the interactions).")
            return mat
        if len(ids) != len(mat):
            raise DataValidationError(f"item_features: {len(ids)} ids for {len(mat)} rows.")
        self.items_ = self.items_.extend(ids)
        out = np.zeros((len(self.items_), mat.shape[1]), dtype=np.float32)
        out[self.items_.codes(ids)] = mat
        return out

    def _loss_weights(self, X: Interactions) -> np.ndarray:
        w = np.ones(len(X), dtype=np.float64)
        if self.loss_weighting in ("event", "event_weight"):
            w = w * X.event_weights()
        if self.loss_weighting in ("weight", "event_weight") and X.weight is not None:
            w = w * np.log1p(np.maximum(X.weight, 0.0))
        return w.astype(np.float32)

    def _train(self, X: Interactions, schedule: LiveSchedule | None, features: np.ndarray | None,
               n_items: int, rng: np.random.Generator) -> None:
        import torch

        from ._sequential_net import SequenceEncoder

        dev = self._torch_device()
        order = X.sort_order()
        counts = np.bincount(X.user_codes, minlength=len(self.users_))
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        full = FlatSequences(X.item_codes[order].copy(), X.time[order].copy(),
                             self._loss_weights(X)[order], indptr)
        self.seq_items_, self.seq_times_, self.seq_indptr_ = full.items, full.times, full.indptr
        lengths = full.lengths
        gaps = np.diff(full.times)[np.diff(np.repeat(np.arange(len(counts)), counts)) == 0]
        self.median_gap_ = float(np.median(gaps)) if len(gaps) else 1.0
        # repeat rate decides the validation protocol: seen items excluded when repeats are rare
        n_pairs = len(np.unique(X.user_codes * np.int64(n_items) + X.item_codes))
        self.repeat_rate_ = float(1.0 - n_pairs / len(X))

        # validation split: the last event of some users
        eligible = np.flatnonzero(lengths >= 3)
        vs = self.validation_size
        n_val = int(vs) if isinstance(vs, numbers.Integral) else int(round(float(vs) * len(eligible)))
        n_val = min(max(n_val, 0), len(eligible))
        val_users = np.sort(rng.choice(eligible, n_val, replace=False)) if n_val else np.zeros(0, dtype=np.int64)
        keep = np.ones(len(full.items), dtype=bool)
        keep[indptr[val_users + 1] - 1] = False
        tcounts = counts.copy()
        tcounts[val_users] -= 1
        tindptr = np.zeros_like(indptr)
        np.cumsum(tcounts, out=tindptr[1:])
        train = FlatSequences(full.items[keep], full.times[keep], full.weights[keep], tindptr)
        trained = np.zeros(n_items, dtype=bool)
        trained[train.items] = True
        self.trained_items_ = trained

        self.time_buckets_: TimeBuckets | None = None
        if self.repeat_aware:
            self.time_buckets_ = TimeBuckets.fit(_repeat_gaps(train, n_items), int(self.n_time_buckets))
        self._live_training = schedule is not None and bool(self.availability)
        self._schedule_train = schedule

        net = SequenceEncoder(n_items, int(self.embedding_dim), int(self.n_layers), int(self.n_heads),
                              float(self.dropout), int(self.max_len),
                              0 if features is None else features.shape[1],
                              0 if self.time_buckets_ is None else self.time_buckets_.n_buckets)
        if features is not None:
            with torch.no_grad():
                net.features[1:] = torch.from_numpy(features)
                net.item_emb.weight[1:][torch.from_numpy(~trained)] = 0.0
        net.to(dev)
        self.net_ = net
        self._cache: Any = None
        opt = torch.optim.AdamW(net.parameters(), lr=float(self.learning_rate),
                                weight_decay=float(self.weight_decay))
        amp = dev.type == "cuda" and torch.cuda.is_bf16_supported()
        cold = torch.from_numpy(~trained).to(dev) if not trained.all() else None

        users = np.flatnonzero(train.lengths >= 2)
        steps_per_epoch = max(1, len(length_batches(epoch_windows(train, users, int(self.max_len), rng,
                                                                  self.windows)[1], int(self.batch_size), rng)))
        total_steps = steps_per_epoch * int(self.n_epochs)
        progress_bar = Progress(int(self.n_epochs), "SequentialTransformer", "epoch", bool(self.verbose))
        best, best_state, bad_rounds = -np.inf, None, 0
        self.history_: list[dict[str, Any]] = []
        self.best_epoch_ = 0
        step, t0 = 0, _time.perf_counter()
        stop = False
        for epoch in range(1, int(self.n_epochs) + 1):
            net.train()
            e0 = _time.perf_counter()
            starts, wlens = epoch_windows(train, users, int(self.max_len), rng, self.windows)
            loss_sum, tgt_sum = 0.0, 0
            for bidx in length_batches(wlens, int(self.batch_size), rng):
                batch = gather_batch(train, starts[bidx], wlens[bidx], int(self.target_horizon))
                frac = step / total_steps
                if self.time_limit is not None:
                    frac = max(frac, (_time.perf_counter() - t0) / float(self.time_limit))
                for g in opt.param_groups:
                    g["lr"] = float(self.learning_rate) * self._lr_factor(frac)
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
                    loss, n_t = self._batch_loss(net, batch, n_items, rng, dev, cold)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), float(self.grad_clip))
                opt.step()
                step += 1
                loss_sum += float(loss.detach()) * n_t
                tgt_sum += n_t
                if self.time_limit is not None and _time.perf_counter() - t0 > float(self.time_limit):
                    stop = True
                    break
            self._cache = None
            val = self._validate(full, val_users) if n_val else None
            rec = {"epoch": epoch, "loss": loss_sum / max(tgt_sum, 1), "val_ndcg": val,
                   "seconds": _time.perf_counter() - e0, "targets": int(tgt_sum)}
            self.history_.append(rec)
            progress_bar.update(1, loss=rec["loss"], val_ndcg=rec["val_ndcg"])
            if val is not None:
                if val > best:
                    best, bad_rounds, self.best_epoch_ = val, 0, epoch
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    bad_rounds += 1
                    if self.patience is not None and bad_rounds >= int(self.patience):
                        stop = True
            else:
                self.best_epoch_ = epoch
            if stop:
                break
        progress_bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        self._cache = None
        self.n_epochs_ = len(self.history_)
        self.fit_seconds_ = _time.perf_counter() - t0
        self.best_val_ndcg_ = None if not np.isfinite(best) else float(best)

    def _lr_factor(self, frac: float) -> float:
        w = float(self.warmup)
        if frac < w:
            return (frac + 1e-3) / w
        if self.lr_schedule == "constant":
            return 1.0
        p = min(1.0, (frac - w) / max(1e-9, 1.0 - w))
        if self.lr_schedule == "linear":
            return max(0.0, 1.0 - p) + 1e-3
        return 0.5 * (1.0 + math.cos(math.pi * p)) + 1e-3

    def _batch_loss(self, net: Any, batch: Any, n_items: int, rng: np.random.Generator, dev: Any,
                    cold: Any) -> tuple[Any, int]:
        import torch
        import torch.nn.functional as F

        from ._sequential_net import ChunkedSoftmaxCE

        valid_np = batch.valid
        inputs = torch.from_numpy(batch.inputs).to(dev)
        valid = torch.from_numpy(valid_np).to(dev)
        items = net.item_matrix()
        h = net(inputs, items)[valid]
        tgt_np = batch.targets[valid_np]
        tgt = torch.from_numpy(tgt_np).to(dev)
        w = torch.from_numpy(batch.weights[valid_np]).to(dev)
        tau = batch.target_times[valid_np]
        n = len(tgt_np)
        rep = None
        if net.repeat_emb is not None:
            rep = self._train_repeat_pairs(batch, valid_np)
        item_w = items[1:]
        if self.loss == "ce":
            mask = None
            if self._live_training:
                mask = torch.from_numpy(self._live_mask(tau, n, n_items)).to(dev)
            if cold is not None:
                mask = ~cold.expand(n, -1) if mask is None else mask & ~cold
            # targets (n, horizon): the next event, then the later ones with decaying weight
            tgt_k = torch.cat([tgt[:, None], torch.from_numpy(batch.later_targets[valid_np]).to(dev)], 1)
            decay = float(self.horizon_decay) ** np.arange(1, int(self.target_horizon), dtype=np.float32)
            w_k = torch.cat([w[:, None], torch.from_numpy(batch.later_weights[valid_np] * decay).to(dev)], 1)
            if mask is not None:
                mask = mask.clone()
                mask.scatter_(1, tgt_k, True)
            if rep is None:
                # the common case: chunked, fused softmax + gradient (no (N, n_items) logits)
                return ChunkedSoftmaxCE.apply(h, item_w, tgt_k, w_k, mask, _CE_CHUNK), n  # type: ignore[no-untyped-call]
            rows, cols, buckets = rep
            hr = net.repeat_scores(h).float()
            r_t = torch.from_numpy(rows).to(dev)
            c_t = torch.from_numpy(cols).to(dev)
            logits = (h @ item_w.T).float()
            logits = logits.index_put((r_t, c_t), logits[r_t, c_t] + hr[r_t, torch.from_numpy(buckets).to(dev)]
                                      - hr[r_t, 0])
            if mask is not None:
                logits = logits.masked_fill(~mask, -torch.inf)
            logp = F.log_softmax(logits, dim=1).gather(1, tgt_k)
            return -(logp * w_k).sum() / w_k.sum().clamp_min(1e-12), n
        else:
            k = int(self.n_negatives)
            pool = np.flatnonzero(self.trained_items_)
            pos = (h * item_w[tgt]).sum(-1).float()
            if self._live_training:
                indptr, live = self._live_codes(tau)
                negs_np = sample_live(indptr, live, k, rng, n_items)
                negs = torch.from_numpy(negs_np).to(dev)
                neg = torch.einsum("nd,nkd->nk", h, item_w[negs]).float()
            else:
                negs_np = np.broadcast_to(pool[rng.integers(len(pool), size=k)], (n, k))
                negs = torch.from_numpy(np.ascontiguousarray(negs_np)).to(dev)
                neg = (h @ item_w[negs[0]].T).float()
            if rep is not None:
                rows, cols, buckets = rep
                hr = net.repeat_scores(h).float()
                lookup = _PairLookup(rows, cols, buckets, n_items)
                pos = pos + hr[torch.arange(n, device=dev),
                               torch.from_numpy(lookup(np.arange(n), tgt_np)).to(dev)] - hr[:, 0]
                nb = lookup(np.repeat(np.arange(n), k), negs_np.reshape(-1)).reshape(n, k)
                neg = neg + torch.gather(hr, 1, torch.from_numpy(nb).to(dev)) - hr[:, :1]
            hit = negs == tgt[:, None]
            neg = neg.masked_fill(hit, -torch.inf)
            if self.loss == "sampled_ce":
                per = -F.log_softmax(torch.cat([pos[:, None], neg], 1), dim=1)[:, 0]
            else:
                per = F.softplus(-pos) + (F.softplus(neg) * (~hit)).sum(1) / (~hit).sum(1).clamp_min(1)
        wsum = w.sum().clamp_min(1e-12)
        return (per * w).sum() / wsum, n

    def _live_codes(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Items live at each time, in model codes (CSR)."""
        assert self._schedule_train is not None
        return self._schedule_train.live_codes(times, items=self.items_)

    def _live_mask(self, times: np.ndarray, n: int, n_items: int) -> np.ndarray:
        indptr, codes = self._live_codes(times)
        mask = np.zeros((n, n_items), dtype=bool)
        mask[np.repeat(np.arange(n), np.diff(indptr)), codes] = True
        return mask

    def _train_repeat_pairs(self, batch: Any, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row of the valid target, item code, time bucket) of every item consumed before it."""
        assert self.time_buckets_ is not None
        b, t, j = last_occurrence_pairs(batch.inputs, valid)
        row_of = np.cumsum(valid.ravel()) - 1
        rows = row_of[b * valid.shape[1] + t]
        dt = batch.target_times[b, t] - batch.input_times[b, j]
        return rows, batch.inputs[b, j] - 1, self.time_buckets_(dt)

    # Validation ------------------------------------------------------------------------------
    def _validate(self, full: FlatSequences, val_users: np.ndarray) -> float:
        """NDCG@10 of each validation user's held-out last event (full ranking)."""
        import torch

        ends = full.indptr[val_users + 1] - 1
        target = full.items[ends]
        at = full.times[ends]
        ranks = []
        for s in range(0, len(val_users), 512):
            sl = slice(s, s + 512)
            histories = [(full.items[full.indptr[u]:e], full.times[full.indptr[u]:e])
                         for u, e in zip(val_users[sl], ends[sl], strict=True)]
            sc = self._score_sequences(histories, at[sl])
            rows = torch.arange(len(histories))
            tscore = sc[rows, torch.from_numpy(target[sl])].clone()
            if self._live_training:
                sc = sc.masked_fill(~torch.from_numpy(self._live_mask(at[sl], len(histories), sc.shape[1])),
                                    -torch.inf)
            if self.repeat_rate_ < 0.05:  # repeats are rare: the usual protocol excludes seen items
                seen_rows = np.repeat(np.arange(len(histories)), [len(h[0]) for h in histories])
                seen_cols = np.concatenate([h[0] for h in histories])
                sc[torch.from_numpy(seen_rows), torch.from_numpy(seen_cols)] = -torch.inf
            ranks.append((sc > tscore[:, None]).sum(1).numpy())
        rank = np.concatenate(ranks)
        return float(np.mean(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0)))

    # Scoring -----------------------------------------------------------------------------------
    def _item_cache(self) -> Any:
        import torch

        if getattr(self, "_cache", None) is None:
            self.net_.eval()
            with torch.no_grad():
                self._cache = self.net_.item_matrix().detach().float()
        return self._cache

    def _score_sequences(self, histories: list[tuple[np.ndarray, np.ndarray]], at: np.ndarray | None) -> Any:
        """Scores ``(n, n_items)`` of users given by (item codes, times) in time order."""
        import torch

        net = self.net_
        dev = next(net.parameters()).device
        items = self._item_cache()
        n, L = len(histories), int(self.max_len)
        lens = np.array([min(len(h[0]), L) for h in histories], dtype=np.int64)
        T = max(int(lens.max()) if n else 1, 1)
        inp = np.zeros((n, T), dtype=np.int64)
        for r, (it, _) in enumerate(histories):
            if lens[r]:
                inp[r, :lens[r]] = it[len(it) - lens[r]:] + 1
        net.eval()
        with torch.no_grad():
            h = net(torch.from_numpy(inp).to(dev), items)
            h = h[torch.arange(n, device=dev), torch.from_numpy(np.maximum(lens - 1, 0)).to(dev)]
            scores = (h @ items[1:].T).float()
            hr_or_none = net.repeat_scores(h)
            if hr_or_none is not None and self.time_buckets_ is not None:
                hr = hr_or_none.float()
                scores += hr[:, :1]
                rows_l, cols_l, dt_l = [], [], []
                for r, (it, tm) in enumerate(histories):
                    if not len(it):
                        continue
                    ref = (tm[-1] + self.median_gap_) if at is None else at[r]
                    # latest consumption of each item
                    rev_items = it[::-1]
                    uniq, first = np.unique(rev_items, return_index=True)
                    rows_l.append(np.full(len(uniq), r))
                    cols_l.append(uniq)
                    dt_l.append(ref - tm[::-1][first])
                if rows_l:
                    rows = np.concatenate(rows_l)
                    cols = np.concatenate(cols_l)
                    b = self.time_buckets_(np.concatenate(dt_l))
                    r_t = torch.from_numpy(rows).to(dev)
                    scores[r_t, torch.from_numpy(cols).to(dev)] += hr[r_t, torch.from_numpy(b).to(dev)] - hr[r_t, 0]
        return scores.cpu()

    def _known_histories(self, user_codes: np.ndarray, at: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for r, u in enumerate(user_codes):
            lo, hi = self.seq_indptr_[u], self.seq_indptr_[u + 1]
            if at is not None:
                hi = lo + int(np.searchsorted(self.seq_times_[lo:hi], at[r], side="left"))
            out.append((self.seq_items_[lo:hi], self.seq_times_[lo:hi]))
        return out

    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        return self._score_sequences(self._known_histories(user_codes, at), at)

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        hs = []
        for h in histories:
            items = np.asarray(h.items, dtype=np.int64)
            times = np.asarray(h.time, dtype=np.float64)
            hs.append((items, times))
        return self._score_sequences(hs, at)

    def _item_vectors(self) -> np.ndarray:
        return self._item_cache()[1:].cpu().numpy()

    # Persistence -----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        attrs = {
            "n_items": int(len(self.items_)),
            "n_features": 0 if self.net_.feature_proj is None else int(self.net_.feature_proj.in_features),
            "median_gap": self.median_gap_, "repeat_rate": self.repeat_rate_,
            "history": self.history_, "best_epoch": self.best_epoch_, "n_epochs": self.n_epochs_,
            "fit_seconds": self.fit_seconds_, "best_val_ndcg": self.best_val_ndcg_,
        }
        arrays = {f"net/{k}": v.detach().float().cpu().numpy() for k, v in self.net_.state_dict().items()}
        arrays.update({"seq/items": self.seq_items_, "seq/times": self.seq_times_, "seq/indptr": self.seq_indptr_,
                       "trained_items": self.trained_items_})
        if self.time_buckets_ is not None:
            arrays["time_bucket_edges"] = self.time_buckets_.edges
        return attrs, arrays

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        import torch

        from ._sequential_net import SequenceEncoder

        n_items = expect_attribute(attributes, "n_items", int)
        if n_items != len(self.items_):
            raise PersistenceError(f"config.json: attributes.n_items: {n_items}, but the item map holds {len(self.items_)}")
        n_features = expect_attribute(attributes, "n_features", int)
        if not 0 <= n_features <= 1 << 20:
            raise PersistenceError(f"config.json: attributes.n_features: expected a count >= 0, got {n_features}")
        self.time_buckets_ = None
        if "time_bucket_edges" in arrays:
            edges = expect_array(arrays, "time_bucket_edges", "f", (None,), finite=True, dtype=np.float64)
            if (np.diff(edges) < 0).any():
                raise PersistenceError("arrays.safetensors: tensor 'time_bucket_edges': must be increasing")
            self.time_buckets_ = TimeBuckets(edges)
        weights = StateArrays.view(arrays).sub("net/")
        # the parameters must describe the saved network before it is built (n_layers: 2**31
        # would otherwise build two billion layers)
        n_blocks = len({k.split(".")[1] for k in weights if k.startswith("blocks.")})
        if n_blocks != self.n_layers:
            raise PersistenceError(f"config.json: params.n_layers: {self.n_layers}, but the saved network has {n_blocks} blocks")
        expect_array(weights, "item_emb.weight", "f", (n_items + 1, self.embedding_dim))
        expect_array(weights, "pos_emb.weight", "f", (self.max_len, self.embedding_dim))
        net = SequenceEncoder(n_items, int(self.embedding_dim), int(self.n_layers), int(self.n_heads),
                              float(self.dropout), int(self.max_len), n_features,
                              0 if self.time_buckets_ is None else self.time_buckets_.n_buckets)
        expected = net.state_dict()
        unknown = sorted(set(weights) - set(expected))
        if unknown:
            raise PersistenceError(f"arrays.safetensors: tensor 'net/{unknown[0]}': not a weight of this network")
        state = {name: torch.from_numpy(expect_array(weights, name, "f", tuple(ref.shape), finite=True,
                                                     dtype=np.float32))
                 for name, ref in expected.items()}
        net.load_state_dict(state)
        net.to(self._torch_device())
        net.eval()
        self.net_ = net
        self._cache = None
        n_u = len(self.users_)
        self.seq_indptr_, self.seq_items_ = expect_csr(arrays, "seq/indptr", "seq/items", (n_u, n_items))
        self.seq_times_ = expect_array(arrays, "seq/times", "f", (len(self.seq_items_),), finite=True, dtype=np.float64)
        same_user = ~np.isin(np.arange(1, len(self.seq_times_)), self.seq_indptr_)
        if (np.diff(self.seq_times_)[same_user] < 0).any():
            raise PersistenceError("arrays.safetensors: tensor 'seq/times': each user's events must be in time order")
        self.trained_items_ = expect_array(arrays, "trained_items", "b", (n_items,)).copy()
        self.median_gap_ = expect_attribute(attributes, "median_gap", float, finite=False)
        self.repeat_rate_ = expect_attribute(attributes, "repeat_rate", float, finite=False)
        self.history_ = list(expect_attribute(attributes, "history", list, default=[]))
        self.best_epoch_ = expect_attribute(attributes, "best_epoch", int)
        self.n_epochs_ = expect_attribute(attributes, "n_epochs", int)
        self.fit_seconds_ = expect_attribute(attributes, "fit_seconds", float, finite=False)
        self.best_val_ndcg_ = attributes.get("best_val_ndcg")


class _PairLookup:
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


def _repeat_gaps(flat: FlatSequences, n_items: int) -> np.ndarray:
    """Time between consecutive consumptions of the same item by the same user."""
    users = np.repeat(np.arange(len(flat.indptr) - 1), flat.lengths)
    order = np.lexsort((flat.times, flat.items, users))
    same = (users[order][1:] == users[order][:-1]) & (flat.items[order][1:] == flat.items[order][:-1])
    return np.diff(flat.times[order])[same]


__all__ = ["SequentialTransformer"]
