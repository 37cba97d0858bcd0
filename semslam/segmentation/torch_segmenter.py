"""Semantic segmentation with a torch `nn.Module`: a user's own network, or a model file.

    seg = TorchSegmenter(my_module, model_labels="nyu40", labels="nyu13",
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), size_multiple=32)
    seg = TorchSegmenter.from_file("enet_scannet_nyu40.pth", labels="nyu40")   # sidecar configures it

The module takes (1, 3, h, w) float32 normalised RGB and returns (1, C, h', w') logits (or a dict
with "out", as torchvision's models do); logits coarser than the input are upsampled bilinearly
to the frame before the softmax. Pre- and post-processing are the ONNX segmenter's (sidecar.py),
so a network gives the same probabilities through either runtime.
"""

from __future__ import annotations

import contextlib

import time
from pathlib import Path

import numpy as np

from .base import Segmentation, SegmentationError
from .labels import LabelSet, get_label_set, label_set_for_names
from .mapping import find_mapping
from .onnx import parse_device
from .sidecar import (
    ModelSpec, SizeRule, check_rgb, choose_input_size, load_spec, logits_to_probs, logits_to_probs_torch,
    network_segmentation, prepare_input, resolve_model_path,
)  # fmt: skip


def _label_set(value) -> LabelSet:
    if isinstance(value, LabelSet):
        return value
    if isinstance(value, str):
        return get_label_set(value)
    return label_set_for_names(list(value), "model")


def _from_file(cls, *args):
    return cls.from_file(*args)


def _restore(cls, state: dict):
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


class TorchSegmenter:
    """A `Segmenter` running a torch module.

    model_labels: the module's output classes (label set, its name, or a list of names).
    labels: output label set (None: model_labels). mean/std: per-channel of rgb/255 (else scale
    and offset: x = rgb * scale + offset). size_multiple: input sizes the module accepts;
    input_size: (w, h) it sees (None: the frame's size rounded to size_multiple). device: cpu |
    cuda[:N]. spec: a parsed sidecar, which replaces the normalisation and size arguments.
    """

    def __init__(self, module, model_labels, labels=None, mean=None, std=None, scale: float = 1 / 255,
                 offset: float = 0.0, size_multiple: int = 1, input_size: tuple[int, int] | None = None,
                 device: str = "cpu", dtype=np.float32, name: str = "torch:module", spec: ModelSpec | None = None) -> None:
        import torch

        kind, index = parse_device(device)
        if kind == "cuda" and not torch.cuda.is_available():
            raise SegmentationError(f"segmenter device {device!r} for {name}: this torch ({torch.__version__}) "
                                    f"sees no CUDA device; use cpu")
        self.torch_device = torch.device("cuda", index) if kind == "cuda" else torch.device("cpu")
        self.module = module.to(self.torch_device).eval()
        if spec is None:
            model_set = _label_set(model_labels)
            if mean is not None and std is not None:
                mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
                sc, off = 1.0 / (255.0 * std), -mean / std
            else:
                sc, off = np.full(3, scale), np.full(3, offset)
            spec = ModelSpec(
                sidecar=Path("<arguments>"), model_file=name, input_name="input", input_shape=[1, 3, "h", "w"],
                layout="NCHW", bgr=False, scale=np.asarray(sc, np.float32), offset=np.asarray(off, np.float32),
                size=SizeRule(multiple=int(size_multiple)), output_name="logits",
                output_shape=[1, len(model_set), "h", "w"], labels=list(model_set.names), label_set=model_set,
            )  # fmt: skip
        self.spec = spec
        self.model_label_set = spec.label_set
        self.label_set = self.model_label_set if labels is None else _label_set(labels)
        self.mapping = find_mapping(self.model_label_set, self.label_set)
        self.input_size = tuple(int(v) for v in input_size) if input_size is not None else None
        if self.input_size is not None:
            choose_input_size(spec, *self.input_size, self.input_size)
        self.dtype = np.dtype(dtype)
        self.name = name
        self._source: tuple | None = None  # from_file's arguments, when it was built from a file

    def __reduce__(self):
        """Pickled (for a segmentation worker process): one built from a file loads the file again;
        one built around a module sends the module (torch pickles its parameters), not the CUDA
        stream or the traced graphs, which are made again where it lands."""
        if self._source is not None:
            return (_from_file, self._source)
        state = {k: v for k, v in self.__dict__.items() if k not in ("_stream", "_graphs")}
        return (_restore, (type(self), state))

    @classmethod
    def from_file(cls, path: str | Path, labels=None, device: str = "cpu", input_size=None, dtype=np.float32,
                  sidecar: str | Path | None = None) -> "TorchSegmenter":
        """A model file with its JSON sidecar: an ENet state dict (our `enet.ENetEncoder`), a
        TorchScript archive, or a whole pickled nn.Module (loaded with weights_only=False: only
        for files you trust)."""
        import torch

        model_path = resolve_model_path(path)
        spec = load_spec(model_path, Path(sidecar) if sidecar else None)
        module = None
        try:
            state = torch.load(str(model_path), map_location="cpu", weights_only=True)
        except Exception:
            state = None
        if isinstance(state, dict):
            if "26.0.weight" not in state:
                raise SegmentationError(
                    f"model file {model_path} is a state dict semslam has no architecture for (it knows ENet's "
                    f"keys '0.0.weight' ... '26.0.weight'); pass your nn.Module to TorchSegmenter instead"
                )
            from .enet import load_enet

            try:
                module = load_enet(model_path)
            except ValueError as exc:
                raise SegmentationError(str(exc)) from None
        else:
            try:
                module = torch.jit.load(str(model_path), map_location="cpu")
            except Exception:
                try:
                    module = torch.load(str(model_path), map_location="cpu", weights_only=False)
                except Exception as exc:
                    raise SegmentationError(f"model file {model_path} is not a torch model file torch can load: "
                                            f"{str(exc).splitlines()[0][:200]}") from None
            if not callable(module):
                raise SegmentationError(f"model file {model_path} holds a {type(module).__name__}, not a module")
        n_out = int(state["26.0.weight"].shape[0]) if isinstance(state, dict) else None
        if n_out is not None and n_out != spec.num_classes:
            raise SegmentationError(
                f"model sidecar {spec.sidecar} lists {spec.num_classes} labels, but {model_path} has "
                f"{n_out} output classes"
            )
        segmenter = cls(module, spec.label_set, labels=labels, input_size=input_size, device=device, dtype=dtype,
                        name=f"torch:{model_path.name}", spec=spec)
        segmenter._source = (cls, str(model_path), labels, device, input_size, dtype, sidecar)
        return segmenter

    def __repr__(self) -> str:
        return f"TorchSegmenter({self.name}, {self.model_label_set.name}->{self.label_set.name}, {self.torch_device})"

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return choose_input_size(self.spec, width, height, self.input_size)

    def _segment_on_gpu(self, rgb: np.ndarray):
        """The network and its post-processing on this segmenter's CUDA stream: (probabilities on the
        host, the same on the GPU (a torch tensor), input size, time the network finished)."""
        import torch

        check_rgb(rgb, self.name)
        size = self.input_size_for(rgb.shape[1], rgb.shape[0])
        stream = getattr(self, "_stream", None)
        if stream is None:
            stream = self._stream = torch.cuda.Stream(self.torch_device)
        with torch.cuda.stream(stream):
            x = torch.from_numpy(prepare_input(rgb, self.spec, size)).to(self.torch_device)
            with torch.inference_mode():
                out = self._graph(x)(x)
                if isinstance(out, dict):
                    out = out["out"]
                elif isinstance(out, (tuple, list)):
                    out = out[0]
                if out.ndim != 4 or out.shape[1] != len(self.model_label_set):
                    raise SegmentationError(
                        f"{self.name} returned shape {tuple(out.shape)}; expected (1, {len(self.model_label_set)}, h, w) "
                        f"logits for its label set {self.model_label_set.name!r}"
                    )
                stream.synchronize()
                t1 = time.perf_counter()
                probs = logits_to_probs_torch(out, size, (rgb.shape[1], rgb.shape[0]), self.mapping)
                probs = probs.to(torch.float16 if np.dtype(self.dtype) == np.float16 else torch.float32)
                host = probs.cpu().numpy()  # waits for this stream: `probs` is ready for any stream after
        return host, probs, size, t1

    def _graph(self, x):
        """The module traced to TorchScript for this input shape (traced once per shape): TorchScript
        runs the network without holding the GIL, so the mapping thread is not held up by a network
        working beside it in the same process. Modules that cannot be traced run as they are."""
        import torch

        graphs = self.__dict__.setdefault("_graphs", {})
        key = tuple(x.shape)
        if key not in graphs:
            try:
                with torch.inference_mode(False), torch.no_grad():
                    graphs[key] = torch.jit.freeze(torch.jit.trace(self.module, x.clone(), check_trace=False))
            except Exception:  # data-dependent control flow, unsupported ops: eager is still correct
                graphs[key] = self.module
        return graphs[key]

    def logits(self, rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Raw module output (C, h, w) float32 for an RGB frame, and the input size used."""
        import torch

        check_rgb(rgb, self.name)
        size = self.input_size_for(rgb.shape[1], rgb.shape[0])
        # On a GPU the network runs on a stream of its own, so it overlaps with the SLAM core's
        # kernels (which run on the mapping thread's own stream) instead of queueing behind them.
        stream = None
        if self.torch_device.type == "cuda":
            stream = getattr(self, "_stream", None)
            if stream is None:
                stream = self._stream = torch.cuda.Stream(self.torch_device)
        with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
            x = torch.from_numpy(prepare_input(rgb, self.spec, size)).to(self.torch_device)
            with torch.inference_mode():
                out = self.module(x)
            if isinstance(out, dict):
                out = out["out"]
            elif isinstance(out, (tuple, list)):
                out = out[0]
            out = out.float().cpu().numpy()
        if out.ndim != 4 or out.shape[1] != len(self.model_label_set):
            raise SegmentationError(
                f"{self.name} returned shape {out.shape}; expected (1, {len(self.model_label_set)}, h, w) logits "
                f"for its label set {self.model_label_set.name!r}"
            )
        return out[0], size

    def segment(self, rgb: np.ndarray, depth: np.ndarray | None = None, frame=None) -> Segmentation:
        t0 = time.perf_counter()
        device_probs = None
        if self.torch_device.type == "cuda":  # softmax, label map and upsampling stay on the GPU
            probs, device_probs, size, t1 = self._segment_on_gpu(rgb)
        else:
            logits, size = self.logits(rgb)
            t1 = time.perf_counter()
            probs = logits_to_probs(logits, size, (rgb.shape[1], rgb.shape[0]), self.mapping, self.dtype)
        seg = network_segmentation(self, probs, size, (rgb.shape[1], rgb.shape[0]), t0, t1, time.perf_counter())
        if device_probs is not None:  # label fusion on the same GPU reads these, not the host copy
            seg.extra["probs_device"] = device_probs
        return seg
