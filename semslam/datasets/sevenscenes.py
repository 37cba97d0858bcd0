"""Microsoft 7-Scenes sequences.

Layout: one folder per sequence (`<scene>/seq-XX/`) holding frame-XXXXXX.color.png (or .jpg),
frame-XXXXXX.depth.png (uint16 millimetres, 65535 = no reading) and frame-XXXXXX.pose.txt
(4x4 camera-to-world). A scene folder with exactly one seq-XX subfolder opens that sequence.
Recorded at 30 Hz: timestamps are index / 30 s. The dataset publishes fx = fy = 585, cx = 320,
cy = 240 for its 640x480 Kinect; depth is not registered to colour in the files.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DatasetError
from .base import FrameRecord, ReaderOptions, Sequence, build_sequence
from .frame import Intrinsics

FORMAT = "7scenes"
LOOKS_FOR = "frame-XXXXXX.color.png|jpg files, or seq-XX subfolders holding them (7-Scenes)"
FRAME_RATE = 30.0  # Hz
INVALID_DEPTH = 65535  # raw value of a missing reading
SEVEN_SCENES_INTRINSICS = Intrinsics(585.0, 585.0, 320.0, 240.0, 640, 480, depth_scale=1000.0)
_COLOR_NAME = re.compile(r"^frame-(\d+)\.color\.(png|jpg)$")


def _color_files(folder: Path) -> list[tuple[int, Path]]:
    files = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _COLOR_NAME.match(p.name))]
    return sorted(files)


def _sequence_folders(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("seq-*") if p.is_dir() and any(_COLOR_NAME.match(f.name) for f in p.iterdir()))


def recognize(path: Path) -> bool:
    return any(_COLOR_NAME.match(p.name) for p in path.iterdir()) or bool(_sequence_folders(path))


def open_sevenscenes(path: Path, options: ReaderOptions) -> Sequence:
    """Open a 7-Scenes sequence folder (or a scene folder with one sequence)."""
    color = _color_files(path)
    if not color:
        sequences = _sequence_folders(path)
        if len(sequences) != 1:
            names = ", ".join(p.name for p in sequences)
            raise DatasetError(f"{path} holds {len(sequences)} 7-Scenes sequences ({names}); open one of them")
        path = sequences[0]
        color = _color_files(path)
    records = []
    for k, (number, rgb) in enumerate(color):
        stem = f"frame-{number:06d}"
        pose_file = path / f"{stem}.pose.txt"
        records.append(FrameRecord(
            source_index=k, timestamp=number / FRAME_RATE, rgb_path=rgb, depth_path=path / f"{stem}.depth.png",
            pose_path=pose_file if pose_file.is_file() else None,
        ))
    return build_sequence(
        path=path, name=f"{path.parent.name}/{path.name}", format=FORMAT,
        intrinsics=options.intrinsics or SEVEN_SCENES_INTRINSICS, records=records, options=options,
        depth_invalid_value=INVALID_DEPTH,
    )
