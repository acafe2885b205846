"""The ``liverec`` command: ``liverec info``, ``liverec demo``, ``liverec bench <name>``,
``liverec serve MODEL_DIR``."""

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
    "serve": ["fastapi", "uvicorn"],
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
    "distributed",
    "evaluate_popularity",
    "mf_explicit",
    "mf_vs_implicit",
    "profiles",
    "sequential",
    "serving",
    "text",
    "textbook_sasrec",
    "trust",
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


def serve(model_dir: str, *, host: str = "127.0.0.1", port: int = 8000, sha256: str | None = None,
          history_len: int = 50, hot_window: float = 600.0, threads: int | None = None) -> None:
    """Load a saved model and serve it over HTTP (``liverec serve MODEL_DIR``) until interrupted.

    Raises:
        SystemExit: the ``serve`` extra (FastAPI, uvicorn) is missing, or the directory does not load.
    """
    missing = [m for m in _EXTRAS["serve"] if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"liverec serve needs the serve extra ({', '.join(missing)} missing): "
                         "pip install 'liverec[serve]'")
    import uvicorn

    from .exceptions import LiverecError
    from .persistence import load
    from .serving import LiveService, create_app

    if threads is not None:  # once, at start-up: never on a request path
        import torch

        torch.set_num_threads(threads)
    try:
        model = load(model_dir, sha256=sha256)
        service = LiveService(model, history_len=history_len, hot_window=hot_window)
    except (LiverecError, OSError) as err:
        raise SystemExit(f"liverec serve: cannot serve {model_dir!r}: {err}") from None
    print(f"liverec serve: {type(model).__name__} from {model_dir} on http://{host}:{port} "
          "(POST /events, POST /schedule, GET /recommend, /healthz, /metrics)", flush=True)
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


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
    s = sub.add_parser("serve", help="serve a saved model over HTTP (needs the serve extra)")
    s.add_argument("model_dir", metavar="MODEL_DIR", help="a directory written by model.save(path)")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--sha256", default=None, help="refuse any artefact but this one (persistence.fingerprint)")
    s.add_argument("--history-len", type=int, default=50, help="recent events kept per viewer")
    s.add_argument("--hot-window", type=float, default=600.0, help="'hot now' window, in the data's time unit")
    s.add_argument("--threads", type=int, default=None, help="torch CPU threads, set once at start-up")
    args = parser.parse_args(argv)
    if args.command == "info":
        print(info())
    elif args.command == "demo":
        from .demo import run_demo

        run_demo(quick=args.quick, random_state=args.seed)
    elif args.command == "bench":
        bench(args.name, args.args)
    elif args.command == "serve":
        serve(args.model_dir, host=args.host, port=args.port, sha256=args.sha256, history_len=args.history_len,
              hot_window=args.hot_window, threads=args.threads)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
