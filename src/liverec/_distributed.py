"""Data-parallel training over ``torch.distributed`` (private).

One place decides, for every model that trains data-parallel (``SequentialTransformer``,
``BPR``), whether a ``fit`` runs as one of several replicas, and gives the training loops the
few collective operations they need:

* **Switching on.** A model's ``distributed=`` hyper-parameter: ``"auto"`` (the default) trains
  data-parallel when a process group of more than one process is initialised, or when the
  process was launched by ``torchrun`` with ``WORLD_SIZE > 1`` (then liverec initialises the
  group from torchrun's environment, ``gloo`` on the CPU and ``nccl`` on CUDA, once per
  process: later fits reuse it, and it is destroyed at exit); ``True`` requires one of the two and raises otherwise; ``False``
  never trains data-parallel (every process fits on its own).
* **Sharding.** With ``distributed_data="replicated"`` (the default) every replica holds the
  same training data and draws the same global batches from the same seed; replica ``r`` of
  ``W`` takes the ``r``-th of ``W`` nearly equal parts of each global batch (`Replicas.shard`).
  ``W`` replicas with ``batch_size=b`` therefore see exactly the batches one process with
  ``batch_size=W*b`` sees. With ``distributed_data="sharded"`` each replica holds only its
  own users' events (disjoint user shards, e.g. ``Interactions.shard``); at the start of
  ``fit`` the replicas agree on one user map and one item map (`Replicas.union_of_shards`:
  the sorted union of every shard's ids, exchanged as integer tensors, never pickled), and at
  the end rank 0 gathers every user's events (`Replicas.gather_to_root`) so that the model it
  saves is complete.
* **Agreement.** Anything a replica decides alone (the seed when ``random_state=None``, the
  clock behind ``time_limit``, early stopping) is rank 0's value, shared with `Replicas.all_sum`
  / `Replicas.broadcast_flag`, so replicas never diverge.
* **Threads.** ``threads=None`` in a replica means the usable cores divided by the processes
  on this machine (``LOCAL_WORLD_SIZE``), not all cores per process.
* **Saving.** ``save`` writes only on rank 0 of a distributed fit (`writes_here`).

torch is imported inside the functions; importing this module stays cheap.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._runtime import usable_cores
from .exceptions import DataValidationError, InvalidParameterError

__all__ = ["Replicas", "launched_by_torchrun", "replicas", "writes_here"]

#: ``Interactions.time_kind`` values, by their code in the tensors replicas exchange
_TIME_KINDS = ("numeric", "datetime", "order")

_log = logging.getLogger(__name__)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def launched_by_torchrun() -> bool:
    """Whether torchrun's environment (``WORLD_SIZE > 1``, ``RANK``, ``MASTER_ADDR``) is set.

    Examples:
        >>> import os
        >>> launched_by_torchrun() == (int(os.environ.get("WORLD_SIZE", 1)) > 1
        ...                            and "RANK" in os.environ and "MASTER_ADDR" in os.environ)
        True
    """
    return _env_int("WORLD_SIZE", 1) > 1 and "RANK" in os.environ and "MASTER_ADDR" in os.environ


@dataclass
class Replicas:
    """This process's place among the replicas of one data-parallel ``fit``.

    Attributes:
        rank: This replica's rank, ``0 <= rank < world_size``.
        world_size: Number of replicas.
        local_rank: Rank on this machine (the CUDA device it trains on).
        local_world_size: Replicas on this machine (they share its cores).
        comm_device: Device of the tensors the collectives exchange (CUDA for ``nccl``).
    """

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    comm_device: Any

    # Devices and threads -------------------------------------------------------------------
    def device(self, dev: Any) -> Any:
        """The device this replica trains on: ``cuda:<local_rank>`` for a bare ``cuda``."""
        import torch

        if dev.type == "cuda" and dev.index is None and torch.cuda.is_available():
            return torch.device("cuda", self.local_rank % torch.cuda.device_count())
        return dev

    def threads(self, threads: int | None) -> int:
        """``threads`` for this replica: ``None`` shares the usable cores among the local replicas."""
        if threads is not None:
            return int(threads)
        return max(1, usable_cores() // max(1, self.local_world_size))

    # Sharding ------------------------------------------------------------------------------
    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This replica's part of ``indices``: the ``rank``-th of ``world_size`` nearly equal
        consecutive parts (sizes differ by at most one; a part may be empty when
        ``len(indices) < world_size``)."""
        return np.array_split(indices, self.world_size)[self.rank]

    def shard_sizes(self, n: int) -> list[int]:
        """Sizes of every replica's part of ``n`` indices (as `shard` cuts them)."""
        return [len(p) for p in np.array_split(np.arange(n), self.world_size)]

    # Collectives ---------------------------------------------------------------------------
    def all_sum(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Element-wise float64 sum of ``values`` over the replicas (the same on every rank)."""
        import torch
        import torch.distributed as dist

        t = torch.tensor(np.asarray(values, dtype=np.float64), device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().numpy()

    def all_max(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Element-wise float64 maximum of ``values`` over the replicas."""
        return self._reduce(values, "MAX")

    def all_min(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Element-wise float64 minimum of ``values`` over the replicas."""
        return self._reduce(values, "MIN")

    def _reduce(self, values: Sequence[float] | np.ndarray, op: str) -> np.ndarray:
        import torch
        import torch.distributed as dist

        t = torch.tensor(np.asarray(values, dtype=np.float64), device=self.comm_device)
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        return t.cpu().numpy()

    def broadcast_floats(self, values: Sequence[float]) -> np.ndarray:
        """Rank 0's float64 ``values`` on every replica (each passes as many)."""
        import torch
        import torch.distributed as dist

        t = torch.tensor(np.asarray(values, dtype=np.float64), device=self.comm_device)
        dist.broadcast(t, src=0)
        return t.cpu().numpy()

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every replica."""
        return bool(self._broadcast_int(int(flag)))

    def shared_seed(self, random_state: int | None) -> int:
        """``random_state``, or when it is ``None`` a fresh seed drawn by rank 0, on every replica."""
        if random_state is not None:
            return int(random_state)
        return self._broadcast_int(int(np.random.default_rng().integers(2**62)))

    def _broadcast_int(self, value: int) -> int:
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.int64, device=self.comm_device)
        dist.broadcast(t, src=0)
        return int(t.item())

    def all_gather_rows(self, rows: Any, sizes: Sequence[int]) -> Any:
        """Concatenate every replica's ``rows`` (a tensor of ``sizes[rank]`` rows) in rank order."""
        import torch
        import torch.distributed as dist

        m = max(sizes)
        pad = torch.zeros((m, *rows.shape[1:]), dtype=rows.dtype, device=self.comm_device)
        pad[:len(rows)] = rows
        parts = [torch.empty_like(pad) for _ in range(self.world_size)]
        dist.all_gather(parts, pad)
        return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)]).to(rows.device)

    def all_gather_array(self, arr: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Every replica's ``arr`` (rows of any length, same trailing shape and dtype) concatenated
        in rank order, and the number of rows each replica gave."""
        import torch
        import torch.distributed as dist

        sizes = self.all_sum_sizes(len(arr))
        rows = torch.from_numpy(np.ascontiguousarray(arr))
        # padded to the largest part, and at least one row: no empty tensor travels
        pad = torch.zeros((max(max(sizes), 1), *rows.shape[1:]), dtype=rows.dtype, device=self.comm_device)
        pad[:len(rows)] = rows
        parts = [torch.empty_like(pad) for _ in range(self.world_size)]
        dist.all_gather(parts, pad)
        out: np.ndarray = torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)]).cpu().numpy()
        return out, sizes

    def all_sum_sizes(self, n: int) -> list[int]:
        """Every replica's ``n``, in rank order."""
        mine = np.zeros(self.world_size)
        mine[self.rank] = n
        return [int(v) for v in self.all_sum(mine)]

    def gather_to_root(self, arr: np.ndarray) -> np.ndarray | None:
        """Every replica's rows of ``arr`` concatenated in rank order, on rank 0 (``None`` on the
        others): what the replicas hold alone, collected where the model is saved."""
        import torch
        import torch.distributed as dist

        sizes = self.all_sum_sizes(len(arr))
        rows = torch.from_numpy(np.ascontiguousarray(arr))
        pad = torch.zeros((max(max(sizes), 1), *rows.shape[1:]), dtype=rows.dtype, device=self.comm_device)
        pad[:len(rows)] = rows
        parts = [torch.empty_like(pad) for _ in range(self.world_size)] if self.rank == 0 else None
        dist.gather(pad, parts, dst=0)
        if parts is None:
            return None
        out: np.ndarray = torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)]).cpu().numpy()
        return out

    def union_of_shards(self, X: Any, owner: str) -> Any:
        """``X`` (this replica's user shard) re-coded into the union of every replica's maps.

        The new user and item maps are the sorted union of the ids that have events on some
        replica (the same on every replica; the ids travel as int64 or Unicode code point
        tensors); ``time_kind`` is the one of the non-empty shards.

        Raises:
            DataValidationError: no replica has an event; a user has events on several replicas
                (the shards are not disjoint by user).
            DataTypeError: the replicas' ids differ in type, or their times in kind.
        """
        from .data import IdMap, Interactions
        from .exceptions import DataTypeError

        used_u, used_i = np.unique(X.user_codes), np.unique(X.item_codes)
        uid, iid = X.users.take(used_u), X.items.take(used_i)
        header = np.array([[len(X), _id_kind(uid), _id_kind(iid), _TIME_KINDS.index(X.time_kind),
                            len(uid), len(iid), _id_width(uid), _id_width(iid)]], dtype=np.int64)
        heads = self.all_gather_array(header)[0]
        full = heads[:, 0] > 0
        if not full.any():
            raise DataValidationError(
                f"{owner}: fit got no interactions on any of the {self.world_size} ranks; pass at least one event.")
        for col, role in ((1, "user"), (2, "item")):
            if len(set(heads[full, col].tolist())) > 1:
                ranks = {k: [r for r in range(self.world_size) if full[r] and heads[r, col] == c]
                         for k, c in (("int", 0), ("str", 1))}
                raise DataTypeError(
                    f"{owner}: the ranks' {role} ids differ in type (int ids on ranks {ranks['int']}, str ids "
                    f"on ranks {ranks['str']}); 1 and '1' would be different {role}s: give every rank the "
                    "same id type (convert the column with astype(str) or astype(int) before sharding).")
        kinds = sorted({_TIME_KINDS[int(k)] for k in heads[full, 3]})
        if len(kinds) > 1:
            per_rank = ", ".join(f"rank {r}: {_TIME_KINDS[int(heads[r, 3])]}"
                                 for r in range(self.world_size) if full[r])
            raise DataTypeError(
                f"{owner}: the ranks' times differ in kind ({per_rank}); every shard must hold the same "
                "kind of time (all datetimes, all numbers in one unit, or all without a time column).")
        first = int(np.flatnonzero(full)[0])
        users = self._union_ids(uid, int(heads[first, 1]), int(heads[:, 6].max()))
        items = self._union_ids(iid, int(heads[first, 2]), int(heads[:, 7].max()))
        n_claimed = int(heads[:, 4].sum())
        if n_claimed != len(users):
            raise DataValidationError(
                f"{owner}: distributed_data='sharded' needs disjoint user shards, but {n_claimed - len(users)} "
                f"user ids have events on several of the {self.world_size} ranks; give each rank the events "
                "of its own users: Interactions.read_parquet(path, rank=r, world_size=n, shard_by='user') or "
                "X.shard(r, n); or pass the full data on every rank with distributed_data='replicated'.")
        u_lut = np.full(len(X.users), -1, dtype=np.int64)
        u_lut[used_u] = np.searchsorted(users, uid)
        i_lut = np.full(len(X.items), -1, dtype=np.int64)
        i_lut[used_i] = np.searchsorted(items, iid)
        return Interactions(u_lut[X.user_codes], i_lut[X.item_codes], X.time, IdMap(users, "user"),
                            IdMap(items, "item"), X.event, X.weight, event_types=X.event_types,
                            time_kind=kinds[0])

    def _union_ids(self, ids: np.ndarray, kind: int, width: int) -> np.ndarray:
        """Sorted union of every replica's distinct ``ids`` (int64, or str as code points)."""
        if kind == 0:
            return np.unique(self.all_gather_array(ids.astype(np.int64))[0])
        w = max(width, 1)
        points = np.zeros((len(ids), w), dtype=np.int32)
        if len(ids):
            text = np.ascontiguousarray(ids.astype(np.dtype((np.str_, w))))
            points[:] = text.view(np.uint32).reshape(len(ids), w)
        every = np.ascontiguousarray(self.all_gather_array(points)[0].astype(np.uint32))
        return np.unique(every.view(np.dtype((np.str_, w))).reshape(-1))

    def check_same_data(self, owner: str, fingerprint: Sequence[float], shards_ok: bool = False) -> None:
        """Raise unless every replica passed identical data (compared by ``fingerprint``);
        ``shards_ok``: the model can train on user shards (the message says how).

        Raises:
            DataValidationError: the replicas' data differ; the message says what to pass.
        """
        import torch
        import torch.distributed as dist

        t = torch.tensor(np.asarray(fingerprint, dtype=np.float64), device=self.comm_device)
        lo, hi = t.clone(), t.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        if not torch.equal(lo, hi):
            raise DataValidationError(
                f"{owner}: distributed fit got different training data on different ranks "
                f"(rank {self.rank} of {self.world_size}: {len(fingerprint)} checks, events "
                f"{int(lo[0])}..{int(hi[0])} across ranks); every rank must pass the same "
                "Interactions (each rank trains on its share of every batch). Read the full data "
                "on every rank, "
                + ("or pass distributed_data='sharded' when each rank holds only its own users' events, "
                   if shards_ok else "")
                + "or pass distributed=False to fit each process on its own data.")

    def wrap(self, module: Any, dev: Any) -> Any:
        """``module`` in ``DistributedDataParallel`` (gradients averaged over the replicas)."""
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        ids = [dev.index] if dev.type == "cuda" else None
        # buffers (item features) are constant and identical: no broadcast before every step
        # (the keyword was renamed in torch 2.13)
        params = inspect.signature(DistributedDataParallel.__init__).parameters
        key = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
        options: dict[str, Any] = {key: False}
        return DistributedDataParallel(module, device_ids=ids, **options)


def _id_kind(ids: np.ndarray) -> int:
    """0 for integer ids, 1 for text (an empty shard counts as integer; it is never compared)."""
    return int(ids.dtype.kind == "U")


def _id_width(ids: np.ndarray) -> int:
    """Characters of the longest text id (0 for integer ids)."""
    return int(ids.dtype.itemsize // 4) if ids.dtype.kind == "U" else 0


def data_fingerprint(n_events: int, n_users: int, n_items: int, *columns: np.ndarray) -> list[float]:
    """Sizes and position-weighted sums of ``columns``: equal on identical data, and almost
    surely different otherwise."""
    out = [float(n_events), float(n_users), float(n_items)]
    for col in columns:
        col = np.asarray(col, dtype=np.float64)
        w = (np.arange(len(col)) % 1009 + 1).astype(np.float64)
        out.append(float(col.sum()))
        out.append(float(np.dot(col, w)))
    return out


def _init_from_torchrun(dev_type: str) -> None:
    import torch.distributed as dist

    backend = "nccl" if dev_type == "cuda" else "gloo"
    if dev_type == "cuda":
        import torch

        torch.cuda.set_device(_env_int("LOCAL_RANK", 0) % max(1, torch.cuda.device_count()))
    dist.init_process_group(backend=backend, init_method="env://")
    # kept for the process's later fits: a group re-created under torchrun's store can read
    # the previous group's addresses and fail to connect
    atexit.register(_destroy_group)


def _destroy_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # every rank leaves together: a rank tearing its connections down while another still
        # uses them can abort that one (under torchrun a crashed rank ends all of them anyway)
        dist.barrier()
        dist.destroy_process_group()


def _group_size() -> int:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        return 0
    return int(dist.get_world_size())


@contextlib.contextmanager
def replicas(setting: Any, device: Any, owner: str) -> Iterator[Replicas | None]:
    """The replicas of this ``fit`` (``None``: train alone), initialising the process group from
    torchrun's environment when needed (it then lives until the process exits).

    Args:
        setting: The model's ``distributed`` hyper-parameter: ``"auto"``, ``True`` or ``False``.
        device: The ``torch.device`` the model trains on (picks ``nccl`` or ``gloo``).
        owner: The model's class name, for messages.

    Raises:
        InvalidParameterError: ``distributed=True`` with no process group and no torchrun
            environment.
    """
    if setting is False:
        yield None
        return
    import torch.distributed as dist

    size = _group_size()
    if size == 0 and launched_by_torchrun():
        _init_from_torchrun(device.type)
        size = _group_size()
    if size <= 1:
        if setting is True:
            raise InvalidParameterError(
                f"{owner}: distributed=True but there is no process group of several processes; "
                "launch the script with `torchrun --nproc_per_node=N script.py`, or call "
                "torch.distributed.init_process_group first, or use distributed='auto'.")
        yield None
        return
    backend = str(dist.get_backend())
    import torch

    comm = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    ctx = Replicas(int(dist.get_rank()), size, _env_int("LOCAL_RANK", int(dist.get_rank())),
                   _env_int("LOCAL_WORLD_SIZE", size), comm)
    _log.info("%s: data-parallel fit, rank %d of %d (%s)", owner, ctx.rank, ctx.world_size, backend)
    yield ctx


def writes_here(model: Any) -> bool:
    """Whether ``model.save`` writes in this process: always, except on ranks other than 0 of
    a distributed fit (rank 0 writes the one copy; the replicas are identical)."""
    rank = getattr(model, "rank_", 0)
    if rank:
        _log.info("%s.save: rank %d of a distributed fit does not write; rank 0 writes the model.",
                  type(model).__name__, rank)
    return not rank
