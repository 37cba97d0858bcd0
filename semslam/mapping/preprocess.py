"""Depth preprocessing in the core: bilateral filter, vertex map, normal map.

Shapes: depth float32 (H, W) metres with 0 = invalid; vertices and normals float32 (H, W, 3) in
the camera frame (x right, y down, z forward), NaN where invalid.
"""

from __future__ import annotations

import numpy as np

from ..config import PreprocessConfig
from ..datasets.frame import Intrinsics
from ..device import core


def _as_depth(depth: np.ndarray, name: str = "depth") -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"{name} must be a 2D (H, W) array, got shape {depth.shape}")
    if depth.dtype != np.float32:
        raise ValueError(f"{name} must be float32 metres, got {depth.dtype} (convert raw sensor units first)")
    return np.ascontiguousarray(depth)


def bilateral_filter(depth: np.ndarray, config: PreprocessConfig | None = None, device: str = "cpu") -> np.ndarray:
    """Edge-preserving smoothing of a depth image (ElasticFusion's bilateral filter).

    Readings outside [depth_min, depth_max] (and NaN/inf) are treated as invalid: they become 0 and
    take no part in their neighbours' means.
    """
    cfg = config or PreprocessConfig()
    return core().bilateral_filter(
        _as_depth(depth),
        cfg.bilateral_radius,
        cfg.bilateral_sigma_space,
        cfg.bilateral_sigma_depth,
        cfg.depth_min,
        cfg.depth_max,
        device,
    )


def vertex_map(depth: np.ndarray, intrinsics: Intrinsics, device: str = "cpu") -> np.ndarray:
    """Back-project every pixel: (H, W) metres -> (H, W, 3) camera-frame points, NaN where depth is 0."""
    depth = _as_depth(depth)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(
            f"depth is {depth.shape[1]}x{depth.shape[0]} but intrinsics are {intrinsics.width}x{intrinsics.height}"
        )
    return core().vertex_map(depth, intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, device)


def normal_map(vertices: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Unit normals from central differences of a vertex map, facing the camera; NaN where invalid."""
    vertices = np.asarray(vertices)
    if vertices.ndim != 3 or vertices.shape[2] != 3 or vertices.dtype != np.float32:
        raise ValueError(f"vertices must be float32 (H, W, 3), got {vertices.dtype} {vertices.shape}")
    return core().normal_map(np.ascontiguousarray(vertices), device)


def preprocess_depth(
    depth: np.ndarray, intrinsics: Intrinsics, config: PreprocessConfig | None = None, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Filtered depth, vertex map and normal map of one frame."""
    filtered = bilateral_filter(depth, config, device)
    vertices = vertex_map(filtered, intrinsics, device)
    return filtered, vertices, normal_map(vertices, device)
