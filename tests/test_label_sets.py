"""Label sets: names, ids, colours, and agreement with the model sidecars' label lists."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from semslam.segmentation.labels import (
    ADE20K, COCO, LABEL_SETS, NYU13, NYU40, VOC, LabelSet, get_label_set, label_set_for_names, matches_names,
)  # fmt: skip

MODELS = Path(os.environ.get("SEMSLAM_MODELS", Path(__file__).resolve().parents[2] / "shared" / "models"))


def test_sizes_and_lookup():
    assert [len(get_label_set(n)) for n in ("nyu40", "nyu13", "ade20k", "voc", "coco")] == [41, 14, 151, 21, 81]
    assert set(LABEL_SETS) == {"nyu40", "nyu13", "ade20k", "voc", "coco"}
    with pytest.raises(KeyError, match="known: ade20k, coco, nyu13, nyu40, voc"):
        get_label_set("cityscapes")


@pytest.mark.parametrize("label_set", [NYU40, NYU13, ADE20K, VOC, COCO], ids=lambda s: s.name)
def test_colours_unique_and_id0_dark(label_set: LabelSet):
    colours = label_set.colours
    assert colours.dtype == np.uint8 and colours.shape == (len(label_set), 3)
    assert len({tuple(c) for c in colours}) == len(label_set), "every class needs its own colour"
    assert tuple(colours[0]) == (0, 0, 0)
    image = label_set.colourize(np.array([[0, len(label_set) - 1]]))
    assert image.shape == (1, 2, 3)


def test_known_ids():
    assert NYU13.names[1:] == ("bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "painting",
                               "sofa", "table", "tv", "wall", "window")
    assert ADE20K.id_of("wall") == 1 and ADE20K.id_of("floor") == 4 and ADE20K.id_of("flag") == 150
    assert ADE20K.id_of("screen door") == 59 and ADE20K.id_of("screen") == 131
    assert VOC.id_of("chair") == 9 and VOC.id_of("tvmonitor") == 20
    assert tuple(VOC.colours[15]) == (192, 128, 128)  # VOC's palette: person
    assert COCO.id_of("person") == 1 and COCO.id_of("teddy bear") == 78  # detector index + 1
    assert tuple(NYU13.colours[NYU13.id_of("wall")]) == tuple(NYU40.colours[NYU40.id_of("wall")])


@pytest.mark.parametrize(
    "sidecar, expected",
    [("enet_scannet_nyu40.json", NYU40), ("ade20k_deeplabv3_mnv2.json", ADE20K),
     ("voc_deeplabv3_mnv2_257.json", VOC)],
)  # fmt: skip
def test_sidecar_labels_name_our_sets(sidecar, expected):
    path = MODELS / sidecar
    if not path.is_file():
        pytest.skip(f"model sidecar {path} not found (set SEMSLAM_MODELS)")
    labels = json.loads(path.read_text())["labels"]
    assert label_set_for_names(labels, "x") is expected


def test_coco_sidecar_is_coco_after_background():
    path = MODELS / "yolov8n_seg_coco.json"
    if not path.is_file():
        pytest.skip(f"model sidecar {path} not found (set SEMSLAM_MODELS)")
    assert tuple(json.loads(path.read_text())["labels"]) == COCO.names[1:]


def test_unknown_names_make_a_new_set():
    assert not matches_names(NYU40, NYU40.names[:-1])
    s = label_set_for_names(["bg", "thing", "thing"], "mine")
    assert s.name == "mine" and s.names == ("bg", "thing", "thing (2)") and s.colours.shape == (3, 3)
