"""Label maps: complete tables, probability preservation, and known class pairs."""

from __future__ import annotations

import numpy as np
import pytest

from semslam.segmentation.base import SegmentationError
from semslam.segmentation.labels import ADE20K, COCO, NYU13, NYU40, VOC
from semslam.segmentation.mapping import LabelMapping, available_mappings, find_mapping

PAIRS = [("ade20k", "nyu40"), ("ade20k", "nyu13"), ("voc", "nyu13"), ("coco", "nyu40"), ("coco", "nyu13"),
         ("nyu40", "nyu13")]  # fmt: skip


def test_available():
    assert set(PAIRS) <= set(available_mappings())


@pytest.mark.parametrize("source, target", PAIRS)
def test_rows_sum_preserved(source, target):
    m = find_mapping(source, target)
    assert m.matrix.sum(axis=1).tolist() == [1.0] * len(m.source)  # every source class goes exactly once
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(7, 9, len(m.source))).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    out = m.apply(probs)
    assert out.shape == (7, 9, len(m.target)) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    # many-to-one: each target column is exactly the sum of its sources' columns
    for t in range(len(m.target)):
        np.testing.assert_allclose(out[..., t], probs[..., m.index == t].sum(-1), atol=1e-6)
    half = m.apply(probs.astype(np.float16))
    assert half.dtype == np.float16 and np.abs(half.astype(np.float32) - out).max() < 2e-3


@pytest.mark.parametrize(
    "source, target, pairs",
    [
        ("ade20k", "nyu40", {"floor": "floor", "wall": "wall", "ceiling": "ceiling", "table": "table",
                             "windowpane": "window", "painting": "picture", "monitor": "television",
                             "television receiver": "television", "cushion": "pillow", "rug": "floor mat",
                             "armchair": "chair", "bookcase": "bookshelf", "refrigerator": "refridgerator",
                             "plaything": "otherprop", "sky": "unannotated", "others": "unannotated",
                             "chest of drawers": "dresser", "blind": "blinds"}),
        ("ade20k", "nyu13", {"floor": "floor", "wall": "wall", "door": "wall", "table": "table", "desk": "table",
                             "cabinet": "furniture", "book": "books", "plaything": "objects", "sky": "unannotated"}),
        ("voc", "nyu13", {"chair": "chair", "sofa": "sofa", "diningtable": "table", "tvmonitor": "tv",
                          "background": "unannotated", "person": "objects", "aeroplane": "unannotated"}),
        ("coco", "nyu40", {"chair": "chair", "couch": "sofa", "dining table": "table", "tv": "television",
                           "bed": "bed", "book": "books", "teddy bear": "otherprop", "refrigerator": "refridgerator",
                           "background": "unannotated", "giraffe": "unannotated"}),
        ("nyu40", "nyu13", {"wall": "wall", "floor": "floor", "floor mat": "floor", "cabinet": "furniture",
                            "desk": "table", "picture": "painting", "television": "tv", "blinds": "window",
                            "curtain": "window", "door": "wall", "books": "books", "otherprop": "objects",
                            "unannotated": "unannotated"}),
    ],
)  # fmt: skip
def test_known_mappings(source, target, pairs):
    m = find_mapping(source, target)
    assert {s: m.target_of(s) for s in pairs} == pairs


def test_nyu40_to_nyu13_full_table():
    # SemanticFusion's / Couprie et al.'s 40 -> 13 table as one array, ids 1..40
    expected = [12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7, 7, 5, 7, 3, 2, 6, 11, 7, 7, 7, 7, 7,
                7, 6, 7, 7, 7, 7, 7, 7, 6, 7]  # fmt: skip
    assert find_mapping(NYU40, NYU13).index[1:].tolist() == expected


def test_probability_mass_of_a_pixel():
    m = find_mapping(ADE20K, NYU40)
    p = np.zeros((1, 1, len(ADE20K)), np.float32)
    p[0, 0, ADE20K.id_of("armchair")] = 0.3
    p[0, 0, ADE20K.id_of("chair")] = 0.2
    p[0, 0, ADE20K.id_of("swivel chair")] = 0.1
    p[0, 0, ADE20K.id_of("sky")] = 0.4
    out = m.apply(p)[0, 0]
    assert out[NYU40.id_of("chair")] == pytest.approx(0.6) and out[0] == pytest.approx(0.4)
    assert m.apply_labels(np.array([[ADE20K.id_of("floor")]]))[0, 0] == NYU40.id_of("floor")


def test_identity_and_missing():
    assert find_mapping("voc", "voc").is_identity
    with pytest.raises(SegmentationError, match="no label map from 'nyu13' .* to 'ade20k'"):
        find_mapping("nyu13", "ade20k")


def test_table_leaving_class_unmapped_is_an_error():
    table = {"unannotated": ["background"], "chair": ["chair"], "sofa": ["sofa"]}
    with pytest.raises(SegmentationError, match=r"voc->nyu13 leaves 18 class\(es\) of 'voc' unmapped: 'aeroplane' \(id 1\)"):
        LabelMapping.from_table(VOC, NYU13, table)
    with pytest.raises(SegmentationError, match="'sofa' is not a class of 'nyu13'|'couch' is not a class of 'voc'"):
        LabelMapping.from_table(VOC, NYU13, {"unannotated": ["couch"]})
    with pytest.raises(SegmentationError, match="mapped twice"):
        LabelMapping.from_table(VOC, NYU13, {"chair": ["chair"], "sofa": ["chair"]})
    with pytest.raises(SegmentationError, match="has 21"):
        find_mapping(VOC, NYU13).apply(np.zeros((2, 2, 20), np.float32))


def test_coco_chain():
    m = find_mapping(COCO, NYU13)
    assert m.target_of("couch") == "sofa" and m.target_of("tv") == "tv"
