"""Shared helpers for benchmark scripts: machine description and results files.

Every benchmark writes ``benchmarks/results/<name>.json`` through :func:`write_result`, so
that each file records the machine (CPU model, cores, torch threads), the versions of the
libraries involved and the date, next to the figures. ``benchmarks/report.py`` turns these
files into the tables of ``docs/benchmarks.md``.

Usage in a benchmark script::

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import write_result

    write_result("my_bench", {
        "description": "what was measured, on which data, with which protocol",
        "notes": ["machine shared with other jobs: medians of 5 alternating repeats"],
        "tables": [
            {"title": "Fit time", "columns": ["model", "seconds"],
             "rows": [["liverec ALS", 1.2], ["implicit ALS", 1.6]]},
        ],
        # any other keys: kept in the JSON as they are
    })

Only ``tables`` (a list of ``{"title", "columns", "rows"}``), ``description`` and ``notes``
are read by the report; everything else stays in the JSON as raw figures.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(os.environ.get("LIVEREC_RESULTS", Path(__file__).resolve().parent / "results"))

#: Distributions whose versions are recorded when installed.
_VERSIONED = ("liverec", "numpy", "scipy", "torch", "implicit", "transformers", "pandas", "scikit-learn")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _usable_cores() -> int:
    from liverec._runtime import usable_cores  # the library's one reading of "all cores"

    return usable_cores()


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError):
        pass
    return None


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries that matter for the figures (installed ones only)."""
    out = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def machine_info() -> dict[str, Any]:
    """Describe the machine a benchmark ran on.

    Returns:
        A JSON-ready dict: ``cpu`` (model name), ``cores`` (logical cores in the machine),
        ``usable_cores`` (cores this process may run on), ``torch_threads``, ``cuda`` (GPU
        name or ``None``), ``memory_gb``, ``platform``, ``versions`` and ``date`` (UTC, ISO 8601).

    Examples:
        >>> info = machine_info()
        >>> sorted(info)[:3]
        ['cores', 'cpu', 'cuda']
    """
    torch_threads: int | None = None
    cuda: str | None = None
    try:
        import torch

        torch_threads = torch.get_num_threads()
        if torch.cuda.is_available():
            cuda = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "torch_threads": torch_threads,
        "cuda": cuda,
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "versions": versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


def _jsonable(x: Any) -> Any:
    """numpy scalars/arrays, paths and non-finite floats into plain JSON values."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):  # numpy scalar or array
        return _jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_result(name: str, payload: dict[str, Any], *, results_dir: Path | str | None = None) -> Path:
    """Write ``payload`` with the machine description to ``benchmarks/results/<name>.json``.

    Args:
        name: The benchmark name (the file stem, e.g. ``"mf_vs_implicit"``).
        payload: The figures. ``tables`` (list of ``{"title", "columns", "rows"}``),
            ``description`` and ``notes`` are shown by ``benchmarks/report.py``; other keys
            are kept as raw data. A ``machine`` key, if given, is kept and not overwritten.
        results_dir: Where to write (default ``benchmarks/results`` or ``$LIVEREC_RESULTS``).

    Returns:
        The path written.

    Examples:
        >>> import tempfile
        >>> p = write_result("demo", {"tables": []}, results_dir=tempfile.mkdtemp())
        >>> p.name
        'demo.json'
    """
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"benchmark name must be a plain file stem, got {name!r}.")
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "machine": machine_info(), **payload}  # a given "machine" wins
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(record), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
