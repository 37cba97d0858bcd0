"""Semantic label fusion: the asynchronous segmentation scheduler and the per-frame fusion step
(recursive Bayesian label updates and the map CRF run in the core)."""

from .fusion import LabelFusion, SegmentedFrame, crf_parameters
from .scheduler import SegmentationJob, SegmentationResult, SegmentationWorker, SegmentationWorkerError

__all__ = [
    "LabelFusion",
    "SegmentationJob",
    "SegmentationResult",
    "SegmentationWorker",
    "SegmentationWorkerError",
    "SegmentedFrame",
    "crf_parameters",
]
