"""Named per-stage timers (ElasticFusion's Stopwatch idea): `with timers("track"): ...` records
wall-clock milliseconds per call; disabled timers cost one attribute check."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

import numpy as np


class StageTimers:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._ms: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._ms[stage].append((time.perf_counter() - t0) * 1e3)

    def record(self, stage: str, ms: float) -> None:
        """Add a measurement taken elsewhere (milliseconds)."""
        if self.enabled:
            self._ms[stage].append(ms)

    def last(self, stage: str) -> float:
        """Milliseconds of the latest call of `stage` (0 if none)."""
        values = self._ms.get(stage)
        return values[-1] if values else 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: calls, mean/median/p95/max milliseconds, total seconds."""
        out = {}
        for stage, values in self._ms.items():
            a = np.asarray(values)
            out[stage] = {
                "calls": int(a.size),
                "mean_ms": float(a.mean()),
                "median_ms": float(np.median(a)),
                "p95_ms": float(np.percentile(a, 95)),
                "max_ms": float(a.max()),
                "total_s": float(a.sum() / 1e3),
            }
        return out
