"""The ``liverec`` command: bench runs only listed benchmarks; bad arguments print usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from liverec import cli

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liverec.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_the_benchmark_list_matches_the_scripts_in_the_folder() -> None:
    scripts = {p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_")} - {"run_all", "report"}
    assert set(cli.BENCHMARKS) == scripts


@pytest.mark.parametrize("name", ["../../some/file", "/tmp/x", "report", "_common", "sequential.py", ""])
def test_bench_refuses_anything_not_listed_with_usage(name: str) -> None:
    with pytest.raises(SystemExit) as err:
        cli.main(["bench", name])
    assert err.value.code == 2  # argparse's usage error


def test_bench_with_a_path_does_not_run_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "evil.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    proc = _run("bench", str(script.with_suffix("")))
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "invalid choice" in proc.stderr
    assert not marker.exists()


def test_bench_function_refuses_an_unlisted_name_even_when_called_directly() -> None:
    with pytest.raises(SystemExit, match="no benchmark"):
        cli.bench("../report", [])


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["demo", "--seed", "x"], ["info", "--bogus"]])
def test_bad_arguments_print_usage_and_exit_2(argv: list[str]) -> None:
    proc = _run(*argv)
    assert proc.returncode == 2
    assert "usage: liverec" in proc.stderr
