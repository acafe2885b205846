"""``SequentialTransformer``: a live-aware, repeat-aware SASRec-family recommender.

The package splits the model into small private modules:

* ``estimator``: the public class (parameters, scoring hooks, persistence);
* ``training``: the training loop (validation split, epochs, learning-rate schedule, early
  stopping, time limit);
* ``losses``: the ``"ce"`` / ``"sampled_ce"`` / ``"bce"`` losses and the fused, chunked
  full-softmax cross-entropy;
* ``data``: flat per-user sequences, training windows and batches (NumPy only);
* ``network``: the PyTorch encoder.

Only ``estimator`` and ``data`` load when the class is imported; torch and the other modules
load on ``fit`` or ``load``.
"""

from __future__ import annotations

from .estimator import SequentialTransformer

__all__ = ["SequentialTransformer"]
