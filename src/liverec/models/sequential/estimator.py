"""``SequentialTransformer``: a live-aware, repeat-aware SASRec-family recommender."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..._distributed import replicas
from ..._params import Device, Interval, Options
from ..._runtime import resolve_device, torch_threads
from ..._utils import concat_ranges
from ..._utils import plain as _plain
from ...base import BaseRecommender, History
from ...data import Interactions, LiveSchedule
from ...exceptions import DataValidationError, InvalidParameterError, PersistenceError
from ...explain import Explanation, Reason, sort_reasons
from ...persistence import StateArrays, expect_array, expect_attribute, expect_csr, register
from .data import TimeBuckets

_LOSSES = ("ce", "sampled_ce", "bce")
_SCHEDULES = ("cosine", "linear", "constant")
_WEIGHTINGS = ("none", "event", "weight", "event_weight")


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
        n_negatives: Negatives per target for the sampled losses (and for the sampled start
            of ``sampled_warmup``).
        sampled_warmup: With ``loss="ce"``, the fraction of training (of the steps, or of
            ``time_limit`` when that is further along: the clock of the learning-rate schedule)
            spent on a sampled softmax over the target and ``n_negatives`` items before the full
            softmax takes over. Early steps only need a coarse gradient, and a sampled step
            costs a fraction of a full one when the catalogue is much larger than
            ``n_negatives``; the sampled scores are corrected for the sampling (``log(n / k)``
            with ``k`` of ``n`` candidates drawn), so both phases estimate the same objective.
            ``0`` (default): the full softmax throughout.
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
        output_precision: Operand type of the output layer's products in training with
            ``loss="ce"`` (the logits over the catalogue and their two gradients, most of a
            training step): ``"float32"``, or ``"bfloat16"`` (bf16 operands and products,
            float32 softmax and gradient sums), for CPUs with bf16 dot-product instructions
            (``avx512_bf16``, AMX) and GPUs: a whole ML-1M epoch took 17% less CPU time on such
            a CPU, at the same accuracy. Scores at ``recommend`` stay float32.
        time_limit: Stop training after this many seconds (the learning-rate schedule then
            follows elapsed time, so it still decays to the end). ``None``: no limit.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...; an
            explicit ``"cuda"`` without a GPU falls back to the CPU with a warning.
        random_state: Seed for initialisation, sampling and dropout.
        threads: CPU threads for torch during ``fit`` (``None``: all usable cores, as in every
            model); the caller's setting is restored afterwards.
        verbose: Show a progress bar over epochs with loss and validation NDCG (tqdm when
            installed, else INFO records of the ``liverec.models.sequential.training``
            logger; every epoch is logged at DEBUG either way).
        distributed: Data-parallel training over ``torch.distributed``. ``"auto"``: when the
            script runs under ``torchrun`` with several processes (or a process group of
            several processes is initialised), every process trains a replica on its share of
            each batch, gradients are averaged by ``DistributedDataParallel`` (``gloo`` on the
            CPU, ``nccl`` on CUDA), validation, early stopping and the time limit are decided
            once for all, and ``save`` writes on rank 0 only. ``batch_size`` is then per
            process (the global batch is ``batch_size`` times the number of processes), every
            process must pass the same ``Interactions``, and ``threads=None`` shares the cores
            among the processes of a machine. ``True``: require it (raise when there is no
            process group); ``False``: never (each process fits on its own).
        distributed_data: What each process of a distributed fit passes to ``fit``.
            ``"replicated"``: the same, full ``Interactions`` on every process (checked), each
            training on its part of every global batch. ``"sharded"``: disjoint user shards,
            each process only its own users' events (``Interactions.shard(rank, world_size)``
            or ``Interactions.read_parquet(path, rank=..., world_size=..., shard_by="user")``),
            so no process holds the whole data set. The processes then agree at the start on
            one user map and one item map (the sorted union of the shards' ids), each draws
            its batches (``batch_size`` windows) from its own users' windows with its own
            random stream, every process takes as many steps per epoch as the process with
            the most batches (one with fewer steps with a zero-weight batch, so every window is
            trained on once per epoch and none twice), validation users come from every shard
            and their NDCG is summed, and at the end rank 0 gathers every user's events, so its
            model (the one ``save`` writes) is complete. The other ranks keep only their own
            users' events: their models score and recommend for their own users (and from a
            ``history``) exactly as rank 0's does, and raise for the other ranks' users.
            ``schedule`` and ``item_features`` stay whole on every process (the same on each);
            item features must then be given by id (``(ids, matrix)`` or a dict). Outside a
            distributed fit the setting changes nothing.

    Attributes:
        history_: One dict per epoch: ``epoch``, ``loss``, ``val_ndcg`` (or ``None``),
            ``seconds``, ``targets``.
        best_epoch_: The epoch whose weights were kept.
        n_epochs_: Epochs run.
        fit_seconds_: Wall time of training.
        world_size_: Processes that trained the model (1 unless distributed).
        rank_: This process's rank in that training (``save`` writes only on rank 0).
        local_users_: ``None`` when this model holds every user's events; on ranks other than 0
            of a ``distributed_data="sharded"`` fit, a boolean mask over ``users_`` of the users
            whose events this process holds (the ones it can recommend for).

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
    reads_sequences = True  # a known user is scored from their fitted sequence (known_sequences)

    # fitted state, set by ``training.train`` or loaded by ``_load_state``
    net_: Any  # network.SequenceEncoder
    seq_items_: np.ndarray
    seq_times_: np.ndarray
    seq_indptr_: np.ndarray
    trained_items_: np.ndarray
    time_buckets_: TimeBuckets | None
    median_gap_: float
    repeat_rate_: float
    history_: list[dict[str, Any]]
    best_epoch_: int
    n_epochs_: int
    fit_seconds_: float
    best_val_ndcg_: float | None
    local_users_: np.ndarray | None
    _cache: Any  # item embedding matrix for scoring, rebuilt when None
    _live_training: bool
    _schedule_train: LiveSchedule | None

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_len": [Interval(numbers.Integral, 1, None, closed="left")],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_heads": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "loss": [Options(_LOSSES)],
        "n_negatives": [Interval(numbers.Integral, 1, None, closed="left")],
        "sampled_warmup": [Interval(numbers.Real, 0, 1, closed="left")],
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
        "output_precision": [Options(("float32", "bfloat16"))],
        "time_limit": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "device": [Device()],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": [bool],
        "distributed": [Options(("auto",)), bool],
        "distributed_data": [Options(("replicated", "sharded"))],
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
        sampled_warmup: float = 0.0,
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
        output_precision: str = "float32",
        time_limit: float | None = None,
        device: str = "auto",
        random_state: int | None = None,
        threads: int | None = None,
        verbose: bool = False,
        distributed: bool | str = "auto",
        distributed_data: str = "replicated",
    ) -> None:
        self.max_len = max_len
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.loss = loss
        self.n_negatives = n_negatives
        self.sampled_warmup = sampled_warmup
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
        self.output_precision = output_precision
        self.time_limit = time_limit
        self.device = device
        self.random_state = random_state
        self.threads = threads
        self.verbose = verbose
        self.distributed = distributed
        self.distributed_data = distributed_data

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
        if self.sampled_warmup > 0 and self.loss != "ce":
            raise InvalidParameterError(
                f"{name}: sampled_warmup={self.sampled_warmup} needs loss='ce' (got {self.loss!r}): it "
                "starts the full softmax with sampled steps; use sampled_warmup=0 with the sampled losses.")
        if self.repeat_aware and self.n_time_buckets < 2:
            raise InvalidParameterError(
                f"{name}: repeat_aware=True needs n_time_buckets >= 2, got {self.n_time_buckets}.")

    def _torch_device(self) -> Any:
        return resolve_device(self.device)

    # Fitting ---------------------------------------------------------------------------------
    def _accepts_empty_shard(self) -> bool:
        return self.distributed_data == "sharded" and self.distributed is not False

    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any,
             text: Any) -> None:
        import torch

        from .training import train

        name = type(self).__name__
        self.local_users_ = None
        with replicas(self.distributed, self._torch_device(), name) as ctx:
            sharded = ctx is not None and self.distributed_data == "sharded"
            if sharded:
                assert ctx is not None
                # one user map and one item map for all: the union of the shards' ids
                interactions = ctx.union_of_shards(interactions, name)
                self.users_, self.items_ = interactions.users, interactions.items
                self.time_kind_ = interactions.time_kind
            elif len(interactions) == 0:
                raise DataValidationError("fit got no interactions; pass at least one event.")
            features = self._align_features(item_features, by_id_only=sharded)
            n_items = len(self.items_)
            # replicas share one seed (rank 0's when random_state is None)
            rng = np.random.default_rng(self.random_state if ctx is None else ctx.shared_seed(self.random_state))
            seed = int(rng.integers(2**31 - 1))
            devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
            self.world_size_, self.rank_ = (1, 0) if ctx is None else (ctx.world_size, ctx.rank)
            threads = self.threads if ctx is None else ctx.threads(self.threads)
            with torch_threads(threads), torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                train(self, interactions, schedule, features, n_items, rng, ctx, sharded=sharded)

    def _align_features(self, item_features: Any, by_id_only: bool = False) -> np.ndarray | None:
        """Item features as a float32 matrix aligned to ``self.items_`` (which may grow);
        ``by_id_only``: refuse a bare matrix (a sharded fit's item order is the union's)."""
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
        if ids is None and by_id_only:
            raise DataValidationError(
                "item_features: a distributed_data='sharded' fit orders items by the union of every "
                "rank's items, which no shard knows in advance; pass the features by id: "
                "(ids, matrix) or a dict id -> vector.")
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

    def _live_codes(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Items live at each time, in model codes (CSR)."""
        assert self._schedule_train is not None
        return self._schedule_train.live_codes(times, items=self.items_)

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

    def known_sequences(self, user_codes: np.ndarray, at: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The fitted events the model reads for users seen in fit (see
        [`BaseRecommender.known_sequences`][liverec.base.BaseRecommender.known_sequences]).

        Examples:
            >>> from liverec.data import Interactions
            >>> X = Interactions.from_arrays(user=[1, 1, 1, 2, 2], item=["a", "b", "a", "b", "c"],
            ...                              time=[1.0, 2.0, 3.0, 1.0, 2.0])
            >>> model = SequentialTransformer(n_epochs=1, max_len=4, embedding_dim=8, random_state=0,
            ...                               validation_size=0, verbose=False).fit(X)
            >>> items, times = model.known_sequences(model.users_.codes([1]), at=[2.5])[0]
            >>> model.items_.take(items).tolist(), times.tolist()
            (['a', 'b'], [1.0, 2.0])
        """
        user_codes = np.asarray(user_codes, dtype=np.int64)
        at = None if at is None else np.asarray(at, dtype=np.float64)
        held = getattr(self, "local_users_", None)
        if held is not None and len(user_codes) and not held[user_codes].all():
            other = self.users_.ids[user_codes[~held[user_codes]][0]]
            raise DataValidationError(
                f"{type(self).__name__}: user {_plain(other)!r} was trained on another rank's shard "
                f"(distributed_data='sharded'); this model, on rank {getattr(self, 'rank_', 0)}, holds only "
                "its own users' events. Recommend on rank 0 (it gathers every user's events), from the "
                "saved model (liverec.load), or pass the user's events as history=.")
        out = []
        for r, u in enumerate(user_codes):
            lo, hi = self.seq_indptr_[u], self.seq_indptr_[u + 1]
            if at is not None:
                hi = lo + int(np.searchsorted(self.seq_times_[lo:hi], at[r], side="left"))
            out.append((self.seq_items_[lo:hi], self.seq_times_[lo:hi]))
        return out

    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        return self._score_sequences(self.known_sequences(user_codes, at), at)

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        hs = []
        for h in histories:
            items = np.asarray(h.items, dtype=np.int64)
            times = np.asarray(h.time, dtype=np.float64)
            hs.append((items, times))
        return self._score_sequences(hs, at)

    def _item_vectors(self) -> np.ndarray:
        return self._item_cache()[1:].cpu().numpy()

    # Privacy and explanations ------------------------------------------------------------------
    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """The users' event sequences go; the network's weights keep what their sequences taught.

        Not exact: every training window moved the shared weights (item embeddings,
        attention, positions). The model cannot score a forgotten user any more without a
        ``history``; ``benchmarks/trust.py`` measures what remains in the weights.
        """
        lengths = np.diff(self.seq_indptr_)[keep]
        held = getattr(self, "local_users_", None)
        if held is not None:
            self.local_users_ = held[keep]
        rows = concat_ranges(self.seq_indptr_[keep], lengths)
        self.seq_items_ = self.seq_items_[rows]
        self.seq_times_ = self.seq_times_[rows]
        self.seq_indptr_ = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        """Leave-one-out attribution of every history event the model reads.

        The contribution of event ``j`` is ``score(history) - score(history without j)``:
        how much the item's score drops when that one event is removed (both scored at the
        same request time, the user's next expected event). Only the last ``max_len``
        events are read, so only they are attributed. Contributions are not additive.
        """
        items, times = self.known_sequences(np.array([user_code]), None)[0]
        L = min(len(items), int(self.max_len))
        items, times = items[len(items) - L:], times[len(times) - L:]
        at = np.full(L + 1, (times[-1] + self.median_gap_) if L else 0.0)
        variants = [(items, times)] + [(np.delete(items, j), np.delete(times, j)) for j in range(L)]
        scores = np.asarray(self._score_sequences(variants, at)[:, item_codes], dtype=np.float64)
        user, ids = self.users_.ids[user_code], self.items_.ids
        out = []
        for r, c in enumerate(item_codes):
            drops = scores[0, r] - scores[1:, r]
            reasons = sort_reasons([
                Reason("history_event", ids[items[j]], float(drops[j]), value=float(times[j]),
                       text=f"{_plain(ids[items[j]])} ({L - j} events ago) {'raises' if drops[j] >= 0 else 'lowers'} "
                            f"the score by {abs(float(drops[j])):.3g}")
                for j in range(L)])
            out.append(Explanation(user, ids[c], float(scores[0, r]), reasons, method="leave-one-out"))
        return out

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

        from .network import SequenceEncoder

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
        self.local_users_ = None
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


__all__ = ["SequentialTransformer"]
