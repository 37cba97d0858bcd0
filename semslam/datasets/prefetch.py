"""Read frames ahead of the mapping loop on a background thread.

Decoding a frame's PNGs (about 20 ms at 640x480) releases the GIL, so a reader thread can decode
frame k+1 while the core maps frame k. Frames come out in order; an error reading frame k is
raised when frame k is asked for, with the reader's own message, so a run stops at the same frame
with the same error as without read-ahead.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

from .frame import Frame


class Prefetcher:
    """Iterates `seq[0..len(seq))` with up to `depth` frames read ahead by one thread.

    >>> with Prefetcher(seq, depth=2) as frames:
    ...     for k, frame in enumerate(frames): ...

    `depth` 0 reads each frame when it is asked for (no thread). Leaving the `with` block (or
    calling close()) stops the reader; a frame being decoded is finished and dropped.
    """

    def __init__(self, seq, depth: int = 2) -> None:
        if depth < 0:
            raise ValueError(f"read-ahead depth must be >= 0, got {depth}")
        self._seq = seq
        self._depth = depth
        self._stop = threading.Event()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._seq)

    def __enter__(self) -> "Prefetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_all(self) -> None:
        for k in range(len(self._seq)):
            if self._stop.is_set():
                return
            try:
                item = (k, self._seq[k], None)
            except BaseException as exc:  # handed to the consumer, which raises it at frame k
                item = (k, None, exc)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item[2] is not None:
                return

    def __iter__(self) -> Iterator[Frame]:
        if self._depth == 0:
            for k in range(len(self._seq)):
                yield self._seq[k]
            return
        self._queue = queue.Queue(maxsize=self._depth)
        self._thread = threading.Thread(target=self._read_all, name="semslam-read-ahead", daemon=True)
        self._thread.start()
        for _ in range(len(self._seq)):
            k, frame, exc = self._queue.get()
            if exc is not None:
                raise exc
            yield frame

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
