"""Why a network beside SLAM on one GPU slows it down: SLAM frames/s on the GPU alone, with a network's
forward pass (ENet, traced) looping on its own CUDA stream in a thread (GPU load, little Python), with
a pure-Python busy thread (GIL load, no GPU), and with the same forward pass looping in another
process (its own CUDA context: the GPU time-slices between the two contexts instead of running
their kernels side by side, as it does for two streams of one context).

    python -m benchmarks.bench_gpu_overlap SEQUENCE [--frames 300] [--device cuda:0] [--out FILE]

Prints the three rates and saves JSON (default benchmarks/results/gpu_overlap.json).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from benchmarks.common import machine, print_table, save_json
from semslam import datasets
from semslam.config import Config
from semslam.device import device_name
from semslam.pipeline import SemanticSLAM
from semslam.segmentation import make_segmenter

ROOT = Path(__file__).resolve().parents[1]


def slam_fps(frames, device: str) -> float:
    SemanticSLAM(Config(device=device)).run(frames[:20])  # warm-up
    slam = SemanticSLAM(Config(device=device))
    t0 = time.perf_counter()
    for frame in frames:
        slam.process(frame)
    return len(frames) / (time.perf_counter() - t0)


def _network_process(network: str, device: str, height: int, width: int, stop, counter) -> None:
    """In a child process: the network's forward pass in a loop until `stop` is set."""
    import torch

    segmenter = make_segmenter(network, "nyu40", device)
    x = torch.randn(1, 3, height, width, device=torch.device(device))
    with torch.inference_mode():
        graph = segmenter._graph(x)
        stream = torch.cuda.Stream(torch.device(device))
        with torch.cuda.stream(stream):
            graph(x)
            stream.synchronize()
            counter.value = 0
            while not stop.is_set():
                graph(x)
                stream.synchronize()
                counter.value += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sequence", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--network", default="torch:enet_scannet_nyu40.pth")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_overlap.json")
    args = parser.parse_args()
    import torch

    seq = datasets.open(args.sequence, limit=args.frames)
    frames = [seq[k] for k in range(len(seq))]
    segmenter = make_segmenter(args.network, "nyu40", args.device)
    x = torch.randn(1, 3, frames[0].height, frames[0].width, device=torch.device(args.device))
    with torch.inference_mode():
        graph = segmenter._graph(x)  # the traced module the segmenter runs
        graph(x)
    torch.cuda.synchronize()
    stop = threading.Event()

    def network_loop(counter: list) -> None:
        stream = torch.cuda.Stream(torch.device(args.device))
        with torch.cuda.stream(stream), torch.inference_mode():
            while not stop.is_set():
                graph(x)
                stream.synchronize()
                counter[0] += 1

    def python_loop(counter: list) -> None:
        while not stop.is_set():
            sum(range(1000))
            counter[0] += 1

    rows = [{"load": "none", "fps": slam_fps(frames, args.device), "iterations": 0}]
    for name, loop in (("network forward on its own stream", network_loop), ("pure-Python busy thread", python_loop)):
        stop.clear()
        counter = [0]
        thread = threading.Thread(target=loop, args=(counter,), daemon=True)
        thread.start()
        fps = slam_fps(frames, args.device)
        stop.set()
        thread.join()
        rows.append({"load": name, "fps": fps, "iterations": counter[0]})
    import multiprocessing as mp

    context = mp.get_context("spawn")
    stop_process, counter = context.Event(), context.Value("l", -1)
    child = context.Process(target=_network_process, args=(args.network, args.device, frames[0].height,
                                                           frames[0].width, stop_process, counter), daemon=True)
    child.start()
    while counter.value < 0 and child.is_alive():  # loaded, traced and looping
        time.sleep(0.1)
    start_count = counter.value
    fps = slam_fps(frames, args.device)
    rows.append({"load": "network forward in another process", "fps": fps, "iterations": counter.value - start_count})
    stop_process.set()
    child.join(30)
    for row in rows:
        row["vs_alone"] = row["fps"] / rows[0]["fps"]
    print_table(rows, [("load", "beside SLAM"), ("fps", "SLAM frames/s", ".1f"), ("vs_alone", "vs alone", ".1%"),
                       ("iterations", "load iterations")])
    save_json(args.out, {"benchmark": "gpu_overlap", "command": "python -m benchmarks.bench_gpu_overlap " +
                         " ".join(sys.argv[1:]), "device": device_name(args.device), "frames": len(frames),
                         "network": args.network, "rows": rows, "machine": machine()})
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
