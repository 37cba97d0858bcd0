"""Geometric segmentation of a depth frame and mask refinement (MaskFusion, after Tateno et al. 2016).

Depth edges are where the surface jumps (the depth-discontinuity term phi_d: how far a
neighbour's point lies off this pixel's tangent plane) or folds inwards (the concavity term
phi_c: 1 - cos of the normals' angle, counted only where the neighbour lies in front of the
tangent plane); pixels with phi_d + lambda phi_c above a threshold are edges, and the
4-connected regions between edges are segments — mostly whole object faces or whole objects
standing on a support. A detector's mask is snapped to the segments it covers most, which moves
its blobby border onto the object's real border.

The edge and component kernels run in the core (cpu / cuda); `*_reference` are their numpy
definitions, used by the tests.

    segments = segment_depth(vertices, normals, config.objects, device="cpu")   # (H, W) int32, 0 = none
    refined = refine_mask(mask, segments, config.objects)
"""

from __future__ import annotations

import numpy as np

from ..config import ObjectsConfig
from ..device import check_device, core


def _maps(vertices: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    normals = np.ascontiguousarray(normals, dtype=np.float32)
    if vertices.ndim != 3 or vertices.shape[2] != 3 or normals.shape != vertices.shape:
        raise ValueError(f"vertices and normals must both be (H, W, 3), got {vertices.shape} and {normals.shape}")
    return vertices, normals


def geometric_edges(vertices: np.ndarray, normals: np.ndarray, threshold: float, concavity_weight: float,
                    radius: int = 1, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(edgeness (H, W) float32, inf where it or a neighbour is invalid; edges (H, W) bool) of a
    camera-frame vertex and normal map (H, W, 3) float32, NaN invalid (see the module doc)."""
    vertices, normals = _maps(vertices, normals)
    edgeness, edges = core().geometric_edges(vertices, normals, float(threshold), float(concavity_weight), int(radius),
                                             check_device(device))
    return edgeness, edges.astype(bool)


def geometric_edges_reference(vertices: np.ndarray, normals: np.ndarray, threshold: float,
                              concavity_weight: float, radius: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """numpy definition of `geometric_edges`."""
    v, n = _maps(vertices, normals)
    h, w, _ = v.shape
    r = int(radius)
    phi_d = np.zeros((h, w), np.float32)
    phi_c = np.zeros((h, w), np.float32)
    valid = np.isfinite(v).all(2) & np.isfinite(n).all(2)
    ok = valid.copy()
    ok[:r], ok[h - r:], ok[:, :r], ok[:, w - r:] = False, False, False, False
    ys, xs = np.nonzero(ok)
    for dy in (-r, 0, r):
        for dx in (-r, 0, r):
            if dx == 0 and dy == 0:
                continue
            vj, nj = v[ys + dy, xs + dx], n[ys + dy, xs + dx]
            ok[ys, xs] &= valid[ys + dy, xs + dx]
            with np.errstate(invalid="ignore"):
                along = np.einsum("ij,ij->i", vj - v[ys, xs], n[ys, xs]).astype(np.float32)
                phi_d[ys, xs] = np.fmax(phi_d[ys, xs], np.abs(along))
                conc = np.where(along >= 0, np.float32(1) - np.einsum("ij,ij->i", nj, n[ys, xs]), np.float32(0))
                phi_c[ys, xs] = np.fmax(phi_c[ys, xs], conc)
    edgeness = np.where(ok, phi_d + np.float32(concavity_weight) * phi_c, np.float32(np.inf)).astype(np.float32)
    return edgeness, edgeness > np.float32(threshold)


def connected_components(edges: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(H, W) int32: for each non-edge pixel the smallest row-major index of its 4-connected
    component of non-edge pixels, -1 on edges."""
    edges = np.ascontiguousarray(np.asarray(edges).astype(np.uint8))
    if edges.ndim != 2:
        raise ValueError(f"edges must be (H, W), got {edges.shape}")
    labels, _ = core().connected_components(edges, check_device(device))
    return labels


def connected_components_reference(edges: np.ndarray) -> np.ndarray:
    """numpy/scipy definition of `connected_components`."""
    from scipy import ndimage

    edges = np.asarray(edges).astype(bool)
    comp, n = ndimage.label(~edges)  # 4-connectivity by default
    flat = comp.ravel()
    first = np.full(n + 1, -1, np.int64)
    idx = np.arange(flat.size)
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(1, n + 1))
    first[1:] = idx[order][starts]
    return first[comp].astype(np.int32)


def compact_segments(labels: np.ndarray, min_pixels: int) -> np.ndarray:
    """Root-index labels (-1 none) -> segment ids 1..K in order of their smallest pixel index;
    segments of fewer than `min_pixels` pixels and edges become 0."""
    flat = labels.ravel()
    roots, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    keep = (roots >= 0) & (counts >= min_pixels)
    new_ids = np.where(keep, np.cumsum(keep), 0).astype(np.int32)
    return new_ids[inverse].reshape(labels.shape)


def segment_depth(vertices: np.ndarray, normals: np.ndarray, config: ObjectsConfig | None = None,
                  device: str = "cpu") -> np.ndarray:
    """Geometric segments (H, W) int32 of a camera-frame vertex/normal map: 1..K, 0 = edge, invalid
    or a segment smaller than config.segment_min_pixels."""
    c = config or ObjectsConfig()
    _, edges = geometric_edges(vertices, normals, c.edge_threshold, c.concavity_weight, c.edge_radius, device)
    return compact_segments(connected_components(edges, device), c.segment_min_pixels)


def refine_mask(mask: np.ndarray, segments: np.ndarray, config: ObjectsConfig | None = None,
                others: list[np.ndarray] | None = None) -> np.ndarray:
    """`mask` snapped to the geometric segments: the union of the segments more than
    config.refine_segment_overlap of which it covers (and that no mask in `others` covers more),
    plus its own pixels on edges. Only its border moves: within config.refine_band px of it
    (0: anywhere), inside and out — a segment that joins a thing to what it stands in (a door flush
    with its wall) adds no more than the band, and the parts of a thing that noisy depth cuts into
    edges and slivers (a lamp's stem) stay. The original mask when that would keep less than
    config.refine_min_keep of it (the object is not separated from its surroundings by depth)."""
    c = config or ObjectsConfig()
    mask = np.asarray(mask, bool)
    k = int(segments.max()) + 1
    size = np.bincount(segments.ravel(), minlength=k)
    covered = np.bincount(segments[mask], minlength=k)
    chosen = covered > c.refine_segment_overlap * np.maximum(size, 1)
    for other in others or ():
        chosen &= covered >= np.bincount(segments[np.asarray(other, bool)], minlength=k)
    chosen[0] = False
    refined = chosen[segments]
    import cv2

    if c.refine_band > 0:
        refined |= mask & (segments == 0)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * c.refine_band + 1, 2 * c.refine_band + 1))
        m8 = mask.astype(np.uint8)
        inner, outer = cv2.erode(m8, kernel) > 0, cv2.dilate(m8, kernel) > 0
        refined = (refined & outer) | inner
    elif refined.any():
        near = cv2.dilate(refined.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        refined |= mask & (segments == 0) & near
    if refined.sum() < c.refine_min_keep * mask.sum():
        return mask
    return refined
