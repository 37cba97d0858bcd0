"""The object map: instances detected per frame, associated with objects that live on the surfels.

Each surfel carries an instance id (`SurfelMap` field instance_ids, -1 = none) that is an object's
id here; the core keeps it aligned through fusion, merging and clean-up, so an object's surfel set
is always "the surfels whose id is mine" and follows the map. Per object this module keeps what
the surfels cannot: class probabilities, how often it was detected and expected, the frames it was
seen in, its oriented box.

One segmented frame (after fusion, with the index map at the frame's pose):
  1. detections below `min_mask_pixels` are ignored; masks are snapped to the geometric segments
     of the depth (geometric.refine_mask) when `refine_masks`;
  2. candidates of a detection: the objects whose surfels the index map shows inside its mask;
     score = mask IoU (mask vs the object's projection) + the fraction of the detection's 3D
     points within `match_distance` of the object's surfels (Meaningful Maps: a match needs more
     than `match_fraction`, or an IoU above `match_iou`) + class_weight x the object's
     probability of the detection's class; pairs above `min_match_score` are matched greedily by
     score, one object per detection;
  3. a matched detection updates its object's class probabilities (recursive Bayes with the
     detection's score as the likelihood of its class, the rest shared by the other classes) and
     gives the object the unowned surfels under its mask that have depth support (`depth_support`:
     not far behind the mask's interior) — only when its class is the object's (a wrong class or a
     false mask over the object adds nothing) — and frees the object's surfels the frame shows off
     the mask (`_release`); an unmatched one with a score of at least `new_object_score` starts an
     object;
  4. every object covering at least `visible_min_pixels` of the index map was expected to be
     seen (Fusion++'s existence: detections / expected); a matched detection whose mask covers
     most of another object of its class (`merge_cover` of its visible pixels) counts one
     detection of both (`codetected`).
Every `maintain_every` frames and at the end: surfel counts and oriented boxes from the surfels;
objects with too low an existence, too few surfels or (at the end) too few detections are dropped
and their surfels freed; same-class objects whose surfels overlap, whose boxes nest, or that
`merge_codetections` detections covered together are merged; at the end also a same-class
fragment beside an object detected many times as often.
Boxes (`object_box`): gravity-aligned, untrimmed, from the object's main clusters of surfels above
the floor (`floor_level`), each side moved to the face the surfels show there (`snap_to_faces`:
the outermost surfels lie out by the depth noise), down to the floor when they stand on it; a box
that ends in the air reaches down to what holds it up (`rest_on_support`: the legs or stand it
stands on are seldom mapped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import ObjectsConfig
from ..segmentation.base import Segmentation
from ..segmentation.labels import LabelSet
from .geometric import refine_mask, segment_depth


@dataclass
class OrientedBox:
    """centre (3,) and extent (3,) full side lengths in metres; rotation (3, 3) whose columns are
    the box axes in the world frame (z up for boxes of gravity-aligned objects)."""

    centre: np.ndarray
    extent: np.ndarray
    rotation: np.ndarray

    def to_dict(self) -> dict:
        return {"centre": [float(v) for v in self.centre], "extent": [float(v) for v in self.extent],
                "rotation": [[float(v) for v in row] for row in self.rotation]}

    @property
    def volume(self) -> float:
        return float(np.prod(self.extent))

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        local = (np.asarray(points, np.float64) - self.centre) @ self.rotation
        return np.all(np.abs(local) <= self.extent / 2 + margin, axis=1)


def up_frame(up: np.ndarray | None) -> np.ndarray:
    """(3, 3) rotation whose third column is the unit `up` (world z when None) and whose first
    column is the world x (or y) axis with its `up` component removed: the frame gravity-aligned
    boxes are searched in."""
    if up is None:
        return np.eye(3)
    z = np.asarray(up, np.float64) / np.linalg.norm(up)
    ref = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = ref - (ref @ z) * z
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], 1)


def oriented_box(points: np.ndarray, trim: float = 0.02, up: np.ndarray | None = None) -> OrientedBox:
    """Gravity-aligned oriented box of points (N, 3): the yaw about `up` (world z when None;
    searched in 1 degree steps over 0..90) whose horizontal rectangle has the smallest area;
    extents between the trim and 1 - trim quantiles along each axis (stray surfels at a mask's
    border do not inflate it). The rotation's third column is `up`."""
    G = up_frame(up)
    p = np.asarray(points, np.float64) @ G  # coordinates in the gravity frame
    if len(p) > 4000:  # the box of a regular subsample is the box
        p = p[np.linspace(0, len(p) - 1, 4000).astype(np.int64)]
    yaws = np.deg2rad(np.arange(90))
    axes = np.stack([np.cos(yaws), np.sin(yaws)], 1)  # (90, 2) first horizontal axis per yaw
    u = p[:, :2] @ axes.T  # (N, 90)
    v = p[:, :2] @ np.stack([-axes[:, 1], axes[:, 0]], 1).T
    area = (np.quantile(u, 1 - trim, axis=0) - np.quantile(u, trim, axis=0)) * (
        np.quantile(v, 1 - trim, axis=0) - np.quantile(v, trim, axis=0))
    a = axes[int(np.argmin(area))]
    R = np.array([[a[0], -a[1], 0.0], [a[1], a[0], 0.0], [0.0, 0.0, 1.0]])
    local = p @ R
    lo, hi = np.quantile(local, trim, axis=0), np.quantile(local, 1 - trim, axis=0)
    return OrientedBox(G @ R @ ((lo + hi) / 2), np.maximum(hi - lo, 1e-3), G @ R)


def main_clusters(points: np.ndarray, voxel: float, keep: float, link: float = 1.8) -> np.ndarray:
    """bool (N,): the points (N, 3) in the clusters of at least `keep` x the largest cluster's
    size. Clusters: connected occupied voxels of side `voxel` (neighbours within `link` voxels,
    i.e. the 26-neighbourhood at 1.8). Drops the stray patches an object picked up away from
    itself (floor a false mask gave it, a wall seen past its border) while keeping its parts that
    the map has not joined yet."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    p = np.asarray(points, np.float64)
    if len(p) < 2:
        return np.ones(len(p), bool)
    keys, inverse = np.unique(np.floor(p / voxel).astype(np.int64), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    pairs = cKDTree(keys.astype(np.float64)).query_pairs(link, output_type="ndarray")
    n = len(keys)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels[inverse])
    return sizes[labels[inverse]] >= keep * sizes.max()


def floor_level(positions: np.ndarray, up: np.ndarray | None, bin_size: float = 0.02,
                share: float = 0.02) -> float | None:
    """The floor's height along `up` (world z when None): the top of the fullest height bin
    (`bin_size` m) of the lowest layer of bins that each hold at least `share` of the surfels
    (N, 3) — the floor is the lowest large horizontal surface of a room's map, though not always
    the largest (a scan facing the walls sees more of a sofa's seat than of the floor); its
    surfels spread over a few bins (depth noise). None when no bin holds that many."""
    p = np.asarray(positions, np.float64)
    if len(p) == 0:
        return None
    z = up_frame(up)[:, 2]
    values, counts = np.unique(np.floor(p @ z / bin_size).astype(np.int64), return_counts=True)
    large = np.flatnonzero(counts >= share * len(p))
    if not len(large):
        return None
    layer = large[: np.argmax(np.r_[np.diff(values[large]) > 1, True]) + 1]  # the lowest run of adjacent bins
    return float((values[layer[np.argmax(counts[layer])]] + 1) * bin_size)


def trim_wall_strips(points: np.ndarray, box: OrientedBox, step: float, thin: float) -> np.ndarray:
    """bool (N,): the points (N, 3) of `box` (gravity-aligned) less the strips of a wall beside the
    object: along each horizontal axis of the box, the end slices (`step` m) whose points lie in
    a sheet thinner than `thin` x the median slice's depth (the other horizontal axis) at the box's
    back or front, from each end inwards up to the first slice as deep as the object. A mask that
    meets the wall behind a thing gives it the wall's surfels beside it, joined to it along its
    back (a night stand's box as wide as it and the wall beside it); a thing that is a sheet
    itself (a picture, a door) has thin slices all along and keeps them."""
    local = (np.asarray(points, np.float64) - box.centre) @ box.rotation
    keep = np.ones(len(local), bool)
    for k, j in ((0, 1), (1, 0)):
        n = max(int(np.ceil(box.extent[k] / step)), 1)
        slices = np.clip(((local[:, k] + box.extent[k] / 2) / step).astype(np.int64), 0, n - 1)
        depth = np.full(n, np.nan)
        side = np.zeros(n)
        for i in np.unique(slices):
            v = local[slices == i, j]
            depth[i] = v.max() - v.min()
            side[i] = abs(v.mean()) / (box.extent[j] / 2)
        deep = np.nanmedian(depth)
        strip = (depth < thin * deep) & (side > 0.5)  # a thin sheet off the box's middle: at its back or front
        strip[np.isnan(depth)] = True  # empty slices between a strip and the end go with it
        lo = np.argmax(~strip) if not strip.all() else n
        hi = n - np.argmax(~strip[::-1]) if not strip.all() else 0
        keep &= (slices >= lo) & (slices < hi)
    return keep if keep.sum() >= 4 else np.ones(len(local), bool)


def snap_to_faces(box: OrientedBox, points: np.ndarray, normals: np.ndarray, band: float, cos_angle: float,
                  min_surfels: int, min_extent: float) -> OrientedBox:
    """`box` with each side moved to the face the surfels show there: the median position of the
    surfels (N, 3) within `band` m inside the side whose normal (N, 3) points out of it (within
    arccos(cos_angle)), when at least `min_surfels` do. An untrimmed box ends at the outermost
    surfels, and a face's surfels scatter about it with the depth noise (a few cm at 3-4 m after a
    few fused measurements), so every side seen lies out by about twice that; the median of the
    face's own surfels is where the face is. A side without such a face (unseen, or a rounded side)
    keeps its outermost surfel, and so do both sides along an axis where the box is thinner than
    `min_extent` (a picture, a door, a window: along a sheet's thin axis its faces lie a few cm
    apart, no further than the depth noise and the map's local misregistration move them — a
    picture's surfels 2 cm off its true place — and its outermost surfels fit it better than its
    front face: snapped, the scan's pictures, window and door lost a third or more of their IoU)."""
    if band <= 0 or len(points) == 0:
        return box
    local = (np.asarray(points, np.float64) - box.centre) @ box.rotation
    facing = np.asarray(normals, np.float64) @ box.rotation
    half = box.extent / 2
    lo, hi = -half.copy(), half.copy()
    for a in range(3):
        if box.extent[a] < min_extent:
            continue
        for sign in (-1.0, 1.0):
            x = sign * local[:, a]  # outwards from the centre across this side
            face = (sign * facing[:, a] > cos_angle) & (x >= half[a] - band)
            if np.count_nonzero(face) >= min_surfels:
                side = float(np.median(x[face]))
                if sign > 0:
                    hi[a] = side
                else:
                    lo[a] = -side
    if np.any(hi - lo < 1e-3):
        return box
    return OrientedBox(box.centre + box.rotation @ ((lo + hi) / 2), hi - lo, box.rotation)


def object_box(points: np.ndarray, up: np.ndarray | None, voxel: float, keep: float, floor: float | None = None,
               band: float = 0.03, strip_depth: float = 0.0, normals: np.ndarray | None = None,
               face_band: float = 0.0, face_cos: float = 0.9, face_min_surfels: int = 10,
               face_min_extent: float = 0.15) -> OrientedBox:
    """The oriented box of an object's surfels (N, 3): the gravity-aligned box (`oriented_box`,
    untrimmed) of its main clusters (`main_clusters`). Untrimmed: an object's surfels lie on its
    surfaces, densest on the faces seen most, and quantiles of them cut off the faces seen least
    (a bed's top seen at a grazing angle); the stray patches are gone by clusters instead, and
    with `strip_depth` > 0 the strips of a wall beside it (`trim_wall_strips`). With the `floor`
    height (along `up`; `floor_level`): the surfels within `band` above it are the floor around
    the object's feet (a mask is never exact there, and the floor joins every
    leg into one cluster with it), left out; a box whose bottom ends within band + 2 voxels of
    the floor stands on it and reaches down to it. With the surfels' `normals` (N, 3) and
    `face_band` > 0: the sides moved to the faces seen there (`snap_to_faces` with face_band,
    face_cos, face_min_surfels, face_min_extent) before the floor is reached down to."""
    p = np.asarray(points, np.float64)
    n = None if normals is None else np.asarray(normals, np.float64)
    z = up_frame(up)[:, 2]
    if floor is not None:
        above = p @ z > floor + band
        if above.sum() >= 4:
            p = p[above]
            n = None if n is None else n[above]
    main = main_clusters(p, voxel, keep)
    p, n = p[main], None if n is None else n[main]
    box = oriented_box(p, trim=0.0, up=up)
    if strip_depth > 0:
        inner = trim_wall_strips(p, box, voxel, strip_depth)
        if not inner.all():
            p, n = p[inner], None if n is None else n[inner]
            box = oriented_box(p, trim=0.0, up=up)
    if n is not None and face_band > 0:
        box = snap_to_faces(box, p, n, face_band, face_cos, face_min_surfels, face_min_extent)
    if floor is not None:
        lo = box.centre @ z - box.extent[2] / 2  # the box's third axis is up
        if lo <= floor + band + 2 * voxel:
            hi = lo + box.extent[2]
            box = OrientedBox(box.centre + z * ((floor - lo) / 2), np.array([box.extent[0], box.extent[1], hi - floor]),
                              box.rotation)
    return box


def rest_on_support(box: OrientedBox, others: np.ndarray, floor: float | None, voxel: float, min_surfels: int,
                    reach: float) -> OrientedBox:
    """`box` (gravity-aligned: its third axis up) reaching down to what holds it up: an object's
    surfels are what the camera saw of it, and the thin parts it stands on (a chair's legs, a
    monitor's stand) seldom make it into the map (too thin for the depth's filter, or seen too
    rarely to become stable), so its box ends in the air. What holds it up: the first level
    (`voxel` m bins, from the box's bottom down) where at least `min_surfels` of `others` (N, 3:
    the map's other surfels) lie within a level of it in the box's footprint grown by `reach` m
    (under the box itself the object hides it): a table's top round a box on it, a shelf under
    books, the wall running on below a window or a picture (which thus keep their box); else the
    `floor` (a height along up; None: no floor known, nothing changes)."""
    z = box.rotation[:, 2]
    half = box.extent / 2
    local = (np.asarray(others, np.float64) - box.centre) @ box.rotation
    bottom = -half[2]
    grown = np.all(np.abs(local[:, :2]) <= half[:2] + reach, axis=1) & (local[:, 2] <= bottom + voxel)
    support = None if floor is None else floor - box.centre @ z  # in the box's frame
    if support is not None:
        grown &= local[:, 2] > support + voxel / 2  # the floor's own surfels are the floor
    if grown.any():
        h = local[grown, 2]
        level = np.floor(h / voxel).astype(np.int64)
        counts = np.bincount(level - level.min())
        near = counts + np.r_[counts[1:], 0] + np.r_[0, counts[:-1]]  # within a level
        held = np.flatnonzero(near >= min_surfels)
        if len(held):
            lv = held[-1]  # the highest
            window = np.abs(level - level.min() - lv) <= 1
            support = float(np.median(h[window]))
    if support is None or bottom - support < 2 * voxel:
        return box  # nothing known under it, or it rests on it already
    top = half[2]
    return OrientedBox(box.centre + z * ((top + support) / 2), np.array([box.extent[0], box.extent[1], top - support]),
                       box.rotation)


def _pair(a: int, b: int) -> tuple[int, int]:
    """The key of two objects in ObjectMap.codetected: (smaller id, larger id)."""
    return (a, b) if a < b else (b, a)


def box_overlap(a: "OrientedBox", b: "OrientedBox", samples: int = 12) -> float:
    """The fraction of box a's volume inside box b (a regular grid of samples^3 points in a)."""
    g = (np.arange(samples) + 0.5) / samples - 0.5
    grid = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    return float(b.contains(a.centre + (grid * a.extent) @ a.rotation.T).mean())


def estimate_up(normals: np.ndarray, weights: np.ndarray | None, guess: np.ndarray, cone_deg: float,
                iterations: int = 5, positions: np.ndarray | None = None, band: float = 0.02) -> np.ndarray:
    """The world's up direction from surfels: starting at `guess` (e.g. the first camera's -y),
    the weighted mean of the unit normals (N, 3) within `cone_deg` of the estimate — floors, table
    tops and seats face up — repeated `iterations` times. With `positions` (N, 3), refined by
    a plane fit: the up-facing surfels at the most common height (2 cm bins: the floor, mostly)
    within 5 `band` m of it, the normal of their least-squares plane (positions are unbiased where
    normals from filtered depth lean towards the camera at grazing angles), then twice more within
    `band`.
    `guess` when no normal lies in the cone. weights (N,): e.g. surfel areas; None = equal."""
    n = np.asarray(normals, np.float64)
    ok = np.isfinite(n).all(1)
    n = n[ok]
    w = np.ones(len(n)) if weights is None else np.asarray(weights, np.float64)[ok]
    up = np.asarray(guess, np.float64) / np.linalg.norm(guess)
    cos = np.cos(np.deg2rad(cone_deg))
    for _ in range(iterations):
        near = n @ up > cos
        if not near.any():
            return up
        mean = (n[near] * w[near, None]).sum(0)
        if np.linalg.norm(mean) == 0:
            return up
        up = mean / np.linalg.norm(mean)
    if positions is None:
        return up
    p = np.asarray(positions, np.float64)[ok]
    for width in (5 * band, band, band):  # a wide first band: a floor tilted against the estimate still fits
        facing = n @ up > cos
        if facing.sum() < 50:
            break
        h = p[facing] @ up
        bins = np.floor(h / 0.02).astype(np.int64)
        values, counts = np.unique(bins, return_counts=True)
        level = (values[np.argmax(counts)] + 0.5) * 0.02
        plane = p[facing][np.abs(h - level) <= width]
        if len(plane) < 50:
            break
        centred = plane - plane.mean(0)
        normal = np.linalg.svd(centred, full_matrices=False)[2][2]
        up = normal if normal @ up > 0 else -normal
    return up


def box_iou_3d(a: OrientedBox, b: OrientedBox, samples: int = 24) -> float:
    """IoU of two oriented boxes, from a regular grid of samples^3 points in each box."""
    g = (np.arange(samples) + 0.5) / samples - 0.5
    grid = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    a_in_b = b.contains(a.centre + (grid * a.extent) @ a.rotation.T).mean()
    b_in_a = a.contains(b.centre + (grid * b.extent) @ b.rotation.T).mean()
    inter = 0.5 * (a_in_b * a.volume + b_in_a * b.volume)
    union = a.volume + b.volume - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class MapObject:
    """One object of the map. class_probs: (C,) in the object map's label set, the normalised
    exp(class_log): the log of the prior times the likelihoods of every detection so far (kept as
    logs, shifted so that the largest is 0, so that no amount of evidence underflows or saturates:
    forty detections of one class outweigh three of another whatever their order)."""

    id: int
    class_probs: np.ndarray
    first_frame: int
    last_frame: int
    detections: int = 0
    expected: int = 0
    score_sum: float = 0.0
    surfel_count: int = 0
    box: OrientedBox | None = None
    frames: list[int] = field(default_factory=list)
    class_log: np.ndarray | None = None  # None: from class_probs

    def __post_init__(self) -> None:
        if self.class_log is None:
            self.class_log = np.log(np.maximum(np.asarray(self.class_probs, np.float64), 1e-300))
        self.add_class_log(np.zeros_like(self.class_log))

    def add_class_log(self, log_likelihood: np.ndarray) -> None:
        """Multiply the class belief by exp(log_likelihood) (C,) and renormalise."""
        log = self.class_log + log_likelihood
        self.class_log = log - log.max()
        p = np.exp(self.class_log)
        self.class_probs = p / p.sum()

    @property
    def class_id(self) -> int:
        return int(np.argmax(self.class_probs))

    @property
    def existence(self) -> float:
        """Detected / expected to be seen (Fusion++); 1 before it was ever expected."""
        return self.detections / self.expected if self.expected else 1.0

    @property
    def score(self) -> float:
        """Mean detection score."""
        return self.score_sum / self.detections if self.detections else 0.0

    def state(self) -> dict:
        """Everything to rebuild this object (map.npz), JSON-serialisable."""
        return {"id": self.id, "class_probs": [float(p) for p in self.class_probs],
                "class_log": [float(v) for v in self.class_log], "first_frame": self.first_frame,
                "last_frame": self.last_frame, "detections": self.detections, "expected": self.expected,
                "score_sum": self.score_sum, "surfel_count": self.surfel_count, "frames": list(self.frames),
                "box": self.box.to_dict() if self.box is not None else None}

    @classmethod
    def from_state(cls, d: dict) -> "MapObject":
        box = d.get("box")
        return cls(int(d["id"]), np.asarray(d["class_probs"], np.float64), int(d["first_frame"]),
                   int(d["last_frame"]), int(d["detections"]), int(d["expected"]), float(d["score_sum"]),
                   int(d["surfel_count"]),
                   OrientedBox(np.asarray(box["centre"]), np.asarray(box["extent"]), np.asarray(box["rotation"]))
                   if box else None, [int(f) for f in d.get("frames", [])],
                   np.asarray(d["class_log"], np.float64) if "class_log" in d else None)

    def to_dict(self, label_set: LabelSet) -> dict:
        probs = {label_set.names[c]: round(float(p), 4) for c, p in enumerate(self.class_probs) if p > 0.01}
        return {
            "id": self.id, "class_id": self.class_id, "class": label_set.names[self.class_id],
            "class_probabilities": probs, "score": round(self.score, 4), "existence": round(self.existence, 4),
            "detections": self.detections, "expected": self.expected, "surfel_count": self.surfel_count,
            "first_frame": self.first_frame, "last_frame": self.last_frame, "frames_seen": len(self.frames),
            "box": self.box.to_dict() if self.box is not None else None,
        }  # fmt: skip


def depth_support(mask: np.ndarray, depth: np.ndarray, test_depth: np.ndarray, radius: int, gap: float,
                  erode: int = 2) -> np.ndarray:
    """(H, W) bool: pixels whose `test_depth` lies within the range of the measured `depth` of
    the mask's interior nearby (the mask eroded by `erode` px; min / max over a (2 radius + 1)^2
    window), widened by gap x depth. A mask a few pixels too wide reaches past the object's
    silhouette onto what lies behind it (the floor behind a table's edge), and the map's surfel
    at a pixel of the object can be one behind it (a thin leg not fused yet): those are far
    behind every interior pixel near them and get no support; the floor where a leg stands, at
    the leg's depth, does. depth, test_depth (H, W) metres, NaN or <= 0 invalid (no support)."""
    import cv2

    m = np.asarray(mask, np.uint8)
    z = np.asarray(depth, np.float32)
    valid = np.isfinite(z) & (z > 0)
    interior = cv2.erode(m, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)) > 0
    interior &= valid
    if not interior.any():
        interior = (m > 0) & valid
    window = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    hi = cv2.dilate(np.where(interior, z, -np.inf).astype(np.float32), window)
    lo = cv2.erode(np.where(interior, z, np.inf).astype(np.float32), window)
    # a surface seen at a grazing angle changes depth fast from pixel to pixel: its border pixels
    # lie beyond the interior's range by about (erode + 1) pixels of its slope
    zi = np.where(interior, z, np.nan)
    with np.errstate(invalid="ignore"):
        slope = np.fmax(np.abs(np.diff(zi, axis=0, prepend=np.nan)), np.abs(np.diff(zi, axis=1, prepend=np.nan)))
    slope = cv2.dilate(np.nan_to_num(slope, nan=0.0).astype(np.float32), window) * (erode + 1)
    zt = np.asarray(test_depth, np.float32)
    with np.errstate(invalid="ignore", over="ignore"):  # no interior nearby: lo = inf, hi = -inf
        return np.isfinite(zt) & (zt > 0) & (zt >= lo * (1 - gap) - slope) & (zt <= hi * (1 + gap) + slope)


def refine_masks(masks: list[np.ndarray], vertices: np.ndarray, normals: np.ndarray, config: ObjectsConfig,
                 device: str = "cpu") -> tuple[list[np.ndarray], int]:
    """Masks snapped to the geometric segments of the frame's vertex / normal maps (H, W, 3)
    (geometric.refine_mask, each against the others); returns (masks, how many changed)."""
    if not masks:
        return [], 0
    segments = segment_depth(vertices, normals, config, device)
    refined = [refine_mask(m, segments, config, [o for o in masks if o is not m]) for m in masks]
    return refined, sum(not np.array_equal(a, b) for a, b in zip(refined, masks))


@dataclass
class FrameObjects:
    """What one frame did: detections used, matched, new objects, and the frame's timings."""

    detections: int = 0
    matched: int = 0
    created: int = 0
    refined: int = 0
    released: int = 0


def pixel_index_map(fine: np.ndarray, intrinsics) -> np.ndarray:
    """(H, W) int32 surfel per frame pixel from the map's fine index map (H*s, W*s), where each
    surfel is one sub-pixel (ElasticFusion's IndexMap): the largest surfel index in each pixel's
    s x s block, -1 where there is none."""
    h, w = intrinsics.height, intrinsics.width
    s = fine.shape[0] // h
    if fine.shape != (h * s, w * s):
        raise ValueError(f"fine index map {fine.shape} is not a multiple of the frame {w}x{h}")
    return np.ascontiguousarray(fine.reshape(h, s, w, s).max(axis=(1, 3)))


class ObjectMap:
    """Objects over a SurfelMap's surfels in label set `label_set` (see the module doc)."""

    def __init__(self, label_set: LabelSet, config: ObjectsConfig | None = None, device: str = "cpu") -> None:
        self.config = config or ObjectsConfig()
        self.label_set = label_set
        self.device = device
        self.objects: dict[int, MapObject] = {}
        self.up: np.ndarray | None = None  # world up for the boxes (None: world z); see estimate_up
        self._next_id = 1
        self._frames_since_maintain = 0
        self.dropped = 0  # totals over the run (maintain)
        self.merged = 0
        # (smaller id, larger id) of same-class objects: how many detections covered both (merge_cover)
        self.codetected: dict[tuple[int, int], int] = {}

    def __len__(self) -> int:
        return len(self.objects)

    # -- one frame ---------------------------------------------------------------------------

    def integrate(self, seg: Segmentation, frame_index: int, index_map: np.ndarray, positions: np.ndarray,
                  instance_ids: np.ndarray, vertices: np.ndarray, T_world_cam: np.ndarray,
                  normals: np.ndarray | None = None, surfel_normals=None) -> FrameObjects:
        """Associate `seg.instances` with the objects and update them.

        index_map: (H, W) int32 surfel index per pixel at the frame's resolution, -1 none (the map
        after fusing this frame). positions (N, 3) float32 world, instance_ids (N,) int32: the
        map's surfels; instance_ids is updated in place. vertices, normals: (H, W, 3) float32
        camera-frame maps of this frame (NaN invalid); normals only for mask refinement.
        T_world_cam: 4x4. surfel_normals: the surfels' normals (N, 3), or a callable returning
        them (read only when a `maintain` is due), for the boxes (see maintain). Returns counts."""
        from scipy.spatial import cKDTree

        c = self.config
        if seg.label_set is not self.label_set and seg.label_set.names != self.label_set.names:
            raise ValueError(f"instances in label set {seg.label_set.name!r}, object map in {self.label_set.name!r}")
        stats = FrameObjects()
        h, w = index_map.shape
        dets = [i for i in (seg.instances or []) if i.mask.shape == (h, w) and i.mask.sum() >= c.min_mask_pixels]
        stats.detections = len(dets)
        masks = [i.mask for i in dets]
        if c.refine_masks and normals is not None and dets:
            masks, stats.refined = refine_masks(masks, vertices, normals, c, self.device)
        seen = index_map >= 0
        owner = np.full((h, w), -1, np.int64)
        owner[seen] = instance_ids[index_map[seen]]
        obj_pixels = {o: int(n) for o, n in zip(*np.unique(owner[owner > 0], return_counts=True))}
        R, t = np.asarray(T_world_cam)[:3, :3], np.asarray(T_world_cam)[:3, 3]
        rng = np.random.default_rng(frame_index)
        trees: dict[int, cKDTree] = {}

        def tree(o: int):
            if o not in trees:
                trees[o] = cKDTree(positions[instance_ids == o])
            return trees[o]

        pairs = []  # (score, detection, object)
        points = []
        for d, (det, mask) in enumerate(zip(dets, masks)):
            v = vertices[mask]
            v = v[np.isfinite(v).all(1)]
            if len(v) > c.max_points:
                v = v[rng.choice(len(v), c.max_points, replace=False)]
            pts = v.astype(np.float64) @ R.T + t
            points.append(pts)
            for o in np.unique(owner[mask & (owner > 0)]):
                o = int(o)
                if o not in self.objects:
                    continue
                inter = int(np.sum(mask & (owner == o)))
                iou = inter / (np.sum(mask & seen) + obj_pixels[o] - inter)  # over pixels that show a surfel
                frac = float(np.mean(tree(o).query(pts, distance_upper_bound=c.match_distance)[0] <= c.match_distance)) \
                    if len(pts) else 0.0
                if frac <= c.match_fraction and iou <= c.match_iou:
                    continue
                score = iou + frac + c.class_weight * float(self.objects[o].class_probs[det.class_id])
                if score >= c.min_match_score:
                    pairs.append((score, d, o))
        matched_d: dict[int, int] = {}
        used_o: set[int] = set()
        for score, d, o in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if d in matched_d or o in used_o:
                continue
            matched_d[d] = o
            used_o.add(o)
        depth = vertices[..., 2]  # what the camera measured; surfel_depth: where the map's surfel at each pixel lies
        surfel_depth = np.full((h, w), np.nan, np.float32)
        surfel_depth[seen] = (positions[index_map[seen]].astype(np.float64) - t) @ R[:, 2]
        with np.errstate(invalid="ignore"):  # the map's surfel at a pixel is the surface measured there
            at_surface = np.abs(surfel_depth - depth) <= c.release_depth_gap
        for d, (det, mask) in enumerate(zip(dets, masks)):
            o = matched_d.get(d)
            if o is None:
                # an object needs surfels to live on: detections of what the map does not hold yet
                # (beyond the fusion range, not fused yet) start nothing
                if det.score < c.new_object_score or np.sum(mask & seen) < c.min_surfels:
                    continue
                o = self._new_object(frame_index)
                self.objects[o].expected = 1  # seen on the frame that made it
                stats.created += 1
            else:
                stats.matched += 1
            obj = self.objects[o]
            self._update_class(obj, det.class_id, det.score)
            obj.detections += 1
            obj.score_sum += det.score
            obj.last_frame = frame_index
            obj.frames.append(frame_index)
            if d in matched_d and det.class_id != obj.class_id:
                continue  # a detection of another class (a wrong class, a false mask over it) adds no surfels
            support = depth_support(mask, depth, surfel_depth, c.release_margin + 3, c.claim_depth_gap)
            surfels = index_map[mask & seen & support]
            surfels = surfels[instance_ids[surfels] < 0]
            instance_ids[surfels] = o
            if d in matched_d:
                stats.released += self._release(o, d, dets, masks, support, at_surface, owner, index_map,
                                                instance_ids)
        self._count_codetections(matched_d, masks, owner, obj_pixels)
        for o, n in obj_pixels.items():
            if o in self.objects and n >= c.visible_min_pixels:
                self.objects[o].expected += 1
        for o in matched_d.values():  # a detected object was expected too, even when barely visible before
            if obj_pixels.get(o, 0) < c.visible_min_pixels:
                self.objects[o].expected += 1
        self._frames_since_maintain += 1
        if self._frames_since_maintain >= c.maintain_every:
            self.maintain(positions, instance_ids, normals=surfel_normals() if callable(surfel_normals)
                          else surfel_normals)
        return stats

    def _count_codetections(self, matched_d: dict[int, int], masks: list[np.ndarray], owner: np.ndarray,
                            obj_pixels: dict[int, int]) -> None:
        """For each matched detection, the other objects of its object's class whose visible pixels
        it covers for at least objects.merge_cover: one more detection of both (`codetected`). One
        thing mapped as two objects (a chair's back found as a new object while its seat was
        hidden, then seen together) is covered by one mask again and again; `maintain` merges them."""
        c = self.config
        for d, o in matched_d.items():
            cls = self.objects[o].class_id
            for o2 in np.unique(owner[masks[d] & (owner > 0)]):
                o2 = int(o2)
                if o2 == o or o2 not in self.objects or self.objects[o2].class_id != cls:
                    continue
                if np.sum(masks[d] & (owner == o2)) >= c.merge_cover * obj_pixels[o2]:
                    self.codetected[_pair(o, o2)] = self.codetected.get(_pair(o, o2), 0) + 1

    def _release(self, o: int, d: int, dets: list, masks: list[np.ndarray], support: np.ndarray,
                 at_surface: np.ndarray, owner: np.ndarray, index_map: np.ndarray, instance_ids: np.ndarray) -> int:
        """Free the surfels of object `o` that this frame shows off its detection d (`masks[d]`):
        further than objects.release_margin px from it, or without depth `support` (behind its
        border) — surfels a wider or false mask gave it earlier (the floor behind a table's edge,
        the wall behind a box, the shelf board under a box on it). Kept: those under another
        detection of d's class (the other part of a split mask), and those under a detection of
        another class unless they are the surface the camera measured there (`at_surface`: within
        objects.release_depth_gap of the frame's depth) — under the shelf's mask, the board that a
        dilated mask of the box on it claimed goes; behind a chair not mapped yet, or behind a box
        on it, what the map still shows of o stays. Only when the mask covers at least
        objects.release_min_cover of o's visible pixels (a partial or split detection frees
        nothing). Returns how many were freed."""
        import cv2

        c = self.config
        mask = masks[d]
        visible = owner == o
        n = int(visible.sum())
        if c.release_margin < 0 or n == 0 or np.sum(mask & visible) < c.release_min_cover * n:
            return 0
        r = c.release_margin
        near = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        outside = visible & ~((near > 0) & support)
        for d2, other in enumerate(masks):
            if d2 == d or not np.any(outside & other):
                continue
            if dets[d2].class_id == dets[d].class_id:
                outside &= ~other
            else:
                outside &= ~(other & ~at_surface)
        surfels = index_map[outside]
        surfels = surfels[instance_ids[surfels] == o]
        instance_ids[surfels] = -1
        return len(surfels)

    def integrate_map(self, surfel_map, seg: Segmentation, frame_index: int, time: int, T_world_cam: np.ndarray,
                      intrinsics, vertices: np.ndarray, normals: np.ndarray | None = None) -> FrameObjects:
        """`integrate` against a SurfelMap after it fused this frame: its index map at
        T_world_cam and `time` (the frame's clock), its positions and instance ids (read alone);
        the changed instance ids are written back to the map."""
        index_map = pixel_index_map(surfel_map.render_index_map(T_world_cam, intrinsics, time), intrinsics)
        before = surfel_map.instance_ids()
        ids = before.copy()
        stats = self.integrate(seg, frame_index, index_map, surfel_map.field("positions"), ids, vertices,
                               T_world_cam, normals, lambda: surfel_map.field("normals"))
        changed = np.flatnonzero(ids != before)
        if len(changed):
            surfel_map.set_instance_ids(ids[changed], changed)
        return stats

    def finish_map(self, surfel_map) -> dict:
        """`finish` on a SurfelMap's surfels, writing freed / merged ids back."""
        before = surfel_map.instance_ids()
        ids = before.copy()
        out = self.finish(surfel_map.field("positions"), ids, surfel_map.field("normals"))
        changed = np.flatnonzero(ids != before)
        if len(changed):
            surfel_map.set_instance_ids(ids[changed], changed)
        return out

    # -- state (map.npz) ---------------------------------------------------------------------

    def state(self) -> dict:
        """The object map as a JSON-serialisable dict (`from_state` rebuilds it)."""
        return {"label_set": self.label_set.name, "next_id": self._next_id,
                "up": None if self.up is None else [float(v) for v in self.up],
                "dropped": self.dropped, "merged": self.merged,
                "codetected": [[a, b, n] for (a, b), n in sorted(self.codetected.items())],
                "objects": [self.objects[o].state() for o in sorted(self.objects)]}

    @classmethod
    def from_state(cls, state: dict, label_set: LabelSet, config: ObjectsConfig | None = None,
                   device: str = "cpu") -> "ObjectMap":
        if state.get("label_set") != label_set.name:
            raise ValueError(f"objects in label set {state.get('label_set')!r}, expected {label_set.name!r}")
        om = cls(label_set, config, device)
        om.objects = {int(d["id"]): MapObject.from_state(d) for d in state["objects"]}
        om._next_id = int(state["next_id"])
        om.up = None if state.get("up") is None else np.asarray(state["up"], np.float64)
        om.dropped, om.merged = int(state.get("dropped", 0)), int(state.get("merged", 0))
        om.codetected = {(int(a), int(b)): int(n) for a, b, n in state.get("codetected", [])}
        return om

    def _new_object(self, frame_index: int) -> int:
        o = self._next_id
        self._next_id += 1
        n = len(self.label_set)
        self.objects[o] = MapObject(o, np.full(n, 1.0 / n), frame_index, frame_index)
        return o

    def _update_class(self, obj: MapObject, class_id: int, score: float) -> None:
        n = len(obj.class_probs)
        score = float(np.clip(score, 1e-3, 1 - 1e-3))
        likelihood = np.full(n, (1.0 - score) / (n - 1))
        likelihood[class_id] = score
        obj.add_class_log(np.log(likelihood))

    # -- bookkeeping -------------------------------------------------------------------------

    def maintain(self, positions: np.ndarray, instance_ids: np.ndarray, final: bool = False,
                 normals: np.ndarray | None = None) -> dict:
        """Refresh surfel counts and boxes from the surfels; drop and merge objects (module doc).
        instance_ids is updated in place (freed: -1; merged: the surviving id); normals (N, 3): the
        surfels' (boxes snap to the faces they show; None: boxes end at the outermost surfels).
        Returns counts."""
        from scipy.spatial import cKDTree

        c = self.config
        self._frames_since_maintain = 0
        counts = np.bincount(instance_ids[instance_ids > 0], minlength=self._next_id)
        dropped = merged = 0
        for o in list(self.objects):
            obj = self.objects[o]
            obj.surfel_count = int(counts[o]) if o < len(counts) else 0
            low_existence = obj.expected >= c.existence_min_expected and obj.existence < c.existence_threshold
            too_small = obj.surfel_count < c.min_surfels and (final or obj.detections >= c.min_detections)
            if low_existence or too_small or (final and obj.detections < c.min_detections):
                del self.objects[o]
                dropped += 1
        alive = np.zeros(max(self._next_id, 1), bool)
        alive[list(self.objects)] = True
        gone = (instance_ids > 0) & ~alive[np.clip(instance_ids, 0, len(alive) - 1)]
        instance_ids[gone] = -1
        self.codetected = {k: n for k, n in self.codetected.items() if k[0] in self.objects and k[1] in self.objects}
        # merge same-class objects whose surfels overlap, or the box of the smaller lies in the other's
        ids = sorted(self.objects, key=lambda o: -self.objects[o].surfel_count)
        pts: dict[int, np.ndarray] = {}  # each object's surfels (positions, normals) in map order
        nrm: dict[int, np.ndarray | None] = {}

        def take(o: int) -> None:
            mine = instance_ids == o
            pts[o], nrm[o] = positions[mine], None if normals is None else normals[mine]

        for o in ids:
            take(o)
        floor = floor_level(positions, self.up) if c.floor_band > 0 else None

        def box_of(o: int) -> OrientedBox | None:
            if len(pts[o]) < 4:
                return None
            return object_box(pts[o], self.up, c.box_voxel, c.box_keep, floor, c.floor_band, c.box_strip_depth,
                              nrm[o], c.face_band, float(np.cos(np.deg2rad(c.face_angle_deg))), c.face_min_surfels,
                              c.face_min_extent)

        boxes = {o: box_of(o) for o in ids}

        def same_thing(a: int, b: int) -> bool:
            """Whether same-class objects a and b are one thing mapped as two."""
            if self.codetected.get(_pair(a, b), 0) >= c.merge_codetections > 0:
                return True
            if not len(pts[a]) or not len(pts[b]):
                return False
            lo, hi = pts[a].min(0) - c.match_distance, pts[a].max(0) + c.match_distance
            if np.any(pts[b].max(0) < lo) or np.any(pts[b].min(0) > hi):
                return False
            d, _ = cKDTree(pts[a]).query(pts[b], distance_upper_bound=max(c.match_distance, c.fragment_distance))
            if np.mean(d <= c.match_distance) > c.merge_overlap:
                return True
            if boxes[a] is not None and boxes[b] is not None:
                small, large = sorted((boxes[a], boxes[b]), key=lambda box: box.volume)
                if box_overlap(small, large) > c.merge_box_overlap:
                    return True
            if not final:
                return False
            # a same-class fragment beside an object detected many times as often: a part of it
            # that a few masks claimed without matching it (a desk's panel, a chair's legs)
            na, nb = self.objects[a].detections, self.objects[b].detections
            return bool(np.mean(d <= c.fragment_distance) > c.fragment_touch
                        and min(na, nb) <= c.fragment_detections * max(na, nb))

        for i, a in enumerate(ids):
            if a not in self.objects:
                continue
            for b in ids[i + 1:]:
                if b not in self.objects or self.objects[a].class_id != self.objects[b].class_id:
                    continue
                if same_thing(a, b):
                    self._merge(a, b, instance_ids)
                    take(a)
                    boxes[a] = box_of(a)
                    merged += 1
        for o, obj in self.objects.items():  # pts and boxes hold every surviving object's, merges included
            obj.surfel_count = len(pts[o])
            obj.box = boxes[o]
            if obj.box is not None and c.support_min_surfels > 0:
                obj.box = self._supported(obj.box, positions, instance_ids != o, floor)
        self.dropped += dropped
        self.merged += merged
        return {"dropped": dropped, "merged": merged}

    def _supported(self, box: OrientedBox, positions: np.ndarray, others: np.ndarray, floor: float | None) -> OrientedBox:
        """`rest_on_support` with the surfels `others` (N,) bool of positions (N, 3) near the box."""
        c = self.config
        radius = np.linalg.norm(box.extent[:2]) / 2 + c.support_reach
        z = box.rotation[:, 2]
        d = positions.astype(np.float64) - box.centre
        near = others & (np.linalg.norm(d - np.outer(d @ z, z), axis=1) <= radius) & (d @ z < box.extent[2] / 2)
        return rest_on_support(box, positions[near], floor, c.box_voxel, c.support_min_surfels, c.support_reach)

    def _merge(self, keep: int, other: int, instance_ids: np.ndarray) -> None:
        a, b = self.objects[keep], self.objects.pop(other)
        a.add_class_log(b.class_log)  # both beliefs came from independent detections
        a.detections += b.detections
        a.expected += b.expected
        a.score_sum += b.score_sum
        a.first_frame, a.last_frame = min(a.first_frame, b.first_frame), max(a.last_frame, b.last_frame)
        a.frames = sorted(set(a.frames) | set(b.frames))
        instance_ids[instance_ids == other] = keep
        for (x, y), n in list(self.codetected.items()):  # the other's counts become keep's
            if other in (x, y):
                del self.codetected[(x, y)]
                z = y if x == other else x
                if z != keep:
                    self.codetected[_pair(z, keep)] = self.codetected.get(_pair(z, keep), 0) + n

    def finish(self, positions: np.ndarray, instance_ids: np.ndarray, normals: np.ndarray | None = None) -> dict:
        """The end-of-sequence pass: maintain with the min_detections rule."""
        return self.maintain(positions, instance_ids, final=True, normals=normals)

    def to_list(self) -> list[dict]:
        return [self.objects[o].to_dict(self.label_set) for o in sorted(self.objects)]
