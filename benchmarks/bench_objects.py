"""Object mapping's quality and cost on the synthetic room: `semslam run` without instances and
with the oracle instance segmenter (noisy: 20% missed, 10% false positives, 10% wrong classes;
perfect: none of that), then `semslam eval`. Per configuration: tracking frames/s, the frames the
instance worker applied / skipped, its segmentation ms, the object map's ms per frame, and object
recall, precision, duplicates, mean 3D box IoU (whole true box; the part the camera saw; that part
against the whole box).

    python -m benchmarks.bench_objects [--frames 120] [--width 320 --height 240]
        [--worker thread|process] [--out benchmarks/results/objects_<host>.json]

Each configuration runs in its own `semslam run` process. The synthetic things lie up to 5 m away:
the runs fuse depth up to 5 m (map.fuse_depth_max).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import git_commit, machine, print_table, save_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = {"none": "none", "noisy": "oracle:noisy", "perfect": "oracle:perfect"}


def semslam(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "semslam", *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"semslam {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result


def make_sequence(tmp: Path, frames: int, width: int, height: int) -> Path:
    from semslam.config import SynthConfig
    from semslam.datasets.synthetic import generate

    return generate(tmp / "sequence", SynthConfig(frames=frames, noise="kinect", trajectory="orbit", width=width,
                                                  height=height, seed=0))


def run_config(name: str, spec: str, sequence: Path, tmp: Path, worker: str) -> dict:
    config = tmp / "bench.yaml"
    config.write_text(f"map:\n  fuse_depth_max: 5.0\nobjects:\n  worker: {worker}\n")
    out = tmp / name
    semslam("run", str(sequence), "--out", str(out), "--instances", spec, "-c", str(config))
    summary = json.loads((out / "summary.json").read_text())
    row = {"config": name, "instances": spec, "fps": summary.get("frames_per_second"),
           "stage_ms": summary.get("stages_ms", {})}
    objects = summary.get("objects")
    if objects:
        row.update({k: objects[k] for k in ("frames_applied", "frames_skipped_queue_full", "segment_ms_mean",
                                            "objects_ms_mean", "objects_ms_per_frame", "detections", "new_objects",
                                            "merged", "dropped")})
        semslam("eval", str(out))
        ev = json.loads((out / "objects_eval.json").read_text())
        row.update({k: ev[k] for k in ("present", "reported", "recall", "precision", "duplicates", "false_positives",
                                       "mean_box_iou", "mean_observed_box_iou", "mean_observable_box_iou")})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--worker", choices=["thread", "process"], default="thread")
    parser.add_argument("--out", type=Path, default=RESULTS / f"objects_{platform.node() or 'host'}.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_objects_") as tmp:
        tmp = Path(tmp)
        sequence = make_sequence(tmp, args.frames, args.width, args.height)
        rows = [run_config(name, spec, sequence, tmp, args.worker) for name, spec in CONFIGS.items()]
    print(f"synthetic room, {args.frames} frames {args.width}x{args.height}, instance worker: {args.worker}")
    print_table(rows, [("config", "config"), ("fps", "frames/s", ".2f"), ("frames_applied", "applied"),
                       ("frames_skipped_queue_full", "skipped"), ("segment_ms_mean", "segment ms", ".1f"),
                       ("objects_ms_per_frame", "objects ms/frame", ".1f"), ("present", "present"),
                       ("reported", "reported"), ("recall", "recall", ".3f"), ("precision", "precision", ".3f"),
                       ("duplicates", "dupl."), ("mean_box_iou", "box IoU", ".3f"),
                       ("mean_observed_box_iou", "IoU seen part", ".3f"),
                       ("mean_observable_box_iou", "seen/whole", ".3f")])
    path = save_json(args.out, {"commit": git_commit(), "machine": machine(), "frames": args.frames,
                                "size": [args.width, args.height], "worker": args.worker, "rows": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
