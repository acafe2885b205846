"""Data sets: the synthetic live-commerce generator and loaders for real files.

* :func:`make_live_commerce` -> :class:`LiveCommerceData`: broadcasts, room and product
  events, bilingual text and metadata with a known structure (the embedded default data).
* :func:`load_sequences` (one line per user, or ``user item`` pairs), :func:`load_ml1m_seq`
  (the ml-1m-seq split), :func:`load_movielens` (``u.data`` / ``ratings.dat``) and
  :func:`load_twitch` (watch intervals -> events and a :class:`~liverec.data.LiveSchedule`).

See ``docs/datasets.md``.
"""

from ._loaders import (
    SEQUENCE_FORMATS,
    SequenceBenchmark,
    TwitchData,
    load_ml1m_seq,
    load_movielens,
    load_sequences,
    load_twitch,
    merge_intervals,
)
from ._synthetic import LiveCommerceData, make_live_commerce, repeat_share

__all__ = [
    "SEQUENCE_FORMATS",
    "LiveCommerceData",
    "SequenceBenchmark",
    "TwitchData",
    "load_ml1m_seq",
    "load_movielens",
    "load_sequences",
    "load_twitch",
    "make_live_commerce",
    "merge_intervals",
    "repeat_share",
]
