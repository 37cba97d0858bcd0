"""Benchmark of the preprocessing kernels (bilateral filter, vertex map, normal map) at 640x480
on a real TUM depth frame, on every available device, against the numpy reference.

Prints a table and saves JSON (default benchmarks/results/preprocess.json):
    python benchmarks/bench_preprocess.py [--repeats 50] [--out FILE] [--data DIR]
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

from semslam.config import PreprocessConfig
from semslam.datasets.frame import Intrinsics
from semslam.device import available_devices, build_info, device_name
from semslam.mapping import bilateral_filter, normal_map, vertex_map
from semslam.mapping import reference as ref

ROOT = Path(__file__).resolve().parents[1]
FR1 = Intrinsics(517.3, 516.5, 318.6, 255.3, 640, 480, depth_scale=5000.0)


def load_depth(data: Path) -> np.ndarray:
    folder = data / "tum" / "rgbd_dataset_freiburg1_desk_9frames" / "depth"
    files = sorted(folder.glob("*.png"))
    if not files:
        raise SystemExit(f"no depth PNGs in {folder}: pass --data or set SEMSLAM_DATA")
    return cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).astype(np.float32) / FR1.depth_scale


def time_ms(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, CUDA context)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "preprocess.json")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SEMSLAM_DATA", ROOT.parent / "shared" / "data")))
    args = parser.parse_args()

    depth = load_depth(args.data)
    cfg = PreprocessConfig()
    filtered = bilateral_filter(depth, cfg)
    vertices = vertex_map(filtered, FR1)
    rows = []
    for device in available_devices():
        # each timing includes the host->device upload and device->host download of the call
        rows.append({
            "device": device, "name": device_name(device),
            "bilateral_ms": time_ms(lambda: bilateral_filter(depth, cfg, device), args.repeats),
            "vertex_map_ms": time_ms(lambda: vertex_map(filtered, FR1, device), args.repeats),
            "normal_map_ms": time_ms(lambda: normal_map(vertices, device), args.repeats),
        })
    reps = max(1, args.repeats // 10)
    rows.append({
        "device": "numpy-reference", "name": platform.processor() or platform.machine(),
        "bilateral_ms": time_ms(lambda: ref.bilateral_filter(depth, cfg.bilateral_radius, cfg.bilateral_sigma_space,
                                                             cfg.bilateral_sigma_depth, cfg.depth_min, cfg.depth_max), reps),
        "vertex_map_ms": time_ms(lambda: ref.vertex_map(filtered, FR1.fx, FR1.fy, FR1.cx, FR1.cy), reps),
        "normal_map_ms": time_ms(lambda: ref.normal_map(vertices), reps),
    })

    print(f"preprocessing at {depth.shape[1]}x{depth.shape[0]}, median of {args.repeats} (ms, incl. transfers)")
    print(f"{'device':<16} {'name':<28} {'bilateral':>10} {'vertex':>8} {'normal':>8}")
    for r in rows:
        print(f"{r['device']:<16} {r['name'][:28]:<28} {r['bilateral_ms']:>10.2f} {r['vertex_map_ms']:>8.2f} {r['normal_map_ms']:>8.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "preprocess", "image": list(depth.shape), "repeats": args.repeats,
              "config": cfg.model_dump(), "build": build_info(), "cpu_count": os.cpu_count(),
              "command": "python benchmarks/bench_preprocess.py", "rows": rows}
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
