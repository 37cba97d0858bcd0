"""The surfel map in the core (ElasticFusion): prediction, fusion, clean-up.

Conventions: surfel positions and normals in the world frame (metres, unit normals facing the
cameras that saw them); T_world_cam 4x4 float64 maps camera points into the world; camera x right,
y down, z forward; images row-major (H, W). Time is the frame index (int), the same clock in every
call. Colours are float32 RGB in 0..255; predicted intensity is 0.299 R + 0.587 G + 0.114 B in
0..255 (``INTENSITY_SCALE`` times that).

One frame, as ElasticFusion does it::

    prediction = surfel_map.predict(T_world_cam_prev, intrinsics, time)   # for tracking
    T_world_cam = track(frame, prediction)
    surfel_map.fuse(vertices, normals, rgb, T_world_cam, intrinsics, time)
    surfel_map.clean(time)

``fuse`` renders its own fine index map at its pose, so no call depends on another's pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import MapConfig, SemanticsConfig
from ..datasets.frame import Intrinsics
from ..device import check_device, core

INTENSITY_SCALE = 1.0  # predicted intensity units per 8-bit grey level (the core's kIntensityScale)

SURFEL_FIELDS = (
    "positions",  # (N, 3) float32, world, metres
    "normals",  # (N, 3) float32, world, unit
    "colours",  # (N, 3) float32, RGB 0..255
    "radii",  # (N,) float32, metres
    "confidences",  # (N,) float32, accumulated measurement weight
    "init_times",  # (N,) int32, frame of creation
    "last_update_times",  # (N,) int32, frame of the last fusion
    "instance_ids",  # (N,) int32, -1 = none
    "class_probs",  # (N, num_classes) float32 or float16 (the map's probability_dtype), uniform at creation
    "labels",  # (N,) int32 argmax of class_probs (ties: the smaller class), -1 without classes; derived
    "label_confidences",  # (N,) float32 its probability; derived (set_surfels recomputes both)
)


@dataclass
class Prediction:
    """The map rendered into a camera. vertices / normals: (H, W, 3) float32 in that camera's frame;
    colours (H, W, 3) float32 0..255; intensity (H, W) float32 0..255; NaN where no surfel;
    index_map (H, W) int32 surfel index, -1 none."""

    vertices: np.ndarray
    normals: np.ndarray
    colours: np.ndarray
    intensity: np.ndarray
    index_map: np.ndarray

    @property
    def depth(self) -> np.ndarray:
        """(H, W) float32 metres, 0 where no surfel."""
        return np.nan_to_num(self.vertices[..., 2], nan=0.0)


def _pose(T: np.ndarray, name: str = "T_world_cam") -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"{name} must be a 4x4 matrix, got shape {T.shape}")
    return np.ascontiguousarray(T)


# The smallest class probability a float16 table keeps (its smallest subnormal, rounded up): label
# updates on such a table floor probabilities here at least, so no class reaches 0.
FLOAT16_FLOOR = 6e-8


class SurfelMap:
    """ElasticFusion's surfel map on one device ("cpu", "cuda[:N]")."""

    def __init__(
        self,
        config: MapConfig | None = None,
        device: str = "cpu",
        num_classes: int = 0,
        probability_dtype: str = "float32",
    ) -> None:
        """probability_dtype: storage of the class-probability table, "float32" or "float16"
        (SemanticsConfig.probability_dtype)."""
        self.config = config or MapConfig()
        self.device = check_device(device)
        self._map = core().SurfelMap(self.device, num_classes=int(num_classes), probability_dtype=str(probability_dtype),
                                     **self.config.model_dump())

    @property
    def core(self):
        """The core object (other core calls, e.g. the tracker, read its prediction on the device)."""
        return self._map

    def __len__(self) -> int:
        return int(self._map.size)

    @property
    def size(self) -> int:
        return int(self._map.size)

    @property
    def capacity(self) -> int:
        """Surfels the device buffers hold room for (doubles as the map grows)."""
        return int(self._map.capacity)

    def reserve(self, count: int) -> None:
        """Make room for `count` surfels now (e.g. from a memory budget) rather than growing later.
        semslam.errors.OutOfMemoryError when the device has no room; the map is left as it was."""
        self._map.reserve(int(count))

    @property
    def bytes_per_surfel(self) -> int:
        """Bytes of device storage per surfel (every field, one copy)."""
        return int(self._map.bytes_per_surfel)

    @property
    def num_classes(self) -> int:
        return int(self._map.num_classes)

    @property
    def probability_dtype(self) -> str:
        """Storage of the class-probability table: "float32" or "float16"."""
        return str(self._map.probability_dtype)

    def predict(self, T_world_cam: np.ndarray, intrinsics: Intrinsics, time: int) -> Prediction:
        """Render the active stable surfels as oriented disks at T_world_cam (depth-tested)."""
        k = intrinsics
        out = self._map.predict(_pose(T_world_cam), k.fx, k.fy, k.cx, k.cy, k.width, k.height, int(time))
        return Prediction(**out)

    def render_index_map(self, T_world_cam: np.ndarray, intrinsics: Intrinsics, time: int) -> np.ndarray:
        """Fine index map of the active surfels: (H * index_scale, W * index_scale) int32, -1 none."""
        k = intrinsics
        return self._map.render_index_map(_pose(T_world_cam), k.fx, k.fy, k.cx, k.cy, k.width, k.height, int(time))

    def fuse(
        self,
        vertices: np.ndarray,
        normals: np.ndarray,
        rgb: np.ndarray,
        T_world_cam: np.ndarray,
        intrinsics: Intrinsics,
        time: int,
        weight: float = 1.0,
    ) -> dict:
        """Fuse one frame: vertices / normals float32 (H, W, 3) camera frame, NaN invalid (positions
        from the raw depth, normals from the filtered one); rgb uint8 (H, W, 3). ``weight`` scales
        every measurement's confidence (ElasticFusion's velocity weighting). Returns counts:
        pixels_fused, matched, updated, averaged, added, size."""
        vertices = np.ascontiguousarray(vertices, dtype=np.float32)
        normals = np.ascontiguousarray(normals, dtype=np.float32)
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be uint8 (H, W, 3), got {rgb.dtype}")
        if vertices.shape[:2] != (intrinsics.height, intrinsics.width):
            raise ValueError(
                f"vertices are {vertices.shape[1]}x{vertices.shape[0]} but intrinsics are "
                f"{intrinsics.width}x{intrinsics.height}"
            )
        k = intrinsics
        return dict(
            self._map.fuse(
                vertices, normals, np.ascontiguousarray(rgb), _pose(T_world_cam), k.fx, k.fy, k.cx, k.cy,
                int(time), float(weight),
            )
        )

    def clean(self, time: int) -> dict:
        """Remove stale unstable surfels, duplicates and free-space violations (at the last fuse's
        pose). Returns removed_unstable, removed_merged, removed_free_space, size."""
        return dict(self._map.clean(int(time)))

    def surfels(self, stable_only: bool = False, confidence_threshold: float | None = None) -> dict[str, np.ndarray]:
        """Every field (see SURFEL_FIELDS) as numpy arrays; with stable_only, only surfels whose
        confidence >= confidence_threshold (default: the config's)."""
        return dict(self._map.surfels(stable_only, confidence_threshold))

    def field(self, name: str) -> np.ndarray:
        """One per-surfel field alone (positions, normals, colours (N, 3) float32; radii,
        confidences (N,) float32; init_times, last_update_times, instance_ids (N,) int32), without
        copying the others (surfels() also copies the class-probability table)."""
        return self._map.surfel_field(str(name))

    def instance_ids(self) -> np.ndarray:
        """(N,) int32 object id per surfel, -1 none."""
        return self._map.surfel_field("instance_ids")

    def set_instance_ids(self, ids: np.ndarray, indices: np.ndarray | None = None) -> None:
        """Write instance ids: ids (N,) for every surfel, or ids (K,) at surfel indices (K,)
        (ValueError when an index is out of range or the sizes disagree)."""
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        if indices is not None:
            indices = np.ascontiguousarray(indices, dtype=np.int32)
        self._map.set_instance_ids(ids, indices)

    def set_surfels(self, surfels: dict[str, np.ndarray]) -> None:
        """Replace the contents (loading a saved map); instance_ids and class_probs are optional."""
        self._map.set_surfels(dict(surfels))

    # -- semantics (SemanticFusion) ------------------------------------------------------------

    def update_labels(
        self,
        probs: np.ndarray,
        T_world_cam: np.ndarray,
        intrinsics: Intrinsics,
        time: int,
        probability_floor: float,
    ) -> dict:
        """Recursive Bayesian label update from one segmentation (SemanticFusion): renders the fine
        index map at T_world_cam (the pose of the frame the segmentation was computed on, with that
        frame's ``time``); every surfel visible in it, once, takes p <- normalise(p * probs[pixel]),
        then the floor (no class below ``probability_floor`` before renormalising), and its label
        and confidence are refreshed. probs: (H, W, num_classes) float32 or float16 at the
        intrinsics' size, any non-negative scale per pixel. Returns counts: visible, updated,
        rejected (visible surfels whose pixel held non-finite or negative values, or zero on
        every class the surfel holds: left as they were).

        probs may also live on the map's GPU (any object with ``__cuda_array_interface__``: a torch
        CUDA tensor, a CuPy array; C-contiguous, ready to read): it is fused there, with no copy
        through the host."""
        if self.probability_dtype == "float16":  # the table cannot hold less (float16's smallest subnormal is 6e-8)
            probability_floor = max(float(probability_floor), FLOAT16_FLOOR)
        cai = getattr(probs, "__cuda_array_interface__", None)
        if cai is not None:
            return self._update_labels_device(cai, T_world_cam, intrinsics, time, probability_floor)
        probs = np.asarray(probs)
        if probs.ndim != 3 or probs.shape[2] != self.num_classes:
            raise ValueError(f"probs must be (H, W, {self.num_classes}) for a map of {self.num_classes} classes, "
                             f"got shape {probs.shape}")
        if probs.shape[:2] != (intrinsics.height, intrinsics.width):
            raise ValueError(f"the segmentation is {probs.shape[1]}x{probs.shape[0]} but the frame's intrinsics "
                             f"are {intrinsics.width}x{intrinsics.height}")
        if probs.dtype not in (np.float32, np.float16):
            raise ValueError(f"probs must be float32 or float16, got {probs.dtype}")
        k = intrinsics
        return dict(core().update_labels(self._map, np.ascontiguousarray(probs), _pose(T_world_cam), k.fx, k.fy,
                                         k.cx, k.cy, int(time), float(probability_floor)))

    def _update_labels_device(self, cai: dict, T_world_cam, intrinsics: Intrinsics, time: int,
                              probability_floor: float) -> dict:
        shape = tuple(cai["shape"])
        if len(shape) != 3 or shape[2] != self.num_classes:
            raise ValueError(f"probs must be (H, W, {self.num_classes}) for a map of {self.num_classes} classes, "
                             f"got shape {shape}")
        if shape[:2] != (intrinsics.height, intrinsics.width):
            raise ValueError(f"the segmentation is {shape[1]}x{shape[0]} but the frame's intrinsics are "
                             f"{intrinsics.width}x{intrinsics.height}")
        itemsize = int(cai["typestr"][2:])
        contiguous = (shape[1] * shape[2] * itemsize, shape[2] * itemsize, itemsize)
        if cai.get("strides") not in (None, contiguous):
            raise ValueError(f"GPU probs must be C-contiguous, got strides {cai['strides']}")
        k = intrinsics
        return dict(core().update_labels_device(
            self._map, int(cai["data"][0]), shape[0], shape[1], shape[2], cai["typestr"], _pose(T_world_cam),
            k.fx, k.fy, k.cx, k.cy, int(time), float(probability_floor)))

    def crf(
        self,
        *,
        iterations: int,
        sigma_position: float,
        sigma_colour: float,
        sigma_normal: float,
        appearance_weight: float,
        smoothness_weight: float,
        neighbour_radius: float,
        max_neighbours: int | None = None,
        probability_floor: float | None = None,
    ) -> dict:
        """Dense CRF over every surfel (SemanticFusion's map regularisation): ``iterations``
        mean-field steps with unary -log p, an appearance kernel ``appearance_weight`` *
        exp(-|dp|^2 / 2 sigma_position^2 - |dc|^2 / 2 sigma_colour^2) (colours 0..255) and a
        smoothness kernel ``smoothness_weight`` * exp(-|dp|^2 / 2 sigma_position^2 -
        |dn|^2 / 2 sigma_normal^2), Potts compatibility, each kernel's message normalised over the
        surfel's neighbourhood and itself (surfels within ``neighbour_radius`` m, at most
        ``max_neighbours`` sampled).
        The posterior, floored at ``probability_floor`` and renormalised, replaces the class
        probabilities; labels follow. Keywords are SemanticsConfig's crf_* fields without the
        prefix; max_neighbours and probability_floor default to SemanticsConfig's. Returns
        surfels, mean_neighbours, isolated, labels_changed, cells, cell_size."""
        defaults = SemanticsConfig()
        floor = float(defaults.probability_floor if probability_floor is None else probability_floor)
        if self.probability_dtype == "float16":
            floor = max(floor, FLOAT16_FLOOR)
        return dict(core().map_crf(
            self._map,
            iterations=int(iterations),
            sigma_position=float(sigma_position),
            sigma_colour=float(sigma_colour),
            sigma_normal=float(sigma_normal),
            appearance_weight=float(appearance_weight),
            smoothness_weight=float(smoothness_weight),
            neighbour_radius=float(neighbour_radius),
            max_neighbours=int(defaults.crf_max_neighbours if max_neighbours is None else max_neighbours),
            probability_floor=floor,
        ))

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Per surfel: the argmax class (N,) int32 (-1 without classes) and its probability (N,) float32."""
        return core().surfel_labels(self._map)
