"""Thin typed wrappers over the C++ core: preprocessing, and later the surfel map and odometry."""

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
from .surfel_map import INTENSITY_SCALE, Prediction, SurfelMap

__all__ = [
    "INTENSITY_SCALE",
    "Prediction",
    "SurfelMap",
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
