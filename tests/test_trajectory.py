"""TUM trajectory files and quaternion helpers (semslam.io.trajectory)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from semslam.errors import TrajectoryFormatError
from semslam.io.trajectory import quat_to_rot, read_tum_trajectory, rot_to_quat, write_tum_trajectory

S45 = math.sin(math.pi / 4)
RZ90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
RX180 = np.diag([1.0, -1.0, -1.0])
RY90 = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    "quat, R",
    [
        ((0.0, 0.0, 0.0, 1.0), np.eye(3)),
        ((0.0, 0.0, S45, S45), RZ90),
        ((1.0, 0.0, 0.0, 0.0), RX180),
        ((0.0, S45, 0.0, S45), RY90),
    ],
)
def test_known_rotations_both_ways(quat, R):
    np.testing.assert_allclose(quat_to_rot(*quat), R, atol=1e-12)
    np.testing.assert_allclose(rot_to_quat(R), quat, atol=1e-12)


def test_quat_to_rot_normalises_and_rejects_zero():
    np.testing.assert_allclose(quat_to_rot(0.0, 0.0, 2 * S45, 2 * S45), RZ90, atol=1e-12)
    with pytest.raises(ValueError, match="zero or non-finite"):
        quat_to_rot(0.0, 0.0, 0.0, 0.0)


def test_rot_to_quat_is_canonical_with_non_negative_w():
    for q in Rotation.random(50, random_state=1).as_quat():
        out = np.array(rot_to_quat(Rotation.from_quat(q).as_matrix()))
        assert out[3] >= 0
        np.testing.assert_allclose(out, q if q[3] >= 0 else -q, atol=1e-9)
    # 270 degrees about z is -90 degrees: qz = -sin45, qw = +cos45 after canonicalisation
    np.testing.assert_allclose(rot_to_quat(RZ90.T), (0.0, 0.0, -S45, S45), atol=1e-12)


def test_rot_to_quat_rejects_reflection():
    with pytest.raises(ValueError, match="not a rotation"):
        rot_to_quat(np.diag([1.0, 1.0, -1.0]))


def _random_poses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = Rotation.random(n, random_state=seed).as_matrix()
    poses[:, :3, 3] = rng.uniform(-5, 5, size=(n, 3))
    return poses


def test_round_trip(tmp_path):
    stamps = 1341841873.273798 + np.arange(20) / 30.0
    poses = _random_poses(20)
    path = tmp_path / "trajectory.txt"
    write_tum_trajectory(path, stamps, poses)
    read_stamps, read_poses = read_tum_trajectory(path)
    np.testing.assert_allclose(read_stamps, stamps, atol=1e-6, rtol=0)
    np.testing.assert_allclose(read_poses, poses, atol=1e-8)
    assert read_poses.shape == (20, 4, 4) and read_poses.dtype == np.float64
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#") and len(lines) == 21
    assert len(lines[1].split()) == 8 and lines[1].split()[0] == f"{stamps[0]:.6f}"


def test_write_is_atomic_and_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "trajectory.txt"
    write_tum_trajectory(path, [0.0, 1.0], _random_poses(2))
    before = path.read_text()
    bad = _random_poses(3)
    bad[2, :3, :3] = np.diag([1.0, 1.0, -1.0])  # a reflection is not a pose
    with pytest.raises(ValueError, match="pose 2"):
        write_tum_trajectory(path, [0.0, 1.0, 2.0], bad)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trajectory.txt"]  # no temp files left
    with pytest.raises(ValueError, match=r"\(N,4,4\)"):
        write_tum_trajectory(path, [0.0], _random_poses(2))


def test_read_tolerates_comments_and_blank_lines(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(
        "# ground truth trajectory\n\n"
        "1.5 1 2 3 0 0 0.7071067811865476 0.7071067811865476\n"
        "   # indented comment\n"
        "2.5 0 0 0 0 0 0 2\n"  # not normalised: read as identity
    )
    stamps, poses = read_tum_trajectory(path)
    np.testing.assert_array_equal(stamps, [1.5, 2.5])
    np.testing.assert_allclose(poses[0, :3, :3], RZ90, atol=1e-12)
    np.testing.assert_array_equal(poses[0, :3, 3], [1, 2, 3])
    np.testing.assert_allclose(poses[1], np.eye(4), atol=1e-15)


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("3.0 1 2 3 0 0 0", "line 3: expected 8 numbers"),
        ("3.0 1 2 x 0 0 0 1", "line 3: not a number"),
        ("3.0 1 2 nan 0 0 0 1", "line 3: non-finite"),
        ("3.0 1 2 3 0 0 0 0", "line 3: zero quaternion"),
    ],
)
def test_read_errors_name_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "traj.txt"
    path.write_text("# header\n1.0 0 0 0 0 0 0 1\n" + bad_line + "\n")
    with pytest.raises(TrajectoryFormatError, match=message) as info:
        read_tum_trajectory(path)
    assert str(path) in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(TrajectoryFormatError, match="cannot read"):
        read_tum_trajectory(tmp_path / "absent.txt")


def test_read_tum_groundtruth(shared_data):
    path = shared_data / "tum" / "rgbd_dataset_freiburg3_teddy_first200" / "groundtruth.txt"
    data_lines = [l for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    stamps, poses = read_tum_trajectory(path)
    assert len(stamps) == len(data_lines) == 723
    first = [float(v) for v in data_lines[0].split()]
    assert stamps[0] == first[0]
    np.testing.assert_array_equal(poses[0, :3, 3], first[1:4])
    q = np.array(first[4:8]) / np.linalg.norm(first[4:8])
    np.testing.assert_allclose(poses[0, :3, :3], quat_to_rot(*q), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(poses[:, :3, :3]), 1.0, atol=1e-9)
