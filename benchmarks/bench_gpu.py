"""The CUDA backend on one sequence: tracking + fusion + per-surfel label update on the GPU, the
time of every core kernel, device memory per surfel, and agreement with the CPU path.

    python -m benchmarks.bench_gpu --sequence DIR [--frames 300] [--device cuda:0] [--no-cpu] [--out FILE]

The frames are decoded into memory first (reading is not timed). Labels come from the oracle
segmenter (degraded ground truth, "moderate" preset; synthetic sequences only), computed for every
frame up front on the CPU so that both devices fuse the same segmentations; each frame's
segmentation is fused right after the frame, at its own pose, by the label-update kernel
(synchronously, so the CPU and CUDA maps see the same updates). With --label-every K only every
K-th frame is fused (SemanticFusion segments every 10th frame).

Per-kernel times come from CUPTI through torch.profiler when torch has CUDA (every kernel of the
process, ours included); device memory from the peak of semslam's memory pool during the run.
Prints tables and saves JSON (default benchmarks/results/gpu_<gpu>.json).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.common import machine, print_table, save_json
from semslam import datasets
from semslam.config import Config
from semslam.device import build_info, device_memory, device_name
from semslam.eval import evaluate_trajectory
from semslam.mapping.surfel_map import SurfelMap
from semslam.pipeline import SemanticSLAM
from semslam.semantics.fusion import crf_parameters

ROOT = Path(__file__).resolve().parents[1]


class _LabelledSLAM(SemanticSLAM):
    """SemanticSLAM whose map carries `num_classes` class probabilities, for labels fused by the
    caller (synchronously) instead of by the asynchronous scheduler."""

    def __init__(self, config: Config, num_classes: int) -> None:
        super().__init__(config)
        self._num_classes = num_classes

    def _new_map(self) -> SurfelMap:
        return SurfelMap(self.config.map, self.device, num_classes=self._num_classes,
                         probability_dtype=self.config.semantics.probability_dtype)


_ORACLE = None


def _oracle_probs(args) -> tuple[int, np.ndarray | None]:
    """Worker: the oracle's float16 probabilities of frame k (None when the oracle drops it)."""
    global _ORACLE
    path, k, labels = args
    from semslam.segmentation import make_segmenter

    if _ORACLE is None:
        _ORACLE = (datasets.open(path), make_segmenter("oracle", labels, "cpu"))
    seq, oracle = _ORACLE
    frame = seq[k]
    seg = oracle.segment(frame.rgb, frame.depth, frame)
    return k, None if seg is None else seg.probs.astype(np.float16)


def kernel_name(name: str) -> str:
    """'GridStrideKernel<semslam::map::kernel::SplatKeysCUDA(...)::{lambda...}>' -> 'SplatKeys'."""
    found = re.findall(r"(\w+)CUDA\(", name)
    if found:
        return found[0]
    return name.split("(")[0][:60]


def run(frames, probs, device: str, label_every: int, num_classes: int, profile: bool,
        probs_on_device: bool = False) -> dict:
    cfg = Config(device=device)
    slam = _LabelledSLAM(cfg, num_classes)
    floor = cfg.semantics.probability_floor
    torch = None
    if device.startswith("cuda"):
        import torch  # noqa: F811  (CUPTI profiling)

        torch.cuda.init()
        if probs_on_device:  # as a network on this GPU would leave them: fused without a host round trip
            probs = {k: None if p is None else torch.from_numpy(p).to(torch.device(device)) for k, p in probs.items()}
            torch.cuda.synchronize()
        device_memory(device, reset_peaks=True)  # peaks of this run from here
    prof = None
    if profile and torch is not None:
        prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA])
        prof.__enter__()
    label_ms = []
    t0 = time.perf_counter()
    for k, frame in enumerate(frames):
        T = slam.process(frame)
        if probs.get(k) is not None and k % label_every == 0 and slam.statuses[-1].tracked:
            t = time.perf_counter()
            with slam.timers("labels"):
                slam.map.update_labels(probs[k], T, frame.intrinsics, k, floor)
            label_ms.append((time.perf_counter() - t) * 1e3)
    wall = time.perf_counter() - t0
    if prof is not None:
        prof.__exit__(None, None, None)
    memory = device_memory(device) if torch is not None else {}
    used_mb = memory.get("used_peak", 0) / 2**20
    with slam.timers("crf"):
        crf = slam.map.crf(**crf_parameters(cfg.semantics), probability_floor=floor)
    result = slam.result()
    surfels = slam.map.surfels()
    kernels = {}
    if prof is not None:
        totals, counts = defaultdict(float), defaultdict(int)
        for event in prof.events():
            if getattr(event, "device_type", None) is not None and "CUDA" in str(event.device_type):
                name = kernel_name(event.name)
                totals[name] += event.device_time_total if hasattr(event, "device_time_total") else event.cuda_time_total
                counts[name] += 1
        kernels = {name: {"calls": counts[name], "total_us": totals[name], "per_frame_us": totals[name] / len(frames),
                          "per_call_us": totals[name] / counts[name]} for name in totals}
    return {
        "device": device + (" (labels in GPU memory)" if probs_on_device else ""), "name": device_name(device), "frames": len(frames), "wall_s": wall,
        "fps": len(frames) / wall, "timestamps": result.timestamps, "poses": result.poses,
        "failures": result.summary()["tracking_failures"], "surfels": result.surfels,
        "bytes_per_surfel": result.bytes_per_surfel, "device_mb_used": used_mb,
        "label_updates": len(label_ms), "label_update_ms_mean": float(np.mean(label_ms)) if label_ms else 0.0,
        "label_update_ms_median": float(np.median(label_ms)) if label_ms else 0.0,
        "stages_ms": {k: v["mean_ms"] for k, v in result.timings.items()}, "crf": crf,
        "device_memory": memory, "surfel_fields": surfels, "kernels": kernels,
    }


def network_overlap(frames, device: str, spec: str, labels: str, worker: str = "process") -> dict:
    """Tracking frames/s with a network segmenting every frame asynchronously on the same GPU
    (SemanticSLAM's scheduler: frames arriving while the network is busy are skipped and counted)
    against frames/s without it."""
    from semslam.segmentation import make_segmenter

    out = {}
    start = 0
    for name in ("network", "none"):
        cfg = Config(device=device)
        cfg.semantics.segment_every = 1
        cfg.semantics.worker = worker
        cfg.semantics.crf_every = 0
        cfg.semantics.crf_at_end = False
        segmenter = make_segmenter(spec, labels, device) if name == "network" else None
        if segmenter is not None:  # warm-up: cuDNN autotuning, allocations
            for frame in frames[:3]:
                segmenter.segment(frame.rgb, frame.depth, frame)
        SemanticSLAM(Config(device=device)).run(frames[:20])  # warm-up of the core on this device
        slam = SemanticSLAM(cfg, segmenter=segmenter)
        # the worker warms up on the first frames (a worker process loads and traces its own copy of
        # the network): frames/s counts the frames after its second result (the same frames without it)
        if name == "network":
            start = 0
            while start < len(frames) // 3 and slam.label_fusion.summary()["frames_segmented"] < 2:
                slam.process(frames[start])
                start += 1
                if start >= 5:
                    time.sleep(0.2)  # no point racing through the frames while it loads
        else:
            for frame in frames[:start]:
                slam.process(frame)
        t0 = time.perf_counter()
        for frame in frames[start:]:
            slam.process(frame)
        wall = time.perf_counter() - t0
        slam.finish()
        summary = slam.result().summary()
        slam.close()
        out[name] = {"fps": (len(frames) - start) / wall, "timed_from_frame": start,
                     "stages_ms": {k: v["mean_ms"] for k, v in summary["stages_ms"].items()},
                     "semantics": summary.get("semantics")}
    out["fps_ratio"] = out["network"]["fps"] / out["none"]["fps"]
    out["spec"] = spec
    out["worker"] = worker
    return out


def agreement(cpu: dict, gpu: dict, frames, every: int = 10) -> dict:
    """Camera positions, surfel counts, and the labels both maps show: each final map rendered (on
    the CPU, all stable surfels) at the ground-truth pose of every `every`-th frame, label argmax
    compared over the pixels both maps cover."""
    from semslam.config import MapConfig

    dt = np.linalg.norm(gpu["poses"][:, :3, 3] - cpu["poses"][:, :3, 3], axis=1)
    config = MapConfig(time_window=10**8)  # render every stable surfel, however old
    maps = {}
    for name, r in (("cpu", cpu), ("gpu", gpu)):
        fields = r["surfel_fields"]
        m = SurfelMap(config, "cpu", num_classes=fields["class_probs"].shape[1])
        m.set_surfels({k: v.astype(np.float32) if k == "class_probs" else v for k, v in fields.items()
                       if k not in ("labels", "label_confidences")})
        maps[name] = (m, m.labels()[0])
    same = covered = 0
    for frame in frames[::every]:
        index = {name: m.predict(frame.T_world_cam, frame.intrinsics, len(frames)).index_map
                 for name, (m, _) in maps.items()}
        both = (index["cpu"] >= 0) & (index["gpu"] >= 0)
        la = maps["cpu"][1][index["cpu"][both]]
        lb = maps["gpu"][1][index["gpu"][both]]
        same += int((la == lb).sum())
        covered += int(both.sum())
    return {"position_rms_mm": float(np.sqrt(np.mean(dt**2)) * 1e3), "position_max_mm": float(dt.max() * 1e3),
            "surfels_rel": gpu["surfels"] / cpu["surfels"] - 1.0, "label_pixels_compared": covered,
            "label_agreement": same / max(covered, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequence", type=Path, required=True, help="a synthetic sequence (semslam synth)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--label-every", type=int, default=1)
    parser.add_argument("--labels", default="nyu40")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU run (agreement)")
    parser.add_argument("--workers", type=int, default=8, help="processes computing the oracle segmentations")
    parser.add_argument("--network", default=None,
                        help="segmenter spec (e.g. torch:enet_scannet_nyu40.pth) run asynchronously on every frame "
                        "on the device, for frames/s with and without it")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="s; Python's GIL switch interval during the network run (default: Python's 0.005)")
    parser.add_argument("--only-network", action="store_true", help="only the network run")
    parser.add_argument("--worker", default="process", choices=("process", "thread"),
                        help="where the network runs (semantics.worker)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    seq = datasets.open(args.sequence, limit=args.frames)
    print(f"reading {len(seq)} frames of {seq.name} ...", file=sys.stderr, flush=True)
    frames = [seq[k] for k in range(len(seq))]
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    if args.only_network:
        n = network_overlap(frames, args.device, args.network, args.labels, args.worker)
        sem = n["network"]["semantics"] or {}
        print(f"{args.worker} worker, switch interval {sys.getswitchinterval()}: {n['network']['fps']:.1f} frames/s "
              f"with the network vs {n['none']['fps']:.1f} without ({n['fps_ratio']:.1%}); segmented "
              f"{sem.get('frames_segmented')}, skipped {sem.get('frames_skipped_queue_full')}, network ms "
              f"{sem.get('segment_ms_mean')}; stages {n['network']['stages_ms']}")
        if args.out:
            save_json(args.out, {"benchmark": "gpu network overlap", "command": "python -m benchmarks.bench_gpu "
                                 + " ".join(sys.argv[1:]), "build": build_info(), "machine": machine(), **n})
        return
    from semslam.segmentation import get_label_set

    num_classes = len(get_label_set(args.labels))
    print(f"oracle segmentations ({args.workers} processes) ...", file=sys.stderr, flush=True)
    wanted = [k for k in range(len(frames)) if k % args.label_every == 0]
    with ProcessPoolExecutor(args.workers) as pool:
        probs = dict(pool.map(_oracle_probs, [(args.sequence, k, args.labels) for k in wanted]))
    gt_stamps, gt_poses = seq.ground_truth_poses()

    runs = {}
    plans = [(args.device, False)] + ([(args.device, True)] if args.device.startswith("cuda") else [])
    plans += [] if args.no_cpu else [("cpu", False)]
    for device, on_device in plans:
        print(f"{device}: warm-up and run ...", file=sys.stderr, flush=True)
        run(frames[:20], probs, device, args.label_every, num_classes, profile=False)  # context, allocations
        r = run(frames, probs, device, args.label_every, num_classes, profile=device.startswith("cuda") and not on_device,
                probs_on_device=on_device)
        r["ate_mm"] = evaluate_trajectory(r["timestamps"], r["poses"], gt_stamps, gt_poses)["ate"]["rmse"] * 1e3
        runs[r["device"]] = r

    rows = []
    for device, r in runs.items():
        rows.append({k: r[k] for k in ("device", "name", "frames", "fps", "ate_mm", "failures", "surfels",
                                       "bytes_per_surfel", "device_mb_used", "label_updates",
                                       "label_update_ms_mean", "label_update_ms_median", "stages_ms")})
    print_table(rows, [("device", "device"), ("name", "name"), ("frames", "frames"), ("fps", "frames/s", ".1f"),
                       ("ate_mm", "ATE mm", ".2f"), ("failures", "fail"), ("surfels", "surfels"),
                       ("bytes_per_surfel", "B/surfel"), ("device_mb_used", "device MB", ".0f"),
                       ("label_update_ms_median", "label upd ms", ".3f"), ("stages_ms.preprocess", "preproc", ".2f"),
                       ("stages_ms.predict", "predict", ".2f"), ("stages_ms.track", "track", ".2f"),
                       ("stages_ms.fuse", "fuse", ".2f"), ("stages_ms.clean", "clean", ".2f"),
                       ("stages_ms.labels", "labels", ".2f"), ("stages_ms.crf", "crf (end)", ".1f")])
    gpu = runs[args.device]
    if gpu["kernels"]:
        krows = sorted(({"kernel": k, **v} for k, v in gpu["kernels"].items()), key=lambda r: -r["total_us"])
        print_table(krows, [("kernel", "kernel"), ("calls", "calls"), ("per_call_us", "us/call", ".1f"),
                            ("per_frame_us", "us/frame", ".1f")])
    extra = {}
    if "cpu" in runs:
        extra = agreement(runs["cpu"], gpu, frames)
        print(f"CUDA vs CPU: camera positions RMS {extra['position_rms_mm']:.4f} mm (max {extra['position_max_mm']:.4f}),"
              f" surfels {extra['surfels_rel']:+.3%}, label argmax agreement {extra['label_agreement']:.3%} of "
              f"{extra['label_pixels_compared']} pixels both maps show at every 10th ground-truth pose")
    if args.network:
        extra["network"] = network_overlap(frames, args.device, args.network, args.labels, args.worker)
        n = extra["network"]
        sem = n["network"]["semantics"] or {}
        print(f"with {args.network} segmenting every frame on {args.device}: {n['network']['fps']:.1f} frames/s vs "
              f"{n['none']['fps']:.1f} without ({n['fps_ratio']:.1%}); segmented {sem.get('frames_segmented')}, "
              f"skipped (network busy) {sem.get('frames_skipped_queue_full')}, "
              f"network ms {sem.get('segment_ms_mean')}")
    gpu_mb_per_surfel = gpu["device_mb_used"] * 2**20 / max(gpu["surfels"], 1)
    print(f"device memory: peak {gpu['device_mb_used']:.0f} MB of semslam buffers for {gpu['surfels']} surfels "
          f"({gpu_mb_per_surfel:.0f} B per surfel incl. image workspace and the label upload; "
          f"map storage {gpu['bytes_per_surfel']} B per surfel)")
    for r in runs.values():
        for key in ("timestamps", "poses", "surfel_fields"):
            r.pop(key)
    name = re.sub(r"\W+", "_", gpu["name"]).strip("_").lower()
    out = args.out or ROOT / "benchmarks" / "results" / f"gpu_{name}.json"
    command = "python -m benchmarks.bench_gpu " + " ".join(sys.argv[1:])
    save_json(out, {"benchmark": "gpu", "command": command, "sequence": str(args.sequence), "frames": len(frames),
                    "label_every": args.label_every, "labels": args.labels, "build": build_info(),
                    "machine": machine(), "runs": runs, "agreement": extra,
                    "device_bytes_per_surfel_incl_workspace": gpu_mb_per_surfel})
    print(f"saved {out}")


if __name__ == "__main__":
    main()
