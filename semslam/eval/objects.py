"""Object metrics against synthetic ground truth: recall, precision, duplicates and 3D box IoU.

Truth: the scene's things (instance id, NYU40 class, oriented box of the mesh), counted as present
when the camera saw them well enough (`visible_frames` >= min_visible_frames) and the map holds
them (at least min_map_surfels surfels inside the box: things beyond the fusion range are not). A map object is
assigned to the smallest true object whose box (plus `margin`) contains more than half of its
surfels (a larger one only when it contains 10 points more of them). Per true object:
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

    def to_dict(self) -> dict:
        return {"present": self.present, "found": self.found, "reported": self.reported,
                "false_positives": self.false_positives, "duplicates": self.duplicates, "recall": self.recall,
                "precision": self.precision, "mean_box_iou": self.mean_box_iou, "per_class": self.per_class,
                "matches": self.matches}


def evaluate_objects(object_map: ObjectMap, positions: np.ndarray, instance_ids: np.ndarray, truth: list[TrueObject],
                     visible: dict[int, int], min_visible_frames: int = 5, margin: float = 0.03,
                     min_map_surfels: int = 50) -> ObjectMetrics:
    """Metrics of `object_map` (whose surfels are positions (N, 3) with instance_ids (N,)) against
    `truth`; `visible` from `visible_frames`. See the module doc."""
    mapping = find_mapping(NYU40, object_map.label_set)
    present = [t for t in truth if visible.get(t.id, 0) >= min_visible_frames and mapping.index[t.class_id] > 0
               and int(t.box.contains(positions, margin).sum()) >= min_map_surfels]
    assigned: dict[int, list[int]] = {}
    false_positives, matches = 0, []
    for o, obj in sorted(object_map.objects.items()):
        pts = positions[instance_ids == o]
        best, best_frac = None, 0.5
        for t in sorted(truth, key=lambda t: t.box.volume):  # nested things (a pillow on a bed): the smaller
            frac = float(t.box.contains(pts, margin).mean()) if len(pts) else 0.0
            if frac > best_frac + 0.1 or (best is None and frac > best_frac):
                best, best_frac = t, frac
        right = best is not None and int(mapping.index[best.class_id]) == obj.class_id
        matches.append({"object": o, "class": object_map.label_set.names[obj.class_id],
                        "truth": best.name if best else None, "inside": round(best_frac, 3), "class_ok": right})
        if right:
            assigned.setdefault(best.id, []).append(o)
        else:
            false_positives += 1
    found = duplicates = 0
    ious, per_class = [], {}
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
    # right-class objects of things that were not "present" are neither found nor false
    return ObjectMetrics(len(present), found, len(object_map.objects), false_positives, duplicates, ious,
                         per_class, matches)
