"""The whole SLAM loop on every available device, on the same frames: accuracy (ATE), speed
(frames/s, per-stage ms) and agreement between devices (largest camera-position difference,
surfel counts). Each device runs the sequence twice; the second (warm) run is reported.

    python -m benchmarks.bench_devices [--data DIR] [--limit 30] [--out FILE]

Prints a table and saves JSON (default benchmarks/results/devices.json).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from benchmarks.common import machine, print_table, save_json
from semslam import datasets
from semslam.config import Config
from semslam.device import available_devices, build_info, device_name
from semslam.eval import evaluate_trajectory
from semslam.pipeline import SemanticSLAM

ROOT = Path(__file__).resolve().parents[1]
SEQUENCES = ["tum/rgbd_dataset_freiburg1_desk_9frames", "tum/rgbd_dataset_freiburg3_teddy_first200"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SEMSLAM_DATA", ROOT.parent / "shared" / "data")))
    parser.add_argument("--limit", type=int, default=30, help="frames per sequence")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "devices.json")
    args = parser.parse_args()

    rows = []
    for name in SEQUENCES:
        seq = datasets.open(args.data / name, limit=args.limit)
        gt_stamps, gt_poses = seq.ground_truth_poses()
        results = {}
        for device in available_devices():
            SemanticSLAM(Config(device=device)).run(seq)  # warm-up: allocations, CUDA context, caches
            result = SemanticSLAM(Config(device=device)).run(seq)
            results[device] = result
            ate = evaluate_trajectory(result.timestamps, result.poses, gt_stamps, gt_poses)["ate"]["rmse"]
            rows.append({
                "sequence": name.split("/")[-1], "device": device, "name": device_name(device),
                "frames": result.frames, "fps": result.frames / result.wall_s, "ate_cm": ate * 100,
                "failures": result.summary()["tracking_failures"], "surfels": result.surfels,
                "stages_ms": {k: v["mean_ms"] for k, v in result.timings.items()},
            })
        cpu = results["cpu"]
        for row in rows[-len(results):]:
            other = results[row["device"]]
            row["max_position_diff_vs_cpu_m"] = float(np.abs(other.poses[:, :3, 3] - cpu.poses[:, :3, 3]).max())
            row["surfels_vs_cpu"] = other.surfels / cpu.surfels - 1.0

    print_table(rows, [("sequence", "sequence"), ("device", "device"), ("frames", "frames"),
                       ("fps", "frames/s", ".1f"), ("ate_cm", "ATE cm", ".3f"), ("failures", "fail"),
                       ("surfels", "surfels"), ("max_position_diff_vs_cpu_m", "|dt| vs cpu m", ".2e"),
                       ("surfels_vs_cpu", "surfels vs cpu", "+.2%"), ("stages_ms.track", "track ms", ".2f"),
                       ("stages_ms.predict", "predict ms", ".2f"), ("stages_ms.fuse", "fuse ms", ".2f"),
                       ("stages_ms.preprocess", "preproc ms", ".2f")])
    save_json(args.out, {"benchmark": "devices", "command": "python -m benchmarks.bench_devices", "limit": args.limit,
                         "build": build_info(), "machine": machine(), "rows": rows})
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
