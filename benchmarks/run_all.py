"""Run every benchmark script in this folder, then write the Markdown report.

Each ``benchmarks/<name>.py`` (files starting with ``_`` and the runner/report scripts are
not benchmarks) runs in its own Python process, one after the other, so that one crash or
memory peak does not spoil the others and the timings are not disturbed by a neighbour.
Each script writes ``benchmarks/results/<name>.json``; at the end ``report.py`` turns all
results into ``docs/benchmarks.md``.

Usage::

    python benchmarks/run_all.py                 # everything (also: make bench, liverec bench all)
    python benchmarks/run_all.py --list          # what would run
    python benchmarks/run_all.py --only text profiles
    python benchmarks/run_all.py --skip sequential --timeout 3600

Benchmarks that need real data skip themselves when ``../shared/data`` is absent; a script
that fails is reported and the others still run; the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run_all", "report"}


def discover(folder: Path = HERE) -> list[Path]:
    """The benchmark scripts in ``folder``, sorted by name."""
    return sorted(
        p for p in folder.glob("*.py") if not p.stem.startswith("_") and p.stem not in NOT_BENCHMARKS
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="benchmarks not to run")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per benchmark")
    parser.add_argument("--no-report", action="store_true", help="do not regenerate docs/benchmarks.md")
    args = parser.parse_args(argv)

    scripts = discover()
    names = [p.stem for p in scripts]
    unknown = sorted(set(args.only or []) | set(args.skip)) if scripts else []
    unknown = [n for n in unknown if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(names) or 'none'}")
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    scripts = [p for p in scripts if p.stem not in args.skip]
    if args.list:
        print("\n".join(p.stem for p in scripts) or "no benchmark scripts found")
        return 0

    failed: list[str] = []
    timings: list[tuple[str, float, str]] = []
    for script in scripts:
        print(f"\n=== benchmark {script.stem} ===", flush=True)
        start = time.perf_counter()
        try:
            rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, timeout=args.timeout).returncode
            status = "ok" if rc == 0 else f"failed (exit {rc})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {args.timeout:g} s"
        seconds = time.perf_counter() - start
        if status != "ok":
            failed.append(script.stem)
        timings.append((script.stem, seconds, status))

    if not args.no_report:
        print("\n=== report ===", flush=True)
        subprocess.run([sys.executable, str(HERE / "report.py")], cwd=HERE.parent, check=False)

    print("\nsummary:")
    for name, seconds, status in timings:
        print(f"  {name:<24} {seconds:8.1f} s  {status}")
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _own_argv() -> list[str]:
    """This script's arguments, also when run by ``liverec bench all [ARGS]`` through runpy."""
    argv = sys.argv[1:]
    if argv[:2] == ["bench", "all"]:  # runpy keeps the caller's arguments
        argv = argv[2:]
    return argv


if __name__ == "__main__":
    raise SystemExit(main(_own_argv()))
