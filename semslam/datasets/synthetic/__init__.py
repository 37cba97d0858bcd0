"""Synthetic indoor RGB-D sequences with exact poses, per-pixel NYU40 labels and instance ids.

    from semslam.config import SynthConfig
    from semslam.datasets.synthetic import generate, SyntheticSequence

    generate("out/synth", SynthConfig(frames=100, trajectory="loop"))   # files on disk
    seq = SyntheticSequence(SynthConfig(frames=100)); frame = seq.frame(7)  # in memory

A seed fixes the room, its furniture, the hand-shake and the sensor noise; the trajectory kind
and the number of frames change the camera path only (the furniture keeps clear of every
path). Frame k is the same whether or not the frames before it were made. Open3D is imported
only when a sequence is built, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from ...config import KINECT_FOCAL_PX, SynthConfig
from ...segmentation.labels import NYU40
from ..frame import Frame, Intrinsics
from .scene import Material, Room, Scene, SceneObject, build_scene, room_from_seed, scene_mesh_arrays
from .trajectories import (
    camera_trajectory,
    keep_out_points,
    matrix_to_quaternion,
    pose_speeds,
    quaternion_to_matrix,
)
from .writer import FORMAT, FORMAT_VERSION, MANIFEST, SequenceWriter, depth_to_png, format_pose_line

if TYPE_CHECKING:
    from .render import RenderedView

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "Material",
    "Room",
    "Scene",
    "SceneObject",
    "SyntheticSequence",
    "build_scene",
    "camera_trajectory",
    "generate",
    "intrinsics_of",
    "keep_out_points",
    "matrix_to_quaternion",
    "pose_speeds",
    "quaternion_to_matrix",
    "room_from_seed",
]



def intrinsics_of(config: SynthConfig) -> Intrinsics:
    """The pinhole camera of `config`: the focal length defaults to a Kinect's field of view at any
    image size, the principal point to the image centre."""
    fx = KINECT_FOCAL_PX * config.width / 640 if config.fx is None else config.fx
    fy = KINECT_FOCAL_PX * config.height / 480 if config.fy is None else config.fy
    cx = (config.width - 1) / 2 if config.cx is None else config.cx
    cy = (config.height - 1) / 2 if config.cy is None else config.cy
    return Intrinsics(fx, fy, cx, cy, config.width, config.height, config.depth_scale)


def _pose_from_line(line: str) -> np.ndarray:
    """T_world_cam (4x4) of a TUM ground-truth line, parsed the way a reader parses it."""
    _, tx, ty, tz, qx, qy, qz, qw = (float(v) for v in line.split())
    T = np.eye(4)
    T[:3, :3] = quaternion_to_matrix(np.array([qx, qy, qz, qw]))
    T[:3, 3] = (tx, ty, tz)
    return T


class SyntheticSequence:
    """A synthetic sequence in memory: the scene, the poses, and any frame on request.

    poses: (N, 4, 4) float64 T_world_cam exactly as written to groundtruth.txt (rounded to
    its 9 decimals, then used for rendering, so the file and the images agree).
    timestamps: (N,) seconds, k / fps. renderer: renders any other pose of the same scene.
    """

    def __init__(self, config: SynthConfig) -> None:
        from .render import Renderer

        self.config = config
        self.intrinsics = intrinsics_of(config)
        room = room_from_seed(config.seed)
        self.scene = build_scene(config.seed, keep_out_points(room))
        raw = camera_trajectory(
            config.trajectory, room, config.frames, config.fps, config.speed,
            config.shake_translation, config.shake_rotation_deg, config.seed,
        )  # fmt: skip
        self.timestamps = np.arange(config.frames) / config.fps
        self.pose_lines = [
            format_pose_line(t, matrix_to_quaternion(T[:3, :3]), T[:3, 3]) for t, T in zip(self.timestamps, raw)
        ]
        self.poses = np.stack([_pose_from_line(line) for line in self.pose_lines])
        self.renderer = Renderer(self.scene, self.intrinsics, config.colour_supersampling)

    def __len__(self) -> int:
        return self.config.frames

    def __iter__(self) -> Iterator[Frame]:
        return (self.frame(k) for k in range(len(self)))

    def view(self, k: int) -> "RenderedView":
        """The noise-free rendering of frame k (exact float32 depth, normals, labels, ...)."""
        if not 0 <= k < len(self):
            raise IndexError(f"frame {k} out of range 0..{len(self) - 1}")
        return self.renderer.render(self.poses[k])

    def frame(self, k: int) -> Frame:
        """Frame k as a reader would return it from the written files.

        rgb uint8 (H, W, 3); depth float32 metres, already rounded to the PNG's 1/depth_scale
        step (0 = no reading); labels, instances uint16; T_world_cam exact (float64).
        """
        from .noise import apply_sensor, frame_rng

        cfg = self.config
        view = self.view(k)
        rgb, depth = apply_sensor(view, cfg.noise, cfg.sensor, frame_rng(cfg.seed, k))
        depth = depth_to_png(depth, cfg.depth_scale).astype(np.float32) / np.float32(cfg.depth_scale)
        return Frame(
            index=k,
            timestamp=float(self.timestamps[k]),
            rgb=rgb,
            depth=depth,
            intrinsics=self.intrinsics,
            T_world_cam=self.poses[k].copy(),
            labels=view.labels,
            instances=view.instances,
        )

    def manifest(self) -> dict:
        """The contents of semslam.json for this sequence."""
        from ... import __version__

        cfg, K = self.config, self.intrinsics
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "intrinsics": {
                "fx": K.fx, "fy": K.fy, "cx": K.cx, "cy": K.cy,
                "width": K.width, "height": K.height, "depth_scale": K.depth_scale,
            },  # fmt: skip
            "label_set": NYU40.name,
            "classes": {str(c): NYU40.names[c] for c in self.scene.class_ids()},
            "instances": [
                {"id": o.instance_id, "class_id": o.class_id, "name": o.name} for o in self.scene.things()
            ],
            "instance_zero": "none: walls, floor, ceiling and pixels that hit nothing",
            "seed": cfg.seed,
            "trajectory": cfg.trajectory,
            "noise": cfg.noise,
            "frames": cfg.frames,
            "fps": cfg.fps,
            "generator": f"semslam {__version__}",
            "config": cfg.model_dump(),
        }


def generate(
    out_dir: str | Path,
    config: SynthConfig,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render the sequence of `config` into `out_dir` (see writer.py for the layout); return it.

    progress(done, total) is called after each frame is written (done = 1..total). An existing
    sequence in `out_dir` is replaced; a folder holding other files is refused (DatasetError).
    semslam.json is written last, so a folder without it is an interrupted run.
    """
    sequence = SyntheticSequence(config)
    writer = SequenceWriter(out_dir)
    writer.begin()
    source = f"semslam synthetic seed={config.seed} trajectory={config.trajectory} noise={config.noise}"
    if config.write_scene_mesh:
        writer.write_scene_mesh(scene_mesh_arrays(sequence.scene), source + "\nlabel_set nyu40")
    n = len(sequence)
    for k in range(n):
        frame = sequence.frame(k)
        depth_raw = np.rint(frame.depth.astype(np.float64) * config.depth_scale).astype(np.uint16)
        writer.write_frame(frame.timestamp, frame.rgb, depth_raw, frame.labels, frame.instances, sequence.pose_lines[k])
        if progress is not None:
            progress(k + 1, n)
    writer.finish(sequence.manifest(), source)
    return Path(out_dir)
