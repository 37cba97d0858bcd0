"""Evaluation of runs against ground truth: trajectory metrics (ATE, RPE through evo); semantic
metrics and reports are added alongside."""

from .trajectory import (
    GroundTruth,
    evaluate_files,
    evaluate_run,
    evaluate_trajectory,
    format_table,
    load_ground_truth_for_run,
)

__all__ = [
    "GroundTruth",
    "evaluate_files",
    "evaluate_run",
    "evaluate_trajectory",
    "format_table",
    "load_ground_truth_for_run",
]
