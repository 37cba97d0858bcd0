"""Trajectory accuracy against ground truth, computed with evo: ATE and RPE.

Poses are 4x4 float64 `T_world_cam` (camera-to-world), timestamps float64 seconds, as in
semslam.io.trajectory. Each estimated pose is matched with the ground-truth pose nearest in time
within `EvalConfig.max_difference` (evo's nearest-time association). The estimate is aligned onto
the ground truth with Umeyama's method (rigid SE(3) by default, as `evo_ape -a`); then

- ATE: the translation part of the absolute pose error per matched pose, metres;
- RPE per frame / per second: the relative pose error over pairs of matched poses
  `rpe_delta_frames` apart / `rpe_delta_seconds` apart, translation (metres) and rotation
  (degrees), as in the TUM RGB-D benchmark (Sturm et al., IROS 2012). RPE does not depend on the
  rigid alignment.

Results are plain dicts of Python floats, ints, lists and strings (JSON-serialisable);
`evaluate_run` writes one as `eval.json` into a run folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
from evo import EvoException
from evo.core import lie_algebra, metrics, sync
from evo.core.metrics import PoseRelation, Unit
from evo.core.trajectory import PoseTrajectory3D

from .. import datasets
from ..config import EvalConfig
from ..errors import EvaluationError, SemslamError
from ..io.atomic import write_json_atomic
from ..io.trajectory import read_tum_trajectory, write_tum_trajectory

# What `semslam run --out DIR` writes and what evaluation adds to it.
TRAJECTORY_FILE = "trajectory.txt"
SUMMARY_FILE = "summary.json"
GROUND_TRUTH_FILE = "groundtruth.txt"
EVAL_FILE = "eval.json"

_MIN_POSES_TO_ALIGN = 3  # Umeyama needs 3 non-collinear positions to fix a rotation
_STAMP_SLACK_S = 1e-6  # s; TUM files store times to the microsecond

# evo logs progress at INFO and a few notices at WARNING; our reports say what matters.
logging.getLogger("evo").setLevel(logging.ERROR)


class GroundTruth(NamedTuple):
    """Ground-truth poses: timestamps (M,) s, T_world_cam (M,4,4) float64, and where they came from."""

    timestamps: np.ndarray
    T_world_cam: np.ndarray
    source: str


def evaluate_trajectory(
    est_stamps: np.ndarray,
    est_poses: np.ndarray,
    gt_stamps: np.ndarray,
    gt_poses: np.ndarray,
    config: EvalConfig | None = None,
) -> dict:
    """ATE and RPE of an estimated trajectory against ground truth.

    est_stamps (N,) s and est_poses (N,4,4) T_world_cam; gt_stamps (M,) s and gt_poses (M,4,4).
    Either may be in any time order. Returns a dict:

    - "ate": {"rmse", "mean", "median", "std", "min", "max"} metres, "count" poses;
    - "rpe": {"translation_per_frame", "rotation_per_frame", "translation_per_second",
      "rotation_per_second"}: each the same statistics (metres or degrees) with "count" pairs,
      "delta" and "unit", or None when no pair of matched poses is that far apart;
    - "matching": num_estimated, num_ground_truth, num_matched, num_unmatched_estimated (estimated
      poses with no ground truth within max_difference), max_difference_s, largest_difference_s;
    - "alignment": method, T_gt_est (4x4 list: x_gt = scale * R x_est + t), scale;
    - "time": start_s, end_s, span_s of the matched estimated poses;
    - "config": the EvalConfig used.

    Raises ValueError for arrays of the wrong shape or non-finite values, EvaluationError when no
    estimated pose has ground truth within max_difference, when too few match to align (3) or to
    form one RPE pair (2), or when the matched positions are degenerate for alignment.
    """
    cfg = config or EvalConfig()
    est_stamps, est_poses = _checked_trajectory(est_stamps, est_poses, "estimated")
    gt_stamps, gt_poses = _checked_trajectory(gt_stamps, gt_poses, "ground-truth")
    if len(est_stamps) == 0 or len(gt_stamps) == 0:
        raise EvaluationError(
            f"nothing to evaluate: {len(est_stamps)} estimated and {len(gt_stamps)} ground-truth poses"
        )

    # The matching step of evo's associate_trajectories, called from the estimate's side so that every
    # estimated pose is either evaluated against its nearest ground truth or counted as unmatched.
    est_idx, gt_idx = sync.matching_time_indices(est_stamps, gt_stamps, cfg.max_difference)
    if not est_idx:
        raise EvaluationError(
            f"no estimated pose has ground truth within max_difference {cfg.max_difference} s: "
            f"estimate {_span_text(est_stamps)}, ground truth {_span_text(gt_stamps)}"
        )
    needed = 2 if cfg.alignment == "none" else _MIN_POSES_TO_ALIGN
    if len(est_idx) < needed:
        raise EvaluationError(
            f"only {len(est_idx)} estimated pose(s) have ground truth within {cfg.max_difference} s; "
            f"need at least {needed} (alignment {cfg.alignment!r})"
        )

    traj_gt = PoseTrajectory3D(poses_se3=list(gt_poses[gt_idx]), timestamps=gt_stamps[gt_idx])
    traj_est = PoseTrajectory3D(poses_se3=list(est_poses[est_idx]), timestamps=est_stamps[est_idx])
    alignment = _align(traj_est, traj_gt, cfg.alignment)

    ape = metrics.APE(PoseRelation.translation_part)
    ape.process_data((traj_gt, traj_est))
    matched_stamps = traj_est.timestamps

    return {
        "ate": {**_statistics(ape.error), "unit": "m"},
        "rpe": {
            "translation_per_frame": _rpe_frames(traj_gt, traj_est, cfg.rpe_delta_frames, PoseRelation.translation_part),
            "rotation_per_frame": _rpe_frames(traj_gt, traj_est, cfg.rpe_delta_frames, PoseRelation.rotation_angle_deg),
            **_rpe_seconds(traj_gt, traj_est, cfg.rpe_delta_seconds, cfg.rpe_delta_tolerance),
        },
        "matching": {
            "num_estimated": len(est_stamps),
            "num_ground_truth": len(gt_stamps),
            "num_matched": len(est_idx),
            "num_unmatched_estimated": len(est_stamps) - len(est_idx),
            "max_difference_s": float(cfg.max_difference),
            "largest_difference_s": float(np.max(np.abs(est_stamps[est_idx] - gt_stamps[gt_idx]))),
        },
        "alignment": alignment,
        "time": {
            "start_s": float(matched_stamps[0]),
            "end_s": float(matched_stamps[-1]),
            "span_s": float(matched_stamps[-1] - matched_stamps[0]),
        },
        "config": cfg.model_dump(),
    }


def evaluate_files(est_path: str | Path, gt_path: str | Path, config: EvalConfig | None = None) -> dict:
    """`evaluate_trajectory` of two TUM trajectory files (estimate, ground truth).

    The result also names both files ("estimate", "ground_truth"). Raises TrajectoryFormatError for
    a malformed or unreadable file, EvaluationError (naming both files) when they cannot be compared.
    """
    est_path, gt_path = Path(est_path), Path(gt_path)
    est_stamps, est_poses = read_tum_trajectory(est_path)
    gt_stamps, gt_poses = read_tum_trajectory(gt_path)
    try:
        result = evaluate_trajectory(est_stamps, est_poses, gt_stamps, gt_poses, config)
    except EvaluationError as exc:
        raise EvaluationError(f"{est_path} against {gt_path}: {exc}") from None
    return {"estimate": str(est_path), "ground_truth": str(gt_path), **result}


def load_ground_truth_for_run(run_dir: str | Path) -> GroundTruth:
    """The ground truth of the sequence a run folder was made from.

    Reads `summary.json` in `run_dir` (written by `semslam run --out DIR`): its "dataset" entry
    holds "path" (the sequence folder; absolute, or relative to the run folder or else to the
    working directory) and optionally "format". Opens that sequence with semslam.datasets and
    returns its ground-truth poses at the frame timestamps. Raises EvaluationError naming the file
    when summary.json is missing or malformed, has no dataset path, the sequence cannot be opened,
    or it has no ground truth.
    """
    run_dir = Path(run_dir)
    summary_path = run_dir / SUMMARY_FILE
    try:
        summary = json.loads(summary_path.read_text())
    except FileNotFoundError:
        raise EvaluationError(
            f"{summary_path} not found: is {run_dir} a folder written by `semslam run --out`? "
            "(or give the ground truth with --gt FILE)"
        ) from None
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"cannot read {summary_path}: {exc}") from None
    dataset = summary.get("dataset") if isinstance(summary, dict) else None
    if not isinstance(dataset, dict) or not isinstance(dataset.get("path"), str) or not dataset["path"]:
        raise EvaluationError(
            f"{summary_path} names no dataset (expected \"dataset\": {{\"path\": ...}}); "
            "give the ground truth with --gt FILE"
        )
    sequence_path = Path(dataset["path"])
    if not sequence_path.is_absolute() and (run_dir / sequence_path).exists():
        sequence_path = run_dir / sequence_path
    try:
        sequence = datasets.open(sequence_path, format=dataset.get("format"))
    except SemslamError as exc:
        raise EvaluationError(f"{summary_path}: cannot open dataset {sequence_path}: {exc}") from None
    stamps, poses = sequence.ground_truth_poses()
    if len(stamps) == 0:
        raise EvaluationError(
            f"{summary_path}: dataset {sequence_path} ({sequence.format}) has no ground-truth poses; "
            "give them with --gt FILE"
        )
    return GroundTruth(stamps, poses, f"{sequence.format} sequence {sequence_path}")


def evaluate_run(run_dir: str | Path, gt_path: str | Path | None = None, config: EvalConfig | None = None) -> dict:
    """Evaluate the `trajectory.txt` of a run folder and write the result as `eval.json` there.

    Ground truth comes from `gt_path` (a TUM file) when given, else from the run's dataset
    (`load_ground_truth_for_run`), which is then also written as `groundtruth.txt` in the run
    folder so that evo's own tools can repeat the comparison. Files are written atomically.
    Returns the result of `evaluate_trajectory` plus "estimate" and "ground_truth" (descriptions).
    Raises EvaluationError naming the file at fault (no trajectory, no ground truth, no overlap)
    and TrajectoryFormatError for a malformed trajectory file.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise EvaluationError(f"run folder {run_dir} does not exist")
    est_path = run_dir / TRAJECTORY_FILE
    if not est_path.is_file():
        raise EvaluationError(f"{est_path} not found: the run wrote no trajectory")
    est_stamps, est_poses = read_tum_trajectory(est_path)
    if gt_path is not None:
        gt_stamps, gt_poses = read_tum_trajectory(gt_path)
        gt_source = str(gt_path)
    else:
        gt_stamps, gt_poses, gt_source = load_ground_truth_for_run(run_dir)
        write_tum_trajectory(run_dir / GROUND_TRUTH_FILE, gt_stamps, gt_poses)
    try:
        result = evaluate_trajectory(est_stamps, est_poses, gt_stamps, gt_poses, config)
    except EvaluationError as exc:
        raise EvaluationError(f"{est_path} against {gt_source}: {exc}") from None
    result = {"estimate": str(est_path), "ground_truth": gt_source, **result}
    write_json_atomic(run_dir / EVAL_FILE, result)
    return result


def format_table(result: dict) -> str:
    """A readable table of an evaluation result: ATE and RPE translation in cm, rotation in degrees."""
    m = result["matching"]
    lines = []
    if "estimate" in result:
        lines += [f"estimate      {result['estimate']}", f"ground truth  {result['ground_truth']}"]
    lines += [
        f"matched       {m['num_matched']} of {m['num_estimated']} estimated poses "
        f"({m['num_unmatched_estimated']} without ground truth within {m['max_difference_s'] * 1000:g} ms), "
        f"{result['time']['span_s']:.2f} s",
        f"alignment     {result['alignment']['method']}"
        + (f" (scale {result['alignment']['scale']:.4f})" if result["alignment"]["method"] == "sim3" else ""),
        "",
        f"{'metric':<28}{'rmse':>9}{'mean':>9}{'median':>9}{'std':>9}{'max':>9}{'count':>7}",
    ]

    def row(name: str, stats: dict | None, factor: float, why_missing: str = "") -> str:
        if stats is None:
            return f"{name:<28}{'n/a':>9}  {why_missing}"
        values = "".join(f"{stats[k] * factor:>9.3f}" for k in ("rmse", "mean", "median", "std", "max"))
        return f"{name:<28}{values}{stats['count']:>7}"

    rpe = result["rpe"]
    cfg = result["config"]
    frames = f"{cfg['rpe_delta_frames']} frame" + ("s" if cfg["rpe_delta_frames"] != 1 else "")
    seconds = f"{cfg['rpe_delta_seconds']:g} s"
    too_short = f"(no matched poses {seconds} apart)"
    lines += [
        row("ATE [cm]", result["ate"], 100.0),
        row(f"RPE trans / {frames} [cm]", rpe["translation_per_frame"], 100.0),
        row(f"RPE rot / {frames} [deg]", rpe["rotation_per_frame"], 1.0),
        row(f"RPE trans / {seconds} [cm]", rpe["translation_per_second"], 100.0, too_short),
        row(f"RPE rot / {seconds} [deg]", rpe["rotation_per_second"], 1.0, too_short),
    ]
    return "\n".join(lines)


def _checked_trajectory(stamps: np.ndarray, poses: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Stamps (N,) and poses (N,4,4) as float64, sorted by time (stable)."""
    stamps = np.asarray(stamps, dtype=np.float64)
    poses = np.asarray(poses, dtype=np.float64)
    if stamps.ndim != 1 or poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) != len(stamps):
        raise ValueError(f"{what} trajectory: need timestamps (N,) and poses (N,4,4); got {stamps.shape} and {poses.shape}")
    if not np.all(np.isfinite(stamps)) or not np.all(np.isfinite(poses)):
        raise ValueError(f"{what} trajectory: timestamps and poses must be finite")
    order = np.argsort(stamps, kind="stable")
    return stamps[order], poses[order]


def _span_text(stamps: np.ndarray) -> str:
    return f"{len(stamps)} poses over [{stamps[0]:.3f}, {stamps[-1]:.3f}] s"


def _align(traj_est: PoseTrajectory3D, traj_gt: PoseTrajectory3D, method: str) -> dict:
    """Align traj_est onto traj_gt in place; the transform as {"method", "T_gt_est", "scale"}."""
    if method == "none":
        return {"method": "none", "T_gt_est": np.eye(4).tolist(), "scale": 1.0}
    try:
        R, t, scale = traj_est.align(traj_gt, correct_scale=method == "sim3")
    except EvoException as exc:
        raise EvaluationError(
            f"cannot align the estimate onto the ground truth ({exc}): the matched positions are "
            "collinear or coincide; use alignment 'none'"
        ) from None
    return {"method": method, "T_gt_est": lie_algebra.se3(R, t).tolist(), "scale": float(scale)}


def _statistics(errors: np.ndarray) -> dict:
    """rmse, mean, median, std (population), min, max of per-pose or per-pair errors, and count."""
    errors = np.asarray(errors, dtype=np.float64)
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mean": float(np.mean(errors)),
        "median": float(np.median(errors)),
        "std": float(np.std(errors)),
        "min": float(np.min(errors)),
        "max": float(np.max(errors)),
        "count": int(errors.size),
    }


def _rpe_frames(
    traj_gt: PoseTrajectory3D, traj_est: PoseTrajectory3D, delta: int, relation: PoseRelation
) -> dict | None:
    """evo's RPE over every pair of matched poses `delta` apart in index; None when there is none."""
    if traj_est.num_poses <= delta:
        return None
    rpe = metrics.RPE(relation, delta=delta, delta_unit=Unit.frames, all_pairs=True)
    rpe.process_data((traj_gt, traj_est))
    unit = "deg" if relation == PoseRelation.rotation_angle_deg else "m"
    return {**_statistics(rpe.error), "unit": unit, "delta": delta, "delta_unit": "frames"}


def _rpe_seconds(
    traj_gt: PoseTrajectory3D, traj_est: PoseTrajectory3D, delta_s: float, tolerance: float
) -> dict:
    """RPE over pairs of matched poses `delta_s` seconds apart (translation m, rotation deg).

    evo's RPE steps in frames, metres or degrees, not seconds, so the pairs are chosen here as in
    the TUM benchmark's evaluate_rpe.py: for every matched pose i whose t_i + delta_s is not past
    the last matched pose, the pose j whose timestamp is nearest to t_i + delta_s, kept when it
    misses that by at most tolerance * delta_s (so a gap in the trajectory drops pairs instead of
    stretching them). The error of a pair is evo's `RPE.rpe_base`. Both entries are None when no
    pair qualifies.
    """
    stamps = traj_est.timestamps
    targets = stamps + delta_s
    j = np.clip(np.searchsorted(stamps, targets), 1, len(stamps) - 1)
    earlier_is_nearer = np.abs(stamps[j - 1] - targets) <= np.abs(stamps[j] - targets)
    j = np.where(earlier_is_nearer, j - 1, j)
    # Near the end the nearest pose is the last one, up to tolerance short of delta_s: skip those.
    inside = targets <= stamps[-1] + _STAMP_SLACK_S
    keep = inside & (np.abs(stamps[j] - targets) <= tolerance * delta_s) & (j > np.arange(len(stamps)))
    pairs = [(int(a), int(b)) for a, b in zip(np.flatnonzero(keep), j[keep])]
    if not pairs:
        return {"translation_per_second": None, "rotation_per_second": None}
    gt, est = traj_gt.poses_se3, traj_est.poses_se3
    E = [metrics.RPE.rpe_base(gt[a], gt[b], est[a], est[b]) for a, b in pairs]
    translation = np.array([np.linalg.norm(E_i[:3, 3]) for E_i in E])
    rotation = np.array([lie_algebra.so3_log_angle(E_i[:3, :3], degrees=True) for E_i in E])
    extra = {"delta": float(delta_s), "delta_unit": "s"}
    return {
        "translation_per_second": {**_statistics(translation), "unit": "m", **extra},
        "rotation_per_second": {**_statistics(rotation), "unit": "deg", **extra},
    }

