"""Objects in the product: `semslam run --instances oracle` on a short synthetic room writes
objects.json, the instance property of map.ply and the objects in map.npz; `semslam eval` scores
them against the scene's things; `semslam render` draws them; a bad --instances spec is a clear
error. Also the core's narrow instance-id calls the object map uses each frame."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from semslam.config import Config
from semslam.io.map_state import load_map_state
from semslam.io.ply import read_ply
from semslam.mapping.surfel_map import SurfelMap
from semslam.objects.object_map import estimate_up, oriented_box

FRAMES = 60
# a tour at 15 frames/s and 0.3 m/s: 1.2 m round the ring in 60 frames (2 cm and at most 3.3 deg per frame)
TOUR = dict(frames=FRAMES, trajectory="tour", fps=15.0, speed=0.3, noise="kinect", width=320, height=240, seed=0)
# Measured on this 60-frame tour at 320x240 with the noisy oracle (20% missed, 10% false positives,
# 10% wrong classes), fuse_depth_max 5 m, every frame's instances applied before the next frame
# (objects.wait_for_instances: the numbers do not depend on the machine's load): 14 present, 14
# reported, recall 1.0, precision 1.0, no duplicates, mean box IoU 0.658; against the part of each
# thing the camera saw 0.680, that part against the whole box 0.786 (oracle seeds 1 and 2: IoU 0.666
# and 0.668, recall and precision 1.0, one duplicate with seed 1). Without the noise
# (oracle:perfect): recall 1.0, 1 duplicate (a bookshelf's side seen from 4.5 m), IoU 0.689.
# (Before the boxes snapped their sides to the faces seen, objects.face_band, and before another
# class's detection could free the surfels at its surface, objects.release_depth_gap: 0.586 / 0.609.)
# The 60-frame tour sees the middle things from 2 m and the far side of the room from 3.5-5 m, where
# the Kinect-like noise leaves the map few surfels that seldom become stable: the object surfels
# among them are kept for map.unstable_time_object (200) frames; with 20 (= map.unstable_time)
# the books on the far shelf were lost (recall 0.857).
MIN_RECALL = 0.9
MIN_PRECISION = 0.9
MAX_DUPLICATES = 0
MAX_DUPLICATES_PERFECT = 1
MIN_BOX_IOU = 0.6  # the criterion
MIN_OBSERVED_BOX_IOU = 0.6
MIN_OBSERVABLE_BOX_IOU = 0.7
FAR_YAML = "map:\n  fuse_depth_max: 5.0\nobjects:\n  wait_for_instances: true\n"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semslam", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tour_sequence(tmp_path_factory):
    """The synthetic room seen on a tour (round the ring, looking down at the middle, the gaze
    swinging): things are seen from several sides, which a box needs."""
    pytest.importorskip("open3d", reason="synthetic sequences are rendered with open3d, not installed here")
    from semslam.config import SynthConfig
    from semslam.datasets.synthetic import generate

    return generate(tmp_path_factory.mktemp("synth_tour") / "sequence", SynthConfig(**TOUR))


@pytest.fixture(scope="module")
def objects_run(tour_sequence, tmp_path_factory):
    seq = tour_sequence
    tmp = tmp_path_factory.mktemp("objects_run")
    # the room's things lie up to 5 m away; each frame's instances are applied before the next
    # frame is tracked (reproducible on a loaded machine)
    (tmp / "far.yaml").write_text(FAR_YAML)
    out = tmp / "run"
    result = run_cli("run", str(seq), "--out", str(out), "--instances", "oracle", "-c", str(tmp / "far.yaml"))
    assert result.returncode == 0, result.stderr
    return seq, out, result.stdout


def test_run_objects_files_and_eval(objects_run):
    seq, out, stdout = objects_run
    assert "objects:" in stdout and "objects.json" in stdout
    doc = json.loads((out / "objects.json").read_text())
    s = doc["summary"]
    assert doc["label_set"] == "nyu40" and doc["finished"] and doc["frames"] == FRAMES
    assert s["oracle"] and s["frames_applied"] == FRAMES and s["frames_skipped_queue_full"] == 0
    assert s["worker"] == "thread" and s["frames_applied_at_end"] == 0  # waited for, frame by frame
    assert s["detections"] > s["associations"] > 0 and s["new_objects"] >= len(doc["objects"])
    assert s["new_objects"] - s["dropped"] - s["merged"] == len(doc["objects"])
    up = np.asarray(doc["up"])
    assert abs(np.linalg.norm(up) - 1) < 1e-6 and up[1] < -0.7  # about the first camera's -y (34 deg down)
    assert len(doc["objects"]) >= 5
    for o in doc["objects"]:
        assert set(o) >= {"id", "class", "class_probabilities", "existence", "box", "surfel_count",
                          "first_frame", "last_frame", "frames_seen"}
        assert 0 < o["existence"] <= 1 and o["surfel_count"] >= 20 and o["first_frame"] <= o["last_frame"]
        R = np.asarray(o["box"]["rotation"])
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-6)
        np.testing.assert_allclose(R[:, 2], up, atol=1e-6)  # gravity-aligned about the estimated up
        assert abs(sum(o["class_probabilities"].values()) - 1) < 0.05

    summary = json.loads((out / "summary.json").read_text())
    assert "objects" in summary["stages_ms"] and summary["objects"]["objects"] == len(doc["objects"])

    # map.ply: the instance property, readable by Open3D
    vertices, comments = read_ply(out / "map.ply")
    assert vertices.dtype.names[-1] == "instance"
    ids = set(np.unique(vertices["instance"]).tolist()) - {-1}
    # map.ply holds the stable surfels: things the tour passed quickly may live on unstable ones only
    assert ids <= {o["id"] for o in doc["objects"]} and len(ids) >= len(doc["objects"]) // 2
    o3d = pytest.importorskip("open3d")
    assert len(o3d.io.read_point_cloud(str(out / "map.ply")).points) == len(vertices)

    # map.npz: the object map loads back, on the surfels' instance ids
    state = load_map_state(out)
    om = state.object_map()
    assert om.to_list() == doc["objects"]
    counts = np.bincount(np.maximum(state.surfels["instance_ids"], 0))
    for o in doc["objects"]:
        assert counts[o["id"]] == o["surfel_count"]

    result = run_cli("eval", str(out))
    assert result.returncode == 0, result.stderr
    assert "recall" in result.stdout and "box IoU" in result.stdout
    ev = json.loads((out / "objects_eval.json").read_text())
    print(f"\nobjects: {ev['reported']} reported, {ev['present']} present, recall {ev['recall']:.3f}, precision "
          f"{ev['precision']:.3f}, duplicates {ev['duplicates']}, mean box IoU {ev['mean_box_iou']:.3f}; "
          f"{summary['objects']['objects_ms_per_frame']:.1f} ms/frame")
    assert ev["present"] >= 5
    assert ev["recall"] >= MIN_RECALL and ev["precision"] >= MIN_PRECISION, ev
    # per class the mean box IoU of its found things; per true object its box next to the truth
    from semslam.eval.objects import format_object_rows, object_rows

    assert all(0 <= r["box_iou"] <= 1 for r in ev["per_class"].values() if r["found"])
    rows = object_rows(ev)
    assert len(rows) == ev["present"] and "true object" in format_object_rows(rows)
    found = [r for r in rows if r["objects"]]
    assert np.mean([r["box_iou"] for r in found]) == pytest.approx(ev["mean_box_iou"], abs=1e-3)
    assert ev["duplicates"] <= MAX_DUPLICATES
    assert ev["mean_box_iou"] >= MIN_BOX_IOU
    assert ev["mean_observed_box_iou"] >= MIN_OBSERVED_BOX_IOU
    assert MIN_OBSERVABLE_BOX_IOU <= ev["mean_observable_box_iou"] <= 1  # the tour sees things from several sides


def test_perfect_instances_find_every_object(tour_sequence, tmp_path):
    """Without the noise every thing present is found, once."""
    seq = tour_sequence
    (tmp_path / "far.yaml").write_text(FAR_YAML)
    out = tmp_path / "run"
    result = run_cli("run", str(seq), "--out", str(out), "--instances", "oracle:perfect", "-c", str(tmp_path / "far.yaml"))
    assert result.returncode == 0, result.stderr
    result = run_cli("eval", str(out))
    assert result.returncode == 0, result.stderr
    ev = json.loads((out / "objects_eval.json").read_text())
    print(f"\nperfect instances: recall {ev['recall']:.3f}, precision {ev['precision']:.3f}, duplicates "
          f"{ev['duplicates']}, mean box IoU {ev['mean_box_iou']:.3f}")
    assert ev["present"] >= 8 and ev["recall"] == 1.0, ev
    assert ev["precision"] >= 0.95 and ev["duplicates"] <= MAX_DUPLICATES_PERFECT
    assert ev["mean_box_iou"] >= MIN_BOX_IOU


def test_render_instance_view(objects_run, tmp_path):
    seq, out, _ = objects_run
    result = run_cli("render", str(out), "--out", str(tmp_path), "--every", "20")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "instances").glob("*.png"))) == 3  # frames 0, 20, 40
    assert len(list((tmp_path / "instance_colour").glob("*.png"))) == 3
    seen = json.loads((tmp_path / "render_instances.json").read_text())["objects_seen"]
    assert len(seen) >= 3


def test_unknown_instances_spec_is_a_clear_error(tour_sequence, tmp_path):
    seq = tour_sequence
    result = run_cli("run", str(seq), "--out", str(tmp_path / "run"), "--instances", "maskrcnn:x.onnx")
    assert result.returncode == 2
    assert "unknown instance segmenter 'maskrcnn:x.onnx'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
    result = run_cli("run", str(seq), "--out", str(tmp_path / "run"), "--instances", "oracle:nosuch=1")
    assert result.returncode == 2 and "unknown oracle instance parameter 'nosuch'" in result.stderr


def test_instance_ids_read_and_written_alone():
    rng = np.random.default_rng(0)
    n = 50
    smap = SurfelMap(Config().map)
    smap.set_surfels({
        "positions": rng.random((n, 3), np.float32), "normals": np.tile([0, 0, 1], (n, 1)).astype(np.float32),
        "colours": np.zeros((n, 3), np.float32), "radii": np.full(n, 0.01, np.float32),
        "confidences": np.ones(n, np.float32), "init_times": np.zeros(n, np.int32),
        "last_update_times": np.zeros(n, np.int32),
    })  # fmt: skip
    assert np.all(smap.instance_ids() == -1)
    smap.set_instance_ids([4, 7], [3, 10])
    ids = smap.instance_ids()
    assert ids[3] == 4 and ids[10] == 7 and np.sum(ids >= 0) == 2
    np.testing.assert_array_equal(ids, smap.surfels()["instance_ids"])
    np.testing.assert_array_equal(smap.field("positions"), smap.surfels()["positions"])
    smap.set_instance_ids(np.arange(n))
    np.testing.assert_array_equal(smap.instance_ids(), np.arange(n))
    with pytest.raises(ValueError, match="out of range"):
        smap.set_instance_ids([1], [n])
    with pytest.raises(ValueError, match="int32 for a map of 50"):
        smap.set_instance_ids(np.arange(3))
    with pytest.raises(ValueError, match="cannot be read alone"):
        smap.field("class_probs")


def test_up_estimate_and_tilted_boxes():
    """A floor and a box seen by a tilted camera: up from the floor's normals, the box's extents
    about it match the box."""
    rng = np.random.default_rng(2)
    tilt = np.deg2rad(25)
    R = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])  # world -> tilted
    floor_n = np.tile([0, 0, 1.0], (500, 1)) + rng.normal(0, 0.05, (500, 3))
    wall_n = np.tile([1.0, 0, 0], (500, 1))
    up = estimate_up(np.r_[floor_n, wall_n] @ R.T, None, R @ [0, 0.3, 1.0], 30)
    np.testing.assert_allclose(up, R @ [0, 0, 1], atol=0.01)
    # normals leaning 6 degrees off (filtered depth at grazing angles; 6-7 measured on the synthetic
    # room): the plane through the floor's positions (2 m x 2 m) fixes it
    lean = np.deg2rad(6)
    biased = np.tile([0, np.sin(lean), np.cos(lean)], (500, 1))
    floor_p = np.c_[rng.uniform(-1, 1, (500, 2)), rng.normal(0, 0.003, 500)]
    wall_p = np.c_[np.full(500, 2.0), rng.uniform(-2, 2, (500, 2))]
    guess = R @ [0, 0.3, 1.0]
    normals, positions = np.r_[biased, wall_n] @ R.T, np.r_[floor_p, wall_p] @ R.T
    assert np.degrees(np.arccos(estimate_up(normals, None, guess, 20) @ R[:, 2])) > 5
    up = estimate_up(normals, None, guess, 20, positions=positions)
    assert np.degrees(np.arccos(up @ R[:, 2])) < 0.5
    box = rng.uniform(-0.5, 0.5, (4000, 3)) * [0.6, 0.4, 0.8]
    b = oriented_box(box @ R.T, trim=0.0, up=up)
    np.testing.assert_allclose(np.sort(b.extent), [0.4, 0.6, 0.8], atol=0.03)
    assert abs(b.extent[2] - 0.8) < 0.03


def test_scan_trajectory_faces_the_walls_and_pans_slowly():
    """The 'scan' trajectory (bench_objects --trajectory scan): once round the ring in about 850
    frames at 30 frames/s and 0.3 m/s, facing out at the walls, panning at most 2 deg per frame;
    deterministic; a shorter scan is the start of the same path's shape."""
    from semslam.datasets.synthetic import camera_trajectory, room_from_seed
    from semslam.datasets.synthetic.trajectories import ring_axes

    room = room_from_seed(0)
    poses = camera_trajectory("scan", room, 851, 30.0, 0.3, 0.003, 0.25, 0)
    np.testing.assert_array_equal(poses, camera_trajectory("scan", room, 851, 30.0, 0.3, 0.003, 0.25, 0))
    R, p = poses[:, :3, :3], poses[:, :3, 3]
    step = np.degrees(np.arccos(np.clip((np.einsum("nij,nij->n", R[:-1], R[1:]) - 1) / 2, -1, 1)))
    assert step.max() < 2.0 and step.mean() < 1.0
    ax, ay = ring_axes(room)
    assert np.allclose((p[:, 0] / ax) ** 2 + (p[:, 1] / ay) ** 2, 1, atol=0.02)  # on the ring
    angle = np.unwrap(np.arctan2(p[:, 1], p[:, 0]))
    assert abs(angle[-1] - angle[0]) > 1.9 * np.pi  # once round
    outward = np.stack([p[:, 0] / ax**2, p[:, 1] / ay**2], 1)
    outward /= np.linalg.norm(outward, axis=1, keepdims=True)
    gaze = R[:, :2, 2] / np.linalg.norm(R[:, :2, 2], axis=1, keepdims=True)  # the camera's +z, horizontal part
    assert np.all(np.sum(gaze * outward, axis=1) > np.cos(np.radians(20)))  # facing out, +-15 deg sway
