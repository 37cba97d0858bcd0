"""Label fusion's cost and gain: tracking frames/s without a segmenter and with one running
asynchronously (ONNX ENet-NYU40 and DeepLabV3-ADE20K every k-th frame; the oracle on the synthetic
room), the label update's ms per frame and its share of the frame time, and per-frame vs fused vs
fused + CRF mIoU on a synthetic sequence with exact labels. Pictures of the labelled fr3/teddy map.

    python -m benchmarks.bench_semantics [--synthetic-frames 120] [--teddy-frames 100] [--every 10]
        [--device cpu] [--threads N] [--worker process|thread] [--repeat N]
        [--out benchmarks/results/semantics_<host>.json]

0 frames skips a sequence. With --repeat N each configuration runs N times, interleaved with the
others, and the run with the median frames/s is reported.

Each configuration runs in its own process (`semslam run` semantics through `_run_sequence`), so
one does not warm or slow another. frames/s counts the per-frame loop (reading included); the
wait for the last segmentations and the final CRF at the end of the run are reported apart
(finish_s). Prints a table; saves JSON and benchmarks/results/teddy_labels_<model>.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import git_commit, machine, print_table, save_json

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEMSLAM_DATA", ROOT.parent / "shared" / "data"))
MODELS = Path(os.environ.get("SEMSLAM_MODELS", ROOT.parent / "shared" / "models"))
TEDDY = DATA / "tum" / "rgbd_dataset_freiburg3_teddy_first200"
RESULTS = ROOT / "benchmarks" / "results"

# (name, segmenter spec, map label set)
SEGMENTERS = {
    "none": ("none", "nyu40"),
    "enet": (f"onnx:{MODELS / 'enet_scannet_nyu40.onnx'}", "nyu40"),
    "ade20k": (f"onnx:{MODELS / 'ade20k_deeplabv3_mnv2.onnx'}", "ade20k"),
    "oracle": ("oracle:moderate", "nyu40"),
}


def child(args) -> None:
    """One run in this process: print its summary (and semantic evaluation) as JSON on stdout."""
    from semslam import datasets
    from semslam.cli import _run_sequence
    from semslam.config import Config
    from semslam.eval.semantic import evaluate_semantic_run
    from semslam.segmentation import make_segmenter

    spec, labels = SEGMENTERS[args.segmenter]
    cfg = Config()
    cfg.device = args.device
    cfg.dataset.limit = args.limit
    cfg.semantics.segment_every = args.every
    cfg.semantics.labels = labels
    cfg.semantics.worker = args.worker
    if args.segmenter == "oracle":  # the accuracy row: every due frame segmented, whatever the machine's speed
        cfg.semantics.queue_size = 10_000
    seq = datasets.open(args.sequence, cfg.dataset)
    segmenter = make_segmenter(spec, labels, args.device, oracle=cfg.semantics.oracle, threads=args.threads or None)
    if segmenter is not None:
        cfg.semantics.segmenter = spec
    summary = _run_sequence(seq, cfg, args.run_dir, quiet=True, segmenter=segmenter)
    semantic = None
    if segmenter is not None and seq.has_labels:
        semantic = evaluate_semantic_run(args.run_dir, seq, device=args.device)
    print("RESULT " + json.dumps({"summary": summary, "semantic": semantic}, default=float))


def run_child(sequence: Path, segmenter: str, limit: int | None, every: int, device: str, threads: int,
              run_dir: Path, worker: str = "process") -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_semantics", "--child", "--sequence", str(sequence),
           "--segmenter", segmenter, "--every", str(every), "--device", device, "--threads", str(threads),
           "--run-dir", str(run_dir), "--worker", worker] + (["--limit", str(limit)] if limit else [])
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{segmenter} on {sequence.name} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    out = json.loads(lines[-1][len("RESULT "):])
    return row_of(sequence.name, segmenter, out["summary"], out["semantic"])


def run_repeated(repeat: int, sequence: Path, segmenters: list[str], limit: int | None, every_of, args, tmp: Path,
                 tag: str) -> list[dict]:
    """Each segmenter's row, run `repeat` times with the segmenters interleaved (so a slow spell of
    the machine hits them alike); the row of the run with the median frames/s, with every run's
    frames/s in fps_runs."""
    runs: dict[str, list[dict]] = {seg: [] for seg in segmenters}
    for r in range(repeat):
        for seg in segmenters:
            print(f"{tag}: {seg} (run {r + 1}/{repeat})", file=sys.stderr)
            runs[seg].append(run_child(sequence, seg, limit, every_of(seg), args.device, args.threads,
                                       tmp / f"{tag}_{seg}_{r}", args.worker))
    rows = []
    for seg in segmenters:
        ordered = sorted(runs[seg], key=lambda row: row["fps"])
        row = ordered[len(ordered) // 2]
        row["fps_runs"] = [round(x["fps"], 3) for x in runs[seg]]
        row["run_dir"] = str(tmp / f"{tag}_{seg}_{runs[seg].index(row)}")
        rows.append(row)
    return rows


def row_of(sequence: str, segmenter: str, summary: dict, semantic: dict | None) -> dict:
    stages = summary["stages_ms"]
    frame_s = stages["frame"]["total_s"] + stages.get("read", {}).get("total_s", 0.0)
    sem = summary.get("semantics") or {}
    labels_s = stages.get("labels", {}).get("total_s", 0.0)
    row = {
        "sequence": sequence, "segmenter": segmenter, "frames": summary["frames"], "every": sem.get("segment_every"),
        "failures": summary["tracking_failures"],
        "fps": summary["frames"] / frame_s,
        "frame_ms": stages["frame"]["mean_ms"],
        "finish_s": stages.get("finish", {}).get("total_s", 0.0),
        "segmented": sem.get("frames_segmented"), "skipped": sem.get("frames_skipped_queue_full"),
        "segment_ms": sem.get("segment_ms_mean"), "queue_wait_ms": sem.get("queue_wait_ms_mean"),
        "label_update_ms": sem.get("label_update_ms_mean"),
        "label_ms_per_frame": sem.get("label_update_ms_per_frame"),
        "label_share": labels_s / stages["frame"]["total_s"] if sem else None,
        "crf_ms": sem.get("crf_ms_mean"),
        "surfels": summary["surfels"], "stable_surfels": summary["stable_surfels"],
        "bytes_per_surfel": summary["bytes_per_surfel"],
    }
    if semantic:
        row["miou_per_frame"] = semantic["per_frame"]["miou"]
        row["miou_fused"] = semantic.get("map_before_crf", semantic["map"])["miou"]
        row["miou_crf"] = semantic["map"]["miou"]
        row["map_coverage"] = semantic["map_coverage"]
        row["semantic"] = semantic
    row["summary_semantics"] = sem or None
    return row


def classes_of(run_dir: Path, top: int = 12) -> list[dict]:
    """The classes of the stable surfels of a run's map.ply, by surfel share."""
    from semslam.io.ply import parse_label_set_comments, read_ply

    vertices, comments = read_ply(run_dir / "map.ply")
    _, names = parse_label_set_comments(comments)
    counts = np.bincount(vertices["label"], minlength=len(names))
    order = [c for c in np.argsort(-counts) if counts[c] > 0][:top]
    return [{"class": names[c], "id": int(c), "share": float(counts[c] / counts.sum())} for c in order]


def picture(run_dir: Path, path: Path, title: str) -> None:
    """The labelled map seen from above and behind the first camera: points of map.ply projected
    with a z-buffer (no GL context), colour on the left, labels on the right with a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from semslam.io.atomic import atomic_open
    from semslam.io.ply import parse_label_set_comments, read_ply
    from semslam.segmentation.labels import get_label_set

    vertices, comments = read_ply(run_dir / "map.ply")
    name, names = parse_label_set_comments(comments)
    palette = get_label_set(name).colours
    p = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1).astype(np.float64)
    centre = np.median(p, axis=0)
    # a virtual camera 0.6 m further back and 0.5 m higher than the first camera (y down), looking at the centre
    eye = np.array([0.0, -0.5, -0.6])
    forward = (centre - eye) / np.linalg.norm(centre - eye)
    right = np.cross(forward, [0.0, -1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # world -> camera rows
    q = (p - eye) @ R.T
    w, h = 800, 600
    front = q[:, 2] > 0.1
    x, y, z = q[front, 0] / q[front, 2], q[front, 1] / q[front, 2], q[front, 2]
    (x0, x1), (y0, y1) = np.percentile(x, [1, 99]), np.percentile(y, [1, 99])
    f = 0.9 * min(w / max(x1 - x0, 1e-6), h / max(y1 - y0, 1e-6))  # the map fills the picture
    u = np.round(f * (x - (x0 + x1) / 2) + w / 2).astype(int)
    v = np.round(f * (y - (y0 + y1) / 2) + h / 2).astype(int)
    radius_px = np.clip(np.ceil(f * vertices["radius"][front] / z), 1, 4).astype(int)
    rgb = np.stack([vertices["red"], vertices["green"], vertices["blue"]], axis=1)[front]
    labels = vertices["label"][front]
    depth = np.full((h, w), np.inf)
    colour_img = np.full((h, w, 3), 255, np.uint8)
    label_img = np.full((h, w, 3), 255, np.uint8)
    for i in np.argsort(-z):  # far to near: nearer points overwrite
        r = radius_px[i]
        y0, y1, x0, x1 = max(v[i] - r, 0), min(v[i] + r + 1, h), max(u[i] - r, 0), min(u[i] + r + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        colour_img[y0:y1, x0:x1] = rgb[i]
        label_img[y0:y1, x0:x1] = palette[labels[i]]
        depth[y0:y1, x0:x1] = z[i]
    found = classes_of(run_dir, top=10)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4), dpi=100)
    axes[0].imshow(colour_img)
    axes[1].imshow(label_img)
    for ax in axes:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette[c["id"]] / 255.0) for c in found]
    axes[1].legend(handles, [f"{c['class']} {100 * c['share']:.0f}%" for c in found], loc="center left",
                   bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic-frames", type=int, default=120)
    parser.add_argument("--synthetic-size", default="320x240", help="WxH of the synthetic sequence")
    parser.add_argument("--teddy", type=Path, default=TEDDY)
    parser.add_argument("--teddy-frames", type=int, default=100)
    parser.add_argument("--every", type=int, default=10, help="segment every k-th frame (networks)")
    parser.add_argument("--oracle-every", type=int, default=2, help="segment every k-th frame (the oracle's mIoU row)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: its default)")
    parser.add_argument("--segmenters", default="none,enet,ade20k")
    parser.add_argument("--worker", default="process", choices=("process", "thread"),
                        help="where the segmenter runs (semantics.worker)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration, interleaved; the median is kept")
    parser.add_argument("--out", type=Path, default=None)
    # a child run
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sequence", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--segmenter", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from semslam.config import SynthConfig
    from semslam.datasets.synthetic import generate

    rows = []
    segmenters = args.segmenters.split(",")
    with tempfile.TemporaryDirectory(prefix="semslam-bench-sem-") as tmp:
        tmp = Path(tmp)
        width, height = (int(v) for v in args.synthetic_size.split("x"))
        if args.synthetic_frames > 0:
            synthetic = generate(tmp / "synthetic", SynthConfig(frames=args.synthetic_frames, width=width, height=height))
            rows += run_repeated(args.repeat, synthetic, segmenters + ["oracle"], None,
                                 lambda seg: args.oracle_every if seg == "oracle" else args.every, args, tmp, "synthetic")
        teddy_classes = {}
        if args.teddy.is_dir() and args.teddy_frames > 0:
            teddy_rows = run_repeated(args.repeat, args.teddy, segmenters, args.teddy_frames, lambda seg: args.every,
                                      args, tmp, "teddy")
            rows += teddy_rows
            for row in teddy_rows:
                seg = row["segmenter"]
                if seg != "none":
                    run_dir = Path(row["run_dir"])
                    teddy_classes[seg] = classes_of(run_dir)
                    picture(run_dir, RESULTS / f"teddy_labels_{seg}.png",
                            f"fr3/teddy first {args.teddy_frames} frames, {seg} every {args.every}th frame: "
                            f"map colours (left), fused labels (right)")
    base = {r["sequence"]: r["fps"] for r in rows if r["segmenter"] == "none"}
    for r in rows:
        r["fps_vs_none"] = r["fps"] / base[r["sequence"]] if r["sequence"] in base else None
    print_table(rows, [("sequence", "sequence"), ("segmenter", "segmenter"), ("frames", "frames"), ("every", "k"),
                       ("fps", "frames/s", ".2f"), ("fps_vs_none", "vs none", ".2f"),
                       ("segmented", "segm."), ("skipped", "skipped"), ("segment_ms", "segment ms", ".0f"),
                       ("queue_wait_ms", "wait ms", ".0f"), ("label_update_ms", "update ms", ".1f"),
                       ("label_ms_per_frame", "upd ms/frame", ".2f"), ("label_share", "share", ".3f"),
                       ("crf_ms", "CRF ms", ".0f"), ("finish_s", "finish s", ".1f"),
                       ("miou_per_frame", "mIoU frame", ".3f"), ("miou_fused", "fused", ".3f"),
                       ("miou_crf", "+CRF", ".3f")])
    for seg, found in teddy_classes.items():
        print(f"teddy, {seg}: " + ", ".join(f"{c['class']} {100 * c['share']:.0f}%" for c in found))
    out = args.out or RESULTS / f"semantics_{args.device.replace(':', '')}.json"
    save_json(out, {"commit": git_commit(), "machine": machine(), "every": args.every, "device": args.device,
                    "threads": args.threads, "worker": args.worker, "repeat": args.repeat, "rows": rows, "teddy_classes": teddy_classes})
    print(f"saved {out}")


if __name__ == "__main__":
    main()
