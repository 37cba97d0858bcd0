"""Benchmark of the per-frame preprocessing kernels at 640x480 on a real TUM frame (fr3/teddy, frame 0),
on every available device, against the numpy reference; wall and CPU (core) milliseconds.

Kernels: the bilateral filter, vertex map, normal map (preprocessing) and the pyramid kernels of
tracking (RGB -> intensity, intensity and depth pyrDown, intensity gradients, point pyrDown),
each called on its full-resolution (level 0) input. Each timing goes through the Python binding,
so it includes the binding's copy of the input and output (on the CPU a memcpy, about 0.1 ms per
MB at 640x480, which bounds the speed-up a faster kernel can show here).

Prints a table and saves JSON (default benchmarks/results/preprocess.json):
    python benchmarks/bench_preprocess.py [--repeats 50] [--out FILE] [--data DIR] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from semslam.config import PreprocessConfig, TrackingConfig
from semslam.datasets.frame import Intrinsics
from semslam.device import available_devices, build_info, device_name
from semslam.mapping import bilateral_filter, normal_map, vertex_map
from semslam.mapping import odometry as odo
from semslam.mapping import reference as ref
from semslam.mapping import reference_odometry as ref_odo

ROOT = Path(__file__).resolve().parents[1]
FR3 = Intrinsics(535.4, 539.2, 320.1, 247.6, 640, 480, depth_scale=5000.0)
SEQUENCE = "rgbd_dataset_freiburg3_teddy_first200"
KERNELS = ["bilateral", "vertex_map", "normal_map", "rgb_to_intensity", "pyr_down_intensity", "pyr_down_depth",
           "intensity_gradients", "pyr_down_points", "pyr_down_normals"]


def load_frame(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The sequence's first depth image (metres) and first RGB image (uint8 RGB)."""
    folder = data / "tum" / SEQUENCE
    depth_files, rgb_files = sorted((folder / "depth").glob("*.png")), sorted((folder / "rgb").glob("*.png"))
    if not depth_files or not rgb_files:
        raise SystemExit(f"no depth/rgb PNGs in {folder}: pass --data or set SEMSLAM_DATA")
    depth = cv2.imread(str(depth_files[0]), cv2.IMREAD_UNCHANGED).astype(np.float32) / FR3.depth_scale
    rgb = cv2.cvtColor(cv2.imread(str(rgb_files[0]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return depth, np.ascontiguousarray(rgb)


def time_ms(fn, repeats: int) -> tuple[float, float]:
    """Medians of the wall time and of the process CPU time (all threads: core-ms) of a call. On a
    shared machine the CPU time is the steadier figure: another process holding a core delays
    an OpenMP barrier by a scheduler slice (wall times jump by ~4-12 ms) but adds little CPU time."""
    fn()  # warm-up (allocations, CUDA context)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "preprocess.json")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SEMSLAM_DATA", ROOT.parent / "shared" / "data")))
    parser.add_argument("--no-reference", action="store_true", help="skip the (slow) numpy reference row")
    args = parser.parse_args()

    depth, rgb = load_frame(args.data)
    cfg, sigma = PreprocessConfig(), TrackingConfig().pyramid_sigma_depth
    filtered = bilateral_filter(depth, cfg)
    vertices = vertex_map(filtered, FR3)
    normals = normal_map(vertices)
    intensity = odo.rgb_to_intensity(rgb)
    calls = {
        "bilateral": lambda dev: bilateral_filter(depth, cfg, dev),
        "vertex_map": lambda dev: vertex_map(filtered, FR3, dev),
        "normal_map": lambda dev: normal_map(vertices, dev),
        "rgb_to_intensity": lambda dev: odo.rgb_to_intensity(rgb, dev),
        "pyr_down_intensity": lambda dev: odo.pyr_down_intensity(intensity, dev),
        "pyr_down_depth": lambda dev: odo.pyr_down_depth(filtered, sigma, dev),
        "intensity_gradients": lambda dev: odo.intensity_gradients(intensity, dev),
        "pyr_down_points": lambda dev: odo.pyr_down_points(vertices, False, dev),
        "pyr_down_normals": lambda dev: odo.pyr_down_points(normals, True, dev),
    }
    rows = []
    for device in available_devices():
        # each timing includes the host->device upload and device->host download of the call
        row = {"device": device, "name": device_name(device)}
        for kernel in KERNELS:
            row[f"{kernel}_ms"], row[f"{kernel}_cpu_ms"] = time_ms(lambda: calls[kernel](device), args.repeats)
        rows.append(row)
    if not args.no_reference:
        reps = max(1, args.repeats // 10)
        ref_calls = {
            "bilateral": lambda: ref.bilateral_filter(depth, cfg.bilateral_radius, cfg.bilateral_sigma_space,
                                                      cfg.bilateral_sigma_depth, cfg.depth_min, cfg.depth_max),
            "vertex_map": lambda: ref.vertex_map(filtered, FR3.fx, FR3.fy, FR3.cx, FR3.cy),
            "normal_map": lambda: ref.normal_map(vertices),
            "rgb_to_intensity": lambda: ref_odo.rgb_to_intensity(rgb),
            "pyr_down_intensity": lambda: ref_odo.pyr_down_intensity(intensity),
            "pyr_down_depth": lambda: ref_odo.pyr_down_depth(filtered, sigma),
            "intensity_gradients": lambda: ref_odo.intensity_gradients(intensity),
        }
        row = {"device": "numpy-reference", "name": platform.processor() or platform.machine()}
        for kernel in KERNELS:
            if kernel in ref_calls:
                row[f"{kernel}_ms"], row[f"{kernel}_cpu_ms"] = time_ms(ref_calls[kernel], reps)
        rows.append(row)

    print(f"kernels at {depth.shape[1]}x{depth.shape[0]} ({SEQUENCE}), median of {args.repeats} "
          f"(ms, incl. transfers; {os.environ.get('OMP_NUM_THREADS', 'default')} OpenMP threads)")
    print(f"{'kernel':<22}" + "".join(f"{r['device'] + ' wall/cpu':>24}" for r in rows))
    for kernel in KERNELS:
        cells = "".join(f"{r[f'{kernel}_ms']:>13.3f}/{r[f'{kernel}_cpu_ms']:<10.3f}" if f"{kernel}_ms" in r
                        else f"{'-':>24}" for r in rows)
        print(f"{kernel:<22}{cells}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "preprocess", "sequence": SEQUENCE, "image": list(depth.shape), "repeats": args.repeats,
              "config": cfg.model_dump(), "pyramid_sigma_depth": sigma, "build": build_info(),
              "cpu_count": os.cpu_count(), "command": "python benchmarks/bench_preprocess.py", "rows": rows}
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
