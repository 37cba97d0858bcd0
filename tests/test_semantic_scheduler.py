"""The segmentation worker's queue mechanics with plain callables: order, skipping when full,
draining, errors handed to the main thread, closing."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from semslam.semantics import SegmentationJob, SegmentationWorker, SegmentationWorkerError


def job(i: int) -> SegmentationJob:
    return SegmentationJob(index=i, time=i, timestamp=i / 30, T_world_cam=np.eye(4), payload=i)


def test_results_come_back_in_submission_order():
    worker = SegmentationWorker(lambda j: j.payload * 10, queue_size=8)
    for i in range(6):
        assert worker.submit(job(i))
    results = worker.drain(timeout=10)
    assert [r.output for r in results] == [0, 10, 20, 30, 40, 50]
    assert [r.job.index for r in results] == list(range(6))
    assert all(r.wait_ms >= 0 and r.segment_ms >= 0 for r in results)
    assert worker.submitted == 6 and worker.skipped == 0 and worker.pending == 0
    assert worker.ready() == []  # each result is handed out once
    worker.close()


def test_full_queue_skips_without_waiting():
    gate = threading.Event()
    started = threading.Event()

    def blocked(j):
        started.set()
        gate.wait(10)
        return j.payload

    worker = SegmentationWorker(blocked, queue_size=2)
    assert worker.submit(job(0))
    assert started.wait(5)  # the worker holds job 0; the queue is empty again
    assert worker.submit(job(1)) and worker.submit(job(2))  # queue: 1, 2 (full)
    accepted = [worker.submit(job(i)) for i in range(3, 8)]
    assert accepted == [False] * 5
    assert worker.skipped == 5 and worker.submitted == 3 and worker.pending == 3
    gate.set()
    assert [r.output for r in worker.drain(timeout=10)] == [0, 1, 2]
    worker.close()


def test_error_in_the_worker_reaches_the_main_thread_with_its_message():
    def failing(j):
        if j.index == 2:
            raise RuntimeError("model exploded on purpose")
        return j.index

    worker = SegmentationWorker(failing, queue_size=4)
    for i in range(4):
        worker.submit(job(i))
    with pytest.raises(SegmentationWorkerError, match=r"frame 2 \(t=0.066667\) failed: RuntimeError: model exploded") as info:
        worker.drain(timeout=10)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(SegmentationWorkerError):
        worker.submit(job(5))  # a failed worker takes no more frames
    worker.close()


def test_close_discards_pending_and_is_idempotent():
    gate = threading.Event()
    worker = SegmentationWorker(lambda j: gate.wait(10), queue_size=3)
    for i in range(3):
        worker.submit(job(i))
    worker.close(timeout=0.1)
    gate.set()
    worker.close()
    assert worker.pending == 0
    with pytest.raises(SegmentationWorkerError, match="closed"):
        worker.submit(job(9))


def test_drain_times_out_naming_the_pending_frames():
    gate = threading.Event()
    worker = SegmentationWorker(lambda j: gate.wait(10), queue_size=2)
    worker.submit(job(0))
    with pytest.raises(TimeoutError, match="1 frame"):
        worker.drain(timeout=0.05)
    gate.set()
    worker.close()


def test_offer_submits_due_tracked_frames_only():
    from types import SimpleNamespace

    worker = SegmentationWorker(lambda j: j.index, queue_size=8)
    outcome = [worker.offer(SimpleNamespace(index=k, timestamp=k / 30), np.eye(4), k, 3, tracked=k != 6)
               for k in range(10)]
    assert outcome == ["submitted", "not due", "not due", "submitted", "not due", "not due", "not tracked",
                       "not due", "not due", "submitted"]
    results = worker.drain(timeout=10)
    assert [r.job.index for r in results] == [0, 3, 9]
    assert [r.job.time for r in results] == [0, 3, 9]
    worker.close()
