"""Plain numpy references of the surfel map's kernels (ElasticFusion), written for clarity, not
speed: loops over surfels and pixels, float64 maths. Tests compare the core against them on small
inputs.

Surfels are dicts of arrays as ``SurfelMap.surfels()`` returns them; ``p`` is a MapConfig;
``K`` is (fx, fy, cx, cy); poses are 4x4 T_world_cam.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import MapConfig

EMPTY = -1


def _cam(T_world_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation of T_cam_world."""
    R = np.asarray(T_world_cam, dtype=np.float64)[:3, :3]
    t = np.asarray(T_world_cam, dtype=np.float64)[:3, 3]
    return R.T, -R.T @ t


def measurement_radius(z: float, normal_z: float, K, max_factor: float) -> float:
    fx, fy = K[0], K[1]
    radius = math.sqrt(2.0) * z / (0.5 * (fx + fy))
    slanted = radius / abs(normal_z) if normal_z != 0 else math.inf
    return min(slanted, max_factor * radius)


def measurement_confidence(x: int, y: int, K, width: int, height: int, sigma: float) -> float:
    half_diagonal2 = 0.25 * width * width + 0.25 * height * height
    r2 = ((x - K[2]) ** 2 + (y - K[3]) ** 2) / half_diagonal2
    return math.exp(-r2 / (2.0 * sigma * sigma))


def predict(s: dict, T_world_cam, K, width: int, height: int, time: int, p: MapConfig) -> dict:
    """Disk splatting of the active stable surfels; nearest hit wins, ties to the smaller index."""
    R, t = _cam(T_world_cam)
    fx, fy, cx, cy = K
    best = np.full((height, width), np.inf)
    best_index = np.full((height, width), EMPTY, dtype=np.int64)
    us, vs = np.meshgrid(np.arange(width), np.arange(height))
    rays = np.stack([(us - cx) / fx, (vs - cy) / fy, np.ones_like(us, dtype=np.float64)], axis=-1)
    for i in range(len(s["radii"])):
        last = int(s["last_update_times"][i])
        if s["confidences"][i] < p.confidence_threshold or time - last > p.time_window or last > time:
            continue
        pc = R @ s["positions"][i].astype(np.float64) + t
        r = float(s["radii"][i])
        if not (pc[2] > 0) or pc[2] > p.render_depth_max or not (pc[2] - r > 0):
            continue
        n = R @ s["normals"][i].astype(np.float64)
        xz, yz = pc[0] / pc[2], pc[1] / pc[2]
        uc, vc = fx * xz + cx, fy * yz + cy
        hu = min(fx * r * math.sqrt(1 + xz * xz) / (pc[2] - r), 64.0)
        hv = min(fy * r * math.sqrt(1 + yz * yz) / (pc[2] - r), 64.0)
        u0, u1 = max(math.ceil(uc - hu), 0), min(math.floor(uc + hu), width - 1)
        v0, v1 = max(math.ceil(vc - hv), 0), min(math.floor(vc + hv), height - 1)
        if u0 > u1 or v0 > v1:
            continue
        ray = rays[v0 : v1 + 1, u0 : u1 + 1]
        denom = ray @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = (pc @ n) / denom
        hit = depth[..., None] * ray - pc
        inside = (np.abs(denom) >= 1e-6) & (depth > 0) & ((hit**2).sum(-1) <= r * r)
        window = best[v0 : v1 + 1, u0 : u1 + 1]
        window_index = best_index[v0 : v1 + 1, u0 : u1 + 1]
        wins = inside & ((depth < window) | ((depth == window) & (i < window_index)))
        window[wins] = depth[wins]
        window_index[wins] = i
    out = {
        "vertices": np.full((height, width, 3), np.nan),
        "normals": np.full((height, width, 3), np.nan),
        "colours": np.full((height, width, 3), np.nan),
        "intensity": np.full((height, width), np.nan),
        "index_map": best_index.astype(np.int32),
    }
    hit = best_index >= 0
    z = best[hit]
    out["vertices"][hit] = np.stack([(us[hit] - cx) * z / fx, (vs[hit] - cy) * z / fy, z], -1)
    normals = s["normals"][best_index[hit]].astype(np.float64) @ R.T
    out["normals"][hit] = normals / np.linalg.norm(normals, axis=-1, keepdims=True)
    colours = s["colours"][best_index[hit]].astype(np.float64)
    out["colours"][hit] = colours
    out["intensity"][hit] = colours @ np.array([0.299, 0.587, 0.114])
    return out


def index_map(s: dict, T_world_cam, K, width: int, height: int, time: int, p: MapConfig, count: int | None = None):
    """Fine index map: each active surfel in range at the sub-pixel of its centre, nearest first."""
    R, t = _cam(T_world_cam)
    scale = p.index_scale
    fx, fy = K[0] * scale, K[1] * scale
    cx, cy = (K[2] + 0.5) * scale - 0.5, (K[3] + 0.5) * scale - 0.5
    fw, fh = width * scale, height * scale
    best = np.full((fh, fw), np.inf)
    best_index = np.full((fh, fw), EMPTY, dtype=np.int32)
    n = len(s["radii"]) if count is None else count
    for i in range(n):
        if time - int(s["last_update_times"][i]) > p.time_window:
            continue
        pc = R @ s["positions"][i].astype(np.float64) + t
        if not (pc[2] > 0) or pc[2] > p.render_depth_max:
            continue
        fu = math.floor(fx * pc[0] / pc[2] + cx + 0.5)
        fv = math.floor(fy * pc[1] / pc[2] + cy + 0.5)
        if 0 <= fu < fw and 0 <= fv < fh and pc[2] < best[fv, fu]:  # ties keep the smaller index
            best[fv, fu] = pc[2]
            best_index[fv, fu] = i
    return best_index


def _fusable(vertices, normals, x, y, width, height, time, p) -> bool:
    if p.checkerboard and (x % 2 != time % 2 or y % 2 != time % 2):
        return False
    if x < 1 or y < 1 or x >= width - 1 or y >= height - 1:
        return False
    v = vertices[y, x]
    if not np.isfinite(v).all() or not (v[2] > 0) or v[2] > p.fuse_depth_max:
        return False
    if not np.isfinite(normals[y, x]).all():
        return False
    return all(np.isfinite(vertices[yy, xx, 2]) for xx, yy in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)))


def associate(s: dict, fine_index, vertices, normals, T_world_cam, K, time: int, p: MapConfig) -> np.ndarray:
    """Per pixel: the surfel it fuses into (>= 0), -1 new, -2 not fused."""
    R, t = _cam(T_world_cam)
    fx, fy, cx, cy = K
    height, width = vertices.shape[:2]
    scale = p.index_scale
    fh, fw = fine_index.shape
    half = 0.5 * scale * p.window_multiplier
    cos_gate = math.cos(p.fuse_normal_angle)
    match = np.full((height, width), -2, dtype=np.int64)
    for y in range(height):
        for x in range(width):
            if not _fusable(vertices, normals, x, y, width, height, time, p):
                continue
            v = vertices[y, x].astype(np.float64)
            nv = normals[y, x].astype(np.float64)
            ray = np.array([(x - cx) / fx, (y - cy) / fy, 1.0])
            ray_length = np.linalg.norm(ray)
            gx, gy = scale * (x + 0.5), scale * (y + 0.5)
            x0, x1 = max(math.floor(gx - half), 0), min(math.floor(gx + half - 0.5), fw - 1)
            y0, y1 = max(math.floor(gy - half), 0), min(math.floor(gy + half - 0.5), fh - 1)
            best_distance, best = 1000.0, -1
            for fxx in range(x0, x1 + 1):
                for fyy in range(y0, y1 + 1):
                    j = int(fine_index[fyy, fxx])
                    if j < 0:
                        continue
                    pc = R @ s["positions"][j].astype(np.float64) + t
                    if not (abs(pc[2] - v[2]) * ray_length < p.fuse_depth_gate):
                        continue
                    distance = np.linalg.norm(np.cross(ray, pc)) / ray_length
                    if not distance < best_distance:
                        continue
                    n = R @ s["normals"][j].astype(np.float64)
                    cos_angle = n @ nv / (np.linalg.norm(n) * np.linalg.norm(nv))
                    if abs(n[2]) < p.fuse_grazing_normal_z or cos_angle > cos_gate:
                        best_distance, best = distance, j
            match[y, x] = best
    return match


def fuse(s: dict, vertices, normals, rgb, T_world_cam, K, time: int, p: MapConfig, weight: float = 1.0):
    """One fusion step on a copy of `s`: returns (surfels, stats, match)."""
    height, width = vertices.shape[:2]
    fine = index_map(s, T_world_cam, K, width, height, time, p)
    match = associate(s, fine, vertices, normals, T_world_cam, K, time, p)
    out = {k: np.array(v, dtype=np.float64 if v.dtype.kind == "f" else v.dtype) for k, v in s.items()}
    Rw = np.asarray(T_world_cam, dtype=np.float64)[:3, :3]
    tw = np.asarray(T_world_cam, dtype=np.float64)[:3, 3]
    owner: dict[int, int] = {}
    for pixel, b in enumerate(match.ravel()):
        if b >= 0 and b not in owner:
            owner[int(b)] = pixel  # pixels in increasing order: the smallest index wins
    stats = {"pixels_fused": int((match != -2).sum()), "matched": int((match >= 0).sum()), "updated": len(owner),
             "averaged": 0}
    new_pixels = [pixel for pixel, b in enumerate(match.ravel()) if b == -1]
    for b, pixel in owner.items():
        y, x = divmod(pixel, width)
        v_cam = vertices[y, x].astype(np.float64)
        n_cam = normals[y, x].astype(np.float64)
        a = weight * measurement_confidence(x, y, K, width, height, p.confidence_sigma)
        r_new = measurement_radius(v_cam[2], n_cam[2], K, p.radius_max_factor)
        c = out["confidences"][b]
        if r_new < p.fuse_radius_ratio * out["radii"][b]:
            out["positions"][b] = (c * out["positions"][b] + a * (Rw @ v_cam + tw)) / (c + a)
            out["colours"][b] = (c * out["colours"][b] + a * rgb[y, x].astype(np.float64)) / (c + a)
            n = (c * out["normals"][b] + a * (Rw @ n_cam)) / (c + a)
            out["normals"][b] = n / np.linalg.norm(n)
            out["radii"][b] = (c * out["radii"][b] + a * r_new) / (c + a)
            stats["averaged"] += 1
        out["confidences"][b] = c + a
        out["last_update_times"][b] = time
    new = {k: [] for k in out}
    num_classes = out["class_probs"].shape[1]
    for pixel in new_pixels:
        y, x = divmod(pixel, width)
        v_cam = vertices[y, x].astype(np.float64)
        n_cam = normals[y, x].astype(np.float64)
        new["positions"].append(Rw @ v_cam + tw)
        new["normals"].append(Rw @ n_cam)
        new["colours"].append(rgb[y, x].astype(np.float64))
        new["radii"].append(measurement_radius(v_cam[2], n_cam[2], K, p.radius_max_factor))
        new["confidences"].append(weight * measurement_confidence(x, y, K, width, height, p.confidence_sigma))
        new["init_times"].append(time)
        new["last_update_times"].append(time)
        new["instance_ids"].append(-1)
        new["class_probs"].append(np.full(num_classes, 1.0 / num_classes if num_classes else 0.0))
    for k in out:
        if new[k]:
            out[k] = np.concatenate([out[k], np.asarray(new[k], dtype=out[k].dtype).reshape((-1,) + out[k].shape[1:])])
    stats["added"] = len(new_pixels)
    stats["size"] = len(out["radii"])
    return out, stats, match


def clean_flags(s: dict, time: int, p: MapConfig, pose=None, K=None, width=0, height=0, count_indexed=None):
    """Per surfel: 1 keep, 2 unstable and stale, 3 duplicate of older stable surfels, 4 free space.
    `pose` (T_world_cam of the last fusion) enables the window tests; the fine index map is
    rendered there from the first `count_indexed` surfels."""
    n = len(s["radii"])
    flags = np.ones(n, dtype=np.int64)
    fine = None
    if pose is not None:
        fine = index_map(s, pose, K, width, height, time, p, count=count_indexed)
        R, t = _cam(pose)
        fx, fy, cx, cy = K
        scale = p.index_scale
        fh, fw = fine.shape
        half = 0.5 * scale * p.window_multiplier
        samples = 2 * scale * p.window_multiplier
    for i in range(n):
        last = int(s["last_update_times"][i])
        flag = 1
        if fine is not None and time - last < p.time_window:
            pc = R @ s["positions"][i].astype(np.float64) + t
            if pc[2] > 0:
                u, v = fx * pc[0] / pc[2] + cx, fy * pc[1] / pc[2] + cy
                if -0.5 < u < width - 0.5 and -0.5 < v < height - 0.5:
                    n_c = R @ s["normals"][i].astype(np.float64)
                    n_c /= np.linalg.norm(n_c)
                    facing = abs(n_c[2]) > p.free_space_normal_z
                    gx, gy = scale * (u + 0.5) - half, scale * (v + 0.5) - half
                    xs = [math.floor(gx + 0.5 * k) for k in range(samples)]
                    ys = [math.floor(gy + 0.5 * k) for k in range(samples)]
                    count = z_count = 0
                    for fyy in ys:
                        for fxx in xs:
                            if not (0 <= fxx < fw and 0 <= fyy < fh):
                                continue
                            j = int(fine[fyy, fxx])
                            if j < 0 or not s["confidences"][j] > p.confidence_threshold:
                                continue
                            q = R @ s["positions"][j].astype(np.float64) + t
                            if not q[2] > pc[2]:
                                continue
                            behind = q[2] - pc[2]
                            if (s["init_times"][j] < s["init_times"][i] and behind < p.merge_depth
                                    and math.hypot(q[0] - pc[0], q[1] - pc[1]) < s["radii"][i] * p.merge_radius_factor):
                                count += 1
                            if facing and s["last_update_times"][j] == time and behind > p.free_space_depth:
                                z_count += 1
                    if count > p.merge_count:
                        flag = 3
                    elif z_count > p.free_space_count:
                        flag = 4
        unstable_time = p.unstable_time_object if s["instance_ids"][i] >= 0 else p.unstable_time
        if time - last > unstable_time and s["confidences"][i] < p.confidence_threshold:
            flag = 2
        if time - last > p.time_window:
            flag = 1
        flags[i] = flag
    return flags


def compact(s: dict, keep: np.ndarray) -> dict:
    """Survivors in their original order, every field alike."""
    return {k: v[keep] for k, v in s.items()}
