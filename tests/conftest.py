"""Shared test set-up: one torch thread, quick Hypothesis profile, real-data location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

# tests/typing holds scripts that test_typing.py type-checks with mypy; they are not tests
collect_ignore = ["typing"]

settings.register_profile("ci", deadline=None, max_examples=100)
# many more cases, for fuzzing by hand: HYPOTHESIS_PROFILE=fuzz pytest tests/test_fuzz_load.py
settings.register_profile("fuzz", deadline=None, max_examples=4000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA_DIR = Path(os.environ.get("LIVEREC_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real data sets folder; tests using it skip when it is absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data folder {DATA_DIR} is absent")
    return DATA_DIR
