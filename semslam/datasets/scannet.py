"""ScanNet scenes exported to frames (the SensReader `export` output).

Layout: color/N.jpg (often 1296x968), depth/N.png (uint16 millimetres, often 640x480),
pose/N.txt (4x4 camera-to-world; rows of -inf/nan mark lost tracking → no pose for that frame),
intrinsic/intrinsic_depth.txt (4x4, its top-left 3x3 is K of the depth camera). Colour is
resized to the depth size (cv2.INTER_AREA) so both share intrinsic_depth. Recorded at 30 Hz:
timestamps are N / 30 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from . import imageio
from .base import FrameRecord, ReaderOptions, Sequence, build_sequence
from .frame import Intrinsics

FORMAT = "scannet"
LOOKS_FOR = "color/, depth/ and intrinsic/intrinsic_depth.txt (ScanNet exported frames)"
FRAME_RATE = 30.0  # Hz
SCANNET_DEPTH_SCALE = 1000.0  # raw units per metre


def recognize(path: Path) -> bool:
    return (path / "color").is_dir() and (path / "depth").is_dir() and (path / "intrinsic" / "intrinsic_depth.txt").is_file()


def read_depth_intrinsics(path: Path, height: int, width: int) -> Intrinsics:
    """Intrinsics from a ScanNet 4x4 (or 3x3) intrinsic_depth.txt, for a depth image of HxW pixels."""
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read intrinsics {path}: {exc}") from None
    if values.size not in (9, 16):
        raise DatasetError(f"{path} must hold a 4x4 or 3x3 matrix, got {values.size} numbers")
    K = values.reshape(4, 4) if values.size == 16 else values.reshape(3, 3)
    try:
        return Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height, depth_scale=SCANNET_DEPTH_SCALE)
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None


def open_scannet(path: Path, options: ReaderOptions) -> Sequence:
    """Open a ScanNet export folder; see the module docstring for the layout."""
    color = sorted(
        (int(p.stem), p) for p in (path / "color").iterdir() if p.stem.isdigit() and p.suffix in (".jpg", ".png")
    )
    records = []
    for k, (number, rgb) in enumerate(color):
        pose_file = path / "pose" / f"{number}.txt"
        records.append(FrameRecord(
            source_index=k, timestamp=number / FRAME_RATE, rgb_path=rgb, depth_path=path / "depth" / f"{number}.png",
            pose_path=pose_file if pose_file.is_file() else None,
        ))
    intrinsics = options.intrinsics
    if intrinsics is None:
        first_depth = next((r.depth_path for r in records if r.depth_path.is_file()), None)
        if first_depth is None:
            raise DatasetError(f"{path}: no depth image found for any of the {len(records)} colour images")
        height, width = imageio.image_size(first_depth)
        intrinsics = read_depth_intrinsics(path / "intrinsic" / "intrinsic_depth.txt", height, width)
    return build_sequence(
        path=path, name=path.name, format=FORMAT, intrinsics=intrinsics, records=records, options=options,
        resize_rgb_to_depth=True,
    )
