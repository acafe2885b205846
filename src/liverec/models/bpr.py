"""Bayesian Personalised Ranking (BPR) with availability-aware negative sampling.

BPR (Rendle et al., 2009) learns user vectors ``p_u``, item vectors ``q_i`` and item biases
``b_i`` so that an item the user interacted with scores above one they did not:
``x_uij = p_u . (q_i - q_j) + b_i - b_j`` should be large, for a positive ``i`` and a sampled
negative ``j``. Training maximises ``sum ln sigmoid(x_uij) - regularization/2 * ||.||^2``
by stochastic gradient ascent, with a learning rate that decreases linearly over the epochs.

The live-streaming twist (LiveRec, Rappaz et al., 2021): a stream that was *not on air* when
the user chose another one was not rejected, only unavailable. When a [`LiveSchedule`][liverec.data.LiveSchedule]
is given to ``fit``, the negative for an event is drawn from the items that were live at the
event's time, so the model learns "what does this viewer pick among what is on", not "what
is broadcasting at all".

Training runs in torch as minibatch SGD written by hand: each step gathers the rows of the
batch (``index_select``), computes the closed-form BPR gradients and adds them back with
``scatter_add_``; no autograd, no sparse gradients, no optimiser state. Gradients of the
samples in a batch are summed (not averaged), so ``learning_rate`` means what it means in
per-sample SGD (``implicit`` and the BPR paper), and L2 decay is applied to all rows every
few batches, in proportion to how often each row is used (the same total shrinkage as
per-sample decay, without three extra passes over every batch).
"""

from __future__ import annotations

import contextlib
import logging
import numbers
from typing import Any, ClassVar

import numpy as np
import torch

from .._distributed import Replicas, data_fingerprint, replicas
from .._params import Device, Interval, Options
from .._runtime import resolve_device, torch_threads
from .._utils import Progress
from ..base import BaseRecommender, History, _binary_csr
from ..data import Interactions, LiveSchedule
from ..exceptions import DataValidationError
from ..explain import Explanation, factor_explanations
from ..persistence import expect_array, expect_attribute, register

__all__ = ["BPR", "LiveNegativeSampler"]

_log = logging.getLogger(__name__)

#: Live lists are precomputed for all events when they hold fewer entries than this;
#: otherwise they are looked up batch by batch.
_MAX_PRECOMPUTED_LIVE = 50_000_000


class LiveNegativeSampler:
    """Draw, for each event, a negative item among those live at the event's time.

    For event ``e`` with item ``i`` at time ``t``, the negative is uniform over the items
    live at ``t`` other than ``i``. When no other item is live at ``t`` (the schedule does not
    cover ``t``, or ``i`` broadcast alone), it falls back to a uniform draw over all other items.
    Live items the model does not know are ignored.

    Sampling is vectorised: the live lists of the distinct event times are computed once with
    [`LiveSchedule.live_codes`][liverec.data.LiveSchedule.live_codes] (or per batch when they would be very large), and a draw
    is one random offset per event into its list.

    Args:
        schedule: When items were live.
        item_map: The model's item map (codes of the result).
        times: Time of every positive event, float seconds as in ``Interactions.time``.
        items: Item code of every positive event.

    Examples:
        >>> import torch
        >>> from liverec.data import IdMap, LiveSchedule
        >>> s = LiveSchedule.from_arrays(["a", "b", "c"], [0, 0, 10], [5, 5, 20])
        >>> sampler = LiveNegativeSampler(s, IdMap(["a", "b", "c"]), np.array([1.0]), np.array([0]))
        >>> sampler.sample(torch.tensor([0]), torch.Generator().manual_seed(0)).tolist()
        [1]
    """

    def __init__(self, schedule: LiveSchedule, item_map: Any, times: np.ndarray, items: np.ndarray) -> None:
        self.schedule = schedule
        self.n_items = len(item_map)
        self._item_map = item_map
        self._utimes, time_of_event = np.unique(np.asarray(times, dtype=np.float64), return_inverse=True)
        self._time_of_event = torch.as_tensor(time_of_event.astype(np.int64))
        self._items = torch.as_tensor(np.asarray(items, dtype=np.int64))
        lists = self._precompute(self._utimes)
        self.precomputed = lists is not None
        if lists is not None:
            # the live list of each event, and where its positive sits in it, never change
            self._codes = lists[1]
            self._start, self._count, self._where = self._locate(self._time_of_event, self._items, *lists)

    def _precompute(self, times: np.ndarray, chunk: int = 1 << 16) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Live lists of all distinct event times, or ``None`` when they would be too large."""
        ptrs, codes, total = [np.zeros(1, dtype=np.int64)], [], 0
        for lo in range(0, len(times), chunk):
            indptr, c = self._live_lists(times[lo:lo + chunk])
            ptrs.append(indptr[1:] + total)
            codes.append(c)
            total += len(c)
            if total > _MAX_PRECOMPUTED_LIVE:
                return None
        return torch.as_tensor(np.concatenate(ptrs)), torch.as_tensor(np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64))

    def _live_lists(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Live model item codes per time, as CSR (unknown items dropped, each row sorted)."""
        return self.schedule.live_codes(times, items=self._item_map)

    @staticmethod
    def _locate(tidx: torch.Tensor, pos: torch.Tensor, indptr: torch.Tensor,
                codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start and length of each event's live list, and the positive's place in it (-1: absent)."""
        start = indptr[tidx]
        count = indptr[tidx + 1] - start
        where = torch.full_like(start, -1)
        has = count > 0
        if bool(has.any()):
            lo, cnt, p = start[has], count[has], pos[has]
            last = len(codes) - 1
            # vectorised bisection within each (sorted) row
            left, right = torch.zeros_like(lo), cnt.clone()
            for _ in range(int(cnt.max()).bit_length() + 1):
                mid = (left + right) // 2
                go_right = (codes[(lo + mid).clamp_max(last)] < p) & (mid < right)
                left = torch.where(go_right, mid + 1, left)
                right = torch.where(go_right, right, mid)
            found = (left < cnt) & (codes[(lo + left).clamp_max(last)] == p)
            where[has] = torch.where(found, left, torch.full_like(left, -1))
        return start, count, where

    def sample(self, events: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One negative item code per event index in ``events`` (CPU int64 tensor)."""
        pos = self._items[events]
        if self.precomputed:
            codes = self._codes
            start, count, where = self._start[events], self._count[events], self._where[events]
        else:
            uniq, inv = torch.unique(self._time_of_event[events], return_inverse=True)
            indptr, codes_np = self._live_lists(self._utimes[uniq.numpy()])
            codes = torch.as_tensor(codes_np)
            start, count, where = self._locate(inv, pos, torch.as_tensor(indptr), codes)
        n = len(events)
        others = count - (where >= 0).long()
        r = (torch.rand(n, generator=generator, dtype=torch.float64) * others.clamp_min(1)).long()
        r = r.clamp_max((others - 1).clamp_min(0))
        r = r + ((where >= 0) & (r >= where)).long()  # skip over the positive itself
        live_pick = codes[(start + r).clamp(0, len(codes) - 1)] if len(codes) else pos
        # fallback: uniform over the catalogue, skipping the positive itself
        uniform = torch.randint(max(self.n_items - 1, 1), (n,), generator=generator)
        if self.n_items > 1:
            uniform = uniform + (uniform >= pos).long()
        return torch.where(others > 0, live_pick, uniform)


@register
class BPR(BaseRecommender):
    """Bayesian Personalised Ranking: pairwise learning to rank from implicit feedback.

    Each event ``(user, item)`` is a positive; each positive is paired with a sampled
    negative item and the model learns to score the positive higher. Scores are
    ``p_u . q_i + b_i``. Repeat events count as repeated positives.

    Negatives are uniform over the catalogue; with ``fit(..., schedule=...)`` they are drawn
    among the items live at the event's time (availability-aware, as in LiveRec), falling back
    to uniform when nothing else was live.

    Args:
        n_factors: Dimension of the user and item vectors.
        n_epochs: Passes over the events.
        learning_rate: SGD step per sample in the first epoch (gradients of a batch are
            summed); it decreases linearly to ``learning_rate / n_epochs`` in the last epoch
            (the word2vec schedule: large steps early, fine ones at the end).
        regularization: L2 penalty on the vectors and item biases, per sample.
        batch_size: Positives per SGD step. Large batches are fast; on a GPU use 65536+.
        random_state: Seed for initialisation, shuffling and negative sampling.
        threads: CPU threads for torch during ``fit`` (``None``: all cores). The per-batch SGD
            steps themselves always run on one thread: each step is a handful of small
            operations, and splitting them costs a thread barrier per operation (measured
            slower at 2 threads, and many times slower on a busy machine).
        device: ``"cpu"``, ``"cuda"`` (falls back to the CPU with a warning when no GPU is
            present) or ``"auto"``. Results on CUDA are not bit-reproducible (atomic adds).
        verbose: Show a progress bar over epochs (tqdm when installed, else INFO records of
            the ``liverec.models.bpr`` logger).
        distributed: Data-parallel training over ``torch.distributed``. ``"auto"``: under
            ``torchrun`` with several processes (or in an initialised process group of several),
            every process computes the updates of its share of each batch and the processes
            exchange them (the touched rows, gathered), so that every replica applies the whole
            batch's step and the tables stay identical; ``save`` writes on rank 0 only.
            ``batch_size`` is then per process, and every process must pass the same
            ``Interactions``. ``True``: require it; ``False``: never.
        distributed_data: What each process of a distributed fit passes to ``fit``:
            ``"replicated"``, the same full ``Interactions`` (checked); ``"sharded"``, disjoint
            user shards (``Interactions.shard(rank, world_size)``, or ``read_parquet(...,
            shard_by="user")``). Sharded, the processes agree on the union of the shards' user
            and item maps, each draws its own batches (``batch_size`` events) and negatives
            from its own events with its own random stream, every process takes as many steps
            per epoch as the one with the most batches (an empty batch once its own run out),
            and every step the processes gather each other's updated rows and indices and all
            apply all of them, so the tables stay identical on every process; at the end
            every process gathers every user's (user, item) pairs for ``seen_``. Every rank's
            model is then complete (the same as the one rank 0 saves). Outside a distributed
            fit the setting changes nothing.

    Attributes:
        user_factors_: ``(n_users, n_factors)`` float32.
        item_factors_: ``(n_items, n_factors)`` float32.
        item_bias_: ``(n_items,)`` float32.
        world_size_: Processes that trained the model (1 unless distributed).
        rank_: This process's rank in that training (``save`` writes only on rank 0).

    Examples:
        >>> from liverec.data import Interactions
        >>> X = Interactions.from_arrays(user=[1, 1, 2, 2, 3], item=["a", "b", "a", "b", "a"])
        >>> model = BPR(n_factors=4, n_epochs=50, learning_rate=0.1, random_state=0).fit(X)
        >>> model.recommend(3, k=2, exclude_seen=True).items.tolist()
        [['b', None]]
    """

    _fresh_scores = True  # scores come from a new addmm every call

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="left")],
        "regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "device": [Device(("cpu", "cuda"))],
        "verbose": [bool],
        "distributed": [Options(("auto",)), bool],
        "distributed_data": [Options(("replicated", "sharded"))],
    }

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 20,
        learning_rate: float = 0.1,
        regularization: float = 0.01,
        batch_size: int = 4096,
        random_state: int | None = None,
        threads: int | None = None,
        device: str = "cpu",
        verbose: bool = False,
        distributed: bool | str = "auto",
        distributed_data: str = "replicated",
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.batch_size = batch_size
        self.random_state = random_state
        self.threads = threads
        self.device = device
        self.verbose = verbose
        self.distributed = distributed
        self.distributed_data = distributed_data

    # Fitting -----------------------------------------------------------------------------------
    def _accepts_empty_shard(self) -> bool:
        return self.distributed_data == "sharded" and self.distributed is not False

    def _fit(self, interactions: Interactions, *, schedule: LiveSchedule | None, item_features: Any, text: Any) -> None:
        dev = resolve_device(self.device)
        name = type(self).__name__
        with replicas(self.distributed, dev, name) as ctx:
            self.world_size_, self.rank_ = (1, 0) if ctx is None else (ctx.world_size, ctx.rank)
            sharded = ctx is not None and self.distributed_data == "sharded"
            if ctx is not None:
                dev = ctx.device(dev)
                if sharded:  # one user map and one item map for all: the union of the shards' ids
                    interactions = ctx.union_of_shards(interactions, name)
                    self.users_, self.items_ = interactions.users, interactions.items
                    self.time_kind_ = interactions.time_kind
                else:
                    ctx.check_same_data(name, data_fingerprint(
                        len(interactions), interactions.n_users, interactions.n_items, interactions.user_codes,
                        interactions.item_codes, interactions.time), shards_ok=True)
            elif len(interactions) == 0:
                raise DataValidationError("fit got no interactions; pass at least one event.")
            with torch_threads(self.threads if ctx is None else ctx.threads(self.threads)):
                self._train(interactions, schedule, dev, ctx, sharded)
            if sharded:  # every rank's seen_ holds every user's items
                assert ctx is not None
                n_users, n_items = len(self.users_), len(self.items_)
                pairs = np.unique(interactions.user_codes * np.int64(n_items) + interactions.item_codes)
                every = ctx.all_gather_array(pairs)[0]
                self.seen_ = _binary_csr(every // n_items, every % n_items, (n_users, n_items))

    def _train(self, X: Interactions, schedule: LiveSchedule | None, dev: torch.device,
               ctx: Replicas | None = None, sharded: bool = False) -> None:
        random_state = self.random_state if ctx is None else ctx.shared_seed(self.random_state)
        seed = int(np.random.default_rng(random_state).integers(2**62))
        gen = torch.Generator().manual_seed(seed)
        n_users, n_items, d = X.n_users, X.n_items, int(self.n_factors)
        U = ((torch.rand(n_users, d, generator=gen) - 0.5) / d).to(dev)
        V = ((torch.rand(n_items, d, generator=gen) - 0.5) / d).to(dev)
        b = torch.zeros(n_items, device=dev)
        n = len(X)
        # data-parallel: the global batch, of which each replica computes its share (on user
        # shards: each replica's own batch)
        bs = int(self.batch_size) * (1 if ctx is None or sharded else ctx.world_size)
        n_batches = (n + bs - 1) // bs
        if sharded:
            assert ctx is not None
            # every replica steps as often as the one with the most batches (the others then
            # have empty batches: batch numbers past their own are empty slices); shuffling and
            # negatives come from the replica's own stream (the tables' initialisation above is
            # shared)
            n_batches = int(ctx.all_max([n_batches])[0])
            gen = torch.Generator().manual_seed(int(np.random.default_rng([seed, ctx.rank]).integers(2**62)))
        # Shuffle the events once into batches; every epoch visits the batches in a fresh
        # random order with fresh negatives. Within a batch the events are sorted by item (the
        # gradients of a batch are summed, so their order does not matter), which makes the
        # item-row gathers and scatters walk memory forwards.
        order = torch.randperm(n, generator=gen)
        batch_of = torch.arange(n) // bs
        order = order[torch.argsort(batch_of * n_items + torch.as_tensor(X.item_codes)[order], stable=True)]
        users = torch.as_tensor(X.user_codes)[order]
        items = torch.as_tensor(X.item_codes)[order]
        sampler = None
        if schedule is not None and n:
            sampler = LiveNegativeSampler(schedule, X.items, X.time, X.item_codes)
        users_d, items_d = users.to(dev), items.to(dev)
        # The per-batch operations are too small to split across threads: on the CPU they run
        # on one thread (several threads would meet at a barrier after every operation, which
        # is slower, and far slower on a busy machine).
        with torch_threads(1) if dev.type == "cpu" else contextlib.nullcontext():
            self._epochs(U, V, b, users_d, items_d, order, sampler, n_items, n_batches, bs, gen, dev, ctx, sharded)
        self.user_factors_ = U.cpu().numpy()
        self.item_factors_ = V.cpu().numpy()
        self.item_bias_ = b.cpu().numpy()
        self.device_ = str(dev)

    def _epochs(self, U: torch.Tensor, V: torch.Tensor, b: torch.Tensor, users_d: torch.Tensor, items_d: torch.Tensor,
                order: torch.Tensor, sampler: LiveNegativeSampler | None, n_items: int, n_batches: int, bs: int,
                gen: torch.Generator, dev: torch.device, ctx: Replicas | None = None, sharded: bool = False) -> None:
        n = len(order)
        n_epochs, reg = int(self.n_epochs), float(self.regularization)
        user_count = torch.bincount(users_d, minlength=U.shape[0]).float()
        pos_count = torch.bincount(items_d, minlength=n_items).float()
        if sharded:  # the decay below uses the counts of every replica's events
            assert ctx is not None
            user_count, pos_count = (torch.as_tensor(ctx.all_sum(c.cpu().numpy()), dtype=torch.float32).to(dev)
                                     for c in (user_count, pos_count))
        # L2 decay is applied every few batches to all rows at once, in proportion to how
        # often each row is used per batch (the same shrinkage as per-sample decay).
        decay_every = max(1, n_batches // 32)
        bar = Progress(n_epochs, "BPR", "epoch", bool(self.verbose) and (ctx is None or ctx.rank == 0), _log)
        for epoch in range(n_epochs):
            # linear schedule: learning_rate in the first epoch, learning_rate / n_epochs in the last
            lr = float(self.learning_rate) * (1.0 - epoch / n_epochs)
            rate = lr * reg / n_batches
            if sampler is not None:
                neg = sampler.sample(order, gen)
            else:
                neg = torch.randint(n_items, (n,), generator=gen)
            neg_d = neg.to(dev)
            neg_count = torch.bincount(neg_d, minlength=n_items).float()
            if sharded:
                assert ctx is not None
                neg_count = torch.as_tensor(ctx.all_sum(neg_count.cpu().numpy()), dtype=torch.float32).to(dev)
            item_use = pos_count + neg_count
            since_decay = 0
            for step, bi in enumerate(torch.randperm(n_batches, generator=gen).tolist()):
                lo, hi = bi * bs, min(n, (bi + 1) * bs)
                if ctx is None:
                    _bpr_step(U, V, b, users_d[lo:hi], items_d[lo:hi], neg_d[lo:hi], lr)
                elif sharded:
                    _sharded_bpr_step(U, V, b, users_d[lo:hi], items_d[lo:hi], neg_d[lo:hi], lr, ctx)
                else:
                    _shared_bpr_step(U, V, b, users_d[lo:hi], items_d[lo:hi], neg_d[lo:hi], lr, ctx)
                since_decay += 1
                if since_decay == decay_every or step + 1 == n_batches:
                    U.mul_(torch.exp(-rate * since_decay * user_count).unsqueeze(1))
                    shrink = torch.exp(-rate * since_decay * item_use)
                    V.mul_(shrink.unsqueeze(1))
                    b.mul_(shrink)
                    since_decay = 0
            bar.update(1, learning_rate=lr)
        bar.close()

    # Scoring ----------------------------------------------------------------------------------
    def _score_known(self, user_codes: np.ndarray, at: np.ndarray | None) -> Any:
        U = torch.as_tensor(self.user_factors_[user_codes])
        return torch.addmm(torch.as_tensor(self.item_bias_).unsqueeze(0), U, torch.as_tensor(self.item_factors_).T)

    def _predict_pairs(self, user_codes: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
        p = self.user_factors_[user_codes]
        q = self.item_factors_[item_codes]
        return (np.einsum("ij,ij->i", p, q) + self.item_bias_[item_codes]).astype(np.float32)

    def _score_history(self, histories: list[History], at: np.ndarray | None) -> Any:
        V = torch.as_tensor(self.item_factors_)
        b = torch.as_tensor(self.item_bias_)
        P = torch.stack([self._fold_in(h.items, V, b) for h in histories])
        return torch.addmm(b.unsqueeze(0), P, V.T)

    def _fold_in(self, items: np.ndarray, V: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """User vector maximising the BPR objective over all (history, other item) pairs.

        Item vectors stay fixed; the objective is concave in the user vector, so a few
        L-BFGS steps find its maximum. Deterministic (no sampling).
        """
        d = V.shape[1]
        pos = torch.as_tensor(np.unique(items), dtype=torch.long)
        if len(pos) == 0:
            return torch.zeros(d)
        negmask = torch.ones(len(b), dtype=torch.bool)
        negmask[pos] = False
        if not bool(negmask.any()):
            return torch.zeros(d)
        Vp, bp, Vn, bn = V[pos], b[pos], V[negmask], b[negmask]
        reg = max(float(self.regularization), 1e-4)
        p = torch.zeros(d, requires_grad=True)
        opt = torch.optim.LBFGS([p], lr=1.0, max_iter=50, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            x = (Vp @ p + bp).unsqueeze(1) - (Vn @ p + bn).unsqueeze(0)
            loss = -torch.nn.functional.logsigmoid(x).mean() + 0.5 * reg * p.dot(p)
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        opt.step(closure)  # type: ignore[no-untyped-call]
        return p.detach()

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    # Privacy and explanations ------------------------------------------------------------------
    def _forget_users(self, drop: np.ndarray, keep: np.ndarray) -> None:
        """The users' vectors go; item vectors and biases keep what the users' events taught them.

        Not exact: SGD mixed every event into the shared item vectors and biases, and there
        is no closed form to take them out. ``benchmarks/trust.py`` measures what remains.
        """
        self.user_factors_ = np.ascontiguousarray(self.user_factors_[keep])

    def _explain(self, user_code: int, item_codes: np.ndarray) -> list[Explanation]:
        """Exact decomposition ``p_u . q_i + b_i``, plus the most similar history items as context."""
        return factor_explanations(self, user_code, item_codes)

    # Persistence ------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"device": self.device_}, {
            "user_factors": self.user_factors_, "item_factors": self.item_factors_, "item_bias": self.item_bias_,
        }

    def _load_state(self, attributes: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        n_u, n_i, k = len(self.users_), len(self.items_), self.n_factors
        self.user_factors_ = expect_array(arrays, "user_factors", "f", (n_u, k), finite=True, dtype=np.float32)
        self.item_factors_ = expect_array(arrays, "item_factors", "f", (n_i, k), finite=True, dtype=np.float32)
        self.item_bias_ = expect_array(arrays, "item_bias", "f", (n_i,), finite=True, dtype=np.float32)
        self.device_ = expect_attribute(attributes, "device", str, default="cpu")


def _bpr_step(U: torch.Tensor, V: torch.Tensor, b: torch.Tensor, u: torch.Tensor, i: torch.Tensor,
              j: torch.Tensor, lr: float) -> None:
    """One SGD step on a batch of positives ``(u, i)`` with negatives ``j`` (summed gradients).

    For ``x = p.(q_i - q_j) + b_i - b_j`` and ``z = sigmoid(-x)`` the ascent directions are
    ``z (q_i - q_j)`` for ``p``, ``z p`` for ``q_i``, ``-z p`` for ``q_j``, ``+-z`` for biases.
    """
    grad_u, grad_i, z = _bpr_updates(U, V, b, u, i, j, lr)
    _apply_bpr_updates(U, V, b, u, i, j, grad_u, grad_i, z)


def _bpr_updates(U: torch.Tensor, V: torch.Tensor, b: torch.Tensor, u: torch.Tensor, i: torch.Tensor,
                 j: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The step's rows: ``lr z (q_i - q_j)`` for the users, ``lr z p`` for the items, ``lr z``."""
    pu = U.index_select(0, u)
    qi = V.index_select(0, i)
    qi.sub_(V.index_select(0, j))            # q_i - q_j
    x = torch.linalg.vecdot(pu, qi).add_(b.index_select(0, i)).sub_(b.index_select(0, j))
    z = torch.sigmoid(x.neg_()).mul_(lr)
    zc = z.unsqueeze(1)
    return qi.mul_(zc), pu.mul_(zc), z


def _shared_bpr_step(U: torch.Tensor, V: torch.Tensor, b: torch.Tensor, u: torch.Tensor, i: torch.Tensor,
                     j: torch.Tensor, lr: float, ctx: Replicas) -> None:
    """Data-parallel ``_bpr_step`` on a global batch: this replica computes the rows of its
    share, the replicas gather everyone's rows (in rank order: the batch's order) and each
    applies all of them, so the tables stay identical and the step is one process's step."""
    sizes = ctx.shard_sizes(len(u))
    lo = sum(sizes[:ctx.rank])
    own = slice(lo, lo + sizes[ctx.rank])
    grad_u, grad_i, z = _bpr_updates(U, V, b, u[own], i[own], j[own], lr)
    d = U.shape[1]
    rows = ctx.all_gather_rows(torch.cat([grad_u, grad_i, z.unsqueeze(1)], 1), sizes)
    _apply_bpr_updates(U, V, b, u, i, j, rows[:, :d], rows[:, d:2 * d].contiguous(), rows[:, 2 * d].contiguous())


def _sharded_bpr_step(U: torch.Tensor, V: torch.Tensor, b: torch.Tensor, u: torch.Tensor, i: torch.Tensor,
                      j: torch.Tensor, lr: float, ctx: Replicas) -> None:
    """Data-parallel step on user shards: this replica computes the rows of its own batch
    (maybe empty), the replicas gather everyone's rows and indices (in rank order) and each
    applies all of them, so the tables stay identical."""
    grad_u, grad_i, z = _bpr_updates(U, V, b, u, i, j, lr)
    d = U.shape[1]
    sizes = ctx.all_sum_sizes(len(u))
    rows = ctx.all_gather_rows(torch.cat([grad_u, grad_i, z.unsqueeze(1)], 1), sizes)
    idx = ctx.all_gather_rows(torch.stack([u, i, j], 1), sizes)
    _apply_bpr_updates(U, V, b, idx[:, 0], idx[:, 1], idx[:, 2], rows[:, :d], rows[:, d:2 * d].contiguous(),
                       rows[:, 2 * d].contiguous())


def _apply_bpr_updates(U: torch.Tensor, V: torch.Tensor, b: torch.Tensor, u: torch.Tensor, i: torch.Tensor,
                       j: torch.Tensor, grad_u: torch.Tensor, grad_i: torch.Tensor, z: torch.Tensor) -> None:
    """Add a step's rows to the tables (``grad_i`` and ``z`` are negated in place)."""
    d = U.shape[1]
    U.scatter_add_(0, u.unsqueeze(1).expand(-1, d), grad_u)
    V.scatter_add_(0, i.unsqueeze(1).expand(-1, d), grad_i)
    V.scatter_add_(0, j.unsqueeze(1).expand(-1, d), grad_i.neg_())
    b.index_add_(0, i, z)
    b.index_add_(0, j, z.neg_())
