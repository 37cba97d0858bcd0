"""Work beside the mapping loop that must not slow it down: the segmentation workers. On two cores, a helper that merely shares the CPU fairly with tracking holds up each of
tracking's OpenMP regions at its barrier whenever it has the core of one of the region's threads.
Under SCHED_IDLE (Linux) it runs only on CPU time nothing else wants, and a woken tracking thread
takes its core back at once.

(The frame reader stays at the loop's priority: on two cores pinned on an H200 host's Xeon, fr3/teddy
84 frames, 3 runs each, the loop ran at 8.45 frames/s with an idle-priority reader and 8.43 with a
normal one — the loop has too little idle time to decode in, so it waited for frames as long as the
reader had held its OpenMP regions up — and a normal reader is not starved by an idle worker.)"""

from __future__ import annotations

import os


def lower_this_thread(nice: int = 10, idle: bool = True) -> str:
    """Put the calling thread, and the threads it starts from now on, below the mapping loop:
    SCHED_IDLE when `idle` (Linux), else (or where refused) `nice` more. Linux sets both per
    thread. Returns what was done: "idle", "nice+N" or "unchanged"."""
    if idle and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "idle"
        except OSError:
            pass
    if nice and hasattr(os, "nice"):
        try:
            os.nice(int(nice))
            return f"nice+{int(nice)}"
        except OSError:
            pass
    return "unchanged"
