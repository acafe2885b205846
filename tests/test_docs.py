"""The Python code in the documentation (and the README) runs, so the docs match the real API.

Every fenced ``python`` block of a page runs, in order, in one fresh Python process per page
(later blocks see the names of earlier ones, as a reader would). A block right after the
line ``<!-- docs-test: skip -->`` is left out (for code that needs a GPU, a downloaded model or
a server). A page with the line ``<!-- docs-test: requires pkg1 pkg2 -->`` is skipped when one of
those modules is not installed; a page whose code reads the real data sets (``shared/data``)
is skipped too. A block right after the line ``<!-- docs-test: new process -->`` starts a
new, fresh Python process in the same working directory (later blocks run there): how a page
shows that something saved by one program works in another, as a service would load it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_MARK = "<!-- docs-test: skip -->"
NEW_PROCESS_MARK = "<!-- docs-test: new process -->"
REQUIRES = re.compile(r"^<!-- docs-test: requires ([\w. ]+) -->\s*$", re.M)
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```\s*$", re.M | re.S)
TIMEOUT_S = 300


def python_processes(markdown: str) -> list[list[str]]:
    """The ``python`` code blocks of a page that are not marked to be skipped, grouped by the
    process they run in (a new group at each ``NEW_PROCESS_MARK``)."""
    groups: list[list[str]] = [[]]
    for m in FENCE.finditer(markdown):
        if m.group("lang") != "python":
            continue
        before = markdown[: m.start()].rstrip().splitlines()
        if before and before[-1].strip() == SKIP_MARK:
            continue
        if before and before[-1].strip() == NEW_PROCESS_MARK and groups[-1]:
            groups.append([])
        indent = len(m.group("indent"))
        groups[-1].append("\n".join(line[indent:] for line in m.group("body").splitlines()))
    return [g for g in groups if g]


def python_blocks(markdown: str) -> list[str]:
    """The ``python`` code blocks of a page that are not marked to be skipped."""
    return [block for group in python_processes(markdown) for block in group]


def _pages() -> list[Path]:
    candidates = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return [p for p in candidates if p.is_file() and python_blocks(p.read_text(encoding="utf-8"))]


def _page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix() if page.is_relative_to(DOCS) else page.name


PAGES = _pages()


def test_the_block_extractor_honours_the_skip_mark() -> None:
    page = f"text\n```python\nx = 1\n```\n{SKIP_MARK}\n```python\nraise SystemExit(1)\n```\n```bash\nls\n```\n"
    assert python_blocks(page) == ["x = 1"]


def test_the_new_process_mark_starts_a_new_group() -> None:
    page = f"```python\nx = 1\n```\n```python\ny = x\n```\n{NEW_PROCESS_MARK}\n```python\nz = 2\n```\n"
    assert python_processes(page) == [["x = 1", "y = x"], ["z = 2"]]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[_page_id(p) for p in PAGES])
def test_docs_page_code_runs(page: Path, tmp_path: Path) -> None:
    markdown = page.read_text(encoding="utf-8")
    processes = ["\n\n".join(group) for group in python_processes(markdown)]
    code = "\n\n".join(processes)
    needed = [m for line in REQUIRES.findall(markdown) for m in line.split()]
    needed += [m for m in ("pandas", "matplotlib") if re.search(rf"^\s*(import|from) {m}\b", code, re.M)]
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)}")
    if "shared/data" in code:
        pytest.skip(f"{page.name} reads the real data sets (paths relative to a checkout)")
    env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=str(tmp_path / "mpl"), TQDM_DISABLE="1",
               OMP_NUM_THREADS="1", LIVEREC_QUICK="1")
    for n, part in enumerate(processes):  # one fresh process per group, in the same folder
        script = tmp_path / f"page_{n}.py"
        script.write_text(part, encoding="utf-8")
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
        assert proc.returncode == 0, f"{_page_id(page)} (process {n + 1}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


@pytest.mark.slow
def test_the_site_builds_strict_and_offline(tmp_path: Path) -> None:
    # what `make docs` runs; skipped without the docs extra
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None or (
            "." in module and importlib.util.find_spec(module) is None
        ):
            pytest.skip(f"the docs extra is not installed ({module} missing)")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html"))
    assert "fonts.googleapis" not in html  # theme.font: false
    models = (tmp_path / "site" / "api" / "models" / "index.html").read_text(encoding="utf-8")
    for method in ("fit", "recommend", "save", "get_params"):  # inherited, shown on every model
        assert f'id="liverec.models.als.ALS.{method}"' in models
        assert f'id="liverec.models.popularity.Popularity.{method}"' in models
    assert ":func:`" not in html and ":class:`" not in html  # no literal Sphinx roles


SPHINX_ROLE = re.compile(r":(func|class|meth|mod|attr|data|exc):`")


def test_no_sphinx_roles_in_the_sources() -> None:
    # mkdocstrings renders ``:func:`x``` literally; cross-references are written
    # [`x`][liverec.full.path] (checked by the strict build) or as plain `x`
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in sorted((ROOT / "src" / "liverec").rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if SPHINX_ROLE.search(line)]
    assert not found, "Sphinx roles; use [`name`][liverec.path] instead:\n" + "\n".join(found)


def test_model_pages_show_inherited_methods() -> None:
    page = (DOCS / "api" / "models.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^::: (liverec\.models\.\w+\.\w+)\n((?:    .*\n)*)", page, re.M)
    assert len(blocks) >= 6
    assert all("inherited_members: true" in options for _, options in blocks), blocks


def _docs_extra_or_skip() -> None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None or (
            "." in module and importlib.util.find_spec(module) is None
        ):
            pytest.skip(f"the docs extra is not installed ({module} missing)")


def _build_page(tmp_path: Path, markdown: str) -> subprocess.CompletedProcess[str]:
    """Build a one-page site with the project's mkdocs.yml (strict), in a fresh process."""
    docs = tmp_path / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "index.md").write_text(markdown, encoding="utf-8")
    script = (
        "import logging\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from mkdocs.commands.build import build\n"
        "from mkdocs.config import load_config\n"
        f"cfg = load_config({str(ROOT / 'mkdocs.yml')!r}, docs_dir={str(docs)!r}, "
        f"site_dir={str(tmp_path / 'site')!r}, nav=[{{'Page': 'index.md'}}], strict=True)\n"
        "build(cfg)\n"
    )
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)


@pytest.mark.slow
def test_an_unresolved_cross_reference_fails_the_build(tmp_path: Path) -> None:
    _docs_extra_or_skip()
    good = _build_page(tmp_path / "good", "# Page\n\n[](){#liverec.target}\n## Target\n\n[`target`][liverec.target]\n")
    assert good.returncode == 0, good.stderr[-4000:]
    bad = _build_page(tmp_path / "bad", "# Page\n\n[`evaluate`][liverec.metrics.no_such_function]\n")
    assert bad.returncode != 0
    assert "Could not find cross-reference target 'liverec.metrics.no_such_function'" in bad.stderr
