"""Our ENet definition loading the ScanNet state dict matches the ONNX model; TorchSegmenter for
a user's module; bad torch files."""

from __future__ import annotations

import numpy as np
import pytest

from semslam.segmentation.base import SegmentationError
from semslam.segmentation.labels import NYU13, NYU40, VOC
from semslam.segmentation.sidecar import models_dir

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def models():
    root = models_dir()
    if not (root / "enet_scannet_nyu40.pth").is_file():
        pytest.skip(f"pretrained models not found at {root} (set SEMSLAM_MODELS to their folder)")
    return root


@pytest.fixture(scope="module")
def teddy(shared_data):
    import cv2

    files = sorted((shared_data / "tum" / "rgbd_dataset_freiburg3_teddy_first200" / "rgb").glob("*.png"))
    return cv2.cvtColor(cv2.imread(str(files[0])), cv2.COLOR_BGR2RGB)


def test_enet_matches_onnx(models, teddy):
    pytest.importorskip("onnxruntime")
    from semslam.segmentation.onnx import OnnxSegmenter
    from semslam.segmentation.torch_segmenter import TorchSegmenter

    torch.set_num_threads(2)
    ts = TorchSegmenter.from_file(models / "enet_scannet_nyu40.pth", input_size=(320, 240))
    os_ = OnnxSegmenter(models / "enet_scannet_nyu40.onnx", input_size=(320, 240), threads=2)
    assert ts.name == "torch:enet_scannet_nyu40.pth" and ts.model_label_set is NYU40
    lt, size = ts.logits(teddy)
    lo, _ = os_.logits(teddy)
    assert size == (320, 240) and lt.shape == lo.shape == (41, 30, 40)
    assert np.abs(lt - lo).max() < 1e-3 * np.abs(lo).max()  # measured 1.5e-5 at 640x480 (|logits| <= 12.9)
    assert (lt.argmax(0) == lo.argmax(0)).mean() > 0.99
    a, b = ts.segment(teddy), os_.segment(teddy)
    assert a.probs.shape == (480, 640, 41) and (a.labels() == b.labels()).mean() > 0.99


def test_user_module():
    from semslam.segmentation.torch_segmenter import TorchSegmenter

    class Tiny(torch.nn.Module):
        """Class 'chair' where the red channel is bright, 'background' elsewhere, at 1/2 resolution."""

        def forward(self, x):
            red = torch.nn.functional.avg_pool2d(x[:, :1], 2)
            logits = torch.zeros(x.shape[0], 21, *red.shape[2:])
            logits[:, VOC.id_of("chair")] = 10 * red[:, 0]
            return {"out": logits}

    seg = TorchSegmenter(Tiny(), "voc", labels="nyu13", scale=1 / 255, offset=-0.5, size_multiple=2)
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, 30:, 0] = 255
    s = seg.segment(rgb)
    assert s.label_set is NYU13 and s.probs.shape == (40, 60, 14) and s.source == "torch:module"
    lab = s.labels()
    assert (lab[:, 34:] == NYU13.id_of("chair")).all() and (lab[:, :26] == NYU13.id_of("chair")).sum() == 0
    with pytest.raises(SegmentationError, match=r"input size 31x20 does not suit .* width and height 2k"):
        TorchSegmenter(Tiny(), "voc", input_size=(31, 20), size_multiple=2)


def test_bad_torch_files(models, tmp_path):
    from semslam.segmentation.torch_segmenter import TorchSegmenter

    import shutil

    bad = tmp_path / "enet.pth"
    bad.write_bytes(b"not a torch file")
    shutil.copy(models / "enet_scannet_nyu40.json", tmp_path / "enet.json")
    with pytest.raises(SegmentationError, match=r"model file .*enet\.pth is not a torch model file"):
        TorchSegmenter.from_file(bad)
    torch.save({"layer.weight": torch.zeros(2)}, bad)
    with pytest.raises(SegmentationError, match="state dict semslam has no architecture for"):
        TorchSegmenter.from_file(bad)
    state = torch.load(models / "enet_scannet_nyu40.pth", map_location="cpu", weights_only=True)
    state["26.0.weight"] = state["26.0.weight"][:14]
    torch.save(state, bad)
    with pytest.raises(SegmentationError, match=r"lists 41 labels, but .*enet\.pth has 14 output classes"):
        TorchSegmenter.from_file(bad)
    del state["25.2.weight"]
    state["26.0.weight"] = state["26.0.weight"][:14]
    (tmp_path / "enet.json").unlink()
    torch.save(state, bad)
    with pytest.raises(SegmentationError, match=r"model sidecar .*enet\.json not found"):
        TorchSegmenter.from_file(bad)


def test_factory_torch(models):
    from semslam.segmentation import make_segmenter

    s = make_segmenter("torch:enet_scannet_nyu40.pth", "nyu13", "cpu", input_size=(64, 48))
    assert s.label_set is NYU13 and s.segment(np.zeros((48, 64, 3), np.uint8)).probs.shape == (48, 64, 14)


@pytest.mark.parametrize("coarse", [True, False])
def test_post_processing_on_the_torch_device_matches_numpy(coarse):
    """What a GPU segmenter does on its device (softmax, label map, bilinear resize) equals the
    numpy path (run here on CPU tensors)."""
    import torch

    from semslam.segmentation.labels import get_label_set
    from semslam.segmentation.mapping import find_mapping
    from semslam.segmentation.sidecar import logits_to_probs, logits_to_probs_torch

    rng = np.random.default_rng(4)
    mapping = find_mapping(get_label_set("ade20k"), get_label_set("nyu40"))
    h, w = (10, 12) if coarse else (45, 61)
    logits = rng.normal(0, 3, (len(get_label_set("ade20k")), h, w)).astype(np.float32)
    input_size = (96, 80) if coarse else (61, 45)
    expected = logits_to_probs(logits, input_size, (64, 48), mapping)
    got = logits_to_probs_torch(torch.from_numpy(logits)[None], input_size, (64, 48), mapping).numpy()
    assert got.shape == expected.shape == (48, 64, 41)
    np.testing.assert_allclose(got, expected, atol=2e-5)
