"""Baseline SLAM systems run by the benchmark on the same frames as semslam, each returning a
`BaselineResult`: Open3D's tensor dense SLAM and its legacy frame-to-frame RGB-D odometry
(benchmarks.baselines.open3d_slam).

The names are loaded on first use, so that `python -m benchmarks.baselines.open3d_slam` (the
child process of `run_isolated`) does not import its own module twice.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "LEGACY_DEFAULTS",
    "SYSTEMS",
    "TSLAM_DEFAULTS",
    "BaselineResult",
    "run_isolated",
    "run_open3d_legacy_odometry",
    "run_open3d_tslam",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module(".open3d_slam", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
