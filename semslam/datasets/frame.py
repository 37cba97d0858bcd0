"""The records every reader produces: camera intrinsics and one RGB-D frame."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the (registered) depth/colour camera.

    fx, fy, cx, cy in pixels; width, height in pixels. `depth_scale` is the number of raw depth
    units per metre in the files (TUM: 5000, 7-Scenes/ScanNet: 1000); frames always carry depth
    already divided by it. `distortion` holds OpenCV/TUM coefficients k1 k2 p1 p2 k3 when known
    (None when the images are undistorted or the distortion is unknown).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    depth_scale: float = 1000.0
    distortion: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "depth_scale"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"Intrinsics.{name} must be a positive finite number, got {value!r}")
        for name in ("cx", "cy"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"Intrinsics.{name} must be finite, got {getattr(self, name)!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Intrinsics size must be positive, got {self.width}x{self.height}")

    @property
    def K(self) -> np.ndarray:
        """3x3 camera matrix (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, factor: float) -> "Intrinsics":
        """Intrinsics of the image resized by `factor` (pixel centres kept consistent)."""
        return replace(
            self,
            fx=self.fx * factor,
            fy=self.fy * factor,
            cx=(self.cx + 0.5) * factor - 0.5,
            cy=(self.cy + 0.5) * factor - 0.5,
            width=int(round(self.width * factor)),
            height=int(round(self.height * factor)),
        )

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("fx", "fy", "cx", "cy", "width", "height", "depth_scale")}
        d["distortion"] = list(self.distortion) if self.distortion is not None else None
        return d


@dataclass
class Frame:
    """One RGB-D frame.

    rgb: uint8 HxWx3 (RGB order). depth: float32 HxW in metres, 0 = no reading.
    T_world_cam: ground-truth camera-to-world 4x4 (float64) when the sequence has it.
    labels / instances: ground-truth per-pixel class ids (uint16, in the sequence's label set)
    and instance ids (uint16/int32, 0 = none), when the sequence has them.
    """

    index: int
    timestamp: float
    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    T_world_cam: np.ndarray | None = None
    labels: np.ndarray | None = None
    instances: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        h, w = self.intrinsics.height, self.intrinsics.width
        if self.rgb.dtype != np.uint8 or self.rgb.ndim != 3 or self.rgb.shape[2] != 3:
            raise ValueError(f"Frame {self.index}: rgb must be uint8 HxWx3, got {self.rgb.dtype} {self.rgb.shape}")
        if self.depth.dtype != np.float32 or self.depth.ndim != 2:
            raise ValueError(f"Frame {self.index}: depth must be float32 HxW, got {self.depth.dtype} {self.depth.shape}")
        if self.rgb.shape[:2] != self.depth.shape or self.depth.shape != (h, w):
            raise ValueError(
                f"Frame {self.index}: rgb {self.rgb.shape[:2]}, depth {self.depth.shape} and intrinsics "
                f"{(h, w)} must agree in size"
            )
        if self.T_world_cam is not None and np.asarray(self.T_world_cam).shape != (4, 4):
            raise ValueError(f"Frame {self.index}: T_world_cam must be 4x4, got {np.shape(self.T_world_cam)}")

    @property
    def height(self) -> int:
        return self.depth.shape[0]

    @property
    def width(self) -> int:
        return self.depth.shape[1]
