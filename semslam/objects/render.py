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


def draw_boxes(image: np.ndarray, objects: list[dict], T_world_cam: np.ndarray, intrinsics) -> None:
    """Draw each object's oriented box (objects.json entries: box centre / extent / rotation in the
    world) into `image` (H, W, 3) uint8 in place: its 12 edges projected at the pose, in the
    object's colour, with its class at the top corner nearest the camera. Edges behind the camera
    are skipped."""
    import cv2

    T_cam_world = np.linalg.inv(np.asarray(T_world_cam, np.float64))
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
    for o in objects:
        box = o.get("box")
        if not box:
            continue
        world = np.asarray(box["centre"]) + (corners * np.asarray(box["extent"])) @ np.asarray(box["rotation"]).T
        cam = world @ T_cam_world[:3, :3].T + T_cam_world[:3, 3]
        if np.all(cam[:, 2] <= 0.05):
            continue
        uv = np.stack([intrinsics.fx * cam[:, 0] / cam[:, 2] + intrinsics.cx,
                       intrinsics.fy * cam[:, 1] / cam[:, 2] + intrinsics.cy], 1)
        colour = tuple(int(c) for c in instance_colours(np.array([o["id"]]))[0])
        for a, b in edges:
            if cam[a, 2] > 0.05 and cam[b, 2] > 0.05:
                cv2.line(image, tuple(np.round(uv[a]).astype(int)), tuple(np.round(uv[b]).astype(int)), colour, 2,
                         cv2.LINE_AA)
        front = [i for i in range(8) if cam[i, 2] > 0.05]
        top = min(front, key=lambda i: uv[i, 1])
        x, y = np.round(uv[top]).astype(int)
        cv2.putText(image, f"#{o['id']} {o['class']}", (int(x), int(max(y - 6, 12))), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    colour, 1, cv2.LINE_AA)


def render_instances(run_dir: Path, out_dir: Path, sequence=None, device: str | None = None, every: int = 1,
                     progress=None) -> dict:
    """instances/<timestamp>.png (uint16 object ids, 0 none) and instance_colour/<timestamp>.png
    (a colour per object, blended 50/50 with the frame's colour image when `sequence` is given,
    with the objects' boxes drawn: `draw_boxes`) at every `every`-th pose. Returns {frames, objects_seen: {id: pixels}}. ValueError when the
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
    boxes = state.object_map().to_list()
    for n, i in enumerate(chosen):
        _, index_map = renderer.render(state.T_world_cam[i], state.intrinsics)
        ids = np.zeros(index_map.shape, np.uint16)
        seen = index_map >= 0
        ids[seen] = surfel_ids[index_map[seen]]
        colour = instance_colours(ids)
        if frame_of is not None and frame_of[i] >= 0:
            blend_over(colour, sequence[int(frame_of[i])].rgb, ids > 0)
        draw_boxes(colour, boxes, state.T_world_cam[i], state.intrinsics)
        stem = f"{state.timestamps[i]:.6f}"
        write_png(Path(out_dir) / "instances" / f"{stem}.png", ids)
        write_png(Path(out_dir) / "instance_colour" / f"{stem}.png", colour)
        for o, c in zip(*np.unique(ids[ids > 0], return_counts=True)):
            seen_ids[int(o)] = seen_ids.get(int(o), 0) + int(c)
        if progress is not None:
            progress(n + 1, len(chosen))
    return {"frames": len(chosen), "objects_seen": dict(sorted(seen_ids.items()))}
