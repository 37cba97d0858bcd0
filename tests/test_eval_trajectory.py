"""Trajectory metrics (semslam.eval.trajectory): ATE / RPE numbers against closed-form expectations,
timestamp association, run folders, and agreement with evo's own file reader and command line."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import semslam.datasets
from semslam.config import Config, EvalConfig
from semslam.errors import EvaluationError, TrajectoryFormatError
from semslam.eval import evaluate_files, evaluate_run, evaluate_trajectory, format_table, load_ground_truth_for_run
from semslam.io.trajectory import read_tum_trajectory, write_tum_trajectory

FPS = 30.0
DESK_9 = "tum/rgbd_dataset_freiburg1_desk_9frames"
TEDDY = "tum/rgbd_dataset_freiburg3_teddy_first200"


def smooth_trajectory(seconds: float = 20.0, fps: float = FPS, t0: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """A hand-held-like camera path: (timestamps (N,) s at `fps`, T_world_cam (N,4,4)).

    An ellipse of 2 m x 1.2 m with a vertical wave (so positions are never collinear), the camera
    yawing along the path and nodding a few degrees.
    """
    n = int(round(seconds * fps))
    stamps = t0 + np.arange(n) / fps
    phase = 2 * np.pi * (stamps - t0) / seconds
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, 3] = np.stack([1.0 * np.cos(phase), 0.6 * np.sin(phase), 1.5 + 0.2 * np.sin(3 * phase)], axis=1)
    euler = np.stack([phase + np.pi / 2, 0.1 * np.sin(2 * phase), 0.05 * np.cos(5 * phase)], axis=1)
    poses[:, :3, :3] = Rotation.from_euler("zyx", euler).as_matrix()
    return stamps, poses


def random_rigid(rng: np.random.Generator) -> np.ndarray:
    """A random SE(3) transform: uniform rotation, translation of a few metres."""
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
    T[:3, 3] = rng.uniform(-5.0, 5.0, 3)
    return T


def rotate_by_fixed_angle(poses: np.ndarray, angle_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Each pose right-multiplied by a rotation of exactly `angle_deg` about a random axis."""
    axes = rng.normal(size=(len(poses), 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    out = poses.copy()
    out[:, :3, :3] = poses[:, :3, :3] @ Rotation.from_rotvec(axes * np.deg2rad(angle_deg)).as_matrix()
    return out


# --- closed-form numbers -------------------------------------------------------------------------


def test_rigidly_moved_copy_has_zero_error_and_the_inverse_alignment():
    stamps, gt = smooth_trajectory()
    T_est_gt = random_rigid(np.random.default_rng(1))
    est = T_est_gt @ gt  # the same trajectory expressed in another world frame

    result = evaluate_trajectory(stamps, est, stamps, gt)

    assert result["ate"]["rmse"] < 1e-9
    assert result["ate"]["max"] < 1e-9
    for key in ("translation_per_frame", "translation_per_second"):
        assert result["rpe"][key]["rmse"] < 1e-9
    for key in ("rotation_per_frame", "rotation_per_second"):
        assert result["rpe"][key]["rmse"] < 1e-6  # degrees
    np.testing.assert_allclose(result["alignment"]["T_gt_est"], np.linalg.inv(T_est_gt), atol=1e-9)
    assert result["alignment"] == {**result["alignment"], "method": "se3", "scale": 1.0}
    m = result["matching"]
    assert (m["num_matched"], m["num_unmatched_estimated"], m["num_estimated"]) == (600, 0, 600)
    assert result["time"]["span_s"] == pytest.approx(599 / FPS)
    assert result["rpe"]["translation_per_frame"]["count"] == 599
    assert result["rpe"]["translation_per_second"]["count"] == 600 - 30  # every pose with one 1 s later
    json.dumps(result)  # plain Python values only

    unaligned = evaluate_trajectory(stamps, est, stamps, gt, EvalConfig(alignment="none"))
    assert unaligned["ate"]["rmse"] > 0.5  # the world frames differ by metres
    assert unaligned["rpe"]["translation_per_frame"]["rmse"] < 1e-9  # RPE ignores the world frame


def test_gaussian_position_noise_gives_sqrt3_sigma_ate_and_sqrt6_sigma_rpe():
    sigma = 0.01  # m per axis
    stamps, gt = smooth_trajectory(seconds=60.0)
    est = gt.copy()
    est[:, :3, 3] += np.random.default_rng(2).normal(0.0, sigma, (len(gt), 3))

    result = evaluate_trajectory(stamps, est, stamps, gt)

    assert result["ate"]["rmse"] == pytest.approx(math.sqrt(3) * sigma, rel=0.1)
    # the relative translation of two poses carries the noise of both: sqrt(2) * sqrt(3) sigma
    assert result["rpe"]["translation_per_frame"]["rmse"] == pytest.approx(math.sqrt(6) * sigma, rel=0.1)
    assert result["rpe"]["translation_per_second"]["rmse"] == pytest.approx(math.sqrt(6) * sigma, rel=0.1)
    assert result["rpe"]["rotation_per_frame"]["rmse"] < 1e-6


def test_linear_drift_of_1cm_per_second_is_the_rpe_per_second():
    drift = 0.01  # m/s along world x
    stamps, gt = smooth_trajectory()
    est = gt.copy()
    est[:, 0, 3] += drift * (stamps - stamps[0])

    result = evaluate_trajectory(stamps, est, stamps, gt)

    per_second = result["rpe"]["translation_per_second"]
    assert per_second["min"] == pytest.approx(drift, abs=1e-9)
    assert per_second["max"] == pytest.approx(drift, abs=1e-9)
    assert result["rpe"]["translation_per_frame"]["rmse"] == pytest.approx(drift / FPS, abs=1e-9)
    assert result["rpe"]["rotation_per_second"]["max"] < 1e-6
    # a 2 s hole in the estimate drops the pairs that would end in it rather than stretching them
    # (with a tolerance under one frame period; the default 10 % would also take 0.9 s pairs)
    holed = np.r_[0:300, 360:len(stamps)]
    strict = EvalConfig(rpe_delta_tolerance=0.02)
    with_hole = evaluate_trajectory(stamps[holed], est[holed], stamps, gt, strict)["rpe"]["translation_per_second"]
    assert with_hole["min"] == pytest.approx(drift, abs=1e-9)
    assert with_hole["max"] == pytest.approx(drift, abs=1e-9)
    assert with_hole["count"] == 540 - 60
    # without alignment the ATE is the RMS of the drift itself
    unaligned = evaluate_trajectory(stamps, est, stamps, gt, EvalConfig(alignment="none"))
    expected = drift * math.sqrt(np.mean((stamps - stamps[0]) ** 2))
    assert unaligned["ate"]["rmse"] == pytest.approx(expected, rel=1e-9)
    assert 0 < result["ate"]["rmse"] < unaligned["ate"]["rmse"]  # alignment absorbs part of it


def test_sim3_alignment_recovers_the_scale():
    stamps, gt = smooth_trajectory()
    T = random_rigid(np.random.default_rng(3))
    est = T @ gt
    est[:, :3, 3] *= 0.5  # a trajectory at half scale

    result = evaluate_trajectory(stamps, est, stamps, gt, EvalConfig(alignment="sim3"))

    assert result["alignment"]["scale"] == pytest.approx(2.0, rel=1e-9)
    assert result["ate"]["rmse"] < 1e-9
    assert evaluate_trajectory(stamps, est, stamps, gt)["ate"]["rmse"] > 0.1  # se3 cannot undo the scale


# --- timestamp association -----------------------------------------------------------------------


def test_association_within_max_difference_only():
    gt_stamps, gt = smooth_trajectory(fps=10.0)  # ground truth every 100 ms

    near = evaluate_trajectory(gt_stamps + 0.005, gt, gt_stamps, gt)
    assert near["matching"]["num_matched"] == len(gt)
    assert near["matching"]["largest_difference_s"] == pytest.approx(0.005, abs=1e-6)
    assert near["ate"]["rmse"] < 1e-9

    with pytest.raises(EvaluationError, match=r"no estimated pose has ground truth within max_difference 0\.02 s"):
        evaluate_trajectory(gt_stamps + 0.05, gt, gt_stamps, gt)  # 50 ms from both neighbours
    wide = evaluate_trajectory(gt_stamps + 0.05, gt, gt_stamps, gt, EvalConfig(max_difference=0.06))
    assert wide["matching"]["num_matched"] == len(gt)


def test_estimated_poses_outside_the_ground_truth_are_counted_not_evaluated():
    stamps, gt = smooth_trajectory()
    est = gt.copy()
    est[-100:, :3, 3] += 5.0  # wild poses, but the ground truth ends before them
    shuffled = np.random.default_rng(4).permutation(len(stamps))

    result = evaluate_trajectory(stamps[shuffled], est[shuffled], stamps[:-100], gt[:-100])

    assert result["matching"]["num_matched"] == len(stamps) - 100
    assert result["matching"]["num_unmatched_estimated"] == 100
    assert result["ate"]["rmse"] < 1e-9
    assert result["time"]["end_s"] == pytest.approx(stamps[-101])


def test_too_few_or_degenerate_poses_are_errors():
    stamps, gt = smooth_trajectory()
    with pytest.raises(EvaluationError, match="need at least 3"):
        evaluate_trajectory(stamps[:2], gt[:2], stamps, gt)
    line = np.tile(np.eye(4), (50, 1, 1))
    line[:, 0, 3] = np.linspace(0.0, 1.0, 50)  # a straight line leaves the roll about it unknown
    with pytest.raises(EvaluationError, match="collinear"):
        evaluate_trajectory(stamps[:50], line, stamps[:50], line)
    assert evaluate_trajectory(stamps[:50], line, stamps[:50], line, EvalConfig(alignment="none"))["ate"]["rmse"] == 0
    with pytest.raises(ValueError, match=r"\(N,4,4\)"):
        evaluate_trajectory(stamps, gt[:, :3], stamps, gt)


# --- real data -----------------------------------------------------------------------------------


def test_teddy_ground_truth_against_itself_perturbed(shared_data):
    gt_stamps, gt = read_tum_trajectory(shared_data / TEDDY / "groundtruth.txt")
    rng = np.random.default_rng(5)
    sigma, angle = 0.01, 1.0  # m per axis; degrees per pose
    est = rotate_by_fixed_angle(gt, angle, rng)
    est[:, :3, 3] += rng.normal(0.0, sigma, (len(gt), 3))
    est = random_rigid(rng) @ est

    result = evaluate_trajectory(gt_stamps, est, gt_stamps, gt)

    assert result["matching"]["num_matched"] == len(gt) == 723
    assert result["time"]["span_s"] == pytest.approx(gt_stamps[-1] - gt_stamps[0])
    assert result["ate"]["rmse"] == pytest.approx(math.sqrt(3) * sigma, rel=0.1)
    assert result["rpe"]["translation_per_frame"]["rmse"] == pytest.approx(math.sqrt(6) * sigma, rel=0.1)
    # two independent rotations of `angle` about random axes compose to sqrt(2) * angle in RMS
    for key in ("rotation_per_frame", "rotation_per_second"):
        assert result["rpe"][key]["rmse"] == pytest.approx(math.sqrt(2) * angle, rel=0.1)
        assert result["rpe"][key]["max"] <= 2 * angle + 1e-9


def _make_run(run_dir: Path, sequence_path: Path, stamps: np.ndarray, poses: np.ndarray) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {"dataset": {"path": str(sequence_path), "format": "tum"}, "frames": len(stamps)}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    write_tum_trajectory(run_dir / "trajectory.txt", stamps, poses)


def test_evaluate_run_on_desk_writes_eval_json(shared_data, tmp_path):
    sequence_path = shared_data / DESK_9
    gt_stamps, gt = semslam.datasets.open(sequence_path).ground_truth_poses()
    offset = np.array([0.02, 0.0, 0.0])  # m, the same for every pose: a rigid shift of the world
    est = gt.copy()
    est[:, :3, 3] += offset
    run_dir = tmp_path / "run"
    _make_run(run_dir, sequence_path, gt_stamps, est)

    result = evaluate_run(run_dir)

    assert json.loads((run_dir / "eval.json").read_text()) == result
    assert result["matching"]["num_matched"] == len(gt) == 9
    assert result["ate"]["rmse"] < 1e-6  # 9-decimal files; the shift is undone by the alignment
    np.testing.assert_allclose(np.array(result["alignment"]["T_gt_est"])[:3, 3], -offset, atol=1e-6)
    assert result["rpe"]["translation_per_frame"]["rmse"] < 1e-6
    assert result["rpe"]["translation_per_second"] is None  # 9 frames span 0.27 s
    assert str(sequence_path) in result["ground_truth"]
    written_stamps, written_gt = read_tum_trajectory(run_dir / "groundtruth.txt")
    np.testing.assert_allclose(written_stamps, gt_stamps, atol=1e-6)
    np.testing.assert_allclose(written_gt, gt, atol=1e-6)

    unaligned = evaluate_run(run_dir, config=EvalConfig(alignment="none"))
    assert unaligned["ate"]["rmse"] == pytest.approx(0.02, abs=1e-6)
    assert unaligned["ate"]["std"] < 1e-6
    assert json.loads((run_dir / "eval.json").read_text())["alignment"]["method"] == "none"

    table = format_table(unaligned)
    assert re.search(r"ATE \[cm\]\s+2\.000\s", table)
    assert "matched       9 of 9 estimated poses" in table
    assert "n/a" in table and "no matched poses 1 s apart" in table


def test_evaluate_run_with_an_explicit_ground_truth_file(shared_data, tmp_path):
    gt_file = shared_data / TEDDY / "groundtruth.txt"
    gt_stamps, gt = read_tum_trajectory(gt_file)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_tum_trajectory(run_dir / "trajectory.txt", gt_stamps[::3], gt[::3])  # and no summary.json

    result = evaluate_run(run_dir, gt_path=gt_file)

    assert result["ground_truth"] == str(gt_file)
    assert result["matching"]["num_matched"] == len(gt_stamps[::3])
    assert result["ate"]["rmse"] < 1e-6
    assert not (run_dir / "groundtruth.txt").exists()


def test_run_folder_errors_name_the_file(shared_data, tmp_path):
    sequence_path = shared_data / DESK_9
    gt_stamps, gt = semslam.datasets.open(sequence_path).ground_truth_poses()

    with pytest.raises(EvaluationError, match="does not exist"):
        evaluate_run(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EvaluationError, match=r"empty/trajectory\.txt not found"):
        evaluate_run(empty)
    write_tum_trajectory(empty / "trajectory.txt", gt_stamps, gt)
    with pytest.raises(EvaluationError, match=r"empty/summary\.json not found"):
        evaluate_run(empty)
    (empty / "summary.json").write_text(json.dumps({"frames": 9}))
    with pytest.raises(EvaluationError, match=r"summary\.json names no dataset"):
        evaluate_run(empty)

    late = tmp_path / "late"
    _make_run(late, sequence_path, gt_stamps + 100.0, gt)  # no estimated time near the ground truth
    with pytest.raises(EvaluationError, match=r"late/trajectory\.txt against tum sequence .* no estimated pose"):
        evaluate_run(late)
    assert not (late / "eval.json").exists()

    no_gt_sequence = tmp_path / "no_gt_sequence"  # the desk frames without groundtruth.txt
    no_gt_sequence.mkdir()
    for name in ("rgb", "depth"):
        (no_gt_sequence / name).symlink_to(sequence_path / name)
    for name in ("rgb.txt", "depth.txt"):
        (no_gt_sequence / name).write_text((sequence_path / name).read_text())
    orphan = tmp_path / "orphan"
    _make_run(orphan, no_gt_sequence, gt_stamps, gt)
    with pytest.raises(EvaluationError, match=r"orphan/summary\.json: dataset .*no_gt_sequence .* no ground-truth"):
        load_ground_truth_for_run(orphan)

    (late / "trajectory.txt").write_text("1.0 2.0 3.0\n")
    with pytest.raises(TrajectoryFormatError, match=r"trajectory\.txt, line 1"):
        evaluate_run(late)


def test_evaluate_files_names_both_files_on_no_overlap(tmp_path):
    stamps, gt = smooth_trajectory()
    write_tum_trajectory(tmp_path / "gt.txt", stamps, gt)
    write_tum_trajectory(tmp_path / "est.txt", stamps + 1000.0, gt)
    with pytest.raises(EvaluationError, match=r"est\.txt against .*gt\.txt: no estimated pose"):
        evaluate_files(tmp_path / "est.txt", tmp_path / "gt.txt")


def test_eval_defaults_live_in_the_config():
    cfg = Config().eval
    assert (cfg.max_difference, cfg.alignment, cfg.rpe_delta_frames, cfg.rpe_delta_seconds) == (0.02, "se3", 1, 1.0)


# --- agreement with evo's own tools --------------------------------------------------------------


def test_our_files_are_read_by_evo_and_evo_ape_agrees(tmp_path):
    from evo.tools import file_interface

    stamps, gt = smooth_trajectory(seconds=10.0)
    rng = np.random.default_rng(6)
    est = random_rigid(rng) @ gt
    est[:, :3, 3] += rng.normal(0.0, 0.01, (len(gt), 3))
    gt_file, est_file = tmp_path / "gt.txt", tmp_path / "trajectory.txt"
    write_tum_trajectory(gt_file, stamps, gt)
    write_tum_trajectory(est_file, stamps, est)

    evo_traj = file_interface.read_tum_trajectory_file(str(est_file))
    np.testing.assert_allclose(evo_traj.timestamps, stamps, atol=1e-6)
    np.testing.assert_allclose(np.array(evo_traj.poses_se3), est, atol=1e-8)

    ours = evaluate_files(est_file, gt_file)
    evo_ape = Path(sys.executable).with_name("evo_ape")
    if not evo_ape.exists():
        pytest.skip(f"evo's command-line tool not found at {evo_ape}")
    env = {**os.environ, "HOME": str(tmp_path), "MPLBACKEND": "Agg"}  # evo writes ~/.evo/settings.json
    done = subprocess.run(
        [str(evo_ape), "tum", str(gt_file), str(est_file), "-a"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    evo_rmse = float(re.search(r"rmse\s+([0-9.eE+-]+)", done.stdout).group(1))
    assert evo_rmse == pytest.approx(ours["ate"]["rmse"], abs=1e-6)
