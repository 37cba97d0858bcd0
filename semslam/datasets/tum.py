"""TUM RGB-D sequences, and semslam's synthetic sequences (TUM layout plus semslam.json and labels).

Layout: rgb.txt and depth.txt (`timestamp filename`, '#' comments), rgb/ and depth/ PNGs (depth
uint16, metres = value / 5000), groundtruth.txt (`timestamp tx ty tz qx qy qz qw`, camera-to-world,
at motion-capture rate). Frames are rgb/depth pairs associated as the benchmark's associate.py
does; ground truth is interpolated to the rgb timestamps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import DatasetError, GroundTruthError, TrajectoryFormatError
from ..io.trajectory import read_tum_trajectory
from .association import associate, interpolate_poses
from .base import FrameRecord, ReaderOptions, Sequence, build_sequence
from .frame import Intrinsics
from .listfile import parse_stamp, read_rows

FORMAT = "tum"
SYNTHETIC_FORMAT = "semslam-synthetic"
LOOKS_FOR = "rgb.txt and depth.txt (TUM RGB-D; semslam synthetic when semslam.json says so)"
TUM_DEPTH_SCALE = 5000.0  # raw units per metre in TUM depth PNGs
METADATA_FILE = "semslam.json"

# Calibrations published with the benchmark (Kinects of Freiburg 1, 2 and 3; fr3 images are
# already undistorted). Distortion is k1 k2 p1 p2 k3.
_TUM_CAMERAS = {
    "1": Intrinsics(517.3, 516.5, 318.6, 255.3, 640, 480, TUM_DEPTH_SCALE,
                    (0.2624, -0.9531, -0.0054, 0.0026, 1.1633)),
    "2": Intrinsics(520.9, 521.0, 325.1, 249.7, 640, 480, TUM_DEPTH_SCALE,
                    (0.2312, -0.7849, -0.0033, -0.0001, 0.9172)),
    "3": Intrinsics(535.4, 539.2, 320.1, 247.6, 640, 480, TUM_DEPTH_SCALE),
}
# The benchmark's recommended default (ROS OpenNI) for sequences of unknown origin.
DEFAULT_TUM_INTRINSICS = Intrinsics(525.0, 525.0, 319.5, 239.5, 640, 480, TUM_DEPTH_SCALE)
_FREIBURG_NAME = re.compile(r"(?<![a-z])(?:freiburg|fr)([123])(?!\d)")


def recognize(path: Path) -> bool:
    return (path / "rgb.txt").is_file() and (path / "depth.txt").is_file()


def intrinsics_for_folder(name: str) -> Intrinsics:
    """fr1/fr2/fr3 calibration from a folder name (`freiburg1`, `fr2`, ...), else the default."""
    match = _FREIBURG_NAME.search(name.lower())
    return _TUM_CAMERAS[match.group(1)] if match else DEFAULT_TUM_INTRINSICS


def read_stamped_list(path: Path) -> tuple[np.ndarray, list[Path]]:
    """timestamps (N,) seconds and absolute file paths of a `timestamp filename` list.

    Malformed lines and repeated timestamps are DatasetErrors naming the file and line.
    """
    stamps, files, seen = [], [], {}
    for line_no, (stamp_token, name) in read_rows(path, 2, "timestamp filename"):
        stamp = parse_stamp(path, line_no, stamp_token)
        if stamp in seen:
            raise DatasetError(f"{path}, line {line_no}: timestamp {stamp_token} repeats line {seen[stamp]}")
        seen[stamp] = line_no
        stamps.append(stamp)
        files.append(path.parent / name)
    return np.asarray(stamps, dtype=np.float64), files


def read_ground_truth(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps (G,), T_world_cam (G,4,4)) from a TUM trajectory file, as GroundTruthErrors."""
    try:
        return read_tum_trajectory(path)
    except TrajectoryFormatError as exc:
        raise GroundTruthError(f"ground truth unusable: {exc}") from None


def read_metadata(path: Path) -> dict:
    """semslam.json of a folder (empty dict when absent); invalid JSON is a DatasetError."""
    meta_path = path / METADATA_FILE
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{meta_path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{meta_path} must hold a JSON object, got {type(meta).__name__}")
    return meta


def _metadata_intrinsics(meta: dict, meta_path: Path) -> Intrinsics | None:
    raw = meta.get("intrinsics")
    if raw is None:
        return None
    try:
        return Intrinsics(
            fx=float(raw["fx"]), fy=float(raw["fy"]), cx=float(raw["cx"]), cy=float(raw["cy"]),
            width=int(raw["width"]), height=int(raw["height"]),
            depth_scale=float(raw.get("depth_scale", TUM_DEPTH_SCALE)),
            distortion=tuple(raw["distortion"]) if raw.get("distortion") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: invalid 'intrinsics' ({exc!r}); need fx fy cx cy width height") from None


def _metadata_labels(meta: dict, meta_path: Path) -> tuple[dict[int, str] | None, list[dict] | None]:
    try:
        classes = {int(k): str(v) for k, v in meta["classes"].items()} if "classes" in meta else None
        instances = [
            {"id": int(d["id"]), "class_id": int(d["class_id"]), "name": str(d.get("name", ""))}
            for d in meta.get("instances", [])
        ] if "instances" in meta else None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: invalid 'classes' or 'instances' ({exc!r})") from None
    return classes, instances


def open_tum(path: Path, options: ReaderOptions) -> Sequence:
    """Open a TUM RGB-D (or semslam synthetic) folder; see the module docstring for the layout."""
    meta = read_metadata(path)
    meta_path = path / METADATA_FILE
    synthetic = meta.get("format") == SYNTHETIC_FORMAT
    if synthetic and meta.get("version", 1) != 1:
        raise DatasetError(f"{meta_path}: version {meta.get('version')!r} is not supported (this reader reads 1)")
    intrinsics = options.intrinsics or _metadata_intrinsics(meta, meta_path) or intrinsics_for_folder(path.name)
    label_names, instance_info = _metadata_labels(meta, meta_path)

    rgb_stamps, rgb_files = read_stamped_list(path / "rgb.txt")
    depth_stamps, depth_files = read_stamped_list(path / "depth.txt")
    pairs = associate(rgb_stamps, depth_stamps, options.config.max_time_difference)
    if not pairs:
        raise DatasetError(
            f"{path}: no rgb/depth pairs within {options.config.max_time_difference} s "
            f"({len(rgb_stamps)} rgb, {len(depth_stamps)} depth listed)"
        )
    frame_stamps = np.array([rgb_stamps[i] for i, _ in pairs])
    poses: list[np.ndarray | None] = [None] * len(pairs)
    gt_file = path / "groundtruth.txt"
    if gt_file.is_file():
        gt_stamps, gt_poses = read_ground_truth(gt_file)
        poses = interpolate_poses(gt_stamps, gt_poses, frame_stamps, options.config.gt_max_time_difference)

    labels_dir, instances_dir = path / "labels", path / "instances"
    has_labels, has_instances = labels_dir.is_dir(), instances_dir.is_dir()
    records = []
    for k, ((i, j), pose) in enumerate(zip(pairs, poses)):
        stem = rgb_files[i].stem
        records.append(FrameRecord(
            source_index=k,
            timestamp=float(rgb_stamps[i]),
            rgb_path=rgb_files[i],
            depth_path=depth_files[j],
            labels_path=labels_dir / f"{stem}.png" if has_labels else None,
            instances_path=instances_dir / f"{stem}.png" if has_instances else None,
            T_world_cam=pose,
        ))
    return build_sequence(
        path=path,
        name=path.name,
        format=SYNTHETIC_FORMAT if synthetic else FORMAT,
        intrinsics=intrinsics,
        records=records,
        options=options,
        label_names=label_names,
        instance_info=instance_info,
    )
