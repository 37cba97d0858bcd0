"""make_segmenter: spec strings, label sets, devices and bad specs."""

from __future__ import annotations

import pytest

from semslam.config import Config, OracleConfig
from semslam.segmentation import NYU13, SegmentationError, Segmenter, make_segmenter, segmenter_from_config
from semslam.segmentation.sidecar import models_dir


def test_none_and_oracle():
    assert make_segmenter("none", "nyu40", "cpu") is None
    assert make_segmenter("", "nyu40", "cpu") is None
    s = make_segmenter("oracle", "nyu13", "cpu")
    assert isinstance(s, Segmenter) and s.label_set is NYU13 and s.name.startswith("oracle:")
    assert s.config == OracleConfig()
    s = make_segmenter("oracle:confusion=0.3,boundary=2", "nyu40", "cpu", oracle=OracleConfig(seed=9))
    assert (s.config.confusion, s.config.boundary, s.config.seed) == (0.3, 2, 9)


def test_from_config():
    config = Config()
    config.semantics.segmenter = "oracle:mild"
    config.semantics.labels = "nyu13"
    s = segmenter_from_config(config.semantics)
    assert s.label_set is NYU13 and s.config.confusion == 0.08


def test_bad_specs():
    with pytest.raises(SegmentationError, match="unknown segmenter 'caffe:x'; use onnx:PATH"):
        make_segmenter("caffe:x", "nyu40", "cpu")
    with pytest.raises(SegmentationError, match="give the model file, as onnx:PATH"):
        make_segmenter("onnx:", "nyu40", "cpu")
    with pytest.raises(SegmentationError, match="unknown label set 'nyu37'"):
        make_segmenter("oracle", "nyu37", "cpu")
    with pytest.raises(SegmentationError, match="model file missing.onnx not found"):
        make_segmenter("onnx:missing.onnx", "nyu40", "cpu")


def test_onnx_spec_maps_labels():
    pytest.importorskip("onnxruntime")
    if not (models_dir() / "voc_deeplabv3_mnv2_257.onnx").is_file():
        pytest.skip(f"pretrained models not found at {models_dir()}")
    s = make_segmenter("onnx:voc_deeplabv3_mnv2_257.onnx", "nyu13", "cpu")
    assert s.label_set is NYU13 and s.model_label_set.name == "voc" and s.name == "onnx:voc_deeplabv3_mnv2_257.onnx"
    s = make_segmenter("onnx:ade20k_deeplabv3_mnv2.onnx", "nyu13", "cpu", input_size=(257, 193))
    assert s.input_size_for(640, 480) == (257, 193) and s.mapping.name == "ade20k->nyu40->nyu13"
