"""What every benchmark script shares: per-stage timers, a peak-memory probe, the git commit and
machine description that stamp a result, atomic JSON saving and a plain-text table printer.

Times are in milliseconds (stages) or seconds (wall clock); memory in MiB (2**20 bytes), named MB
in keys for brevity.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
from dataclasses import is_dataclass, asdict
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from semslam.io.atomic import atomic_open

REPO_ROOT = Path(__file__).resolve().parents[1]
_KIB_PER_MIB = 1024.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux it reads VmHWM from /proc/self/status (which `reset_peak_rss` can reset); elsewhere
    `getrusage(RUSAGE_SELF).ru_maxrss` (KiB on Linux, bytes on macOS). Since the peak only grows,
    a process that runs several systems in turn must measure each in its own child process (see
    benchmarks.baselines.run_isolated) or reset the mark in between.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / _KIB_PER_MIB  # value in kB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (_KIB_PER_MIB * _KIB_PER_MIB) if sys.platform == "darwin" else maxrss / _KIB_PER_MIB


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (0.0 where it cannot be read)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / _KIB_PER_MIB
    try:
        import psutil

        return psutil.Process().memory_info().rss / (_KIB_PER_MIB * _KIB_PER_MIB)
    except ImportError:
        return 0.0


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (VmHWM) to the current RSS; True when it worked.

    Linux only (writes 5 to /proc/self/clear_refs); ru_maxrss is not affected by the reset.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def git_commit(repo: Path = REPO_ROOT) -> str | None:
    """The checked-out commit of `repo` (40 hex digits), with '-dirty' appended when tracked files
    have uncommitted changes; None when git or the repository is unavailable."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if changed else sha


def _package_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _total_ram_gb() -> float | None:
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(float(line.split()[1]) / 2**20, 1)  # kB -> GiB
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return None


def machine() -> dict[str, Any]:
    """Where a result was measured: CPU model, logical cores (total and usable by this process),
    RAM in GiB, OS, Python, and the numpy / open3d / torch versions (None when not installed).
    Reads package metadata only; it imports none of the packages."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gb": _total_ram_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": _package_version("numpy"),
        "open3d": _package_version("open3d", "open3d-cpu"),
        "torch": _package_version("torch"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def _to_jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN/inf
    if isinstance(obj, Path):
        return str(obj)
    return obj


def save_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically (temporary file in the same folder, then
    renamed), creating the folder. numpy arrays and scalars, dataclasses and Paths are converted;
    non-finite floats become null. Returns the path."""
    path = Path(path)
    with atomic_open(path, "w") as f:
        f.write(json.dumps(_to_jsonable(obj), indent=2) + "\n")
    return path


Column = str | tuple[str, str] | tuple[str, str, str]


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """A plain-text table of `rows` (dicts) with one column per entry of `columns`.

    A column is a key, or (key, header), or (key, header, format spec such as '.2f'). Keys may
    be dotted ('stage_ms.track') to reach into nested dicts. Missing values print as '-'; numbers
    are right-aligned, text left-aligned.
    """
    specs = [(c, c, "") if isinstance(c, str) else (c[0], c[1], c[2] if len(c) > 2 else "") for c in columns]
    cells: list[list[str]] = []
    numeric = [True] * len(specs)
    for row in rows:
        line = []
        for j, (key, _, fmt) in enumerate(specs):
            value: Any = row
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                line.append("-")
                continue
            if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
                numeric[j] = False
            line.append(format(value, fmt) if fmt else str(value))
        cells.append(line)
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, (_, h, _) in enumerate(specs)]

    def render(values: list[str], header: bool = False) -> str:
        out = []
        for j, v in enumerate(values):
            out.append(v.rjust(widths[j]) if numeric[j] and not (header and j == 0) else v.ljust(widths[j]))
        return "  ".join(out).rstrip()

    lines = [render([h for _, h, _ in specs], header=True), render(["-" * w for w in widths])]
    lines += [render(r) for r in cells]
    return "\n".join(lines)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], file=None) -> str:
    """Print `format_table(rows, columns)` to `file` (default stdout) and return the text."""
    text = format_table(rows, columns)
    print(text, file=file if file is not None else sys.stdout, flush=True)
    return text
