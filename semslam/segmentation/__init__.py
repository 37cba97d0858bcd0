"""Segmentation: label sets and maps between them, and the segmenters (ONNX and torch networks,
the ground-truth oracle for synthetic sequences) behind one protocol.

    seg = make_segmenter("onnx:ade20k_deeplabv3_mnv2.onnx", labels="nyu40", device="cpu")
    s = seg.segment(frame.rgb, frame.depth, frame)   # Segmentation, or None (oracle: dropped frame)

Network segmenters import onnxruntime / torch only when made.
"""

from .base import InstanceMask, Segmentation, SegmentationError, Segmenter
from .factory import make_segmenter, segmenter_from_config
from .labels import ADE20K, COCO, LABEL_SETS, NYU13, NYU40, VOC, LabelSet, get_label_set
from .mapping import LabelMapping, find_mapping
from .sidecar import models_dir, resolve_model_path

__all__ = [
    "ADE20K", "COCO", "LABEL_SETS", "NYU13", "NYU40", "VOC", "InstanceMask", "LabelMapping", "LabelSet",
    "Segmentation", "SegmentationError", "Segmenter", "find_mapping", "get_label_set", "make_segmenter",
    "models_dir", "resolve_model_path", "segmenter_from_config",
]  # fmt: skip
