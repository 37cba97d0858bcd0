"""The whole SLAM loop: accuracy on synthetic and real sequences, the files a run writes, and
bad input (empty, NaN or resized frames, a one-frame sequence, Ctrl-C) handled without losing the map."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from semslam import datasets
from semslam.cli import _run_sequence
from semslam.config import Config
from semslam.eval import evaluate_run, evaluate_trajectory
from semslam.io.ply import read_ply
from semslam.pipeline import FrameSizeError, SemanticSLAM

DESK = "tum/rgbd_dataset_freiburg1_desk_9frames"


def ate(seq, result) -> float:
    gt_stamps, gt_poses = seq.ground_truth_poses()
    return evaluate_trajectory(result.timestamps, result.poses, gt_stamps, gt_poses)["ate"]["rmse"]


def test_synthetic_noise_free_orbit_is_tracked_to_millimetres(make_synthetic):
    seq = datasets.open(make_synthetic(frames=40, noise="none", width=640, height=480))
    slam = SemanticSLAM(Config())
    result = slam.run(seq)
    assert result.summary()["tracking_failures"] == 0
    assert ate(seq, result) < 0.005
    assert result.stable_surfels > 1000


def test_synthetic_kinect_noise_orbit(make_synthetic):
    seq = datasets.open(make_synthetic(frames=40, noise="kinect", width=640, height=480))
    result = SemanticSLAM(Config()).run(seq)
    assert result.summary()["tracking_failures"] == 0
    assert ate(seq, result) < 0.015


def test_tum_fr1_desk_tracks_without_failure(shared_data):
    seq = datasets.open(shared_data / DESK)
    result = SemanticSLAM(Config()).run(seq)
    assert result.summary()["tracking_failures"] == 0
    assert ate(seq, result) < 0.03


def test_run_writes_trajectory_map_and_summary(make_synthetic, tmp_path):
    o3d = pytest.importorskip("open3d")
    seq = datasets.open(make_synthetic(frames=40, noise="none", width=640, height=480))
    out = tmp_path / "run"
    summary = _run_sequence(seq, Config(), out, quiet=True)
    assert sorted(p.name for p in out.iterdir()) == ["map.npz", "map.ply", "summary.json", "trajectory.txt"]
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["frames"] == 40 and on_disk["tracking_failures"] == 0 and on_disk["stopped"] == ""
    for stage in ("read", "preprocess", "predict", "track", "fuse", "clean", "frame"):
        assert on_disk["stages_ms"][stage]["mean_ms"] > 0
    assert on_disk["bytes_per_surfel"] > 0 and on_disk["peak_rss_mb"] > 0
    assert on_disk["config"]["tracking"]["iterations"] == [10, 5, 4]
    assert on_disk["dataset"]["format"] == "semslam-synthetic"
    cloud = o3d.io.read_point_cloud(str(out / "map.ply"))
    assert len(cloud.points) == summary["stable_surfels"] == summary["map_ply_surfels"] > 1000
    assert cloud.has_normals() and cloud.has_colors()
    vertices, _ = read_ply(out / "map.ply")
    assert vertices.dtype.names == ("x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "radius", "confidence")
    assert np.all(vertices["confidence"] >= Config().map.confidence_threshold)
    assert evaluate_run(out)["ate"]["rmse"] < 0.005


class _Frames:
    """A sequence wrapper that alters chosen frames (or interrupts) to simulate bad input."""

    def __init__(self, seq, alter=None, interrupt_at=None):
        self.seq, self.alter, self.interrupt_at = seq, alter or {}, interrupt_at
        self.path, self.format, self.name = seq.path, seq.format, seq.name

    def __len__(self):
        return len(self.seq)

    def __getitem__(self, k):
        if k == self.interrupt_at:
            raise KeyboardInterrupt
        frame = self.seq[k]
        return self.alter[k](frame) if k in self.alter else frame


def _with_depth(frame, depth):
    return replace(frame, depth=depth.astype(np.float32))


def test_all_zero_depth_frame_is_a_reported_failure(shared_data):
    seq = datasets.open(shared_data / DESK)
    frames = _Frames(seq, alter={4: lambda f: _with_depth(f, np.zeros_like(f.depth))})
    slam = SemanticSLAM(Config())
    result = slam.run(frames[k] for k in range(len(frames)))
    failed = [s for s in result.statuses if not s.tracked]
    assert [s.index for s in failed] == [4]
    assert "inliers" in failed[0].reason and not failed[0].fused
    assert np.allclose(result.poses[4], result.poses[3])  # kept the last good pose
    assert ate(seq, result) < 0.03


def test_tracking_starts_from_the_last_motion(shared_data):
    """tracking.motion_model: constant_velocity starts each frame's tracking from the last tracked
    frame's motion (orthonormalised), from the last pose after a failure (the all-zero depth frame
    4) and when there is no motion yet; static always from the last pose."""
    seq = datasets.open(shared_data / DESK)
    frames = _Frames(seq, alter={4: lambda f: _with_depth(f, np.zeros_like(f.depth))})
    for model in ("constant_velocity", "static"):
        config = Config()
        config.tracking.motion_model = model
        slam = SemanticSLAM(config)
        starts, results = [], []
        for k in range(len(frames)):
            slam.process(frames[k])
            if k == 0:
                inner = slam._frames

                class Recording:  # the core's FrameProcessor, its track calls recorded
                    def __getattr__(self, name):
                        return getattr(inner, name)

                    def track(self, T):
                        starts.append(np.array(T))
                        results.append(inner.track(T))
                        return results[-1]

                slam._frames = Recording()
        assert [r["ok"] for r in results] == [True, True, True, False, True, True, True, True]  # frames 1-8
        np.testing.assert_array_equal(starts[0], np.eye(4))
        for k in range(1, len(starts)):
            if model == "static" or not results[k - 1]["ok"]:
                np.testing.assert_array_equal(starts[k], np.eye(4))
            else:  # the motion of the frame before, as a rotation matrix
                np.testing.assert_allclose(starts[k], results[k - 1]["T_ref_cur"], atol=1e-5)
                np.testing.assert_allclose(starts[k][:3, :3] @ starts[k][:3, :3].T, np.eye(3), atol=1e-12)
        assert ate(seq, slam.result()) < 0.03


def test_nan_and_inf_depth_are_counted_not_fused(shared_data):
    seq = datasets.open(shared_data / DESK)

    def corrupt(frame):
        depth = frame.depth.copy()
        depth[::7, ::5] = np.nan
        depth[3::11, 2::9] = np.inf
        depth[5::13, 1::3] = -1.0
        return _with_depth(frame, depth)

    frames = _Frames(seq, alter={k: corrupt for k in range(len(seq))})
    slam = SemanticSLAM(Config())
    result = slam.run(frames[k] for k in range(len(frames)))
    assert result.summary()["tracking_failures"] == 0
    assert result.summary()["invalid_depth_values"] > 9 * 10000
    surfels = slam.map.surfels()
    assert np.isfinite(surfels["positions"]).all() and np.isfinite(surfels["normals"]).all()
    assert ate(seq, result) < 0.03


def test_resolution_change_stops_with_a_clear_error_and_keeps_the_map(shared_data, tmp_path):
    seq = datasets.open(shared_data / DESK)

    def shrink(frame):
        intr = replace(frame.intrinsics, width=320, height=240)
        return replace(frame, rgb=np.ascontiguousarray(frame.rgb[::2, ::2]),
                       depth=np.ascontiguousarray(frame.depth[::2, ::2]), intrinsics=intr)

    frames = _Frames(seq, alter={5: shrink})
    with pytest.raises(FrameSizeError, match="frame 5 .* is 320x240, but the run started at 640x480"):
        _run_sequence(frames, Config(), tmp_path, quiet=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 5 and "FrameSizeError" in summary["stopped"]
    assert len((tmp_path / "trajectory.txt").read_text().splitlines()) == 1 + 5
    assert read_ply(tmp_path / "map.ply")[0].size == summary["stable_surfels"]


def test_ctrl_c_writes_what_it_has(shared_data, tmp_path):
    seq = datasets.open(shared_data / DESK)
    with pytest.raises(KeyboardInterrupt):
        _run_sequence(_Frames(seq, interrupt_at=6), Config(), tmp_path, quiet=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["stopped"].startswith("interrupted (Ctrl-C)")
    assert len((tmp_path / "trajectory.txt").read_text().splitlines()) == 1 + 6
    assert not list(tmp_path.glob(".*tmp"))


def test_one_frame_sequence(shared_data, tmp_path):
    seq = datasets.open(shared_data / DESK, limit=1)
    summary = _run_sequence(seq, Config(), tmp_path, quiet=True)
    assert summary["frames"] == 1 and summary["tracking_failures"] == 0
    lines = (tmp_path / "trajectory.txt").read_text().splitlines()[1:]
    assert len(lines) == 1 and lines[0].split()[1:] == ["0.000000000"] * 3 + ["0.000000000"] * 3 + ["1.000000000"]
