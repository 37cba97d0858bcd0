"""The full map state (map.npz): every surfel field and class probability, the label set, the config
and the trajectory round-trip through a file and back into a SurfelMap; map.ply with labels."""

from __future__ import annotations

import numpy as np
import pytest

from semslam.config import Config
from semslam.datasets.frame import Intrinsics
from semslam.io.map_state import MapStateError, load_map_state, save_map_state
from semslam.io.ply import parse_label_set_comments, read_ply
from semslam.io.run_files import write_map_ply
from semslam.mapping.surfel_map import SurfelMap
from semslam.segmentation.labels import LabelSet, get_label_set

NYU13 = get_label_set("nyu13")


def random_surfels(n: int, num_classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(n, 3)).astype(np.float32)
    probs = rng.random((n, num_classes)).astype(np.float32)
    return {
        "positions": rng.uniform(-2, 2, (n, 3)).astype(np.float32),
        "normals": normals / np.linalg.norm(normals, axis=1, keepdims=True),
        "colours": rng.uniform(0, 255, (n, 3)).astype(np.float32),
        "radii": rng.uniform(0.001, 0.01, n).astype(np.float32),
        "confidences": rng.uniform(0, 30, n).astype(np.float32),
        "init_times": rng.integers(0, 50, n).astype(np.int32),
        "last_update_times": rng.integers(50, 100, n).astype(np.int32),
        "instance_ids": rng.integers(-1, 5, n).astype(np.int32),
        "class_probs": probs / probs.sum(axis=1, keepdims=True),
    }


def map_with(surfels: dict, num_classes: int) -> SurfelMap:
    m = SurfelMap(Config().map, "cpu", num_classes=num_classes)
    m.set_surfels(surfels)
    return m


def test_round_trip_into_a_surfel_map(tmp_path):
    config = Config()
    config.semantics.labels = "nyu13"
    original = map_with(random_surfels(500, len(NYU13)), len(NYU13))
    stamps = np.array([0.0, 1 / 30, 2 / 30])
    poses = np.stack([np.eye(4)] * 3)
    poses[1, :3, 3] = (0.1, 0.2, 0.3)
    k = Intrinsics(262.5, 262.5, 159.5, 119.5, 320, 240, 5000.0)
    save_map_state(tmp_path / "map.npz", original.surfels(), config=config, label_set=NYU13, timestamps=stamps,
                   T_world_cam=poses, intrinsics=k, time=3, extra={"stopped": ""})
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary left

    state = load_map_state(tmp_path)  # a run folder finds its map.npz
    assert state.size == 500 and state.num_classes == 14 and state.time == 3
    assert state.label_set is NYU13
    assert state.config == config and state.intrinsics == k
    np.testing.assert_array_equal(state.timestamps, stamps)
    np.testing.assert_array_equal(state.T_world_cam, poses)
    loaded = state.to_surfel_map("cpu")
    assert loaded.num_classes == 14
    before, after = original.surfels(), loaded.surfels()
    for name in ("positions", "normals", "colours", "radii", "confidences", "init_times", "last_update_times",
                 "instance_ids", "class_probs"):
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    labels, confidence = state.labels()
    np.testing.assert_array_equal(labels, before["class_probs"].argmax(axis=1))
    np.testing.assert_allclose(confidence, before["class_probs"].max(axis=1))


def test_custom_label_set_and_map_without_classes(tmp_path):
    custom = LabelSet("mine", ("unannotated", "thing", "stuff"), np.array([[0, 0, 0], [9, 9, 9], [1, 2, 3]], np.uint8))
    surfels = random_surfels(20, 3)
    save_map_state(tmp_path / "a.npz", surfels, config=Config(), label_set=custom)
    state = load_map_state(tmp_path / "a.npz")
    assert state.label_set.name == "mine" and state.label_set.names == custom.names
    np.testing.assert_array_equal(state.label_set.colours, custom.colours)
    assert len(state.timestamps) == 0 and state.T_world_cam.shape == (0, 4, 4)

    plain = {k: v for k, v in random_surfels(20, 3).items() if k != "class_probs"}
    save_map_state(tmp_path / "b.npz", plain, config=Config())
    state = load_map_state(tmp_path / "b.npz")
    assert state.label_set is None and state.num_classes == 0
    assert state.to_surfel_map("cpu").size == 20


def test_bad_files_are_named(tmp_path):
    with pytest.raises(MapStateError, match="not found"):
        load_map_state(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(MapStateError, match="junk.npz is not a semslam map state"):
        load_map_state(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(MapStateError, match="not a semslam map state"):
        load_map_state(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="class_probs have 3 columns but the label set is missing"):
        save_map_state(tmp_path / "c.npz", random_surfels(5, 3), config=Config())


def test_map_ply_carries_labels_and_names_the_classes(tmp_path):
    o3d = pytest.importorskip("open3d")
    surfels = random_surfels(300, len(NYU13), seed=3)
    n = write_map_ply(tmp_path / "map.ply", surfels, comments=["test"], label_set=NYU13)
    assert n == 300
    vertices, comments = read_ply(tmp_path / "map.ply")
    assert vertices.dtype.names[-2:] == ("label", "label_confidence")
    assert vertices["label"].dtype == np.uint16 and vertices["label_confidence"].dtype == np.float32
    np.testing.assert_array_equal(vertices["label"], surfels["class_probs"].argmax(axis=1))
    np.testing.assert_allclose(vertices["label_confidence"], surfels["class_probs"].max(axis=1))
    assert parse_label_set_comments(comments) == ("nyu13", list(NYU13.names))
    cloud = o3d.io.read_point_cloud(str(tmp_path / "map.ply"))
    assert len(cloud.points) == 300 and cloud.has_normals() and cloud.has_colors()
    np.testing.assert_allclose(np.asarray(cloud.points), surfels["positions"], atol=1e-6)
