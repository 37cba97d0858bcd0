"""The segmentation worker: a bounded queue, so tracking never waits for a network.

MaskFusion's design (Rünz et al., ISMAR 2018): the main loop submits a frame (its images and the
pose it was tracked at) and goes on; the worker segments frames one at a time, in submission
order; the main loop collects finished results at a safe point and applies each with the pose of
the frame it was computed on. A full queue skips the frame instead of blocking (counted). An
exception in the worker stops it and is raised in the main thread, with the frame it failed on,
the next time results are collected.

The worker runs any callable `segment(job) -> result`; `LabelFusion` gives it a segmenter. Here
the worker is a thread of this process (SegmentationWorker); process_worker.py has the same worker
in a child process (the default: see there why), and `start_worker` picks one.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import SemslamError


class SegmentationWorkerError(SemslamError):
    """The segmentation worker raised; the message names the frame and the original error."""


@dataclass
class SegmentationJob:
    """One frame handed to the worker.

    index: the frame's index in the sequence; time: the map's clock when it was fused (frames
    processed before it); timestamp: seconds. T_world_cam: (4, 4) float64, the pose it was tracked
    at. payload: what the worker's callable reads (the frame: rgb, depth, ground truth)."""

    index: int
    time: int
    timestamp: float
    T_world_cam: np.ndarray
    payload: Any
    submitted_at: float = field(default_factory=time.perf_counter)


@dataclass
class SegmentationResult:
    """A finished job: `output` is what the callable returned (None when it dropped the frame);
    wait_ms: time the job waited in the queue; segment_ms: time the callable took."""

    job: SegmentationJob
    output: Any
    wait_ms: float
    segment_ms: float


_STOP = object()


def check_frame_size(segmentation, intrinsics, job: SegmentationJob) -> None:
    """SegmentationError naming the frame when a segmentation is not the frame's size."""
    from ..segmentation.base import SegmentationError

    try:
        segmentation.check_size(intrinsics.width, intrinsics.height)
    except SegmentationError as exc:
        raise SegmentationError(f"frame {job.index} (t={job.timestamp:.6f}): {exc}") from None


class WorkerBase:
    """What both workers share: `offer` (submit a frame when it is due and tracked)."""

    mode = "thread"

    def submit(self, job: SegmentationJob) -> bool:  # pragma: no cover - each worker defines it
        raise NotImplementedError

    def offer(self, frame, T_world_cam: np.ndarray, time_: int, every: int, tracked: bool) -> str:
        """Frame `time_` (the map's clock) after it was fused at T_world_cam: submitted when it is the
        every-th and was tracked. Returns "submitted", "skipped" (queue full), "not tracked" (its
        pose is not known: its result would land in the wrong place) or "not due"."""
        if time_ % every != 0:
            return "not due"
        if not tracked:
            return "not tracked"
        job = SegmentationJob(frame.index, time_, frame.timestamp, np.array(T_world_cam, dtype=np.float64), frame)
        return "submitted" if self.submit(job) else "skipped"


def start_worker(task: Callable[[SegmentationJob], Any], queue_size: int, name: str = "segmentation",
                 mode: str = "process", nice: int = 10, idle: bool = True) -> "WorkerBase":
    """The worker `mode` names: "process" (ProcessSegmentationWorker: a child process under
    SCHED_IDLE when `idle`, else at `nice`; a task that cannot be pickled, or a system without POSIX
    sockets, gets a thread instead, with a warning) or "thread"."""
    if mode == "process":
        from .process_worker import ProcessSegmentationWorker, WorkerUnavailable

        try:
            return ProcessSegmentationWorker(task, queue_size, name=name, nice=nice, idle=idle)
        except WorkerUnavailable as exc:
            warnings.warn(f"{exc}; it runs in a thread of this process instead", RuntimeWarning, stacklevel=2)
    elif mode != "thread":
        raise ValueError(f"worker mode must be 'process' or 'thread', got {mode!r}")
    return SegmentationWorker(task, queue_size, name=name)


class SegmentationWorker(WorkerBase):
    """Runs `segment(job)` on a background thread for jobs submitted with `submit`.

    >>> worker = SegmentationWorker(segment, queue_size=2)
    >>> worker.submit(job)          # False when the queue is full: the frame is skipped
    >>> for result in worker.ready(): ...   # finished results in submission order
    >>> for result in worker.drain(): ...   # waits for every pending job (end of a run)
    >>> worker.close()
    """

    def __init__(self, segment: Callable[[SegmentationJob], Any], queue_size: int, name: str = "segmentation") -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._segment = segment
        self._jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self._done: list[SegmentationResult] = []
        self._cond = threading.Condition()
        self._pending = 0  # submitted and not yet finished (queued or running)
        self._error: tuple[SegmentationJob, BaseException] | None = None
        self._closed = False
        self.submitted = 0
        self.skipped = 0  # queue full
        self._thread = threading.Thread(target=self._loop, name=f"semslam-{name}", daemon=True)
        self._thread.start()

    # -- main thread --------------------------------------------------------------------------
    def submit(self, job: SegmentationJob) -> bool:
        """Queue `job` without blocking; False (and counted as skipped) when the queue is full."""
        self._raise_if_failed()
        if self._closed:
            raise SegmentationWorkerError("the segmentation worker is closed; no more frames can be submitted")
        with self._cond:
            self._pending += 1
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            with self._cond:
                self._pending -= 1
            self.skipped += 1
            return False
        self.submitted += 1
        return True

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        with self._cond:
            return self._pending

    def ready(self) -> list[SegmentationResult]:
        """Finished results in submission order (each returned once); raises
        SegmentationWorkerError when the worker failed."""
        self._raise_if_failed()
        with self._cond:
            done, self._done = self._done, []
        return done

    def drain(self, timeout: float | None = None) -> list[SegmentationResult]:
        """Wait until every submitted job has finished; return the results not yet collected.
        Raises SegmentationWorkerError when the worker fails, TimeoutError after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending > 0 and self._error is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"segmentation worker: {self._pending} frame(s) still pending after {timeout} s")
                self._cond.wait(remaining)
        return self.ready()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker: queued jobs are discarded, a running one finishes in the background
        (the thread is a daemon). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        with self._cond:
            self._pending = 0
            self._cond.notify_all()
        try:
            self._jobs.put_nowait(_STOP)
        except queue.Full:  # cannot happen after emptying, but never block here
            pass
        self._thread.join(timeout)

    # -- worker thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            started = time.perf_counter()
            try:
                output = self._segment(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                with self._cond:
                    self._error = (job, exc)
                    self._cond.notify_all()
                return
            finished = time.perf_counter()
            result = SegmentationResult(job, output, wait_ms=(started - job.submitted_at) * 1e3,
                                        segment_ms=(finished - started) * 1e3)
            with self._cond:
                if self._closed:
                    return
                self._done.append(result)
                self._pending -= 1
                self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        if self._error is None:
            return
        job, exc = self._error
        raise SegmentationWorkerError(
            f"segmentation of frame {job.index} (t={job.timestamp:.6f}) failed: {type(exc).__name__}: {exc}"
        ) from exc


class ScheduledSegmenter:
    """What label fusion and object fusion share: a segmenter run by a worker (`start_worker` with
    the config section's worker settings), the frames offered to it, its results collected with
    their queue wait and run time, and the counts a summary reports. Subclasses apply the outputs
    (`_outputs` hands them the results the segmenter did not drop)."""

    def __init__(self, config, segmenter, task: Callable[[SegmentationJob], Any], name: str) -> None:
        self.config = config
        self.segmenter = segmenter
        self._worker = start_worker(task, config.queue_size, name, config.worker, config.worker_nice,
                                    config.worker_idle)
        self._frames = 0
        self._not_tracked = 0
        self._dropped = 0  # frames the segmenter returned None for
        self._wait_ms: list[float] = []
        self._segment_ms: list[float] = []
        self._drained_at_end = 0
        self._closed = False

    @property
    def name(self) -> str:
        return getattr(self.segmenter, "name", type(self.segmenter).__name__)

    @property
    def is_oracle(self) -> bool:
        return bool(getattr(self.segmenter, "is_oracle", False)) or self.name.startswith("oracle")

    def _offer(self, frame, T_world_cam: np.ndarray, time_: int, tracked: bool) -> None:
        if self._worker.offer(frame, T_world_cam, time_, self.config.segment_every, tracked) == "not tracked":
            self._not_tracked += 1

    def _outputs(self, results: list[SegmentationResult]) -> list[SegmentationResult]:
        """`results` with their times recorded, less those the segmenter dropped (counted)."""
        kept = []
        for result in results:
            self._wait_ms.append(result.wait_ms)
            self._segment_ms.append(result.segment_ms)
            if result.output is None:
                self._dropped += 1
            else:
                kept.append(result)
        return kept

    def _drain(self) -> list[SegmentationResult]:
        """End of the run: every pending result (waited for), as `_outputs` gives them."""
        results = self._worker.drain()
        self._drained_at_end = len(results)
        return self._outputs(results)

    def close(self) -> None:
        """Stop the worker without waiting for pending frames (Ctrl-C, errors)."""
        self._closed = True
        self._worker.close()

    def _worker_summary(self) -> dict:
        """The scheduling half of a summary (milliseconds)."""
        return {
            "segment_every": self.config.segment_every,
            "queue_size": self.config.queue_size,
            "worker": self._worker.mode,
            "frames": self._frames,
            "frames_submitted": self._worker.submitted,
            "frames_skipped_queue_full": self._worker.skipped,
            "frames_dropped_by_segmenter": self._dropped,
            "frames_not_submitted_tracking_failed": self._not_tracked,
            "frames_applied_at_end": self._drained_at_end,
            "segment_ms_mean": float(np.mean(self._segment_ms)) if self._segment_ms else 0.0,
            "queue_wait_ms_mean": float(np.mean(self._wait_ms)) if self._wait_ms else 0.0,
        }
