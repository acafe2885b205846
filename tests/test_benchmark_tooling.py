"""The benchmark tooling: results files record the machine; the report renders every file."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


common = _load("_common")
report = _load("report")
run_all = _load("run_all")


def test_machine_info_records_cpu_cores_threads_versions_and_date() -> None:
    info = common.machine_info()
    assert {"cpu", "cores", "usable_cores", "torch_threads", "versions", "date"} <= set(info)
    assert info["usable_cores"] >= 1
    assert {"python", "numpy", "torch", "liverec"} <= set(info["versions"])


def test_write_result_adds_the_machine_and_converts_numpy(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    path = common.write_result("demo", {"seconds": np.float32(1.5), "ranks": np.arange(3),
                                        "missing": float("nan")}, results_dir=tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["name"] == "demo"
    assert data["machine"]["cores"] >= 1
    assert (data["seconds"], data["ranks"], data["missing"]) == (1.5, [0, 1, 2], None)


def test_write_result_rejects_a_path_as_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file stem"):
        common.write_result("../escape", {}, results_dir=tmp_path)


def test_report_renders_tables_notes_and_the_machine(tmp_path: Path) -> None:
    common.write_result("speed", {
        "title": "Speed", "description": "Fit time.", "notes": ["medians of 5 repeats"],
        "tables": [{"title": "Fit", "columns": ["model", "seconds"], "rows": [["a|b", 1.23456], ["c", None]]}],
    }, results_dir=tmp_path)
    page = report.render(tmp_path, tmp_path)
    assert "## Speed" in page and "Fit time." in page and "- medians of 5 repeats" in page
    assert "| model | seconds |" in page
    assert "| a\\|b | 1.235 |" in page      # pipes escaped, 4 significant digits
    assert "| c | — |" in page
    assert "*Machine:*" in page and "torch threads" in page


def test_report_shows_scalar_figures_of_a_file_without_tables(tmp_path: Path) -> None:
    (tmp_path / "raw.json").write_text(json.dumps({"fit": {"als": {"seconds": 2.0}}, "n": 6040}))
    page = report.render(tmp_path, tmp_path)
    assert "| fit.als.seconds | 2 |" in page and "| n | 6040 |" in page
    assert "*Machine not recorded.*" in page


def test_report_says_so_when_a_file_is_broken_or_absent(tmp_path: Path) -> None:
    assert "No results yet" in report.render(tmp_path, tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    assert "Could not read `bad.json`" in report.render(tmp_path, tmp_path)


def test_report_links_the_detailed_page_when_there_is_one(tmp_path: Path) -> None:
    common.write_result("mf", {"tables": []}, results_dir=tmp_path / "results")
    (tmp_path / "docs" / "benchmarks").mkdir(parents=True)
    (tmp_path / "docs" / "benchmarks" / "mf.md").write_text("# MF\n")
    assert "(benchmarks/mf.md)" in report.render(tmp_path / "results", tmp_path / "docs")


def test_every_committed_result_renders_a_section() -> None:
    # `make docs` regenerates docs/benchmarks.md from these files before building the site
    files = sorted((BENCH / "results").glob("*.json"))
    page = report.render(BENCH / "results", BENCH.parent / "docs")
    for path in files:
        assert f"*Source: `benchmarks/results/{path.name}`.*" in page
        assert f"Could not read `{path.name}`" not in page


def test_runner_finds_benchmarks_but_not_helpers(tmp_path: Path) -> None:
    for name in ("_common", "run_all", "report", "text", "mf_vs_implicit"):
        (tmp_path / f"{name}.py").write_text("")
    assert [p.stem for p in run_all.discover(tmp_path)] == ["mf_vs_implicit", "text"]


def test_runner_rejects_an_unknown_benchmark_name() -> None:
    with pytest.raises(SystemExit):
        run_all.main(["--only", "no_such_benchmark", "--list"])
