"""Every script in ``examples/`` runs to the end, so the examples never rot.

Each example runs in its own Python process, from a temporary working directory, in quick
mode: the environment variable ``LIVEREC_QUICK=1`` asks it for smaller data and fewer
epochs (examples read it with ``os.environ.get("LIVEREC_QUICK")``). Output files go to
``LIVEREC_OUTPUT`` (a temporary folder), and matplotlib draws off-screen. An example that
needs the real data sets and cannot find them must exit 0 after saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT_S = 180  # generous: 2 shared cores; each example aims at well under a minute


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LIVEREC_QUICK="1",
        LIVEREC_OUTPUT=str(tmp_path / "output"),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(tmp_path / "mpl"),
        OMP_NUM_THREADS="1",
        PYTHONHASHSEED="0",
        TQDM_DISABLE="1",
    )
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    return env


def test_the_quickstart_example_exists() -> None:
    # `make demo` runs it
    assert (ROOT / "examples" / "quickstart.py").is_file()


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_has_a_docstring(script: Path) -> None:
    text = script.read_text(encoding="utf-8").lstrip()
    assert text.startswith(('"""', "'''", "#!")), f"{script.name} should start with a docstring saying what it shows"


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert proc.stdout.strip(), f"{script.name} printed nothing: an example should show its results"
