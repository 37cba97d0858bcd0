"""Objects in the SLAM loop (MaskFusion's scheduling, Meaningful Maps' association, Fusion++'s existence).

Per frame, after the frame is fused into the map (`ObjectFusion.step`):

    apply the instance segmentations that finished, oldest first, each with the pose and clock of
    the frame it was computed on: ObjectMap.integrate_map (index map at that pose, association,
    new objects, instance ids written to the surfels)                               python + core
    submit this frame when it is the k-th (objects.segment_every) and was tracked; a full queue
    skips it (never blocks)
    objects.wait_for_instances (offline runs): wait for this frame's instances and apply them now,
    so the object map does not depend on the machine's load

The worker (a child process by default, objects.worker: InstanceSegmentTask) runs the instance
segmenter, the frame's vertex / normal maps and the snapping of masks to the geometric segments of
the depth (all of which depend on the frame only); the map is touched only from the thread that
calls `step` / `finish`. The boxes are gravity-aligned about an up direction estimated from the
map's surfels (objects.up: normals, then a plane fit to the floor). At the end (`finish`) the
pending frames are applied and the object map's final pass drops and merges objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..config import ObjectsConfig, PreprocessConfig
from ..segmentation.base import Segmentation, SegmentationError
from ..semantics.scheduler import ScheduledSegmenter, SegmentationJob, SegmentationResult, check_frame_size
from ..timing import StageTimers
from .object_map import FrameObjects, ObjectMap, estimate_up, refine_masks

if TYPE_CHECKING:
    from ..datasets.frame import Frame, Intrinsics
    from ..mapping.surfel_map import SurfelMap


class InstanceSegmentTask:
    """What the instance worker runs per frame: the instance segmenter, the frame's vertex / normal
    maps and the snapping of masks to the geometric segments of the depth (all of which depend on
    the frame only). Pickles with its segmenter, so it can run in a worker process."""

    def __init__(self, segmenter, config: ObjectsConfig, preprocess: PreprocessConfig, device: str) -> None:
        self.segmenter, self.config, self.preprocess, self.device = segmenter, config, preprocess, device

    def __call__(self, job: SegmentationJob):
        from ..mapping.preprocess import preprocess_depth

        frame = job.payload
        seg = self.segmenter.segment(frame.rgb, frame.depth, frame)
        if seg is None:
            return None
        _, vertices, normals = preprocess_depth(frame.depth, frame.intrinsics, self.preprocess, self.device)
        refined = 0
        if self.config.refine_masks and seg.instances:
            h, w = frame.depth.shape
            keep = [i for i in seg.instances if i.mask.shape == (h, w)]
            masks, refined = refine_masks([i.mask for i in keep], vertices, normals, self.config, self.device)
            for inst, mask in zip(keep, masks):
                inst.mask = mask
        return seg, vertices, refined


class ObjectFusion(ScheduledSegmenter):
    """Schedules an instance segmenter asynchronously and keeps an ObjectMap over a SurfelMap.

    >>> fusion = ObjectFusion(config.objects, instance_segmenter, config.preprocess, timers)
    >>> fusion.step(surfel_map, frame, T_world_cam, time, tracked, intrinsics)  # each frame
    >>> fusion.finish(surfel_map, intrinsics)                                  # end of the run
    >>> fusion.object_map.to_list(), fusion.summary()
    """

    def __init__(self, config: ObjectsConfig, segmenter, preprocess: PreprocessConfig | None = None,
                 timers: StageTimers | None = None, device: str = "cpu") -> None:
        self.preprocess = preprocess or PreprocessConfig()
        if config.wait_for_instances:  # waited for: a thread, not a child process at idle priority that
            config = config.model_copy(update={"worker": "thread"})  # other programs' load would starve
        super().__init__(config, segmenter, InstanceSegmentTask(segmenter, config, self.preprocess, device), "instances")
        self.label_set = segmenter.label_set
        self.timers = timers or StageTimers()
        self.device = device
        self.object_map = ObjectMap(self.label_set, config, device)
        self._up_guess: np.ndarray | None = None
        self._applied = 0
        self._totals = FrameObjects()
        self._finished = False

    # -- main thread ------------------------------------------------------------------------------
    def step(self, surfel_map: "SurfelMap", frame: "Frame", T_world_cam: np.ndarray, time_: int, tracked: bool,
             intrinsics: "Intrinsics") -> None:
        """After frame `time_` is fused: apply finished instance segmentations, submit this frame
        when it is due. Never waits for the worker, unless objects.wait_for_instances (then this
        frame's instances are applied before it returns)."""
        self._frames += 1
        if self._up_guess is None:  # the first camera's up (-y) in the world
            self._up_guess = np.asarray(T_world_cam, np.float64)[:3, :3] @ np.array([0.0, -1.0, 0.0])
        self._apply(surfel_map, self._outputs(self._worker.ready()), intrinsics)
        self._offer(frame, T_world_cam, time_, tracked)
        if self.config.wait_for_instances:  # offline: this frame's instances before the next frame
            self._apply(surfel_map, self._outputs(self._worker.drain()), intrinsics)

    def finish(self, surfel_map: "SurfelMap", intrinsics: "Intrinsics") -> None:
        """End of the run: apply the pending frames, then the object map's final drop / merge / box pass."""
        if self._closed:
            return
        self._apply(surfel_map, self._drain(), intrinsics)
        with self.timers("objects_finish"):
            self._refresh_up(surfel_map)
            self.object_map.finish_map(surfel_map)
        self._finished = True
        self.close()

    def _refresh_up(self, surfel_map: "SurfelMap") -> None:
        if self._up_guess is None or surfel_map.size == 0:
            return
        if self.config.up == "camera":
            self.object_map.up = self._up_guess
            return
        radii = surfel_map.field("radii")
        self.object_map.up = estimate_up(surfel_map.field("normals"), radii * radii, self._up_guess,
                                         self.config.up_cone_deg, positions=surfel_map.field("positions"))

    def _apply(self, surfel_map: "SurfelMap", results: list[SegmentationResult], intrinsics: "Intrinsics") -> None:
        for result in results:
            job = result.job
            seg, vertices, refined = result.output
            self._check(seg, intrinsics, job)
            with self.timers("objects"):
                om = self.object_map
                if om._frames_since_maintain + 1 >= self.config.maintain_every:  # boxes are made in this pass
                    self._refresh_up(surfel_map)
                stats = om.integrate_map(surfel_map, seg, job.index, job.time, job.T_world_cam, intrinsics, vertices)
            t = self._totals
            t.detections += stats.detections
            t.matched += stats.matched
            t.created += stats.created
            t.refined += refined
            self._applied += 1

    def _check(self, seg: Segmentation, intrinsics: "Intrinsics", job: SegmentationJob) -> None:
        if seg.label_set.names != self.label_set.names:
            raise SegmentationError(f"{self.name} returned instances in {seg.label_set.name!r} for frame {job.index}, "
                                    f"but the object map's label set is {self.label_set.name!r}")
        check_frame_size(seg, intrinsics, job)

    # -- report -----------------------------------------------------------------------------------
    def summary(self) -> dict:
        """Counts and times of the run so far (milliseconds)."""
        objects = self.timers.summary().get("objects", {})
        total_ms = objects.get("total_s", 0.0) * 1e3
        om = self.object_map
        up = om.up
        return {
            "instance_segmenter": self.name,
            "oracle": self.is_oracle,
            "label_set": self.label_set.name,
            **self._worker_summary(),
            "frames_applied": self._applied,
            "objects": len(om),
            "detections": self._totals.detections,
            "associations": self._totals.matched,
            "new_objects": self._totals.created,
            "merged": om.merged,
            "dropped": om.dropped,
            "masks_refined": self._totals.refined,
            "finished": self._finished,
            "up": None if up is None else [round(float(v), 4) for v in up],
            "objects_ms_mean": objects.get("mean_ms", 0.0),
            "objects_ms_per_frame": total_ms / self._frames if self._frames else 0.0,
        }


__all__ = ["InstanceSegmentTask", "ObjectFusion"]
