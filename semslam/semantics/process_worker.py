"""The segmentation worker in a child process: the network never shares this process's GIL.

A worker thread (scheduler.SegmentationWorker) shares the interpreter lock with the mapping loop:
every Python step of a segmenter (pre- and post-processing, onnxruntime's bindings, torch's
dispatcher) holds the loop up, and on two cores the tracking rate fell to half while a network
ran beside it. A child process has its own interpreter, and it runs below the mapping process
(SCHED_IDLE on Linux, else `nice`): tracking keeps the cores it needs and the network takes what is
left (with OpenMP in the mapping process, a network merely sharing the cores fairly holds every
parallel region up at its barrier while it has one of their threads' cores).

Frames and results cross through shared memory, not through the pipe: a job or a result is
pickled (protocol 5) with its large arrays out of band, the arrays are written into one file in
/dev/shm (the system's temporary folder where there is none), and only the small pickle and the
file's name go through the pipe. The receiver maps the file, removes its name at once and reads
the arrays in place (no copy; the mapping lives as long as the arrays do). So neither side ever
blocks on a full pipe while the other is busy. A CUDA tensor in a result (a torch segmenter's
probabilities on the GPU) crosses as a CUDA IPC handle through torch's own reducers.

The child ignores Ctrl-C (the parent stops it), exits when the parent goes away, and hands any
exception back with the frame it failed on. Same interface as SegmentationWorker.
"""

from __future__ import annotations

import copyreg
import io
import mmap
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

from ..priority import lower_this_thread
from .scheduler import SegmentationJob, SegmentationResult, SegmentationWorkerError, WorkerBase

SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
_ALIGN = 64  # bytes; every array starts on a cache line


class WorkerUnavailable(SegmentationWorkerError):
    """No worker process for this task: it cannot be pickled (a segmenter holding something that
    cannot be sent), or this system cannot pass it a socket (not POSIX)."""


def _reducers() -> dict:
    """Pickle's reducers, with CUDA tensors sent as torch's IPC handles (what torch registers with
    multiprocessing); CPU tensors go by value (torch's reducer would pass a file descriptor through
    multiprocessing's resource sharer, which only its own children can reach)."""
    table = dict(copyreg.dispatch_table)
    torch = sys.modules.get("torch")
    share = ForkingPickler._extra_reducers.get(torch.Tensor) if torch is not None else None
    if share is not None:
        table[torch.Tensor] = lambda t: share(t) if t.is_cuda else t.__reduce_ex__(5)
    return table


def pack(obj: Any) -> tuple[bytes, str | None, list[tuple[int, int]]]:
    """(pickle, shared-memory file or None, [(offset, length)] of each out-of-band buffer)."""
    buffers: list[pickle.PickleBuffer] = []
    data = io.BytesIO()
    pickler = pickle.Pickler(data, 5, buffer_callback=buffers.append)
    pickler.dispatch_table = _reducers()
    pickler.dump(obj)
    if not buffers:
        return data.getvalue(), None, []
    raws = [b.raw() for b in buffers]
    layout, offset = [], 0
    for raw in raws:
        layout.append((offset, raw.nbytes))
        offset += -(-raw.nbytes // _ALIGN) * _ALIGN
    path = os.path.join(SHM_DIR, f"semslam-{os.getpid()}-{uuid.uuid4().hex[:16]}")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, max(offset, 1))
        with mmap.mmap(fd, max(offset, 1)) as mm:
            for raw, (start, length) in zip(raws, layout):
                mm[start:start + length] = raw
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    return data.getvalue(), path, layout


def unpack(data: bytes, path: str | None, layout: list[tuple[int, int]]) -> Any:
    """The object `pack` wrote; its arrays live in the mapped file, whose name is removed here."""
    if path is None:
        return pickle.loads(data)
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size)
    finally:
        os.close(fd)
        os.unlink(path)
    view = memoryview(mm)
    return pickle.loads(data, buffers=[view[start:start + length] for start, length in layout])


def _remove(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _exception_message(exc: BaseException) -> tuple[bytes | None, str]:
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)
    except Exception:
        blob = None
    return blob, f"{type(exc).__name__}: {exc}"


def _child_entry(fd: int) -> None:
    """`python -c` entry of the worker process: its priority, then the task, arrive on `fd`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent stops us
    conn = Connection(fd)
    try:
        lower_this_thread(*conn.recv())  # before the task builds its network's threads
        task = conn.recv()
    except (EOFError, OSError):
        return
    except BaseException as exc:  # noqa: BLE001 - the task does not unpickle here (e.g. a class in __main__)
        conn.send(("unavailable", -1, f"{type(exc).__name__}: {exc}"))
        return
    _child_main(task, conn)


def _child_main(task: Callable[[SegmentationJob], Any], conn) -> None:
    """The child: build the task, say ready, then segment jobs until told to stop or orphaned."""
    try:
        setup = getattr(task, "setup", None)
        if setup is not None:
            setup()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", -1, *_exception_message(exc), traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        seq, data, path, layout = message
        out_path = None
        try:
            job = unpack(data, path, layout)
            started = time.perf_counter()
            output = task(job)
            finished = time.perf_counter()
            del job
            out, out_path, out_layout = pack(output)
            conn.send(("done", seq, out, out_path, out_layout, started, finished))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, then we stop
            _remove(out_path)
            try:
                conn.send(("error", seq, *_exception_message(exc), traceback.format_exc()))
            except (OSError, EOFError):
                pass
            return


class ProcessSegmentationWorker(WorkerBase):
    """Runs `task(job)` in a child process for jobs submitted with `submit` (SegmentationWorker's
    interface). `task` must pickle (a segmenter that rebuilds itself from its model file does);
    WorkerUnavailable otherwise. The constructor waits until the child has built the task (the
    network is loaded) or raises what the child raised. idle: the child runs under SCHED_IDLE
    (Linux); otherwise, or where that is refused, `nice` is added to its niceness."""

    def __init__(self, task: Callable[[SegmentationJob], Any], queue_size: int, name: str = "segmentation",
                 nice: int = 10, idle: bool = True, start_timeout: float = 600.0) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if os.name != "posix":
            raise WorkerUnavailable(f"the {name} worker process needs a POSIX system (this is {os.name!r})")
        try:  # plain pickle: a module's tensors go by value (torch's own reducers would pass file
            # descriptors through multiprocessing's resource sharer, which only its own children can reach)
            message = pickle.dumps(task, protocol=5)
        except Exception as exc:
            raise WorkerUnavailable(f"the {name} task cannot be sent to a child process: "
                                    f"{type(exc).__name__}: {exc}") from None
        self.name = name
        self.mode = "process"
        self._capacity = queue_size + 1  # like the thread worker: queue_size waiting and one running
        self._jobs: dict[int, tuple[SegmentationJob, str | None]] = {}
        self._done: list[SegmentationResult] = []
        self._error: tuple[SegmentationJob | None, BaseException] | None = None
        self._closed = False
        self._seq = 0
        self.submitted = 0
        self.skipped = 0
        # A fresh interpreter (not fork: this process runs OpenMP and CUDA threads), started by hand
        # rather than by multiprocessing's spawn, which would run the user's main script again in it.
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        code = f"from semslam.semantics.process_worker import _child_entry; _child_entry({theirs.fileno()})"
        try:
            self._process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),), env=env,
                                             stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send((nice, idle))
        self._conn.send_bytes(message)
        self._wait_ready(start_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._conn.poll(0.05):
            if self._process.poll() is not None:
                break
            if time.monotonic() > deadline:
                self.close()
                raise SegmentationWorkerError(f"the {self.name} worker process was not ready after {timeout:.0f} s")
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            self.close()
            raise SegmentationWorkerError(f"the {self.name} worker process exited with code "
                                          f"{self._process.wait()} before it was ready") from None
        if message[0] == "unavailable":
            self.close()
            raise WorkerUnavailable(f"the {self.name} task does not unpickle in a child process: {message[2]}")
        if message[0] == "error":
            self.close()
            raise self._exception(None, *message[2:]) from None

    # -- main thread --------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Jobs sent and not yet finished."""
        return len(self._jobs)

    def submit(self, job: SegmentationJob) -> bool:
        """Send `job` to the child without blocking; False (counted as skipped) when
        queue_size + 1 jobs are already pending."""
        self._collect()
        self._raise_if_failed()
        if self._closed:
            raise SegmentationWorkerError(f"the {self.name} worker is closed; no more frames can be submitted")
        if len(self._jobs) >= self._capacity:
            self.skipped += 1
            return False
        data, path, layout = pack(job)
        self._seq += 1
        self._jobs[self._seq] = (job, path)
        try:
            self._conn.send((self._seq, data, path, layout))
        except (OSError, EOFError) as exc:
            self._jobs.pop(self._seq)
            _remove(path)
            raise SegmentationWorkerError(f"the {self.name} worker process is gone "
                                          f"(exit code {self._process.poll()}): {exc}") from None
        self.submitted += 1
        return True

    def ready(self) -> list[SegmentationResult]:
        """Finished results in submission order (each returned once); raises
        SegmentationWorkerError when the worker failed."""
        self._collect()
        self._raise_if_failed()
        done, self._done = self._done, []
        return done

    def drain(self, timeout: float | None = None) -> list[SegmentationResult]:
        """Wait until every submitted job has finished; return the results not yet collected."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._jobs and self._error is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"{self.name} worker: {len(self._jobs)} frame(s) still pending after {timeout} s")
            self._conn.poll(0.05 if remaining is None else min(0.05, remaining))
            self._collect()
        return self.ready()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child: pending jobs are discarded, their shared memory removed. Safe to call twice."""
        self._closed = True
        if self._process.poll() is None:
            try:
                self._conn.send(None)
            except (OSError, EOFError):
                pass
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        try:  # results the child sent that nobody collected
            while self._conn.poll(0):
                message = self._conn.recv()
                if message[0] == "done":
                    _remove(message[3])
        except (OSError, EOFError):
            pass
        for _, path in self._jobs.values():  # jobs the child never opened
            _remove(path)
        self._jobs.clear()
        self._conn.close()

    # -- internals ----------------------------------------------------------------------------
    def _collect(self) -> None:
        """Read every message the child has sent so far, without waiting."""
        if self._conn.closed:
            return
        self._read_messages()
        if self._jobs and self._error is None and self._process.poll() is not None:
            self._read_messages()  # what it sent just before it exited
            if self._jobs and self._error is None:
                seq = min(self._jobs)
                self._error = (self._jobs[seq][0], SegmentationWorkerError(
                    f"the {self.name} worker process exited with code {self._process.returncode}"))

    def _read_messages(self) -> None:
        try:
            while self._conn.poll(0):
                self._handle(self._conn.recv())
        except (OSError, EOFError):  # the child is gone; all it sent has been read
            pass

    def _handle(self, message: tuple) -> None:
        kind, seq = message[0], message[1]
        if kind == "done":
            _, _, data, path, layout, started, finished = message
            job, _ = self._jobs.pop(seq)
            output = unpack(data, path, layout)
            self._done.append(SegmentationResult(job, output, wait_ms=max(0.0, started - job.submitted_at) * 1e3,
                                                 segment_ms=(finished - started) * 1e3))
        elif kind == "error":
            job = self._jobs[seq][0] if seq in self._jobs else None
            self._error = (job, self._exception(job, *message[2:]))

    def _exception(self, job: SegmentationJob | None, blob: bytes | None, text: str, tb: str) -> BaseException:
        exc = None
        if blob is not None:
            try:
                exc = pickle.loads(blob)
            except Exception:
                exc = None
        if exc is None:
            exc = SegmentationWorkerError(f"{text}\n--- in the {self.name} worker process ---\n{tb}")
        return exc

    def _raise_if_failed(self) -> None:
        if self._error is None:
            return
        job, exc = self._error
        if job is None:
            raise exc
        raise SegmentationWorkerError(
            f"segmentation of frame {job.index} (t={job.timestamp:.6f}) failed: {type(exc).__name__}: {exc}"
        ) from exc


__all__ = ["ProcessSegmentationWorker", "WorkerUnavailable", "pack", "unpack"]
