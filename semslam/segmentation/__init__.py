"""Segmentation: label sets (class names and colours) and, later, the segmenters."""

from .labels import LABEL_SETS, NYU40, LabelSet, get_label_set

__all__ = ["LABEL_SETS", "NYU40", "LabelSet", "get_label_set"]
