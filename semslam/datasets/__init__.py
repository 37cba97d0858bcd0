"""Recorded RGB-D sequences: one lazy `Sequence` API over TUM RGB-D, semslam synthetic, ICL-NUIM,
7-Scenes and ScanNet folders. `open(path)` detects the format; `describe(seq)` summarises one."""

from .base import Sequence, describe
from .detect import FORMATS, detect_format, open
from .frame import Frame, Intrinsics

__all__ = ["FORMATS", "Frame", "Intrinsics", "Sequence", "describe", "detect_format", "open"]
