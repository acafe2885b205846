"""Data sets: the synthetic live-commerce generator and loaders for real files."""
