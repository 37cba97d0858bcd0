"""A procedural room: floor, walls, ceiling, a door, windows and furniture, each a labelled mesh.

World frame: metres, z up, the floor at z = 0, the room centred on the origin and spanning
[-half_x, half_x] x [-half_y, half_y] x [0, height]. Every object is its own triangle mesh built
from Open3D boxes and cylinders, with an NYU40 class id and an instance id: "things" (furniture,
door, windows, pictures, small objects) get instance ids 1, 2, ...; "stuff" (floor, walls,
ceiling) has instance id 0 ("none"). Triangles carry an albedo colour and a material; the
renderer turns the material into a procedural texture evaluated at the 3D hit point, so colour
is a function of the world position and stays photometrically consistent between views.

Furniture is placed by rejection sampling: groups (a desk with its monitor and chair, a bed with
its pillow, ...) must not overlap each other (2D oriented boxes where their height ranges meet)
and must stay `clearance` metres away from the camera's keep-out paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ...segmentation.labels import NYU40


class Material(IntEnum):
    """Procedural texture of a triangle (see render.py)."""

    FLOOR = 0  # wooden planks
    WALL = 1  # striped wallpaper
    CEILING = 2  # faint plaster noise
    WOOD = 3  # grain
    FABRIC = 4  # weave + blotches
    PLAIN = 5  # painted / plastic, mild noise
    SCREEN = 6  # a monitor's picture
    GLASS = 7  # a window's sky
    PAINTING = 8  # colourful noise
    CARDBOARD = 9  # strong low-frequency noise


STUFF_CLASSES = ("wall", "floor", "ceiling")


@dataclass(frozen=True)
class Room:
    """The empty room's size in metres (interior), centred on the origin, floor at z = 0."""

    half_x: float
    half_y: float
    height: float

    @property
    def centre(self) -> np.ndarray:
        """(3,) point at floor level in the middle of the room."""
        return np.zeros(3)


@dataclass
class SceneObject:
    """One labelled mesh in world coordinates.

    vertices: (V, 3) float64 metres. triangles: (T, 3) int32 vertex indices.
    triangle_colours: (T, 3) float32 albedo in [0, 1]. triangle_materials: (T,) uint8 `Material`.
    class_id: NYU40 id. instance_id: 1.. for things, 0 for walls, floor and ceiling.
    """

    name: str
    class_id: int
    instance_id: int
    vertices: np.ndarray
    triangles: np.ndarray
    triangle_colours: np.ndarray
    triangle_materials: np.ndarray

    @property
    def class_name(self) -> str:
        return NYU40.names[self.class_id]


@dataclass
class Scene:
    """A furnished room: objects (each its own mesh), a point light, and the texture seed."""

    room: Room
    objects: list[SceneObject]
    light_position: np.ndarray  # (3,) metres
    texture_seed: int
    seed: int = 0
    footprints: list["Footprint"] = field(default_factory=list)

    def things(self) -> list[SceneObject]:
        """Objects with an instance id (> 0), in instance order."""
        return sorted((o for o in self.objects if o.instance_id > 0), key=lambda o: o.instance_id)

    def class_ids(self) -> list[int]:
        """Sorted NYU40 ids of the classes in the scene."""
        return sorted({o.class_id for o in self.objects})


# ---------------------------------------------------------------------------------------------
# Meshes from parts


class _Parts:
    """Boxes and cylinders in an object's local frame (metres), each with colour and material."""

    def __init__(self) -> None:
        self.vertices: list[np.ndarray] = []
        self.triangles: list[np.ndarray] = []
        self.colours: list[np.ndarray] = []
        self.materials: list[np.ndarray] = []
        self._count = 0

    def _add(self, vertices: np.ndarray, triangles: np.ndarray, colour, material: Material) -> None:
        self.vertices.append(vertices)
        self.triangles.append(triangles + self._count)
        self._count += len(vertices)
        colour = np.clip(np.asarray(colour, dtype=np.float32), 0.0, 1.0)
        self.colours.append(np.tile(colour, (len(triangles), 1)))
        self.materials.append(np.full(len(triangles), int(material), dtype=np.uint8))

    def box(self, size, centre, colour, material: Material) -> None:
        """An axis-aligned box of `size` (sx, sy, sz) centred at `centre`."""
        import open3d as o3d

        size = np.asarray(size, dtype=float)
        mesh = o3d.geometry.TriangleMesh.create_box(*size)
        v = np.asarray(mesh.vertices) - size / 2 + np.asarray(centre, dtype=float)
        self._add(v, np.asarray(mesh.triangles, dtype=np.int32), colour, material)

    def cylinder(self, radius: float, height: float, base_centre, colour, material: Material) -> None:
        """A vertical cylinder standing on `base_centre`."""
        import open3d as o3d

        mesh = o3d.geometry.TriangleMesh.create_cylinder(radius, height, resolution=20, split=1)
        v = np.asarray(mesh.vertices) + np.asarray(base_centre, dtype=float) + np.array([0, 0, height / 2])
        self._add(v, np.asarray(mesh.triangles, dtype=np.int32), colour, material)

    def local_bounds(self) -> np.ndarray:
        """(2, 3) min and max corner of all parts."""
        v = np.concatenate(self.vertices)
        return np.stack([v.min(axis=0), v.max(axis=0)])

    def to_object(self, name: str, class_name: str, instance_id: int, pose: "_Pose2D") -> SceneObject:
        v = pose.apply(np.concatenate(self.vertices))
        return SceneObject(
            name=name,
            class_id=NYU40.id_of(class_name),
            instance_id=instance_id,
            vertices=v,
            triangles=np.concatenate(self.triangles).astype(np.int32),
            triangle_colours=np.concatenate(self.colours).astype(np.float32),
            triangle_materials=np.concatenate(self.materials),
        )


@dataclass(frozen=True)
class _Pose2D:
    """Rotation about z by `yaw` (rad), then translation (x, y, z)."""

    x: float
    y: float
    yaw: float
    z: float = 0.0

    def apply(self, points: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        out = np.empty_like(points, dtype=np.float64)
        out[:, 0] = c * points[:, 0] - s * points[:, 1] + self.x
        out[:, 1] = s * points[:, 0] + c * points[:, 1] + self.y
        out[:, 2] = points[:, 2] + self.z
        return out

    def compose(self, local: "_Pose2D") -> "_Pose2D":
        """This pose after `local` (a child placed in this pose's frame)."""
        p = self.apply(np.array([[local.x, local.y, local.z]]))[0]
        return _Pose2D(p[0], p[1], self.yaw + local.yaw, p[2])


@dataclass(frozen=True)
class Footprint:
    """An oriented rectangle on the floor (centre, half sizes, yaw) with a height range, metres."""

    cx: float
    cy: float
    half_w: float
    half_d: float
    yaw: float
    z0: float
    z1: float

    def corners(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [self.half_w, self.half_d]
        return local @ np.array([[c, s], [-s, c]]) + [self.cx, self.cy]

    def distance(self, points: np.ndarray) -> np.ndarray:
        """(N,) horizontal distance of (N, 2) points to the rectangle (0 inside)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        d = points - [self.cx, self.cy]
        lx = np.abs(c * d[:, 0] + s * d[:, 1]) - self.half_w
        ly = np.abs(-s * d[:, 0] + c * d[:, 1]) - self.half_d
        return np.hypot(np.maximum(lx, 0), np.maximum(ly, 0))

    def overlaps(self, other: "Footprint", margin: float) -> bool:
        """Whether the rectangles, grown by `margin`, overlap where their height ranges meet."""
        if self.z1 <= other.z0 or other.z1 <= self.z0:
            return False
        a, b = self.corners(), other.corners()
        for poly in (a, b):
            for i in range(2):
                edge = poly[i + 1] - poly[i]
                axis = np.array([-edge[1], edge[0]]) / np.linalg.norm(edge)
                pa, pb = a @ axis, b @ axis
                if pa.max() + margin <= pb.min() or pb.max() + margin <= pa.min():
                    return False
        return True


def _footprint(parts_bounds: np.ndarray, pose: _Pose2D) -> Footprint:
    lo, hi = parts_bounds
    centre_local = np.array([[(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.0]])
    c = pose.apply(centre_local)[0]
    return Footprint(
        c[0], c[1], (hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2, pose.yaw, lo[2] + pose.z, hi[2] + pose.z
    )


# ---------------------------------------------------------------------------------------------
# Colours


def _jitter(rng: np.random.Generator, base, amount: float = 0.08) -> np.ndarray:
    return np.clip(np.asarray(base, dtype=float) + rng.uniform(-amount, amount, 3), 0.02, 0.98)


_WOODS = ((0.55, 0.38, 0.22), (0.72, 0.55, 0.36), (0.38, 0.25, 0.15), (0.80, 0.68, 0.50))
_FABRICS = ((0.25, 0.35, 0.55), (0.55, 0.20, 0.20), (0.35, 0.50, 0.30), (0.60, 0.55, 0.45), (0.30, 0.30, 0.32))
_PAINTS = ((0.85, 0.85, 0.82), (0.25, 0.28, 0.32), (0.65, 0.75, 0.80), (0.80, 0.70, 0.55))


def _pick(rng: np.random.Generator, options) -> np.ndarray:
    return _jitter(rng, options[int(rng.integers(len(options)))])


# ---------------------------------------------------------------------------------------------
# Furniture builders: each returns parts in a local frame whose +y is the object's front and
# whose origin is on the floor under the object's centre.


def _table(rng, width, depth, height=0.74) -> _Parts:
    p, colour, top, leg = _Parts(), _pick(rng, _WOODS), 0.04, 0.05
    p.box((width, depth, top), (0, 0, height - top / 2), colour, Material.WOOD)
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = (sx * (width / 2 - leg / 2 - 0.04), sy * (depth / 2 - leg / 2 - 0.04), (height - top) / 2)
            p.box((leg, leg, height - top), centre, colour * 0.8, Material.WOOD)
    return p


def _chair(rng, colour=None) -> _Parts:
    p = _Parts()
    colour = _pick(rng, _WOODS + _PAINTS) if colour is None else colour
    seat_h, size, leg = 0.45, 0.44, 0.035
    p.box((size, size, 0.04), (0, 0, seat_h - 0.02), colour, Material.WOOD)
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = (sx * (size / 2 - leg / 2), sy * (size / 2 - leg / 2), (seat_h - 0.04) / 2)
            p.box((leg, leg, seat_h - 0.04), centre, colour * 0.7, Material.PLAIN)
    p.box((size, 0.04, 0.45), (0, -size / 2 + 0.02, seat_h + 0.225), colour, Material.WOOD)
    return p


def _sofa(rng, width) -> tuple[_Parts, np.ndarray]:
    p, colour, depth = _Parts(), _pick(rng, _FABRICS), 0.85
    p.box((width, depth, 0.42), (0, 0, 0.21), colour, Material.FABRIC)
    p.box((width, 0.2, 0.45), (0, -depth / 2 + 0.1, 0.42 + 0.225), colour * 0.92, Material.FABRIC)
    for sx in (-1, 1):
        p.box((0.18, depth, 0.2), (sx * (width / 2 - 0.09), 0, 0.52), colour * 0.95, Material.FABRIC)
    return p, colour


def _pillow(colour, size=(0.40, 0.13, 0.38)) -> _Parts:
    p = _Parts()
    p.box(size, (0, 0, size[2] / 2), colour, Material.FABRIC)
    return p


def _bed(rng, width, depth) -> _Parts:
    p, wood, sheet = _Parts(), _pick(rng, _WOODS), _pick(rng, _FABRICS)
    p.box((width, depth, 0.3), (0, 0, 0.15), wood, Material.WOOD)
    p.box((0.06, depth, 0.95), (-width / 2 + 0.03, 0, 0.475), wood * 0.9, Material.WOOD)
    mattress = (width - 0.1, depth - 0.06, 0.2)
    p.box(mattress, (0.02, 0, 0.4), (0.92, 0.92, 0.9), Material.FABRIC)
    blanket_len = 0.62 * width
    p.box((blanket_len, depth - 0.04, 0.03), (width / 2 - 0.03 - blanket_len / 2, 0, 0.515), sheet, Material.FABRIC)
    return p


def _night_stand(rng, width=0.45, depth=0.4, height=0.55) -> _Parts:
    p, colour = _Parts(), _pick(rng, _WOODS)
    p.box((width, depth, height), (0, 0, height / 2), colour, Material.WOOD)
    p.box((width - 0.06, 0.012, 0.16), (0, depth / 2 + 0.006, height - 0.12), colour * 1.1, Material.WOOD)
    p.box((0.08, 0.02, 0.02), (0, depth / 2 + 0.022, height - 0.12), (0.7, 0.7, 0.72), Material.PLAIN)
    return p


def _lamp(rng) -> _Parts:
    p, metal, shade = _Parts(), _jitter(rng, (0.3, 0.3, 0.32)), _jitter(rng, (0.92, 0.88, 0.75), 0.05)
    p.cylinder(0.08, 0.03, (0, 0, 0), metal, Material.PLAIN)
    p.cylinder(0.012, 0.32, (0, 0, 0.03), metal, Material.PLAIN)
    p.cylinder(0.13, 0.2, (0, 0, 0.33), shade, Material.FABRIC)
    return p


def _cabinet(rng, width, depth, height) -> _Parts:
    p, colour = _Parts(), _pick(rng, _WOODS + _PAINTS)
    p.box((width, depth, height), (0, 0, height / 2), colour, Material.WOOD)
    door_w = (width - 0.03) / 2
    for sx in (-1, 1):
        cx = sx * (door_w / 2 + 0.005)
        p.box((door_w, 0.012, height - 0.06), (cx, depth / 2 + 0.006, height / 2), colour * 0.9, Material.WOOD)
        p.box((0.02, 0.02, 0.12), (sx * 0.04, depth / 2 + 0.022, height * 0.55), (0.75, 0.75, 0.78), Material.PLAIN)
    return p


def _bookshelf(rng, width, depth, height, levels) -> tuple[_Parts, list[float], float]:
    """A bookshelf; also returns the tops (z) of the boards books stand on, and the inner width."""
    p, colour, t = _Parts(), _pick(rng, _WOODS), 0.02
    for sx in (-1, 1):
        p.box((t, depth, height), (sx * (width / 2 - t / 2), 0, height / 2), colour, Material.WOOD)
    p.box((width - 2 * t, 0.01, height), (0, -depth / 2 + 0.005, height / 2), colour * 0.8, Material.WOOD)
    bottoms = np.linspace(0.04, height - t, levels + 1)  # each board spans [z, z + t]
    for z in bottoms:
        p.box((width - 2 * t, depth - 0.01, t), (0, 0.005, z + t / 2), colour, Material.WOOD)
    return p, [float(z + t) for z in bottoms[:-1]], width - 2 * t


def _books(rng, inner_width, depth, max_height) -> _Parts:
    """A row of books standing on a board (local z = 0 is the board top)."""
    p = _Parts()
    x = -inner_width / 2 + rng.uniform(0.0, 0.25) * inner_width
    end = inner_width / 2 - rng.uniform(0.0, 0.25) * inner_width
    while True:
        thick = rng.uniform(0.02, 0.05)
        if x + thick > end:
            break
        h = rng.uniform(0.6, 0.9) * max_height
        d = rng.uniform(0.6, 0.9) * depth
        colour = rng.uniform(0.1, 0.9, 3)
        p.box((thick, d, h), (x + thick / 2, -depth / 2 + d / 2 + 0.02, h / 2), colour, Material.PLAIN)
        x += thick + 0.002
    return p


def _shelves(rng, width, depth, height, levels) -> tuple[_Parts, list[float]]:
    """An open metal rack; returns the board tops."""
    p, metal, board = _Parts(), _jitter(rng, (0.55, 0.57, 0.6)), _pick(rng, _WOODS)
    post = 0.03
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = (sx * (width / 2 - post / 2), sy * (depth / 2 - post / 2), height / 2)
            p.box((post, post, height), centre, metal, Material.PLAIN)
    tops = []
    for z in np.linspace(0.12, height - 0.02, levels):
        p.box((width - 2 * post, depth - 0.002, 0.02), (0, 0, z), board, Material.WOOD)
        tops.append(float(z + 0.01))
    return p, tops


def _box(rng, size) -> _Parts:
    p = _Parts()
    colour = _jitter(rng, (0.66, 0.5, 0.32), 0.06)
    p.box(size, (0, 0, size[2] / 2), colour, Material.CARDBOARD)
    p.box((size[0] + 0.002, 0.05, size[2] + 0.001), (0, 0, (size[2] + 0.001) / 2), colour * 0.8, Material.PLAIN)
    return p


def _desk(rng, width, depth, height=0.75) -> _Parts:
    p, colour = _Parts(), _pick(rng, _WOODS + _PAINTS)
    p.box((width, depth, 0.03), (0, 0, height - 0.015), colour, Material.WOOD)
    for sx in (-1, 1):
        centre = (sx * (width / 2 - 0.015), 0, (height - 0.03) / 2)
        p.box((0.03, depth - 0.04, height - 0.03), centre, colour * 0.85, Material.WOOD)
    p.box((width - 0.06, 0.02, 0.35), (0, -depth / 2 + 0.05, height - 0.03 - 0.175), colour * 0.75, Material.WOOD)
    return p


def _monitor(rng) -> _Parts:
    p, black = _Parts(), _jitter(rng, (0.08, 0.08, 0.09), 0.03)
    p.box((0.24, 0.17, 0.015), (0, 0, 0.0075), black, Material.PLAIN)
    p.box((0.05, 0.03, 0.2), (0, -0.03, 0.115), black, Material.PLAIN)
    w, h = rng.uniform(0.5, 0.62), rng.uniform(0.32, 0.38)
    p.box((w, 0.035, h), (0, 0.0025, 0.1 + h / 2), black, Material.PLAIN)
    p.box((w - 0.03, 0.002, h - 0.03), (0, 0.0025 + 0.0185, 0.1 + h / 2), rng.uniform(0.3, 0.9, 3), Material.SCREEN)
    return p


def _door(rng, width=0.9, height=2.05) -> _Parts:
    p, colour = _Parts(), _pick(rng, _WOODS + _PAINTS)
    p.box((width + 0.1, 0.02, height + 0.05), (0, 0.01, (height + 0.05) / 2), colour * 0.85, Material.PLAIN)
    p.box((width, 0.04, height), (0, 0.02, height / 2), colour, Material.WOOD)
    p.cylinder(0.025, 0.06, (width / 2 - 0.1, 0.07, 1.0), (0.8, 0.78, 0.7), Material.PLAIN)
    return p


def _window(rng, width, height) -> _Parts:
    p, frame = _Parts(), _jitter(rng, (0.92, 0.92, 0.9), 0.04)
    f = 0.06
    p.box((width, 0.015, height), (0, 0.0075, height / 2), (0.7, 0.8, 0.9), Material.GLASS)
    for z in (f / 2, height - f / 2, height / 2):
        p.box((width, 0.05, f), (0, 0.025, z), frame, Material.PLAIN)
    for x in (-width / 2 + f / 2, width / 2 - f / 2, 0.0):
        p.box((f, 0.05, height), (x, 0.025, height / 2), frame, Material.PLAIN)
    return p


def _picture(rng, width, height) -> _Parts:
    p, frame = _Parts(), _jitter(rng, (0.2, 0.15, 0.1), 0.1)
    p.box((width, 0.025, height), (0, 0.0125, height / 2), frame, Material.WOOD)
    p.box((width - 0.08, 0.004, height - 0.08), (0, 0.027, height / 2), rng.uniform(0.2, 0.9, 3), Material.PAINTING)
    return p


# ---------------------------------------------------------------------------------------------
# Placement


@dataclass
class _Group:
    """Objects placed together: (name prefix, class name, parts, pose in the group frame)."""

    members: list[tuple[str, str, _Parts, _Pose2D]]
    extra_bounds: list[np.ndarray] = field(default_factory=list)  # free zones, (2, 3) local boxes

    def bounds(self) -> np.ndarray:
        pts = []
        for _, _, parts, pose in self.members:
            lo, hi = parts.local_bounds()
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            pts.append(pose.apply(corners))
        for b in self.extra_bounds:
            pts.append(b)
        pts = np.concatenate(pts)
        return np.stack([pts.min(axis=0), pts.max(axis=0)])


class _Placer:
    """Rejection sampling of group poses against the room, placed groups and keep-out paths."""

    GAP = 0.03  # m; between neighbouring groups and from walls

    def __init__(self, room: Room, rng: np.random.Generator, keep_out: np.ndarray, clearance: float) -> None:
        self.room, self.rng, self.keep_out, self.clearance = room, rng, keep_out, clearance
        self.footprints: list[Footprint] = []

    def _fits(self, fp: Footprint, check_keep_out: bool) -> bool:
        corners = fp.corners()
        r = self.room
        if np.any(np.abs(corners[:, 0]) > r.half_x - 0.001) or np.any(np.abs(corners[:, 1]) > r.half_y - 0.001):
            return False
        if fp.z1 > r.height - 0.05:
            return False
        if check_keep_out and len(self.keep_out) and fp.distance(self.keep_out).min() < self.clearance:
            return False
        return not any(fp.overlaps(other, self.GAP) for other in self.footprints)

    def against_wall(self, group: _Group, z: float = 0.0, tries: int = 200) -> _Pose2D | None:
        """A pose putting the group's back (local min y) against a random wall, or None."""
        lo, hi = group.bounds()
        r = self.room
        for _ in range(tries):
            wall = int(self.rng.integers(4))
            yaw = (0.0, math.pi / 2, math.pi, -math.pi / 2)[wall]
            along_half = r.half_x if wall in (0, 2) else r.half_y
            s = self.rng.uniform(-along_half + 0.05, along_half - 0.05)
            back = -lo[1] + 0.002  # origin's distance from the wall
            if wall == 0:
                pose = _Pose2D(s, -r.half_y + back, yaw, z)
            elif wall == 1:
                pose = _Pose2D(r.half_x - back, s, yaw, z)
            elif wall == 2:
                pose = _Pose2D(s, r.half_y - back, yaw, z)
            else:
                pose = _Pose2D(-r.half_x + back, s, yaw, z)
            fp = _footprint(np.stack([lo, hi]), pose)
            if self._fits(fp, check_keep_out=True):
                self.footprints.append(fp)
                return pose
        return None

    def free(self, group: _Group, region: tuple[float, float], tries: int = 300) -> _Pose2D | None:
        """A pose anywhere with |x| <= region[0], |y| <= region[1], yaw near 0 or 90 deg, or None."""
        lo, hi = group.bounds()
        for _ in range(tries):
            yaw = float(self.rng.choice([0.0, math.pi / 2])) + self.rng.uniform(-0.2, 0.2)
            pose = _Pose2D(self.rng.uniform(-region[0], region[0]), self.rng.uniform(-region[1], region[1]), yaw)
            fp = _footprint(np.stack([lo, hi]), pose)
            if self._fits(fp, check_keep_out=True):
                self.footprints.append(fp)
                return pose
        return None


def room_from_seed(seed: int) -> Room:
    """The room's size for `seed`: about 5.4-6.2 m x 4.6-5.4 m, 2.5-2.8 m high."""
    rng = np.random.default_rng([seed, 1])
    half_x, half_y, height = rng.uniform(2.7, 3.1), rng.uniform(2.3, 2.7), rng.uniform(2.5, 2.8)
    return Room(half_x=float(half_x), half_y=float(half_y), height=float(height))


def _structure(room: Room, rng: np.random.Generator) -> list[SceneObject]:
    """Floor, ceiling and four walls as boxes just outside the interior (no instance)."""
    hx, hy, h, t = room.half_x, room.half_y, room.height, 0.1
    wall_colour, floor_colour = _pick(rng, _PAINTS[:1] + ((0.88, 0.82, 0.7), (0.75, 0.82, 0.78))), _pick(rng, _WOODS)
    ceiling_colour = _jitter(rng, (0.93, 0.93, 0.92), 0.03)
    specs = [
        ("floor", "floor", (2 * hx, 2 * hy, t), (0, 0, -t / 2), floor_colour, Material.FLOOR),
        ("ceiling", "ceiling", (2 * hx, 2 * hy, t), (0, 0, h + t / 2), ceiling_colour, Material.CEILING),
        ("wall_south", "wall", (2 * hx + 2 * t, t, h + 2 * t), (0, -hy - t / 2, h / 2), wall_colour, Material.WALL),
        ("wall_north", "wall", (2 * hx + 2 * t, t, h + 2 * t), (0, hy + t / 2, h / 2), wall_colour, Material.WALL),
        ("wall_east", "wall", (t, 2 * hy, h + 2 * t), (hx + t / 2, 0, h / 2), wall_colour, Material.WALL),
        ("wall_west", "wall", (t, 2 * hy, h + 2 * t), (-hx - t / 2, 0, h / 2), wall_colour, Material.WALL),
    ]
    out = []
    for name, cls, size, centre, colour, material in specs:
        p = _Parts()
        p.box(size, centre, colour, material)
        out.append(p.to_object(name, cls, 0, _Pose2D(0, 0, 0)))
    return out


def build_scene(seed: int, keep_out: np.ndarray | None = None, clearance: float = 0.4) -> Scene:
    """Build the furnished room for `seed`.

    keep_out: (N, 2) floor points (metres) the camera passes over; no object comes within
    `clearance` metres of them horizontally. Deterministic for (seed, keep_out, clearance).
    """
    room = room_from_seed(seed)
    rng = np.random.default_rng([seed, 2])
    keep_out = np.zeros((0, 2)) if keep_out is None else np.asarray(keep_out, dtype=float).reshape(-1, 2)
    placer = _Placer(room, rng, keep_out, clearance)
    objects = _structure(room, rng)
    counts: dict[str, int] = {}

    def emit(group: _Group, pose: _Pose2D) -> None:
        for prefix, cls, parts, local in group.members:
            counts[prefix] = counts.get(prefix, 0) + 1
            instance = len([o for o in objects if o.instance_id > 0]) + 1
            objects.append(parts.to_object(f"{prefix}_{counts[prefix]}", cls, instance, pose.compose(local)))

    def place_wall(group: _Group, z: float = 0.0) -> _Pose2D | None:
        pose = placer.against_wall(group, z)
        if pose is not None:
            emit(group, pose)
        return pose

    identity = _Pose2D(0, 0, 0)

    # The door first, with the zone it swings through kept free.
    door = _door(rng)
    swing = np.array([[-0.5, 0.0, 0.0], [0.5, 0.95, 2.1]])
    place_wall(_Group([("door", "door", door, identity)], [swing]))

    # Windows: only furniture lower than the sill may stand in front of them.
    for _ in range(int(rng.integers(1, 3))):
        w, h, sill = rng.uniform(1.0, 1.6), rng.uniform(1.0, 1.3), rng.uniform(0.85, 1.0)
        zone = np.array([[-w / 2, 0.0, 0.0], [w / 2, 0.3, h]])  # in front of the glass
        place_wall(_Group([("window", "window", _window(rng, w, h), identity)], [zone]), z=sill)

    # Sofa with pillows.
    width = rng.uniform(1.7, 2.2)
    sofa, fabric = _sofa(rng, width)
    members = [("sofa", "sofa", sofa, identity)]
    pillow_colour = _pick(rng, _FABRICS)
    for sx in (-1, 1):
        on_seat = _Pose2D(sx * (width / 2 - 0.18 - 0.25), -0.425 + 0.2 + 0.07, 0.0, 0.4205)  # against the back
        members.append(("pillow", "pillow", _pillow(pillow_colour), on_seat))
    place_wall(_Group(members))

    # Bed with a pillow, and a night stand with a lamp.
    if rng.random() < 0.8:
        bw, bd = rng.uniform(1.9, 2.1), rng.uniform(0.85, 0.95)
        place_wall(_Group([
            ("bed", "bed", _bed(rng, bw, bd), identity),
            ("pillow", "pillow", _pillow(_jitter(rng, (0.95, 0.95, 0.95), 0.03), (0.32, bd * 0.6, 0.12)),
             _Pose2D(-bw / 2 + 0.06 + 0.2, 0, 0, 0.5005)),
        ]))
        place_wall(_Group([
            ("night_stand", "night stand", _night_stand(rng), identity),
            ("lamp", "lamp", _lamp(rng), _Pose2D(0, 0, 0, 0.5505)),
        ]))

    # Desk with a monitor and a chair pushed under it.
    dw, dd = rng.uniform(1.2, 1.5), 0.6
    place_wall(_Group([
        ("desk", "desk", _desk(rng, dw, dd), identity),
        ("monitor", "television", _monitor(rng), _Pose2D(rng.uniform(-0.2, 0.2), -dd / 2 + 0.2, 0, 0.7505)),
        ("chair", "chair", _chair(rng), _Pose2D(rng.uniform(-0.15, 0.15), dd / 2 + 0.05, math.pi)),
    ]))

    # Storage against the walls.
    for _ in range(int(rng.integers(1, 3))):
        cabinet = _cabinet(rng, rng.uniform(0.8, 1.2), rng.uniform(0.4, 0.5), rng.uniform(0.8, 1.9))
        place_wall(_Group([("cabinet", "cabinet", cabinet, identity)]))
    sw, sd, sh, levels = rng.uniform(0.8, 1.0), 0.32, rng.uniform(1.6, 2.0), int(rng.integers(4, 6))
    shelf, tops, inner = _bookshelf(rng, sw, sd, sh, levels)
    members = [("bookshelf", "bookshelf", shelf, identity)]
    spacing = tops[1] - tops[0] if len(tops) > 1 else 0.3
    for z in tops:
        books = _books(rng, inner - 0.01, sd - 0.01, spacing - 0.06)
        members.append(("books", "books", books, _Pose2D(0, 0.005, 0, z + 0.0005)))
    place_wall(_Group(members))
    if rng.random() < 0.7:
        rw, rd, rh = rng.uniform(0.8, 1.1), 0.4, rng.uniform(1.2, 1.6)
        rack, tops = _shelves(rng, rw, rd, rh, 3)
        members = [("shelves", "shelves", rack, identity)]
        for z in tops[:2]:
            size = (rng.uniform(0.2, 0.35), rng.uniform(0.2, 0.3), rng.uniform(0.12, 0.2))
            members.append(("box", "box", _box(rng, size), _Pose2D(rng.uniform(-0.15, 0.15) * rw, 0, 0, z + 0.0005)))
        place_wall(_Group(members))

    # Pictures above the furniture.
    for _ in range(int(rng.integers(1, 4))):
        w, h = rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.6)
        place_wall(_Group([("picture", "picture", _picture(rng, w, h), identity)]), z=float(rng.uniform(1.3, 2.0 - h / 2)))

    # A table with chairs in the middle of the room.
    inner_x, inner_y = room.half_x - 1.0, room.half_y - 1.0
    for attempt in range(3):
        tw = rng.uniform(0.9, 1.4) * (1 - 0.2 * attempt)
        td = rng.uniform(0.6, 0.8) * (1 - 0.15 * attempt)
        chair_colour = _pick(rng, _WOODS + _PAINTS)
        members = [("table", "table", _table(rng, tw, td), identity)]
        n_chairs = int(rng.integers(2, 5)) if attempt == 0 else 2 - attempt
        sides = [
            (0, -td / 2 - 0.3, 0.0), (0, td / 2 + 0.3, math.pi),
            (-tw / 2 - 0.3, 0, -math.pi / 2), (tw / 2 + 0.3, 0, math.pi / 2),
        ]  # fmt: skip
        for x, y, yaw in sides[:n_chairs]:
            members.append(("chair", "chair", _chair(rng, chair_colour), _Pose2D(x, y, yaw)))
        group = _Group(members)
        pose = placer.free(group, (inner_x, inner_y))
        if pose is not None:
            emit(group, pose)
            if rng.random() < 0.7:
                size = (rng.uniform(0.15, 0.3), rng.uniform(0.15, 0.25), rng.uniform(0.08, 0.2))
                local = _Pose2D(rng.uniform(-0.2, 0.2) * tw, rng.uniform(-0.15, 0.15) * td, rng.uniform(-0.5, 0.5), 0.7405)
                emit(_Group([("box", "box", _box(rng, size), local)]), pose)
            break

    # Boxes on the floor, anywhere they fit.
    for _ in range(int(rng.integers(2, 5))):
        size = (rng.uniform(0.25, 0.5), rng.uniform(0.25, 0.45), rng.uniform(0.2, 0.45))
        group = _Group([("box", "box", _box(rng, size), identity)])
        pose = placer.free(group, (room.half_x, room.half_y), tries=100)
        if pose is not None:
            emit(group, pose)

    light = np.array([0.3 * room.half_x, -0.2 * room.half_y, room.height - 0.25])
    return Scene(room, objects, light, texture_seed=int(rng.integers(2**31)), seed=seed, footprints=placer.footprints)


def scene_mesh_arrays(scene: Scene) -> dict[str, np.ndarray]:
    """The whole scene as one mesh: per-vertex position, colour, label and instance, and faces.

    Returns vertices (V, 3) float32 m, colours (V, 3) uint8, labels (V,) uint16 NYU40,
    instances (V,) uint16, faces (F, 3) int32. Vertices are duplicated per triangle so a vertex
    has exactly one colour.
    """
    vertices, colours, labels, instances, faces = [], [], [], [], []
    offset = 0
    for obj in scene.objects:
        v = obj.vertices[obj.triangles.reshape(-1)]
        vertices.append(v.astype(np.float32))
        colours.append(np.repeat(np.round(obj.triangle_colours * 255).astype(np.uint8), 3, axis=0))
        labels.append(np.full(len(v), obj.class_id, dtype=np.uint16))
        instances.append(np.full(len(v), obj.instance_id, dtype=np.uint16))
        faces.append(np.arange(offset, offset + len(v), dtype=np.int32).reshape(-1, 3))
        offset += len(v)
    return {
        "vertices": np.concatenate(vertices),
        "colours": np.concatenate(colours),
        "labels": np.concatenate(labels),
        "instances": np.concatenate(instances),
        "faces": np.concatenate(faces),
    }
