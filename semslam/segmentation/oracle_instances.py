"""The oracle instance segmenter: ground-truth instances of a synthetic frame, degraded as a detector errs.

It is NOT a network: it reads `frame.instances` and `frame.labels` (synthetic sequences from
`semslam synth` / the synthetic reader); its name and every Segmentation's source start with
"oracle" so results made with it are never mistaken for a detector's. It exists so object mapping
can be measured against a known truth.

Per frame k (random state from (seed, k) only, so any frame is reproducible on its own), for each
ground-truth instance with at least `min_pixels` visible pixels, class = the majority NYU40 label
under it:
  1. miss: dropped with probability `miss`;
  2. wrong class: with probability `wrong_class` the class becomes a confusable one (the oracle
     segmenter's CONFUSABLE table; else another thing class of the frame);
  3. boundary: the mask is eroded or dilated by a radius drawn from -boundary..boundary px;
  4. split / merge: with probability `split` the mask is cut in two across its long axis (two
     detections); with probability `merge` it is joined with a touching instance (one detection,
     the larger's class);
  5. false positives: Poisson(false_positive x true detections) elliptic masks at random places
     with a class of the frame's things and a score from `false_score_range`.
True detections score uniformly in `score_range`. Probabilities: the instance's score for its class
under its mask, the rest background (label set id 0), as the YOLO segmenter builds them.

    seg = OracleInstanceSegmenter(OracleInstancesConfig(), labels="nyu40").segment(frame.rgb, frame.depth, frame)
"""

from __future__ import annotations

import numpy as np

from ..config import OracleInstancesConfig
from .base import InstanceMask, Segmentation, SegmentationError
from .labels import NYU40, LabelSet, get_label_set
from .mapping import find_mapping
from .oracle import CONFUSABLE, parse_preset_params
from .yolo import probs_from_instances

PRESETS: dict[str, dict] = {
    "perfect": dict(miss=0.0, false_positive=0.0, wrong_class=0.0, boundary=0, split=0.0, merge=0.0),
    "noisy": {},  # the OracleInstancesConfig defaults: 20% missed, 10% false positives, 10% wrong classes
    "heavy": dict(miss=0.3, false_positive=0.3, wrong_class=0.2, boundary=4, split=0.1, merge=0.1),
}


def parse_oracle_instance_params(params: str, base: OracleInstancesConfig | None = None) -> OracleInstancesConfig:
    """OracleInstancesConfig from "noisy" | "miss=0.3,wrong_class=0.2" | "perfect,seed=3" (a preset
    first, then overrides) on top of `base` (default: the noisy preset)."""
    return parse_preset_params(params, base, OracleInstancesConfig, PRESETS, "oracle instance",
                               fixed=lambda key: key.endswith("range"))


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) pixel-edge box of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _morph(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    if radius == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
    op = cv2.dilate if radius > 0 else cv2.erode
    return op(mask.astype(np.uint8), kernel).astype(bool)


def _split(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mask cut in two across its long axis (through its centroid)."""
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    centre = pts.mean(0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    side = (pts - centre) @ vt[0] >= 0
    a, b = np.zeros_like(mask), np.zeros_like(mask)
    a[ys[side], xs[side]] = True
    b[ys[~side], xs[~side]] = True
    return a, b


class OracleInstanceSegmenter:
    """A `Segmenter` with instances that returns degraded ground-truth instances (module doc).
    Output label set: `labels` (ground truth is NYU40; other sets through `find_mapping`)."""

    def __init__(self, config: OracleInstancesConfig | None = None, labels: str | LabelSet = "nyu40",
                 dtype=np.float32) -> None:
        self.config = config or OracleInstancesConfig()
        self.label_set = labels if isinstance(labels, LabelSet) else get_label_set(labels)
        self.mapping = find_mapping(NYU40, self.label_set)
        self.dtype = np.dtype(dtype)
        c = self.config
        self.name = (f"oracle-instances:miss={c.miss:g},false_positive={c.false_positive:g},"
                     f"wrong_class={c.wrong_class:g},boundary={c.boundary},split={c.split:g},merge={c.merge:g},"
                     f"seed={c.seed}")

    def __repr__(self) -> str:
        return f"OracleInstanceSegmenter({self.name})"

    def _confused(self, class_id: int, frame_classes: list[int], rng: np.random.Generator) -> int:
        options = [NYU40.id_of(n) for n in CONFUSABLE.get(NYU40.names[class_id], ()) if n in NYU40.names]
        options = options or [c for c in frame_classes if c != class_id]
        return int(rng.choice(options)) if options else class_id

    def ground_truth(self, frame) -> list[tuple[int, int, np.ndarray]]:
        """(instance id, NYU40 class id, mask) of every instance of `frame` with >= min_pixels pixels."""
        inst = np.asarray(frame.instances)
        labels = np.asarray(frame.labels)
        ids, counts = np.unique(inst[inst > 0], return_counts=True)
        out = []
        for i, n in zip(ids, counts):
            if n < self.config.min_pixels:
                continue
            mask = inst == i
            classes, votes = np.unique(labels[mask], return_counts=True)
            out.append((int(i), int(classes[np.argmax(votes)]), mask))
        return out

    def detections(self, frame, rng: np.random.Generator) -> list[tuple[np.ndarray, int, float]]:
        """Degraded detections (mask, NYU40 class id, score), steps 1-5 of the module doc."""
        c = self.config
        h, w = np.asarray(frame.instances).shape
        truth = self.ground_truth(frame)
        frame_classes = sorted({cls for _, cls, _ in truth})
        kept = [t for t in truth if not (c.miss > 0 and rng.random() < c.miss)]
        dets: list[tuple[np.ndarray, int, float]] = []
        merged: set[int] = set()
        for k, (_, cls, mask) in enumerate(kept):
            if k in merged:
                continue
            if c.wrong_class > 0 and rng.random() < c.wrong_class:
                cls = self._confused(cls, frame_classes, rng)
            if c.merge > 0 and rng.random() < c.merge:
                grown = _morph(mask, 2)
                for j in range(k + 1, len(kept)):
                    if j not in merged and np.any(grown & kept[j][2]):
                        merged.add(j)
                        cls = cls if mask.sum() >= kept[j][2].sum() else kept[j][1]
                        mask = mask | kept[j][2]
                        break
            if c.boundary > 0:
                mask = _morph(mask, int(rng.integers(-c.boundary, c.boundary + 1)))
            score = float(rng.uniform(*c.score_range))
            parts = _split(mask) if mask.any() and c.split > 0 and rng.random() < c.split else (mask,)
            dets += [(m, cls, score) for m in parts if m.sum() >= c.min_pixels]
        n_false = int(rng.poisson(c.false_positive * len(truth))) if c.false_positive > 0 and truth else 0
        if n_false:
            yy, xx = np.mgrid[0:h, 0:w]
            for _ in range(n_false):
                cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
                ry, rx = rng.uniform(0.05, 0.15) * min(h, w), rng.uniform(0.05, 0.15) * min(h, w)
                mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
                dets.append((mask, int(rng.choice(frame_classes)), float(rng.uniform(*c.false_score_range))))
        return dets

    def segment(self, rgb: np.ndarray | None = None, depth: np.ndarray | None = None, frame=None) -> Segmentation:
        if frame is None or getattr(frame, "instances", None) is None or getattr(frame, "labels", None) is None:
            raise SegmentationError(
                "the oracle instance segmenter needs ground-truth instances and labels (frame.instances, "
                "frame.labels), which only synthetic sequences carry; use onnx:PATH of a YOLOv8-seg model instead"
            )
        inst = np.asarray(frame.instances)
        if rgb is not None and rgb.shape[:2] != inst.shape:
            raise SegmentationError(f"oracle instances: ground truth of frame {frame.index} is {inst.shape[1]}x"
                                    f"{inst.shape[0]}, but the frame is {rgb.shape[1]}x{rgb.shape[0]}")
        rng = np.random.default_rng([int(self.config.seed) & 0xFFFFFFFF, int(frame.index), 5])
        instances = []
        for mask, cls, score in self.detections(frame, rng):
            target = int(self.mapping.index[cls])
            if target == 0 or not mask.any():
                continue
            instances.append(InstanceMask(mask, target, score, mask_box(mask)))
        h, w = inst.shape
        probs = probs_from_instances(instances, len(self.label_set), h, w, self.dtype)
        return Segmentation(probs, self.label_set, instances, self.name, extra={"oracle": True})
