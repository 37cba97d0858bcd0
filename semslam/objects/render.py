"""Instance images of a run's map: the map state rendered at each pose of its trajectory (as
semslam.semantics.render does for labels), each pixel taking the object id of the surfel it sees.
Used by `semslam render` for runs with objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def instance_colours(ids: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 colour per object id (a fixed hash of the id: the same object has the same
    colour in every picture); black for ids <= 0 (no object)."""
    ids = np.asarray(ids, np.int64)
    h = (ids * 2654435761) & 0xFFFFFF
    out = np.stack([(h >> 16) & 255, (h >> 8) & 255, h & 255], -1).astype(np.int64)
    out = 64 + out * 191 // 255  # never too dark to see
    out[ids <= 0] = 0
    return out.astype(np.uint8)


def render_instances(run_dir: Path, out_dir: Path, sequence=None, device: str | None = None, every: int = 1,
                     progress=None) -> dict:
    """instances/<timestamp>.png (uint16 object ids, 0 none) and instance_colour/<timestamp>.png
    (a colour per object, blended 50/50 with the frame's colour image when `sequence` is given)
    at every `every`-th pose. Returns {frames, objects_seen: {id: pixels}}. ValueError when the
    map has no objects."""
    from ..io.map_state import load_map_state
    from ..semantics.render import MapLabelRenderer, blend_over, match_timestamps, write_png

    state = load_map_state(run_dir)
    if state.objects is None:
        raise ValueError(f"{state.path}: the map has no objects (the run had no instance segmenter)")
    if state.intrinsics is None or len(state.timestamps) == 0:
        raise ValueError(f"{state.path}: the map state has no camera or no trajectory to render at")
    renderer = MapLabelRenderer(state, device)
    surfel_ids = np.maximum(state.surfels["instance_ids"], 0).astype(np.uint16)
    frame_of = match_timestamps(sequence.timestamps, state.timestamps) if sequence is not None else None
    chosen = range(0, len(state.timestamps), max(1, every))
    seen_ids: dict[int, int] = {}
    for n, i in enumerate(chosen):
        _, index_map = renderer.render(state.T_world_cam[i], state.intrinsics)
        ids = np.zeros(index_map.shape, np.uint16)
        seen = index_map >= 0
        ids[seen] = surfel_ids[index_map[seen]]
        colour = instance_colours(ids)
        if frame_of is not None and frame_of[i] >= 0:
            blend_over(colour, sequence[int(frame_of[i])].rgb, ids > 0)
        stem = f"{state.timestamps[i]:.6f}"
        write_png(Path(out_dir) / "instances" / f"{stem}.png", ids)
        write_png(Path(out_dir) / "instance_colour" / f"{stem}.png", colour)
        for o, c in zip(*np.unique(ids[ids > 0], return_counts=True)):
            seen_ids[int(o)] = seen_ids.get(int(o), 0) + int(c)
        if progress is not None:
            progress(n + 1, len(chosen))
    return {"frames": len(chosen), "objects_seen": dict(sorted(seen_ids.items()))}
