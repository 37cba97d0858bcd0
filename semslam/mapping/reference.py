"""Plain numpy references of the core's kernels, written for clarity, not speed.

Tests compare every kernel on every device against these; they follow the same conventions
(float32 inputs, NaN for invalid vertices/normals) but compute in float64.
"""

from __future__ import annotations

import numpy as np


def bilateral_filter(
    depth: np.ndarray, radius: int, sigma_space: float, sigma_depth: float, depth_min: float, depth_max: float
) -> np.ndarray:
    d = depth.astype(np.float64)
    valid = np.isfinite(d) & (d >= depth_min) & (d <= depth_max)
    h, w = d.shape
    num = np.zeros((h, w))
    den = np.zeros((h, w))
    padded = np.pad(np.where(valid, d, 0.0), radius)
    padded_valid = np.pad(valid, radius)
    centre = np.where(valid, d, 0.0)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            nb = padded[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            nb_valid = padded_valid[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            wgt = np.exp(-((dx * dx + dy * dy) / (2 * sigma_space**2) + (nb - centre) ** 2 / (2 * sigma_depth**2)))
            wgt = np.where(nb_valid, wgt, 0.0)
            num += wgt * nb
            den += wgt
    out = np.zeros((h, w))
    out[valid] = num[valid] / den[valid]
    return out


def vertex_map(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    h, w = depth.shape
    z = depth.astype(np.float64)
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    out = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)
    out[~(np.isfinite(z) & (z > 0))] = np.nan
    return out


def normal_map(vertices: np.ndarray) -> np.ndarray:
    v = vertices.astype(np.float64)
    h, w, _ = v.shape
    out = np.full((h, w, 3), np.nan)
    dx = v[1:-1, 2:] - v[1:-1, :-2]
    dy = v[2:, 1:-1] - v[:-2, 1:-1]
    n = np.cross(dy, dx)
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = n / length
    n[~np.isfinite(n).all(axis=-1) | (length[..., 0] == 0)] = np.nan
    out[1:-1, 1:-1] = n
    return out
