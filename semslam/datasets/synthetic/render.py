"""Ray-cast rendering of a synthetic scene: exact depth, normals, labels, instances and colour.

Uses Open3D's `RaycastingScene` (Embree) on the CPU, one ray per pixel centre through the
pinhole model. Colour is Lambert + ambient shading of a point light times a procedural texture
evaluated at the 3D hit point (see `Material`), so a surface point has the same colour from
every view (no specular, no shadows): good for photometric tracking and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..frame import Intrinsics
from .scene import Material, Scene

_AMBIENT = 0.35
_DIFFUSE = 0.75
_LIGHT_FALLOFF = 6.0  # m; distance at which the light has dimmed to half


@dataclass
class RenderedView:
    """One noise-free view. Shapes (H, W[, 3]); pixels that hit nothing are 0 everywhere.

    depth: float32 metres along the camera's z (0 = no hit). rgb: float32 in [0, 1], RGB.
    normals_cam: float32 unit normals in the camera frame, facing the camera.
    labels: uint16 NYU40 ids. instances: uint16 instance ids (0 = none / stuff).
    view_cos: float32 cosine between the normal and the direction back to the camera.
    """

    depth: np.ndarray
    rgb: np.ndarray
    normals_cam: np.ndarray
    labels: np.ndarray
    instances: np.ndarray
    view_cos: np.ndarray


def pixel_rays(intrinsics: Intrinsics, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(H, W, 3) float64 unit ray directions in the camera frame through the pixel centres, or
    through points `offset` (du, dv) pixels away from them."""
    u, v = np.meshgrid(np.arange(intrinsics.width) + offset[0], np.arange(intrinsics.height) + offset[1])
    d = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones(u.shape)], axis=-1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


class _Noise:
    """Value noise on the integer lattice, smoothly interpolated; values in [0, 1]."""

    _MASK = 4095
    _PRIMES = (73856093, 19349663, 83492791)

    def __init__(self, seed: int) -> None:
        self.table = np.random.default_rng([seed, 7]).random(self._MASK + 1).astype(np.float32)

    def lookup(self, *ints: np.ndarray) -> np.ndarray:
        """Random values in [0, 1) hashed from integer coordinates (same shapes)."""
        h = np.zeros(np.shape(ints[0]), dtype=np.int32)
        for a, prime in zip(ints, self._PRIMES):
            h ^= np.asarray(a).astype(np.int32) * np.int32(prime)
        return self.table[h & self._MASK]

    def __call__(self, p: np.ndarray, scale) -> np.ndarray:
        """Noise at points p (N, 2 or 3) metres, lattice spacing 1/scale (scalar or per axis)."""
        q = p * np.asarray(scale, dtype=np.float32)
        i = np.floor(q)
        f = q - i
        f *= f * (3 - 2 * f)
        i = i.astype(np.int32)
        dims = p.shape[1]
        hashes = [(i[:, a] * np.int32(self._PRIMES[a]), (i[:, a] + 1) * np.int32(self._PRIMES[a])) for a in range(dims)]

        def corner_values(prefix: np.ndarray | None, axis: int) -> np.ndarray:
            if axis == dims:
                return self.table[prefix & self._MASK]
            lo = corner_values(hashes[axis][0] if prefix is None else prefix ^ hashes[axis][0], axis + 1)
            hi = corner_values(hashes[axis][1] if prefix is None else prefix ^ hashes[axis][1], axis + 1)
            return lo + f[:, axis] * (hi - lo)

        return corner_values(None, 0)


def _texture(material: int, p: np.ndarray, albedo: np.ndarray, noise: _Noise) -> np.ndarray:
    """Texture colour (N, 3) in [0, 1] of points p (N, 3) with albedo (N, 3) of one material."""
    if material == Material.FLOOR:  # planks 18 cm wide along x, each its own tint, with grain
        plank_coord = p[:, 1] / 0.18
        plank = np.floor(plank_coord)
        tint = 0.8 + 0.4 * noise.lookup(plank, plank)
        grain = noise(p[:, :2], (2.0, 40.0)) * 0.5 + noise(p[:, :2], 8.0) * 0.5
        seam = np.minimum(np.abs(plank_coord - np.round(plank_coord)) * (0.18 / 0.004), 1.0)
        return albedo * (tint * (0.75 + 0.35 * grain) * (0.6 + 0.4 * seam))[:, None]
    if material == Material.WALL:  # vertical stripes + blotches
        along = p[:, 0] + p[:, 1]
        stripes = 0.5 + 0.5 * np.sin(along * np.float32(2 * np.pi / 0.12))
        blotches = noise(np.stack([along, p[:, 2]], 1), 3.0)
        return albedo * (0.78 + 0.12 * stripes + 0.2 * blotches)[:, None]
    if material == Material.CEILING:
        return albedo * (0.9 + 0.1 * noise(p[:, :2], 4.0))[:, None]
    if material == Material.WOOD:
        rings = np.sin((p[:, 0] + p[:, 1]) * np.float32(24 * np.pi) + 6 * noise(p, 3.0))
        return albedo * (0.8 + 0.12 * rings + 0.16 * noise(p, 20.0))[:, None]
    if material == Material.FABRIC:
        return albedo * (0.7 + 0.25 * noise(p, 60.0) + 0.2 * noise(p, 5.0))[:, None]
    if material == Material.SCREEN:  # a dim desktop picture
        c = np.stack([noise(p, 8.0), noise(p + 3.1, 8.0), noise(p + 7.7, 8.0)], 1)
        return 0.15 + 0.5 * c * albedo
    if material == Material.GLASS:  # sky: bright towards the top, with clouds
        sky = np.clip(0.55 + 0.3 * (p[:, 2] - 1.0), 0.4, 1.0)[:, None] * np.array([0.55, 0.75, 1.0], np.float32)
        return np.clip(sky + 0.35 * noise(p, (3.0, 3.0, 6.0))[:, None], 0.0, 1.0)
    if material == Material.PAINTING:
        c = np.stack([noise(p, 12.0), noise(p + 5.3, 6.0), noise(p + 1.9, 9.0)], 1)
        return np.clip(0.3 * albedo + 0.8 * c, 0.0, 1.0)
    if material == Material.CARDBOARD:
        return albedo * (0.75 + 0.35 * noise(p, 10.0) + 0.1 * noise(p, 50.0))[:, None]
    return albedo * (0.85 + 0.2 * noise(p, 15.0))[:, None]  # PLAIN


class Renderer:
    """Renders a `Scene` through a pinhole camera; build once, call `render` per pose."""

    def __init__(self, scene: Scene, intrinsics: Intrinsics, supersampling: int = 1) -> None:
        import open3d as o3d

        self.scene, self.intrinsics = scene, intrinsics
        self._raycaster = o3d.t.geometry.RaycastingScene()
        self._o3d = o3d
        n_geometries = 0
        offsets, colours, materials, classes, instances = [], [], [], [], []
        total = 0
        for obj in scene.objects:
            gid = self._raycaster.add_triangles(
                o3d.core.Tensor(obj.vertices.astype(np.float32)), o3d.core.Tensor(obj.triangles.astype(np.uint32))
            )
            if gid != n_geometries:
                raise RuntimeError(f"RaycastingScene gave geometry id {gid}, expected {n_geometries}")
            n_geometries += 1
            offsets.append(total)
            total += len(obj.triangles)
            colours.append(obj.triangle_colours)
            materials.append(obj.triangle_materials)
            classes.append(obj.class_id)
            instances.append(obj.instance_id)
        self._tri_offset = np.array(offsets, dtype=np.int64)
        self._tri_colour = np.concatenate(colours).astype(np.float32)
        self._tri_material = np.concatenate(materials)
        self._class_of = np.array(classes, dtype=np.uint16)
        self._instance_of = np.array(instances, dtype=np.uint16)
        self._rays_cam = pixel_rays(intrinsics).reshape(-1, 3).astype(np.float32)  # (H*W, 3)
        offsets = (np.arange(supersampling) + 0.5) / supersampling - 0.5 if supersampling > 1 else []
        self._subpixel_rays = [pixel_rays(intrinsics, (du, dv)).reshape(-1, 3).astype(np.float32)
                               for dv in offsets for du in offsets]
        self._noise = _Noise(scene.texture_seed)

    def _cast(self, rays_cam: np.ndarray, R: np.ndarray, origin: np.ndarray) -> dict:
        """Cast camera-frame unit rays (N, 3) from `origin`: hit mask, distance, world direction,
        camera-facing world normal, and triangle index per ray."""
        o3d = self._o3d
        rays = np.empty((len(rays_cam), 6), dtype=np.float32)
        rays[:, :3] = origin
        np.matmul(rays_cam, R.T.astype(np.float32), out=rays[:, 3:])  # unit, world frame
        hits = self._raycaster.cast_rays(o3d.core.Tensor(rays))
        gid = hits["geometry_ids"].numpy()
        hit = gid != o3d.t.geometry.RaycastingScene.INVALID_ID
        t_hit = hits["t_hit"].numpy()
        t_hit[~hit] = 0.0
        gid = np.where(hit, gid, 0).astype(np.int64)
        tri = self._tri_offset[gid] + hits["primitive_ids"].numpy().astype(np.int64) * hit
        dirs = rays[:, 3:]
        n_world = hits["primitive_normals"].numpy()
        facing = np.einsum("ij,ij->i", n_world, dirs)
        n_world *= np.where(facing > 0, -1.0, 1.0).astype(np.float32)[:, None]  # towards the camera
        return {"hit": hit, "t_hit": t_hit, "gid": gid, "tri": tri, "dirs": dirs, "n_world": n_world,
                "facing": facing}

    def _colour(self, cast: dict, origin: np.ndarray) -> np.ndarray:
        """Shaded colour (N, 3) in [0, 1] of the rays' hit points (0 where nothing was hit)."""
        points = origin.astype(np.float32) + cast["dirs"] * cast["t_hit"][:, None]
        albedo = self._tri_colour[cast["tri"]]
        material = self._tri_material[cast["tri"]]
        texture = np.empty_like(albedo)
        order = np.argsort(material, kind="stable")
        bounds = np.searchsorted(material[order], np.arange(len(Material) + 1))
        for m in range(len(Material)):
            idx = order[bounds[m] : bounds[m + 1]]
            if len(idx):
                texture[idx] = _texture(m, points[idx], albedo[idx], self._noise)
        to_light = self.scene.light_position.astype(np.float32) - points
        dist = np.sqrt(np.einsum("ij,ij->i", to_light, to_light))
        lambert = np.maximum(np.einsum("ij,ij->i", cast["n_world"], to_light) / np.maximum(dist, 1e-6), 0.0)
        shade = _AMBIENT + _DIFFUSE * lambert / (1.0 + (dist * np.float32(1 / _LIGHT_FALLOFF)) ** 2)
        rgb = np.clip(texture * shade[:, None], 0.0, 1.0)
        rgb[~cast["hit"]] = 0
        return rgb

    def render(self, T_world_cam: np.ndarray) -> RenderedView:
        """Render the view of camera-to-world pose `T_world_cam` (4x4, metres).

        Depth, normals, labels and instances are sampled at the pixel centres; colour is the mean
        over `supersampling`^2 sub-pixel rays, as a camera pixel integrates the light over its
        area — without it sharp texture edges alias and bias photometric alignment."""
        h, w = self.intrinsics.height, self.intrinsics.width
        T = np.asarray(T_world_cam, dtype=np.float64)
        R, origin = T[:3, :3], T[:3, 3]
        centre = self._cast(self._rays_cam, R, origin)
        miss = ~centre["hit"]
        depth = centre["t_hit"] * self._rays_cam[:, 2]
        labels = self._class_of[centre["gid"]]
        instances = self._instance_of[centre["gid"]]
        view_cos = np.abs(centre["facing"])
        normals_cam = centre["n_world"] @ R.astype(np.float32)
        if self._subpixel_rays:
            rgb = np.mean([self._colour(self._cast(rays, R, origin), origin) for rays in self._subpixel_rays], axis=0)
        else:
            rgb = self._colour(centre, origin)

        for array in (depth, labels, instances, view_cos, normals_cam):
            array[miss] = 0
        return RenderedView(
            depth.reshape(h, w).astype(np.float32, copy=False),
            rgb.reshape(h, w, 3).astype(np.float32, copy=False),
            normals_cam.reshape(h, w, 3),
            labels.reshape(h, w),
            instances.reshape(h, w),
            view_cos.reshape(h, w),
        )
