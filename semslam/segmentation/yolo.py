"""YOLOv8-seg instance segmentation with onnxruntime: letterbox, decode, class-aware NMS, masks.

The network (an Ultralytics YOLOv8n-seg export, `yolov8n_seg_coco.onnx` in the models folder) sees
the frame letterboxed into a 640x640 square (aspect kept, grey 114 padding, x = rgb / 255) and
answers with two tensors, as its JSON sidecar states:

    output0 (1, 4 + C + M, A): per anchor cx, cy, w, h (normalised to the square: x 640 for
                                pixels), C class scores (sigmoid applied), M mask coefficients
    output1 (1, M, 160, 160):   mask prototypes at stride 4

Decoding (ours, after the YOLOv8 / YOLACT papers): keep anchors whose best class score is at
least `score_threshold`; class-aware greedy NMS at `iou_threshold`; at most `max_detections`;
instance mask = sigmoid(coefficients . prototypes) > `mask_threshold`, sampled from the 160x160
prototype grid straight into frame pixels (undoing the letterbox) and cropped to the box.

The Segmentation carries the instances (class ids in the requested label set, default COCO with
id = YOLO class + 1 and 0 = background) and per-pixel probabilities made from them: a pixel of an
instance's mask gets the instance's score for its class and 1 - score for background (the highest
scoring instance wins where masks overlap); every other pixel is background with probability 1.

    seg = YoloSegmenter("yolov8n_seg_coco.onnx").segment(frame.rgb)
    for inst in seg.instances: print(seg.label_set.names[inst.class_id], inst.score, inst.box)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import InstanceMask, RebuildsFromArguments, Segmentation, SegmentationError, probability_dtype
from .labels import COCO, LabelSet, get_label_set, matches_names
from .mapping import find_mapping
from .sidecar import check_rgb, parse_normalisation, resolve_model_path, sidecar_path_for

LETTERBOX_FILL = 114  # the grey YOLO's training pipeline pads with
PROTO_STRIDE = 4  # prototypes are at 1/4 of the network input


def is_instance_model(model: str | Path) -> bool:
    """Whether `model`'s sidecar describes an instance-segmentation network: a detection output
    (1, 4 + C + M, anchors) followed by mask prototypes (1, M, h, w). False when it has no
    readable sidecar (the semantic segmenters then report what is wrong)."""
    try:
        sidecar = sidecar_path_for(resolve_model_path(model))
        data = json.loads(sidecar.read_text())
        outputs = data["outputs"]
        det, proto = list(outputs[0]["shape"]), list(outputs[1]["shape"])
    except (SegmentationError, OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    return len(det) == 3 and len(proto) == 4


@dataclass(frozen=True)
class Letterbox:
    """How a frame sits in the square network input: scale r, then padding (left, top) pixels;
    a frame pixel centre x maps to input coordinate (x + 0.5) * r + left (pixel edges at integers)."""

    scale: float
    left: int
    top: int
    new_w: int
    new_h: int
    size: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> "Letterbox":
        r = min(size / width, size / height)
        new_w, new_h = int(round(width * r)), int(round(height * r))
        return cls(r, (size - new_w) // 2, (size - new_h) // 2, new_w, new_h, size)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """(size, size, 3) uint8: rgb resized by `scale` and padded with LETTERBOX_FILL."""
        import cv2

        out = np.full((self.size, self.size, 3), LETTERBOX_FILL, np.uint8)
        if (rgb.shape[1], rgb.shape[0]) != (self.new_w, self.new_h):
            rgb = cv2.resize(rgb, (self.new_w, self.new_h), interpolation=cv2.INTER_LINEAR)
        out[self.top:self.top + self.new_h, self.left:self.left + self.new_w] = rgb
        return out

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) x0 y0 x1 y1 in input pixels -> frame pixels (edges)."""
        out = np.asarray(boxes, np.float64).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.left) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.top) / self.scale
        return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of boxes a (N, 4) and b (M, 4), x0 y0 x1 y1."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float,
        max_detections: int | None = None) -> np.ndarray:
    """Class-aware greedy non-maximum suppression.

    boxes (N, 4) x0 y0 x1 y1, scores (N,), classes (N,) ints. Going through the boxes by falling
    score (ties: lower index first), a box is kept unless a kept box of the same class overlaps
    it with IoU > iou_threshold. Returns the kept indices (int64) by falling score, at most
    max_detections."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    if not len(boxes) == len(scores) == len(classes):
        raise ValueError(f"nms: {len(boxes)} boxes, {len(scores)} scores, {len(classes)} classes")
    order = np.lexsort((np.arange(len(scores)), -scores))
    keep: list[int] = []
    for c in np.unique(classes):
        idx = order[classes[order] == c]
        while len(idx):
            i = idx[0]
            keep.append(int(i))
            if len(idx) == 1:
                break
            rest = idx[1:]
            idx = rest[box_iou(boxes[i], boxes[rest])[0] <= iou_threshold]
    keep_arr = np.array(keep, np.int64)
    keep_arr = keep_arr[np.lexsort((keep_arr, -scores[keep_arr]))]
    return keep_arr[:max_detections] if max_detections is not None else keep_arr


@dataclass
class Detections:
    """Decoded detections of one frame in frame pixels: boxes (N, 4) x0 y0 x1 y1, scores (N,),
    classes (N,) YOLO class index 0..C-1, mask_coefficients (N, M)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    mask_coefficients: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def decode(output0: np.ndarray, num_classes: int, letterbox: Letterbox, score_threshold: float,
           iou_threshold: float, max_detections: int, candidate_limit: int = 30000) -> Detections:
    """Detections from output0 (4 + C + M, A): threshold, NMS, boxes back into frame pixels."""
    out = np.asarray(output0, np.float32)
    scores_all = out[4:4 + num_classes]
    classes = np.argmax(scores_all, axis=0)
    scores = scores_all[classes, np.arange(out.shape[1])]
    cand = np.flatnonzero(scores >= score_threshold)
    if len(cand) > candidate_limit:
        cand = cand[np.argsort(-scores[cand], kind="stable")[:candidate_limit]]
    cx, cy, w, h = (out[k, cand].astype(np.float64) * letterbox.size for k in range(4))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keep = nms(boxes, scores[cand], classes[cand], iou_threshold, max_detections)
    frame_boxes = letterbox.to_frame(boxes[keep]) if len(keep) else np.zeros((0, 4))
    return Detections(frame_boxes, scores[cand][keep].astype(np.float32), classes[cand][keep].astype(np.int64),
                      out[4 + num_classes:, cand[keep]].T.copy())


def instance_masks(det: Detections, prototypes: np.ndarray, letterbox: Letterbox, width: int, height: int,
                   mask_threshold: float) -> list[np.ndarray]:
    """(H, W) bool masks: sigmoid(coefficients . prototypes) > mask_threshold, each sampled
    bilinearly from the prototype grid at the frame pixels inside its box (outside: False)."""
    import cv2

    m, ph, pw = prototypes.shape
    logits = (det.mask_coefficients @ prototypes.reshape(m, -1)).reshape(-1, ph, pw)
    cut = float(np.log(mask_threshold / (1.0 - mask_threshold)))  # sigmoid(x) > t  <=>  x > logit(t)
    # frame pixel (x, y) -> prototype coordinates (pixel centres at integers)
    s = letterbox.scale / PROTO_STRIDE
    ox = (0.5 * letterbox.scale + letterbox.left) / PROTO_STRIDE - 0.5
    oy = (0.5 * letterbox.scale + letterbox.top) / PROTO_STRIDE - 0.5
    masks = []
    for k, (x0, y0, x1, y1) in enumerate(det.boxes):
        mask = np.zeros((height, width), bool)
        # pixels whose centre lies in the box
        c0, r0 = max(0, int(np.ceil(x0 - 0.5))), max(0, int(np.ceil(y0 - 0.5)))
        c1, r1 = min(width, int(np.floor(x1 - 0.5)) + 1), min(height, int(np.floor(y1 - 0.5)) + 1)
        if c1 > c0 and r1 > r0:
            M = np.array([[s, 0.0, ox + s * c0], [0.0, s, oy + s * r0]])
            patch = cv2.warpAffine(logits[k], M, (c1 - c0, r1 - r0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE)
            mask[r0:r1, c0:c1] = patch > cut
        masks.append(mask)
    return masks


def probs_from_instances(instances: list[InstanceMask], num_classes: int, height: int, width: int,
                         dtype=np.float32, background: int = 0) -> np.ndarray:
    """(H, W, C) probabilities: class `background` 1 everywhere except under an instance's mask,
    where its class has the instance's score and background the rest; where masks overlap the
    higher score wins."""
    rows = np.zeros((len(instances) + 1, num_classes), dtype)  # row 0: no instance
    rows[0, background] = 1
    owner = np.zeros((height, width), np.int32)
    for k in sorted(range(len(instances)), key=lambda k: instances[k].score):
        inst = instances[k]
        rows[k + 1, background] += 1.0 - inst.score
        rows[k + 1, inst.class_id] += inst.score
        owner[inst.mask] = k + 1
    return np.take(rows, owner, axis=0)  # one pass over the (H, W, C) output


class YoloSegmenter(RebuildsFromArguments):
    """A `Segmenter` with instances: a YOLOv8-seg ONNX model and its JSON sidecar.

    model: path (a relative one missing as given is looked up in the models folder). labels: the
    label set of probabilities and instance class ids (default coco: YOLO class + 1; another set
    through `find_mapping`, e.g. nyu40). score_threshold, iou_threshold, max_detections: YOLOv8's
    prediction defaults (0.25, 0.7, 300). mask_threshold: on the sigmoid mask (0.5). device: cpu |
    cuda[:N]. threads: onnxruntime intra-op threads (None: all cores).
    """

    def __init__(self, model: str | Path, labels: str | LabelSet | None = "coco", device: str = "cpu",
                 score_threshold: float = 0.25, iou_threshold: float = 0.7, mask_threshold: float = 0.5,
                 max_detections: int = 300, dtype=np.float32, threads: int | None = None) -> None:
        from .onnx import load_session

        for name, value in (("score_threshold", score_threshold), ("iou_threshold", iou_threshold),
                            ("mask_threshold", mask_threshold)):
            if not 0.0 < float(value) < 1.0:
                raise SegmentationError(f"YOLO {name} must lie in (0, 1), got {value}")
        if int(max_detections) < 1:
            raise SegmentationError(f"YOLO max_detections must be at least 1, got {max_detections}")
        self.model_path = resolve_model_path(model)
        self.sidecar = sidecar_path_for(self.model_path)
        self._read_sidecar()
        self.session = load_session(self.model_path, device, threads)
        self._check_session()
        self.label_set = COCO if labels is None else (labels if isinstance(labels, LabelSet) else get_label_set(labels))
        self.mapping = find_mapping(COCO, self.label_set)
        self.score_threshold, self.iou_threshold = float(score_threshold), float(iou_threshold)
        self.mask_threshold, self.max_detections = float(mask_threshold), int(max_detections)
        self.dtype = probability_dtype(dtype)
        self.name = f"onnx:{self.model_path.name}"
        self.providers = self.session.get_providers()

    def __repr__(self) -> str:
        return f"YoloSegmenter({self.model_path.name}, coco->{self.label_set.name}, {self.providers[0]})"

    def _read_sidecar(self) -> None:
        where = self.sidecar
        try:
            data = json.loads(where.read_text())
            inp, outputs, labels = data["input"], data["outputs"], [str(v) for v in data["labels"]]
            self.input_name = str(inp["name"])
            in_shape = list(inp["shape"])
            self.det_name, self.proto_name = str(outputs[0]["name"]), str(outputs[1]["name"])
            det_shape, proto_shape = list(outputs[0]["shape"]), list(outputs[1]["shape"])
        except (OSError, ValueError) as exc:
            raise SegmentationError(f"model sidecar {where} is not readable JSON: {exc}") from None
        except (KeyError, IndexError, TypeError) as exc:
            raise SegmentationError(f"model sidecar {where} lacks {exc} (an instance model needs input.name, "
                                    f"input.shape, two outputs with name and shape, labels)") from None
        if len(in_shape) != 4 or in_shape[2] != in_shape[3] or not isinstance(in_shape[2], int):
            raise SegmentationError(f"model sidecar {where}: YOLO input must be a fixed square (1, 3, S, S), "
                                    f"got {in_shape}")
        self.input_size = int(in_shape[2])
        self.num_classes = len(labels)
        if not matches_names(COCO, ["background"] + labels):
            raise SegmentationError(f"model sidecar {where}: labels are not COCO's 80 classes in YOLO order; "
                                    f"YoloSegmenter reads COCO detectors")
        if len(det_shape) != 3 or len(proto_shape) != 4:
            raise SegmentationError(f"model sidecar {where}: outputs {det_shape} and {proto_shape} are not a "
                                    f"detection tensor (1, 4 + C + M, A) and prototypes (1, M, h, w)")
        self.num_coefficients = int(proto_shape[1])
        if det_shape[1] != 4 + self.num_classes + self.num_coefficients:
            raise SegmentationError(
                f"model sidecar {where}: output {self.det_name!r} has {det_shape[1]} rows per anchor, expected "
                f"4 + {self.num_classes} classes + {self.num_coefficients} mask coefficients"
            )
        self.scale, self.offset = parse_normalisation(inp, where)

    def _check_session(self) -> None:
        names_in = [i.name for i in self.session.get_inputs()]
        names_out = [o.name for o in self.session.get_outputs()]
        if self.input_name not in names_in or {self.det_name, self.proto_name} - set(names_out):
            raise SegmentationError(
                f"model sidecar {self.sidecar} names input {self.input_name!r} and outputs {self.det_name!r}, "
                f"{self.proto_name!r}, but {self.model_path} has inputs {names_in} and outputs {names_out}"
            )

    def run_network(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, Letterbox]:
        """Raw outputs for an RGB frame: output0 (4 + C + M, A), prototypes (M, h, w), letterbox."""
        check_rgb(rgb, self.name)
        box = Letterbox.fit(rgb.shape[1], rgb.shape[0], self.input_size)
        x = box.apply(rgb).astype(np.float32) * self.scale + self.offset
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        det, proto = self.session.run([self.det_name, self.proto_name], {self.input_name: x})
        return det[0], proto[0], box

    def detect(self, rgb: np.ndarray) -> tuple[Detections, list[np.ndarray]]:
        """Detections (YOLO class indices) and their (H, W) bool masks."""
        det_out, proto, box = self.run_network(rgb)
        det = decode(det_out, self.num_classes, box, self.score_threshold, self.iou_threshold, self.max_detections)
        return det, instance_masks(det, proto, box, rgb.shape[1], rgb.shape[0], self.mask_threshold)

    def segment(self, rgb: np.ndarray, depth: np.ndarray | None = None, frame=None) -> Segmentation:
        t0 = time.perf_counter()
        det_out, proto, box = self.run_network(rgb)
        t1 = time.perf_counter()
        h, w = rgb.shape[:2]
        det = decode(det_out, self.num_classes, box, self.score_threshold, self.iou_threshold, self.max_detections)
        masks = instance_masks(det, proto, box, w, h, self.mask_threshold)
        instances = []
        for k in range(len(det)):
            x0, y0, x1, y1 = (float(v) for v in np.clip(det.boxes[k], 0, [w, h, w, h]))
            class_id = int(self.mapping.index[int(det.classes[k]) + 1])  # COCO id = YOLO class + 1
            instances.append(InstanceMask(masks[k], class_id, float(det.scores[k]), (x0, y0, x1, y1)))
        # built in the target set directly: the same as mapping the COCO probabilities (many-to-one sums)
        probs = probs_from_instances(instances, len(self.label_set), h, w, self.dtype,
                                     background=int(self.mapping.index[0]))
        t2 = time.perf_counter()
        return Segmentation(probs, self.label_set, instances, self.name, extra={
            "model_label_set": COCO.name, "input_size": (self.input_size, self.input_size),
            "network_ms": 1e3 * (t1 - t0), "postprocess_ms": 1e3 * (t2 - t1),
        })  # fmt: skip
