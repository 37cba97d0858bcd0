"""Writes a synthetic sequence to disk in the TUM RGB-D layout plus labels, instances and a manifest.

Layout of `out_dir` (`<t>` is the timestamp k / fps formatted "%.6f"):
  rgb/<t>.png        8-bit RGB colour
  depth/<t>.png      uint16, metres * depth_scale rounded, 0 = no reading
  labels/<t>.png     uint16 NYU40 class ids (0 = nothing hit)
  instances/<t>.png  uint16 instance ids; 0 = none: walls, floor, ceiling and nothing hit
  rgb.txt, depth.txt TUM lists "<t> rgb/<t>.png"
  groundtruth.txt    TUM "timestamp tx ty tz qx qy qz qw", T_world_cam, one line per frame
  scene.ply          optional: the scene's triangles with colour, label and instance per vertex
  semslam.json       the manifest, written last: a folder without it is incomplete

Every file is written under a temporary name and renamed into place, so no file is ever half
written; an existing sequence folder is cleared (manifest first) before a new one is written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ...errors import DatasetError

MANIFEST = "semslam.json"
FORMAT = "semslam-synthetic"
FORMAT_VERSION = 1
IMAGE_DIRS = ("rgb", "depth", "labels", "instances")
LIST_FILES = ("rgb.txt", "depth.txt", "groundtruth.txt")
SCENE_MESH = "scene.ply"
_OURS = set(IMAGE_DIRS) | set(LIST_FILES) | {MANIFEST, SCENE_MESH}


def timestamp_name(timestamp: float) -> str:
    """The file stem of a frame at `timestamp` seconds: "%.6f"."""
    return f"{timestamp:.6f}"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_png_atomic(path: Path, image: np.ndarray) -> None:
    """Write an image as PNG atomically: uint8 (H, W, 3) RGB or uint16/uint8 (H, W)."""
    import cv2

    if image.ndim == 3:
        image = image[..., ::-1]  # cv2 wants BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise DatasetError(f"could not encode {path} ({image.dtype} {image.shape})")
    write_bytes_atomic(path, buf.tobytes())


def depth_to_png(depth: np.ndarray, depth_scale: float) -> np.ndarray:
    """(H, W) uint16 raw depth: round(depth_m * depth_scale); 0 where depth <= 0 or beyond uint16."""
    raw = np.rint(np.asarray(depth, dtype=np.float64) * depth_scale)
    raw[(raw > 65535) | ~np.isfinite(raw) | (raw < 0)] = 0
    return raw.astype(np.uint16)


def format_pose_line(timestamp: float, quaternion_xyzw: np.ndarray, translation: np.ndarray) -> str:
    """One TUM ground-truth line "t tx ty tz qx qy qz qw" (metres, unit quaternion)."""
    values = " ".join(f"{v:.9f}" for v in (*translation, *quaternion_xyzw))
    return f"{timestamp_name(timestamp)} {values}"


class SequenceWriter:
    """Writes one sequence into `out_dir`; call `begin`, `write_frame` per frame, then `finish`."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self._stems: list[str] = []
        self._pose_lines: list[str] = []

    def begin(self) -> None:
        """Make `out_dir` ready: create it, or clear a previous sequence written there.

        Raises DatasetError when the folder holds anything that is not part of a sequence
        (we never delete files we did not write).
        """
        out = self.out_dir
        if out.exists() and not out.is_dir():
            raise DatasetError(f"output path {out} exists and is not a folder")
        if out.is_dir():
            foreign = sorted(p.name for p in out.iterdir() if p.name not in _OURS and not p.name.startswith("."))
            if foreign:
                raise DatasetError(
                    f"output folder {out} holds files that are not part of a synthetic sequence "
                    f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); choose an empty folder"
                )
            manifest = out / MANIFEST
            if manifest.exists():
                manifest.unlink()  # from here on the folder reads as incomplete
            for name in _OURS - {MANIFEST}:
                path = out / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            for tmp in out.glob(".*.tmp"):
                tmp.unlink()
        for name in IMAGE_DIRS:
            (out / name).mkdir(parents=True, exist_ok=True)

    def write_frame(
        self,
        timestamp: float,
        rgb: np.ndarray,
        depth_raw: np.ndarray,
        labels: np.ndarray,
        instances: np.ndarray,
        pose_line: str,
    ) -> None:
        """Write one frame's four images; remember its list and ground-truth lines.

        rgb: uint8 (H, W, 3) RGB. depth_raw: uint16 (H, W) (see `depth_to_png`). labels,
        instances: uint16 (H, W). pose_line: from `format_pose_line`.
        """
        stem = timestamp_name(timestamp)
        write_png_atomic(self.out_dir / "rgb" / f"{stem}.png", rgb)
        write_png_atomic(self.out_dir / "depth" / f"{stem}.png", depth_raw.astype(np.uint16))
        write_png_atomic(self.out_dir / "labels" / f"{stem}.png", labels.astype(np.uint16))
        write_png_atomic(self.out_dir / "instances" / f"{stem}.png", instances.astype(np.uint16))
        self._stems.append(stem)
        self._pose_lines.append(pose_line)

    def write_scene_mesh(self, arrays: dict[str, np.ndarray], comment: str) -> None:
        """Binary PLY of the scene: vertex x y z (float32) red green blue (uint8) label instance
        (uint16), faces as uint8-counted int32 index lists. `arrays` from `scene_mesh_arrays`."""
        v = arrays["vertices"]
        vertex = np.empty(
            len(v),
            dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1"),
                   ("label", "<u2"), ("instance", "<u2")],
        )  # fmt: skip
        vertex["x"], vertex["y"], vertex["z"] = v[:, 0], v[:, 1], v[:, 2]
        c = arrays["colours"]
        vertex["red"], vertex["green"], vertex["blue"] = c[:, 0], c[:, 1], c[:, 2]
        vertex["label"], vertex["instance"] = arrays["labels"], arrays["instances"]
        faces = np.empty(len(arrays["faces"]), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
        faces["n"], faces["idx"] = 3, arrays["faces"]
        header = (
            "ply\nformat binary_little_endian 1.0\n"
            + "".join(f"comment {line}\n" for line in comment.splitlines())
            + f"element vertex {len(vertex)}\n"
            "property float x\nproperty float y\nproperty float z\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\n"
            "property ushort label\nproperty ushort instance\n"
            f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
        )
        write_bytes_atomic(self.out_dir / SCENE_MESH, header.encode("ascii") + vertex.tobytes() + faces.tobytes())

    def finish(self, manifest: dict, source: str) -> None:
        """Write the lists, the ground truth and, last, the manifest. `source` names the
        generator run in the lists' headers."""
        stems = self._stems
        rgb = [f"# color images\n# file: '{source}'\n# timestamp filename\n"] + [f"{s} rgb/{s}.png\n" for s in stems]
        depth = [f"# depth maps\n# file: '{source}'\n# timestamp filename\n"] + [f"{s} depth/{s}.png\n" for s in stems]
        gt = [f"# ground truth trajectory\n# file: '{source}'\n# timestamp tx ty tz qx qy qz qw\n"]
        gt += [line + "\n" for line in self._pose_lines]
        write_bytes_atomic(self.out_dir / "rgb.txt", "".join(rgb).encode())
        write_bytes_atomic(self.out_dir / "depth.txt", "".join(depth).encode())
        write_bytes_atomic(self.out_dir / "groundtruth.txt", "".join(gt).encode())
        write_bytes_atomic(self.out_dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
