"""Dataset readers: real TUM pieces, every supported layout built in tmp_path, and bad input."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import semslam.datasets as datasets
from semslam.config import DatasetConfig
from semslam.datasets import imageio
from semslam.datasets.association import associate, interpolate_poses
from semslam.datasets.tum import read_stamped_list
from semslam.errors import (
    DatasetError,
    DatasetWarning,
    FormatNotRecognizedError,
    GroundTruthError,
    ImageReadError,
)

TEDDY = "tum/rgbd_dataset_freiburg3_teddy_first200"
DESK = "tum/rgbd_dataset_freiburg1_desk_9frames"


# ---------------------------------------------------------------- references written for the tests


def associate_reference(first: dict, second: dict, max_difference: float) -> list[tuple[float, float]]:
    """The TUM benchmark's associate.py, brute force over all pairs."""
    first_keys, second_keys = list(first), list(second)
    candidates = sorted(
        (abs(a - b), a, b) for a in first_keys for b in second_keys if abs(a - b) < max_difference
    )
    matches = []
    for _, a, b in candidates:
        if a in first_keys and b in second_keys:
            first_keys.remove(a)
            second_keys.remove(b)
            matches.append((a, b))
    return sorted(matches)


def quat_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (x, y, z, w), by the textbook formula."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    q0, q1 = q0 / np.linalg.norm(q0), q1 / np.linalg.norm(q1)
    dot = float(q0 @ q1)
    if dot < 0:  # shortest arc
        q1, dot = -q1, -dot
    theta = math.acos(min(dot, 1.0))
    return (math.sin((1 - a) * theta) * q0 + math.sin(a * theta) * q1) / math.sin(theta)


def gt_lines(path: Path) -> list[list[float]]:
    return [[float(v) for v in l.split()] for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]


# ---------------------------------------------------------------- real TUM data


@pytest.fixture(scope="module")
def teddy(shared_data):
    return datasets.open(shared_data / TEDDY)


def test_teddy_association_and_ground_truth(shared_data, teddy):
    folder = shared_data / TEDDY
    rgb_stamps, _ = read_stamped_list(folder / "rgb.txt")
    depth_stamps, _ = read_stamped_list(folder / "depth.txt")
    assert len(rgb_stamps) == 200 and len(depth_stamps) == 200
    assert len(teddy) == 193
    expected = associate_reference(dict.fromkeys(rgb_stamps), dict.fromkeys(depth_stamps), 0.02)
    assert len(expected) == 193
    np.testing.assert_array_equal(teddy.timestamps, [a for a, _ in expected])
    depth_names = [Path(teddy[0].meta["depth_path"]).name]
    assert depth_names == [f"{expected[0][1]:.6f}.png"]
    assert [teddy.pose(i) is None for i in range(193)] == [True] * 5 + [False] * 188
    stamps, poses = teddy.ground_truth_poses()
    np.testing.assert_array_equal(stamps, teddy.timestamps[5:])
    assert poses.shape == (188, 4, 4)
    assert teddy.format == "tum" and teddy.has_ground_truth and teddy.label_names is None


def test_teddy_intrinsics_and_depth_values(shared_data, teddy):
    assert teddy.intrinsics == datasets.Intrinsics(535.4, 539.2, 320.1, 247.6, 640, 480, 5000.0, None)
    frame = teddy[20]
    raw = cv2.imread(frame.meta["depth_path"], cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    for v, u in [(240, 320), (100, 500), (400, 60)]:
        assert frame.depth[v, u] == np.float32(raw[v, u]) / np.float32(5000.0)
    assert frame.depth.dtype == np.float32 and frame.depth.shape == (480, 640)
    nonzero = np.argwhere(raw > 0)[1000]
    assert frame.depth[tuple(nonzero)] > 0
    np.testing.assert_array_equal(frame.depth == 0, raw == 0)
    assert 0.5 < np.median(frame.depth[frame.depth > 0]) < 3.0
    bgr = cv2.imread(frame.meta["rgb_path"], cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(frame.rgb, bgr[:, :, ::-1])
    assert frame.index == 20 and frame.timestamp == teddy.timestamps[20]


@pytest.mark.parametrize("index", [5, 50, 192])
def test_teddy_pose_is_hand_interpolated(shared_data, teddy, index):
    lines = gt_lines(shared_data / TEDDY / "groundtruth.txt")
    t = teddy.timestamps[index]
    k = max(i for i, line in enumerate(lines) if line[0] <= t)
    before, after = lines[k], lines[k + 1]
    assert before[0] <= t < after[0] and after[0] - before[0] < 0.05
    a = (t - before[0]) / (after[0] - before[0])
    expected_t = (1 - a) * np.array(before[1:4]) + a * np.array(after[1:4])
    expected_R = quat_matrix(slerp(np.array(before[4:8]), np.array(after[4:8]), a))
    pose = teddy.pose(index)
    np.testing.assert_allclose(pose[:3, 3], expected_t, atol=1e-12)
    np.testing.assert_allclose(pose[:3, :3], expected_R, atol=1e-9)
    np.testing.assert_array_equal(pose[3], [0, 0, 0, 1])
    np.testing.assert_array_equal(teddy[index].T_world_cam, pose)


def test_fr1_desk(shared_data):
    seq = datasets.open(shared_data / DESK)
    assert len(seq) == 9 and seq.format == "tum"
    assert (seq.intrinsics.fx, seq.intrinsics.fy, seq.intrinsics.cx, seq.intrinsics.cy) == (517.3, 516.5, 318.6, 255.3)
    assert seq.intrinsics.distortion == (0.2624, -0.9531, -0.0054, 0.0026, 1.1633)
    assert len(seq.ground_truth_poses()[0]) == 9
    assert seq[8].rgb.shape == (480, 640, 3)


def test_start_stride_limit(shared_data, teddy):
    seq = datasets.open(shared_data / TEDDY, start=10, stride=3, limit=5)
    assert len(seq) == 5
    np.testing.assert_array_equal(seq.timestamps, teddy.timestamps[10:25:3])
    np.testing.assert_array_equal(seq[1].depth, teddy[13].depth)
    cfg = DatasetConfig(start=190, stride=2)
    seq = datasets.open(shared_data / TEDDY, cfg)
    np.testing.assert_array_equal(seq.timestamps, teddy.timestamps[190::2])
    assert len(datasets.open(shared_data / TEDDY, cfg, stride=1, limit=100)) == 3  # overrides win
    with pytest.raises(DatasetError, match="no frames left"):
        datasets.open(shared_data / TEDDY, start=500)
    with pytest.raises(TypeError, match="unknown dataset option"):
        datasets.open(shared_data / TEDDY, strid=2)


def test_frames_are_decoded_only_when_accessed(shared_data, monkeypatch):
    calls = {"rgb": 0, "depth": 0}
    read_rgb, read_depth = imageio.read_rgb, imageio.read_depth

    def counting_rgb(*args, **kwargs):
        calls["rgb"] += 1
        return read_rgb(*args, **kwargs)

    def counting_depth(*args, **kwargs):
        calls["depth"] += 1
        return read_depth(*args, **kwargs)

    monkeypatch.setattr(imageio, "read_rgb", counting_rgb)
    monkeypatch.setattr(imageio, "read_depth", counting_depth)
    seq = datasets.open(shared_data / TEDDY)
    assert calls == {"rgb": 0, "depth": 0}
    frame = seq[150]
    assert calls == {"rgb": 1, "depth": 1}
    assert frame.timestamp == seq.timestamps[150]
    for i, frame in enumerate(seq):
        assert calls["rgb"] == 2 + i  # one decode per step, never ahead
        if i == 2:
            break
    assert seq[-1].timestamp == seq.timestamps[-1]
    with pytest.raises(IndexError):
        seq[193]


def test_detection_and_format_override(shared_data, tmp_path):
    assert datasets.detect_format(shared_data / TEDDY) == "tum"
    assert datasets.open(shared_data / DESK, format="tum", limit=2).format == "tum"
    with pytest.raises(FormatNotRecognizedError, match="unknown format 'kitti'"):
        datasets.open(shared_data / DESK, format="kitti")
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.open(tmp_path / "nowhere")


# ---------------------------------------------------------------- layouts built in tmp_path

H, W = 24, 32  # small images for the TUM-layout fixtures


def _depth_raw(i: int, h: int = H, w: int = W) -> np.ndarray:
    raw = (1000 * (i + 1) + np.arange(h * w).reshape(h, w) * 7).astype(np.uint16)
    raw[0, 0] = 0  # no reading
    return raw


def _rgb(i: int, h: int = H, w: int = W) -> np.ndarray:
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = (np.arange(w) * 5 + i) % 256
    rgb[..., 1] = (np.arange(h)[:, None] * 9) % 256
    rgb[..., 2] = 200
    return rgb


def _pose(i: int) -> np.ndarray:
    angle = 0.1 * i
    pose = np.eye(4)
    pose[:3, :3] = [[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]]
    pose[:3, 3] = [0.5 * i, -0.25 * i, 1.0 + i]
    return pose


def _tum_line(t: float, pose: np.ndarray) -> str:
    from semslam.io.trajectory import rot_to_quat

    q = rot_to_quat(pose[:3, :3])
    return f"{t:.6f} " + " ".join(f"{v:.12f}" for v in (*pose[:3, 3], *q))


def make_tum(root: Path, n: int = 5, synthetic: bool = False, gt: bool = True) -> Path:
    """A TUM-layout folder with n frames of HxW images, exact poses at the frame times and a
    semslam.json giving the intrinsics (and, when synthetic, the classes, labels and instances)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "rgb").mkdir()
    (root / "depth").mkdir()
    stamps = [100.0 + i / 30 for i in range(n)]
    for i, t in enumerate(stamps):
        cv2.imwrite(str(root / "rgb" / f"{t:.6f}.png"), _rgb(i)[:, :, ::-1])
        cv2.imwrite(str(root / "depth" / f"{t:.6f}.png"), _depth_raw(i))
    (root / "rgb.txt").write_text("# color images\n# timestamp filename\n" + "".join(f"{t:.6f} rgb/{t:.6f}.png\n" for t in stamps))
    (root / "depth.txt").write_text("# depth maps\n" + "".join(f"{t:.6f} depth/{t:.6f}.png\n" for t in stamps))
    if gt:
        (root / "groundtruth.txt").write_text("# timestamp tx ty tz qx qy qz qw\n" + "".join(
            _tum_line(t, _pose(i)) + "\n" for i, t in enumerate(stamps)))
    meta = {"intrinsics": {"fx": 40.0, "fy": 41.0, "cx": 15.5, "cy": 11.5, "width": W, "height": H, "depth_scale": 5000.0}}
    if synthetic:
        meta.update({"format": "semslam-synthetic", "version": 1, "label_set": "nyu40",
                     "classes": {"0": "unlabelled", "5": "chair", "7": "table"},
                     "instances": [{"id": 1, "class_id": 5, "name": "chair_1"}], "seed": 3})
        (root / "labels").mkdir()
        (root / "instances").mkdir()
        for i, t in enumerate(stamps):
            cv2.imwrite(str(root / "labels" / f"{t:.6f}.png"), np.full((H, W), 5 + (i % 2) * 2, np.uint16))
            inst = np.zeros((H, W), np.uint16)
            inst[:5, :5] = 1
            cv2.imwrite(str(root / "instances" / f"{t:.6f}.png"), inst)
    (root / "semslam.json").write_text(json.dumps(meta))
    return root


def test_tum_layout_values_and_metadata_intrinsics(tmp_path):
    seq = datasets.open(make_tum(tmp_path / "seq"))
    assert seq.format == "tum" and len(seq) == 5
    assert (seq.intrinsics.fx, seq.intrinsics.width, seq.intrinsics.height) == (40.0, W, H)
    frame = seq[3]
    np.testing.assert_array_equal(frame.rgb, _rgb(3))
    np.testing.assert_array_equal(frame.depth, _depth_raw(3).astype(np.float32) / np.float32(5000))
    assert frame.depth[0, 0] == 0
    np.testing.assert_allclose(frame.T_world_cam, _pose(3), atol=1e-11)
    assert frame.labels is None and frame.instances is None
    override = datasets.Intrinsics(30.0, 30.0, 16.0, 12.0, W, H, 1000.0)
    seq = datasets.open(tmp_path / "seq", intrinsics=override)
    assert seq.intrinsics == override
    np.testing.assert_array_equal(seq[0].depth, _depth_raw(0).astype(np.float32) / np.float32(1000))


def test_synthetic_format_reads_labels_and_instances(tmp_path):
    seq = datasets.open(make_tum(tmp_path / "synth", n=4, synthetic=True))
    assert seq.format == "semslam-synthetic" and datasets.detect_format(tmp_path / "synth") == "tum"
    assert seq.label_names == {0: "unlabelled", 5: "chair", 7: "table"}
    assert seq.instance_info == [{"id": 1, "class_id": 5, "name": "chair_1"}]
    frame = seq[1]
    assert frame.labels.dtype == np.uint16 and np.all(frame.labels == 7)
    assert frame.instances.dtype == np.uint16 and frame.instances.sum() == 25
    stamps, poses = seq.ground_truth_poses()
    np.testing.assert_array_equal(stamps, seq.timestamps)
    np.testing.assert_allclose(poses, np.stack([_pose(i) for i in range(4)]), atol=1e-11)
    info = datasets.describe(seq)
    assert info["labels"] and info["instances"] and info["classes"] == 3
    assert info["ground_truth"]["coverage"] == 1.0
    valid = _depth_raw(0)[_depth_raw(0) > 0]
    assert info["depth"]["valid_fraction"] == pytest.approx((H * W - 1) / (H * W))
    assert info["depth"]["min_m"] == pytest.approx(valid.min() / 5000, rel=1e-6)


def test_icl_nuim_layout(tmp_path):
    root = tmp_path / "living_room_traj0_frei_png"
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    h, w = 480, 640
    for n in range(4):
        cv2.imwrite(str(root / "rgb" / f"{n}.png"), _rgb(n, h, w)[:, :, ::-1])
        cv2.imwrite(str(root / "depth" / f"{n}.png"), _depth_raw(n, h, w))
    (root / "associations.txt").write_text("".join(f"{n} depth/{n}.png {n} rgb/{n}.png\n" for n in range(4)))
    # the trajectory starts at frame 1, as in the published files
    (root / "livingRoom0.gt.freiburg").write_text("".join(_tum_line(n, _pose(n)) + "\n" for n in range(1, 4)))
    seq = datasets.open(root)
    assert seq.format == "icl-nuim" and len(seq) == 4
    assert (seq.intrinsics.fx, seq.intrinsics.fy, seq.intrinsics.cx, seq.intrinsics.cy) == (481.2, 480.0, 319.5, 239.5)
    np.testing.assert_allclose(seq.timestamps, np.arange(4) / 30.0)
    assert seq.pose(0) is None
    np.testing.assert_allclose(seq.pose(2), _pose(2), atol=1e-11)
    frame = seq[2]
    np.testing.assert_array_equal(frame.depth, _depth_raw(2, h, w).astype(np.float32) / np.float32(5000))
    np.testing.assert_array_equal(frame.rgb, _rgb(2, h, w))
    # the converted form (groundtruth.txt, rgb.txt) is still ICL-NUIM, not TUM
    (root / "livingRoom0.gt.freiburg").rename(root / "groundtruth.txt")
    (root / "associations.txt").unlink()
    (root / "rgb.txt").write_text("".join(f"{n} rgb/{n}.png\n" for n in range(4)))
    (root / "depth.txt").write_text("".join(f"{n} depth/{n}.png\n" for n in range(4)))
    seq = datasets.open(root)
    assert seq.format == "icl-nuim" and len(seq) == 4 and len(seq.ground_truth_poses()[0]) == 3


def _write_7scenes_seq(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"frame-{i:06d}.color.png"), _rgb(i, 480, 640)[:, :, ::-1])
        raw = _depth_raw(i, 480, 640)
        raw[5, 5] = 65535
        cv2.imwrite(str(folder / f"frame-{i:06d}.depth.png"), raw)
        np.savetxt(folder / f"frame-{i:06d}.pose.txt", _pose(i), fmt="%.12e")


def test_7scenes_layout(tmp_path):
    _write_7scenes_seq(tmp_path / "chess" / "seq-01", 3)
    seq = datasets.open(tmp_path / "chess")  # a scene with one sequence opens it
    assert seq.format == "7scenes" and seq.name == "chess/seq-01" and len(seq) == 3
    assert (seq.intrinsics.fx, seq.intrinsics.fy, seq.intrinsics.cx, seq.intrinsics.cy) == (585, 585, 320, 240)
    np.testing.assert_allclose(seq.timestamps, np.arange(3) / 30.0)
    frame = seq[2]
    raw = _depth_raw(2, 480, 640)
    raw[5, 5] = 65535
    expected = raw.astype(np.float32) / np.float32(1000)
    expected[raw == 65535] = 0  # no reading
    assert expected[5, 5] == 0
    np.testing.assert_array_equal(frame.depth, expected)
    np.testing.assert_array_equal(frame.rgb, _rgb(2, 480, 640))
    np.testing.assert_allclose(frame.T_world_cam, _pose(2), rtol=0, atol=1e-12)
    _write_7scenes_seq(tmp_path / "chess" / "seq-02", 1)
    with pytest.raises(DatasetError, match="2 7-Scenes sequences"):
        datasets.open(tmp_path / "chess")
    assert len(datasets.open(tmp_path / "chess" / "seq-02")) == 1


def test_scannet_layout(tmp_path):
    root = tmp_path / "scene0000_00"
    for sub in ("color", "depth", "pose", "intrinsic"):
        (root / sub).mkdir(parents=True)
    big = np.zeros((968, 1296, 3), np.uint8)
    big[:, :, 0] = (np.arange(1296) // 6) % 256
    big[:, :, 1] = (np.arange(968)[:, None] // 4) % 256
    for i in range(3):
        cv2.imwrite(str(root / "color" / f"{i}.jpg"), big)
        cv2.imwrite(str(root / "depth" / f"{i}.png"), _depth_raw(i, 480, 640))
        pose = _pose(i)
        if i == 1:
            pose[:] = -np.inf  # lost tracking
        np.savetxt(root / "pose" / f"{i}.txt", pose)
    K = np.array([[577.6, 0, 318.9, 0], [0, 578.7, 242.7, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    np.savetxt(root / "intrinsic" / "intrinsic_depth.txt", K)
    seq = datasets.open(root)
    assert seq.format == "scannet" and len(seq) == 3
    assert (seq.intrinsics.fx, seq.intrinsics.fy, seq.intrinsics.cx, seq.intrinsics.cy) == (577.6, 578.7, 318.9, 242.7)
    assert (seq.intrinsics.width, seq.intrinsics.height, seq.intrinsics.depth_scale) == (640, 480, 1000.0)
    frame = seq[2]
    decoded = cv2.imread(str(root / "color" / "2.jpg"))
    expected_rgb = cv2.cvtColor(cv2.resize(decoded, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(frame.rgb, expected_rgb)
    np.testing.assert_array_equal(frame.depth, _depth_raw(2, 480, 640).astype(np.float32) / np.float32(1000))
    np.testing.assert_allclose(frame.T_world_cam, _pose(2), atol=1e-12)
    assert seq[1].T_world_cam is None
    stamps, poses = seq.ground_truth_poses()
    np.testing.assert_allclose(stamps, [0.0, 2 / 30])
    assert poses.shape == (2, 4, 4)


# ---------------------------------------------------------------- bad input


def test_missing_files_warn_with_count_or_fail_when_strict(tmp_path):
    root = make_tum(tmp_path / "seq", n=6)
    missing = sorted((root / "depth").iterdir())[2]
    missing.unlink()
    with pytest.warns(DatasetWarning, match=r"1 of 6 frames have missing files: frame 2 .*dropped") as record:
        seq = datasets.open(root)
    assert missing.name in str(record[0].message)
    assert len(seq) == 5 and seq.missing_frames == 1 and 100 + 2 / 30 not in seq.timestamps
    with pytest.raises(DatasetError, match="1 of 6 frames have missing files"):
        datasets.open(root, strict=True)
    for path in (root / "depth").iterdir():
        path.unlink()
    with pytest.raises(DatasetError, match="6 of 6 frames"):
        datasets.open(root)


def _first_file(root: Path, sub: str) -> Path:
    return sorted((root / sub).iterdir())[0]


def test_truncated_png(tmp_path):
    root = make_tum(tmp_path / "seq")
    path = _first_file(root, "depth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    seq = datasets.open(root)
    with pytest.raises(ImageReadError, match="truncated") as info:
        seq[0]
    assert str(path) in str(info.value)
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        seq[0]
    path.write_bytes(b"this is not an image at all")
    with pytest.raises(ImageReadError, match="cannot be decoded"):
        seq[0]


def test_wrong_depth_dtype(tmp_path):
    root = make_tum(tmp_path / "seq")
    path = _first_file(root, "depth")
    cv2.imwrite(str(path), np.full((H, W), 7, np.uint8))
    with pytest.raises(ImageReadError, match=r"dtype uint8, expected 16-bit") as info:
        datasets.open(root)[0]
    assert str(path) in str(info.value)


def test_rgb_channel_checks(tmp_path):
    root = make_tum(tmp_path / "seq")
    path = _first_file(root, "rgb")
    cv2.imwrite(str(path), np.full((H, W), 9, np.uint8))
    with pytest.raises(ImageReadError, match="grayscale"):
        datasets.open(root)[0]
    bgra = np.concatenate([_rgb(0)[:, :, ::-1], np.full((H, W, 1), 128, np.uint8)], axis=2)
    cv2.imwrite(str(path), bgra)
    np.testing.assert_array_equal(datasets.open(root)[0].rgb, _rgb(0))  # alpha dropped
    cv2.imwrite(str(path), _rgb(0).astype(np.uint16) * 256)
    with pytest.raises(ImageReadError, match="expected 8-bit"):
        datasets.open(root)[0]


def test_size_mismatches(tmp_path):
    root = make_tum(tmp_path / "seq")
    rgb_path = _first_file(root, "rgb")
    cv2.imwrite(str(rgb_path), _rgb(0, H + 2, W))
    with pytest.raises(ImageReadError, match=r"colour image .* is 32x26 \(WxH\), expected 32x24"):
        datasets.open(root)[0]
    seq = datasets.open(root, intrinsics=datasets.Intrinsics(40, 40, 20, 15, 40, 30, 5000.0))
    with pytest.raises(ImageReadError, match=r"depth image .* is 32x24 \(WxH\), expected 40x30"):
        seq[1]


def test_empty_sequence(tmp_path):
    root = make_tum(tmp_path / "seq")
    (root / "rgb.txt").write_text("# color images\n# timestamp filename\n")
    with pytest.raises(DatasetError, match="no rgb/depth pairs"):
        datasets.open(root)
    far = "".join(f"{500 + i:.6f} rgb/x.png\n" for i in range(3))  # nothing within 0.02 s
    (root / "rgb.txt").write_text(far)
    with pytest.raises(DatasetError, match=r"no rgb/depth pairs within 0.02 s \(3 rgb, 5 depth"):
        datasets.open(root)


def test_unknown_layout_says_what_each_reader_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FormatNotRecognizedError) as info:
        datasets.open(tmp_path)
    message = str(info.value)
    for fmt, looked_for in [("tum", "rgb.txt and depth.txt"), ("icl-nuim", "associations.txt"),
                            ("7scenes", "frame-XXXXXX.color"), ("scannet", "intrinsic_depth.txt")]:
        assert f"{fmt}: " in message and looked_for in message
    with pytest.raises(FormatNotRecognizedError, match="is a file"):
        datasets.open(tmp_path / "notes.txt")


def test_malformed_list_lines(tmp_path):
    root = make_tum(tmp_path / "seq")
    lines = (root / "rgb.txt").read_text().splitlines()
    lines[3] = lines[3].split()[0]  # a timestamp without a file name, on line 4
    (root / "rgb.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"rgb\.txt, line 4: expected 'timestamp filename'"):
        datasets.open(root)
    lines[3] = "12:30 rgb/a.png"
    (root / "rgb.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"rgb\.txt, line 4: timestamp '12:30' is not a number"):
        datasets.open(root)
    lines[3] = lines[2]
    (root / "rgb.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"line 4: timestamp .* repeats line 3"):
        datasets.open(root)


def test_ground_truth_coverage(tmp_path):
    root = make_tum(tmp_path / "seq", n=6)
    gt = (root / "groundtruth.txt").read_text().splitlines()
    (root / "groundtruth.txt").write_text("\n".join(gt[:4]) + "\n")  # header + frames 0..2
    seq = datasets.open(root)  # not asked for: fine, reported by describe
    info = datasets.describe(seq)["ground_truth"]
    assert info["frames_with_pose"] == 3 and info["frames"] == 6 and info["last_time"] == seq.timestamps[2]
    with pytest.raises(GroundTruthError, match=r"3 of 6 frames have none \(first: frames \[3, 4, 5\]\)"):
        datasets.open(root, require_ground_truth=True)
    assert len(datasets.open(root, limit=3, require_ground_truth=True)) == 3
    (root / "groundtruth.txt").write_text(gt[0] + "\n" + gt[1] + "\n100.1 0 0 0 1 0\n")
    with pytest.raises(GroundTruthError, match=r"groundtruth\.txt, line 3"):
        datasets.open(root)
    no_gt = datasets.open(make_tum(tmp_path / "nogt", gt=False))
    assert not no_gt.has_ground_truth and datasets.describe(no_gt)["ground_truth"]["coverage"] == 0.0


def test_bad_metadata(tmp_path):
    root = make_tum(tmp_path / "seq")
    (root / "semslam.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"semslam\.json is not valid JSON"):
        datasets.open(root)
    (root / "semslam.json").write_text(json.dumps({"intrinsics": {"fx": 40}}))
    with pytest.raises(DatasetError, match="invalid 'intrinsics'"):
        datasets.open(root)


# ---------------------------------------------------------------- timing helpers


def test_associate_is_greedy_by_difference():
    # 0.01 is nearer to 0.009 than 0.0 is, so it takes it; 0.0 is then left without a partner
    assert associate(np.array([0.0, 0.01]), np.array([0.009]), 0.02) == [(1, 0)]
    assert associate(np.array([0.0, 1.0]), np.array([1.005, 0.019, 0.02]), 0.02) == [(0, 1), (1, 0)]
    assert associate(np.array([0.0]), np.array([0.02]), 0.02) == []  # strictly less than the window


def test_interpolate_poses_needs_samples_on_both_sides():
    stamps = np.array([0.0, 0.01, 0.2])
    poses = np.stack([_pose(0), _pose(1), _pose(2)])
    out = interpolate_poses(stamps, poses, np.array([-0.001, 0.0, 0.005, 0.1, 0.21]), max_gap=0.05)
    assert out[0] is None and out[3] is None and out[4] is None
    np.testing.assert_array_equal(out[1], _pose(0))
    np.testing.assert_allclose(out[2][:3, 3], 0.5 * (_pose(0)[:3, 3] + _pose(1)[:3, 3]))
    np.testing.assert_allclose(out[2][:3, :3], _rot_z(0.05), atol=1e-12)


def _rot_z(angle: float) -> np.ndarray:
    return np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])


def test_no_warning_for_clean_data(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(datasets.open(shared_data / DESK)) == 9
