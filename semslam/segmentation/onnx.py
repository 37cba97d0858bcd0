"""Semantic segmentation with any ONNX network described by a JSON sidecar (see sidecar.py).

    seg = OnnxSegmenter("enet_scannet_nyu40.onnx", labels="nyu13")   # looked up in the models folder
    s = seg.segment(frame.rgb)          # Segmentation: (H, W, 14) probabilities at the frame's size

Per frame: resize the colour image to the input size (the sidecar's rule, or `input_size`),
normalise it as the sidecar says, run onnxruntime, turn the logits into probabilities (softmax; a
coarse output is upsampled bilinearly first), map them into the requested label set, and resize
to the frame. `device="cuda[:N]"` uses onnxruntime's CUDA execution provider and is an error
when this onnxruntime has none (install onnxruntime-gpu, or ask for the segmenter on the cpu).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .base import RebuildsFromArguments, Segmentation, SegmentationError, probability_dtype
from .labels import LabelSet, get_label_set
from .mapping import find_mapping
from .sidecar import (
    ModelSpec, check_rgb, choose_input_size, load_spec, logits_to_probs, network_segmentation, prepare_input,
    resolve_model_path,
)  # fmt: skip


def parse_device(device: str | None) -> tuple[str, int]:
    """("cpu", 0) or ("cuda", N) from "cpu" | "cuda" | "cuda:N"."""
    d = (device or "cpu").strip().lower()
    if d == "cpu":
        return "cpu", 0
    if d == "cuda" or d.startswith("cuda:"):
        try:
            return "cuda", int(d.split(":", 1)[1]) if ":" in d else 0
        except ValueError:
            pass
    raise SegmentationError(f"segmenter device must be cpu, cuda or cuda:N, got {device!r}")


def onnx_providers(device: str | None, model: Path | str = "") -> list:
    """onnxruntime execution providers for `device`; SegmentationError when CUDA is asked for and
    this onnxruntime cannot provide it."""
    import onnxruntime as ort

    kind, index = parse_device(device)
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise SegmentationError(
            f"segmenter device {device!r} for {model or 'the model'}: this onnxruntime "
            f"({ort.__version__}) has no CUDAExecutionProvider (it has {', '.join(available)}); install "
            f"onnxruntime-gpu or set semantics.segmenter_device: cpu"
        )
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def load_session(model: Path, device: str, threads: int | None):
    """An onnxruntime session of `model` on `device` with `threads` intra-op threads (None: one per
    core). Its threads do not spin while waiting for work: a network runs beside tracking, whose
    OpenMP threads need the cores the moment they have work. SegmentationError naming the file
    when onnxruntime cannot load it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(str(model), options, providers=onnx_providers(device, model))
    except SegmentationError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
        raise SegmentationError(f"model file {model} is not an ONNX model onnxruntime can load: "
                                f"{str(exc).strip().splitlines()[0][:300]}") from None


def _dims(shape) -> list:
    return [d if isinstance(d, int) else str(d) for d in shape]


def check_model_against_sidecar(spec: ModelSpec, model: Path, inputs, outputs) -> None:
    """SegmentationError naming both files when the model's input/output names or fixed sizes
    differ from what its sidecar says."""
    by_name = {i.name: i for i in inputs}
    if spec.input_name not in by_name:
        raise SegmentationError(
            f"model sidecar {spec.sidecar} names input {spec.input_name!r}, but {model} has inputs "
            f"{sorted(by_name)}"
        )
    shape = _dims(by_name[spec.input_name].shape)
    if len(shape) != len(spec.input_shape) or any(
        isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(shape, spec.input_shape)
    ):
        raise SegmentationError(
            f"model sidecar {spec.sidecar} says input {spec.input_name!r} has shape {spec.input_shape}, but "
            f"{model} has {shape}"
        )
    outs = {o.name: o for o in outputs}
    name = spec.output_name if spec.output_name else outputs[0].name
    if name not in outs:
        raise SegmentationError(
            f"model sidecar {spec.sidecar} names output {name!r}, but {model} has outputs {sorted(outs)}"
        )
    oshape = _dims(outs[name].shape)
    if len(oshape) != 4 or (isinstance(oshape[1], int) and oshape[1] != spec.num_classes):
        raise SegmentationError(
            f"model sidecar {spec.sidecar} lists {spec.num_classes} labels, but output {name!r} of {model} has "
            f"shape {oshape} ({oshape[1] if len(oshape) > 1 else '?'} classes)"
        )
    if any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(oshape, spec.output_shape)):
        raise SegmentationError(
            f"model sidecar {spec.sidecar} says output {name!r} has shape {spec.output_shape}, but {model} has "
            f"{oshape}"
        )


class OnnxSegmenter(RebuildsFromArguments):
    """A `Segmenter` running an ONNX semantic-segmentation network with onnxruntime.

    model: path (a relative one missing as given is looked up in the models folder). labels: the
    label set of the output (name or LabelSet; None: the model's own); probabilities are mapped
    into it with `find_mapping`. device: cpu | cuda[:N]. input_size: (w, h) the network sees, None:
    the sidecar's rule at the frame's size. dtype: float32 or float16 probabilities. threads:
    onnxruntime intra-op threads (None: its default, all cores). sidecar: explicit sidecar path.
    """

    def __init__(self, model: str | Path, labels: str | LabelSet | None = None, device: str = "cpu",
                 input_size: tuple[int, int] | None = None, dtype=np.float32, threads: int | None = None,
                 sidecar: str | Path | None = None) -> None:
        self.model_path = resolve_model_path(model)
        self.spec = load_spec(self.model_path, Path(sidecar) if sidecar else None)
        self.device = (device or "cpu").lower()
        self.session = load_session(self.model_path, self.device, threads)
        check_model_against_sidecar(self.spec, self.model_path, self.session.get_inputs(), self.session.get_outputs())
        self.output_name = self.spec.output_name or self.session.get_outputs()[0].name
        self.model_label_set = self.spec.label_set
        target = self.model_label_set if labels is None else (
            labels if isinstance(labels, LabelSet) else get_label_set(labels))
        self.mapping = find_mapping(self.model_label_set, target)
        self.label_set = target
        self.input_size = tuple(int(v) for v in input_size) if input_size is not None else None
        if self.input_size is not None:
            choose_input_size(self.spec, *self.input_size, self.input_size)  # refuse a bad size now, not per frame
        self.dtype = probability_dtype(dtype)
        self.name = f"onnx:{self.model_path.name}"
        self.providers = self.session.get_providers()

    def __repr__(self) -> str:
        return (f"OnnxSegmenter({self.model_path.name}, {self.model_label_set.name}->{self.label_set.name}, "
                f"{self.providers[0]})")

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """(w, h) the network sees for a width x height frame."""
        return choose_input_size(self.spec, width, height, self.input_size)

    def logits(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Raw network output (C, h, w) float32 for an RGB frame, and the input size used."""
        check_rgb(rgb, self.name)
        size = self.input_size_for(rgb.shape[1], rgb.shape[0])
        x = prepare_input(rgb, self.spec, size)
        out = self.session.run([self.output_name], {self.spec.input_name: x})[0]
        return np.asarray(out[0], np.float32), size

    def segment(self, rgb: np.ndarray, depth: np.ndarray | None = None, frame=None) -> Segmentation:
        t0 = time.perf_counter()
        logits, size = self.logits(rgb)
        t1 = time.perf_counter()
        probs = logits_to_probs(logits, size, (rgb.shape[1], rgb.shape[0]), self.mapping, self.dtype)
        return network_segmentation(self, probs, size, (rgb.shape[1], rgb.shape[0]), t0, t1, time.perf_counter())
