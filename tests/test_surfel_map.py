"""The surfel map (ElasticFusion): every kernel against its numpy reference on every device on small
synthetic inputs (fine index map, disk splatting, association + update + new surfels, clean-up
and compaction), then a map built from a real TUM sequence with ground-truth poses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from devices import DEVICES

from semslam.config import MapConfig
from semslam.datasets.frame import Intrinsics
from semslam.mapping import SurfelMap, normal_map, preprocess_depth, vertex_map
from semslam.mapping import reference_map as ref

W, H = 48, 36
SMALL = Intrinsics(40.0, 41.0, 23.3, 17.6, W, H)
K = (SMALL.fx, SMALL.fy, SMALL.cx, SMALL.cy)
FIELDS = ("positions", "normals", "colours", "radii", "confidences", "init_times", "last_update_times",
          "instance_ids", "class_probs")


def pose(tx=0.0, ty=0.0, tz=0.0, yaw=0.0) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    T[:3, 3] = [tx, ty, tz]
    return T


def scene(T_world_cam: np.ndarray, seed: int = 0):
    """A slanted wall with a box in front of it, seen from T_world_cam: vertices, normals, rgb."""
    Tcw = np.linalg.inv(T_world_cam)
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    rays_cam = np.stack([(u - SMALL.cx) / SMALL.fx, (v - SMALL.cy) / SMALL.fy, np.ones((H, W))], -1)
    rays = rays_cam @ T_world_cam[:3, :3].T
    origin = T_world_cam[:3, 3]

    def plane_hit(n, d):  # points x with n.x = d
        t = (d - n @ origin) / (rays @ n)
        return np.where(t > 0, t, np.inf)

    t_wall = plane_hit(np.array([0.15, 0.1, 1.0]), 1.6)
    t_box = plane_hit(np.array([0.0, 0.0, 1.0]), 1.1)
    pts_box = origin + t_box[..., None] * rays
    in_box = (np.abs(pts_box[..., 0] - 0.05) < 0.2) & (np.abs(pts_box[..., 1] + 0.02) < 0.15)
    t_hit = np.where(in_box & (t_box < t_wall), t_box, t_wall)
    depth = (t_hit[..., None] * rays_cam)[..., 2]  # camera z of the hit (rays_cam has z = 1)
    depth = depth.astype(np.float32)
    depth[0:3, 40:46] = 0.0  # a hole
    vertices = vertex_map(depth, SMALL)
    normals = normal_map(vertices)
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    return vertices, normals, rgb


def assert_surfels_close(got: dict, expected: dict, atol=2e-5):
    assert len(got["radii"]) == len(expected["radii"])
    for k in FIELDS:
        np.testing.assert_allclose(np.asarray(got[k], dtype=np.float64), np.asarray(expected[k], dtype=np.float64),
                                   rtol=1e-5, atol=atol * (255 if k == "colours" else 1), err_msg=k)


# --- fine index map and prediction ---------------------------------------------------------------


def random_surfels(n: int | None, seed: int, confidence=20.0, time=0, num_classes=0) -> dict:
    """Surfels on the scene's wall and box seen from the identity pose, with jitter (n=None: one
    per valid pixel)."""
    rng = np.random.default_rng(seed)
    vertices, normals, rgb = scene(pose(), seed)
    ok = np.isfinite(vertices).all(-1) & np.isfinite(normals).all(-1)
    ys, xs = np.nonzero(ok)
    n = len(xs) if n is None else n
    pick = rng.choice(len(xs), size=n, replace=False)
    ys, xs = ys[pick], xs[pick]
    z = vertices[ys, xs, 2]
    return {
        "positions": (vertices[ys, xs] + rng.normal(0, 0.002, (n, 3))).astype(np.float32),
        "normals": normals[ys, xs].astype(np.float32),
        "colours": rgb[ys, xs].astype(np.float32),
        "radii": (np.sqrt(2) * z / 40.0 * rng.uniform(1.0, 2.0, n)).astype(np.float32),
        "confidences": np.full(n, confidence, np.float32),
        "init_times": np.full(n, time, np.int32),
        "last_update_times": np.full(n, time, np.int32),
        "instance_ids": np.arange(n, dtype=np.int32),
        "class_probs": rng.uniform(size=(n, num_classes)).astype(np.float32),
    }


@pytest.mark.parametrize("device", DEVICES)
def test_fine_index_map_matches_reference(device):
    cfg = MapConfig()
    s = random_surfels(600, seed=1)
    s["last_update_times"][:50] = -300  # outside the time window: not indexed
    m = SurfelMap(cfg, device)
    m.set_surfels(s)
    T = pose(0.02, -0.01, 0.0, 0.03)
    fine = m.render_index_map(T, SMALL, time=0)
    expected = ref.index_map(m.surfels(), T, K, W, H, 0, cfg)
    assert fine.shape == (H * cfg.index_scale, W * cfg.index_scale) and fine.dtype == np.int32
    assert (fine == expected).mean() > 0.9995
    assert (fine >= 0).sum() > 400 and not np.isin(np.arange(50), fine).any()


@pytest.mark.parametrize("device", DEVICES)
def test_prediction_matches_reference(device):
    cfg = MapConfig()
    s = random_surfels(900, seed=2)
    s["confidences"][::7] = 5.0  # unstable: not predicted
    m = SurfelMap(cfg, device)
    m.set_surfels(s)
    T = pose(0.01, 0.0, -0.05, -0.02)
    got = m.predict(T, SMALL, time=3)
    expected = ref.predict(m.surfels(), T, K, W, H, 3, cfg)
    same = got.index_map == expected["index_map"]
    assert same.mean() > 0.995  # a disk's rim pixel may flip between float32 and float64
    hit = same & (got.index_map >= 0)
    assert hit.sum() > 0.6 * W * H  # disks cover the view without holes where surfels are dense
    for k in ("vertices", "normals", "colours"):
        np.testing.assert_allclose(getattr(got, k)[hit], expected[k][hit], rtol=1e-5, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(got.intensity[hit], expected["intensity"][hit], rtol=1e-5, atol=1e-3)
    assert np.isnan(got.vertices[got.index_map < 0]).all() and np.isnan(got.intensity[got.index_map < 0]).all()
    assert not np.isin(np.arange(0, 900, 7), got.index_map).any()


# --- fusion -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("checkerboard", [True, False])
def test_fuse_matches_reference(device, checkerboard):
    cfg = MapConfig(checkerboard=checkerboard)
    m = SurfelMap(cfg, device, num_classes=3)
    empty = m.surfels()
    # frame 0 into the empty map: every fusable pixel becomes a surfel, in pixel order
    T0 = pose()
    v0, n0, c0 = scene(T0, seed=3)
    stats = m.fuse(v0, n0, c0, T0, SMALL, time=0)
    expected, expected_stats, _ = ref.fuse(empty, v0, n0, c0, T0, K, 0, cfg)
    assert stats == expected_stats and stats["added"] > 150
    assert_surfels_close(m.surfels(), expected)
    np.testing.assert_allclose(m.surfels()["class_probs"], 1.0 / 3)
    # frame 1 from a moved camera: association, one update per surfel, averaging, new surfels
    before = m.surfels()
    T1 = pose(0.1, 0.03, 0.01, 0.08)
    v1, n1, c1 = scene(T1, seed=4)
    stats = m.fuse(v1, n1, c1, T1, SMALL, time=1, weight=0.7)
    expected, expected_stats, match = ref.fuse(before, v1, n1, c1, T1, K, 1, cfg, weight=0.7)
    assert stats == expected_stats
    assert stats["updated"] > 50 and stats["averaged"] > 0 and stats["added"] > 0
    if not checkerboard:
        assert stats["matched"] > stats["updated"]  # several pixels chose one surfel: one applied
    assert_surfels_close(m.surfels(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_fuse_rejects_bad_input(device):
    m = SurfelMap(MapConfig(), device)
    v, n, c = scene(pose())
    with pytest.raises(ValueError, match="uint8"):
        m.fuse(v, n, c.astype(np.float32), pose(), SMALL, 0)
    with pytest.raises(ValueError, match="normals"):
        m.fuse(v, n[:-1], c, pose(), SMALL, 0)
    with pytest.raises(ValueError, match="time"):
        m.fuse(v, n, c, pose(), SMALL, -1)
    with pytest.raises(ValueError, match="4x4"):
        m.fuse(v, n, c, np.eye(3), SMALL, 0)


# --- clean-up ---------------------------------------------------------------------------------


def clean_scene(num_classes: int = 2) -> tuple[dict, int]:
    """Older stable surfels on the wall (the first n), plus surfels the clean step must remove or keep."""
    base = random_surfels(None, seed=5, confidence=30.0, time=0, num_classes=num_classes)
    base["init_times"][:] = 2
    base["last_update_times"][:] = 40  # seen this frame (time 40)
    n = len(base["radii"])
    rng = np.random.default_rng(6)
    extra = {k: v[:120].copy() for k, v in base.items()}
    towards = -extra["positions"] / np.linalg.norm(extra["positions"], axis=1, keepdims=True)
    # 0-39: newer duplicates 4 mm in front of the stable surface
    extra["positions"][:40] += 0.004 * towards[:40]
    extra["init_times"][:40] = 30
    extra["confidences"][:40] = 3.0
    # 40-79: 8 cm in front of surface seen this frame, facing the camera: free-space violations
    extra["positions"][40:80] += 0.08 * towards[40:80]
    extra["normals"][40:80] = [0.0, 0.0, -1.0]
    extra["init_times"][40:80] = 35
    extra["confidences"][40:80] = 12.0
    # 80-99: unstable and not updated for 25 frames: removed; 100-119: same but only 10 frames: kept
    extra["positions"][80:120] += 0.3 * towards[80:120]
    extra["init_times"][80:120] = 10
    extra["last_update_times"][80:100] = 15
    extra["last_update_times"][100:120] = 30
    extra["confidences"][80:120] = 2.0
    out = {k: np.concatenate([base[k], extra[k]]) for k in base}
    out["instance_ids"] = np.arange(n + 120, dtype=np.int32) + 1000
    out["class_probs"] = rng.uniform(size=(n + 120, num_classes)).astype(np.float32)
    # an inactive unstable surfel (not updated for more than the time window) is kept
    out["last_update_times"][n + 99] = -300
    return out, n


# clean_scene's instance ids mark each surfel's identity (to follow it through the compaction), not
# objects: its unstable surfels get the window of surfels without an object
IDENTITY_IDS = MapConfig(unstable_time_object=MapConfig().unstable_time)


@pytest.mark.parametrize("device", DEVICES)
def test_clean_matches_reference_and_keeps_fields_aligned(device):
    cfg = IDENTITY_IDS
    s, n = clean_scene()
    m = SurfelMap(cfg, device, num_classes=2)
    m.set_surfels(s)
    T = pose()
    nan = np.full((H, W, 3), np.nan, np.float32)
    assert m.fuse(nan, nan, np.zeros((H, W, 3), np.uint8), T, SMALL, time=40)["size"] == len(s["radii"])
    stored = m.surfels()
    stats = m.clean(40)
    flags = ref.clean_flags(stored, 40, cfg, pose=T, K=K, width=W, height=H, count_indexed=len(s["radii"]))
    assert stats["removed_unstable"] == (flags == 2).sum() == 19  # 80-98 (99 is inactive)
    assert stats["removed_merged"] == (flags == 3).sum() >= 5
    assert stats["removed_free_space"] == (flags == 4).sum() >= 20
    assert (flags[n + 40:n + 80] == 4).sum() >= 20 and (np.nonzero(flags == 3)[0] < n + 40).all()
    assert (flags[n + 100:] != 2).all() and (flags[:n] != 3).all() and (flags[:n] != 2).all()
    after = m.surfels()
    assert stats["size"] == len(after["radii"]) == (flags == 1).sum()
    # survivors in their original order, every field moved together (the instance id says from where)
    keep = flags == 1
    assert np.array_equal(after["instance_ids"], s["instance_ids"][keep])
    origin = after["instance_ids"] - 1000
    for k in FIELDS:
        np.testing.assert_array_equal(after[k], stored[k][origin], err_msg=k)


@pytest.mark.parametrize("device", DEVICES)
def test_clean_without_fuse_removes_only_stale_unstable(device):
    cfg = IDENTITY_IDS
    s, _ = clean_scene()
    m = SurfelMap(cfg, device, num_classes=2)
    m.set_surfels(s)
    stats = m.clean(40)
    assert stats["removed_unstable"] == 19 and stats["removed_merged"] == stats["removed_free_space"] == 0


@pytest.mark.parametrize("device", DEVICES)
def test_unstable_object_surfels_have_their_own_window(device):
    # 80-98: unstable, not updated for 25 frames; half of them belong to no object
    cfg = MapConfig(unstable_time_object=30)
    s, n = clean_scene()
    s["instance_ids"][n + 80:n + 90] = -1
    m = SurfelMap(cfg, device, num_classes=2)
    m.set_surfels(s)
    stored = m.surfels()
    stats = m.clean(40)
    flags = ref.clean_flags(stored, 40, cfg)
    assert stats["removed_unstable"] == (flags == 2).sum() == 10
    assert (flags[n + 80:n + 90] == 2).all() and (flags[n + 90:n + 99] == 1).all()
    after = m.surfels()
    assert np.array_equal(after["instance_ids"], s["instance_ids"][flags == 1])


# --- a real sequence with ground-truth poses ---------------------------------------------------


@pytest.fixture(scope="module")
def teddy(shared_data: Path):
    import semslam.datasets as datasets

    folder = shared_data / "tum" / "rgbd_dataset_freiburg3_teddy_first200"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    frames = list(datasets.open(folder, start=5, limit=20))
    out = []
    for f in frames:  # as ElasticFusion: positions from the raw depth, normals from the filtered one
        _, _, normals = preprocess_depth(f.depth, f.intrinsics)
        out.append((f, vertex_map(f.depth, f.intrinsics), normals))
    return out


def build(frames, device="cpu", config=None):
    m = SurfelMap(config or MapConfig(), device)
    history = []
    for t, (f, vertices, normals) in enumerate(frames):
        prediction = m.predict(f.T_world_cam, f.intrinsics, t)
        fuse = m.fuse(vertices, normals, f.rgb, f.T_world_cam, f.intrinsics, t)
        clean = m.clean(t)
        history.append((prediction, fuse, clean))
    return m, history


@pytest.mark.parametrize("device", DEVICES)
def test_tum_map_predicts_measured_depth(device, teddy):
    m, history = build(teddy, device)
    sizes = [h[1]["size"] for h in history]
    first = history[0][1]["added"]
    # the view overlaps: later frames add a small fraction of the first frame's surfels
    assert all(h[1]["added"] < 0.15 * first for h in history[1:])
    assert sizes[-1] < 3.5 * first
    # prediction at frame k's pose agrees with frame k's depth where both exist
    for k in range(12, len(teddy)):
        f = teddy[k][0]
        predicted = history[k][0].depth
        both = (predicted > 0) & (f.depth > 0)
        assert both.sum() > 20000
        assert np.median(np.abs(predicted - f.depth)[both]) < 0.01
    s = m.surfels()
    stable = s["confidences"] >= MapConfig().confidence_threshold
    assert stable.sum() > 10000
    assert len(m.surfels(stable_only=True)["radii"]) == stable.sum()
    # unstable surfels not updated for more than 20 frames go; stable ones stay
    stats = m.clean(len(teddy) + 25)
    after = m.surfels()
    assert stats["removed_unstable"] == (~stable).sum() > 0
    assert (after["confidences"] >= MapConfig().confidence_threshold).all() and len(after["radii"]) == stable.sum()


def test_tum_same_frame_repeatedly_raises_confidence_not_size(teddy):
    f, vertices, normals = teddy[0]
    m = SurfelMap(MapConfig(), "cpu")
    sizes, confidences = [], []
    for t in range(6):
        sizes.append(m.fuse(vertices, normals, f.rgb, f.T_world_cam, f.intrinsics, t)["size"])
        m.clean(t)
        confidences.append(m.surfels()["confidences"].mean())
    # the checkerboard fuses (even, even) pixels at even times, (odd, odd) at odd times: the second
    # frame may add a second lattice; after that, re-observing adds (almost) nothing
    assert sizes[-1] < 1.05 * sizes[1]
    assert sizes[1] < 2.1 * sizes[0]
    assert all(b > a for a, b in zip(confidences[1:], confidences[2:]))


def test_tum_map_is_deterministic(teddy):
    a, _ = build(teddy[:8])
    b, _ = build(teddy[:8])
    sa, sb = a.surfels(), b.surfels()
    for k in FIELDS:
        assert np.array_equal(sa[k], sb[k]), k
    pa = a.predict(teddy[7][0].T_world_cam, teddy[7][0].intrinsics, 7)
    pb = b.predict(teddy[7][0].T_world_cam, teddy[7][0].intrinsics, 7)
    assert np.array_equal(pa.index_map, pb.index_map)


def test_bytes_per_surfel_and_growth():
    m = SurfelMap(MapConfig(initial_capacity=0), "cpu", num_classes=13)
    assert m.bytes_per_surfel == 64 + 4 * 13  # 56 + label (int32) and its confidence (float32)
    s = random_surfels(800, seed=9, num_classes=13)
    big = {k: np.concatenate([v] * 3) for k, v in s.items()}  # 2400 surfels: past the first 1024
    m.set_surfels(big)
    got = m.surfels()
    for k in FIELDS:
        np.testing.assert_array_equal(got[k], big[k], err_msg=k)



@pytest.mark.parametrize("device", [d for d in DEVICES if "cuda" in str(d.values[0])])
def test_out_of_device_memory_is_a_clear_error_and_keeps_the_map(device):
    """A map that cannot grow on the GPU raises OutOfMemoryError (a MemoryError) naming the device
    and the sizes; the surfels it held stay as they were."""
    from semslam.errors import OutOfMemoryError

    with pytest.raises(OutOfMemoryError, match=f"out of memory on {device} growing the surfel map"):
        SurfelMap(MapConfig(initial_capacity=2_000_000_000), device)
    m = SurfelMap(MapConfig(initial_capacity=0), device, num_classes=13)
    s = random_surfels(500, seed=3, num_classes=13)
    m.set_surfels(s)
    with pytest.raises(MemoryError, match="the map so far \\(500 surfels\\) is intact"):
        m.reserve(2_000_000_000)
    got = m.surfels()
    for k in FIELDS:
        np.testing.assert_array_equal(got[k], s[k], err_msg=k)
    m.reserve(100_000)  # room that fits is taken
    assert m.capacity >= 100_000 and m.size == 500
