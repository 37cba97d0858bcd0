"""The files a run writes into its output folder, each atomically (see DESIGN.md):

    trajectory.txt   TUM format, camera-to-world, one line per frame processed
    map.ply          binary PLY of the stable surfels
    summary.json     frames, failures, frames/s, per-stage ms, surfels, memory, dataset, config
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from .. import __version__
from ..device import build_info
from .atomic import write_json_atomic
from .ply import surfel_vertex_array, write_ply
from .trajectory import write_tum_trajectory

TRAJECTORY_FILE = "trajectory.txt"
MAP_FILE = "map.ply"
SUMMARY_FILE = "summary.json"


def write_map_ply(path: Path, surfels: dict[str, np.ndarray], comments: list[str]) -> int:
    """Stable surfels as binary PLY; returns the number written."""
    vertices = surfel_vertex_array(
        positions=surfels["positions"],
        normals=surfels["normals"],
        colours=surfels["colours"],
        radius=surfels["radii"],
        confidence=surfels["confidences"],
    )
    write_ply(path, vertices, comments=comments)
    return len(vertices)


def write_run(out_dir: Path, slam, dataset: dict | None = None, stopped: str = "") -> dict:
    """Write trajectory, map and summary of `slam` (a SemanticSLAM) so far; returns the summary.

    `dataset` describes the input (path, format, name, frames) so `semslam eval` finds its
    ground truth. `stopped` says why the run ended early ('' if it did not)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = slam.result(stopped=stopped)
    write_tum_trajectory(out_dir / TRAJECTORY_FILE, result.timestamps, result.poses)
    written = 0
    if slam.map is not None:
        surfels = slam.map.surfels(stable_only=True)
        written = write_map_ply(
            out_dir / MAP_FILE,
            surfels,
            comments=[f"semslam {__version__}", "stable surfels of a semslam run",
                      f"frames {result.frames}", "frame world = camera of the first frame"],
        )
    summary = {
        "semslam": __version__,
        **result.summary(),
        "map_ply_surfels": written,
        "dataset": dataset or {},
        "device": slam.device,
        "core": build_info(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor()},
        "config": slam.config.model_dump(mode="json"),
    }
    write_json_atomic(out_dir / SUMMARY_FILE, summary)
    return summary
