"""Open3D baselines for the SLAM benchmark, run on frames from semslam's own readers.

- `run_open3d_tslam`: Open3D's tensor dense SLAM (`open3d.t.pipelines.slam.Model`: TSDF voxel
  block grid, frame-to-model point-to-plane tracking against a raycast of the model), with the
  parameters of Open3D's own example (examples/python/t_reconstruction_system/dense_slam.py with
  its default_config.yml, and the tracking-failure check of examples/cpp/DenseSLAM.cpp).
- `run_open3d_legacy_odometry`: Open3D's legacy frame-to-frame RGB-D odometry
  (`open3d.pipelines.odometry.compute_rgbd_odometry`, hybrid photometric + geometric term,
  default `OdometryOption`), chained into a trajectory.

Both return a `BaselineResult` (poses T_world_cam starting at identity, timings, failures, peak
memory). `run_isolated` runs one of them in a fresh Python process so that its peak RSS is its
own. Command line (what `run_isolated` calls):

    python -m benchmarks.baselines.open3d_slam --sequence PATH --system tslam|legacy \
        [--start 0] [--limit N] [--stride 1] [--device CPU:0] [--params JSON] --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.common import REPO_ROOT, current_rss_mb, peak_rss_mb, save_json
from semslam.timing import StageTimers

# Open3D's t.slam example: examples/python/t_reconstruction_system/default_config.yml and
# dense_slam.py (block resolution 16 is hard-coded there); the failure thresholds come from
# examples/cpp/DenseSLAM.cpp (the Python example has no failure check).
TSLAM_DEFAULTS: dict[str, Any] = {
    "voxel_size": 3.0 / 512.0,  # m; the YAML rounds it to 0.0058
    "block_resolution": 16,  # voxels per block edge
    "block_count": 40000,  # pre-allocated voxel blocks
    "depth_min": 0.1,  # m, raycasting
    "depth_max": 3.0,  # m, tracking, integration and raycasting
    "odometry_distance_thr": 0.07,  # m, depth_diff of track_frame_to_model
    "trunc_voxel_multiplier": 8.0,  # truncation = 8 voxels = 4.7 cm
    "min_fitness": 0.1,  # tracking fails below this inlier fraction ...
    "max_step_translation": 0.15,  # ... or at or above this per-frame translation (m)
}

# Open3D's legacy odometry: create_from_color_and_depth's default depth_trunc (3.0 m) and the
# default OdometryOption (depth_min 0.0 m, depth_max 4.0 m, depth_diff_max 0.03 m, iterations
# 20/10/5 per pyramid level), as in examples/python/pipelines/rgbd_odometry.py.
LEGACY_DEFAULTS: dict[str, Any] = {
    "depth_trunc": 3.0,  # m
    "depth_min": 0.0,  # m
    "depth_max": 4.0,  # m
    "depth_diff_max": 0.03,  # m
    "iterations_per_level": (20, 10, 5),
    "convert_rgb_to_intensity": True,
}

_RAW_DEPTH_MAX = np.iinfo(np.uint16).max


@dataclass
class BaselineResult:
    """One system's run over a sequence.

    timestamps: (N,) float64 seconds of the frames processed. poses: (N,4,4) float64 T_world_cam
    (camera-to-world), poses[0] = identity. frames = N. failures: frames whose tracking failed and
    kept the previous pose (their indices in failed_frames). wall_s: seconds for the whole loop,
    frame decoding included; fps = frames / wall_s. cpu_s: CPU seconds (user + system, all
    threads) this process spent in the loop; unlike wall_s it barely changes when other work
    shares the cores, and cpu_s / wall_s is the parallelism achieved. stage_ms_median / stage_ms_mean: per-stage
    milliseconds per frame ('load' is decoding by semslam's reader, the rest the system's own
    stages). peak_rss_mb: peak resident memory (MiB) of the process that ran it, measured at the
    end of the run; rss_before_mb: its resident memory just before the run (interpreter, numpy,
    open3d loaded). isolated: True when it ran in its own child process (see run_isolated); an
    in-process peak is only the system's own when the process ran nothing bigger before.
    """

    name: str
    timestamps: np.ndarray
    poses: np.ndarray
    frames: int
    failures: int
    wall_s: float
    fps: float
    cpu_s: float
    stage_ms_median: dict[str, float]
    stage_ms_mean: dict[str, float]
    peak_rss_mb: float
    rss_before_mb: float
    open3d_version: str
    device: str
    params: dict[str, Any]
    sequence: str = ""
    failed_frames: list[int] = field(default_factory=list)
    isolated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as nested lists)."""
        d = asdict(self)
        d["timestamps"] = self.timestamps.tolist()
        d["poses"] = self.poses.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BaselineResult":
        d = dict(d)
        d["timestamps"] = np.asarray(d["timestamps"], dtype=np.float64).reshape(-1)
        d["poses"] = np.asarray(d["poses"], dtype=np.float64).reshape(-1, 4, 4)
        return cls(**d)


def _open3d():
    import open3d as o3d

    return o3d


def _check_params(given: dict[str, Any], defaults: dict[str, Any], system: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{system}: unknown parameter(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **given}


def _raw_depth(depth_m: np.ndarray, depth_scale: float) -> np.ndarray:
    """float32 metres (0 = no reading) -> uint16 raw units (metres * depth_scale, rounded), as the
    depth PNGs hold them; readings beyond the uint16 range become 0 (no reading)."""
    raw = np.rint(np.nan_to_num(depth_m, nan=0.0, posinf=0.0, neginf=0.0) * depth_scale)
    raw[(raw < 0) | (raw > _RAW_DEPTH_MAX)] = 0
    return np.ascontiguousarray(raw.astype(np.uint16))


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", file=sys.stderr, mininterval=1.0)


def _finish(
    name: str, seq, poses: list[np.ndarray], failed: list[int], wall_s: float, cpu_s: float, timer: StageTimers,
    rss_before: float, device: str, params: dict[str, Any],
) -> BaselineResult:
    o3d = _open3d()
    n = len(poses)
    return BaselineResult(
        name=name,
        timestamps=np.asarray(seq.timestamps[:n], dtype=np.float64),
        poses=np.asarray(poses, dtype=np.float64).reshape(n, 4, 4),
        frames=n,
        failures=len(failed),
        wall_s=wall_s,
        fps=n / wall_s if wall_s > 0 else float("nan"),
        cpu_s=cpu_s,
        stage_ms_median={stage: v["median_ms"] for stage, v in timer.summary().items()},
        stage_ms_mean={stage: v["mean_ms"] for stage, v in timer.summary().items()},
        peak_rss_mb=peak_rss_mb(),
        rss_before_mb=rss_before,
        open3d_version=o3d.__version__,
        device=device,
        params={k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        sequence=str(getattr(seq, "path", "")),
        failed_frames=failed,
    )


def run_open3d_tslam(seq, device: str = "CPU:0", progress: bool = True, **params) -> BaselineResult:
    """Open3D tensor dense SLAM over every frame of `seq` (a semslam.datasets.Sequence).

    Per frame, as in Open3D's dense_slam example: from the second frame on, track the frame
    against the model raycast of the previous pose (point-to-plane, coarse-to-fine 6/3/1
    iterations); a step with fitness < min_fitness or translation >= max_step_translation (m)
    fails and keeps the previous pose without integrating the frame (Open3D's C++ example);
    then integrate the frame into the TSDF and raycast the model at the new pose. Depth enters
    as uint16 raw units with the sequence's depth_scale, colour as uint8 RGB. `params` override
    TSLAM_DEFAULTS (units there). `device`: an Open3D device string ('CPU:0', 'CUDA:0').
    """
    o3d = _open3d()
    o3c = o3d.core
    p = _check_params(params, TSLAM_DEFAULTS, "open3d-tslam")
    intr = seq.intrinsics
    depth_scale = float(intr.depth_scale)
    dev = o3c.Device(device)
    sync = o3c.cuda.synchronize if dev.get_type() == o3c.Device.DeviceType.CUDA else (lambda: None)
    rss_before = current_rss_mb()

    start, cpu_start = time.perf_counter(), time.process_time()
    K = o3c.Tensor(intr.K, o3c.float64)
    T_world_cam = o3c.Tensor(np.eye(4), o3c.float64)
    model = o3d.t.pipelines.slam.Model(p["voxel_size"], p["block_resolution"], p["block_count"], T_world_cam, dev)
    input_frame = o3d.t.pipelines.slam.Frame(intr.height, intr.width, K, dev)
    raycast_frame = o3d.t.pipelines.slam.Frame(intr.height, intr.width, K, dev)
    timer = StageTimers()
    poses: list[np.ndarray] = []
    failed: list[int] = []
    for i in _progress(range(len(seq)), len(seq), "open3d t.slam", progress):
        with timer("load"):
            frame = seq[i]
        with timer("upload"):
            input_frame.set_data_from_image("depth", o3d.t.geometry.Image(o3c.Tensor(_raw_depth(frame.depth, depth_scale))).to(dev))
            input_frame.set_data_from_image("color", o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(frame.rgb))).to(dev))
        tracked = True
        if i > 0:
            with timer("track"):
                try:
                    result = model.track_frame_to_model(
                        input_frame, raycast_frame, depth_scale, p["depth_max"], p["odometry_distance_thr"]
                    )
                    T_prev_cur = result.transformation.cpu().numpy()
                    tracked = (
                        result.fitness >= p["min_fitness"]
                        and np.linalg.norm(T_prev_cur[:3, 3]) < p["max_step_translation"]
                    )
                except RuntimeError:  # e.g. no correspondences at all
                    tracked = False
                sync()
            if tracked:
                T_world_cam = T_world_cam @ o3c.Tensor(T_prev_cur, o3c.float64)
            else:
                failed.append(i)
        poses.append(T_world_cam.cpu().numpy().copy())
        model.update_frame_pose(i, T_world_cam)
        if tracked:
            with timer("integrate"):
                model.integrate(input_frame, depth_scale, p["depth_max"], p["trunc_voxel_multiplier"])
                sync()
        with timer("raycast"):
            model.synthesize_model_frame(
                raycast_frame, depth_scale, p["depth_min"], p["depth_max"], p["trunc_voxel_multiplier"], False
            )
            sync()
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return _finish("open3d-tslam", seq, poses, failed, wall_s, cpu_s, timer, rss_before, device, p)


def run_open3d_legacy_odometry(seq, progress: bool = True, **params) -> BaselineResult:
    """Open3D legacy frame-to-frame RGB-D odometry over every frame of `seq`, CPU only.

    Each frame becomes an RGBDImage (create_from_color_and_depth: uint16 raw depth with the
    sequence's depth_scale, truncated at depth_trunc m, colour converted to intensity); it is
    registered to the previous frame with compute_rgbd_odometry (hybrid Jacobian, identity
    initial motion), giving T_prev_cur, and poses chain as T_world_cur = T_world_prev @ T_prev_cur.
    A step that does not succeed keeps identity motion and counts as a failure. `params`
    override LEGACY_DEFAULTS (units there).
    """
    o3d = _open3d()
    p = _check_params(params, LEGACY_DEFAULTS, "open3d-legacy-odometry")
    intr = seq.intrinsics
    depth_scale = float(intr.depth_scale)
    rss_before = current_rss_mb()

    start, cpu_start = time.perf_counter(), time.process_time()
    pinhole = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy)
    option = o3d.pipelines.odometry.OdometryOption()
    option.depth_min = p["depth_min"]
    option.depth_max = p["depth_max"]
    option.depth_diff_max = p["depth_diff_max"]
    option.iteration_number_per_pyramid_level = o3d.utility.IntVector(list(p["iterations_per_level"]))
    jacobian = o3d.pipelines.odometry.RGBDOdometryJacobianFromHybridTerm()
    timer = StageTimers()
    poses: list[np.ndarray] = []
    failed: list[int] = []
    T_world_cam = np.eye(4)
    previous = None
    for i in _progress(range(len(seq)), len(seq), "open3d legacy odometry", progress):
        with timer("load"):
            frame = seq[i]
        with timer("create_rgbd"):
            current = o3d.geometry.RGBDImage.create_from_color_and_depth(
                o3d.geometry.Image(np.ascontiguousarray(frame.rgb)),
                o3d.geometry.Image(_raw_depth(frame.depth, depth_scale)),
                depth_scale=depth_scale,
                depth_trunc=p["depth_trunc"],
                convert_rgb_to_intensity=p["convert_rgb_to_intensity"],
            )
        if previous is not None:
            with timer("odometry"):
                # source = current, target = previous: the motion maps current-camera points
                # into the previous camera, i.e. it is T_prev_cur.
                success, T_prev_cur, _ = o3d.pipelines.odometry.compute_rgbd_odometry(
                    current, previous, pinhole, np.eye(4), jacobian, option
                )
            if success and np.all(np.isfinite(T_prev_cur)):
                T_world_cam = T_world_cam @ np.asarray(T_prev_cur)
            else:
                failed.append(i)
        poses.append(T_world_cam.copy())
        previous = current
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return _finish("open3d-legacy-odometry", seq, poses, failed, wall_s, cpu_s, timer, rss_before, "CPU:0", p)


SYSTEMS: dict[str, Callable[..., BaselineResult]] = {
    "tslam": run_open3d_tslam,
    "legacy": run_open3d_legacy_odometry,
}


def run_isolated(
    system: str,
    sequence_path: str | Path,
    start: int = 0,
    limit: int | None = None,
    stride: int = 1,
    *,
    device: str = "CPU:0",
    params: dict[str, Any] | None = None,
    progress: bool = True,
    timeout_s: float | None = None,
) -> BaselineResult:
    """Run baseline `system` ('tslam' or 'legacy') on a sequence in a fresh Python process and
    return its record (isolated=True), so that peak_rss_mb is that system's alone.

    The child is `python -m benchmarks.baselines.open3d_slam` with this interpreter; it opens the
    sequence with start/stride/limit (frames), passes `params` (overrides of TSLAM_DEFAULTS or
    LEGACY_DEFAULTS) and `device` (tslam only), shows progress on this stderr when `progress`,
    and writes its record to a temporary JSON file. A failing child raises RuntimeError with its
    exit status and the end of its output.
    """
    if system not in SYSTEMS:
        raise ValueError(f"unknown baseline {system!r}; known: {sorted(SYSTEMS)}")
    with tempfile.TemporaryDirectory(prefix="semslam-baseline-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable, "-m", "benchmarks.baselines.open3d_slam",
            "--sequence", str(Path(sequence_path).resolve()), "--system", system,
            "--start", str(start), "--stride", str(stride), "--out", str(out),
            "--device", device, "--params", json.dumps(params or {}),
        ]
        if limit is not None:
            cmd += ["--limit", str(limit)]
        if not progress:
            cmd.append("--no-progress")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE,
            text=True, timeout=timeout_s,
        )
        if proc.returncode != 0 or not out.is_file():
            tail = ((proc.stdout or "") + (proc.stderr or ""))[-2000:]
            raise RuntimeError(f"baseline {system!r} child process failed (exit {proc.returncode}):\n{tail}")
        record = BaselineResult.from_dict(json.loads(out.read_text()))
    record.isolated = True
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequence", type=Path, required=True, help="sequence folder (any format semslam reads)")
    parser.add_argument("--system", choices=sorted(SYSTEMS), required=True)
    parser.add_argument("--start", type=int, default=0, help="first frame")
    parser.add_argument("--limit", type=int, default=None, help="number of frames (default: all)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--device", default="CPU:0", help="Open3D device for tslam (CPU:0, CUDA:0)")
    parser.add_argument("--params", default="{}", help="JSON object of parameter overrides")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result record (JSON)")
    parser.add_argument("--trajectory", type=Path, default=None, help="also write the poses as a TUM file")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from semslam import datasets

    seq = datasets.open(args.sequence, start=args.start, stride=args.stride, limit=args.limit)
    params = json.loads(args.params)
    kwargs = {"device": args.device} if args.system == "tslam" else {}
    result = SYSTEMS[args.system](seq, progress=not args.no_progress, **kwargs, **params)
    save_json(args.out, result.to_dict())
    if args.trajectory is not None:
        from semslam.io.trajectory import write_tum_trajectory

        write_tum_trajectory(args.trajectory, result.timestamps, result.poses)
    print(
        f"{result.name}: {result.frames} frames, {result.failures} failures, {result.fps:.2f} frames/s, "
        f"peak RSS {result.peak_rss_mb:.0f} MiB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
