"""Recommendation models behind one fit / predict / recommend API.

Heavy models are imported lazily, so ``import liverec`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .popularity import Popularity

if TYPE_CHECKING:  # type checkers and IDEs see the real classes; at run time they load lazily
    from .als import ALS as ALS
    from .bpr import BPR as BPR
    from .mf import MatrixFactorization as MatrixFactorization
    from .profile_ranker import ProfileRanker as ProfileRanker
    from .sequential import SequentialTransformer as SequentialTransformer

_LAZY = {
    "MatrixFactorization": ".mf",
    "ALS": ".als",
    "BPR": ".bpr",
    "SequentialTransformer": ".sequential",
    "ProfileRanker": ".profile_ranker",
}

__all__ = ["Popularity", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'liverec.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
