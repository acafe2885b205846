"""Data sets: the synthetic live-commerce generator and loaders for real files.

* [`make_live_commerce`][liverec.datasets.make_live_commerce] -> [`LiveCommerceData`][liverec.datasets.LiveCommerceData]: broadcasts, room and product
  events, bilingual text and metadata with a known structure (the embedded default data).
* [`load_sequences`][liverec.datasets.load_sequences] (one line per user, or ``user item`` pairs), [`load_ml1m_seq`][liverec.datasets.load_ml1m_seq]
  (the ml-1m-seq split), [`load_movielens`][liverec.datasets.load_movielens] (``u.data`` / ``ratings.dat``) and
  [`load_twitch`][liverec.datasets.load_twitch] (watch intervals -> events and a [`LiveSchedule`][liverec.data.LiveSchedule]).

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
