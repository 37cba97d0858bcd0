"""The files a run writes into its output folder, each atomically (see DESIGN.md):

    trajectory.txt   TUM format, camera-to-world, one line per frame processed
    map.ply          binary PLY of the stable surfels (with label, label_confidence and the label
                     set in the header when the map has classes)
    map.ply          ... and, with objects, the object id of each surfel (instance, -1 none)
    map.npz          the full map state: every surfel and field, trajectory, label set, config,
                     the object map
    objects.json     the objects found, when an instance segmenter ran (see write_objects)
    segmentation/    per-frame labels of the segmentations fused into the map (uint16 PNG, named
                     by timestamp), when a segmenter ran
    summary.json     frames, failures, frames/s, per-stage ms, surfels, memory, dataset, config
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from .. import __version__
from ..device import build_info
from .atomic import write_json_atomic
from .map_state import MAP_STATE_FILE, save_map_state
from .ply import label_set_comments, surfel_vertex_array, write_ply
from .trajectory import write_tum_trajectory

TRAJECTORY_FILE = "trajectory.txt"
MAP_FILE = "map.ply"
SUMMARY_FILE = "summary.json"
SEGMENTATION_DIR = "segmentation"
OBJECTS_FILE = "objects.json"


def surfel_labels(surfels: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(label uint16, label_confidence float32) per surfel, or None when the map has no classes."""
    probs = surfels.get("class_probs")
    if probs is None or probs.ndim != 2 or probs.shape[1] == 0:
        return None
    if "labels" in surfels and "label_confidences" in surfels:
        return surfels["labels"].astype(np.uint16), surfels["label_confidences"].astype(np.float32)
    return probs.argmax(axis=1).astype(np.uint16), probs.max(axis=1).astype(np.float32)


def write_map_ply(path: Path, surfels: dict[str, np.ndarray], comments: list[str], label_set=None,
                  instances: bool = False) -> int:
    """Stable surfels as binary PLY; returns the number written. With classes in the map and a
    label set, each vertex carries label and label_confidence, and the header names the classes;
    with `instances`, each vertex carries its object id (instance, int32, -1 none)."""
    labels = surfel_labels(surfels) if label_set is not None else None
    vertices = surfel_vertex_array(
        positions=surfels["positions"],
        normals=surfels["normals"],
        colours=surfels["colours"],
        radius=surfels["radii"],
        confidence=surfels["confidences"],
        labels=None if labels is None else labels[0],
        label_confidence=None if labels is None else labels[1],
        instances=surfels["instance_ids"].astype(np.int32) if instances else None,
    )
    if labels is not None:
        comments = list(comments) + label_set_comments(label_set)
    write_ply(path, vertices, comments=comments)
    return len(vertices)


def write_segmentations(out_dir: Path, segmented) -> int:
    """The per-frame label images of the applied segmentations (SegmentedFrame records) as
    segmentation/<timestamp>.png; returns how many. Files already there are not written again."""
    from .atomic import atomic_open

    folder = out_dir / SEGMENTATION_DIR
    for record in segmented:
        path = folder / f"{record.timestamp:.6f}.png"
        if not path.exists():
            with atomic_open(path, "wb") as handle:
                handle.write(record.labels_png)
    return len(segmented)


def objects_document(object_fusion, frames: int, stopped: str = "") -> dict:
    """objects.json: per object id, class, class probabilities (> 0.01), score, existence
    (detected / expected), oriented box (centre, extent: full side lengths, rotation: columns are
    the box axes in the world; world = the camera of the first frame), surfel count, first / last
    frame seen and how many frames it was detected in; with the run's counts."""
    om = object_fusion.object_map
    return {
        "label_set": om.label_set.name,
        "frame": "world = camera of the first frame (as map.ply, trajectory.txt); metres",
        "up": None if om.up is None else [float(v) for v in om.up],
        "frames": frames,
        "finished": object_fusion.summary()["finished"],
        "stopped": stopped,
        "summary": object_fusion.summary(),
        "objects": om.to_list(),
    }


def write_run(out_dir: Path, slam, dataset: dict | None = None, stopped: str = "") -> dict:
    """Write trajectory, map and summary of `slam` (a SemanticSLAM) so far; returns the summary.

    `dataset` describes the input (path, format, name, frames) so `semslam eval` finds its
    ground truth. `stopped` says why the run ended early ('' if it did not)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = slam.result(stopped=stopped)
    write_tum_trajectory(out_dir / TRAJECTORY_FILE, result.timestamps, result.poses)
    written = 0
    label_set = getattr(slam, "label_set", None)
    if slam.map is not None:
        object_fusion = getattr(slam, "object_fusion", None)
        surfels = slam.map.surfels(stable_only=True)
        written = write_map_ply(
            out_dir / MAP_FILE,
            surfels,
            comments=[f"semslam {__version__}", "stable surfels of a semslam run",
                      f"frames {result.frames}", "frame world = camera of the first frame"]
            + (["instance = object id in objects.json, -1 none"] if object_fusion is not None else []),
            label_set=label_set,
            instances=object_fusion is not None,
        )
        state = slam.map.surfels()
        before_crf = getattr(getattr(slam, "label_fusion", None), "labels_before_crf", None)
        if before_crf is not None and len(before_crf) == len(state["positions"]):
            state["labels_before_crf"] = before_crf  # the fused labels before the final CRF
        save_map_state(out_dir / MAP_STATE_FILE, state, config=slam.config, label_set=label_set,
                       timestamps=result.timestamps, T_world_cam=result.poses, intrinsics=slam.intrinsics,
                       time=result.frames, extra={"stopped": stopped},
                       objects=object_fusion.object_map.state() if object_fusion is not None else None)
        if object_fusion is not None:
            write_json_atomic(out_dir / OBJECTS_FILE, objects_document(object_fusion, result.frames, stopped))
    segmented = getattr(slam, "label_fusion", None)
    if segmented is not None:
        write_segmentations(out_dir, segmented.segmented)
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
