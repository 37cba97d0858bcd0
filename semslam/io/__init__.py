"""File formats semslam reads and writes (trajectories; maps and PLY are added alongside)."""

from .trajectory import quat_to_rot, read_tum_trajectory, rot_to_quat, write_tum_trajectory

__all__ = ["quat_to_rot", "read_tum_trajectory", "rot_to_quat", "write_tum_trajectory"]
