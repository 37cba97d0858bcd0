"""Matching streams in time: rgb/depth association and ground-truth pose interpolation.

Timestamps are float64 seconds. Association follows the TUM benchmark's associate.py; poses are
interpolated linearly in translation and by slerp in rotation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def associate(first: np.ndarray, second: np.ndarray, max_difference: float) -> list[tuple[int, int]]:
    """Pair timestamps of two streams as the TUM benchmark's associate.py does.

    All pairs with |first[i] - second[j]| < max_difference are candidates; they are taken greedily
    in order of increasing difference (ties by first, then second stamp), each stamp used at most
    once. Returns (i, j) index pairs sorted by first[i]. Inputs (N,), (M,) need not be sorted.
    Unlike associate.py this looks only at neighbours within the window, so it is O((N+M) log M)
    instead of O(N M) for a 3,000-frame sequence.
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    order = np.argsort(second, kind="stable")
    sorted_second = second[order]
    lo = np.searchsorted(sorted_second, first - max_difference, side="left")
    hi = np.searchsorted(sorted_second, first + max_difference, side="right")
    candidates = []
    for i, (a, b) in enumerate(zip(lo, hi)):
        for k in range(a, b):
            diff = abs(first[i] - sorted_second[k])
            if diff < max_difference:
                candidates.append((diff, first[i], sorted_second[k], i, int(order[k])))
    candidates.sort()
    used_first: set[int] = set()
    used_second: set[int] = set()
    matches = []
    for _, _, _, i, j in candidates:
        if i not in used_first and j not in used_second:
            used_first.add(i)
            used_second.add(j)
            matches.append((i, j))
    matches.sort(key=lambda m: (first[m[0]], second[m[1]]))
    return matches


def interpolate_poses(
    gt_stamps: np.ndarray, gt_poses: np.ndarray, query: np.ndarray, max_gap: float
) -> list[np.ndarray | None]:
    """Ground-truth T_world_cam at each query time, or None where it cannot be interpolated.

    gt_stamps (G,) seconds, gt_poses (G,4,4), query (N,) seconds. A query exactly at a sample takes
    that pose; otherwise it needs a sample before and one after, each within `max_gap` seconds.
    Translation is interpolated linearly, rotation by slerp.
    """
    gt_stamps = np.asarray(gt_stamps, dtype=np.float64)
    gt_poses = np.asarray(gt_poses, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    result: list[np.ndarray | None] = [None] * len(query)
    if len(gt_stamps) == 0:
        return result
    order = np.argsort(gt_stamps, kind="stable")
    gt_stamps, gt_poses = gt_stamps[order], gt_poses[order]
    after = np.searchsorted(gt_stamps, query, side="left")  # first sample with stamp >= t
    exact = (after < len(gt_stamps)) & (gt_stamps[np.minimum(after, len(gt_stamps) - 1)] == query)
    before = after - 1
    bracketed = (
        ~exact
        & (before >= 0)
        & (after < len(gt_stamps))
        & (query - gt_stamps[np.maximum(before, 0)] <= max_gap)
        & (gt_stamps[np.minimum(after, len(gt_stamps) - 1)] - query <= max_gap)
    )
    for i in np.flatnonzero(exact):
        result[i] = gt_poses[after[i]].copy()
    idx = np.flatnonzero(bracketed)
    if len(idx):
        i0, i1 = before[idx], after[idx]
        t0, t1 = gt_stamps[i0], gt_stamps[i1]
        alpha = (query[idx] - t0) / (t1 - t0)
        T0, T1 = gt_poses[i0], gt_poses[i1]
        r0 = Rotation.from_matrix(T0[:, :3, :3])
        r1 = Rotation.from_matrix(T1[:, :3, :3])
        delta = (r0.inv() * r1).as_rotvec()
        rotations = (r0 * Rotation.from_rotvec(delta * alpha[:, None])).as_matrix()
        translations = T0[:, :3, 3] + alpha[:, None] * (T1[:, :3, 3] - T0[:, :3, 3])
        for k, i in enumerate(idx):
            pose = np.eye(4)
            pose[:3, :3] = rotations[k]
            pose[:3, 3] = translations[k]
            result[i] = pose
    return result
