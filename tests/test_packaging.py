"""Packaging: one version everywhere, type information shipped, a complete wheel and sdist.

The wheel is built without network (``python -m build --no-isolation``, hatchling from the
dev extra). Installing it into a fresh virtual environment needs a package index for the
dependencies, so that check is a script run by hand or in CI: ``scripts/check_wheel.sh``.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import liverec

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "liverec"

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]


def _pyproject() -> dict:
    if tomllib is None:
        pytest.skip("tomllib needs Python >= 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _declared_version() -> str:
    """The version pyproject declares: static, or read by hatch from the file it names."""
    project = _pyproject()["project"]
    if "version" in project:
        return project["version"]
    assert "version" in project.get("dynamic", []), "pyproject has neither a version nor a dynamic one"
    path = ROOT / _pyproject()["tool"]["hatch"]["version"]["path"]
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", path.read_text(encoding="utf-8"))
    assert match, f"{path} defines no __version__"
    return match.group(1)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wheel and an sdist built from this checkout into a temporary folder."""
    if importlib.util.find_spec("build") is None or importlib.util.find_spec("hatchling") is None:
        pytest.skip("needs the 'build' and 'hatchling' packages (dev extra)")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--sdist", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_package_version_is_the_one_pyproject_declares() -> None:
    assert liverec.__version__ == _declared_version()


def test_version_is_pep440() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", liverec.__version__)


def test_py_typed_marker_is_in_the_source_tree() -> None:
    assert (SRC / "py.typed").is_file()


def test_console_command_reports_the_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "liverec.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"liverec {liverec.__version__}"


def test_console_command_is_declared() -> None:
    assert _pyproject()["project"]["scripts"]["liverec"] == "liverec.cli:main"


def test_wheel_name_carries_the_version(dists: dict[str, Path]) -> None:
    assert dists["wheel"].name.startswith(f"liverec-{liverec.__version__}-")


def test_wheel_metadata_version_matches(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        meta = zf.read(f"liverec-{liverec.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {liverec.__version__}\n" in meta


def test_wheel_ships_py_typed_and_every_module(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = set(zf.namelist())
    assert "liverec/py.typed" in names
    modules = {
        "liverec/" + p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "__pycache__" not in p.parts
    }
    assert modules - names == set()


def test_wheel_has_no_tests_caches_or_data(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = zf.namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"liverec", f"liverec-{liverec.__version__}.dist-info"}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".safetensors", ".npz"))]


def test_wheel_declares_the_console_command(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as zf:
        entry_points = zf.read(f"liverec-{liverec.__version__}.dist-info/entry_points.txt").decode()
    assert "liverec = liverec.cli:main" in entry_points


def test_sdist_holds_what_a_rebuild_needs(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "src/liverec/__init__.py", "src/liverec/py.typed"} <= names


def test_sdist_holds_what_its_tests_need(dists: dict[str, Path]) -> None:
    # the test suite runs the examples and the docs' code, and builds the docs
    with tarfile.open(dists["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"mkdocs.yml", "docs/index.md", "examples/plots.py", "benchmarks/report.py", "Makefile"} <= names
