"""YOLOv8-seg instance segmenter: NMS and box IoU on hand-made cases, letterbox geometry, decoding
and mask sampling on hand-made network outputs, and detections on a real fr1/desk frame."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from semslam.segmentation import COCO, SegmentationError, make_segmenter, models_dir
from semslam.segmentation.yolo import Letterbox, box_iou, decode, instance_masks, nms, probs_from_instances

MODEL = "yolov8n_seg_coco.onnx"
DESK_FRAME = "tum/rgbd_dataset_freiburg1_desk_9frames/rgb/1305031453.359684.png"


def test_box_iou_numbers():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10], [2, 2, 4, 4]])
    np.testing.assert_allclose(box_iou(a, b)[0], [50 / 150, 0.0, 1.0, 4 / 100])


def test_nms_hand_made():
    boxes = np.array([
        [0, 0, 10, 10],    # 0 class 1, score 0.9
        [1, 0, 11, 10],    # 1 class 1, IoU 0.818 with 0 -> suppressed
        [1, 0, 11, 10],    # 2 class 2, same box as 1 but another class -> kept
        [5, 0, 15, 10],    # 3 class 1, IoU 1/3 with 0 -> kept
        [100, 100, 110, 110],  # 4 class 1, alone
        [0, 0, 10, 10],    # 5 class 1, identical to 0 with equal score -> suppressed (lower index wins)
    ], float)  # fmt: skip
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.9])
    classes = np.array([1, 1, 2, 1, 1, 1])
    np.testing.assert_array_equal(nms(boxes, scores, classes, 0.5), [0, 3, 2, 4])
    # IoU 1/3 of boxes 0 and 3 exceeds 0.3: box 3 goes too
    np.testing.assert_array_equal(nms(boxes, scores, classes, 0.3), [0, 2, 4])
    # a threshold above every IoU only removes nothing but exact duplicates (IoU 1 > 0.99)
    np.testing.assert_array_equal(nms(boxes, scores, classes, 0.99), [0, 1, 3, 2, 4])
    np.testing.assert_array_equal(nms(boxes, scores, classes, 0.5, max_detections=2), [0, 3])
    assert nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5).shape == (0,)


def test_letterbox_geometry():
    box = Letterbox.fit(640, 480, 640)
    assert (box.scale, box.left, box.top, box.new_w, box.new_h) == (1.0, 0, 80, 640, 480)
    small = Letterbox.fit(320, 240, 640)
    assert (small.scale, small.left, small.top) == (2.0, 0, 80)
    np.testing.assert_allclose(small.to_frame(np.array([[0, 80, 640, 560]])), [[0, 0, 320, 240]])
    img = np.zeros((240, 320, 3), np.uint8)
    img[:] = 7
    out = small.apply(img)
    assert out.shape == (640, 640, 3) and np.all(out[:80] == 114) and np.all(out[80:560] == 7)


def test_decode_and_masks_from_hand_made_outputs():
    """Two anchors of class 3 (one suppressed), one of class 5; prototype 0 is +8 on a square and
    -8 elsewhere: a mask with coefficient +1 is that square cut to the box, in frame pixels."""
    letterbox = Letterbox.fit(320, 240, 640)  # scale 2, top 80
    out = np.zeros((4 + 80 + 2, 5), np.float32)
    # input-pixel boxes (x0, y0, x1, y1): (100, 180, 300, 380) twice (shifted 4 px), and (400, 200, 500, 300)
    for a, (x0, y0, x1, y1, cls, score) in enumerate([(100, 180, 300, 380, 3, 0.9), (104, 180, 304, 380, 3, 0.6),
                                                     (400, 200, 500, 300, 5, 0.5), (0, 0, 10, 10, 7, 0.1)]):
        out[:4, a] = np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]) / 640
        out[4 + cls, a] = score
    out[84, :] = 1.0
    det = decode(out, 80, letterbox, score_threshold=0.25, iou_threshold=0.7, max_detections=300)
    np.testing.assert_array_equal(det.classes, [3, 5])
    np.testing.assert_allclose(det.scores, [0.9, 0.5])
    np.testing.assert_allclose(det.boxes, [[50, 50, 150, 150], [200, 60, 250, 110]])
    proto = np.full((2, 160, 160), -8.0, np.float32)
    proto[0, 20:60, 20:60] = 8.0  # input pixels 80..240 -> frame x 40..120, y 0..80
    masks = instance_masks(det, proto, letterbox, 320, 240, mask_threshold=0.5)
    expected = np.zeros((240, 320), bool)
    expected[50:80, 50:120] = True  # the square cut to box 0 (frame 50..150)
    # bilinear sampling moves the edge by at most a pixel
    assert np.sum(masks[0] ^ expected) <= 2 * (30 + 70) + 4
    assert not masks[1].any()


def test_probs_from_instances():
    from semslam.segmentation.base import InstanceMask

    a = np.zeros((4, 5), bool)
    a[:2, :2] = True
    b = np.zeros((4, 5), bool)
    b[1:3, 1:3] = True
    probs = probs_from_instances([InstanceMask(a, 2, 0.6), InstanceMask(b, 4, 0.8)], 6, 4, 5)
    np.testing.assert_allclose(probs.sum(axis=2), 1.0)
    np.testing.assert_allclose(probs[0, 0], [0.4, 0, 0.6, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(probs[1, 1], [0.2, 0, 0, 0, 0.8, 0], atol=1e-6)  # overlap: the higher score
    np.testing.assert_allclose(probs[3, 4], [1, 0, 0, 0, 0, 0])


@pytest.fixture(scope="module")
def yolo():
    if not (models_dir() / MODEL).is_file():
        pytest.skip(f"{MODEL} not found in {models_dir()} (set SEMSLAM_MODELS)")
    pytest.importorskip("onnxruntime")
    return make_segmenter(f"onnx:{MODEL}", labels="coco", threads=2)


@pytest.fixture(scope="module")
def desk_segmentation(yolo, shared_data):
    import cv2

    path = shared_data / DESK_FRAME
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return rgb, yolo.segment(rgb)


def test_factory_gives_yolo_for_an_instance_sidecar(yolo):
    from semslam.segmentation.yolo import YoloSegmenter

    assert isinstance(yolo, YoloSegmenter) and yolo.label_set is COCO and yolo.name == f"onnx:{MODEL}"


def test_real_desk_frame_detections(desk_segmentation):
    """fr1/desk frame 0: the monitor fills the upper left (x 0..246, y 3..225), the mouse sits left
    of the papers at (52..122, 270..303); measured scores tv 0.87, mouse 0.93."""
    rgb, seg = desk_segmentation
    names = [COCO.names[i.class_id] for i in seg.instances]
    assert seg.source == f"onnx:{MODEL}" and seg.probs.shape == (480, 640, 81)
    tv = [i for i in seg.instances if COCO.names[i.class_id] == "tv"]
    assert len(tv) == 1 and tv[0].score > 0.8, names
    x0, y0, x1, y1 = tv[0].box
    assert x0 < 10 and y0 < 20 and 220 < x1 < 270 and 200 < y1 < 250
    assert 0.6 < tv[0].mask.sum() / ((x1 - x0) * (y1 - y0)) < 1.0  # the screen fills most of its box
    mouse = max((i for i in seg.instances if COCO.names[i.class_id] == "mouse"), key=lambda i: i.score)
    mx, my = (mouse.box[0] + mouse.box[2]) / 2, (mouse.box[1] + mouse.box[3]) / 2
    assert mouse.score > 0.8 and 60 < mx < 110 and 270 < my < 305
    assert 2 <= len(seg.instances) <= 8
    for inst in seg.instances:
        ys, xs = np.nonzero(inst.mask)
        assert len(ys) > 100
        bx0, by0, bx1, by1 = inst.box
        assert xs.min() >= bx0 - 0.5 and xs.max() <= bx1 and ys.min() >= by0 - 0.5 and ys.max() <= by1
    boxes = np.array([i.box for i in seg.instances])
    iou = box_iou(boxes, boxes)
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            if seg.instances[a].class_id == seg.instances[b].class_id:
                assert iou[a, b] <= 0.7
    np.testing.assert_allclose(seg.probs.sum(axis=2), 1.0, atol=1e-5)
    labels = seg.labels()
    assert np.mean(labels[tv[0].mask] == COCO.id_of("tv")) > 0.95
    assert np.mean(labels == 0) > 0.6  # most of the desk is background


def test_yolo_into_nyu40(yolo, desk_segmentation):
    from semslam.segmentation.yolo import YoloSegmenter

    rgb, seg = desk_segmentation
    nyu = YoloSegmenter(yolo.model_path, labels="nyu40", threads=2)
    seg40 = nyu.segment(rgb)
    assert seg40.probs.shape == (480, 640, 41)
    got = sorted(nyu.label_set.names[i.class_id] for i in seg40.instances)
    assert "television" in got
    assert len(seg40.instances) == len(seg.instances)


def test_bad_instance_sidecar_names_the_file(tmp_path):
    src = models_dir() / "yolov8n_seg_coco.json"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    data = json.loads(src.read_text())
    data["outputs"][0]["shape"] = [1, 100, 8400]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    shutil.copy(models_dir() / MODEL, tmp_path / "bad.onnx") if (models_dir() / MODEL).is_file() else (
        tmp_path / "bad.onnx").write_bytes(b"")
    with pytest.raises(SegmentationError, match=r"bad.json.*100 rows per anchor"):
        make_segmenter(f"yolo:{tmp_path / 'bad.onnx'}", labels="coco")
    with pytest.raises(SegmentationError, match="give the model file"):
        make_segmenter("yolo:", labels="coco")
