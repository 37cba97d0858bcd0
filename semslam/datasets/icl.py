"""ICL-NUIM sequences in their TUM RGB-D compatible form (`*_frei_png.tar.gz` archives).

Layout: rgb/N.png and depth/N.png with integer frame numbers N, associations.txt
(`N depth/N.png N rgb/N.png`), and the trajectory `livingRoomK.gt.freiburg` / `trajK.gt.freiburg`
(`N tx ty tz qx qy qz qw`, camera-to-world, keyed by frame number). Some tools rename the
trajectory to groundtruth.txt and add rgb.txt/depth.txt; both are read. Depth: uint16, metres =
value / 5000. Frames are rendered at 30 Hz: timestamps are N / 30 s, and the pose with number N
belongs to frame N (the first frames may have none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .base import FrameRecord, ReaderOptions, Sequence, build_sequence
from .frame import Intrinsics
from .listfile import read_rows
from .tum import read_ground_truth

FORMAT = "icl-nuim"
LOOKS_FOR = "rgb/ and depth/ with integer-named PNGs plus associations.txt, *.gt.freiburg or rgb.txt (ICL-NUIM, TUM-compatible)"
FRAME_RATE = 30.0  # Hz
ICL_DEPTH_SCALE = 5000.0

# The authors publish fx=481.20, fy=-480.00 for their POV-Ray renders: the negative fy only
# undoes POV-Ray's upward image y axis in the original (non-TUM) ICL-NUIM format. The
# TUM-compatible PNGs read here are stored in the usual top-down image orientation and pair with
# the *.gt.freiburg poses through a positive fy, as ElasticFusion, DVO SLAM and the TUM tools use
# them (users of DPVO report -480 is right only for the original format). So fy = +480.
ICL_INTRINSICS = Intrinsics(481.20, 480.0, 319.5, 239.5, 640, 480, ICL_DEPTH_SCALE)


def _frame_number(name: str) -> int | None:
    return int(name) if name.isdigit() else None


def _integer_pngs(folder: Path) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    return {n: p for p in folder.glob("*.png") if (n := _frame_number(p.stem)) is not None}


def recognize(path: Path) -> bool:
    if not (path / "rgb").is_dir() or not (path / "depth").is_dir():
        return False
    listed = (path / "associations.txt").is_file() or (path / "rgb.txt").is_file() or any(path.glob("*.gt.freiburg"))
    if not listed:
        return False
    first = next((p for p in (path / "rgb").iterdir() if p.suffix == ".png"), None)
    return first is not None and first.stem.isdigit()


def _pairs_from_associations(path: Path) -> list[tuple[int, Path, Path]]:
    """(frame number, rgb path, depth path) from associations.txt, whichever column order it uses."""
    assoc = path / "associations.txt"
    pairs = []
    for line_no, tokens in read_rows(assoc, 4, "N depth/N.png N rgb/N.png"):
        files = {Path(tokens[1]).parts[0]: (tokens[0], tokens[1]), Path(tokens[3]).parts[0]: (tokens[2], tokens[3])}
        if set(files) != {"rgb", "depth"}:
            raise DatasetError(f"{assoc}, line {line_no}: expected one rgb/ and one depth/ file, got {tokens}")
        number = _frame_number(files["rgb"][0])
        if number is None:
            raise DatasetError(f"{assoc}, line {line_no}: frame number {files['rgb'][0]!r} is not an integer")
        pairs.append((number, path / files["rgb"][1], path / files["depth"][1]))
    return pairs


def _ground_truth_file(path: Path) -> Path | None:
    candidates = sorted(path.glob("*.gt.freiburg"))
    if len(candidates) > 1:
        raise DatasetError(f"{path}: several trajectories {[c.name for c in candidates]}; keep one")
    if candidates:
        return candidates[0]
    gt = path / "groundtruth.txt"
    return gt if gt.is_file() else None


def open_icl(path: Path, options: ReaderOptions) -> Sequence:
    """Open an ICL-NUIM TUM-compatible folder; see the module docstring for layout and conventions."""
    if (path / "associations.txt").is_file():
        pairs = _pairs_from_associations(path)
    else:  # no association file: rgb/N.png pairs with depth/N.png
        pairs = [(n, p, path / "depth" / p.name) for n, p in _integer_pngs(path / "rgb").items()]
    pairs.sort(key=lambda item: item[0])

    poses_by_number: dict[int, np.ndarray] = {}
    gt_file = _ground_truth_file(path)
    if gt_file is not None:
        gt_stamps, gt_poses = read_ground_truth(gt_file)
        for stamp, pose in zip(gt_stamps, gt_poses):
            if stamp != round(stamp):
                raise DatasetError(f"{gt_file}: ICL-NUIM poses are keyed by frame number, got time {stamp}")
            poses_by_number[int(stamp)] = pose

    records = [
        FrameRecord(
            source_index=k, timestamp=number / FRAME_RATE, rgb_path=rgb, depth_path=depth,
            T_world_cam=poses_by_number.get(number),
        )
        for k, (number, rgb, depth) in enumerate(pairs)
    ]
    return build_sequence(
        path=path, name=path.name, format=FORMAT, intrinsics=options.intrinsics or ICL_INTRINSICS,
        records=records, options=options,
    )
