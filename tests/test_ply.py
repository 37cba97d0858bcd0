"""Surfel PLY files: written atomically, read back exactly by us and by Open3D."""

from __future__ import annotations

import numpy as np
import pytest

from semslam.io.ply import read_ply, surfel_vertex_array, write_ply


def random_surfels(n: int, seed: int = 0, semantic: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return surfel_vertex_array(
        positions=rng.uniform(-2, 2, size=(n, 3)),
        normals=normals,
        colours=rng.uniform(0, 255, size=(n, 3)),
        radius=rng.uniform(0.001, 0.01, size=n),
        confidence=rng.uniform(0, 50, size=n),
        labels=rng.integers(0, 41, size=n).astype(np.uint16) if semantic else None,
        label_confidence=rng.uniform(0, 1, size=n) if semantic else None,
        instances=rng.integers(-1, 10, size=n).astype(np.int32) if semantic else None,
    )


@pytest.mark.parametrize("semantic", [False, True])
def test_round_trip(tmp_path, semantic):
    vertices = random_surfels(257, semantic=semantic)
    path = tmp_path / "map.ply"
    write_ply(path, vertices, comments=["semslam test", "label_set nyu40"])
    back, comments = read_ply(path)
    assert comments == ["semslam test", "label_set nyu40"]
    assert back.dtype.names == vertices.dtype.names
    for name in vertices.dtype.names:
        np.testing.assert_array_equal(back[name], vertices[name])
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_open3d_reads_points_normals_colours(tmp_path):
    o3d = pytest.importorskip("open3d", reason="open3d is not installed on this machine")
    vertices = random_surfels(100, semantic=True)
    path = tmp_path / "map.ply"
    write_ply(path, vertices)
    cloud = o3d.io.read_point_cloud(str(path))
    assert len(cloud.points) == 100
    np.testing.assert_allclose(np.asarray(cloud.points), np.stack([vertices[k] for k in "xyz"], 1), atol=1e-6)
    np.testing.assert_allclose(np.asarray(cloud.normals), np.stack([vertices[k] for k in ("nx", "ny", "nz")], 1),
                               atol=1e-6)
    rgb = np.stack([vertices[k] for k in ("red", "green", "blue")], 1) / 255.0
    np.testing.assert_allclose(np.asarray(cloud.colors), rgb, atol=1e-6)
    # the tensor API keeps the extra properties
    tcloud = o3d.t.io.read_point_cloud(str(path))
    np.testing.assert_allclose(tcloud.point["confidence"].numpy().ravel(), vertices["confidence"], rtol=1e-6)


def test_failed_write_leaves_old_file(tmp_path):
    path = tmp_path / "map.ply"
    write_ply(path, random_surfels(10))
    before = path.read_bytes()
    bad = np.zeros(3, dtype=[("x", "<c8")])  # complex: unsupported
    with pytest.raises(ValueError, match="unsupported dtype"):
        write_ply(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.ply"]
