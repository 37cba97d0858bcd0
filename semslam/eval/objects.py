"""Object metrics against synthetic ground truth: recall, precision, duplicates and 3D box IoU.

Truth: the scene's things (instance id, NYU40 class, oriented box of the mesh), counted as present
when the camera saw them well enough (`visible_frames` >= min_visible_frames) and the map holds
them (at least min_map_surfels surfels inside the box: things beyond the fusion range are not). A map object is
assigned to the true object whose box (plus `margin`) contains more than half of its
surfels; when several boxes do (nested things: a pillow on a bed), the one whose map surfels it
shares most (intersection over union of its surfels and the map's surfels in the box). Per true object:
  found       a map object of the right class (in the map's label set) is assigned to it;
  duplicates  further right-class map objects assigned to it (two map objects for one thing);
A map object is a false positive when it is assigned to nothing, or to a thing of another class.
recall = found / present, precision = (map objects - false positives - duplicates) / (map objects
- duplicates); box IoU: of each found object's best map object box with the true box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..objects.object_map import ObjectMap, OrientedBox, box_iou_3d, oriented_box
from ..segmentation.labels import NYU40
from ..segmentation.mapping import find_mapping


@dataclass
class TrueObject:
    id: int
    class_id: int  # NYU40
    name: str
    box: OrientedBox


def true_objects(scene) -> list[TrueObject]:
    """The things of a synthetic Scene with their gravity-aligned oriented boxes (untrimmed)."""
    return [TrueObject(o.instance_id, o.class_id, o.name, oriented_box(o.vertices, trim=0.0)) for o in scene.things()]


def visible_frames(instance_images, min_pixels: int) -> dict[int, int]:
    """{instance id: number of frames in which it covers at least min_pixels pixels}."""
    counts: dict[int, int] = {}
    for inst in instance_images:
        ids, n = np.unique(np.asarray(inst)[np.asarray(inst) > 0], return_counts=True)
        for i in ids[n >= min_pixels]:
            counts[int(i)] = counts.get(int(i), 0) + 1
    return counts


def observed_boxes(frames, max_depth: float, up: np.ndarray, voxel: float, keep: float, step: int = 2,
                   min_points: int = 50, truth: dict[int, OrientedBox] | None = None, margin: float = 0.05,
                   trim: float = 0.01) -> dict[int, OrientedBox]:
    """{instance id: box of the part of the thing the camera saw}: its pixels in each frame's
    instance image (every `step`-th row and column) with depth up to `max_depth`, back-projected
    with the frame's depth and true pose into the truth's world. With `truth` (true box per id):
    the points within `margin` of the thing's true box, their `trim` .. 1 - trim quantiles along
    the true box's axes, clipped to it (the seen part of the true box: sensor noise and flying
    pixels at its silhouette neither inflate it nor turn it); without: the gravity-aligned box
    about `up` of the points (`object_box`: main clusters, untrimmed). A box of the map can only
    be as large as this: a thing seen from one side has no surfels on the other."""
    from ..objects.object_map import object_box

    points: dict[int, list[np.ndarray]] = {}
    for f in frames:
        if f.T_world_cam is None or f.instances is None:
            continue
        inst = np.asarray(f.instances)[::step, ::step]
        z = np.asarray(f.depth, np.float64)[::step, ::step]
        k = f.intrinsics
        vs, us = np.mgrid[0:inst.shape[0], 0:inst.shape[1]] * step
        for i in np.unique(inst[inst > 0]):
            m = (inst == i) & np.isfinite(z) & (z > 0) & (z <= max_depth)
            if not m.any():
                continue
            zz = z[m]
            cam = np.stack([(us[m] - k.cx) / k.fx * zz, (vs[m] - k.cy) / k.fy * zz, zz], 1)
            points.setdefault(int(i), []).append(cam @ f.T_world_cam[:3, :3].T + f.T_world_cam[:3, 3])
    out = {}
    for i, chunks in points.items():
        p = np.concatenate(chunks)
        if truth is not None and i in truth:
            t = truth[i]
            p = p[t.contains(p, margin)]
            if len(p) < min_points:
                continue
            half = t.extent / 2
            local = (p - t.centre) @ t.rotation
            lo = np.clip(np.quantile(local, trim, axis=0), -half, half)
            hi = np.clip(np.quantile(local, 1 - trim, axis=0), -half, half)
            out[i] = OrientedBox(t.centre + t.rotation @ ((lo + hi) / 2), np.maximum(hi - lo, 1e-3), t.rotation.copy())
        elif len(p) >= min_points:
            out[i] = object_box(p, up, voxel, keep)
    return out


@dataclass
class ObjectMetrics:
    present: int
    found: int
    reported: int
    false_positives: int
    duplicates: int
    box_ious: list[float]
    per_class: dict[str, dict] = field(default_factory=dict)
    matches: list[dict] = field(default_factory=list)
    present_ids: list[int] = field(default_factory=list)
    observed_box_ious: list[float] = field(default_factory=list)  # of the same matches, against the seen part
    observable_box_ious: list[float] = field(default_factory=list)  # seen part vs whole box, per found thing

    @property
    def recall(self) -> float:
        return self.found / self.present if self.present else float("nan")

    @property
    def precision(self) -> float:
        real = self.reported - self.duplicates
        return (real - self.false_positives) / real if real else float("nan")

    @property
    def mean_box_iou(self) -> float:
        return float(np.mean(self.box_ious)) if self.box_ious else float("nan")

    @property
    def mean_observed_box_iou(self) -> float:
        return float(np.mean(self.observed_box_ious)) if self.observed_box_ious else float("nan")

    @property
    def mean_observable_box_iou(self) -> float:
        return float(np.mean(self.observable_box_ious)) if self.observable_box_ious else float("nan")

    def to_dict(self) -> dict:
        return {"present": self.present, "found": self.found, "reported": self.reported,
                "false_positives": self.false_positives, "duplicates": self.duplicates, "recall": self.recall,
                "precision": self.precision, "mean_box_iou": self.mean_box_iou,
                "mean_observed_box_iou": self.mean_observed_box_iou,
                "mean_observable_box_iou": self.mean_observable_box_iou, "per_class": self.per_class,
                "matches": self.matches, "present_ids": self.present_ids}


def evaluate_objects(object_map: ObjectMap, positions: np.ndarray, instance_ids: np.ndarray, truth: list[TrueObject],
                     visible: dict[int, int], min_visible_frames: int = 5, margin: float = 0.03,
                     min_map_surfels: int = 50, observed: dict[int, OrientedBox] | None = None) -> ObjectMetrics:
    """Metrics of `object_map` (whose surfels are positions (N, 3) with instance_ids (N,)) against
    `truth`; `visible` from `visible_frames`; `observed`: the seen part's box per true id
    (`observed_boxes`), for the box IoU against what the camera saw. See the module doc."""
    mapping = find_mapping(NYU40, object_map.label_set)
    present = [t for t in truth if visible.get(t.id, 0) >= min_visible_frames and mapping.index[t.class_id] > 0
               and int(t.box.contains(positions, margin).sum()) >= min_map_surfels]
    inside = {t.id: t.box.contains(positions, margin) for t in truth}  # the map's surfels in each true box
    held = {t.id: int(inside[t.id].sum()) for t in truth}
    assigned: dict[int, list[int]] = {}
    false_positives, matches = 0, []
    for o, obj in sorted(object_map.objects.items()):
        mine = instance_ids == o
        n = int(mine.sum())
        best, best_frac, best_iou = None, 0.0, 0.0
        for t in truth:
            common = int(np.sum(mine & inside[t.id]))
            frac = common / n if n else 0.0
            iou = common / (n + held[t.id] - common) if n else 0.0
            # nested things (a pillow on a bed): of the boxes holding most of its surfels, the one
            # whose surfels it shares most (a pillow's surfels are most of the pillow box's, a tiny
            # part of the bed box's)
            if frac > 0.5 and iou > best_iou:
                best, best_frac, best_iou = t, frac, iou
        right = best is not None and int(mapping.index[best.class_id]) == obj.class_id
        matches.append({"object": o, "class": object_map.label_set.names[obj.class_id],
                        "truth": best.name if best else None, "truth_id": best.id if best else None,
                        "inside": round(best_frac, 3), "class_ok": right,
                        "box_iou": round(box_iou_3d(obj.box, best.box), 4) if best and obj.box is not None else None})
        if right:
            assigned.setdefault(best.id, []).append(o)
        else:
            false_positives += 1
    found = duplicates = 0
    ious, per_class, seen_ious, seeable = [], {}, [], []
    for t in present:
        name = object_map.label_set.names[int(mapping.index[t.class_id])]
        row = per_class.setdefault(name, {"present": 0, "found": 0, "duplicates": 0})
        row["present"] += 1
        objs = assigned.get(t.id, [])
        if objs:
            found += 1
            row["found"] += 1
            duplicates += len(objs) - 1
            row["duplicates"] += len(objs) - 1
            boxes = [object_map.objects[o].box for o in objs if object_map.objects[o].box is not None]
            if boxes:
                ious.append(max(box_iou_3d(b, t.box) for b in boxes))
                row.setdefault("box_ious", []).append(round(ious[-1], 4))
                row["box_iou"] = round(float(np.mean(row["box_ious"])), 4)
                if observed and t.id in observed:
                    seen_ious.append(max(box_iou_3d(b, observed[t.id]) for b in boxes))
                    seeable.append(box_iou_3d(observed[t.id], t.box))
    # right-class objects of things that were not "present" are neither found nor false
    return ObjectMetrics(len(present), found, len(object_map.objects), false_positives, duplicates, ious,
                         per_class, matches, [t.id for t in present], seen_ious, seeable)


# -- a run's objects against its synthetic sequence -------------------------------------------------

OBJECTS_EVAL_FILE = "objects_eval.json"


def transform_box(box: OrientedBox, T: np.ndarray) -> OrientedBox:
    """The box moved by the rigid 4x4 T (world -> other frame)."""
    R, t = np.asarray(T)[:3, :3], np.asarray(T)[:3, 3]
    return OrientedBox(R @ box.centre + t, box.extent.copy(), R @ box.rotation)


def synthetic_scene(sequence_path):
    """The synthetic Scene of a sequence folder written by `semslam synth` (rebuilt from the seed in
    its semslam.json), or None when the folder is not a synthetic sequence."""
    import json
    from pathlib import Path

    meta_path = Path(sequence_path) / "semslam.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    from ..datasets.synthetic import FORMAT

    if meta.get("format") != FORMAT:
        return None
    from ..datasets.synthetic import build_scene, keep_out_points, room_from_seed

    seed = int(meta["seed"])
    return build_scene(seed, keep_out_points(room_from_seed(seed)))


def run_to_truth(run_timestamps: np.ndarray, run_poses: np.ndarray, gt_timestamps: np.ndarray,
                 gt_poses: np.ndarray, max_dt: float = 0.02) -> np.ndarray:
    """T_truth_run: the rigid transform from the run's world (the first camera) to the ground
    truth's world, from the frames matched by timestamp (within max_dt): each gives
    gt_pose @ inv(run_pose); their rotations are averaged (chordal mean: the nearest rotation to the
    summed matrices) and their translations averaged. Positions alone (a Kabsch fit of the camera
    centres) leave the rotation about a short arc's chord undetermined; the poses' orientations fix it."""
    idx = np.clip(np.searchsorted(gt_timestamps, run_timestamps), 1, len(gt_timestamps) - 1)
    idx = np.where(np.abs(gt_timestamps[idx - 1] - run_timestamps) < np.abs(gt_timestamps[idx] - run_timestamps),
                   idx - 1, idx)
    ok = np.abs(gt_timestamps[idx] - run_timestamps) <= max_dt
    if not ok.any():
        raise ValueError(f"no frame of the run has a ground-truth pose within {max_dt} s of its timestamp")
    Ts = np.stack([gt_poses[j] @ np.linalg.inv(run_poses[i]) for i, j in zip(np.flatnonzero(ok), idx[ok])])
    U, _, Vt = np.linalg.svd(Ts[:, :3, :3].sum(0))
    T = np.eye(4)
    T[:3, :3] = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt
    T[:3, 3] = Ts[:, :3, 3].mean(0)
    return T


def evaluate_object_run(run_dir, sequence=None, config=None, write: bool = True) -> dict:
    """Object metrics of a run (its map.npz objects and surfels) against its synthetic sequence's
    things: the true boxes are moved into the run's world (`run_to_truth`), things count as present
    when seen in `min_visible_frames` frames (instance images, at least objects.min_mask_pixels
    pixels) and held by the map; see `evaluate_objects`. Writes objects_eval.json when `write`.
    EvaluationError when the run has no objects or the sequence is not synthetic."""
    import json
    from pathlib import Path

    from .. import datasets
    from ..errors import EvaluationError
    from ..io.atomic import write_json_atomic
    from ..io.map_state import load_map_state

    run_dir = Path(run_dir)
    state = load_map_state(run_dir)
    config = config or state.config
    om = state.object_map(config.objects)
    if om is None:
        raise EvaluationError(f"{state.path}: the map has no objects (the run had no instance segmenter)")
    if sequence is None:
        try:
            sequence = datasets.open(json.loads((run_dir / "summary.json").read_text())["dataset"]["path"])
        except (FileNotFoundError, KeyError, json.JSONDecodeError):
            raise EvaluationError(f"{run_dir / 'summary.json'}: no dataset path; pass the sequence with --dataset") from None
    scene = synthetic_scene(sequence.path)
    if scene is None:
        raise EvaluationError(f"{sequence.path} is not a synthetic sequence: no true objects to score against")
    if not sequence.has_instances:
        raise EvaluationError(f"{sequence.path} has no instance images")
    frames = [sequence[k] for k in range(len(sequence))]
    gt = [(f.timestamp, f.T_world_cam) for f in frames if f.T_world_cam is not None]
    T_truth_run = run_to_truth(state.timestamps, state.T_world_cam, np.array([g[0] for g in gt]),
                               np.array([g[1] for g in gt]))
    T_run_truth = np.linalg.inv(T_truth_run)
    scene_truth = true_objects(scene)
    truth = [TrueObject(t.id, t.class_id, t.name, transform_box(t.box, T_run_truth)) for t in scene_truth]
    stamps = set(np.round(state.timestamps, 6))
    visible = visible_frames([f.instances for f in frames if round(f.timestamp, 6) in stamps],
                             config.objects.min_mask_pixels)
    run_frames = [f for f in frames if round(f.timestamp, 6) in stamps]
    observed = {i: transform_box(b, T_run_truth) for i, b in observed_boxes(  # the scene's up is its z
        run_frames, config.map.fuse_depth_max, np.array([0.0, 0, 1]), config.objects.box_voxel,
        config.objects.box_keep, truth={t.id: t.box for t in scene_truth}).items()}
    metrics = evaluate_objects(om, state.surfels["positions"], state.surfels["instance_ids"], truth, visible,
                               min_visible_frames=config.eval.object_min_visible_frames,
                               margin=config.eval.object_margin, min_map_surfels=config.eval.object_min_map_surfels,
                               observed=observed)
    result = {"run": str(run_dir), "sequence": str(sequence.path), **metrics.to_dict(),
              "objects": [{**o, "truth": m["truth"], "truth_id": m["truth_id"], "class_ok": m["class_ok"],
                           "box_iou": m["box_iou"]}
                          for o, m in zip(om.to_list(), metrics.matches)],
              "truth": [{"id": t.id, "name": t.name, "class": NYU40.names[t.class_id], "present": t.id in
                         metrics.present_ids, "box": t.box.to_dict(),
                         "observed_box": observed[t.id].to_dict() if t.id in observed else None,
                         "observable_box_iou": round(box_iou_3d(observed[t.id], t.box), 4) if t.id in observed else None}
                        for t in truth]}
    if write:
        write_json_atomic(run_dir / OBJECTS_EVAL_FILE, result)
    return result


def format_object_table(result: dict) -> str:
    """The object metrics as a printed table: per class present / found / duplicates, then totals."""
    rows = [f"{'class':<16}{'present':>8}{'found':>7}{'dupl.':>7}{'box IoU':>9}"]
    for name, row in sorted(result["per_class"].items()):
        iou = row.get("box_iou")
        rows.append(f"{name:<16}{row['present']:>8}{row['found']:>7}{row['duplicates']:>7}"
                    f"{'-' if iou is None else f'{iou:.2f}':>9}")
    rows.append(
        f"objects: {result['reported']} reported, {result['present']} present; recall {result['recall']:.3f}, "
        f"precision {result['precision']:.3f}, {result['duplicates']} duplicates, {result['false_positives']} false "
        f"positives, mean box IoU {result['mean_box_iou']:.3f} (against the part the camera saw "
        f"{result.get('mean_observed_box_iou', float('nan')):.3f}; that part against the whole box "
        f"{result.get('mean_observable_box_iou', float('nan')):.3f})")
    return "\n".join(rows)


def format_object_list(result: dict) -> str:
    """The objects found next to the truth: one line per true object present (the map objects
    assigned to it, their class and box IoU), then the map objects that match no true object."""
    by_truth: dict[int, list[dict]] = {}
    for o in result["objects"]:
        if o["truth_id"] is not None and o["class_ok"]:
            by_truth.setdefault(o["truth_id"], []).append(o)
    rows = [f"{'true object':<16}{'class':<14}{'map object(s)':<28}box IoU"]
    for t in result["truth"]:
        if not t["present"]:
            continue
        found = by_truth.get(t["id"], [])
        objs = ", ".join(f"#{o['id']} {o['class']} ({o['existence']:.2f})" for o in found) or "- (missed)"
        iou = max((o["box_iou"] or 0.0 for o in found), default=None)
        rows.append(f"{t['name']:<16}{t['class']:<14}{objs:<28}{'' if iou is None else f'{iou:.2f}'}")
    extra = [o for o in result["objects"] if not (o["truth_id"] is not None and o["class_ok"])]
    for o in extra:
        what = f"on {o['truth']} (wrong class)" if o["truth"] else "matches nothing"
        rows.append(f"{'(none)':<16}{'':<14}#{o['id']} {o['class']} {what}")
    return "\n".join(rows)


def object_rows(result: dict) -> list[dict]:
    """Per true object present: its best right-class map object's box IoU and the box's extents
    measured along the true box's axes, next to the true extents and those of the part the camera
    saw (metres; the true box's axes: its two horizontal sides, then up). From an objects_eval.json."""
    def box(d):
        return OrientedBox(np.asarray(d["centre"]), np.asarray(d["extent"]), np.asarray(d["rotation"]))

    def along(b: OrientedBox, ref: OrientedBox) -> list[float]:
        return [round(float(v), 3) for v in np.abs(ref.rotation.T @ b.rotation) @ b.extent]

    rows = []
    objects = [o for o in result["objects"] if o["truth_id"] is not None and o["class_ok"] and o["box"]]
    for t in result["truth"]:
        if not t["present"]:
            continue
        tb = box(t["box"])
        mine = sorted((o for o in objects if o["truth_id"] == t["id"]), key=lambda o: -(o["box_iou"] or 0.0))
        row = {"truth": t["name"], "class": t["class"], "objects": [o["id"] for o in mine],
               "box_iou": mine[0]["box_iou"] if mine else None, "extent": along(box(mine[0]["box"]), tb) if mine else None,
               "true_extent": [round(float(v), 3) for v in tb.extent],
               "seen_extent": along(box(t["observed_box"]), tb) if t.get("observed_box") else None,
               "seen_box_iou": t.get("observable_box_iou")}
        rows.append(row)
    return rows


def format_object_rows(rows: list[dict]) -> str:
    """object_rows as a table."""
    def ext(v):
        return "-" if v is None else " x ".join(f"{x:.2f}" for x in v)

    out = [f"{'true object':<15}{'box IoU':>8}  {'extent (along the true axes)':<20}  {'true extent':<20}  seen part"]
    for r in rows:
        iou = "-" if r["box_iou"] is None else f"{r['box_iou']:.2f}"
        out.append(f"{r['truth']:<15}{iou:>8}  {ext(r['extent']):<20}  {ext(r['true_extent']):<20}  {ext(r['seen_extent'])}")
    return "\n".join(out)
