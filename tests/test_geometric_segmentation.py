"""Geometric segmentation (Tateno / MaskFusion): the edge and connected-component kernels against
their numpy references on every device, a hand-made scene (a box on a floor) and mask refinement."""

from __future__ import annotations

import numpy as np
import pytest
from devices import DEVICES

from semslam.config import ObjectsConfig
from semslam.datasets.frame import Intrinsics
from semslam.mapping.preprocess import normal_map, vertex_map
from semslam.objects.geometric import (
    compact_segments,
    connected_components,
    connected_components_reference,
    geometric_edges,
    geometric_edges_reference,
    refine_mask,
    segment_depth,
)

K = Intrinsics(200.0, 200.0, 79.5, 59.5, 160, 120)


def box_on_floor() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth (120, 160) of a camera looking down 45 deg at a floor 1.5 m away, with a 0.3 m cube
    standing on it in the middle, by ray casting; and the cube's true pixels."""
    h, w = K.height, K.width
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(xs - K.cx) / K.fx, (ys - K.cy) / K.fy, np.ones_like(xs)], -1)
    tilt = np.deg2rad(45.0)
    R = np.array([[1, 0, 0], [0, np.cos(tilt), np.sin(tilt)], [0, -np.sin(tilt), np.cos(tilt)]])
    d = rays @ R.T  # world directions (camera at the origin, world y down, the floor is the plane y = 1.5)
    origin = np.zeros(3)
    t_floor = np.where(d[..., 1] > 1e-6, 1.5 / np.maximum(d[..., 1], 1e-9), np.inf)
    # cube [-0.15, 0.15] x [1.2, 1.5] x [z0, z0 + 0.3] in world (y down)
    z0 = 1.35
    lo, hi = np.array([-0.15, 1.2, z0]), np.array([0.15, 1.5, z0 + 0.3])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - origin) / d, (hi - origin) / d
    tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
    hit_cube = (tmax >= tmin) & (tmin > 0)
    t = np.where(hit_cube & (tmin < t_floor), tmin, t_floor)
    depth = np.where(np.isfinite(t), t, 0).astype(np.float32)  # point = t * ray, and the ray's z is 1
    return depth, hit_cube & (tmin < t_floor)


@pytest.fixture(scope="module")
def scene():
    depth, cube = box_on_floor()
    vertices = vertex_map(depth, K)
    normals = normal_map(vertices)
    return vertices, normals, cube


@pytest.mark.parametrize("device", DEVICES)
def test_edges_match_reference(scene, device):
    vertices, normals, _ = scene
    rng = np.random.default_rng(0)
    noisy = vertices + rng.normal(0, 0.002, vertices.shape).astype(np.float32)
    noisy[rng.random(vertices.shape[:2]) < 0.02] = np.nan
    for radius in (1, 2):
        got_e, got = geometric_edges(noisy, normals, 0.02, 0.1, radius, device)
        ref_e, ref = geometric_edges_reference(noisy, normals, 0.02, 0.1, radius)
        assert np.array_equal(np.isinf(got_e), np.isinf(ref_e))
        finite = np.isfinite(ref_e)
        np.testing.assert_allclose(got_e[finite], ref_e[finite], rtol=1e-5, atol=1e-6)
        near = np.abs(ref_e - 0.02) < 1e-5
        assert np.array_equal(got[~near], ref[~near])


@pytest.mark.parametrize("device", DEVICES)
def test_components_match_reference(device):
    rng = np.random.default_rng(1)
    for density in (0.3, 0.45, 0.6):  # below, near and above percolation: long snaking components
        edges = rng.random((97, 131)) < density
        np.testing.assert_array_equal(connected_components(edges, device), connected_components_reference(edges))
    spiral = np.ones((41, 41), bool)  # a one-pixel-wide spiral: the longest path through the image
    y, x, dy, dx, n = 0, 0, 0, 1, 40
    for _ in range(4 * 41):
        for _ in range(n):
            spiral[y, x] = False
            y, x = y + dy, x + dx
        dy, dx = dx, -dy
        n -= 1 if dy == 0 else 0
        if n <= 0:
            break
    np.testing.assert_array_equal(connected_components(spiral, device), connected_components_reference(spiral))


def test_box_on_floor_is_its_own_segment(scene):
    vertices, normals, cube = scene
    segments = segment_depth(vertices, normals, ObjectsConfig(segment_min_pixels=20))
    ids, counts = np.unique(segments[cube], return_counts=True)
    main = ids[np.argmax(counts)]
    assert main > 0
    seg_mask = segments == main
    # the cube's faces are cut from the floor by the concave floor-cube edge and the depth jump
    iou = np.sum(seg_mask & cube) / np.sum(seg_mask | cube)
    assert np.sum(seg_mask & ~cube) == 0
    assert iou > 0.3  # the top and front faces are separate segments (convex edges between faces)
    covered = np.isin(segments, ids[ids > 0]) & cube
    assert covered.sum() > 0.8 * cube.sum()
    floor = segments[~cube & (segments > 0)]
    assert np.bincount(floor).max() > 0.9 * floor.size  # the floor is one segment


def test_refine_mask_snaps_to_segments():
    segments = np.zeros((40, 60), np.int32)
    segments[:, :30] = 1
    segments[5:25, 30:50] = 2  # the object
    segments[25:, 30:] = 3
    segments[5:25, 50:] = 3
    segments[:5, 30:] = 3
    truth = segments == 2
    blobby = np.zeros_like(truth)
    blobby[3:24, 28:47] = True  # shifted and too small
    refined = refine_mask(blobby, segments, ObjectsConfig())
    assert np.array_equal(refined, truth)
    # a mask over a segment it covers little of keeps its own pixels
    tiny = np.zeros_like(truth)
    tiny[0:3, 0:3] = True
    assert np.array_equal(refine_mask(tiny, segments, ObjectsConfig()), tiny)


def test_compact_segments():
    labels = np.array([[0, 0, -1, 3, 3], [0, -1, -1, 3, 9], [7, -1, -1, -1, 9]], np.int32)
    np.testing.assert_array_equal(compact_segments(labels, 2),
                                  [[1, 1, 0, 2, 2], [1, 0, 0, 2, 3], [0, 0, 0, 0, 3]])
