"""Smooth hand-held camera trajectories through the synthetic room.

Poses are T_world_cam (camera-to-world, 4x4 float64) in the OpenCV/TUM camera convention: the
camera looks along its +z, x points right, y down. World: z up, metres (see scene.py).

All paths run on two rails kept free of furniture (`keep_out_points`): an ellipse `RING_INSET`
metres in from the walls and the straight chord along its southern side. Progress along a path
is eased (starts and ends slowly, peaks at about 1.5x the mean speed); a small hand-shake (sums of
sines at 0.5-2.5 Hz) is added and faded in and out, so the first and last poses are exact.
"""

from __future__ import annotations

import math

import numpy as np

from .scene import Room

RING_INSET = 1.45  # m; from each wall to the camera's ring
LOOP_MAX_ARC = 2 * math.pi / 3  # rad; how far round the ring a loop reaches
LOOP_MAX_RADIAL = 0.1  # m; a loop's sideways excursion from the ring (within the keep-out)
_HEIGHT = 1.45  # m; mean camera height
_TARGET_HEIGHT = 1.0  # m; the camera looks slightly down, at furniture more than at the floor


def ring_axes(room: Room) -> tuple[float, float]:
    """Semi-axes (x, y) in metres of the camera ring."""
    return room.half_x - RING_INSET, room.half_y - RING_INSET


def keep_out_points(room: Room, step: float = 0.05) -> np.ndarray:
    """(N, 2) floor points (m) under every camera path of this room, `step` metres apart."""
    ax, ay = ring_axes(room)
    n = int(math.ceil(2 * math.pi * max(ax, ay) / step))
    phi = np.linspace(0, 2 * math.pi, n, endpoint=False)
    ring = np.stack([ax * np.cos(phi), ay * np.sin(phi)], axis=1)
    x = np.linspace(-ax, ax, int(math.ceil(2 * ax / step)) + 1)
    chord = np.stack([x, np.full_like(x, -ay)], axis=1)
    return np.concatenate([ring, chord])


def look_at(position: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """3x3 rotation R_world_cam of a camera at `position` looking at `target` (z forward, y down)."""
    forward = np.asarray(target, float) - np.asarray(position, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1)


def rotation_from_vector(rotvec: np.ndarray) -> np.ndarray:
    """3x3 rotation of a rotation vector (axis * angle in rad), Rodrigues' formula."""
    theta = float(np.linalg.norm(rotvec))
    if theta < 1e-12:
        return np.eye(3)
    k = np.asarray(rotvec, float) / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * (K @ K)


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion (qx, qy, qz, qw), qw >= 0, of a 3x3 rotation."""
    R = np.asarray(R, float)
    tr = R[0, 0] + R[1, 1] + R[2, 2]
    if tr > 0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * math.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * math.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """3x3 rotation of a quaternion (qx, qy, qz, qw); normalised first."""
    x, y, z, w = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def pose_speeds(T_world_cam: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Speeds between consecutive poses (N, 4, 4): linear in m/s and angular in deg/s, each (N-1,)."""
    T = np.asarray(T_world_cam)
    linear = np.linalg.norm(np.diff(T[:, :3, 3], axis=0), axis=1) * fps
    R_rel = np.einsum("nji,njk->nik", T[:-1, :3, :3], T[1:, :3, :3])
    cos = np.clip((np.trace(R_rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    return linear, np.degrees(np.arccos(cos)) * fps


def _ease(u: np.ndarray) -> np.ndarray:
    """Monotone map of [0, 1] onto itself; speed 0.5x at the ends and 1.5x in the middle."""
    return u - 0.5 * np.sin(2 * np.pi * u) / (2 * np.pi)


def _arc_table(points: np.ndarray) -> np.ndarray:
    """Cumulative arc length (M,) of a dense polyline (M, 2 or 3)."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def _orbit(room: Room, u: np.ndarray, length: float, rng: np.random.Generator):
    ax, ay = ring_axes(room)
    phi0, direction = rng.uniform(0, 2 * np.pi), rng.choice([-1.0, 1.0])
    dense = phi0 + direction * np.linspace(0, 2 * np.pi, 4001)
    arc = _arc_table(np.stack([ax * np.cos(dense), ay * np.sin(dense)], axis=1))
    travel = min(length, arc[-1])
    phi = np.interp(_ease(u) * travel, arc, dense)
    swept = direction * (phi - phi0)
    position = np.stack([ax * np.cos(phi), ay * np.sin(phi), _HEIGHT + 0.08 * np.sin(1.5 * swept)], axis=1)
    target = np.stack([0.15 * np.cos(0.7 * swept), 0.15 * np.sin(0.9 * swept), np.full_like(phi, _TARGET_HEIGHT)], axis=1)
    return position, target


def _walk(room: Room, u: np.ndarray, length: float, rng: np.random.Generator):
    """Along the chord y = -ay, back and forth when there is time, looking across the room."""
    ax, ay = ring_axes(room)
    direction = rng.choice([-1.0, 1.0])
    span = 2 * ax
    passes = max(1, int(length // span))  # whole passes keep the mean speed at most `length`/duration
    amplitude = min(length, span) / 2
    x = -direction * amplitude * np.cos(np.pi * passes * u)  # smooth stops at the turns
    bob_phase = 2 * np.pi * u * max(length, 1e-9) / 1.7
    sway, bob = 0.04 * np.sin(2 * np.pi * x / 1.7), 0.01 * np.sin(bob_phase)
    position = np.stack([x, -ay + sway, _HEIGHT + 0.05 + bob], axis=1)
    target = np.stack([0.6 * x + 0.3 * np.sin(2 * np.pi * x / 2.3), np.full_like(x, 0.6), np.full_like(x, 0.95)], axis=1)
    return position, target


def _loop(room: Room, u: np.ndarray, length: float, rng: np.random.Generator):
    ax, ay = ring_axes(room)
    phi0, direction = rng.uniform(0, 2 * np.pi), rng.choice([-1.0, 1.0])
    dense_u = np.linspace(0, 1, 2001)

    def radial(arc: float) -> float:  # small loops get small side-steps, bobs and gaze wiggles
        return min(LOOP_MAX_RADIAL, 0.3 * arc * min(ax, ay))

    def shape(uu: np.ndarray, arc: float):
        phi = phi0 + direction * arc * (1 - np.cos(2 * np.pi * uu)) / 2
        side = np.sin(2 * np.pi * uu) * radial(arc)
        height = _HEIGHT + 0.6 * radial(arc) * np.sin(2 * np.pi * uu)
        return np.stack([(ax + side) * np.cos(phi), (ay + side) * np.sin(phi), height], axis=1)

    lo, hi = 0.0, LOOP_MAX_ARC  # the loop's reach, by bisection on its length
    if _arc_table(shape(dense_u, hi))[-1] > length:
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _arc_table(shape(dense_u, mid))[-1] < length else (lo, mid)
    arc = _arc_table(shape(dense_u, hi))
    uu = np.interp(_ease(u) * arc[-1], arc, dense_u)
    uu[u >= 1.0] = 0.0  # the end is the start, exactly
    position = shape(uu, hi)
    wiggle = 1.3 * radial(hi)
    gaze = [wiggle * np.sin(2 * np.pi * uu), wiggle * (1 - np.cos(2 * np.pi * uu)), np.full_like(uu, _TARGET_HEIGHT)]
    target = np.stack(gaze, axis=1)
    return position, target


TOUR_HEIGHT = 1.65  # m; a tour's camera is held higher than an orbit's: it looks down on the furniture's tops
TOUR_TARGET = 0.7  # m; height of the gaze target, about the room's middle (tables, boxes, seats) ...
TOUR_NOD = 0.2  # m; ... nodding up and down by this (the upper parts of tall things) ...
TOUR_NOD_PERIOD = 1.3  # m; ... once per this much of the path
TOUR_SWAY_DEG = 25.0  # deg; the gaze swings this far either side of the middle ...
TOUR_SWAY_PERIOD = 2.2  # m; ... once per this much of the path


def _along_ring(room: Room, u: np.ndarray, length: float, rng: np.random.Generator):
    """Positions (s, x, y) at fractions `u` of a path of `length` m along the room's ring (once
    round at most), from a random start in a random direction: s metres travelled (eased at both
    ends), x, y on the ring."""
    ax, ay = ring_axes(room)
    phi0, direction = rng.uniform(0, 2 * np.pi), rng.choice([-1.0, 1.0])
    dense = phi0 + direction * np.linspace(0, 2 * np.pi, 4001)
    arc = _arc_table(np.stack([ax * np.cos(dense), ay * np.sin(dense)], axis=1))
    s = _ease(u) * min(length, arc[-1])
    phi = np.interp(s, arc, dense)
    return s, ax * np.cos(phi), ay * np.sin(phi)


def _tour(room: Room, u: np.ndarray, length: float, rng: np.random.Generator):
    """Round the ring like an orbit, held higher and looking down at the room's middle, the gaze
    swinging left and right and nodding: the middle things are seen from every side passed and from
    above, the furniture along the walls from a range of directions (an orbit at the same speed
    looks at the middle from about the same side all along)."""
    s, x, y = _along_ring(room, u, length, rng)
    position = np.stack([x, y, TOUR_HEIGHT + 0.04 * np.sin(2 * np.pi * s / 1.7)], axis=1)
    sway_phase, nod_phase = rng.uniform(0, 2 * np.pi, 2)
    yaw = np.arctan2(-y, -x) + np.deg2rad(TOUR_SWAY_DEG) * np.sin(2 * np.pi * s / TOUR_SWAY_PERIOD + sway_phase)
    reach = 0.8 * np.hypot(x, y)
    height = TOUR_TARGET + TOUR_NOD * np.sin(2 * np.pi * s / TOUR_NOD_PERIOD + nod_phase)
    target = np.stack([x + reach * np.cos(yaw), y + reach * np.sin(yaw), height], axis=1)
    return position, target


SCAN_HEIGHT = 1.5  # m; a scan's camera height ...
SCAN_LOOK = 1.5  # m; ... its gaze target this far out from it (about the furniture along the walls) ...
SCAN_TARGET = 1.0  # m; ... at this height, nodding by ...
SCAN_NOD = 0.3  # m; ... this (seat tops and the pictures above them) ...
SCAN_NOD_PERIOD = 1.3  # m; ... once per this much of the path
SCAN_SWAY_DEG = 15.0  # deg; the gaze swings this far either side of the ring's outward normal ...
SCAN_SWAY_PERIOD = 3.0  # m; ... once per this much of the path


def _scan(room: Room, u: np.ndarray, length: float, rng: np.random.Generator):
    """A room scan: round the ring (once when there is time), the camera facing out at the walls
    and the furniture along them from 1-2 m, swinging slowly and nodding: how one scans a room to
    map it, everything along the walls seen from close enough for a depth camera (a tour sees the
    far half of the room from 3-5 m). The gaze pans slowly (at 30 frames/s and 0.3 m/s about
    0.6 deg per frame, at most 1.8): facing out, the view keeps bringing in what the map has not
    seen, and tracking needs the map to have made it stable first. Things in the room's middle
    (inside the ring) are not seen. A whole round at 30 frames/s and 0.3 m/s: about 850 frames."""
    ax, ay = ring_axes(room)
    s, x, y = _along_ring(room, u, length, rng)
    position = np.stack([x, y, SCAN_HEIGHT + 0.03 * np.sin(2 * np.pi * s / 1.7)], axis=1)
    sway_phase, nod_phase = rng.uniform(0, 2 * np.pi, 2)
    outward = np.arctan2(y / ay**2, x / ax**2)  # the ring's outward normal
    yaw = outward + np.deg2rad(SCAN_SWAY_DEG) * np.sin(2 * np.pi * s / SCAN_SWAY_PERIOD + sway_phase)
    height = SCAN_TARGET + SCAN_NOD * np.sin(2 * np.pi * s / SCAN_NOD_PERIOD + nod_phase)
    target = np.stack([x + SCAN_LOOK * np.cos(yaw), y + SCAN_LOOK * np.sin(yaw), height], axis=1)
    return position, target


_PATHS = {"orbit": _orbit, "walk": _walk, "loop": _loop, "tour": _tour, "scan": _scan}


def camera_trajectory(
    kind: str,
    room: Room,
    frames: int,
    fps: float,
    speed: float,
    shake_translation: float,
    shake_rotation_deg: float,
    seed: int,
) -> np.ndarray:
    """(frames, 4, 4) float64 T_world_cam of a `kind` ("orbit", "walk", "loop", "tour" or "scan") trajectory.

    speed: mean speed along the path in m/s (the path is shortened to speed * duration, or
    capped by the room). shake_translation (m) and shake_rotation_deg (deg) are per-axis
    amplitudes of the hand-shake. Deterministic for `seed`; "loop" ends exactly at its start.
    """
    if kind not in _PATHS:
        raise ValueError(f"unknown trajectory {kind!r}; choose one of {', '.join(_PATHS)}")
    rng = np.random.default_rng([seed, 3])
    k = np.arange(frames)
    u = k / (frames - 1) if frames > 1 else np.zeros(1)
    duration = (frames - 1) / fps
    position, target = _PATHS[kind](room, u, speed * duration, rng)

    t = k / fps
    envelope = np.sin(np.pi * u) ** 2  # the shake fades in and out
    freqs, phases = rng.uniform(0.5, 2.5, (2, 3, 3)), rng.uniform(0, 2 * np.pi, (2, 3, 3))
    weights = np.array([0.6, 0.3, 0.1])[:, None]

    def shake(i: int, amplitude: float) -> np.ndarray:  # (frames, 3)
        waves = np.sin(2 * np.pi * freqs[i][None] * t[:, None, None] + phases[i][None])  # (frames, 3 terms, 3 axes)
        return amplitude * envelope[:, None] * (weights[None] * waves).sum(axis=1)

    d_trans, d_rot = shake(0, shake_translation), shake(1, math.radians(shake_rotation_deg))
    poses = np.tile(np.eye(4), (frames, 1, 1))
    for i in range(frames):
        R = look_at(position[i], target[i])
        poses[i, :3, :3] = R @ rotation_from_vector(d_rot[i])
        poses[i, :3, 3] = position[i] + R @ d_trans[i]
    if kind == "loop":
        poses[-1] = poses[0]
    return poses
