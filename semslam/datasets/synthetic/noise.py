"""Sensor models turning a rendered view into what a camera would record.

"kinect": a structured-light sensor like the Kinect v1 / PrimeSense.
  - lateral jitter: each depth pixel reads a neighbour displaced by N(0, lateral_sigma_px);
  - axial noise: z += N(0, sigma_z(z)), sigma_z = a + b (z - z0)^2 (Nguyen et al. 2012);
  - quantisation in disparity: z = c / round(c / z) (1/8-pixel disparity steps);
  - no reading at grazing angles, on both sides of depth discontinuities, outside the range;
  - Gaussian colour noise.
"none": exact depth and colour (depth is only rounded later, to the PNG's 1/depth_scale m step).

Every random draw comes from the generator passed in; `frame_rng(seed, k)` gives frame k its own
stream, so frame k's noise does not depend on which frames were made before it.
"""

from __future__ import annotations

import numpy as np

from ...config import SensorNoiseConfig
from .render import RenderedView

_NOISE_STREAM = 11  # separates the sensor-noise streams from the scene's and trajectory's


def frame_rng(seed: int, k: int) -> np.random.Generator:
    """The random stream of frame `k` of the sequence with `seed`."""
    return np.random.default_rng([seed, _NOISE_STREAM, k])


def axial_sigma(z: np.ndarray, cfg: SensorNoiseConfig) -> np.ndarray:
    """Axial depth noise sigma (m) at depth z (m): a + b (z - z0)^2."""
    return cfg.axial_a + cfg.axial_b * (np.asarray(z) - cfg.axial_z0) ** 2


def discontinuity_mask(depth: np.ndarray, jump: float, radius_px: int) -> np.ndarray:
    """(H, W) bool: pixels within `radius_px` of a depth jump larger than `jump` metres.

    A jump is between 4-neighbours, or between a pixel with depth and one without; both pixels
    of a jump are marked, then the mark is grown by radius_px - 1 (radius 0 marks nothing).
    """
    mask = np.zeros(depth.shape, dtype=bool)
    if radius_px <= 0:
        return mask
    for axis in (0, 1):
        a = depth.take(np.arange(depth.shape[axis] - 1), axis=axis)
        b = depth.take(np.arange(1, depth.shape[axis]), axis=axis)
        edge = (np.abs(a - b) > jump) | ((a > 0) != (b > 0))
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        mask[tuple(lo)] |= edge
        mask[tuple(hi)] |= edge
    if radius_px > 1:
        import cv2

        size = 2 * radius_px - 1
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    return mask


def kinect_depth(view: RenderedView, cfg: SensorNoiseConfig, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 metres of a Kinect-like depth reading of `view`, 0 = no reading."""
    clean = view.depth
    h, w = clean.shape
    lost = discontinuity_mask(clean, cfg.edge_jump, cfg.edge_dropout_px)
    lost |= view.view_cos < np.cos(np.radians(cfg.grazing_angle_deg))

    rows = np.arange(h)[:, None] + np.rint(rng.normal(0.0, cfg.lateral_sigma_px, (h, w))).astype(np.int64)
    cols = np.arange(w)[None, :] + np.rint(rng.normal(0.0, cfg.lateral_sigma_px, (h, w))).astype(np.int64)
    z = clean[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)].astype(np.float64)
    lost |= z <= 0

    z = z + rng.normal(0.0, 1.0, (h, w)) * axial_sigma(z, cfg)
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = np.rint(cfg.disparity_constant / np.where(z > 0, z, np.inf))
        z = np.where(disparity > 0, cfg.disparity_constant / np.maximum(disparity, 1), 0.0)
    lost |= (z < cfg.min_range) | (z > cfg.max_range)
    return np.where(lost, 0.0, z).astype(np.float32)


def noisy_rgb(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 of a float image in [0, 1] plus Gaussian noise of `sigma` levels (0-255)."""
    levels = rgb * 255.0
    if sigma > 0:
        levels = levels + rng.normal(0.0, sigma, rgb.shape)
    return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def apply_sensor(
    view: RenderedView, noise: str, cfg: SensorNoiseConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 (H, W, 3), depth float32 (H, W) metres, 0 = none) recorded by sensor `noise`."""
    if noise == "none":
        return noisy_rgb(view.rgb, 0.0, rng), view.depth.copy()
    if noise == "kinect":
        depth = kinect_depth(view, cfg, rng)
        return noisy_rgb(view.rgb, cfg.rgb_sigma, rng), depth
    raise ValueError(f"unknown sensor noise {noise!r}; choose 'kinect' or 'none'")
