"""make_segmenter: a Segmenter from a spec string, as `semantics.segmenter` and `--segmenter` give it.

    onnx:PATH             an ONNX network with its JSON sidecar (OnnxSegmenter; a YOLOv8-seg model,
                          whose sidecar lists detections and mask prototypes: YoloSegmenter, with instances)
    yolo:PATH             a YOLOv8-seg instance-segmentation ONNX model (YoloSegmenter)
    torch:PATH            a torch model: a state dict our ENet definition loads (enet.py), a
                          TorchScript file, or a pickled nn.Module, with its JSON sidecar (TorchSegmenter)
    oracle[:PARAMS]       degraded ground truth, synthetic sequences only (OracleSegmenter);
                          PARAMS: a preset (perfect, mild, moderate, heavy) and/or key=value pairs,
                          e.g. "oracle:confusion=0.2,boundary=3" or "oracle:heavy,seed=2"
    none                  no segmenter (None): the map has no labels

Whatever the model's own classes, the output is mapped into the requested label set.
"""

from __future__ import annotations

from ..config import OracleConfig
from .base import SegmentationError, Segmenter
from .labels import get_label_set


def make_segmenter(spec: str, labels: str = "nyu40", device: str | None = "cpu",
                   input_size: tuple[int, int] | None = None, oracle: OracleConfig | None = None,
                   threads: int | None = None, dtype="float32") -> Segmenter | None:
    """The segmenter `spec` names, producing probabilities in label set `labels` on `device`
    (cpu | cuda[:N]) at `input_size` (w, h; None: the model's rule). `oracle` is the base the
    oracle's parameters override (semantics.oracle). SegmentationError on a bad spec."""
    spec = (spec or "none").strip()
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    try:
        get_label_set(labels)
    except KeyError as exc:
        raise SegmentationError(str(exc.args[0])) from None
    if kind == "none":
        if arg:
            raise SegmentationError(f"segmenter 'none' takes no argument, got {spec!r}")
        return None
    if kind == "oracle":
        from .oracle import OracleSegmenter, parse_oracle_params

        return OracleSegmenter(parse_oracle_params(arg, oracle), labels=labels, dtype=dtype)
    if kind == "yolo" or (kind == "onnx" and arg.strip()):
        from .yolo import YoloSegmenter, is_instance_model

        if kind == "yolo" or is_instance_model(arg.strip()):
            if not arg.strip():
                raise SegmentationError(f"segmenter {spec!r}: give the model file, as yolo:PATH")
            return YoloSegmenter(arg.strip(), labels=labels, device=device or "cpu", dtype=dtype, threads=threads)
    if kind in ("onnx", "torch"):
        if not arg.strip():
            raise SegmentationError(f"segmenter {spec!r}: give the model file, as {kind}:PATH")
        if kind == "onnx":
            from .onnx import OnnxSegmenter

            return OnnxSegmenter(arg.strip(), labels=labels, device=device or "cpu", input_size=input_size,
                                 dtype=dtype, threads=threads)
        from .torch_segmenter import TorchSegmenter

        return TorchSegmenter.from_file(arg.strip(), labels=labels, device=device or "cpu", input_size=input_size,
                                        dtype=dtype)
    raise SegmentationError(
        f"unknown segmenter {spec!r}; use onnx:PATH, yolo:PATH, torch:PATH, oracle[:params] or none"
    )


def segmenter_from_config(semantics, run_device: str = "cpu") -> Segmenter | None:
    """The segmenter of a `SemanticsConfig` (segmenter, labels, segmenter_device or the run's
    device, input_size, oracle)."""
    return make_segmenter(semantics.segmenter, semantics.labels, semantics.segmenter_device or run_device,
                          semantics.input_size, semantics.oracle)


def make_instance_segmenter(spec: str, labels: str = "nyu40", device: str | None = "cpu", objects=None,
                            threads: int | None = None):
    """The instance segmenter `spec` names (`objects.instances`, `--instances`): onnx:PATH or yolo:PATH
    of a YOLOv8-seg model (YoloSegmenter, thresholds from `objects`), oracle[:PARAMS] (degraded
    ground-truth instances, OracleInstanceSegmenter; PARAMS: a preset perfect | noisy | heavy and/or
    key=value pairs on top of objects.oracle) or none (None). `objects`: an ObjectsConfig.
    SegmentationError on a bad spec or a model without instance outputs."""
    from ..config import ObjectsConfig

    objects = objects or ObjectsConfig()
    spec = (spec or "none").strip()
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "none":
        if arg:
            raise SegmentationError(f"instance segmenter 'none' takes no argument, got {spec!r}")
        return None
    if kind == "oracle":
        from .oracle_instances import OracleInstanceSegmenter, parse_oracle_instance_params

        return OracleInstanceSegmenter(parse_oracle_instance_params(arg, objects.oracle), labels=labels)
    if kind in ("onnx", "yolo"):
        from .yolo import YoloSegmenter, is_instance_model

        if not arg.strip():
            raise SegmentationError(f"instance segmenter {spec!r}: give the model file, as {kind}:PATH")
        if kind == "onnx" and not is_instance_model(arg.strip()):
            raise SegmentationError(f"instance segmenter {spec!r}: the model's sidecar describes no instance outputs "
                                    f"(detections and mask prototypes); use a YOLOv8-seg model")
        return YoloSegmenter(arg.strip(), labels=labels, device=device or "cpu",
                             score_threshold=objects.detection_score, iou_threshold=objects.detection_iou,
                             mask_threshold=objects.mask_threshold, threads=threads)
    raise SegmentationError(f"unknown instance segmenter {spec!r}; use onnx:PATH, yolo:PATH, oracle[:params] or none")
