"""Data sets: the synthetic live-commerce generator and loaders for real files."""

from ._synthetic import LiveCommerceData, make_live_commerce, repeat_share

__all__ = ["LiveCommerceData", "make_live_commerce", "repeat_share"]
