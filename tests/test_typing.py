"""Public names are typed where users import them: a typed user script passes ``mypy --strict``.

``liverec.models`` loads its heavy classes lazily at run time; a ``TYPE_CHECKING`` branch
gives type checkers and IDEs the real classes, so model arguments are checked in user code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

SCRIPT = Path(__file__).resolve().parent / "typing" / "user_script.py"


def _mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(cache), str(path)],
        capture_output=True, text=True, timeout=600,
    )


def test_a_typed_script_using_every_model_passes_mypy_strict(tmp_path: Path) -> None:
    proc = _mypy(SCRIPT, tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_sees_the_real_model_classes_behind_the_lazy_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from liverec.models import ALS, SequentialTransformer\n"
        "import liverec\n"
        "ALS(n_factors='eight')\n"
        "SequentialTransformer(max_len=None)\n"
        "liverec.text.HashingTextEncoder(dim='x')\n"
    )
    proc = _mypy(bad, tmp_path / "cache")
    out = proc.stdout
    assert proc.returncode == 1
    assert 'Argument "n_factors" to "ALS" has incompatible type "str"; expected "int"' in out
    assert 'Argument "max_len" to "SequentialTransformer"' in out
    assert 'Argument "dim" to "HashingTextEncoder"' in out
