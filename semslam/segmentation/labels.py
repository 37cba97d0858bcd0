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
