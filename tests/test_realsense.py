"""RealSense recordings and live capture without a camera: a `rs.software_device` with a depth
(z16) and a colour (rgb8) sensor stands in for the camera. Frames pushed into it go through the
real librealsense path: its recorder writes .db3 files, its playback reads them back, rs.align
aligns, and `RealSenseCamera` streams from it as from a camera."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 is in the test extra: pip install -e '.[test]'")

from semslam import datasets  # noqa: E402
from semslam.config import Config, RealSenseConfig  # noqa: E402
from semslam.datasets.frame import Intrinsics  # noqa: E402
from semslam.io.ply import read_ply  # noqa: E402
from semslam.io.trajectory import read_tum_trajectory  # noqa: E402

FRAMES = 20
DEPTH_UNITS = 1e-4  # m per z16 step: not the synthetic PNGs' 1/5000, so the replay must take it from the file
SERIAL = "SEMSLAM-SW-0001"
MODEL = "semslam software camera"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semslam", *args], capture_output=True, text=True, timeout=600)


def _rs_intrinsics(i: Intrinsics):
    out = rs.intrinsics()
    out.width, out.height, out.fx, out.fy, out.ppx, out.ppy = i.width, i.height, i.fx, i.fy, i.cx, i.cy
    out.model = rs.distortion.none
    out.coeffs = [0.0] * 5
    return out


class SoftwareCamera:
    """A software RealSense device: depth z16 and colour rgb8 sensors with the given cameras.
    `depth_to_colour` is the (R 3x3, t 3) extrinsic from the depth to the colour camera."""

    def __init__(self, colour: Intrinsics, depth: Intrinsics | None = None, depth_units: float = DEPTH_UNITS,
                 depth_to_colour=(np.eye(3), np.zeros(3)), fps: int = 30, serial: str = SERIAL) -> None:
        depth = depth or colour
        self.fps, self.depth_units = fps, depth_units
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.name, MODEL)
        self.device.register_info(rs.camera_info.serial_number, serial)
        self.depth_sensor = self.device.add_sensor("Stereo Module")
        self.colour_sensor = self.device.add_sensor("RGB Camera")
        self.depth_profile = self._stream(self.depth_sensor, rs.stream.depth, rs.format.z16, 2, depth, uid=0)
        self.colour_profile = self._stream(self.colour_sensor, rs.stream.color, rs.format.rgb8, 3, colour, uid=1)
        self.depth_sensor.add_read_only_option(rs.option.depth_units, depth_units)
        ext = rs.extrinsics()
        ext.rotation = [float(x) for x in np.asarray(depth_to_colour[0]).ravel()]
        ext.translation = [float(x) for x in depth_to_colour[1]]
        self.depth_profile.register_extrinsics_to(self.colour_profile, ext)
        self.sink = None

    def _stream(self, sensor, kind, fmt, bpp, intr: Intrinsics, uid: int):
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid, vs.fmt, vs.bpp, vs.fps = kind, 0, uid, fmt, bpp, self.fps
        vs.width, vs.height, vs.intrinsics = intr.width, intr.height, _rs_intrinsics(intr)
        return sensor.add_video_stream(vs).as_video_stream_profile()

    def start(self) -> None:
        """Start both sensors into a frame queue (what a recorder needs to see frames flowing)."""
        self.sink = rs.frame_queue(1000)
        for sensor, profile in ((self.depth_sensor, self.depth_profile), (self.colour_sensor, self.colour_profile)):
            sensor.open(profile)
            sensor.start(self.sink)

    def stop(self) -> None:
        for sensor in (self.depth_sensor, self.colour_sensor):
            sensor.stop()
            sensor.close()

    def push(self, number: int, timestamp_s: float, depth_z16: np.ndarray | None, rgb: np.ndarray | None) -> None:
        for sensor, profile, pixels, bpp in ((self.depth_sensor, self.depth_profile, depth_z16, 2),
                                             (self.colour_sensor, self.colour_profile, rgb, 3)):
            if pixels is None:
                continue
            f = rs.software_video_frame()
            f.pixels = np.ascontiguousarray(pixels)
            f.bpp, f.stride = bpp, pixels.shape[1] * bpp
            f.timestamp, f.domain, f.frame_number = timestamp_s * 1000.0, rs.timestamp_domain.hardware_clock, number
            f.profile = profile
            if bpp == 2:
                f.depth_units = self.depth_units
            sensor.on_video_frame(f)


def synthetic_frames(path: Path):
    """(timestamp s, depth z16 at DEPTH_UNITS, rgb) of every frame of a synthetic sequence."""
    seq = datasets.open(path)
    for frame in seq:
        z16 = np.round(frame.depth.astype(np.float64) / DEPTH_UNITS).astype(np.uint16)
        yield frame.timestamp, z16, frame.rgb


def record(camera: SoftwareCamera, path: Path, frames) -> None:
    recorder = rs.recorder(str(path), camera.device)
    camera.start()
    for number, (t, z16, rgb) in enumerate(frames):
        camera.push(number, t, z16, rgb)
    time.sleep(0.2)
    camera.stop()
    del recorder  # the recorder closes the file when released


@pytest.fixture(scope="module")
def synthetic(make_synthetic) -> Path:
    return make_synthetic(frames=FRAMES, noise="kinect", width=320, height=240)


@pytest.fixture(scope="module")
def recording(synthetic, tmp_path_factory) -> Path:
    """The synthetic sequence pushed through a software device and recorded by librealsense."""
    path = tmp_path_factory.mktemp("realsense") / "synthetic.db3"
    camera = SoftwareCamera(datasets.open(synthetic).intrinsics)
    record(camera, path, synthetic_frames(synthetic))
    return path


def test_recording_carries_camera_intrinsics_and_depth_scale(recording, synthetic):
    original = datasets.open(synthetic)
    seq = datasets.open(recording)
    assert datasets.detect_format(recording) == "realsense"
    assert len(seq) == FRAMES
    i = seq.intrinsics
    # the camera of the recording, read from the file (the synthetic PNGs are at 5000 units/m)
    assert (i.fx, i.fy, i.cx, i.cy, i.width, i.height) == (262.5, 262.5, 159.5, 119.5, 320, 240)
    assert i.depth_scale == pytest.approx(1 / DEPTH_UNITS, rel=1e-6)
    assert seq.camera == {"model": MODEL, "serial": SERIAL}
    np.testing.assert_allclose(seq.timestamps, original.timestamps, atol=1e-6)
    for k in (0, 7, FRAMES - 1, 3):  # forwards, then back (restarts the playback)
        a, b = seq[k], original[k]
        assert a.timestamp == pytest.approx(b.timestamp, abs=1e-6)
        np.testing.assert_array_equal(a.rgb, b.rgb)
        np.testing.assert_allclose(a.depth, b.depth, atol=1e-6)  # 0.2 mm steps re-expressed in 0.1 mm steps
        assert a.meta["depth_frame_number"] == a.meta["colour_frame_number"] == k
    info = seq.summary_info()
    assert info["alignment"].startswith("none needed")
    fs = info["framesets"]
    assert fs["paired"] == fs["in_recording"] == FRAMES
    assert fs["depth"]["dropped"] == fs["colour"]["dropped"] == fs["depth"]["unmatched"] == fs["colour"]["unmatched"] == 0


def test_replay_matches_the_run_on_the_original_files(recording, synthetic, tmp_path):
    t0 = time.perf_counter()
    original = run_cli("run", str(synthetic), "--out", str(tmp_path / "original"))
    assert original.returncode == 0, original.stderr
    replay = run_cli("run", str(recording), "--out", str(tmp_path / "replay"))
    assert replay.returncode == 0, replay.stderr
    print(f"two runs of {FRAMES} frames: {time.perf_counter() - t0:.1f} s")
    t_a, poses_a = read_tum_trajectory(tmp_path / "original" / "trajectory.txt")
    t_b, poses_b = read_tum_trajectory(tmp_path / "replay" / "trajectory.txt")
    assert len(t_b) == len(t_a) == FRAMES
    np.testing.assert_allclose(t_b, t_a, atol=1e-6)
    # both trajectories start at the first camera: compared as they are, without alignment
    ate = float(np.sqrt(np.mean(np.sum((poses_a[:, :3, 3] - poses_b[:, :3, 3]) ** 2, axis=1))))
    print(f"ATE replay vs original: {ate * 1000:.4f} mm over {FRAMES} frames")
    assert ate < 1e-3
    summary = json.loads((tmp_path / "replay" / "summary.json").read_text())
    assert summary["frames"] == FRAMES and summary["stopped"] == ""
    ds = summary["dataset"]
    assert ds["format"] == "realsense"
    assert ds["camera"] == {"model": MODEL, "serial": SERIAL}
    assert ds["streams"]["depth_units_m"] == pytest.approx(DEPTH_UNITS, rel=1e-6)
    assert ds["streams"]["colour"]["intrinsics"]["fx"] == 262.5
    assert ds["framesets"]["paired"] == FRAMES
    assert "framesets: 20 paired" in replay.stdout


def test_dropped_and_unmatched_frames_are_counted(tmp_path):
    """A device that dropped frames 5 and 6 on both streams, lost colour frame 9 and sent one colour
    frame halfway between two depth frames: every loss is counted, in `info` and in the sequence."""
    intr = Intrinsics(60.0, 60.0, 31.5, 23.5, 64, 48)
    camera = SoftwareCamera(intr)
    rgb = np.zeros((48, 64, 3), np.uint8)
    depth = np.full((48, 64), 10000, np.uint16)  # 1 m
    frames = []
    for number in range(14):
        if number in (5, 6):
            continue
        t = number / 30
        frames.append((number, t, depth, None if number == 9 else rgb))
    path = tmp_path / "lossy.db3"
    recorder = rs.recorder(str(path), camera.device)
    camera.start()
    for number, t, d, c in frames:
        camera.push(number, t, d, c)
        if number == 11:  # a stray colour frame 15 ms after depth 11 (18.3 ms before depth 12; half a period is 16.7 ms)
            camera.push(100, t + 0.45 / 30, None, rgb)
    time.sleep(0.2)
    camera.stop()
    del recorder
    # colour 100 and 12 are out of order for the numbering: 12 < 100 counts as out of order
    result = run_cli("info", str(path), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    fs = info["framesets"]
    assert info["format"] == "realsense" and info["camera"]["serial"] == SERIAL
    assert fs["depth"]["received"] == 12 and fs["colour"]["received"] == 12
    assert fs["depth"]["dropped"] == 2  # frames 5 and 6
    assert fs["colour"]["dropped"] == 2 + 1 + 88  # 5, 6, 9, and the jump from 11 to 100
    assert fs["colour"]["out_of_order"] == 2  # 12 and 13 arrive after 100
    assert fs["depth"]["unmatched"] == 1 + 2  # depth 9 lost its colour; 12, 13 lost theirs (out of order)
    assert fs["colour"]["unmatched"] == 1  # the stray frame
    assert fs["paired"] == info["frames"] == 12 - 3
    assert info["intrinsics"]["fx"] == 60.0 and info["depth"]["median_m"] == pytest.approx(1.0, abs=1e-6)


def test_depth_filters_are_applied_on_replay(recording):
    """The librealsense filters of the config run on the recorded raw depth: hole filling fills
    the holes of the kinect-noise frame and keeps the measured depth."""
    raw = datasets.open(recording)[4].depth
    cfg = RealSenseConfig(hole_filling=True)
    seq = datasets.open(recording, realsense_config=cfg)
    assert seq.summary_info()["filters"] == ["hole_filling"]
    filled = seq[4].depth
    assert (raw == 0).mean() > 0.1 and (filled == 0).mean() < 0.002  # 17% -> 0.09% (image borders)
    measured = raw > 0
    np.testing.assert_allclose(filled[measured], raw[measured], atol=1e-6)
    smoothed = datasets.open(recording, realsense_config=RealSenseConfig(spatial_filter=True, temporal_filter=True))
    assert smoothed.summary_info()["filters"] == ["spatial", "temporal"]
    depth = smoothed[4].depth
    assert np.median(np.abs(depth[measured & (depth > 0)] - raw[measured & (depth > 0)])) < 5e-3


def test_depth_is_aligned_to_colour_with_the_recorded_extrinsics(tmp_path):
    """A depth camera unlike the colour camera (other focal length and principal point, 15 mm to
    the side) looking at a tilted plane: the replayed depth is the plane seen from the colour camera."""
    colour = Intrinsics(140.0, 140.0, 79.5, 59.5, 160, 120)
    depth_cam = Intrinsics(120.0, 121.0, 80.5, 60.0, 160, 120)
    baseline = np.array([0.015, 0.0, 0.0])  # p_colour = p_depth + baseline
    camera = SoftwareCamera(colour, depth=depth_cam, depth_to_colour=(np.eye(3), baseline))
    u, v = np.meshgrid(np.arange(160), np.arange(120))
    # plane z = 1.2 + 0.2 x in the depth camera: along the ray (dx, dy, 1), z = 1.2 / (1 - 0.2 dx)
    dx = (u - depth_cam.cx) / depth_cam.fx
    z16 = np.round(1.2 / (1 - 0.2 * dx) / DEPTH_UNITS).astype(np.uint16)
    rgb = np.zeros((120, 160, 3), np.uint8)
    path = tmp_path / "baseline.db3"
    record(camera, path, [(0.0, z16, rgb), (1 / 30, z16, rgb)])
    seq = datasets.open(path)
    assert seq.intrinsics.fx == 140.0 and seq.intrinsics.cx == 79.5  # the colour camera's
    assert seq.summary_info()["alignment"] == "rs.align to colour"
    aligned = seq[0].depth
    # in the colour camera x_c = x_d + 0.015: the plane is z = 1.197 + 0.2 x_c
    dxc = (u - colour.cx) / colour.fx
    expected = (1.2 - 0.2 * baseline[0]) / (1 - 0.2 * dxc)
    valid = aligned > 0
    assert valid.mean() > 0.95
    error = np.abs(aligned[valid] - expected[valid])
    assert np.median(error) < 1e-3 and np.percentile(error, 99) < 5e-3
    # not aligned, the depth camera's own image would be off by centimetres at the sides
    assert np.abs(z16.astype(np.float32) * DEPTH_UNITS - expected)[:, :10].mean() > 5e-3


def test_camera_that_stops_delivering_ends_the_run_and_keeps_the_map(synthetic, tmp_path):
    """Live mapping from a software camera that delivers 6 framesets and then none: the run ends
    with a clear error after the timeout, and the map, trajectory and summary so far are written;
    the session recorded on the way replays those 6 framesets."""
    from semslam.cli import _run_live
    from semslam.datasets.realsense_live import CameraError, RealSenseCamera

    seq = datasets.open(synthetic)
    cfg = Config(realsense=RealSenseConfig(width=320, height=240, fps=30, frame_timeout_s=1.5,
                                           first_frame_timeout_s=10.0))
    cfg.map.confidence_threshold = 2.0  # surfels seen in 2+ of the 6 frames are stable: map.ply is not empty
    soft = SoftwareCamera(seq.intrinsics)
    camera = RealSenseCamera(cfg.realsense, device=soft.device, record=tmp_path / "live.db3")
    delivered = 6
    frames = list(synthetic_frames(synthetic))[:delivered]

    def feed():  # one frameset at a time, each once the mapping loop has taken the previous one
        for number, (t, z16, rgb) in enumerate(frames):
            while camera.frames_delivered < number and not camera._closed:
                time.sleep(0.01)
            soft.push(number, t, z16, rgb)
        # ... and then nothing more, as an unplugged camera

    feeder = threading.Thread(target=feed, daemon=True)
    out = tmp_path / "live"
    with pytest.raises(CameraError) as info:
        camera.start()
        feeder.start()
        _run_live(camera, cfg, out, quiet=True)
    feeder.join(timeout=10)
    message = str(info.value)
    assert f"camera {MODEL} (serial {SERIAL}) delivered no frameset for" in message
    assert "after 6 framesets" in message
    t, poses = read_tum_trajectory(out / "trajectory.txt")
    assert len(t) == delivered
    np.testing.assert_allclose(t, seq.timestamps[:delivered], atol=1e-6)
    # the first poses agree with the ground truth of the synthetic sequence (relative to frame 0)
    _, gt = seq.ground_truth_poses()
    rel = np.linalg.inv(gt[0]) @ gt[delivered - 1]
    assert np.linalg.norm(poses[-1][:3, 3] - rel[:3, 3]) < 0.01
    vertices, _ = read_ply(out / "map.ply")
    assert len(vertices) > 1000 and np.all(np.isfinite(vertices["x"]))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == delivered and summary["map_ply_surfels"] == len(vertices)
    assert "delivered no frameset" in summary["stopped"]
    ds = summary["dataset"]
    assert ds["format"] == "realsense-live" and ds["camera"]["serial"] == SERIAL and ds["ended_by"] == "error"
    assert ds["framesets"]["delivered"] == delivered and ds["framesets"]["skipped_behind"] == 0
    del camera
    replay = datasets.open(tmp_path / "live.db3")
    assert len(replay) == delivered and replay.camera["serial"] == SERIAL
    np.testing.assert_array_equal(replay[delivered - 1].rgb, frames[-1][2])


def test_ctrl_c_ends_a_live_run_cleanly(synthetic, tmp_path):
    """Ctrl-C (SIGINT) during live mapping ends the run after the frame in hand: no error, every
    file written, the summary says how it ended."""
    import os
    import signal

    from semslam.cli import _run_live
    from semslam.datasets.realsense_live import RealSenseCamera

    cfg = Config(realsense=RealSenseConfig(width=320, height=240, fps=30, frame_timeout_s=30.0))
    soft = SoftwareCamera(datasets.open(synthetic).intrinsics)
    camera = RealSenseCamera(cfg.realsense, device=soft.device)
    frames = list(synthetic_frames(synthetic))[:3]

    def feed():
        for number, (t, z16, rgb) in enumerate(frames):
            while camera.frames_delivered < number:
                time.sleep(0.01)
            soft.push(number, t, z16, rgb)
        while camera.frames_delivered < len(frames):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # while frame 3 is being mapped, or just after

    camera.start()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    summary = _run_live(camera, cfg, tmp_path / "out", quiet=True)
    feeder.join(timeout=10)
    assert summary["frames"] == 3 and summary["stopped"] == ""
    assert summary["dataset"]["ended_by"] == "Ctrl-C"
    assert len(read_tum_trajectory(tmp_path / "out" / "trajectory.txt")[0]) == 3
    assert (tmp_path / "out" / "map.ply").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_no_camera_and_broken_recording_are_clear_errors(tmp_path):
    result = run_cli("live", "--out", str(tmp_path / "out"), "--serial", "000000000000")
    assert result.returncode == 2
    assert result.stderr.startswith("semslam: error: no RealSense camera")
    assert "Traceback" not in result.stderr
    bad = tmp_path / "broken.db3"
    bad.write_bytes(b"not a recording")
    result = run_cli("info", str(bad))
    assert result.returncode == 2 and str(bad) in result.stderr and "Traceback" not in result.stderr
