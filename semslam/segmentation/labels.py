"""Label sets: the class names and display colours a map's labels refer to.

A label set numbers its classes 0..N-1; id 0 is always "unannotated" (no class, ignored by
metrics). Colours are RGB uint8, one row per id, used for label images and coloured maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class LabelSet:
    """A named list of classes with a colour each.

    name: short identifier written into files ("nyu40"). names: class names indexed by id,
    names[0] = "unannotated". colours: uint8 array of shape (len(names), 3), RGB.
    """

    name: str
    names: tuple[str, ...]
    colours: np.ndarray

    def __post_init__(self) -> None:
        colours = np.asarray(self.colours)
        if colours.dtype != np.uint8 or colours.shape != (len(self.names), 3):
            raise ValueError(
                f"LabelSet {self.name!r}: colours must be uint8 of shape ({len(self.names)}, 3), "
                f"got {colours.dtype} {colours.shape}"
            )
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"LabelSet {self.name!r}: class names must be unique")
        colours.setflags(write=False)
        object.__setattr__(self, "colours", colours)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_classes(self) -> int:
        """Number of ids including 0 (unannotated)."""
        return len(self.names)

    def id_of(self, name: str) -> int:
        """The id of class `name`; KeyError naming the label set when it has no such class."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"label set {self.name!r} has no class {name!r}") from None

    def name_of(self, class_id: int) -> str:
        """The name of class `class_id`; KeyError when out of range."""
        if not 0 <= int(class_id) < len(self.names):
            raise KeyError(f"label set {self.name!r} has no class id {class_id} (0..{len(self.names) - 1})")
        return self.names[int(class_id)]

    def colourize(self, labels: np.ndarray) -> np.ndarray:
        """RGB uint8 image (H, W, 3) of a label image (H, W) of ids; ids out of range raise."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.names)):
            raise ValueError(
                f"label ids must lie in 0..{len(self.names) - 1} for {self.name!r}, "
                f"got {labels.min()}..{labels.max()}"
            )
        return self.colours[labels]


_NYU40_NAMES = (
    "unannotated",
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror",
    "floor mat", "clothes", "ceiling", "books", "refridgerator", "television", "paper", "towel",
    "shower curtain", "box", "whiteboard", "person", "night stand", "toilet", "sink", "lamp",
    "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop",
)  # fmt: skip

# The NYU40 palette of ScanNet's benchmark scripts (BenchmarkScripts/util.py), so our label
# images look like the ones people know.
_NYU40_COLOURS = (
    (0, 0, 0),
    (174, 199, 232), (152, 223, 138), (31, 119, 180), (255, 187, 120), (188, 189, 34),
    (140, 86, 75), (255, 152, 150), (214, 39, 40), (197, 176, 213), (148, 103, 189),
    (196, 156, 148), (23, 190, 207), (178, 76, 76), (247, 182, 210), (66, 188, 102),
    (219, 219, 141), (140, 57, 197), (202, 185, 52), (51, 176, 203), (200, 54, 131),
    (92, 193, 61), (78, 71, 183), (172, 114, 82), (255, 127, 14), (91, 163, 138),
    (153, 98, 156), (140, 153, 101), (158, 218, 229), (100, 125, 154), (178, 127, 135),
    (120, 185, 128), (146, 111, 194), (44, 160, 44), (112, 128, 144), (96, 207, 209),
    (227, 119, 194), (213, 92, 176), (94, 106, 211), (82, 84, 163), (100, 85, 144),
)  # fmt: skip

NYU40 = LabelSet("nyu40", _NYU40_NAMES, np.array(_NYU40_COLOURS, dtype=np.uint8))
"""NYU Depth v2's 40-class set (Gupta et al. 2013), ids 0..40, 0 = unannotated.

Names are the official ones, including the dataset's spelling "refridgerator".
"""

LABEL_SETS: dict[str, LabelSet] = {NYU40.name: NYU40}


def get_label_set(name: str) -> LabelSet:
    """The label set called `name` (e.g. "nyu40"); KeyError listing the known ones otherwise."""
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise KeyError(f"unknown label set {name!r}; known: {', '.join(sorted(LABEL_SETS))}") from None


def _distinct_colours(n: int, seed: int) -> np.ndarray:
    """n RGB colours, id 0 black, the rest spread around the hue circle by the golden ratio with
    alternating saturation/value so that neighbouring ids differ. Deterministic in `seed`."""
    import colorsys

    rng = np.random.default_rng(seed)
    out = np.zeros((n, 3), dtype=np.uint8)
    hue = float(rng.uniform())
    for i in range(1, n):
        hue = (hue + 0.618033988749895) % 1.0
        sat = (0.55, 0.85, 0.7)[i % 3]
        val = (0.95, 0.75, 0.6)[(i // 3) % 3]
        out[i] = np.round(np.array(colorsys.hsv_to_rgb(hue, sat, val)) * 255)
    return out


# NYU Depth v2's 13-class set as SemanticFusion (McCormac et al. 2017) evaluates it, the 13
# classes of Couprie et al. / Eigen & Fergus: id 0 = unannotated, 1..13 in alphabetical order.
_NYU13_NAMES = (
    "unannotated", "bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "painting",
    "sofa", "table", "tv", "wall", "window",
)  # fmt: skip
# Each NYU13 class takes the NYU40 colour of its most typical NYU40 member, so the two sets'
# label images look alike (furniture = cabinet, objects = otherprop, painting = picture).
_NYU13_COLOUR_FROM_NYU40 = (
    "unannotated", "bed", "books", "ceiling", "chair", "floor", "cabinet", "otherprop", "picture",
    "sofa", "table", "television", "wall", "window",
)  # fmt: skip
NYU13 = LabelSet(
    "nyu13", _NYU13_NAMES, np.array([_NYU40_COLOURS[_NYU40_NAMES.index(n)] for n in _NYU13_COLOUR_FROM_NYU40], np.uint8)
)
"""NYU Depth v2's 13 classes (SemanticFusion's evaluation set), ids 0..13, 0 = unannotated."""

# ADE20K SceneParsing's 150 classes (objectInfo150) in the model's order, id 0 = "others"
# (pixels of no listed class). Each name is the first name ADE20K gives the class; the model
# sidecar lists only its first word ("chest" for "chest of drawers", "screen" for both the screen
# door (58+1) and the projection screen (130+1)), which a sidecar may do: see `matches_names`.
_ADE20K_NAMES = (
    "others",
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway",
    "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel",
    "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool",
    "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball",
    "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip
ADE20K = LabelSet("ade20k", _ADE20K_NAMES, _distinct_colours(len(_ADE20K_NAMES), seed=150))
"""ADE20K SceneParsing (Zhou et al. 2017), 150 classes + id 0 = others, in the order of the
DeepLabV3 ADE20K model's output channels."""


def _voc_palette(n: int) -> np.ndarray:
    """PASCAL VOC's colour map: the bits of the class id spread over the high bits of R, G, B."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out[i] = (r, g, b)
    return out


_VOC_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
VOC = LabelSet("voc", _VOC_NAMES, _voc_palette(len(_VOC_NAMES)))
"""PASCAL VOC 2012's 20 classes + id 0 = background, with VOC's own palette."""

# COCO's 80 detection classes in the order detectors (Ultralytics YOLOv8) number them 0..79; in
# this label set they are ids 1..80 and id 0 is "background" (no detection), so id = index + 1.
_COCO_NAMES = (
    "background",
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
COCO = LabelSet("coco", _COCO_NAMES, _distinct_colours(len(_COCO_NAMES), seed=80))
"""COCO's 80 thing classes as ids 1..80 (detector index + 1) and id 0 = background."""

LABEL_SETS.update({s.name: s for s in (NYU13, ADE20K, VOC, COCO)})


_SPELLINGS = {"refrigerator": "refridgerator"}


def matches_names(label_set: LabelSet, names: list[str] | tuple[str, ...]) -> bool:
    """Whether a model's label list (from its sidecar) names the classes of `label_set` in order.

    A listed name matches when it equals ours or is its first word(s) ("chest" for "chest of
    drawers"), compared case-insensitively with "_" read as " "; NYU40's own spelling
    "refridgerator" also answers to "refrigerator".
    """
    if len(names) != len(label_set):
        return False
    for given, ours in zip(names, label_set.names):
        given = str(given).strip().lower().replace("_", " ")
        ours = ours.lower()
        if not any(g == ours or ours.startswith(g + " ") for g in {given, _SPELLINGS.get(given, given)}):
            return False
    return True


def label_set_for_names(names: list[str] | tuple[str, ...], fallback_name: str) -> LabelSet:
    """The known label set whose classes `names` lists; otherwise a new set called
    `fallback_name` with those names (made unique by suffixing duplicates) and generated colours."""
    for label_set in LABEL_SETS.values():
        if matches_names(label_set, names):
            return label_set
    unique: list[str] = []
    for name in names:
        name, base, k = str(name), str(name), 2
        while name in unique:
            name, k = f"{base} ({k})", k + 1
        unique.append(name)
    return LabelSet(fallback_name, tuple(unique), _distinct_colours(len(unique), seed=len(unique)))
