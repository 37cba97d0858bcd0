"""What every segmenter returns and the protocol it implements.

A segmenter turns one RGB-D frame into per-pixel class probabilities in a named label set, at the
frame's resolution, and (when the model provides them) instance masks. Networks (ONNX, torch)
ignore ground truth; the oracle segmenter (synthetic sequences only) reads `frame.labels` and is
labelled as an oracle wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import SemslamError
from .labels import LabelSet

if TYPE_CHECKING:
    from ..datasets.frame import Frame


class SegmentationError(SemslamError):
    """A model, sidecar, label map or segmentation that cannot be used as it is."""


@dataclass
class InstanceMask:
    """One detected instance: mask (H, W) bool at the frame's resolution, class id in the
    segmentation's label set, detection score in 0..1, and box (x0, y0, x1, y1) in pixels."""

    mask: np.ndarray
    class_id: int
    score: float
    box: tuple[float, float, float, float] | None = None


@dataclass
class Segmentation:
    """Per-pixel class probabilities of one frame.

    probs: (H, W, C) float16 or float32, each pixel's row sums to 1, C = len(label_set).
    label_set: the classes the columns name. instances: None when the model gives none.
    source: what produced it ("onnx:enet_scannet_nyu40.onnx", "oracle", ...), for summaries.
    """

    probs: np.ndarray
    label_set: LabelSet
    instances: list[InstanceMask] | None = None
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.probs.ndim != 3 or self.probs.shape[2] != len(self.label_set):
            raise SegmentationError(
                f"segmentation from {self.source or 'a segmenter'}: probabilities must have shape "
                f"(H, W, {len(self.label_set)}) for label set {self.label_set.name!r}, got {self.probs.shape}"
            )
        if self.probs.dtype not in (np.float16, np.float32):
            raise SegmentationError(
                f"segmentation from {self.source or 'a segmenter'}: probabilities must be float16 or "
                f"float32, got {self.probs.dtype}"
            )

    @property
    def height(self) -> int:
        return self.probs.shape[0]

    @property
    def width(self) -> int:
        return self.probs.shape[1]

    def labels(self) -> np.ndarray:
        """(H, W) uint16 argmax class ids."""
        return np.argmax(self.probs, axis=2).astype(np.uint16)

    def confidence(self) -> np.ndarray:
        """(H, W) float32 probability of the argmax class."""
        return np.max(self.probs, axis=2).astype(np.float32)

    def check_size(self, width: int, height: int) -> None:
        """SegmentationError when the segmentation is not width x height."""
        if (self.width, self.height) != (width, height):
            raise SegmentationError(
                f"segmentation from {self.source or 'a segmenter'} is {self.width}x{self.height}, "
                f"but the frame is {width}x{height}"
            )


@runtime_checkable
class Segmenter(Protocol):
    """segment(rgb uint8 (H, W, 3), depth float32 (H, W) metres or None, frame) -> Segmentation
    at (H, W). `frame` carries ground truth for the oracle; networks ignore it.

    A segmenter may return None for "no segmentation of this frame" (the oracle's dropped frames,
    `OracleConfig.drop`); the scheduler then treats the frame as not segmented."""

    label_set: LabelSet
    name: str

    def segment(self, rgb: np.ndarray, depth: np.ndarray | None = None, frame: "Frame | None" = None) -> Segmentation:
        ...


def probability_dtype(dtype) -> np.dtype:
    """numpy's float16 or float32 for `dtype`; SegmentationError for anything else."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32):
        raise SegmentationError(f"segmentation dtype must be float16 or float32, got {dtype}")
    return dtype


def _rebuild(cls, args: tuple, kwargs: dict):
    return cls(*args, **kwargs)


class RebuildsFromArguments:
    """Pickles as the arguments it was built with, so an unpickled copy is built anew: a network's
    session is not sent anywhere, its model file is loaded again where the copy lands (a
    segmentation worker process). The arguments must pickle (paths, label sets, numbers)."""

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj._init_arguments = (args, kwargs)
        return obj

    def __reduce__(self):
        args, kwargs = self._init_arguments
        return (_rebuild, (type(self), args, kwargs))
