"""Semantic metrics against hand-computed confusion matrices; the scene-mesh reader and the
nearest-surface labels of the 3D evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from semslam.eval.semantic import (
    SegmentationAccumulator,
    confusion_matrix,
    nearest_surface_labels,
    read_scene_mesh,
    scores,
    surfel_accuracy,
)

# 3 classes: 0 unannotated (ignored in the ground truth), 1, 2; plus class 3 never in the ground truth.
GT = np.array([[1, 1, 1, 2],
               [2, 2, 0, 0],
               [1, 2, 2, 2]])
PRED = np.array([[1, 1, 2, 2],
                 [2, 0, 1, 3],
                 [3, 2, 2, 1]])


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(GT, PRED, 4)
    # annotated pixels (gt != 0): 10. gt 1 -> pred 1, 1, 2, 3; gt 2 -> pred 2, 2, 0, 2, 2, 1
    expected = np.zeros((4, 4), np.int64)
    expected[1, 1], expected[1, 2], expected[1, 3] = 2, 1, 1
    expected[2, 2], expected[2, 0], expected[2, 1] = 4, 1, 1
    np.testing.assert_array_equal(cm, expected)


def test_scores_by_hand():
    s = scores(confusion_matrix(GT, PRED, 4), ["void", "a", "b", "c"])
    # IoU_1 = 2 / (4 + 3 - 2) = 0.4; IoU_2 = 4 / (6 + 5 - 4) = 4/7; classes present: 1, 2
    assert s.per_class["a"]["iou"] == pytest.approx(0.4)
    assert s.per_class["b"]["iou"] == pytest.approx(4 / 7)
    assert s.miou == pytest.approx((0.4 + 4 / 7) / 2)
    assert s.pixel_accuracy == pytest.approx(6 / 10)
    assert s.class_accuracy == pytest.approx((2 / 4 + 4 / 6) / 2)
    assert s.pixels == 10 and s.classes == 2
    assert set(s.per_class) == {"a", "b"}  # class 3 is predicted but not in the ground truth


def test_mask_restricts_the_pixels():
    mask = np.zeros_like(GT, bool)
    mask[0] = True  # gt 1 1 1 2, pred 1 1 2 2
    s = scores(confusion_matrix(GT, PRED, 4, mask))
    assert s.pixels == 4
    assert s.per_class["1"]["iou"] == pytest.approx(2 / 3)  # TP 2, FN 1, FP 0
    assert s.per_class["2"]["iou"] == pytest.approx(1 / 2)  # TP 1, FP 1
    assert s.miou == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_perfect_and_empty():
    assert scores(confusion_matrix(GT, GT, 4)).miou == 1.0
    assert np.isnan(scores(confusion_matrix(np.zeros((2, 2), int), np.ones((2, 2), int), 4)).miou)


def test_accumulator_pools_frames_and_keeps_each_frames_miou():
    acc = SegmentationAccumulator(4)
    m1 = acc.add(GT, PRED)
    m2 = acc.add(GT, GT)
    assert m1 == pytest.approx((0.4 + 4 / 7) / 2) and m2 == 1.0
    r = acc.result()
    assert r["frames"] == 2 and r["frame_miou_mean"] == pytest.approx((m1 + 1) / 2)
    # pooled: class 1 TP 2+4, gt 4+4, pred 3+4 -> IoU 6/9; class 2 TP 4+6, gt 6+6, pred 5+6 -> 10/13
    assert r["miou"] == pytest.approx((6 / 9 + 10 / 13) / 2)


def test_bad_ids_and_shapes_are_named():
    with pytest.raises(ValueError, match="prediction ids must lie in 0..2"):
        confusion_matrix(GT, PRED, 3)
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(GT, PRED[:2], 4)


def test_surfel_accuracy():
    gt = np.array([1, 1, 2, 2, 2, 0])
    pred = np.array([1, 2, 2, 2, 1, 1])
    r = surfel_accuracy(pred, gt, 3)
    assert r["surfels"] == 5 and r["accuracy"] == pytest.approx(3 / 5)
    assert r["class_accuracy"] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_scene_mesh_labels_of_the_nearest_triangle(tmp_path):
    pytest.importorskip("open3d", reason="synthetic frames are rendered with open3d (test extra)")
    from semslam.datasets.synthetic.writer import SequenceWriter

    # two unit squares (two triangles each): label 2 on z = 0, label 7 on z = 1
    quad = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    vertices = np.concatenate([quad, quad + [0, 0, 1]])
    labels = np.repeat(np.array([2, 7], np.uint16), 6)
    writer = SequenceWriter(tmp_path)
    writer.begin()
    writer.write_scene_mesh({"vertices": vertices, "colours": np.zeros((12, 3), np.uint8), "labels": labels,
                             "instances": np.zeros(12, np.uint16), "faces": np.arange(12, dtype=np.int32).reshape(4, 3)},
                            "test")
    mesh = read_scene_mesh(tmp_path / "scene.ply")
    assert mesh["vertices"].shape == (12, 3) and mesh["faces"].shape == (4, 3)
    points = np.array([[0.5, 0.5, 0.1], [0.2, 0.7, 0.8], [0.5, 0.5, 1.3]])
    found, distance = nearest_surface_labels(points, mesh)
    np.testing.assert_array_equal(found, [2, 7, 7])
    np.testing.assert_allclose(distance, [0.1, 0.2, 0.3], atol=1e-6)
