"""The segmentation workers' queue mechanics with plain callables: order, skipping when full,
draining, errors handed to the main thread, closing; for the thread worker and the worker process
(shared-memory transport, a vanished child, Ctrl-C, the fallback to a thread)."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from semslam.semantics import SegmentationJob, SegmentationWorker, SegmentationWorkerError
from semslam.semantics.process_worker import SHM_DIR, ProcessSegmentationWorker
from semslam.semantics.scheduler import start_worker


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


# -- the worker in a child process (semantics.worker = "process", the default) --------------------------------

class Scaled:
    """A picklable task (a class the child process imports from this module): the payload times 2,
    after sleeping `payload.sleep` s; raises on `payload.fail`."""

    def __call__(self, j):
        p = j.payload
        if p.get("fail"):
            raise RuntimeError(f"model exploded on purpose at {j.index}")
        time.sleep(p.get("sleep", 0.0))
        return {"array": p["array"] * 2, "pid": os.getpid(), "index": j.index}


def array_job(i: int, **extra) -> SegmentationJob:
    payload = {"array": np.arange(480 * 640 * 3, dtype=np.float32).reshape(480, 640, 3) + i, **extra}
    return SegmentationJob(index=i, time=i, timestamp=i / 30, T_world_cam=np.eye(4), payload=payload)


def our_shared_memory(pid: int) -> list[str]:
    return [f for f in os.listdir(SHM_DIR) if f.startswith(f"semslam-{pid}-")]


def test_process_worker_returns_arrays_in_order_through_shared_memory():
    worker = ProcessSegmentationWorker(Scaled(), queue_size=8, nice=5)
    assert worker.mode == "process"
    for i in range(4):
        assert worker.submit(array_job(i))
    results = worker.drain(timeout=60)
    assert [r.job.index for r in results] == [0, 1, 2, 3]
    child = results[0].output["pid"]
    assert child != os.getpid()
    if hasattr(os, "SCHED_IDLE"):  # Linux: it runs on CPU time tracking leaves idle
        assert os.sched_getscheduler(child) == os.SCHED_IDLE
    for r in results:
        expected = (np.arange(480 * 640 * 3, dtype=np.float32).reshape(480, 640, 3) + r.job.index) * 2
        np.testing.assert_array_equal(r.output["array"], expected)
        assert r.output["array"].flags.writeable and r.wait_ms >= 0 and r.segment_ms >= 0
        assert r.job is not None and r.output["index"] == r.job.index
    worker.close()
    worker.close()
    # every shared-memory file was removed once read, on both sides
    assert our_shared_memory(os.getpid()) == [] and our_shared_memory(child) == []


def test_process_worker_skips_when_full_and_hands_back_errors_with_the_frame():
    worker = ProcessSegmentationWorker(Scaled(), queue_size=2, nice=7, idle=False)
    assert os.getpriority(os.PRIO_PROCESS, worker._process.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 7
    assert worker.submit(array_job(0, sleep=1.5))
    assert worker.submit(array_job(1)) and worker.submit(array_job(2))  # one running, two waiting
    assert [worker.submit(array_job(i)) for i in range(3, 6)] == [False] * 3
    assert worker.skipped == 3 and worker.submitted == 3 and worker.pending == 3
    assert [r.job.index for r in worker.drain(timeout=60)] == [0, 1, 2]
    worker.submit(array_job(6, fail=True))
    with pytest.raises(SegmentationWorkerError, match=r"frame 6 \(t=0.200000\) failed: RuntimeError: model exploded") as info:
        worker.drain(timeout=60)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(SegmentationWorkerError):
        worker.submit(array_job(7))
    worker.close()


def test_a_vanished_worker_process_is_a_clear_error_and_ctrl_c_does_not_reach_it():
    worker = ProcessSegmentationWorker(Scaled(), queue_size=2, nice=0)
    worker.submit(array_job(0, sleep=0.5))
    os.kill(worker._process.pid, signal.SIGINT)  # Ctrl-C goes to the whole process group: the child ignores it
    assert [r.job.index for r in worker.drain(timeout=60)] == [0]
    worker.submit(array_job(1, sleep=30))
    time.sleep(0.3)
    worker._process.kill()
    with pytest.raises(SegmentationWorkerError, match=r"frame 1 .*exited with code -9"):
        worker.drain(timeout=60)
    worker.close()
    assert our_shared_memory(os.getpid()) == []


def test_a_task_that_cannot_go_to_a_process_runs_in_a_thread_with_a_warning():
    with pytest.warns(RuntimeWarning, match="cannot be sent to a child process.*runs in a thread"):
        worker = start_worker(lambda j: j.index, queue_size=2, mode="process")
    assert isinstance(worker, SegmentationWorker) and worker.mode == "thread"
    worker.submit(job(3))
    assert [r.output for r in worker.drain(timeout=10)] == [3]
    worker.close()
    with pytest.raises(ValueError, match="'process' or 'thread'"):
        start_worker(Scaled(), queue_size=2, mode="fibre")


def test_a_torch_module_segmenter_goes_to_the_worker_process_by_value():
    torch = pytest.importorskip("torch", reason="torch is in the test extra; the torch segmenter is optional")
    from semslam.config import SemanticsConfig
    from semslam.segmentation.torch_segmenter import TorchSegmenter
    from semslam.semantics import LabelFusion
    from semslam.semantics.process_worker import pack, unpack

    out = unpack(*pack({"t": torch.arange(6.0).reshape(2, 3)}))  # CPU tensors by value, not by fd
    assert out["t"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    fusion = LabelFusion(SemanticsConfig(labels="nyu13"), TorchSegmenter(torch.nn.Conv2d(3, 14, 1), "nyu13"))
    assert fusion.summary()["worker"] == "process"
    fusion.close()
