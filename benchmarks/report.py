"""Turn ``benchmarks/results/*.json`` into the Markdown page ``docs/benchmarks.md``.

Run by ``make docs`` and ``make bench`` (``benchmarks/run_all.py``), or by hand::

    python benchmarks/report.py [--results benchmarks/results] [--out docs/benchmarks.md]

Each results file is one section: its ``title`` (or name), ``description``, the machine it
ran on, its ``tables`` and its ``notes`` (the format ``benchmarks/_common.write_result``
documents). A file without ``tables`` is shown as a two-column table of its scalar figures,
so that every result appears on the page even before its script adopts the format. When
``docs/benchmarks/<name>.md`` exists, the section links to it for the full discussion.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_FLAT_ROWS = 40
#: Section titles for results files that do not carry their own ``title``.
TITLES = {
    "distributed": "Distributed training and Parquet reading",
    "evaluate_popularity": "Evaluation protocol and the popularity baseline",
    "mf_explicit": "Explicit matrix factorisation (MovieLens-100K)",
    "mf_vs_implicit": "Matrix factorisation: liverec against implicit",
    "profiles": "User profiles and products in a live room",
    "sequential": "SequentialTransformer",
    "text": "Text encoders",
}

HEADER = """# Benchmarks

These tables are generated from `benchmarks/results/*.json` by `benchmarks/report.py`;
do not edit this page by hand. To reproduce them, run `make bench` (or
`liverec bench all`, or one benchmark: `liverec bench <name>`) in a source checkout, then
`make docs`. Benchmarks that need the real data sets skip themselves when the data folder
is absent.

Each section says which machine produced its figures, with how many cores and torch threads,
the library versions and the date. Timings on a shared machine are noisy: the scripts
measure competing implementations side by side, alternating, in one process run, repeat
them and report medians, and ratios are more trustworthy than absolute seconds.
"""


def fmt(x: Any) -> str:
    """One table cell: compact numbers, ``—`` for missing values, pipes escaped."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return "—"
        if x == 0:
            return "0"
        if abs(x) >= 10_000:
            return f"{x:,.0f}"
        if abs(x) >= 100:
            return f"{x:.1f}"
        return f"{x:.4g}" if abs(x) >= 1e-3 else f"{x:.2e}"
    if isinstance(x, (list, tuple)) and len(x) == 2 and all(isinstance(v, (int, float)) for v in x):
        return f"[{fmt(x[0])}, {fmt(x[1])}]"  # a confidence interval
    text = x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numeric columns are right-aligned."""
    table = [list(r) for r in rows]
    numeric = [
        bool(table) and all(isinstance(r[i], (int, float)) or r[i] is None for r in table if i < len(r))
        for i in range(len(columns))
    ]
    lines = ["| " + " | ".join(fmt(c) for c in columns) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for r in table:
        cells = [fmt(v) for v in r] + [""] * (len(columns) - len(r))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _table_from_spec(spec: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = list(spec.get("rows", []))
    columns = list(spec.get("columns", []))
    if rows and isinstance(rows[0], Mapping):  # records
        if not columns:
            for r in rows:
                columns += [k for k in r if k not in columns]
        rows = [[r.get(c) for c in columns] for r in rows]
    return [str(c) for c in columns], rows


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar leaves of a nested dict as (dotted key, value); lists of numbers kept whole if short."""
    out: list[tuple[str, Any]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        if len(obj) <= 4 and all(isinstance(v, (int, float, str, type(None))) for v in obj):
            out.append((prefix, list(obj)))
    else:
        out.append((prefix, obj))
    return out


def machine_line(machine: Mapping[str, Any] | None) -> str:
    """One readable line describing where the figures come from."""
    if not machine:
        return "*Machine not recorded.*"
    parts = [str(machine.get("cpu", "unknown CPU"))]
    cores, usable = machine.get("cores"), machine.get("usable_cores")
    if cores is not None:
        parts.append(f"{usable} of {cores} cores usable" if usable not in (None, cores) else f"{cores} cores")
    if machine.get("torch_threads") is not None:
        parts.append(f"torch threads {machine['torch_threads']}")
    if machine.get("cuda"):
        parts.append(f"GPU {machine['cuda']}")
    if machine.get("memory_gb"):
        parts.append(f"{machine['memory_gb']} GB RAM")
    versions = machine.get("versions") or {}
    if versions:
        parts.append(", ".join(f"{k} {v}" for k, v in versions.items()))
    if machine.get("date"):
        parts.append(str(machine["date"]))
    return "*Machine:* " + "; ".join(parts) + "."


def section(name: str, result: Mapping[str, Any], docs_dir: Path) -> str:
    """The Markdown section for one results file."""
    title = result.get("title") or TITLES.get(name) or name.replace("_", " ").capitalize()
    out = [f"## {title}", ""]
    if result.get("description"):
        out += [str(result["description"]).strip(), ""]
    detail = docs_dir / "benchmarks" / f"{name}.md"
    if detail.exists():
        out += [f"Full discussion: [{title}](benchmarks/{name}.md).", ""]
    out += [machine_line(result.get("machine")), ""]
    tables = result.get("tables")
    if isinstance(tables, Mapping):
        tables = [{"title": k, **v} if isinstance(v, Mapping) else {"title": k, "rows": v} for k, v in tables.items()]
    if tables:
        for spec in tables:
            columns, rows = _table_from_spec(spec)
            if spec.get("title"):
                out += [f"**{spec['title']}**", ""]
            out += [markdown_table(columns, rows), ""]
    else:
        skip = {"name", "title", "description", "notes", "machine", "tables"}
        flat = [(k, v) for k, v in _flatten({k: v for k, v in result.items() if k not in skip})]
        if flat:
            shown = flat[:MAX_FLAT_ROWS]
            out += [markdown_table(["figure", "value"], shown), ""]
            if len(flat) > len(shown):
                out += [f"*{len(flat) - len(shown)} more figures in `benchmarks/results/{name}.json`.*", ""]
    notes = result.get("notes")
    if isinstance(notes, str):
        notes = [notes]
    if notes:
        out += [f"- {n}" for n in notes] + [""]
    out += [f"*Source: `benchmarks/results/{name}.json`.*", ""]
    return "\n".join(out)


def render(results_dir: Path, docs_dir: Path) -> str:
    """The whole page."""
    files = sorted(results_dir.glob("*.json"))
    parts = [HEADER]
    if not files:
        parts.append("*No results yet: run `make bench` to produce them.*\n")
    for path in files:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            parts.append(f"## {path.stem}\n\n*Could not read `{path.name}`: {exc}.*\n")
            continue
        if not isinstance(result, Mapping):
            parts.append(f"## {path.stem}\n\n*`{path.name}` is not a JSON object.*\n")
            continue
        parts.append(section(path.stem, result, docs_dir))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/benchmarks.md from benchmarks/results/*.json")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    page = render(args.results, args.out.parent)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.exists() or args.out.read_text(encoding="utf-8") != page:
        args.out.write_text(page, encoding="utf-8")
    n = len(list(args.results.glob("*.json")))
    print(f"wrote {args.out} from {n} result file(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
