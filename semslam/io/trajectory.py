"""TUM-format trajectories (`timestamp tx ty tz qx qy qz qw`, camera-to-world) and quaternions.

Poses are 4x4 float64 `T_world_cam` matrices; timestamps are float64 seconds. Quaternions are
(qx, qy, qz, qw), scalar last as in the TUM files, canonicalised to qw >= 0 when written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import TrajectoryFormatError
from .atomic import atomic_open

_FIELDS = 8  # timestamp tx ty tz qx qy qz qw
_QUAT_NORM_TOLERANCE = 1e-3  # a written-out unit quaternion rounds to within this of norm 1


def quat_to_rot(qx: float, qy: float, qz: float, qw: float) -> np.ndarray:
    """3x3 rotation matrix (float64) of the quaternion (qx, qy, qz, qw); it is normalised first.

    Raises ValueError for a zero or non-finite quaternion.
    """
    q = np.array([qx, qy, qz, qw], dtype=np.float64)
    norm = np.linalg.norm(q)
    if not np.all(np.isfinite(q)) or norm < 1e-12:
        raise ValueError(f"quaternion {tuple(q)} cannot be a rotation (zero or non-finite)")
    return Rotation.from_quat(q / norm).as_matrix()


def rot_to_quat(R: np.ndarray) -> tuple[float, float, float, float]:
    """Unit quaternion (qx, qy, qz, qw) of a 3x3 rotation matrix, with qw >= 0.

    Raises ValueError when R is not 3x3, not finite, or not a rotation (|R^T R - I| > 1e-3 or
    det(R) < 0).
    """
    R = np.asarray(R, dtype=np.float64)
    _check_rotation(R, "R")
    q = Rotation.from_matrix(R).as_quat()
    if q[3] < 0:
        q = -q
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


def _check_rotation(R: np.ndarray, what: str) -> None:
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise ValueError(f"{what} must be a finite 3x3 rotation, got shape {R.shape}")
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-3 or np.linalg.det(R) < 0:
        raise ValueError(f"{what} is not a rotation matrix (not orthonormal or a reflection):\n{R}")


def poses_from_tum_rows(rows: np.ndarray) -> np.ndarray:
    """(N,4,4) T_world_cam from an (N,7) array of `tx ty tz qx qy qz qw` (quaternions normalised)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    quats = rows[:, 3:7] / np.linalg.norm(rows[:, 3:7], axis=1, keepdims=True)
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    if len(rows):
        poses[:, :3, :3] = Rotation.from_quat(quats).as_matrix()
    poses[:, :3, 3] = rows[:, :3]
    return poses


def read_tum_trajectory(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a TUM trajectory file.

    Returns (timestamps (N,) float64 seconds, poses (N,4,4) float64 T_world_cam), in file order.
    Lines starting with '#' and blank lines are skipped; comma separators are accepted. An empty
    file gives N = 0. Raises TrajectoryFormatError naming the file and line for a line without 8
    numbers, a non-finite value or a zero quaternion; FileNotFoundError-like problems raise
    TrajectoryFormatError too.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TrajectoryFormatError(f"cannot read trajectory file {path}: {exc.strerror or exc}") from None
    stamps: list[float] = []
    rows: list[list[float]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        tokens = stripped.replace(",", " ").split()
        if len(tokens) != _FIELDS:
            raise TrajectoryFormatError(
                f"{path}, line {line_no}: expected {_FIELDS} numbers 'timestamp tx ty tz qx qy qz qw', "
                f"got {len(tokens)}: {stripped!r}"
            )
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise TrajectoryFormatError(f"{path}, line {line_no}: not a number in {stripped!r}") from None
        if not np.all(np.isfinite(values)):
            raise TrajectoryFormatError(f"{path}, line {line_no}: non-finite value in {stripped!r}")
        if np.linalg.norm(values[4:8]) < 1e-9:
            raise TrajectoryFormatError(f"{path}, line {line_no}: zero quaternion in {stripped!r}")
        stamps.append(values[0])
        rows.append(values[1:])
    return np.asarray(stamps, dtype=np.float64), poses_from_tum_rows(np.asarray(rows, dtype=np.float64))


def write_tum_trajectory(path: str | Path, timestamps: np.ndarray, poses: np.ndarray) -> None:
    """Write (timestamps (N,) seconds, poses (N,4,4) T_world_cam) as a TUM trajectory file.

    Written atomically: into a temporary file in the same folder, then renamed over `path`, so a
    reader never sees half a file. Times get 6 decimals, translations and quaternions 9.
    Raises ValueError for mismatched shapes, non-finite values or a pose that is not rigid.
    """
    path = Path(path)
    timestamps = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) != len(timestamps):
        raise ValueError(f"need timestamps (N,) and poses (N,4,4); got {timestamps.shape} and {poses.shape}")
    if not np.all(np.isfinite(timestamps)) or not np.all(np.isfinite(poses)):
        raise ValueError("timestamps and poses must be finite")
    lines = ["# timestamp tx ty tz qx qy qz qw"]
    for i, (t, T) in enumerate(zip(timestamps, poses)):
        try:
            qx, qy, qz, qw = rot_to_quat(T[:3, :3])
        except ValueError as exc:
            raise ValueError(f"pose {i} (t={t:.6f}): {exc}") from None
        tx, ty, tz = T[:3, 3]
        lines.append(f"{t:.6f} {tx:.9f} {ty:.9f} {tz:.9f} {qx:.9f} {qy:.9f} {qz:.9f} {qw:.9f}")
    with atomic_open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
