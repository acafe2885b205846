"""Data sets: the synthetic live-commerce generator and loaders for real files."""

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
