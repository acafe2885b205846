"""The ``liverec`` command: ``liverec info``, ``liverec demo``, ``liverec bench <name>``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import runpy
import sys
from pathlib import Path

from ._version import __version__

_EXTRAS = {
    "text": ["transformers", "tokenizers"],
    "dev": ["pytest", "hypothesis", "sklearn", "pandas"],
    "docs": ["mkdocs", "material", "mkdocstrings", "matplotlib"],
    "bench": ["implicit"],
}


def info() -> str:
    """Version, platform, torch/CUDA and which optional extras are installed."""
    import numpy as np
    import scipy

    lines = [
        f"liverec {__version__}",
        f"python  {platform.python_version()} ({platform.platform()})",
        f"numpy   {np.__version__}",
        f"scipy   {scipy.__version__}",
    ]
    try:
        import torch

        cuda = torch.cuda.is_available()
        gpu = f", {torch.cuda.get_device_name(0)}" if cuda else ""
        lines.append(f"torch   {torch.__version__} (threads {torch.get_num_threads()}, CUDA {'yes' if cuda else 'no'}{gpu})")
    except ImportError:  # pragma: no cover - torch is a core dependency
        lines.append("torch   not installed")
    from ._runtime import usable_cores

    lines.append(f"cores   {usable_cores()}")
    for extra, modules in _EXTRAS.items():
        present = [m for m in modules if importlib.util.find_spec(m) is not None]
        status = "yes" if len(present) == len(modules) else ("partly" if present else "no")
        lines.append(f"extra [{extra}]: {status} ({', '.join(present) or 'none'})")
    return "\n".join(lines)


#: The benchmarks ``liverec bench`` runs: a fixed list, so that the command never runs an
#: arbitrary file (``liverec bench ../../some/file`` is a usage error, not a script run).
BENCHMARKS = (
    "evaluate_popularity",
    "mf_explicit",
    "mf_vs_implicit",
    "profiles",
    "sequential",
    "text",
    "textbook_sasrec",
)


def _benchmarks_dir() -> Path:
    env = os.environ.get("LIVEREC_BENCHMARKS")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    for c in candidates:
        if c.is_dir():
            return c
    raise SystemExit(
        "benchmarks/ folder not found: run from a liverec source checkout or set LIVEREC_BENCHMARKS."
    )


def bench(name: str, extra_args: list[str]) -> None:
    """Run ``benchmarks/<name>.py`` for a name in `BENCHMARKS` (or every one for ``all``).

    Raises:
        SystemExit: ``name`` is not a listed benchmark, or its script is missing.
    """
    if name != "all" and name not in BENCHMARKS:
        raise SystemExit(f"no benchmark {name!r}; available: {', '.join(BENCHMARKS)} or 'all'.")
    folder = _benchmarks_dir()
    # the file name comes from the list above, never from the argument itself
    stem = "run_all" if name == "all" else BENCHMARKS[BENCHMARKS.index(name)]
    script = folder / f"{stem}.py"
    if not script.is_file():
        raise SystemExit(f"benchmark script {script} is missing from {folder}.")
    sys.argv = [str(script), *extra_args]
    runpy.run_path(str(script), run_name="__main__")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``liverec`` console command."""
    parser = argparse.ArgumentParser(prog="liverec", description="liverec: recommendation for live streaming")
    parser.add_argument("--version", action="version", version=f"liverec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, torch/CUDA and installed extras")
    demo = sub.add_parser("demo", help="run the end-to-end demo on synthetic live-commerce data")
    demo.add_argument("--quick", action="store_true", help="a smaller, faster run")
    demo.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("bench", help="run a benchmark from the benchmarks/ folder")
    b.add_argument("name", choices=[*BENCHMARKS, "all"], metavar="NAME",
                   help=f"one of {', '.join(BENCHMARKS)}, or 'all'")
    b.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    args = parser.parse_args(argv)
    if args.command == "info":
        print(info())
    elif args.command == "demo":
        from .demo import run_demo

        run_demo(quick=args.quick, random_state=args.seed)
    elif args.command == "bench":
        bench(args.name, args.args)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
