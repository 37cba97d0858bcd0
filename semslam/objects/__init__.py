"""Object-level mapping: geometric segmentation of the depth, instance association and the object
map (Meaningful Maps, MaskFusion, Fusion++)."""

from .geometric import connected_components, geometric_edges, refine_mask, segment_depth

__all__ = ["connected_components", "geometric_edges", "refine_mask", "segment_depth"]
