"""Label images of a map reprojected into camera poses: the map state rendered as oriented disks
(the core's depth-tested prediction of stable surfels) at each pose, each pixel taking the label of
the surfel it sees. Used by `semslam render` and by the semantic evaluation of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..datasets.frame import Intrinsics
from ..io.map_state import MapState

_EVERY_SURFEL_ACTIVE = 2**30  # frames: a time window no surfel of a run falls outside of


class MapLabelRenderer:
    """Renders a MapState's labels into any camera.

    >>> renderer = MapLabelRenderer(load_map_state(run_dir), labels="final")
    >>> labels, index_map = renderer.render(T_world_cam, intrinsics)   # (H, W) uint16, int32

    Every stable surfel of the map is rendered, however long ago it was seen (the run's active
    time window does not apply here). `labels` chooses the per-surfel labels: "final" (after the
    last CRF) or "before_crf" (the fused labels before the final CRF, when the run kept them).
    """

    def __init__(self, state: MapState, device: str | None = None, labels: str = "final") -> None:
        self.state = state
        self.label_set = state.label_set
        map_config = state.config.map.model_copy(update={"time_window": _EVERY_SURFEL_ACTIVE})
        self.map = state.to_surfel_map(device or "cpu", map_config=map_config)
        self.time = int(state.time)
        if labels == "final":
            self.surfel_labels = state.labels()[0]
        elif labels == "before_crf":
            if "labels_before_crf" not in state.surfels:
                raise ValueError(f"{state.path}: the map state holds no labels from before the final CRF")
            self.surfel_labels = np.maximum(state.surfels["labels_before_crf"], 0).astype(np.uint16)
        else:
            raise ValueError(f"labels must be 'final' or 'before_crf', got {labels!r}")

    def render(self, T_world_cam: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
        """(labels (H, W) uint16, 0 where no surfel; index_map (H, W) int32 surfel index, -1 none)."""
        index_map = self.map.predict(T_world_cam, intrinsics, self.time).index_map
        labels = np.zeros(index_map.shape, np.uint16)
        seen = index_map >= 0
        labels[seen] = self.surfel_labels[index_map[seen]]
        return labels, index_map


def match_timestamps(reference: np.ndarray, query: np.ndarray, tolerance: float = 1e-4) -> np.ndarray:
    """For each query time the index of the nearest reference time within `tolerance` s, else -1."""
    reference = np.asarray(reference, np.float64)
    query = np.asarray(query, np.float64)
    out = np.full(query.shape, -1, np.int64)
    if reference.size == 0:
        return out
    order = np.argsort(reference)
    ordered = reference[order]
    pos = np.searchsorted(ordered, query)
    lo = np.clip(pos - 1, 0, len(ordered) - 1)
    hi = np.clip(pos, 0, len(ordered) - 1)
    pick = np.where(np.abs(ordered[lo] - query) <= np.abs(ordered[hi] - query), lo, hi)
    ok = np.abs(ordered[pick] - query) <= tolerance
    out[ok] = order[pick[ok]]
    return out


def write_png(path: Path, image: np.ndarray) -> None:
    """PNG atomically: uint8 (H, W, 3) RGB or uint16/uint8 (H, W)."""
    import cv2

    from ..io.atomic import atomic_open

    if image.ndim == 3:
        image = image[..., ::-1]  # cv2 writes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise ValueError(f"could not encode {path} ({image.dtype} {image.shape}) as PNG")
    with atomic_open(path, "wb") as handle:
        handle.write(buf.tobytes())


def blend_over(colour: np.ndarray, rgb: np.ndarray, seen: np.ndarray) -> None:
    """In place: the picture's colour half over the frame where the map shows something (`seen`),
    the frame darkened to a third elsewhere."""
    colour[seen] = (0.5 * colour[seen] + 0.5 * rgb[seen]).astype(np.uint8)
    colour[~seen] = rgb[~seen] // 3


def render_run(run_dir: Path, out_dir: Path, sequence=None, device: str | None = None, every: int = 1,
               progress=None) -> dict:
    """Label images of the run's map at each pose of its trajectory (every `every`-th), into
    out_dir/labels/<timestamp>.png (uint16 class ids) and out_dir/colour/<timestamp>.png (the label
    set's colours, blended 50/50 with the frame's colour image when `sequence` is given). Returns
    {frames, label_set, classes_seen: {name: pixels}}."""
    from ..io.map_state import load_map_state

    state = load_map_state(run_dir)
    if state.label_set is None:
        raise ValueError(f"{state.path}: the map has no classes (the run had no segmenter); nothing to render")
    if state.intrinsics is None or len(state.timestamps) == 0:
        raise ValueError(f"{state.path}: the map state has no camera or no trajectory to render at")
    renderer = MapLabelRenderer(state, device)
    frame_of = match_timestamps(sequence.timestamps, state.timestamps) if sequence is not None else None
    chosen = range(0, len(state.timestamps), max(1, every))
    pixels = np.zeros(len(state.label_set), np.int64)
    written = 0
    for n, i in enumerate(chosen):
        labels, _ = renderer.render(state.T_world_cam[i], state.intrinsics)
        colour = state.label_set.colourize(labels)
        if frame_of is not None and frame_of[i] >= 0:
            blend_over(colour, sequence[int(frame_of[i])].rgb, labels > 0)
        stem = f"{state.timestamps[i]:.6f}"
        write_png(Path(out_dir) / "labels" / f"{stem}.png", labels)
        write_png(Path(out_dir) / "colour" / f"{stem}.png", colour)
        pixels += np.bincount(labels.ravel(), minlength=len(state.label_set))
        written += 1
        if progress is not None:
            progress(n + 1, len(chosen))
    seen = {state.label_set.names[c]: int(pixels[c]) for c in np.argsort(-pixels) if pixels[c] > 0 and c != 0}
    return {"frames": written, "label_set": state.label_set.name, "classes_seen": seen}
