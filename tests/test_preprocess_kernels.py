"""Preprocessing kernels (bilateral filter, vertex map, normal map) against their numpy references
on every device, on a real TUM depth frame and on hand-made edge cases."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from devices import DEVICES

from semslam.config import PreprocessConfig
from semslam.datasets.frame import Intrinsics
from semslam.mapping import bilateral_filter, normal_map, preprocess_depth, vertex_map
from semslam.mapping import reference as ref

FR1 = Intrinsics(517.3, 516.5, 318.6, 255.3, 640, 480, depth_scale=5000.0)


@pytest.fixture(scope="module")
def tum_depth(shared_data: Path) -> np.ndarray:
    folder = shared_data / "tum" / "rgbd_dataset_freiburg1_desk_9frames" / "depth"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    first = sorted(folder.glob("*.png"))[0]
    raw = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (480, 640)
    return raw.astype(np.float32) / 5000.0


def edge_case_depth() -> np.ndarray:
    """A slanted plane with holes, NaN, inf, negative and out-of-range readings and a step edge."""
    h, w = 48, 64
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    depth = (1.0 + 0.01 * u + 0.004 * v).astype(np.float32)
    depth[:, 40:] += 0.5  # a depth discontinuity the filter must not smear
    depth[10:14, 10:14] = 0.0
    depth[20, 5] = np.nan
    depth[21, 6] = np.inf
    depth[22, 7] = -1.0
    depth[30, 30] = 20.0  # beyond depth_max
    depth[0, :] = 0.0
    return depth


@pytest.mark.parametrize("device", DEVICES)
def test_bilateral_filter_matches_reference_on_tum(device, tum_depth):
    cfg = PreprocessConfig()
    out = bilateral_filter(tum_depth, cfg, device)
    expected = ref.bilateral_filter(
        tum_depth, cfg.bilateral_radius, cfg.bilateral_sigma_space, cfg.bilateral_sigma_depth, cfg.depth_min, cfg.depth_max
    )
    assert out.dtype == np.float32 and out.shape == tum_depth.shape
    np.testing.assert_allclose(out, expected, rtol=4e-6, atol=1e-6)
    # invalid stays invalid, valid stays valid, and the filter really smooths
    assert np.array_equal(out > 0, expected > 0)
    assert (out > 0).mean() > 0.5
    assert 0 < np.abs(out - tum_depth)[out > 0].mean() < 0.01


@pytest.mark.parametrize("device", DEVICES)
def test_bilateral_filter_edge_cases(device):
    depth = edge_case_depth()
    cfg = PreprocessConfig(depth_max=5.0)
    out = bilateral_filter(depth, cfg, device)
    expected = ref.bilateral_filter(depth, cfg.bilateral_radius, cfg.bilateral_sigma_space,
                                    cfg.bilateral_sigma_depth, cfg.depth_min, cfg.depth_max)
    np.testing.assert_allclose(out, expected, rtol=4e-6, atol=1e-6)
    assert np.isfinite(out).all()
    for y, x in [(20, 5), (21, 6), (22, 7), (30, 30), (11, 11), (0, 3)]:
        assert out[y, x] == 0.0
    # the 0.5 m step survives: sigma_depth 3 cm keeps the two sides apart
    assert float(out[25, 40]) - float(out[25, 39]) > 0.45
    assert abs(float(out[25, 20]) - float(depth[25, 20])) < 1e-4  # a plane's interior is unchanged


@pytest.mark.parametrize("device", DEVICES)
def test_vertex_and_normal_maps_match_reference(device, tum_depth):
    filtered, vertices, normals = preprocess_depth(tum_depth, FR1, PreprocessConfig(), device)
    np.testing.assert_allclose(vertices, ref.vertex_map(filtered, FR1.fx, FR1.fy, FR1.cx, FR1.cy),
                               rtol=1e-6, atol=1e-6, equal_nan=True)
    expected_n = ref.normal_map(vertices)
    np.testing.assert_allclose(normals, expected_n, rtol=0, atol=2e-4, equal_nan=True)
    valid = np.isfinite(normals).all(axis=-1)
    assert valid.mean() > 0.5
    np.testing.assert_allclose(np.linalg.norm(normals[valid], axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_normals_of_known_plane(device):
    """A plane n.x = d seen by a pinhole camera: every interior normal equals n, facing the camera."""
    K = Intrinsics(500.0, 500.0, 31.5, 23.5, 64, 48)
    n_true = np.array([0.3, -0.2, -1.0])
    n_true /= np.linalg.norm(n_true)
    d = -1.5  # plane points satisfy n.x = d, 1.5 m in front of the camera
    u, v = np.meshgrid(np.arange(64), np.arange(48))
    rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u, dtype=float)], axis=-1)
    depth = (d / (rays @ n_true)).astype(np.float32)
    vertices = vertex_map(depth, K, device)
    np.testing.assert_allclose(vertices[..., 2], depth, rtol=1e-6)
    normals = normal_map(vertices, device)
    interior = normals[1:-1, 1:-1].reshape(-1, 3)
    np.testing.assert_allclose(interior, np.broadcast_to(n_true, interior.shape), atol=2e-3)
    assert np.isnan(normals[0]).all() and np.isnan(normals[:, -1]).all()


@pytest.mark.parametrize("device", DEVICES)
def test_vertex_map_invalid_pixels_are_nan(device):
    depth = edge_case_depth()
    K = Intrinsics(500.0, 500.0, 31.5, 23.5, 64, 48)
    vertices = vertex_map(depth, K, device)
    invalid = ~(np.isfinite(depth) & (depth > 0))
    assert np.isnan(vertices[invalid]).all()
    assert np.isfinite(vertices[~invalid]).all()
    np.testing.assert_allclose(vertices, ref.vertex_map(depth, K.fx, K.fy, K.cx, K.cy), rtol=1e-6, equal_nan=True)


def test_wrapper_rejects_bad_input():
    K = Intrinsics(500.0, 500.0, 31.5, 23.5, 64, 48)
    with pytest.raises(ValueError, match="float32"):
        bilateral_filter(np.zeros((48, 64), np.uint16))
    with pytest.raises(ValueError, match="2D"):
        bilateral_filter(np.zeros((48, 64, 1), np.float32))
    with pytest.raises(ValueError, match="64x48"):
        vertex_map(np.zeros((40, 64), np.float32), K)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        normal_map(np.zeros((48, 64, 2), np.float32))
