"""semslam against Open3D on the same frames, in one invocation: Open3D's tensor SLAM
(t.pipelines.slam with its dense_slam example's parameters) and Open3D's legacy frame-to-frame
RGB-D odometry (hybrid term). Each system runs in its own process, so its peak memory is its own.

    python -m benchmarks.bench_slam [--sequence DIR] [--limit N] [--systems semslam,tslam,legacy]
                                    [--repeat N] [--out FILE]

Prints a table (ATE RMSE, RPE, frames/s with frame reading included, per-stage ms, peak memory)
and the ratios semslam / Open3D; saves JSON (default benchmarks/results/slam_<sequence>.json).
With --repeat N every system runs N times, in interleaved rounds (a machine whose speed drifts
affects all systems alike); each system's row is its run of median frames/s, with all of its
runs' frames/s listed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.baselines import run_isolated
from benchmarks.common import git_commit, machine, print_table, save_json
from semslam import datasets
from semslam.eval import evaluate_trajectory

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEQUENCE = Path(os.environ.get("SEMSLAM_DATA", ROOT.parent / "shared" / "data")) / "tum" / \
    "rgbd_dataset_freiburg3_teddy_first200"


def run_semslam(sequence: Path, limit: int | None, config: Path | None) -> dict:
    """`semslam run` in a child process; its summary plus the trajectory."""
    with tempfile.TemporaryDirectory(prefix="semslam-bench-") as tmp:
        cmd = [sys.executable, "-m", "semslam", "run", str(sequence), "--out", tmp]
        if limit is not None:
            cmd += ["--limit", str(limit)]
        if config is not None:
            cmd += ["--config", str(config)]
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"semslam run failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        from semslam.io.trajectory import read_tum_trajectory

        stamps, poses = read_tum_trajectory(Path(tmp) / "trajectory.txt")
    stages = summary["stages_ms"]
    loop_s = summary["wall_s"] + stages.get("read", {}).get("total_s", 0.0)
    return {
        "system": "semslam", "frames": summary["frames"], "failures": summary["tracking_failures"],
        "fps": summary["frames"] / loop_s, "peak_rss_mb": summary["peak_rss_mb"],
        "stage_ms_median": {k: v["median_ms"] for k, v in stages.items()},
        "stage_ms_mean": {k: v["mean_ms"] for k, v in stages.items()},
        "timestamps": stamps, "poses": poses, "device": summary["device"],
    }


def run_system(system: str, args, gt_stamps, gt_poses) -> dict:
    """One run of `system` on the sequence: its row of the table."""
    if system == "semslam":
        row = run_semslam(args.sequence, args.limit, args.config)
    else:
        record = run_isolated(system, args.sequence, limit=args.limit, progress=False).to_dict()
        row = {"system": record["name"], "frames": record["frames"], "failures": record["failures"],
               "fps": record["fps"], "peak_rss_mb": record["peak_rss_mb"],
               "stage_ms_median": record["stage_ms_median"], "stage_ms_mean": record["stage_ms_mean"],
               "timestamps": record["timestamps"], "poses": record["poses"], "device": record["device"]}
    metrics = evaluate_trajectory(row.pop("timestamps"), row.pop("poses"), gt_stamps, gt_poses)
    row["ate_cm"] = metrics["ate"]["rmse"] * 100
    row["rpe_frame_cm"] = metrics["rpe"]["translation_per_frame"]["rmse"] * 100
    per_second = metrics["rpe"]["translation_per_second"]
    row["rpe_second_cm"] = per_second["rmse"] * 100 if per_second else float("nan")
    row["stages"] = ", ".join(f"{k} {v:.0f}" for k, v in row["stage_ms_mean"].items())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequence", type=Path, default=DEFAULT_SEQUENCE)
    parser.add_argument("--limit", type=int, default=None, help="frames (default: all)")
    parser.add_argument("--systems", default="semslam,tslam,legacy")
    parser.add_argument("--config", type=Path, default=None, help="semslam config file")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each system, in interleaved rounds")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    seq = datasets.open(args.sequence, limit=args.limit)
    gt_stamps, gt_poses = seq.ground_truth_poses()

    systems = args.systems.split(",")
    runs: dict[str, list[dict]] = {system: [] for system in systems}
    for round_index in range(args.repeat):
        for system in systems:
            note = f" (round {round_index + 1} of {args.repeat})" if args.repeat > 1 else ""
            print(f"running {system} on {len(seq)} frames of {seq.name}{note} ...", file=sys.stderr, flush=True)
            runs[system].append(run_system(system, args, gt_stamps, gt_poses))
    rows = []
    for system in systems:
        by_fps = sorted(runs[system], key=lambda r: r["fps"])
        row = dict(by_fps[(len(by_fps) - 1) // 2])  # the median run (the lower middle one of an even count)
        row["fps_runs"] = [r["fps"] for r in runs[system]]
        rows.append(row)


    ours = next((r for r in rows if r["system"] == "semslam"), None)
    if ours is not None:
        for row in rows:
            row["ate_ratio"] = ours["ate_cm"] / row["ate_cm"]
            row["fps_ratio"] = ours["fps"] / row["fps"]
            row["memory_ratio"] = ours["peak_rss_mb"] / row["peak_rss_mb"]
    print(f"\n{seq.name}: {len(seq)} frames; frames/s include frame reading; ratios are semslam / system")
    print_table(rows, [("system", "system"), ("frames", "frames"), ("failures", "fail"), ("ate_cm", "ATE cm", ".2f"),
                       ("rpe_frame_cm", "RPE/frame cm", ".3f"), ("rpe_second_cm", "RPE/s cm", ".2f"),
                       ("fps", "frames/s", ".2f"), ("peak_rss_mb", "peak MB", ".0f"), ("ate_ratio", "ATE ratio", ".2f"),
                       ("fps_ratio", "fps ratio", ".2f"), ("memory_ratio", "mem ratio", ".2f")])
    print("\nmean ms per frame by stage:")
    for row in rows:
        print(f"  {row['system']:<24} {row['stages']}")
    if args.repeat > 1:
        print("\nframes/s of every run:")
        for row in rows:
            print(f"  {row['system']:<24} " + ", ".join(f"{fps:.2f}" for fps in row["fps_runs"]))
    out = args.out or ROOT / "benchmarks" / "results" / f"slam_{seq.name}.json"
    save_json(out, {"benchmark": "slam", "sequence": str(args.sequence), "frames": len(seq),
                    "command": "python -m benchmarks.bench_slam " + " ".join(sys.argv[1:]),
                    "repeat": args.repeat, "commit": git_commit(), "machine": machine(), "rows": rows})
    print(f"saved {out}")


if __name__ == "__main__":
    main()
