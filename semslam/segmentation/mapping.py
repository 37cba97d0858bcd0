"""Probability-preserving maps between label sets.

A map sends every class of a source label set to exactly one class of a target set; applying it
to per-pixel probabilities sums the probabilities of all source classes that land on the same
target class (many-to-one), so each pixel's row still sums to 1. Source classes the target has no
counterpart for go, explicitly, to the target's void class (id 0: "unannotated") or to one of its
"other" classes — every table below lists every source class, and a table that leaves a class
out is refused with an error naming it.

The tables were written for this project, class by class, with these rules: same object → same
class; a more specific class → its general one (armchair → chair, monitor → television, cushion
→ pillow); indoor objects without their own class → otherprop, furniture → otherfurniture,
building parts → otherstructure; outdoor scenery and vehicles, which do not occur indoors, → void.

    m = find_mapping("ade20k", "nyu40"); probs_nyu40 = m.apply(probs_ade)
"""

from __future__ import annotations

import numpy as np

from .base import SegmentationError
from .labels import ADE20K, COCO, NYU13, NYU40, VOC, LabelSet, get_label_set

VOID = "unannotated"


class LabelMapping:
    """A map from each class of `source` to one class of `target`.

    index: (len(source),) int64, index[s] = target class id of source class s.
    matrix: (len(source), len(target)) float32 one-hot rows, so probs @ matrix sums probabilities.
    """

    def __init__(self, source: LabelSet, target: LabelSet, index: np.ndarray, name: str = "") -> None:
        index = np.asarray(index, dtype=np.int64)
        self.name = name or f"{source.name}->{target.name}"
        if index.shape != (len(source),):
            raise SegmentationError(
                f"label map {self.name}: needs one target class for each of the {len(source)} classes of "
                f"{source.name!r}, got {index.shape[0] if index.ndim == 1 else index.shape}"
            )
        bad = np.flatnonzero((index < 0) | (index >= len(target)))
        if bad.size:
            s = int(bad[0])
            raise SegmentationError(
                f"label map {self.name}: class {source.names[s]!r} (id {s}) of {source.name!r} maps to id "
                f"{int(index[s])}, outside {target.name!r} (0..{len(target) - 1})"
            )
        self.source, self.target, self.index = source, target, index
        self.index.setflags(write=False)
        matrix = np.zeros((len(source), len(target)), dtype=np.float32)
        matrix[np.arange(len(source)), index] = 1.0
        matrix.setflags(write=False)
        self.matrix = matrix

    @classmethod
    def from_table(cls, source: LabelSet, target: LabelSet, table: dict[str, list[str] | tuple[str, ...]],
                   name: str = "") -> "LabelMapping":
        """Build a map from a table {target class name: [source class names]}.

        SegmentationError when a source class is listed nowhere (naming it), listed twice, or a
        name is not a class of its label set.
        """
        name = name or f"{source.name}->{target.name}"
        index = np.full(len(source), -1, dtype=np.int64)
        for target_name, source_names in table.items():
            if target_name not in target.names:
                raise SegmentationError(f"label map {name}: {target_name!r} is not a class of {target.name!r}")
            t = target.names.index(target_name)
            for source_name in source_names:
                if source_name not in source.names:
                    raise SegmentationError(f"label map {name}: {source_name!r} is not a class of {source.name!r}")
                s = source.names.index(source_name)
                if index[s] >= 0 and index[s] != t:
                    raise SegmentationError(
                        f"label map {name}: class {source_name!r} of {source.name!r} is mapped twice, to "
                        f"{target.names[index[s]]!r} and {target_name!r}"
                    )
                index[s] = t
        missing = np.flatnonzero(index < 0)
        if missing.size:
            listed = ", ".join(f"{source.names[s]!r} (id {s})" for s in missing[:8])
            more = f" and {missing.size - 8} more" if missing.size > 8 else ""
            raise SegmentationError(
                f"label map {name} leaves {missing.size} class(es) of {source.name!r} unmapped: {listed}{more}; "
                f"map each explicitly (to {VOID!r} or an 'other' class when the target has no counterpart)"
            )
        return cls(source, target, index, name)

    @classmethod
    def identity(cls, label_set: LabelSet) -> "LabelMapping":
        return cls(label_set, label_set, np.arange(len(label_set)), f"{label_set.name}->{label_set.name}")

    @property
    def is_identity(self) -> bool:
        return self.source is self.target and bool(np.all(self.index == np.arange(len(self.source))))

    def target_of(self, source_name: str) -> str:
        """The target class name that source class `source_name` maps to."""
        return self.target.names[int(self.index[self.source.id_of(source_name)])]

    def then(self, other: "LabelMapping") -> "LabelMapping":
        """This map followed by `other` (whose source must be this map's target)."""
        if other.source is not self.target:
            raise SegmentationError(f"cannot chain label maps {self.name} and {other.name}")
        return LabelMapping(self.source, other.target, other.index[self.index], f"{self.name}->{other.target.name}")

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """(..., len(source)) probabilities → (..., len(target)), summing many-to-one; same dtype
        (float16 is summed in float32)."""
        probs = np.asarray(probs)
        if probs.shape[-1] != len(self.source):
            raise SegmentationError(
                f"label map {self.name}: probabilities have {probs.shape[-1]} classes, "
                f"{self.source.name!r} has {len(self.source)}"
            )
        if self.is_identity:
            return probs
        flat = probs.reshape(-1, probs.shape[-1])
        out = flat.astype(np.float32, copy=False) @ self.matrix
        return out.reshape(probs.shape[:-1] + (len(self.target),)).astype(probs.dtype, copy=False)

    def apply_labels(self, labels: np.ndarray) -> np.ndarray:
        """Map a label image of source ids to target ids (uint16)."""
        return self.index[np.asarray(labels)].astype(np.uint16)

    def __repr__(self) -> str:
        return f"LabelMapping({self.name})"


# --- NYU40 → NYU13: the 40→13 table of SemanticFusion's NYU evaluation (Couprie et al.) -------------
NYU40_TO_NYU13 = {
    VOID: ["unannotated"],
    "bed": ["bed"],
    "books": ["books"],
    "ceiling": ["ceiling"],
    "chair": ["chair"],
    "floor": ["floor", "floor mat"],
    "furniture": ["cabinet", "bookshelf", "counter", "shelves", "dresser", "refridgerator", "night stand",
                  "otherfurniture"],
    "objects": ["pillow", "mirror", "clothes", "paper", "towel", "shower curtain", "box", "whiteboard", "person",
                "toilet", "sink", "lamp", "bathtub", "bag", "otherstructure", "otherprop"],
    "painting": ["picture"],
    "sofa": ["sofa"],
    "table": ["table", "desk"],
    "tv": ["television"],
    "wall": ["wall", "door"],
    "window": ["window", "blinds", "curtain"],
}  # fmt: skip

# --- ADE20K (150 + others) → NYU40 ----------------------------------------------------------------
ADE20K_TO_NYU40 = {
    VOID: ["others", "sky", "tree", "road", "grass", "sidewalk", "earth", "mountain", "car", "water", "house",
           "sea", "field", "rock", "sand", "skyscraper", "grandstand", "path", "runway", "river", "bridge", "hill",
           "palm", "boat", "hovel", "bus", "truck", "tower", "awning", "streetlight", "airplane", "dirt track",
           "land", "van", "ship", "fountain", "swimming pool", "waterfall", "tent", "minibike", "lake",
           "traffic light", "pier"],
    "wall": ["wall"],
    "floor": ["floor"],
    "cabinet": ["cabinet", "wardrobe", "case", "buffet"],
    "bed": ["bed"],
    "chair": ["chair", "armchair", "seat", "swivel chair", "stool"],
    "sofa": ["sofa"],
    "table": ["table", "pool table", "coffee table"],
    "door": ["door", "screen door"],
    "window": ["windowpane"],
    "bookshelf": ["bookcase"],
    "picture": ["painting", "poster"],
    "counter": ["counter", "countertop", "kitchen island", "bar"],
    "blinds": ["blind"],
    "desk": ["desk"],
    "shelves": ["shelf"],
    "curtain": ["curtain"],
    "dresser": ["chest of drawers"],
    "pillow": ["pillow", "cushion"],
    "mirror": ["mirror"],
    "floor mat": ["rug"],
    "clothes": ["apparel"],
    "ceiling": ["ceiling"],
    "books": ["book"],
    "refridgerator": ["refrigerator"],
    "television": ["television receiver", "crt screen", "monitor"],
    "towel": ["towel"],
    "box": ["box"],
    "whiteboard": ["bulletin board"],
    "person": ["person"],
    "toilet": ["toilet"],
    "sink": ["sink"],
    "lamp": ["lamp", "light", "chandelier", "sconce"],
    "bathtub": ["bathtub"],
    "bag": ["bag"],
    "otherstructure": ["building", "fence", "railing", "column", "fireplace", "stairs", "stairway", "booth", "pole",
                       "bannister", "escalator", "stage", "conveyer belt", "canopy", "step", "hood", "shower"],
    "otherfurniture": ["base", "bench", "stove", "arcade machine", "ottoman", "washer", "cradle", "oven",
                       "dishwasher", "radiator"],
    "otherprop": ["plant", "signboard", "flower", "computer", "bottle", "plaything", "barrel", "basket", "ball",
                  "food", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "screen", "blanket",
                  "sculpture", "vase", "tray", "ashcan", "fan", "plate", "glass", "clock", "flag"],
}  # fmt: skip

# --- PASCAL VOC (20 + background) → NYU13 ------------------------------------------------------------
VOC_TO_NYU13 = {
    VOID: ["background", "aeroplane", "boat", "bus", "car", "cow", "horse", "motorbike", "sheep", "train"],
    "chair": ["chair"],
    "sofa": ["sofa"],
    "table": ["diningtable"],
    "tv": ["tvmonitor"],
    "objects": ["bicycle", "bird", "bottle", "cat", "dog", "person", "pottedplant"],
}  # fmt: skip

# --- COCO (80 + background) → NYU40 ------------------------------------------------------------------
COCO_TO_NYU40 = {
    VOID: ["background", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
           "fire hydrant", "stop sign", "parking meter", "horse", "sheep", "cow", "elephant", "bear", "zebra",
           "giraffe"],
    "person": ["person"],
    "chair": ["chair"],
    "sofa": ["couch"],
    "bed": ["bed"],
    "table": ["dining table"],
    "toilet": ["toilet"],
    "television": ["tv"],
    "sink": ["sink"],
    "refridgerator": ["refrigerator"],
    "books": ["book"],
    "bag": ["backpack", "handbag", "suitcase"],
    "clothes": ["tie"],
    "otherfurniture": ["bench", "oven"],
    "otherprop": ["bicycle", "bird", "cat", "dog", "umbrella", "frisbee", "skis", "snowboard", "sports ball", "kite",
                  "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
                  "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
                  "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "potted plant", "laptop", "mouse",
                  "remote", "keyboard", "cell phone", "microwave", "toaster", "clock", "vase", "scissors",
                  "teddy bear", "hair drier", "toothbrush"],
}  # fmt: skip

_TABLES: dict[tuple[str, str], tuple[LabelSet, LabelSet, dict]] = {
    ("nyu40", "nyu13"): (NYU40, NYU13, NYU40_TO_NYU13),
    ("ade20k", "nyu40"): (ADE20K, NYU40, ADE20K_TO_NYU40),
    ("voc", "nyu13"): (VOC, NYU13, VOC_TO_NYU13),
    ("coco", "nyu40"): (COCO, NYU40, COCO_TO_NYU40),
}
_BUILT: dict[tuple[str, str], LabelMapping] = {}


def _direct(source: str, target: str) -> LabelMapping | None:
    key = (source, target)
    if key not in _TABLES:
        return None
    if key not in _BUILT:
        s, t, table = _TABLES[key]
        _BUILT[key] = LabelMapping.from_table(s, t, table)
    return _BUILT[key]


def available_mappings() -> list[tuple[str, str]]:
    """(source, target) label-set name pairs `find_mapping` can make (direct tables and chains
    through NYU40), identities left out."""
    pairs = set(_TABLES)
    for s, t in list(_TABLES):
        if t == "nyu40":
            pairs.add((s, "nyu13"))
    return sorted(pairs)


def find_mapping(source: LabelSet | str, target: LabelSet | str) -> LabelMapping:
    """The map from label set `source` to `target`: identity, one of our tables, or a table
    chained through NYU40 (ADE20K → NYU40 → NYU13, COCO → NYU40 → NYU13).

    SegmentationError naming both sets and the maps there are when there is none.
    """
    s = source if isinstance(source, LabelSet) else get_label_set(source)
    t = target if isinstance(target, LabelSet) else get_label_set(target)
    if s is t:
        return LabelMapping.identity(s)
    direct = _direct(s.name, t.name)
    if direct is not None and direct.source is s and direct.target is t:
        return direct
    to_nyu40 = _direct(s.name, "nyu40")
    from_nyu40 = _direct("nyu40", t.name)
    if to_nyu40 is not None and from_nyu40 is not None and to_nyu40.source is s and from_nyu40.target is t:
        return to_nyu40.then(from_nyu40)
    known = ", ".join(f"{a}->{b}" for a, b in available_mappings())
    raise SegmentationError(
        f"no label map from {s.name!r} ({len(s)} classes) to {t.name!r} ({len(t)} classes); "
        f"semslam has: {known} (or ask for the model's own label set {s.name!r})"
    )
