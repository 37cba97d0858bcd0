"""The oracle segmenter: ground-truth labels of a synthetic frame, degraded in controlled ways.

It is NOT a network and reads `frame.labels` (NYU40, from `semslam synth` / the synthetic
reader); its name and every Segmentation's source start with "oracle" so results made with it are
never mistaken for a network's. It exists so label fusion can be measured against a known truth.

Per frame k (random state from (seed, k) only, so any frame is reproducible on its own):
  1. confusion: each region — an object instance, or all pixels of one stuff class (wall, floor,
     ceiling) — keeps its class with probability 1 - confusion, else takes a class drawn from a
     table of plausible confusions (wall ↔ door/window/picture, table ↔ desk/counter, chair ↔
     sofa, cabinet ↔ dresser/night stand/shelves, ...: `CONFUSABLE`);
  2. boundary: pixels within `boundary` px of a label border take the label found at a smoothly
     varying displacement of up to `boundary` px (blobby, shifted edges as a CNN makes);
  3. patches: Poisson(`patches`) elliptic blobs of radius ~ patch_size x the shorter side take a
     class present elsewhere in the frame;
  4. probabilities: logits = 5 for the chosen class + N(0, logit_noise) on every class, then
     softmax(logits / temperature);
  5. drop: with probability `drop` the frame gets no segmentation at all: `segment` returns None
     (the documented signal; the scheduler treats None as "no segmentation for this frame").

The "moderate" preset (OracleConfig defaults) gives a per-frame mIoU of about 0.6 on the
synthetic room (measured in tests/test_segmentation_oracle.py).

    seg = OracleSegmenter(OracleConfig(), labels="nyu13").segment(frame.rgb, frame.depth, frame)
"""

from __future__ import annotations

import numpy as np

from ..config import OracleConfig
from .base import Segmentation, SegmentationError
from .labels import NYU40, LabelSet, get_label_set
from .mapping import find_mapping

# Plausible confusions between NYU40 classes (symmetric where it makes sense): what a CNN tends to
# call a region of each class instead.
CONFUSABLE: dict[str, tuple[str, ...]] = {
    "wall": ("door", "window", "picture", "whiteboard", "curtain", "ceiling", "otherstructure"),
    "floor": ("floor mat", "wall", "table"),
    "cabinet": ("dresser", "night stand", "shelves", "bookshelf", "otherfurniture", "counter"),
    "bed": ("sofa", "pillow", "otherfurniture"),
    "chair": ("sofa", "table", "otherfurniture"),
    "sofa": ("chair", "bed", "pillow"),
    "table": ("desk", "counter", "otherfurniture"),
    "door": ("wall", "cabinet", "window"),
    "window": ("wall", "picture", "blinds", "curtain", "door"),
    "bookshelf": ("shelves", "cabinet", "books"),
    "picture": ("window", "wall", "television", "whiteboard"),
    "counter": ("table", "desk", "cabinet"),
    "blinds": ("window", "curtain"),
    "desk": ("table", "counter", "cabinet"),
    "shelves": ("bookshelf", "cabinet", "otherfurniture"),
    "curtain": ("window", "blinds", "wall"),
    "dresser": ("cabinet", "night stand"),
    "pillow": ("bed", "sofa", "otherprop"),
    "mirror": ("picture", "window"),
    "floor mat": ("floor",),
    "clothes": ("otherprop", "bag"),
    "ceiling": ("wall",),
    "books": ("box", "otherprop", "bookshelf"),
    "refridgerator": ("cabinet", "door"),
    "television": ("picture", "window", "otherprop"),
    "paper": ("books", "otherprop"),
    "towel": ("clothes", "otherprop"),
    "shower curtain": ("curtain",),
    "box": ("books", "otherprop", "cabinet"),
    "whiteboard": ("wall", "picture"),
    "person": ("otherprop",),
    "night stand": ("cabinet", "dresser", "table"),
    "toilet": ("sink", "bathtub"),
    "sink": ("toilet", "counter"),
    "lamp": ("otherprop", "otherfurniture"),
    "bathtub": ("toilet", "sink"),
    "bag": ("box", "otherprop", "clothes"),
    "otherstructure": ("wall", "otherfurniture"),
    "otherfurniture": ("cabinet", "table", "chair"),
    "otherprop": ("box", "books", "lamp"),
}

PRESETS: dict[str, dict] = {
    "perfect": dict(confusion=0.0, boundary=0, patches=0.0, temperature=0.2, logit_noise=0.0, drop=0.0),
    "mild": dict(confusion=0.08, boundary=3, patches=0.5, patch_size=0.08, temperature=1.0, logit_noise=0.5),
    "moderate": {},  # the OracleConfig defaults
    "heavy": dict(confusion=0.35, boundary=10, patches=2.5, patch_size=0.15, temperature=1.5, logit_noise=1.5),
}
_LOGIT_MARGIN = 5.0


def confusion_matrix(confusion: float, label_set: LabelSet = NYU40) -> np.ndarray:
    """(C, C) row-stochastic: row c = probabilities of what a region of class c is called; the
    diagonal is 1 - confusion (1 for classes without confusables and for id 0)."""
    n = len(label_set)
    m = np.eye(n)
    for name, others in CONFUSABLE.items():
        if name not in label_set.names:
            continue
        c = label_set.id_of(name)
        ids = [label_set.id_of(o) for o in others if o in label_set.names]
        if ids and confusion > 0:
            m[c, c] = 1.0 - confusion
            m[c, ids] += confusion / len(ids)
    return m


def parse_preset_params(params: str, base, model, presets: dict, what: str, fixed=lambda key: False):
    """A `model` (pydantic) from "PRESET" | "key=value,..." | "PRESET,key=value" (a preset of
    `presets` first, then overrides) on top of `base` (default: model()); the seed of `base` is
    kept across a preset. `what` names the parameters in errors ("oracle"); keys for which
    `fixed(key)` is true cannot be set here. SegmentationError naming the bad item or value."""
    fields = ", ".join(model.model_fields)
    values = (base or model()).model_dump()
    for i, item in enumerate(p.strip() for p in params.split(",") if p.strip()):
        if "=" not in item:
            if i == 0 and item in presets:
                values = model(**presets[item]).model_dump() | {"seed": values["seed"]}
                continue
            raise SegmentationError(f"{what} parameter {item!r}: write key=value (keys: {fields}) or start with a "
                                    f"preset ({', '.join(presets)})")
        key, value = (s.strip() for s in item.split("=", 1))
        if key not in model.model_fields:
            raise SegmentationError(f"unknown {what} parameter {key!r}; known: {fields}")
        if fixed(key):
            raise SegmentationError(f"{what} parameter {key!r} is a range; set it in the config file")
        values[key] = value
    try:
        return model(**values)
    except Exception as exc:  # pydantic ValidationError: say which value
        raise SegmentationError(f"{what} parameters {params!r}: {exc}") from None


def parse_oracle_params(params: str, base: OracleConfig | None = None) -> OracleConfig:
    """OracleConfig from "moderate" | "confusion=0.2,boundary=3,..." | "heavy,seed=3" (a preset name
    first, then overrides), on top of `base` (default: the moderate preset)."""
    return parse_preset_params(params, base, OracleConfig, PRESETS, "oracle")


def _smooth_field(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """A smooth random field in about [-1, 1] varying over ~scale pixels."""
    import cv2

    gh, gw = max(2, int(np.ceil(h / scale)) + 1), max(2, int(np.ceil(w / scale)) + 1)
    coarse = rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


class OracleSegmenter:
    """A `Segmenter` that returns degraded ground truth (see the module doc). Output label set:
    `labels` (ground truth is NYU40; other sets through `find_mapping`)."""

    def __init__(self, config: OracleConfig | None = None, labels: str | LabelSet = "nyu40",
                 dtype=np.float32) -> None:
        self.config = config or OracleConfig()
        self.gt_label_set = NYU40
        self.label_set = labels if isinstance(labels, LabelSet) else get_label_set(labels)
        self.mapping = find_mapping(self.gt_label_set, self.label_set)
        self.dtype = np.dtype(dtype)
        self.matrix = confusion_matrix(self.config.confusion, self.gt_label_set)
        c = self.config
        self.name = (f"oracle:confusion={c.confusion:g},boundary={c.boundary},patches={c.patches:g},"
                     f"patch_size={c.patch_size:g},temperature={c.temperature:g},logit_noise={c.logit_noise:g},"
                     f"drop={c.drop:g},seed={c.seed}")
        self.dropped = 0

    def __repr__(self) -> str:
        return f"OracleSegmenter({self.name})"

    def degrade_labels(self, labels: np.ndarray, instances: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """Steps 1-3: the degraded label image (H, W) uint16 in NYU40."""
        import cv2

        c = self.config
        gt = np.asarray(labels).astype(np.int64)
        h, w = gt.shape
        out = gt.copy()
        # 1. region confusion: regions are (class, instance) pairs
        if c.confusion > 0:
            inst = np.zeros_like(gt) if instances is None else np.asarray(instances).astype(np.int64)
            key = gt * 65536 + inst
            regions, inverse = np.unique(key, return_inverse=True)
            classes = regions // 65536
            new = np.array([rng.choice(len(self.matrix), p=self.matrix[k]) if k > 0 else 0 for k in classes])
            out = new[inverse.reshape(gt.shape)]
        # 2. boundary errors: near borders, read the label at a smooth random displacement
        r = int(c.boundary)
        if r > 0:
            kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
            lab16 = out.astype(np.uint16)
            border = cv2.dilate(lab16, kernel) != cv2.erode(lab16, kernel)
            dy = np.rint(r * _smooth_field(rng, h, w, 4.0 * r)).astype(np.int64)
            dx = np.rint(r * _smooth_field(rng, h, w, 4.0 * r)).astype(np.int64)
            yy, xx = np.nonzero(border)
            shifted = out[np.clip(yy + dy[yy, xx], 0, h - 1), np.clip(xx + dx[yy, xx], 0, w - 1)]
            out = out.copy()
            out[yy, xx] = shifted
        # 3. random patches of a class present elsewhere in the frame
        n = int(rng.poisson(c.patches)) if c.patches > 0 else 0
        present = np.unique(gt[gt > 0])
        if n and present.size:
            yy, xx = np.mgrid[0:h, 0:w]
            base = c.patch_size * min(h, w)
            for _ in range(n):
                cy, cx = rng.uniform(0, h), rng.uniform(0, w)
                ry, rx = base * rng.uniform(0.5, 1.0), base * rng.uniform(0.5, 1.0)
                blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
                out[blob & (gt > 0)] = int(rng.choice(present))
        return out.astype(np.uint16)

    def probabilities(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Step 4: (H, W, C) float32 probabilities in NYU40 for a label image."""
        c = self.config
        n = len(self.gt_label_set)
        h, w = labels.shape
        if c.logit_noise > 0:
            logits = rng.normal(0.0, c.logit_noise, size=(h, w, n)).astype(np.float32)
        else:
            logits = np.zeros((h, w, n), np.float32)
        np.put_along_axis(logits, labels[..., None].astype(np.int64),
                          np.take_along_axis(logits, labels[..., None].astype(np.int64), 2) + _LOGIT_MARGIN, 2)
        logits /= np.float32(c.temperature)
        logits -= logits.max(axis=2, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=2, keepdims=True)
        return logits

    def segment(self, rgb: np.ndarray | None = None, depth: np.ndarray | None = None, frame=None) -> Segmentation | None:
        """Degraded ground truth of `frame` (which must carry `labels`), or None when the frame is
        dropped (config.drop)."""
        if frame is None or getattr(frame, "labels", None) is None:
            raise SegmentationError(
                "the oracle segmenter needs ground-truth labels (frame.labels), which only synthetic sequences "
                "carry; use a network segmenter (onnx:PATH, torch:PATH) for this dataset"
            )
        labels = np.asarray(frame.labels)
        if rgb is not None and rgb.shape[:2] != labels.shape:
            raise SegmentationError(
                f"oracle: ground-truth labels of frame {frame.index} are {labels.shape[1]}x{labels.shape[0]}, "
                f"but the frame is {rgb.shape[1]}x{rgb.shape[0]}"
            )
        if labels.size and int(labels.max()) >= len(self.gt_label_set):
            raise SegmentationError(
                f"oracle: frame {frame.index} has label id {int(labels.max())}, outside NYU40 (0..40)"
            )
        rng = np.random.default_rng([int(self.config.seed) & 0xFFFFFFFF, int(frame.index)])
        if self.config.drop > 0 and rng.random() < self.config.drop:
            self.dropped += 1
            return None
        noisy = self.degrade_labels(labels, getattr(frame, "instances", None), rng)
        probs = self.mapping.apply(self.probabilities(noisy, rng)).astype(self.dtype, copy=False)
        return Segmentation(probs, self.label_set, None, self.name, extra={"oracle": True})


def frame_miou(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> float:
    """Mean IoU over the classes present in `gt` or `pred` on pixels with gt > 0 (id 0 ignored):
    the per-frame score the oracle's presets are calibrated with."""
    valid = gt > 0
    p, g = pred[valid].astype(np.int64), gt[valid].astype(np.int64)
    inter = np.bincount(g[p == g], minlength=num_classes)
    area_p = np.bincount(p, minlength=num_classes)
    area_g = np.bincount(g, minlength=num_classes)
    union = area_p + area_g - inter
    classes = np.flatnonzero(area_g[1:] > 0) + 1
    return float(np.mean(inter[classes] / union[classes])) if classes.size else float("nan")
