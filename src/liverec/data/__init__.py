"""Data model: interactions, live schedules, text events and id maps."""

from .idmap import IdMap
from .interactions import DEFAULT_EVENT_WEIGHTS, EVENT_TYPES, Interactions
from .schedule import LiveSchedule
from .sharding import shard_of
from .text import TEXT_KINDS, TextEvents

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "EVENT_TYPES",
    "TEXT_KINDS",
    "IdMap",
    "Interactions",
    "LiveSchedule",
    "TextEvents",
    "shard_of",
]
