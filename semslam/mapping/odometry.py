"""RGB-D odometry in the core: ElasticFusion's frame-to-model tracking (ICP + photometric).

`RGBDOdometry` keeps the current frame's pyramid and the reference's on the device. The reference
is the model's prediction at T_world_ref: vertices and normals float32 (H, W, 3) in the reference
camera frame, NaN where invalid, and intensity float32 (H, W) in 0..255 (0.299 R + 0.587 G +
0.114 B), NaN where nothing was rendered. `track(T_ref_cur_init)` returns T_ref_cur, the current
camera's pose in the reference camera frame (4x4 float64), and whether to trust it.

The pyramid functions below are the core's stateless kernels, exposed for tests and tools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import TrackingConfig
from ..datasets.frame import Intrinsics
from ..device import core


@dataclass(frozen=True)
class TrackingResult:
    """What one `track` call found.

    T_ref_cur: 4x4 float64; the estimate when ok, the initial pose otherwise. reason: "" when ok,
    else why tracking failed (too few inliers, degenerate system, implausible jump).
    inliers / inlier_fraction: ICP correspondences at full resolution and their share of the valid
    current pixels. icp_rmse: m (point-to-plane). rgb_count / rgb_rmse: photometric correspondences
    and their RMS residual (intensity 0..255). iterations: Gauss-Newton updates run at levels
    (0, 1, 2), level 0 the full resolution. condition: condition number of the final 6x6 system.
    """

    T_ref_cur: np.ndarray
    ok: bool
    reason: str
    inliers: int
    inlier_fraction: float
    icp_rmse: float
    rgb_count: int
    rgb_rmse: float
    iterations: tuple[int, int, int]
    condition: float


def _check(array: np.ndarray, name: str, dtype, shape: tuple) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != dtype:
        raise ValueError(f"{name} must be {np.dtype(dtype).name}, got {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return np.ascontiguousarray(array)


class RGBDOdometry:
    """Coarse-to-fine Gauss-Newton on SE(3) over a 3-level pyramid (levels run 2, 1, 0)."""

    def __init__(self, intrinsics: Intrinsics, config: TrackingConfig | None = None, device: str = "cpu"):
        cfg = config or TrackingConfig()
        self.intrinsics = intrinsics
        self.config = cfg
        self.device = device
        self._core = core().RGBDOdometry(
            device,
            intrinsics.width,
            intrinsics.height,
            intrinsics.fx,
            intrinsics.fy,
            intrinsics.cx,
            intrinsics.cy,
            iterations=list(cfg.iterations),
            pyramid_sigma_depth=cfg.pyramid_sigma_depth,
            icp_max_distance=cfg.icp_max_distance,
            icp_max_angle_deg=cfg.icp_max_angle_deg,
            icp_weight=cfg.icp_weight,
            rgb_max_depth_delta=cfg.rgb_max_depth_delta,
            rgb_min_gradient=list(cfg.rgb_min_gradient),
            min_inlier_fraction=cfg.min_inlier_fraction,
            max_condition=cfg.max_condition,
            max_translation=cfg.max_translation,
            max_rotation_deg=cfg.max_rotation_deg,
            convergence_epsilon=cfg.convergence_epsilon,
        )

    @property
    def _hw(self) -> tuple[int, int]:
        return (self.intrinsics.height, self.intrinsics.width)

    def set_current(self, depth_filtered: np.ndarray, rgb: np.ndarray) -> None:
        """The new frame: bilateral-filtered depth float32 (H, W) metres (0 = invalid), rgb uint8 (H, W, 3)."""
        h, w = self._hw
        self._core.set_current(
            _check(depth_filtered, "depth_filtered", np.float32, (h, w)), _check(rgb, "rgb", np.uint8, (h, w, 3))
        )

    def set_reference(self, vertices: np.ndarray, normals: np.ndarray, intensity: np.ndarray) -> None:
        """The model's prediction in the reference camera frame (see the module docstring)."""
        h, w = self._hw
        self._core.set_reference(
            _check(vertices, "vertices", np.float32, (h, w, 3)),
            _check(normals, "normals", np.float32, (h, w, 3)),
            _check(intensity, "intensity", np.float32, (h, w)),
        )

    def swap_current_to_reference(self) -> None:
        """Frame-to-frame mode: the current frame's maps become the reference."""
        self._core.swap_current_to_reference()

    def track(self, T_ref_cur_init: np.ndarray | None = None) -> TrackingResult:
        """Estimate T_ref_cur starting from T_ref_cur_init (default: identity)."""
        init = np.eye(4) if T_ref_cur_init is None else np.asarray(T_ref_cur_init, dtype=np.float64)
        if init.shape != (4, 4):
            raise ValueError(f"T_ref_cur_init must be 4x4, got {init.shape}")
        r = self._core.track(init)
        return TrackingResult(
            T_ref_cur=r["T_ref_cur"],
            ok=bool(r["ok"]),
            reason=str(r["reason"]),
            inliers=int(r["inliers"]),
            inlier_fraction=float(r["inlier_fraction"]),
            icp_rmse=float(r["icp_rmse"]),
            rgb_count=int(r["rgb_count"]),
            rgb_rmse=float(r["rgb_rmse"]),
            iterations=tuple(int(i) for i in r["iterations"]),
            condition=float(r["condition"]),
        )

    def linearise(self, level: int, T_ref_cur: np.ndarray, rgb_sigma: float = -1.0) -> tuple[np.ndarray, np.ndarray]:
        """The ICP and photometric reduced systems (29 values each: J^T J upper triangle, J^T r,
        sum of squared residuals, count) at one level and pose; rgb_sigma < 0 measures it."""
        return self._core.linearise(level, np.asarray(T_ref_cur, dtype=np.float64), rgb_sigma)

    def pyramid_level(self, which: str, level: int) -> dict[str, np.ndarray]:
        """One level of the "current" or "reference" pyramid as numpy arrays (for tests and tools)."""
        return dict(self._core.pyramid_level(which, level))


def pyr_down_depth(depth: np.ndarray, sigma_depth: float, device: str = "cpu") -> np.ndarray:
    """(H, W) metres -> (H//2, W//2): ElasticFusion's pyrDown (5x5 binomial within 3 sigma of the centre)."""
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.dtype != np.float32:
        raise ValueError(f"depth must be float32 (H, W), got {depth.dtype} {depth.shape}")
    return core().pyr_down_depth(np.ascontiguousarray(depth), sigma_depth, device)


def rgb_to_intensity(rgb: np.ndarray, device: str = "cpu") -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (H, W) intensity 0..255."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return core().rgb_to_intensity(np.ascontiguousarray(rgb), device)


def pyr_down_intensity(intensity: np.ndarray, device: str = "cpu") -> np.ndarray:
    """float32 (H, W), NaN invalid -> (H//2, W//2), 5x5 binomial Gaussian over the valid pixels."""
    intensity = np.asarray(intensity)
    if intensity.ndim != 2 or intensity.dtype != np.float32:
        raise ValueError(f"intensity must be float32 (H, W), got {intensity.dtype} {intensity.shape}")
    return core().pyr_down_intensity(np.ascontiguousarray(intensity), device)


def intensity_gradients(intensity: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """float32 (H, W) -> (dI/dx, dI/dy) per pixel (Sobel / 8), NaN on the border and next to NaN."""
    intensity = np.asarray(intensity)
    if intensity.ndim != 2 or intensity.dtype != np.float32:
        raise ValueError(f"intensity must be float32 (H, W), got {intensity.dtype} {intensity.shape}")
    dx, dy = core().intensity_gradients(np.ascontiguousarray(intensity), device)
    return dx, dy


def pyr_down_points(points: np.ndarray, normalise: bool = False, device: str = "cpu") -> np.ndarray:
    """float32 (H, W, 3), NaN invalid -> (H//2, W//2, 3): 2x2 means, NaN if any is invalid;
    `normalise` for normals."""
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[2] != 3 or points.dtype != np.float32:
        raise ValueError(f"points must be float32 (H, W, 3), got {points.dtype} {points.shape}")
    return core().pyr_down_points(np.ascontiguousarray(points), normalise, device)
