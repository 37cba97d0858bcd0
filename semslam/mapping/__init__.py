"""Thin typed wrappers over the C++ core: preprocessing and odometry (the surfel map follows)."""

from .odometry import (
    RGBDOdometry,
    TrackingResult,
    intensity_gradients,
    pyr_down_depth,
    pyr_down_intensity,
    pyr_down_points,
    rgb_to_intensity,
)
from .preprocess import bilateral_filter, normal_map, preprocess_depth, vertex_map

__all__ = [
    "RGBDOdometry",
    "TrackingResult",
    "bilateral_filter",
    "intensity_gradients",
    "normal_map",
    "preprocess_depth",
    "pyr_down_depth",
    "pyr_down_intensity",
    "pyr_down_points",
    "rgb_to_intensity",
    "vertex_map",
]
