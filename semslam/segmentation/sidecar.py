"""Model files and their JSON sidecars: where models live, what a sidecar says, and the pre- and
post-processing every network segmenter (ONNX, torch) shares.

A model file `NAME.onnx` (or `.pth`, `.pt`) is described by `NAME.json` beside it (for a `.pth`
whose `.json` is absent, the `.json` of the same stem's ONNX export also names it under
"weights"). Keys read here:

    input:   name, shape ([N|1, 3, H|h, W|w] with numbers where the model is fixed), layout NCHW|NHWC,
             channel_order RGB|BGR, normalisation (text, e.g. "x = rgb_uint8 / 127.5 - 1" or
             "x = (rgb_uint8/255 - mean) / std, mean = [...], std = [...]"), size_note (text: "multiples
             of 8", "fixed 257x257", "8k+1 sizes preferred", "trained at 513x513", ...).
             Optional, taking precedence over the text: mean, std (of rgb/255), scale, offset
             (x = rgb * scale + offset), size_multiple, size_offset (sizes k*multiple + offset),
             native_size [W, H].
    outputs: [{name, shape [N, C, h, w] (h/8: logits at 1/8 of the input), meaning}]; per-pixel logits.
    labels:  class names in output-channel order; num_classes.

Models are looked up, for a relative path that does not exist as given, in the models folder:
$SEMSLAM_MODELS, else ../shared/models next to the repository.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .base import SegmentationError
from .labels import LabelSet, label_set_for_names
from .mapping import LabelMapping

REPO_ROOT = Path(__file__).resolve().parents[2]


def models_dir() -> Path:
    """The folder of pretrained models: $SEMSLAM_MODELS, else ../shared/models beside the repository."""
    return Path(os.environ.get("SEMSLAM_MODELS", REPO_ROOT.parent / "shared" / "models")).resolve()


def resolve_model_path(path: str | Path) -> Path:
    """`path` as given when it exists; a relative path missing there is looked up in `models_dir()`.
    SegmentationError naming every place looked when it is nowhere."""
    p = Path(path).expanduser()
    if p.exists():
        return p.absolute()
    if not p.is_absolute():
        q = models_dir() / p
        if q.exists():
            return q.absolute()
        raise SegmentationError(f"model file {path} not found (looked in {Path.cwd()} and in {models_dir()}; "
                                f"set SEMSLAM_MODELS to the models folder)")
    raise SegmentationError(f"model file {p} not found")


@dataclass(frozen=True)
class SizeRule:
    """Input sizes a model accepts: fixed (w, h); else every multiple*k + offset (multiple 1: any
    size). preferred_*: sizes it works best at among those (DeepLab: 8k+1). native: the size it
    was trained at, (w, h) or None."""

    fixed: tuple[int, int] | None = None
    multiple: int = 1
    offset: int = 0
    preferred_multiple: int = 1
    preferred_offset: int = 0
    native: tuple[int, int] | None = None

    def describe(self) -> str:
        if self.fixed:
            return f"fixed {self.fixed[0]}x{self.fixed[1]}"
        if self.multiple == 1:
            return "any size"
        return f"width and height {self.multiple}k" + (f"+{self.offset}" if self.offset else "")

    def accepts(self, w: int, h: int) -> bool:
        if w <= 0 or h <= 0:
            return False
        if self.fixed:
            return (w, h) == self.fixed
        return (w - self.offset) % self.multiple == 0 and (h - self.offset) % self.multiple == 0

    def default_for(self, frame_w: int, frame_h: int) -> tuple[int, int]:
        """The input size used for a frame when none is asked for: the fixed size; for a model of
        any size with a known training size, the frame scaled so its longer side is the longer
        training side (DeepLab ADE20K: 640x480 -> 513x385); else the frame's own size; rounded to
        the required (else preferred) sizes."""
        if self.fixed:
            return self.fixed
        w, h = float(frame_w), float(frame_h)
        if self.native and self.multiple == 1:
            s = max(self.native) / max(w, h)
            w, h = w * s, h * s
        m, o = (self.multiple, self.offset) if self.multiple > 1 else (self.preferred_multiple, self.preferred_offset)
        return tuple(max(1, int(round((v - o) / m))) * m + o for v in (w, h))  # type: ignore[return-value]


@dataclass
class ModelSpec:
    """What a sidecar says about a per-pixel segmentation network."""

    sidecar: Path
    model_file: str
    input_name: str
    input_shape: list
    layout: str  # "NCHW" | "NHWC"
    bgr: bool
    scale: np.ndarray  # (3,) x = rgb * scale + offset, per channel in RGB order
    offset: np.ndarray
    size: SizeRule
    output_name: str
    output_shape: list
    labels: list[str]
    label_set: LabelSet = field(repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.labels)


def sidecar_path_for(model: Path) -> Path:
    """NAME.json beside NAME.onnx/.pth; for weights named under "weights" by another sidecar of the
    same folder (enet.json names enet.pth), that one."""
    own = model.with_suffix(".json")
    if own.is_file():
        return own
    for candidate in sorted(model.parent.glob("*.json")):
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("weights", "").split(" ")[0] == model.name:
            return candidate
    raise SegmentationError(
        f"model sidecar {own} not found: every model file needs a JSON sidecar beside it describing its "
        f"input (name, layout, size rule, normalisation), outputs and labels (see ../shared/models/*.json)"
    )


_NUMBER = r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"


def _floats(text: str, key: str) -> list[float] | None:
    m = re.search(key + r"\s*=\s*\[([^\]]*)\]", text)
    return [float(v) for v in re.findall(_NUMBER, m.group(1))] if m else None


def parse_normalisation(inp: dict, where: Path) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset) per RGB channel with x = rgb_uint8 * scale + offset."""
    if "scale" in inp or "offset" in inp:
        scale = np.broadcast_to(np.asarray(inp.get("scale", 1.0), np.float64), (3,))
        offset = np.broadcast_to(np.asarray(inp.get("offset", 0.0), np.float64), (3,))
        return scale.astype(np.float32), offset.astype(np.float32)
    text = str(inp.get("normalisation", inp.get("normalization", "")))
    mean = inp.get("mean") or _floats(text, "mean")
    std = inp.get("std") or _floats(text, "std")
    div = re.search(r"rgb\w*\s*/\s*(" + _NUMBER + ")", text)
    if mean is not None and std is not None:
        d = float(div.group(1)) if div else 255.0
        mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        if mean.shape != (3,) or std.shape != (3,) or np.any(std <= 0):
            raise SegmentationError(f"model sidecar {where}: mean/std must be 3 numbers (std > 0), got {mean} {std}")
        return (1.0 / (d * std)).astype(np.float32), (-mean / std).astype(np.float32)
    m = re.search(r"rgb\w*\s*/\s*(" + _NUMBER + r")\s*(?:([-+])\s*(" + _NUMBER + r"))?", text)
    if m:
        d = float(m.group(1))
        c = float(m.group(3) or 0.0) * (-1.0 if m.group(2) == "-" else 1.0)
        return np.full(3, 1.0 / d, np.float32), np.full(3, c, np.float32)
    raise SegmentationError(
        f"model sidecar {where}: cannot read the input normalisation {text!r}; write it as "
        f"'x = rgb_uint8 / 255', 'x = rgb_uint8 / 127.5 - 1' or with mean = [..], std = [..] (or give "
        f"input.scale and input.offset)"
    )


def parse_size_rule(inp: dict, shape: list, where: Path) -> SizeRule:
    note = str(inp.get("size_note", ""))
    h_dim, w_dim = (shape[2], shape[3]) if str(inp.get("layout", "NCHW")).upper() == "NCHW" else (shape[1], shape[2])
    native = inp.get("native_size")
    if native is None:
        m = re.search(r"(?:trained|native)[^0-9]{0,40}?(\d+)\s*x\s*(\d+)(?:\s*\(w\s*x\s*h\))?", note, re.I)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            native = (a, b)
    native = tuple(int(v) for v in native) if native is not None else None
    if isinstance(h_dim, int) and isinstance(w_dim, int):
        return SizeRule(fixed=(w_dim, h_dim), native=native)
    multiple, offset = inp.get("size_multiple"), inp.get("size_offset")
    preferred, preferred_offset = 1, 0
    if multiple is None:
        m = re.search(r"must be (?:a )?multiples? of (\d+)", note, re.I)
        if m:
            multiple, offset = int(m.group(1)), 0
    m = re.search(r"(\d+)k\s*\+\s*(\d+)", note)
    if m:
        preferred, preferred_offset = int(m.group(1)), int(m.group(2))
    return SizeRule(multiple=int(multiple or 1), offset=int(offset or 0), preferred_multiple=preferred,
                    preferred_offset=preferred_offset, native=native)


def load_spec(model: Path, sidecar: Path | None = None) -> ModelSpec:
    """Read and check the sidecar of `model` (SegmentationError naming the sidecar on anything
    missing or unreadable)."""
    sidecar = sidecar or sidecar_path_for(model)
    try:
        data = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise SegmentationError(f"model sidecar {sidecar} not found") from None
    except (OSError, ValueError) as exc:
        raise SegmentationError(f"model sidecar {sidecar} is not readable JSON: {exc}") from None
    try:
        inp = data["input"]
        outputs = data["outputs"]
        labels = [str(v) for v in data["labels"]]
        shape = list(inp["shape"])
        input_name = str(inp["name"])
    except (KeyError, TypeError) as exc:
        raise SegmentationError(f"model sidecar {sidecar} lacks {exc} (needs input.name, input.shape, outputs, "
                                f"labels)") from None
    layout = str(inp.get("layout", "NCHW")).upper()
    if layout not in ("NCHW", "NHWC") or len(shape) != 4:
        raise SegmentationError(f"model sidecar {sidecar}: input must be 4-D NCHW or NHWC, got {layout} {shape}")
    channels = shape[1] if layout == "NCHW" else shape[3]
    if channels != 3:
        raise SegmentationError(f"model sidecar {sidecar}: input must have 3 colour channels, shape says {shape}")
    if not outputs:
        raise SegmentationError(f"model sidecar {sidecar}: lists no outputs")
    out = outputs[0]
    out_shape = list(out.get("shape", []))
    n = int(data.get("num_classes", len(labels)))
    if n != len(labels):
        raise SegmentationError(f"model sidecar {sidecar}: num_classes {n} but {len(labels)} labels")
    if len(out_shape) != 4 or (isinstance(out_shape[1], int) and out_shape[1] != n):
        raise SegmentationError(
            f"model sidecar {sidecar}: output {out.get('name')!r} of shape {out_shape} is not per-pixel logits "
            f"(N, {n}, h, w) for its {n} labels; semslam's network segmenters need a semantic-segmentation output"
        )
    scale, offset = parse_normalisation(inp, sidecar)
    stem = Path(str(data.get("model", model.name))).stem
    return ModelSpec(
        sidecar=sidecar,
        model_file=str(data.get("model", model.name)),
        input_name=input_name,
        input_shape=shape,
        layout=layout,
        bgr=str(inp.get("channel_order", "RGB")).upper() == "BGR",
        scale=scale,
        offset=offset,
        size=parse_size_rule(inp, shape, sidecar),
        output_name=str(out.get("name", "")),
        output_shape=out_shape,
        labels=labels,
        label_set=label_set_for_names(labels, stem),
    )


def check_rgb(rgb: np.ndarray, who: str) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        desc = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise SegmentationError(f"{who}: rgb must be uint8 (H, W, 3), got {desc}")


def choose_input_size(spec: ModelSpec, frame_w: int, frame_h: int,
                      requested: tuple[int, int] | None) -> tuple[int, int]:
    """(w, h) the network sees: `requested` (checked against the sidecar's rule) or the rule's
    default for the frame."""
    if requested is None:
        return spec.size.default_for(frame_w, frame_h)
    w, h = (int(v) for v in requested)
    if not spec.size.accepts(w, h):
        raise SegmentationError(
            f"input size {w}x{h} does not suit model {spec.model_file}: its sidecar {spec.sidecar} allows "
            f"{spec.size.describe()}"
        )
    return w, h


def prepare_input(rgb: np.ndarray, spec: ModelSpec, size: tuple[int, int]) -> np.ndarray:
    """The network's input tensor (1, 3, h, w) or (1, h, w, 3) float32 for `rgb` resized to size."""
    import cv2

    w, h = size
    if (rgb.shape[1], rgb.shape[0]) != (w, h):
        shrink = w < rgb.shape[1] and h < rgb.shape[0]
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    x = rgb.astype(np.float32) * spec.scale + spec.offset
    if spec.bgr:
        x = x[..., ::-1]
    x = x[None]
    if spec.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x)


def _resize_hwc(x: np.ndarray, w: int, h: int) -> np.ndarray:
    """Bilinear (half-pixel centres) resize of an (h0, w0, C) float32 array to (h, w, C), any C."""
    import cv2

    if x.shape[1] == w and x.shape[0] == h:
        return x
    step = 128  # OpenCV resizes at most 128 channels at once

    def one(part: np.ndarray) -> np.ndarray:
        r = cv2.resize(np.ascontiguousarray(part), (w, h), interpolation=cv2.INTER_LINEAR)
        return r[..., None] if r.ndim == 2 else r

    if x.shape[2] <= step:
        return one(x)
    return np.concatenate([one(x[..., i:i + step]) for i in range(0, x.shape[2], step)], axis=2)


def softmax_(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """In-place softmax of a float32 array along `axis`."""
    x -= x.max(axis=axis, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=axis, keepdims=True)
    return x


def logits_to_probs(logits: np.ndarray, input_size: tuple[int, int], frame_size: tuple[int, int],
                    mapping: LabelMapping, dtype=np.float32) -> np.ndarray:
    """(C, h, w) logits → (H, W, T) class probabilities in the mapping's target set at the frame size.

    Logits coarser than the input (ENet: 1/8) are upsampled bilinearly to the frame before the
    softmax, as the model's sidecar prescribes; logits at input resolution get their softmax and
    label map there and the probabilities are then resized bilinearly to the frame (a bilinear
    resize keeps each pixel's probabilities summing to 1, and works on the fewer mapped classes).
    """
    fw, fh = frame_size
    logits = np.asarray(logits, np.float32)
    coarse = logits.shape[2] < input_size[0] or logits.shape[1] < input_size[1]
    if coarse:
        x = _resize_hwc(logits.transpose(1, 2, 0), fw, fh)
        probs = mapping.apply(softmax_(x))
    else:
        x = softmax_(np.array(logits, np.float32, copy=True, order="C"), axis=0)
        c, h, w = x.shape
        if mapping.is_identity:
            probs = x.transpose(1, 2, 0)
        else:  # map in (C, h*w) layout: one matrix product, then to (h, w, T)
            probs = (mapping.matrix.T @ x.reshape(c, -1)).reshape(-1, h, w).transpose(1, 2, 0)
        probs = _resize_hwc(probs, fw, fh)
    return np.ascontiguousarray(probs, dtype=dtype)


def logits_to_probs_torch(logits, input_size: tuple[int, int], frame_size: tuple[int, int], mapping: LabelMapping):
    """logits_to_probs on the logits' own device: (1, C, h, w) torch logits -> (H, W, T) float32
    torch probabilities (the same steps, bilinear with half-pixel centres as OpenCV's, no
    antialiasing). A network on a GPU hands over 1/8-resolution logits, not a frame of
    probabilities through the host."""
    import torch
    import torch.nn.functional as F

    fw, fh = frame_size
    x = logits.float()
    matrix = None if mapping.is_identity else torch.as_tensor(mapping.matrix, dtype=torch.float32, device=x.device)

    def mapped(p):
        return p if matrix is None else torch.einsum("bchw,ct->bthw", p, matrix)

    def resized(t):
        if t.shape[2] == fh and t.shape[3] == fw:
            return t
        return F.interpolate(t, size=(fh, fw), mode="bilinear", align_corners=False, antialias=False)

    coarse = x.shape[3] < input_size[0] or x.shape[2] < input_size[1]
    if coarse:
        p = mapped(torch.softmax(resized(x), dim=1))
    else:
        p = resized(mapped(torch.softmax(x, dim=1)))
    return p[0].permute(1, 2, 0).contiguous()


def network_segmentation(segmenter, probs: np.ndarray, input_size: tuple[int, int], frame_size: tuple[int, int],
                         t0: float, t1: float, t2: float) -> "Segmentation":
    """The Segmentation a network segmenter returns: its probabilities in its label set, with the
    model's label set, the input size and the network / post-processing milliseconds (from the
    perf_counter times t0 < t1 < t2) in `extra`; checked against the frame's (width, height)."""
    from .base import Segmentation

    seg = Segmentation(probs, segmenter.label_set, None, segmenter.name, extra={
        "model_label_set": segmenter.model_label_set.name, "input_size": input_size,
        "network_ms": 1e3 * (t1 - t0), "postprocess_ms": 1e3 * (t2 - t1),
    })  # fmt: skip
    seg.check_size(*frame_size)
    return seg
