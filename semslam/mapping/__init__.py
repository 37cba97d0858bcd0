"""Thin typed wrappers over the C++ core: preprocessing, and later the surfel map and odometry."""

from .preprocess import bilateral_filter, normal_map, preprocess_depth, vertex_map

__all__ = ["bilateral_filter", "normal_map", "preprocess_depth", "vertex_map"]
