"""Label fusion in the SLAM loop (SemanticFusion, McCormac et al. ICRA 2017; MaskFusion's scheduling).

Per frame, after the frame is fused into the map (`LabelFusion.step`):

    apply the segmentations that finished, oldest first, each with the pose of the frame it was
        computed on: map.update_labels(probs, T_world_cam_k, intrinsics, time_k)      core
    submit this frame when it is the k-th (segment_every) and was tracked; a full queue skips it
    every crf_every frames: the dense CRF over the map's surfels                       core

At the end of a run (`finish`) the pending segmentations are waited for and applied, and the CRF
runs once more (crf_at_end). The map is touched only from the thread that calls these methods:
the worker (a child process by default, semantics.worker) only segments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..config import SemanticsConfig
from ..segmentation.base import Segmentation, SegmentationError
from ..segmentation.labels import LabelSet
from ..timing import StageTimers
from .scheduler import ScheduledSegmenter, SegmentationJob, SegmentationResult, check_frame_size

if TYPE_CHECKING:
    from ..datasets.frame import Frame, Intrinsics
    from ..mapping.surfel_map import SurfelMap


def crf_parameters(config: SemanticsConfig) -> dict:
    """The map CRF's keyword arguments: SemanticsConfig's crf_* fields without the prefix
    (except crf_every and crf_at_end, which schedule it)."""
    return {
        name[len("crf_"):]: value
        for name, value in config.model_dump().items()
        if name.startswith("crf_") and name not in ("crf_every", "crf_at_end")
    }


class SegmentedFrame:
    """What the run keeps of one applied segmentation: frame index, time, timestamp, and its
    per-pixel argmax labels as PNG bytes (uint16; encoded by the worker), so `semslam eval`
    can score the per-frame segmentation without running the network again."""

    __slots__ = ("index", "time", "timestamp", "labels_png")

    def __init__(self, index: int, time: int, timestamp: float, labels_png: bytes) -> None:
        self.index, self.time, self.timestamp, self.labels_png = index, time, timestamp, labels_png

    def labels(self) -> np.ndarray:
        import cv2

        return cv2.imdecode(np.frombuffer(self.labels_png, np.uint8), cv2.IMREAD_UNCHANGED)


class SemanticSegmentTask:
    """What the segmentation worker runs per frame: the segmenter on the frame, and its argmax labels
    encoded as PNG (kept for `semslam eval`). Pickles with its segmenter, so it can run in a worker
    process (segmenters rebuild themselves there from their model files)."""

    def __init__(self, segmenter) -> None:
        self.segmenter = segmenter

    def __call__(self, job: SegmentationJob) -> tuple[Segmentation, np.ndarray] | None:
        import cv2

        frame = job.payload
        segmentation = self.segmenter.segment(frame.rgb, frame.depth, frame)
        if segmentation is None:  # the segmenter dropped the frame
            return None
        ok, png = cv2.imencode(".png", segmentation.labels())
        if not ok:
            raise SegmentationError(f"could not encode the labels of frame {job.index} as PNG")
        return segmentation, png


class LabelFusion(ScheduledSegmenter):
    """Schedules a segmenter asynchronously and fuses its results into a SurfelMap.

    >>> fusion = LabelFusion(config.semantics, segmenter, timers)
    >>> fusion.step(surfel_map, frame, T_world_cam, time, tracked, intrinsics)  # each frame
    >>> fusion.finish(surfel_map, intrinsics)                                  # end of the run
    >>> fusion.summary()
    """

    def __init__(self, config: SemanticsConfig, segmenter, timers: StageTimers | None = None) -> None:
        super().__init__(config, segmenter, SemanticSegmentTask(segmenter), "segmentation")
        self.label_set: LabelSet = segmenter.label_set
        self.timers = timers or StageTimers()
        self.segmented: list[SegmentedFrame] = []
        self.labels_before_crf: np.ndarray | None = None  # (N,) per surfel, set by finish() before the final CRF
        self._applied = 0
        self._updated_surfels: list[int] = []
        self._crf_runs = 0
        self._updates_since_crf = 0

    # -- main thread ------------------------------------------------------------------------------
    def step(self, surfel_map: "SurfelMap", frame: "Frame", T_world_cam: np.ndarray, time_: int, tracked: bool,
             intrinsics: "Intrinsics") -> None:
        """After frame `time_` is fused: apply finished segmentations, submit this frame when it is
        due, run the CRF when due. Never waits for the worker."""
        self._frames += 1
        self._apply(surfel_map, self._outputs(self._worker.ready()), intrinsics)
        self._offer(frame, T_world_cam, time_, tracked)
        every = self.config.crf_every
        if every and (time_ + 1) % every == 0 and self._updates_since_crf:
            self.run_crf(surfel_map)

    def finish(self, surfel_map: "SurfelMap", intrinsics: "Intrinsics") -> None:
        """End of the run: wait for the pending segmentations, apply them, run the final CRF."""
        if self._closed:
            return
        self._apply(surfel_map, self._drain(), intrinsics)
        if self.config.crf_at_end and self._updates_since_crf:
            # kept so the evaluation can say what the final CRF changed (map.npz: labels_before_crf)
            self.labels_before_crf = np.asarray(surfel_map.labels()[0]).astype(np.int32)
            self.run_crf(surfel_map)
        self.close()

    def run_crf(self, surfel_map: "SurfelMap") -> dict:
        with self.timers("crf"):
            stats = surfel_map.crf(**crf_parameters(self.config), probability_floor=self.config.probability_floor)
        self._crf_runs += 1
        self._updates_since_crf = 0
        return stats

    def _apply(self, surfel_map: "SurfelMap", results: list[SegmentationResult], intrinsics: "Intrinsics") -> None:
        for result in results:
            job = result.job
            segmentation, labels_png = result.output
            labels_png = bytes(labels_png)  # a copy: the array may live in the worker's shared memory
            self._check(segmentation, intrinsics, job)
            # A GPU segmenter leaves its probabilities on the device too (extra["probs_device"]): fused
            # there when the map lives on that GPU, without a host-to-device copy in the mapping thread.
            probs = segmentation.extra.get("probs_device")
            if probs is None or not surfel_map.device.startswith("cuda"):
                probs = segmentation.probs
            with self.timers("labels"):
                stats = surfel_map.update_labels(probs, job.T_world_cam, intrinsics, job.time,
                                                 self.config.probability_floor)
            self._updated_surfels.append(int(stats.get("updated", 0)) if isinstance(stats, dict) else 0)
            self.segmented.append(SegmentedFrame(job.index, job.time, job.timestamp, labels_png))
            self._applied += 1
            self._updates_since_crf += 1

    def _check(self, segmentation: Segmentation, intrinsics: "Intrinsics", job: SegmentationJob) -> None:
        if segmentation.label_set.name != self.label_set.name or len(segmentation.label_set) != len(self.label_set):
            raise SegmentationError(
                f"{self.name} returned labels in {segmentation.label_set.name!r} ({len(segmentation.label_set)} "
                f"classes) for frame {job.index}, but the map's label set is {self.label_set.name!r} "
                f"({len(self.label_set)} classes)"
            )
        check_frame_size(segmentation, intrinsics, job)

    # -- report -----------------------------------------------------------------------------------
    def summary(self) -> dict:
        """Counts and times of the run so far (milliseconds)."""
        labels = self.timers.summary().get("labels", {})
        crf = self.timers.summary().get("crf", {})
        label_total_ms = labels.get("total_s", 0.0) * 1e3
        return {
            "segmenter": self.name,
            "oracle": self.is_oracle,
            "label_set": self.label_set.name,
            "num_classes": len(self.label_set),
            **self._worker_summary(),
            "frames_segmented": self._applied,
            "frames_pending": self._worker.pending if not self._closed else 0,
            "queue_wait_ms_max": float(np.max(self._wait_ms)) if self._wait_ms else 0.0,
            "label_update_ms_mean": labels.get("mean_ms", 0.0),
            "label_update_ms_per_frame": label_total_ms / self._frames if self._frames else 0.0,
            "surfels_updated_mean": float(np.mean(self._updated_surfels)) if self._updated_surfels else 0.0,
            "crf_runs": self._crf_runs,
            "crf_ms_mean": crf.get("mean_ms", 0.0),
        }


__all__ = ["LabelFusion", "SegmentedFrame", "SemanticSegmentTask", "crf_parameters"]
