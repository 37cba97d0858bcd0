"""Plain numpy references of the pyramid and tracking kernels, written for clarity, not speed.

Same conventions as the core (see semslam/mapping/odometry.py): depth in metres with 0 invalid,
NaN for invalid vertices/normals/intensities, intensity 0..255; the pose parameterisation of the
tracking rows is T_ref_cur <- exp(delta) T_ref_cur with delta = (v, w) in the reference frame.
"""

from __future__ import annotations

import numpy as np

BINOMIAL5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def scaled_intrinsics(fx: float, fy: float, cx: float, cy: float, level: int) -> tuple[float, float, float, float]:
    """Intrinsics of pyramid level `level` (pixel centres kept consistent, as core::PinholeIntrinsics::Scaled)."""
    f = 1.0 / (1 << level)
    return fx * f, fy * f, (cx + 0.5) * f - 0.5, (cy + 0.5) * f - 0.5


def pyr_down_depth(depth: np.ndarray, sigma_depth: float) -> np.ndarray:
    d = depth.astype(np.float64)
    h, w = d.shape
    valid = np.isfinite(d) & (d > 0)
    padded = np.pad(np.where(valid, d, 0.0), 2)
    padded_valid = np.pad(valid, 2)
    centre = padded[2 : 2 + 2 * (h // 2) : 2, 2 : 2 + 2 * (w // 2) : 2]
    centre_valid = padded_valid[2 : 2 + 2 * (h // 2) : 2, 2 : 2 + 2 * (w // 2) : 2]
    num = np.zeros_like(centre)
    den = np.zeros_like(centre)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            rows = slice(2 + dy, 2 + dy + 2 * (h // 2), 2)
            cols = slice(2 + dx, 2 + dx + 2 * (w // 2), 2)
            nb, nb_valid = padded[rows, cols], padded_valid[rows, cols]
            use = nb_valid & (np.abs(nb - centre) < 3 * sigma_depth)
            wgt = np.where(use, BINOMIAL5[dx + 2] * BINOMIAL5[dy + 2], 0.0)
            num += wgt * nb
            den += wgt
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(centre_valid, num / den, 0.0)


def rgb_to_intensity(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64)
    return 0.299 * c[..., 0] + 0.587 * c[..., 1] + 0.114 * c[..., 2]


def pyr_down_intensity(intensity: np.ndarray) -> np.ndarray:
    img = intensity.astype(np.float64)
    h, w = img.shape
    valid = np.isfinite(img)
    padded = np.pad(np.where(valid, img, 0.0), 2)
    padded_valid = np.pad(valid, 2).astype(np.float64)
    num = np.zeros((h // 2, w // 2))
    den = np.zeros((h // 2, w // 2))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            wgt = BINOMIAL5[dx + 2] * BINOMIAL5[dy + 2]
            rows = slice(2 + dy, 2 + dy + 2 * (h // 2), 2)
            cols = slice(2 + dx, 2 + dx + 2 * (w // 2), 2)
            num += wgt * padded[rows, cols]
            den += wgt * padded_valid[rows, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def intensity_gradients(intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel / 8: dI/dx, dI/dy in intensity per pixel; NaN on the border and next to NaN."""
    i = intensity.astype(np.float64)
    h, w = i.shape
    gx = np.full((h, w), np.nan)
    gy = np.full((h, w), np.nan)

    def s(dy: int, dx: int) -> np.ndarray:
        return i[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]

    gx[1:-1, 1:-1] = ((s(-1, 1) - s(-1, -1)) + 2 * (s(0, 1) - s(0, -1)) + (s(1, 1) - s(1, -1))) / 8
    gy[1:-1, 1:-1] = ((s(1, -1) - s(-1, -1)) + 2 * (s(1, 0) - s(-1, 0)) + (s(1, 1) - s(-1, 1))) / 8
    return gx, gy  # NaN propagates from any NaN neighbour


def pyr_down_points(points: np.ndarray, normalise: bool) -> np.ndarray:
    p = points.astype(np.float64)
    h, w, _ = p.shape
    p = p[: 2 * (h // 2), : 2 * (w // 2)]
    mean = 0.25 * (p[0::2, 0::2] + p[0::2, 1::2] + p[1::2, 0::2] + p[1::2, 1::2])  # NaN if any is NaN
    if normalise:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = mean / np.linalg.norm(mean, axis=-1, keepdims=True)
    return mean


def _associate(q: np.ndarray, K: tuple[float, float, float, float], h: int, w: int):
    """Nearest reference pixel (row, col) of reference-frame points q [N, 3] and whether it exists."""
    fx, fy, cx, cy = K
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.floor(fx * q[:, 0] / q[:, 2] + cx + 0.5)
        v = np.floor(fy * q[:, 1] / q[:, 2] + cy + 0.5)
    ok = (q[:, 2] > 0) & (u >= 0) & (v >= 0) & (u < w) & (v < h)
    return np.where(ok, v, 0).astype(np.int64), np.where(ok, u, 0).astype(np.int64), ok


def _system(J: np.ndarray, r_weighted: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The 29-value layout: J^T J upper triangle row by row, J^T r, sum r^2 (unweighted), count."""
    JtJ = J.T @ J
    upper = np.concatenate([JtJ[i, i:] for i in range(6)])
    return np.concatenate([upper, J.T @ r_weighted, [np.sum(r**2), len(r)]])


def icp_system(cur_vertices, cur_normals, ref_vertices, ref_normals, K, T_ref_cur, max_distance, max_angle_deg):
    """Point-to-plane ICP rows: r = n_ref . (q - v_ref), J = [n_ref, q x n_ref], q = T_ref_cur p."""
    h, w, _ = ref_vertices.shape
    p = cur_vertices.reshape(-1, 3).astype(np.float64)
    n_cur = cur_normals.reshape(-1, 3).astype(np.float64)
    R, t = T_ref_cur[:3, :3], T_ref_cur[:3, 3]
    q = p @ R.T + t
    rows, cols, ok = _associate(q, K, h, w)
    d = ref_vertices[rows, cols].astype(np.float64)
    n = ref_normals[rows, cols].astype(np.float64)
    ok &= np.isfinite(p).all(1) & np.isfinite(n_cur).all(1) & np.isfinite(d).all(1) & np.isfinite(n).all(1)
    with np.errstate(invalid="ignore"):
        ok &= np.linalg.norm(q - d, axis=1) <= max_distance
        ok &= np.linalg.norm(np.cross(n_cur @ R.T, n), axis=1) < np.sin(np.radians(max_angle_deg))
    q, d, n = q[ok], d[ok], n[ok]
    J = np.concatenate([n, np.cross(q, n)], axis=1)
    r = np.sum(n * (q - d), axis=1)
    return _system(J, r, r)


def rgb_system(cur_vertices, cur_intensity, cur_dIdx, cur_dIdy, ref_vertices, ref_intensity, K, T_ref_cur,
               max_depth_delta, min_gradient, sigma):
    """Photometric rows weighted by w = 1 / (sigma + |r|): r = I_cur(x) - I_ref(u) with I_ref
    bilinear at the continuous u, depth gated at the nearest pixel; J = -[h, q x h], h = R_ref_cur g,
    g = grad I_cur . d pi / d p at the current point p."""
    fx, fy, cx, cy = K
    h_img, w_img, _ = ref_vertices.shape
    p = cur_vertices.reshape(-1, 3).astype(np.float64)
    gx = cur_dIdx.reshape(-1).astype(np.float64)
    gy = cur_dIdy.reshape(-1).astype(np.float64)
    i_cur = cur_intensity.reshape(-1).astype(np.float64)
    R, t = T_ref_cur[:3, :3], T_ref_cur[:3, 3]
    q = p @ R.T + t
    with np.errstate(invalid="ignore", divide="ignore"):
        u = fx * q[:, 0] / q[:, 2] + cx
        v = fy * q[:, 1] / q[:, 2] + cy
        u0, v0 = np.floor(u), np.floor(v)
        ok = (q[:, 2] > 0) & (u0 >= 0) & (v0 >= 0) & (u0 + 1 < w_img) & (v0 + 1 < h_img)
    au, av = np.where(ok, u - u0, 0.0), np.where(ok, v - v0, 0.0)
    c0, r0 = np.where(ok, u0, 0).astype(np.int64), np.where(ok, v0, 0).astype(np.int64)
    ref_z = ref_vertices[r0 + (av >= 0.5), c0 + (au >= 0.5), 2].astype(np.float64)
    I = ref_intensity.astype(np.float64)
    top = (1 - au) * I[r0, c0] + au * I[r0, c0 + 1]
    bottom = (1 - au) * I[r0 + 1, c0] + au * I[r0 + 1, c0 + 1]
    i_ref = (1 - av) * top + av * bottom
    with np.errstate(invalid="ignore"):
        ok &= np.isfinite(p).all(1) & (gx**2 + gy**2 >= min_gradient**2) & np.isfinite(i_cur)
        ok &= np.isfinite(ref_z) & np.isfinite(i_ref) & (np.abs(q[:, 2] - ref_z) <= max_depth_delta)
    p, q, gx, gy = p[ok], q[ok], gx[ok], gy[ok]
    r = i_cur[ok] - i_ref[ok]
    g0, g1 = gx * fx / p[:, 2], gy * fy / p[:, 2]
    g = np.stack([g0, g1, -(g0 * p[:, 0] + g1 * p[:, 1]) / p[:, 2]], axis=1)
    hvec = g @ R.T
    wgt = 1.0 / (sigma + np.abs(r))
    J = -wgt[:, None] * np.concatenate([hvec, np.cross(q, hvec)], axis=1)
    return _system(J, wgt * r, r)
