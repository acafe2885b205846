"""Which shard an id belongs to: a stable hash, the same in every process and Python run.

Data-parallel training on disjoint user shards (``distributed_data="sharded"``) needs every
process to agree, without talking to the others, on which process holds which user.
`shard_of` hashes the id *value*, never Python's ``hash()`` (salted per process for
strings):

* integer ids (int64): SplitMix64's finaliser of the id's 64-bit two's-complement value;
* string ids: FNV-1a (64-bit) over the id's Unicode code points, then the same finaliser;

and the shard is the hash modulo ``world_size``. The hash is part of liverec's contract: a
data pipeline outside Python can split files the same way (the test suite pins a few values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataValidationError
from ._columns import as_1d, normalize_ids

__all__ = ["shard_of", "stable_id_hash"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (a bijection of uint64 with good avalanche)."""
    with np.errstate(over="ignore"):
        z = (z + np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def stable_id_hash(ids: Any) -> np.ndarray:
    """A 64-bit hash of every id's value, identical across processes, machines and runs.

    Args:
        ids: External ids: integers or strings (normalised as ``IdMap`` does, so ``1.0`` is
            ``1`` and bytes are decoded as UTF-8).

    Returns:
        A ``uint64`` array, one hash per id.

    Examples:
        >>> stable_id_hash([0, 1]).tolist(), stable_id_hash(["1"]).tolist()
        ([16294208416658607535, 10451216379200822465], [9897235953639169013])
    """
    if isinstance(ids, (list, tuple)) and len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    arr = ids if isinstance(ids, (list, tuple)) else as_1d(ids, "id")
    if len(arr) == 0:
        return np.zeros(0, dtype=np.uint64)
    values = normalize_ids(ids, "id")
    if values.dtype.kind != "U":
        return _mix64(values.astype(np.int64).view(np.uint64))
    values = np.ascontiguousarray(values)
    width = values.dtype.itemsize // 4
    points = values.view(np.uint32).reshape(len(values), width)
    lengths = np.char.str_len(values)
    h = np.full(len(values), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):  # one vector step per character position
            active = lengths > j
            h = np.where(active, (h ^ points[:, j].astype(np.uint64)) * _FNV_PRIME, h)
    return _mix64(h)


def shard_of(ids: Any, world_size: int) -> np.ndarray:
    """The shard (``0 <= shard < world_size``) of every id: ``stable_id_hash(ids) % world_size``.

    ``Interactions.shard(rank, world_size)`` and ``Interactions.read_parquet(...,
    shard_by="user")`` keep the rows whose user id falls in shard ``rank``; with this function
    a pipeline can write the files pre-split the same way.

    Args:
        ids: External ids (integers or strings).
        world_size: Number of shards (processes), at least 1.

    Returns:
        An int64 array of shard numbers.

    Raises:
        DataValidationError: ``world_size`` is not a positive integer.

    Examples:
        >>> shard_of(["ann", "bob", "cy"], 2).tolist()
        [0, 0, 1]
        >>> shard_of([7, 8, 9, 10], 3).tolist()
        [0, 1, 1, 1]
    """
    if isinstance(world_size, bool) or not isinstance(world_size, (int, np.integer)) or world_size < 1:
        raise DataValidationError(f"world_size must be an int >= 1, got {world_size!r}.")
    return (stable_id_hash(ids) % np.uint64(world_size)).astype(np.int64)
