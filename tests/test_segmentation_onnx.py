"""ONNX segmenters on real frames (../shared/models, ../shared/data) and their bad-input errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from semslam.segmentation.base import Segmentation, SegmentationError
from semslam.segmentation.labels import NYU13, NYU40, VOC
from semslam.segmentation.sidecar import models_dir

pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def models() -> Path:
    root = models_dir()
    if not (root / "enet_scannet_nyu40.onnx").is_file():
        pytest.skip(f"pretrained models not found at {root} (set SEMSLAM_MODELS to their folder)")
    return root


def _rgb(folder: Path, k: int) -> np.ndarray:
    import cv2

    files = sorted((folder / "rgb").glob("*.png"))
    return cv2.cvtColor(cv2.imread(str(files[k])), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def teddy(shared_data) -> np.ndarray:
    return _rgb(shared_data / "tum" / "rgbd_dataset_freiburg3_teddy_first200", 0)


@pytest.fixture(scope="module")
def desk(shared_data) -> np.ndarray:
    return _rgb(shared_data / "tum" / "rgbd_dataset_freiburg1_desk_9frames", 4)


@pytest.fixture(scope="module")
def enet(models):
    from semslam.segmentation.onnx import OnnxSegmenter

    return OnnxSegmenter(models / "enet_scannet_nyu40.onnx", labels="nyu40", threads=2)


@pytest.fixture(scope="module")
def ade(models):
    from semslam.segmentation.onnx import OnnxSegmenter

    return OnnxSegmenter(models / "ade20k_deeplabv3_mnv2.onnx", labels="nyu40", threads=2)


def _fraction(labels: np.ndarray, label_set, names) -> float:
    ids = [label_set.id_of(n) for n in names]
    return float(np.isin(labels, ids).mean())


def _check_probs(seg: Segmentation, h=480, w=640):
    assert seg.probs.shape[:2] == (h, w) and seg.probs.shape[2] == len(seg.label_set)
    sums = seg.probs.astype(np.float32).sum(-1)
    assert np.abs(sums - 1).max() < 2e-3


def test_enet_teddy_and_desk(enet, teddy, desk):
    seg = enet.segment(teddy)
    _check_probs(seg)
    assert seg.label_set is NYU40 and seg.source == "onnx:enet_scannet_nyu40.onnx"
    assert seg.extra["input_size"] == (640, 480)
    lab = seg.labels()
    # the floor behind the teddy (rows 200-300, left of it) is floor; the teddy on its box is an
    # object/furniture class, not wall/floor/ceiling
    assert _fraction(lab[200:300, 0:200], NYU40, ["floor"]) > 0.5
    assert _fraction(lab[60:320, 260:440], NYU40, ["wall", "floor", "ceiling"]) < 0.1
    lab = enet.segment(desk).labels()
    assert _fraction(lab[-60:], NYU40, ["floor"]) > 0.4  # the floor below the desk


def test_enet_float16_matches_float32(models, teddy):
    from semslam.segmentation.onnx import OnnxSegmenter

    s16 = OnnxSegmenter(models / "enet_scannet_nyu40.onnx", dtype=np.float16, threads=2)
    s32 = OnnxSegmenter(models / "enet_scannet_nyu40.onnx", dtype=np.float32, threads=2)
    a, b = s16.segment(teddy), s32.segment(teddy)
    assert a.probs.dtype == np.float16 and b.probs.dtype == np.float32
    assert np.abs(a.probs.astype(np.float32) - b.probs).max() < 2e-3
    assert (a.labels() == b.labels()).mean() > 0.999


def test_ade20k_desk_and_teddy(models, ade, desk, teddy):
    from semslam.segmentation.onnx import OnnxSegmenter

    seg = ade.segment(desk)
    _check_probs(seg)
    assert seg.extra["model_label_set"] == "ade20k" and seg.extra["input_size"] == (513, 385)
    lab = seg.labels()
    assert _fraction(lab[-60:], NYU40, ["floor"]) > 0.6  # the floor under the desk
    assert _fraction(lab, NYU40, ["table", "desk"]) > 0.1  # the desk top
    # the teddy (rows 60-320, columns 260-440) is a thing (ADE calls it 'person'), not structure
    own = OnnxSegmenter(models / "ade20k_deeplabv3_mnv2.onnx", threads=2, input_size=(257, 193))
    seg = own.segment(teddy)
    assert len(seg.label_set) == 151 and seg.extra["input_size"] == (257, 193)
    _check_probs(seg)
    names = seg.label_set.names
    lab = seg.labels()[60:320, 260:440]
    assert np.isin(lab, [names.index(n) for n in ("wall", "floor", "ceiling")]).mean() < 0.1


def test_voc_finds_the_monitor(models, desk):
    from semslam.segmentation.onnx import OnnxSegmenter

    seg = OnnxSegmenter(models / "voc_deeplabv3_mnv2_257.onnx", labels="nyu13", threads=2).segment(desk)
    _check_probs(seg)
    assert seg.label_set is NYU13 and seg.extra["input_size"] == (257, 257)
    tv = seg.labels() == NYU13.id_of("tv")
    assert 0.05 < tv.mean() < 0.3
    assert tv[:240, :320].mean() > 0.3  # the monitor fills much of the top-left quadrant
    ys, xs = np.nonzero(tv)
    assert ys.mean() < 200 and xs.mean() < 260


def test_input_size_rules(models):
    from semslam.segmentation.onnx import OnnxSegmenter

    with pytest.raises(SegmentationError, match=r"330x250 does not suit .* width and height 8k"):
        OnnxSegmenter(models / "enet_scannet_nyu40.onnx", input_size=(330, 250))
    with pytest.raises(SegmentationError, match=r"300x300 does not suit .* fixed 257x257"):
        OnnxSegmenter(models / "voc_deeplabv3_mnv2_257.onnx", input_size=(300, 300))
    s = OnnxSegmenter(models / "enet_scannet_nyu40.onnx", input_size=(320, 240), threads=2)
    seg = s.segment(np.full((120, 160, 3), 128, np.uint8))
    assert seg.probs.shape == (120, 160, 41) and seg.extra["input_size"] == (320, 240)
    assert s.input_size_for(640, 480) == (320, 240)
    assert OnnxSegmenter(models / "enet_scannet_nyu40.onnx").input_size_for(642, 481) == (640, 480)


def test_bad_rgb_and_size(enet):
    with pytest.raises(SegmentationError, match=r"rgb must be uint8 \(H, W, 3\), got float32"):
        enet.segment(np.zeros((48, 64, 3), np.float32))
    seg = enet.segment(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(SegmentationError, match="is 64x48, but the frame is 640x480"):
        seg.check_size(640, 480)


def test_cuda_request_without_provider(models):
    import onnxruntime as ort

    from semslam.segmentation.onnx import OnnxSegmenter

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(SegmentationError, match="no CUDAExecutionProvider"):
        OnnxSegmenter(models / "voc_deeplabv3_mnv2_257.onnx", device="cuda:0")
    with pytest.raises(SegmentationError, match="cpu, cuda or cuda:N"):
        OnnxSegmenter(models / "voc_deeplabv3_mnv2_257.onnx", device="gpu")


# --- bad model files --------------------------------------------------------------------------------


def _voc_copy(models: Path, tmp_path: Path, edit=None) -> Path:
    model = tmp_path / "voc.onnx"
    model.symlink_to(models / "voc_deeplabv3_mnv2_257.onnx")
    sidecar = json.loads((models / "voc_deeplabv3_mnv2_257.json").read_text())
    if edit:
        edit(sidecar)
    (tmp_path / "voc.json").write_text(json.dumps(sidecar))
    return model


def test_missing_model(tmp_path):
    from semslam.segmentation.onnx import OnnxSegmenter

    with pytest.raises(SegmentationError, match=r"model file .*nothere\.onnx not found"):
        OnnxSegmenter(tmp_path / "nothere.onnx")
    with pytest.raises(SegmentationError, match=r"model file nothere_either\.onnx not found .* SEMSLAM_MODELS"):
        OnnxSegmenter("nothere_either.onnx")


def test_not_onnx(models, tmp_path):
    from semslam.segmentation.onnx import OnnxSegmenter

    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"this is not a protobuf" * 10)
    shutil.copy(models / "voc_deeplabv3_mnv2_257.json", tmp_path / "garbage.json")
    with pytest.raises(SegmentationError, match=r"model file .*garbage\.onnx is not an ONNX model"):
        OnnxSegmenter(bad)


def test_missing_sidecar(models, tmp_path):
    from semslam.segmentation.onnx import OnnxSegmenter

    (tmp_path / "voc.onnx").symlink_to(models / "voc_deeplabv3_mnv2_257.onnx")
    with pytest.raises(SegmentationError, match=r"model sidecar .*voc\.json not found"):
        OnnxSegmenter(tmp_path / "voc.onnx")


def test_sidecar_disagreeing_with_model(models, tmp_path):
    from semslam.segmentation.onnx import OnnxSegmenter

    def fewer_labels(d):
        d["labels"] = d["labels"][:20]
        d["num_classes"] = 20
        d["outputs"][0]["shape"] = [1, 20, 257, 257]

    with pytest.raises(SegmentationError, match=r"lists 20 labels, but output 'logits' of .*voc\.onnx has shape \[1, 21, 257, 257\]"):
        OnnxSegmenter(_voc_copy(models, tmp_path, fewer_labels))

    def other_size(d):
        d["input"]["shape"] = [1, 3, 513, 513]

    (tmp_path / "voc.onnx").unlink()
    with pytest.raises(SegmentationError, match=r"says input 'input' has shape \[1, 3, 513, 513\], but .*voc\.onnx has \[1, 3, 257, 257\]"):
        OnnxSegmenter(_voc_copy(models, tmp_path, other_size))

    def other_name(d):
        d["input"]["name"] = "image"

    (tmp_path / "voc.onnx").unlink()
    with pytest.raises(SegmentationError, match=r"names input 'image', but .*voc\.onnx has inputs \['input'\]"):
        OnnxSegmenter(_voc_copy(models, tmp_path, other_name))

    def bad_norm(d):
        d["input"]["normalisation"] = "whatever the camera gives"

    (tmp_path / "voc.onnx").unlink()
    with pytest.raises(SegmentationError, match=r"voc\.json: cannot read the input normalisation"):
        OnnxSegmenter(_voc_copy(models, tmp_path, bad_norm))


def test_instance_model_is_refused_clearly(models):
    from semslam.segmentation.onnx import OnnxSegmenter

    with pytest.raises(SegmentationError, match=r"yolov8n_seg_coco\.json: output 'output0' of shape \[1, 116, 8400\] is not per-pixel logits"):
        OnnxSegmenter(models / "yolov8n_seg_coco.onnx")


def test_labels_without_a_map(models):
    from semslam.segmentation.onnx import OnnxSegmenter

    with pytest.raises(SegmentationError, match="no label map from 'voc' .* to 'nyu40'"):
        OnnxSegmenter(models / "voc_deeplabv3_mnv2_257.onnx", labels="nyu40")
    assert OnnxSegmenter(models / "voc_deeplabv3_mnv2_257.onnx").label_set is VOC
