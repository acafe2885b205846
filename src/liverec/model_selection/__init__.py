"""Leakage-free splits for recommender evaluation.

* [`temporal_split`][liverec.model_selection.temporal_split]: a global time cut (train before, test after).
* [`leave_last_out`][liverec.model_selection.leave_last_out]: each user's last events held out (the ML-1M / SASRec protocol).
* [`live_split`][liverec.model_selection.live_split]: the live-streaming protocol: one case per user in a final time
  window, their last event as the target and the events before it as history.
* [`next_item_split`][liverec.model_selection.next_item_split]: targets given by a benchmark's own files (ML-1M, Beauty).

Every split returns a [`Split`][liverec.model_selection.Split] whose parts share the id maps of the input, so codes
mean the same in train and test; pass it straight to [`liverec.metrics.evaluate`][liverec.metrics.evaluate].

Examples:
    >>> from liverec.data import Interactions
    >>> X = Interactions.from_arrays([1, 1, 2, 2], ["a", "b", "a", "c"], time=[1, 2, 1, 3])
    >>> temporal_split(X, at=2)
    Split(train=2, test=2 events)
"""

from ._split import Split, leave_last_out, live_split, next_item_split, temporal_split

__all__ = ["Split", "leave_last_out", "live_split", "next_item_split", "temporal_split"]
