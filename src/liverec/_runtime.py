"""The torch runtime (private): devices, CPU threads, and the rule about who may change them.

One place decides three things for every model and encoder:

* **Devices.** ``resolve_device`` turns a ``device=`` hyper-parameter into a
  ``torch.device``: ``"auto"`` is CUDA when a GPU is present (then, where the caller allows it,
  Apple MPS), else the CPU; an explicit ``"cuda"`` / ``"cuda:N"`` without a GPU falls back to the
  CPU with a ``RuntimeWarning``; any other string torch parses is used as it is.
* **Threads.** ``threads=None`` means *all CPU cores this process may use*
  (``usable_cores``, which honours CPU affinity and containers' cpusets) for every model;
  an integer is that many threads. ``resolve_threads`` is the one reading of the parameter.
* **Who changes torch's thread settings.** ``torch.set_num_threads`` changes state that other
  threads see (the count new threads start with, and the calling thread's own count), so
  nothing on a request path calls it: ``recommend``, ``similar_items`` and ``evaluate`` run
  with whatever the caller (a service, a notebook) set once. Only ``fit`` / ``partial_fit``
  change it, for their own duration, through ``torch_threads``, which restores it.

Torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["resolve_device", "resolve_threads", "torch_threads", "usable_cores"]


def usable_cores() -> int:
    """The number of CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: Any) -> int:
    """The thread count a ``threads=`` hyper-parameter asks for: the integer, or all usable
    cores for ``None``.

    Raises:
        ValueError: for anything but ``None`` or a positive integer (``bool`` refused).

    Examples:
        >>> resolve_threads(2)
        2
        >>> resolve_threads(None) == usable_cores()
        True
    """
    import numpy as np

    if threads is not None and (not isinstance(threads, (int, np.integer)) or isinstance(threads, bool)
                                or threads < 1):
        raise ValueError(f"threads must be a positive integer or None (all cores), got {threads!r}.")
    return int(threads) if threads is not None else usable_cores()


@contextlib.contextmanager
def torch_threads(threads: Any) -> Iterator[int]:
    """Run the block with ``threads`` torch intra-op threads (``None``: all usable cores), then
    restore the caller's setting. For ``fit`` only: never on a request path.

    Yields:
        The thread count in effect inside the block.
    """
    import torch

    n = resolve_threads(threads)
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def resolve_device(device: Any, *, mps: bool = False, stacklevel: int = 3) -> Any:
    """The ``torch.device`` a ``device=`` hyper-parameter asks for.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or another device string torch
            parses (``"mps"``, ``"xpu"``).
        mps: Whether ``"auto"`` may pick Apple's MPS when there is no CUDA GPU (the text
            encoder's kernels run there; the factorisation models' sparse kernels do not).
        stacklevel: Where the fallback warning points.

    Returns:
        A ``torch.device``. ``"cuda"`` without a GPU gives the CPU, with a ``RuntimeWarning``.

    Raises:
        ValueError: for a string torch does not parse as a device, or a non-string.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    import torch

    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch device string, got {device!r}.")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        backend = getattr(torch.backends, "mps", None)
        if mps and backend is not None and backend.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch device string, got {device!r}.") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"device={device!r} was asked for but no CUDA GPU is available; using the CPU.",
                      RuntimeWarning, stacklevel=stacklevel)
        return torch.device("cpu")
    return resolved
