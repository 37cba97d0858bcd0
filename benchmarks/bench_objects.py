"""Object mapping's quality and cost on the synthetic room: `semslam run` without instances and
with the oracle instance segmenter (noisy: 20% missed, 10% false positives, 10% wrong classes;
perfect: none of that), then `semslam eval`. Per configuration: tracking frames/s, the frames the
instance worker applied / skipped, its segmentation ms, the object map's ms per frame, and object
recall, precision, duplicates, mean 3D box IoU (whole true box; the part the camera saw; that part
against the whole box); per class the mean box IoU, per true object its box IoU and the box's
extents along the true box's axes next to the true ones and the seen part's.

    python -m benchmarks.bench_objects [--frames 120] [--width 320 --height 240]
        [--trajectory tour|orbit|scan] [--fps 15 --speed 0.3] [--fuse-depth-max 5]
        [--configs none,noisy,perfect] [--seeds 0,1,2] [--worker thread|process] [--async]
        [--set SECTION.FIELD=VALUE] [--keep DIR] [--sequence DIR]
        [--out benchmarks/results/objects_<host>.json]

The sequences: a tour of the room (round the ring looking down at the middle, the gaze swinging;
15 frames/s at 0.3 m/s, 1.2 m in 60 frames, 2.4 m in 120: the middle things seen from 2 m, the
far side of the room from 3.5-5 m), the orbit (30 frames/s, 0.25 m/s: most things seen from one
side), or a scan (round the ring facing the walls and the furniture along them from 1-2 m, the
gaze panning slowly; 30 frames/s at 0.3 m/s, 3 m in 300 frames). Each configuration runs in its
own `semslam run` process. The synthetic things lie up to 5 m away: the runs fuse depth up to 5 m
(map.fuse_depth_max); every frame is segmented and its instances are applied before the next frame
is tracked (objects.wait_for_instances), so the objects do not depend on the machine's load; with
--async the worker runs as in a live run (its queue holds every frame: objects.queue_size), whose
frames/s and ms are the cost, but whose detections reach the map a load-dependent number of frames
late. With --seeds the noisy configuration runs once per oracle seed (objects.oracle.seed: which
detections are missed, false or of a wrong class), a row each, and the mean and the worst over them
are printed: one seed's numbers swing by a few hundredths of box IoU, and a seed can show a failure
that another hides.
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
from semslam.eval.objects import format_object_rows, object_rows

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

    config = SynthConfig(frames=frames, noise="kinect", width=width, height=height, fps=fps, speed=speed, seed=0,
                         trajectory=trajectory)
    return generate(tmp / "sequence", config)


def overrides(settings: list[str]) -> dict:
    """{"section": {"field": value}} from "section.field=value" strings (values read as YAML)."""
    import yaml

    out: dict = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"--set wants section.field=value, got {item!r}")
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    return out


def run_config(name: str, spec: str, sequence: Path, tmp: Path, worker: str, fuse_depth_max: float = 5.0,
               segment_every: int = 1, keep: Path | None = None, wait: bool = True,
               settings: list[str] = ()) -> dict:
    import yaml

    doc = {"map": {"fuse_depth_max": fuse_depth_max},
           "objects": {"worker": worker, "queue_size": 10000, "segment_every": segment_every,
                       "wait_for_instances": wait}}
    for section, fields in overrides(list(settings)).items():
        doc.setdefault(section, {}).update(fields)
    config = tmp / "bench.yaml"
    config.write_text(yaml.safe_dump(doc))
    folder = name.replace(":", "_").replace("=", "")  # noisy:seed=1 -> noisy_seed1
    out = tmp / folder
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
        row["box_iou_per_class"] = {c: r.get("box_iou") for c, r in sorted(ev["per_class"].items())}
        row["per_object"] = object_rows(ev)
    if keep is not None:
        import shutil

        shutil.copytree(out, keep / folder, dirs_exist_ok=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--trajectory", choices=["tour", "orbit", "scan"], default="tour")
    parser.add_argument("--fps", type=float, default=None, help="frames/s of the sequence (tour 15, orbit and scan 30)")
    parser.add_argument("--speed", type=float, default=None, help="m/s (tour and scan 0.3, orbit 0.25)")
    parser.add_argument("--fuse-depth-max", type=float, default=5.0, help="map.fuse_depth_max of the runs (m)")
    parser.add_argument("--segment-every", type=int, default=1, help="objects.segment_every of the runs")
    parser.add_argument("--configs", default="none,noisy,perfect", help="which of none, noisy, perfect to run")
    parser.add_argument("--seeds", default="0", help="oracle seeds of the noisy configuration, e.g. 0,1,2 (a row each)")
    parser.add_argument("--keep", type=Path, default=None, help="copy the run folders here")
    parser.add_argument("--sequence", type=Path, default=None,
                        help="run on this synthetic sequence (written by `semslam synth`) instead of making one "
                        "(its frames, trajectory, frames/s, speed and size replace the options')")
    parser.add_argument("--worker", choices=["thread", "process"], default="process")
    parser.add_argument("--async", dest="wait", action="store_false",
                        help="the instance worker runs asynchronously (objects.wait_for_instances off): the cost "
                        "as in a live run, but the objects depend on the machine's load")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="a config override for the runs (repeatable), e.g. map.unstable_time_object=200")
    parser.add_argument("--out", type=Path, default=RESULTS / f"objects_{platform.node() or 'host'}.json")
    args = parser.parse_args()
    if args.sequence is not None:  # the sequence's own settings
        made = json.loads((args.sequence / "semslam.json").read_text())["config"]
        args.frames, args.trajectory, args.fps, args.speed = made["frames"], made["trajectory"], made["fps"], made["speed"]
        args.width, args.height = made["width"], made["height"]
    with tempfile.TemporaryDirectory(prefix="bench_objects_") as tmp:
        tmp = Path(tmp)
        fps = args.fps or {"tour": 15.0, "orbit": 30.0, "scan": 30.0}[args.trajectory]
        speed = args.speed or {"tour": 0.3, "orbit": 0.25, "scan": 0.3}[args.trajectory]
        sequence = args.sequence or make_sequence(tmp, args.frames, args.width, args.height, args.trajectory, fps,
                                                  speed)
        names = args.configs.split(",")
        seeds = [int(v) for v in args.seeds.split(",")]
        runs = []
        for name, spec in CONFIGS.items():
            if name not in names:
                continue
            if name == "noisy" and seeds != [0]:
                runs += [(f"noisy:seed={k}", f"{spec},seed={k}") for k in seeds]
            else:
                runs.append((name, spec))
        rows = [run_config(name, spec, sequence, tmp, args.worker, args.fuse_depth_max, args.segment_every, args.keep,
                           args.wait, args.set)
                for name, spec in runs]
    for row in rows:
        if row.get("per_object"):
            print(f"\n{row['config']}:")
            print(format_object_rows(row["per_object"]))
            print("box IoU per class: " + ", ".join(f"{c} {v:.2f}" for c, v in row["box_iou_per_class"].items()
                                                    if v is not None))
    print(f"\nsynthetic room, {args.trajectory} of {args.frames} frames {args.width}x{args.height} at {fps:g} frames/s, "
          f"{speed:g} m/s, fuse_depth_max {args.fuse_depth_max:g} m, segment_every {args.segment_every}; "
          f"instance worker: {args.worker}, {'waited for (objects.wait_for_instances)' if args.wait else 'asynchronous'}"
          + (f"; {' '.join(args.set)}" if args.set else ""))
    print_table(rows, [("config", "config"), ("fps", "frames/s", ".2f"), ("frames_applied", "applied"),
                       ("frames_skipped_queue_full", "skipped"), ("segment_ms_mean", "segment ms", ".1f"),
                       ("objects_ms_per_frame", "objects ms/frame", ".1f"), ("present", "present"),
                       ("reported", "reported"), ("recall", "recall", ".3f"), ("precision", "precision", ".3f"),
                       ("duplicates", "dupl."), ("mean_box_iou", "box IoU", ".3f"),
                       ("mean_observed_box_iou", "IoU seen part", ".3f"),
                       ("mean_observable_box_iou", "seen/whole", ".3f")])
    noisy = [r for r in rows if r["config"].startswith("noisy:seed=") and "mean_box_iou" in r]
    if noisy:
        ious = [r["mean_box_iou"] for r in noisy]
        print(f"noisy over seeds {args.seeds}: box IoU mean {sum(ious) / len(ious):.3f}, worst {min(ious):.3f}; "
              f"worst recall {min(r['recall'] for r in noisy):.3f}, precision {min(r['precision'] for r in noisy):.3f}, "
              f"most duplicates {max(r['duplicates'] for r in noisy)}")
    path = save_json(args.out, {"commit": git_commit(), "machine": machine(), "frames": args.frames,
                                "size": [args.width, args.height], "trajectory": args.trajectory, "fps": fps,
                                "speed": speed, "fuse_depth_max": args.fuse_depth_max,
                                "segment_every": args.segment_every, "worker": args.worker,
                                "wait_for_instances": args.wait, "settings": args.set, "seeds": seeds,
                                "rows": rows})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
