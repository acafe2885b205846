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
* **Sharding.** Every replica holds the same training data and draws the same global batches
  from the same seed; replica ``r`` of ``W`` takes the ``r``-th of ``W`` nearly equal parts of
  each global batch (`Replicas.shard`). ``W`` replicas with ``batch_size=b`` therefore see
  exactly the batches one process with ``batch_size=W*b`` sees.
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
    def all_sum(self, values: Sequence[float]) -> np.ndarray:
        """Element-wise float64 sum of ``values`` over the replicas (the same on every rank)."""
        import torch
        import torch.distributed as dist

        t = torch.tensor(np.asarray(values, dtype=np.float64), device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
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

    def check_same_data(self, owner: str, fingerprint: Sequence[float]) -> None:
        """Raise unless every replica passed identical data (compared by ``fingerprint``).

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
                "on every rank, or pass distributed=False to fit each process on its own data.")

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
