"""Root pytest set-up, shared by tests/ and the doctests in src/: one torch thread."""

from __future__ import annotations

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
