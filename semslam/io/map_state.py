"""The full state of a run's map: `map.npz`, written atomically, loaded back into a SurfelMap.

One uncompressed NumPy archive (`allow_pickle=False` readable) with:

    surfel_<field>       every field of SurfelMap.surfels() — positions (N, 3) float32, normals,
                         colours, radii, confidences, init_times, last_update_times, instance_ids,
                         class_probs (N, C) float32/float16 (the full probability vectors), ...
    label_set_name       str; label_set_names (C,) str; label_set_colours (C, 3) uint8
                         (absent when the map has no classes)
    trajectory_timestamps (M,) float64 s; trajectory_T_world_cam (M, 4, 4) float64
    intrinsics           JSON of the camera (fx fy cx cy width height depth_scale distortion)
    config               JSON of the run's Config (every section)
    objects              JSON of the object map (ObjectMap.state(): label set, objects with class
                         probabilities, counts, frames, boxes; absent without objects); the
                         objects' surfels are those whose surfel_instance_ids name them
    meta                 JSON: format, version, semslam version, map time (frames processed), extra

The world frame is the camera of the first frame, as in map.ply and trajectory.txt.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SemslamError
from .atomic import atomic_open

MAP_STATE_FILE = "map.npz"
FORMAT = "semslam-map-state"
FORMAT_VERSION = 1
_SURFEL_PREFIX = "surfel_"


class MapStateError(SemslamError):
    """A map state file is missing, not a semslam map state, or inconsistent (names the file)."""


@dataclass
class MapState:
    """A loaded map state. surfels: field -> array as SurfelMap.surfels() returns them; label_set:
    a LabelSet or None (no classes); config: the run's Config; trajectory (timestamps (M,),
    T_world_cam (M, 4, 4)); intrinsics: the run's camera or None; time: frames processed."""

    surfels: dict[str, np.ndarray]
    label_set: object | None
    config: object
    timestamps: np.ndarray
    T_world_cam: np.ndarray
    intrinsics: object | None
    time: int
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    objects: dict | None = None  # ObjectMap.state() of the run, None without objects

    def object_map(self, config=None):
        """The run's ObjectMap (None without objects); `config`: ObjectsConfig (default: the run's)."""
        if self.objects is None:
            return None
        from ..objects.object_map import ObjectMap
        from ..segmentation.labels import get_label_set

        name = self.objects["label_set"]
        label_set = self.label_set if self.label_set is not None and self.label_set.name == name else get_label_set(name)
        return ObjectMap.from_state(self.objects, label_set, config or self.config.objects, self.config.device)

    @property
    def size(self) -> int:
        return len(self.surfels["positions"])

    @property
    def num_classes(self) -> int:
        probs = self.surfels.get("class_probs")
        return 0 if probs is None or probs.ndim != 2 else int(probs.shape[1])

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-surfel (argmax label uint16, its probability float32); zeros without classes."""
        if "labels" in self.surfels and "label_confidences" in self.surfels and self.num_classes:
            return (np.maximum(self.surfels["labels"], 0).astype(np.uint16),
                    self.surfels["label_confidences"].astype(np.float32))
        if self.num_classes == 0:
            return np.zeros(self.size, np.uint16), np.zeros(self.size, np.float32)
        probs = self.surfels["class_probs"]
        return probs.argmax(axis=1).astype(np.uint16), probs.max(axis=1).astype(np.float32)

    def to_surfel_map(self, device: str | None = None, map_config=None):
        """A SurfelMap holding these surfels (to render, continue mapping or relocalise).
        `map_config` overrides the saved MapConfig (e.g. a wider time_window for rendering)."""
        from ..mapping.surfel_map import SurfelMap

        surfel_map = SurfelMap(
            map_config or self.config.map,
            device or self.config.device,
            num_classes=self.num_classes,
            **_probability_dtype_argument(self.config.semantics.probability_dtype),
        )
        surfel_map.set_surfels(self.surfels)
        return surfel_map


def _probability_dtype_argument(dtype: str) -> dict:
    """SurfelMap's probability_dtype keyword, given only where the map takes it."""
    import inspect

    from ..mapping.surfel_map import SurfelMap

    return {"probability_dtype": dtype} if "probability_dtype" in inspect.signature(SurfelMap).parameters else {}


def save_map_state(
    path: str | Path,
    surfels: dict[str, np.ndarray],
    *,
    config,
    label_set=None,
    timestamps: np.ndarray | None = None,
    T_world_cam: np.ndarray | None = None,
    intrinsics=None,
    time: int = 0,
    extra: dict | None = None,
    objects: dict | None = None,
) -> None:
    """Write a map state atomically (a reader never sees half a file; Ctrl-C leaves the old one).

    surfels: as SurfelMap.surfels() returns them (all surfels, not only stable ones). config: the
    run's Config. label_set: the LabelSet of class_probs' columns (required when they exist).
    objects: ObjectMap.state() (JSON-serialisable) or None."""
    from .. import __version__

    arrays: dict[str, np.ndarray] = {}
    n = len(surfels["positions"])
    for name, value in surfels.items():
        value = np.asarray(value)
        if len(value) != n:
            raise ValueError(f"surfel field {name!r} has {len(value)} rows, positions has {n}")
        arrays[_SURFEL_PREFIX + name] = value
    probs = surfels.get("class_probs")
    num_classes = 0 if probs is None or np.ndim(probs) != 2 else np.shape(probs)[1]
    if num_classes:
        if label_set is None or len(label_set) != num_classes:
            raise ValueError(
                f"class_probs have {num_classes} columns but the label set is "
                f"{'missing' if label_set is None else f'{label_set.name!r} with {len(label_set)} classes'}"
            )
    if label_set is not None:
        arrays["label_set_name"] = np.array(label_set.name)
        arrays["label_set_names"] = np.array(label_set.names)
        arrays["label_set_colours"] = np.asarray(label_set.colours, np.uint8)
    m = 0 if timestamps is None else len(timestamps)
    arrays["trajectory_timestamps"] = np.asarray(timestamps if timestamps is not None else [], np.float64).reshape(m)
    arrays["trajectory_T_world_cam"] = np.asarray(T_world_cam if T_world_cam is not None else [], np.float64).reshape(m, 4, 4)
    arrays["intrinsics"] = np.array(json.dumps(intrinsics.to_dict() if intrinsics is not None else None))
    arrays["config"] = np.array(json.dumps(config.model_dump(mode="json")))
    if objects is not None:
        arrays["objects"] = np.array(json.dumps(objects))
    arrays["meta"] = np.array(json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "semslam": __version__,
                                          "time": int(time), "surfels": n, "num_classes": int(num_classes),
                                          **(extra or {})}))
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_map_state(path: str | Path) -> MapState:
    """Read a map state written by `save_map_state`; MapStateError naming the file when it is
    missing, not a map state, or inconsistent."""
    from ..config import Config
    from ..datasets.frame import Intrinsics
    from ..segmentation.labels import LabelSet, get_label_set

    path = Path(path)
    if path.is_dir():
        path = path / MAP_STATE_FILE
    if not path.is_file():
        raise MapStateError(f"map state not found: {path} (a run writes {MAP_STATE_FILE} into its folder)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise MapStateError(f"{path} is not a semslam map state (.npz): {exc}") from None
    try:
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, json.JSONDecodeError):
        raise MapStateError(f"{path} is an .npz archive but not a semslam map state (no meta record)") from None
    if meta.get("format") != FORMAT:
        raise MapStateError(f"{path}: format {meta.get('format')!r} is not {FORMAT!r}")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise MapStateError(f"{path}: map state version {meta['version']} is newer than this semslam reads ({FORMAT_VERSION})")

    surfels = {name[len(_SURFEL_PREFIX):]: value for name, value in arrays.items() if name.startswith(_SURFEL_PREFIX)}
    if "positions" not in surfels:
        raise MapStateError(f"{path}: no surfel positions in the map state")
    n = len(surfels["positions"])
    for name, value in surfels.items():
        if len(value) != n:
            raise MapStateError(f"{path}: surfel field {name!r} has {len(value)} rows, positions has {n}")

    label_set = None
    if "label_set_name" in arrays:
        name = str(arrays["label_set_name"])
        names = tuple(str(s) for s in arrays["label_set_names"])
        try:
            known = get_label_set(name)
            label_set = known if tuple(known.names) == names else None
        except KeyError:
            pass
        if label_set is None:
            label_set = LabelSet(name, names, arrays["label_set_colours"].astype(np.uint8))
    probs = surfels.get("class_probs")
    if probs is not None and probs.ndim == 2 and probs.shape[1] and (label_set is None or len(label_set) != probs.shape[1]):
        raise MapStateError(f"{path}: class_probs have {probs.shape[1]} columns but the label set has "
                            f"{0 if label_set is None else len(label_set)} classes")
    try:
        config = Config.model_validate(json.loads(str(arrays["config"])))
    except Exception as exc:  # pydantic.ValidationError, JSON errors
        raise MapStateError(f"{path}: the saved configuration does not load: {exc}") from None
    objects = None
    if "objects" in arrays:
        try:
            objects = json.loads(str(arrays["objects"]))
        except json.JSONDecodeError as exc:
            raise MapStateError(f"{path}: the saved objects do not load: {exc}") from None
    k = json.loads(str(arrays["intrinsics"]))
    intrinsics = None
    if k is not None:
        distortion = k.pop("distortion", None)
        intrinsics = Intrinsics(**k, distortion=tuple(distortion) if distortion is not None else None)
    return MapState(
        surfels=surfels,
        label_set=label_set,
        config=config,
        timestamps=arrays["trajectory_timestamps"],
        T_world_cam=arrays["trajectory_T_world_cam"],
        intrinsics=intrinsics,
        time=int(meta.get("time", 0)),
        meta=meta,
        path=path,
        objects=objects,
    )
