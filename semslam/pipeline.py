"""SemanticSLAM: the per-frame loop of DESIGN.md, reading like the pseudocode it implements.

    preprocess (bilateral filter, vertex/normal maps, pyramid)      core
    predict the map at the last pose (filled in where sparse)       core
    track against it (ICP + RGB, coarse-to-fine)                    core  -> T_world_cam
    fuse into the surfel map; new surfels; remove unstable ones     core
    label fusion: apply finished segmentations, submit this frame   python + core (semantics/)

The frame's images stay on the device between these steps (the core's FrameProcessor); only the
images go up and poses and small results come back.

With a segmenter (config.semantics.segmenter, or one passed in), the map carries a class
probability per surfel and label set class; segmentation runs on a worker thread and never stalls
tracking (semslam.semantics.LabelFusion). With an instance segmenter (config.objects.instances,
or one passed in), detections are associated with objects that live on the surfels' instance ids
(semslam.objects.ObjectFusion), also on a worker thread. One `SemanticSLAM` holds one map and one
camera; frames must keep the size of the first.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .config import Config
from .datasets.frame import Frame, Intrinsics
from .device import check_device, core
from .errors import SemslamError
from .mapping.surfel_map import SurfelMap
from .objects.fusion import ObjectFusion
from .segmentation import segmenter_from_config
from .segmentation.factory import make_instance_segmenter
from .semantics import LabelFusion
from .timing import StageTimers


class FrameSizeError(SemslamError):
    """A frame's size or intrinsics differ from the first frame's."""


@dataclass
class FrameStatus:
    """What happened to one frame. `reason` says why tracking failed ('' when it did not)."""

    index: int
    timestamp: float
    tracked: bool
    fused: bool
    reason: str = ""
    inlier_fraction: float = 0.0
    icp_rmse: float = 0.0
    invalid_depth_values: int = 0  # NaN, inf or negative readings replaced by 0 (no reading)
    surfels: int = 0


@dataclass
class RunResult:
    """A run so far: per-frame poses and statuses, stage timings, the map's size and memory."""

    timestamps: np.ndarray  # (N,) seconds
    poses: np.ndarray  # (N, 4, 4) T_world_cam
    statuses: list[FrameStatus]
    timings: dict
    surfels: int
    stable_surfels: int
    bytes_per_surfel: int
    wall_s: float
    peak_rss_mb: float
    stopped: str = ""  # '' when the run went through; else why it stopped early
    semantics: dict | None = None  # LabelFusion.summary() when a segmenter ran
    objects: dict | None = None  # ObjectFusion.summary() when an instance segmenter ran

    @property
    def frames(self) -> int:
        return len(self.statuses)

    def summary(self) -> dict:
        failed = [s for s in self.statuses if not s.tracked]
        return {
            "frames": self.frames,
            "frames_fused": sum(s.fused for s in self.statuses),
            "tracking_failures": len(failed),
            "failed_frames": [{"index": s.index, "timestamp": s.timestamp, "reason": s.reason} for s in failed],
            "frames_per_second": self.frames / self.wall_s if self.wall_s > 0 else 0.0,
            "wall_s": self.wall_s,
            "stages_ms": self.timings,
            "surfels": self.surfels,
            "stable_surfels": self.stable_surfels,
            "bytes_per_surfel": self.bytes_per_surfel,
            "map_mb": self.surfels * self.bytes_per_surfel / 2**20,
            "peak_rss_mb": self.peak_rss_mb,
            "invalid_depth_values": sum(s.invalid_depth_values for s in self.statuses),
            "stopped": self.stopped,
            **({"semantics": self.semantics} if self.semantics is not None else {}),
            **({"objects": self.objects} if self.objects is not None else {}),
        }


def rigid(T: np.ndarray) -> np.ndarray:
    """T (4x4) with its rotation the nearest rotation matrix (SVD): the core's poses are float32,
    and a motion fed back as the next frame's start would otherwise gather their rounding."""
    U, _, Vt = np.linalg.svd(T[:3, :3])
    out = np.array(T, np.float64)
    out[:3, :3] = U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class SemanticSLAM:
    """Dense surfel SLAM on one RGB-D camera.

    >>> slam = SemanticSLAM(config)
    >>> for frame in sequence:
    ...     T_world_cam = slam.process(frame)
    >>> slam.result().summary()
    """

    def __init__(self, config: Config | None = None, segmenter=None, instance_segmenter=None) -> None:
        self.config = config or Config()
        self.device = check_device(self.config.device)
        self.timers = StageTimers()
        # semantics: a segmenter given here, or the one config.semantics.segmenter names ("none": no labels)
        if segmenter is None and self.config.semantics.segmenter != "none":
            segmenter = segmenter_from_config(self.config.semantics, self.device)
        self.label_fusion = LabelFusion(self.config.semantics, segmenter, self.timers) if segmenter else None
        self.label_set = self.label_fusion.label_set if self.label_fusion else None
        # objects: an instance segmenter given here, or the one config.objects.instances names
        objects = self.config.objects
        if instance_segmenter is None and objects.instances != "none":
            instance_segmenter = make_instance_segmenter(objects.instances, self.config.semantics.labels,
                                                         objects.instances_device or self.device, objects)
        self.object_fusion = ObjectFusion(objects, instance_segmenter, self.config.preprocess, self.timers,
                                          objects.instances_device or self.device) if instance_segmenter else None
        self.intrinsics: Intrinsics | None = None
        self.map: SurfelMap | None = None
        self._frames = None  # the core's FrameProcessor: this camera's images on the device
        self._T_world_cam = np.eye(4)
        self._motion = np.eye(4)  # the last tracked frame's T_ref_cur: where tracking starts (constant velocity)
        self._time = 0  # frames processed: the map's clock
        self._timestamps: list[float] = []
        self._poses: list[np.ndarray] = []
        self.statuses: list[FrameStatus] = []
        self._wall_s = 0.0

    # -- the per-frame loop ----------------------------------------------------------------
    def process(self, frame: Frame) -> np.ndarray:
        """Track `frame` and fuse it into the map; returns its T_world_cam (4x4 float64).

        A frame whose tracking fails is not fused; it keeps the last good pose and is reported
        in `statuses`. A frame of another size than the first raises FrameSizeError.
        """
        t0 = time.perf_counter()
        self._check_frame(frame)
        with self.timers("preprocess"):  # upload, filter, vertex/normal maps, tracking pyramid
            prepared = self._frames.set_frame(frame.depth, frame.rgb)
        status = FrameStatus(frame.index, frame.timestamp, tracked=True, fused=False,
                             invalid_depth_values=prepared["invalid_depth_values"])
        if self.map.size == 0:
            # nothing to track against yet (the first frame, or only empty frames so far): the map
            # starts here, at the last pose
            T_world_cam = self._T_world_cam
            if prepared["valid_pixels"] == 0:
                status.tracked = False
                status.reason = "no valid depth in the frame: nothing to start the map from"
        else:
            with self.timers("predict"):  # the map seen from the last pose, holes filled when sparse
                self._frames.predict_reference(self.map.core, self._T_world_cam, self._time)
            with self.timers("track"):
                constant = self.config.tracking.motion_model == "constant_velocity"
                tracking = self._frames.track(self._motion if constant else np.eye(4))
            self._motion = rigid(tracking["T_ref_cur"]) if tracking["ok"] else np.eye(4)
            status.tracked = tracking["ok"]
            status.reason = tracking["reason"]
            status.inlier_fraction = tracking["inlier_fraction"]
            status.icp_rmse = tracking["icp_rmse"]
            T_world_cam = self._T_world_cam @ tracking["T_ref_cur"] if tracking["ok"] else self._T_world_cam

        if status.tracked:
            with self.timers("fuse"):
                self._frames.fuse(self.map.core, T_world_cam, self._time)
            with self.timers("clean"):
                self.map.clean(self._time)
            status.fused = True
            self._T_world_cam = T_world_cam
        status.surfels = self.map.size
        self._time += 1
        self._timestamps.append(frame.timestamp)
        self._poses.append(T_world_cam.copy())
        self.statuses.append(status)
        if self.label_fusion is not None:  # the map is ours again: fuse finished labels, submit this frame
            self.label_fusion.step(self.map, frame, T_world_cam, self._time - 1, status.tracked, self.intrinsics)
        if self.object_fusion is not None:  # associate finished detections with the objects, submit this frame
            self.object_fusion.step(self.map, frame, T_world_cam, self._time - 1, status.tracked, self.intrinsics)
        self._wall_s += time.perf_counter() - t0
        self.timers.record("frame", (time.perf_counter() - t0) * 1e3)
        return T_world_cam.copy()

    def run(
        self,
        frames: Iterable[Frame],
        progress: Callable[[FrameStatus], None] | None = None,
    ) -> RunResult:
        """Process every frame; `progress(status)` after each. Ctrl-C or an error stops the loop:
        the result so far is kept (`result()`), and the exception propagates to the caller,
        which decides what to write (the CLI writes every output, then exits non-zero)."""
        try:
            for frame in frames:
                self.process(frame)
                if progress is not None:
                    progress(self.statuses[-1])
            self.finish()
        finally:
            self.close()
        return self.result()

    def finish(self) -> None:
        """End of the sequence: wait for pending segmentations, fuse them, run the final CRF; apply
        the pending instance segmentations and the object map's final pass."""
        if self.map is None:
            return
        t0 = time.perf_counter()
        if self.label_fusion is not None:
            with self.timers("finish"):  # waiting for the last segmentations, fusing them, the final CRF
                self.label_fusion.finish(self.map, self.intrinsics)
        if self.object_fusion is not None:
            with self.timers("finish_objects"):  # the last instance segmentations, final drop / merge / boxes
                self.object_fusion.finish(self.map, self.intrinsics)
        self._wall_s += time.perf_counter() - t0

    def close(self) -> None:
        """Stop the segmentation workers without waiting (after Ctrl-C or an error); idempotent."""
        if self.label_fusion is not None:
            self.label_fusion.close()
        if self.object_fusion is not None:
            self.object_fusion.close()

    # -- state ------------------------------------------------------------------------------
    @property
    def T_world_cam(self) -> np.ndarray:
        """The latest good pose."""
        return self._T_world_cam.copy()

    def result(self, stopped: str = "") -> RunResult:
        n = len(self._poses)
        surfels = self.map.size if self.map is not None else 0
        stable = len(self.map.surfels(stable_only=True)["radii"]) if self.map is not None and surfels else 0
        return RunResult(
            timestamps=np.asarray(self._timestamps, dtype=np.float64),
            poses=np.asarray(self._poses, dtype=np.float64).reshape(n, 4, 4),
            statuses=list(self.statuses),
            timings=self.timers.summary(),
            surfels=surfels,
            stable_surfels=stable,
            bytes_per_surfel=self.map.bytes_per_surfel if self.map is not None else 0,
            wall_s=self._wall_s,
            peak_rss_mb=peak_rss_mb(),
            stopped=stopped,
            semantics=self.label_fusion.summary() if self.label_fusion is not None else None,
            objects=self.object_fusion.summary() if self.object_fusion is not None else None,
        )

    def _new_map(self) -> SurfelMap:
        if self.label_fusion is None:
            return SurfelMap(self.config.map, self.device)
        return SurfelMap(self.config.map, self.device, num_classes=len(self.label_set),
                         probability_dtype=self.config.semantics.probability_dtype)

    # -- checks -----------------------------------------------------------------------------
    def _check_frame(self, frame: Frame) -> None:
        if self.intrinsics is None:
            self.intrinsics = frame.intrinsics
            k, pre, tracking = frame.intrinsics, self.config.preprocess, self.config.tracking
            self._frames = core().FrameProcessor(
                self.device, k.width, k.height, k.fx, k.fy, k.cx, k.cy,
                bilateral_radius=pre.bilateral_radius, bilateral_sigma_space=pre.bilateral_sigma_space,
                bilateral_sigma_depth=pre.bilateral_sigma_depth, depth_min=pre.depth_min, depth_max=pre.depth_max,
                tracking=tracking.core_params(),
                fill_in_min_density=tracking.fill_in_min_density,
            )
            self.map = self._new_map()
            return
        if (frame.width, frame.height) != (self.intrinsics.width, self.intrinsics.height):
            raise FrameSizeError(
                f"frame {frame.index} (t={frame.timestamp:.6f}) is {frame.width}x{frame.height}, but the run "
                f"started at {self.intrinsics.width}x{self.intrinsics.height}; one run maps one camera"
            )
        if frame.intrinsics != self.intrinsics:
            raise FrameSizeError(
                f"frame {frame.index} (t={frame.timestamp:.6f}) has intrinsics {frame.intrinsics}, but the run "
                f"started with {self.intrinsics}"
            )
