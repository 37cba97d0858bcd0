"""Object mapping's quality and cost on the synthetic room: `semslam run` without instances and
with the oracle instance segmenter (noisy: 20% missed, 10% false positives, 10% wrong classes;
perfect: none of that), then `semslam eval`. Per configuration: tracking frames/s, the frames the
instance worker applied / skipped, its segmentation ms, the object map's ms per frame, and object
recall, precision, duplicates, mean 3D box IoU (whole true box; the part the camera saw; that part
against the whole box).

    python -m benchmarks.bench_objects [--frames 120] [--width 320 --height 240]
        [--trajectory tour|orbit] [--fps 15 --speed 0.3] [--worker thread|process]
        [--out benchmarks/results/objects_<host>.json]

The sequence: a tour of the room (round the ring looking down at the middle, the gaze swinging:
things seen from several sides; 15 frames/s at 0.3 m/s, 2.4 m in 120 frames), or the orbit (30
frames/s, 0.25 m/s: most things seen from one side). Each configuration runs in its own `semslam
run` process. The synthetic things lie up to 5 m away: the runs fuse depth up to 5 m
(map.fuse_depth_max); the instance worker's queue holds every frame (objects.queue_size), so every
frame is segmented whatever the machine's load.
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


def make_sequence(tmp: Path, frames: int, width: int, height: int, trajectory: str = "tour", fps: float = 15.0,
                  speed: float = 0.3) -> Path:
    from semslam.config import SynthConfig
    from semslam.datasets.synthetic import generate

    return generate(tmp / "sequence", SynthConfig(frames=frames, noise="kinect", trajectory=trajectory, width=width,
                                                  height=height, fps=fps, speed=speed, seed=0))


def run_config(name: str, spec: str, sequence: Path, tmp: Path, worker: str) -> dict:
    config = tmp / "bench.yaml"
    config.write_text(f"map:\n  fuse_depth_max: 5.0\nobjects:\n  worker: {worker}\n  queue_size: 10000\n")
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
    parser.add_argument("--trajectory", choices=["tour", "orbit"], default="tour")
    parser.add_argument("--fps", type=float, default=None, help="frames/s of the sequence (tour 15, orbit 30)")
    parser.add_argument("--speed", type=float, default=None, help="m/s (tour 0.3, orbit 0.25)")
    parser.add_argument("--worker", choices=["thread", "process"], default="process")
    parser.add_argument("--out", type=Path, default=RESULTS / f"objects_{platform.node() or 'host'}.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_objects_") as tmp:
        tmp = Path(tmp)
        tour = args.trajectory == "tour"
        fps = args.fps or (15.0 if tour else 30.0)
        speed = args.speed or (0.3 if tour else 0.25)
        sequence = make_sequence(tmp, args.frames, args.width, args.height, args.trajectory, fps, speed)
        rows = [run_config(name, spec, sequence, tmp, args.worker) for name, spec in CONFIGS.items()]
    print(f"synthetic room, {args.trajectory} of {args.frames} frames {args.width}x{args.height} at {fps:g} frames/s, "
          f"{speed:g} m/s; instance worker: {args.worker}")
    print_table(rows, [("config", "config"), ("fps", "frames/s", ".2f"), ("frames_applied", "applied"),
                       ("frames_skipped_queue_full", "skipped"), ("segment_ms_mean", "segment ms", ".1f"),
                       ("objects_ms_per_frame", "objects ms/frame", ".1f"), ("present", "present"),
                       ("reported", "reported"), ("recall", "recall", ".3f"), ("precision", "precision", ".3f"),
                       ("duplicates", "dupl."), ("mean_box_iou", "box IoU", ".3f"),
                       ("mean_observed_box_iou", "IoU seen part", ".3f"),
                       ("mean_observable_box_iou", "seen/whole", ".3f")])
    path = save_json(args.out, {"commit": git_commit(), "machine": machine(), "frames": args.frames,
                                "size": [args.width, args.height], "trajectory": args.trajectory, "fps": fps,
                                "speed": speed, "worker": args.worker, "rows": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
