"""The `semslam` command: synth, info, demo (run, eval, live, view, export, batch follow).

Options that a config file can also set default to None here and fall back to the config
schema (semslam/config.py), so every default lives in one place.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import typer

from . import __version__
from .config import Config, load_config
from .errors import SemslamError

app = typer.Typer(
    help="semslam: RGB-D semantic SLAM with a dense surfel map, per-surfel class beliefs and objects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = typer.Option(None, "--config", "-c", help="YAML file overriding the defaults (see configs/).")


def _config(config_file: Optional[Path], overrides: dict) -> Config:
    clean = {section: {k: v for k, v in values.items() if v is not None} for section, values in overrides.items()}
    return load_config(*([config_file] if config_file else []), overrides=clean)


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, dynamic_ncols=True)

    def update(done: int, n: int) -> None:
        bar.total = n
        bar.n = done
        bar.refresh()
        if done >= n:
            bar.close()

    return update


def _print_info(info: dict) -> None:
    """A readable summary of `semslam.datasets.describe`'s dict (nested dicts indented)."""

    def show(d: dict, indent: int) -> None:
        width = max((len(str(k)) for k in d), default=0)
        for key, value in d.items():
            if isinstance(value, dict):
                typer.echo(f"{' ' * indent}{key}:")
                show(value, indent + 2)
            else:
                if isinstance(value, float):
                    value = f"{value:.4g}"
                elif isinstance(value, (list, tuple)) and len(value) > 12:
                    value = f"[{', '.join(map(str, value[:12]))}, ... ({len(value)} items)]"
                typer.echo(f"{' ' * indent}{str(key):<{width}}  {value}")

    show(info, 0)


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the sequence into (created)."),
    frames: Optional[int] = typer.Option(None, help="Number of frames [config: synth.frames]."),
    seed: Optional[int] = typer.Option(None, help="Seed of the room, furniture and noise [synth.seed]."),
    trajectory: Optional[str] = typer.Option(None, help="orbit | walk | loop | tour | scan [synth.trajectory]."),
    noise: Optional[str] = typer.Option(None, help="kinect | none [synth.noise]."),
    width: Optional[int] = typer.Option(None, help="Image width in pixels [synth.width]."),
    height: Optional[int] = typer.Option(None, help="Image height in pixels [synth.height]."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Generate a synthetic indoor RGB-D sequence with exact poses, labels and instances (TUM layout)."""
    from .datasets.synthetic import generate

    cfg = _config(config, {"synth": dict(frames=frames, seed=seed, trajectory=trajectory, noise=noise,
                                         width=width, height=height)})
    t0 = time.perf_counter()
    path = generate(out, cfg.synth, progress=_progress_bar(cfg.synth.frames, "synth"))
    typer.echo(f"wrote {cfg.synth.frames} frames ({cfg.synth.trajectory}, noise {cfg.synth.noise}, seed "
               f"{cfg.synth.seed}) to {path} in {time.perf_counter() - t0:.1f} s")


@app.command()
def info(
    path: Path = typer.Argument(..., help="A sequence folder (TUM, ICL-NUIM, 7-Scenes, ScanNet, synthetic) or a "
                                "RealSense recording (.db3, .bag)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Describe a sequence: format, frame count, intrinsics, ground truth coverage, depth statistics."""
    from . import datasets

    cfg = _config(config, {})
    seq = datasets.open(path, cfg.dataset, realsense_config=cfg.realsense)
    description = seq.describe() if hasattr(seq, "describe") else datasets.describe(seq)
    if as_json:
        typer.echo(json.dumps(description, indent=2, default=str))
    else:
        _print_info(description)


def _run_sequence(seq, cfg: Config, out: Path, quiet: bool = False, segmenter=None, instance_segmenter=None) -> dict:
    """Map `seq` with SemanticSLAM, showing progress; write every output into `out` — also when
    the run stops early (Ctrl-C, bad input), before the error propagates. With a segmenter (given
    or named by cfg.semantics), the pending segmentations are fused at the end."""
    from tqdm import tqdm

    from .datasets.prefetch import Prefetcher
    from .io.run_files import write_run
    from .pipeline import SemanticSLAM

    slam = SemanticSLAM(cfg, segmenter=segmenter, instance_segmenter=instance_segmenter)
    dataset = {"path": str(Path(seq.path).resolve()), "format": seq.format, "name": seq.name,
               "frames": len(seq), "start": cfg.dataset.start, "stride": cfg.dataset.stride,
               "limit": cfg.dataset.limit}
    dataset.update(seq.summary_info() if hasattr(seq, "summary_info") else {})  # e.g. a RealSense recording's camera
    bar = tqdm(total=len(seq), desc="semslam", unit="frame", file=sys.stderr, dynamic_ncols=True, disable=quiet)
    stopped = ""
    reader = Prefetcher(seq, depth=cfg.dataset.read_ahead)
    try:
        frames = iter(reader)
        for k in range(len(seq)):
            stopped = f"stopped while reading frame {k}"
            with slam.timers("read"):  # with read-ahead: the time the loop waited for the frame
                frame = next(frames)
            stopped = f"stopped while processing frame {k} (t={frame.timestamp:.6f})"
            slam.process(frame)
            stopped = ""
            bar.update(1)
            bar.set_postfix(surfels=slam.statuses[-1].surfels,
                            failures=sum(not s.tracked for s in slam.statuses), refresh=False)
        stopped = "stopped while fusing the last segmentations"
        slam.finish()
        stopped = ""
    except KeyboardInterrupt:
        stopped = f"interrupted (Ctrl-C): {stopped}"
        raise
    except BaseException as exc:
        stopped = f"{stopped}: {type(exc).__name__}: {exc}"
        raise
    finally:
        reader.close()
        bar.close()
        slam.close()
        summary = write_run(out, slam, dataset, stopped=stopped)
        if stopped:
            typer.echo(f"semslam: {stopped}; the map and trajectory of {summary['frames']} frames are in {out}",
                       err=True)
    return summary


def _print_summary(summary: dict, out: Path) -> None:
    typer.echo(
        f"{summary['frames']} frames at {summary['frames_per_second']:.1f} frames/s, "
        f"{summary['tracking_failures']} tracking failures, {summary['surfels']} surfels "
        f"({summary['stable_surfels']} stable, {summary['bytes_per_surfel']} B each), "
        f"peak memory {summary['peak_rss_mb']:.0f} MB"
    )
    stages = ", ".join(f"{name} {v['mean_ms']:.1f}" for name, v in summary["stages_ms"].items())
    typer.echo(f"per-stage mean ms: {stages}")
    for failure in summary["failed_frames"][:10]:
        typer.echo(f"  tracking failed at frame {failure['index']} (t={failure['timestamp']:.6f}): {failure['reason']}")
    sem = summary.get("semantics")
    if sem:
        typer.echo(
            f"labels: {sem['segmenter']} ({sem['label_set']}), {sem['frames_segmented']} frames segmented, "
            f"{sem['frames_skipped_queue_full']} skipped (queue full), {sem['frames_dropped_by_segmenter']} dropped "
            f"by the segmenter; segment {sem['segment_ms_mean']:.0f} ms, queue wait {sem['queue_wait_ms_mean']:.0f} ms, "
            f"label update {sem['label_update_ms_mean']:.1f} ms ({sem['label_update_ms_per_frame']:.2f} ms/frame), "
            f"{sem['crf_runs']} CRF runs"
        )
    obj = summary.get("objects")
    if obj:
        typer.echo(
            f"objects: {obj['objects']} found by {obj['instance_segmenter']} ({obj['label_set']}) in "
            f"{obj['frames_applied']} frames ({obj['frames_skipped_queue_full']} skipped, queue full): "
            f"{obj['detections']} detections, {obj['associations']} associated, {obj['new_objects']} new, "
            f"{obj['merged']} merged, {obj['dropped']} dropped; segment {obj['segment_ms_mean']:.0f} ms, "
            f"objects {obj['objects_ms_mean']:.1f} ms per segmented frame ({obj['objects_ms_per_frame']:.1f} ms/frame)"
        )
    _print_framesets(summary.get("dataset", {}))
    typer.echo(f"wrote trajectory.txt, map.ply, map.npz, summary.json{', segmentation/' if sem else ''}"
               f"{', objects.json' if obj else ''} to {out}")


@app.command()
def demo(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Keep the sequence and the run's files here (default: a temporary folder)."),
    frames: Optional[int] = typer.Option(None, help="Frames to generate [config: demo.frames]."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda[:N] [config: device]."),
    model: Optional[Path] = typer.Option(
        None, "--model", help="Segment with this network (.onnx with its JSON sidecar, or a torch .pth) instead "
        "of the oracle."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Generate a synthetic room with exact ground truth, map and label it (an oracle segmenter with
    moderate noise, or --model), and print the trajectory error and per-frame vs fused mIoU."""
    from . import datasets
    from .datasets.synthetic import generate
    from .device import check_device
    from .eval import evaluate_run, format_table

    cfg = _config(config, {"demo": dict(frames=frames)})
    if device is not None:
        cfg.device = device
    check_device(cfg.device)
    if model is not None:
        cfg.semantics.segmenter = f"{'torch' if model.suffix in ('.pth', '.pt') else 'onnx'}:{model}"
    elif cfg.semantics.segmenter == "none":
        cfg.semantics.segmenter = cfg.demo.segmenter
    if config is None:
        cfg.semantics.segment_every = cfg.demo.segment_every
    if cfg.objects.instances == "none":
        cfg.objects.instances = cfg.demo.instances
    if cfg.demo.queue_every_frame:
        cfg.semantics.queue_size = max(cfg.semantics.queue_size, cfg.demo.frames)
        cfg.objects.queue_size = max(cfg.objects.queue_size, cfg.demo.frames)
    synth_cfg = cfg.synth.model_copy(update=dict(frames=cfg.demo.frames, seed=cfg.demo.seed,
                                                 trajectory=cfg.demo.trajectory, noise=cfg.demo.noise))
    workdir = out if out is not None else Path(tempfile.mkdtemp(prefix="semslam-demo-"))
    try:
        t0 = time.perf_counter()
        sequence_dir = generate(workdir / "sequence", synth_cfg, progress=_progress_bar(synth_cfg.frames, "synth"))
        typer.echo(f"generated {synth_cfg.frames} frames of a synthetic room ({synth_cfg.trajectory}, noise "
                   f"{synth_cfg.noise}, seed {synth_cfg.seed}) in {time.perf_counter() - t0:.1f} s")
        seq = datasets.open(sequence_dir, cfg.dataset)
        run_dir = workdir / "run"
        summary = _run_sequence(seq, cfg, run_dir)
        _print_summary(summary, run_dir)
        typer.echo(format_table(evaluate_run(run_dir, config=cfg.eval)))
        result = _semantic_eval(run_dir, seq, cfg.device, required=True)
        fused = result["map"]["miou"]
        before = result.get("map_before_crf", result["map"])["miou"]
        typer.echo(f"mIoU: per-frame {result['per_frame']['miou']:.3f} -> fused {before:.3f} -> fused + CRF "
                   f"{fused:.3f} ({100 * (fused - result['per_frame']['miou']):+.1f} points; "
                   f"segmenter {'oracle: ground truth with moderate noise' if model is None else model.name})")
        objects = _object_eval(run_dir, seq, required=False)
        if objects is not None:
            from .eval.objects import format_object_list

            typer.echo(f"objects found (instances: {cfg.objects.instances}) next to the truth:")
            typer.echo(format_object_list(objects))
    finally:
        if out is None:
            shutil.rmtree(workdir, ignore_errors=True)


@app.command()
def run(
    path: Path = typer.Argument(..., help="A sequence folder (TUM, ICL-NUIM, 7-Scenes, ScanNet, synthetic) or a "
                                "RealSense recording (.db3, .bag)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for trajectory.txt, map.ply, summary.json."),
    start: Optional[int] = typer.Option(None, help="First frame [config: dataset.start]."),
    stride: Optional[int] = typer.Option(None, help="Use every n-th frame [dataset.stride]."),
    limit: Optional[int] = typer.Option(None, help="At most this many frames [dataset.limit]."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda[:N] [config: device]."),
    segmenter: Optional[str] = typer.Option(
        None, "--segmenter", help="onnx:PATH | torch:PATH | oracle[:key=value,...] | none [semantics.segmenter]."),
    labels: Optional[str] = typer.Option(
        None, "--labels", help="Label set of the map: nyu40 | nyu13 | ade20k | voc | coco [semantics.labels]."),
    segment_every: Optional[int] = typer.Option(
        None, "--segment-every", help="Segment every k-th frame [semantics.segment_every]."),
    instances: Optional[str] = typer.Option(
        None, "--instances", help="Instance segmenter for the object map: onnx:PATH | yolo:PATH (YOLOv8-seg) | "
        "oracle[:preset,key=value,...] | none [objects.instances]."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Track the camera and build the surfel map of a recorded sequence; with --segmenter, label it;
    with --instances, find its objects (objects.json)."""
    from . import datasets
    from .segmentation.factory import make_instance_segmenter

    cfg = _config(config, {"dataset": dict(start=start, stride=stride, limit=limit),
                           "semantics": dict(segmenter=segmenter, labels=labels, segment_every=segment_every),
                           "objects": dict(instances=instances)})
    if device is not None:
        cfg.device = device
    # a bad spec or model fails here, before the sequence is opened or anything is written
    instance_segmenter = make_instance_segmenter(cfg.objects.instances, cfg.semantics.labels,
                                                 cfg.objects.instances_device or cfg.device, cfg.objects)
    seq = datasets.open(path, cfg.dataset, realsense_config=cfg.realsense)
    summary = _run_sequence(seq, cfg, out, instance_segmenter=instance_segmenter)
    _print_summary(summary, out)


def _run_live(camera, cfg: Config, out: Path, limit: Optional[int] = None, quiet: bool = False,
              segmenter=None) -> dict:
    """Map the frames of a live `camera` (a RealSenseCamera) until Ctrl-C, `limit` frames, or the
    camera going away; write every output into `out` as `_run_sequence` does, in every case.

    Ctrl-C ends the run cleanly after the frame being processed (a second Ctrl-C interrupts at
    once). The camera going away raises its CameraError after the map so far is written. A
    progress line on stderr shows frames, frames/s, surfels, tracking state and skipped framesets."""
    import signal

    from .io.run_files import write_run
    from .pipeline import SemanticSLAM

    slam = SemanticSLAM(cfg, segmenter=segmenter)
    dataset = {"path": str(camera.path), "format": camera.format, "name": camera.name, "frames": 0}
    stopped, ended = "", "limit" if limit else "camera"
    interrupts = []

    def on_sigint(signum, frame_):
        interrupts.append(time.perf_counter())
        if len(interrupts) > 1:
            raise KeyboardInterrupt
        camera.request_stop()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: Ctrl-C raises KeyboardInterrupt as usual
        previous = None
    t0, k = time.perf_counter(), 0
    try:
        camera.start()
        typer.echo(f"semslam live: {camera.name} (serial {camera.serial}), {camera.intrinsics.width}x"
                   f"{camera.intrinsics.height} @ {cfg.realsense.fps} fps"
                   f"{f', recording to {camera.record}' if camera.record else ''}; Ctrl-C ends the run", err=True)
        frames = iter(camera)
        while limit is None or k < limit:
            stopped = f"stopped while waiting for frameset {k}"
            with slam.timers("read"):
                frame = next(frames, None)
            if frame is None:
                ended = "Ctrl-C"
                break
            stopped = f"stopped while processing frame {k} (t={frame.timestamp:.6f})"
            slam.process(frame)
            stopped = ""
            k += 1
            if not quiet:
                status = slam.statuses[-1]
                counts = camera.counts
                state = "tracking" if status.tracked else f"LOST ({status.reason})"
                sys.stderr.write(
                    f"\rframes {k}  {k / (time.perf_counter() - t0):.1f} frames/s  surfels {status.surfels}  {state}  "
                    f"skipped {counts.skipped_behind} (mapping behind)  dropped {counts.depth.dropped}+"
                    f"{counts.colour.dropped}  unmatched {counts.depth.unmatched}+{counts.colour.unmatched}\033[K")
                sys.stderr.flush()
        stopped = "stopped while fusing the last segmentations"
        slam.finish()
        stopped = ""
    except KeyboardInterrupt:
        stopped = f"interrupted (Ctrl-C twice): {stopped}"
        raise
    except BaseException as exc:
        stopped = f"{stopped}: {type(exc).__name__}: {exc}" if stopped else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if not quiet:
            sys.stderr.write("\n")
        camera.close()
        slam.close()
        dataset["frames"] = k
        dataset["ended_by"] = ended if not stopped else "error"
        dataset.update(camera.summary_info())
        summary = write_run(out, slam, dataset, stopped=stopped)
        if stopped:
            typer.echo(f"semslam: {stopped}; the map and trajectory of {summary['frames']} frames are in {out}",
                       err=True)
    return summary


def _print_framesets(dataset: dict) -> None:
    """One line on what became of a RealSense device's frames (live or recorded)."""
    fs = dataset.get("framesets")
    if fs:
        typer.echo(
            f"framesets: {fs['paired']} paired, {fs['skipped_behind']} skipped while mapping was behind; dropped by "
            f"the device: depth {fs['depth']['dropped']}, colour {fs['colour']['dropped']}; without a partner: depth "
            f"{fs['depth']['unmatched']}, colour {fs['colour']['unmatched']}")


@app.command()
def live(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for trajectory.txt, map.ply, summary.json."),
    serial: Optional[str] = typer.Option(None, "--serial", help="Serial number of the camera (default: the first found)."),
    record: Optional[Path] = typer.Option(
        None, "--record", help="Also record the session to this file (.db3; .bag with pyrealsense2 < 2.58); "
        "`semslam run FILE` replays it."),
    width: Optional[int] = typer.Option(None, help="Stream width [config: realsense.width]."),
    height: Optional[int] = typer.Option(None, help="Stream height [realsense.height]."),
    fps: Optional[int] = typer.Option(None, help="Frames per second [realsense.fps]."),
    limit: Optional[int] = typer.Option(None, help="Stop after this many frames (default: Ctrl-C) [dataset.limit]."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda[:N] [config: device]."),
    segmenter: Optional[str] = typer.Option(
        None, "--segmenter", help="onnx:PATH | torch:PATH | none [semantics.segmenter]."),
    labels: Optional[str] = typer.Option(
        None, "--labels", help="Label set of the map: nyu40 | nyu13 | ade20k | voc | coco [semantics.labels]."),
    segment_every: Optional[int] = typer.Option(
        None, "--segment-every", help="Segment every k-th frame [semantics.segment_every]."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Map live from an Intel RealSense camera (depth aligned to colour) until Ctrl-C; writes the
    same files as `run`, also when the camera goes away mid-run."""
    from .datasets.realsense_live import RealSenseCamera
    from .device import check_device

    cfg = _config(config, {"realsense": dict(width=width, height=height, fps=fps),
                           "dataset": dict(limit=limit),
                           "semantics": dict(segmenter=segmenter, labels=labels, segment_every=segment_every)})
    if device is not None:
        cfg.device = device
    check_device(cfg.device)
    camera = RealSenseCamera(cfg.realsense, serial=serial, record=record)
    summary = _run_live(camera, cfg, out, limit=cfg.dataset.limit)
    _print_summary(summary, out)
    if record is not None:
        typer.echo(f"recorded the session to {record}; replay it with `semslam run {record} --out DIR`")


@app.command("eval")
def evaluate(
    run_dir: Path = typer.Argument(..., help="A folder written by `semslam run ... --out DIR`."),
    gt: Optional[Path] = typer.Option(None, "--gt", help="Ground truth in TUM format (default: the run's dataset's)."),
    dataset: Optional[Path] = typer.Option(
        None, "--dataset", help="The sequence with ground-truth labels (default: the run's dataset)."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda[:N] to render the map on [config: device]."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """ATE and RPE of a run's trajectory against ground truth (evo, SE(3) alignment); saves eval.json.
    For a labelled map and a sequence with label images, also per-frame segmentation vs the map
    reprojected into the frames, and per-surfel accuracy (synthetic): semantic_eval.json and .png."""
    from . import datasets
    from .eval import evaluate_run, format_table

    cfg = _config(config, {})
    result = evaluate_run(run_dir, gt_path=gt, config=cfg.eval)
    typer.echo(format_table(result))
    typer.echo(f"saved {run_dir / 'eval.json'}")
    seq = datasets.open(dataset, cfg.dataset) if dataset is not None else None
    _semantic_eval(run_dir, seq, device or cfg.device, required=dataset is not None)
    _object_eval(run_dir, seq, required=False)


def _object_eval(run_dir: Path, seq, required: bool) -> dict | None:
    """Object metrics when the run has objects and its sequence is synthetic; otherwise say why not
    (an error when `required`). Prints the table and saves objects_eval.json."""
    from .eval.objects import OBJECTS_EVAL_FILE, evaluate_object_run, format_object_table
    from .io.map_state import MAP_STATE_FILE

    if not (run_dir / MAP_STATE_FILE).is_file():
        why = f"no {MAP_STATE_FILE} in {run_dir}"
    else:
        try:
            result = evaluate_object_run(run_dir, seq)
        except SemslamError as exc:
            why = str(exc)
        else:
            typer.echo(format_object_table(result))
            typer.echo(f"saved {run_dir / OBJECTS_EVAL_FILE}")
            return result
    if required:
        raise SemslamError(f"no object evaluation: {why}")
    typer.echo(f"no object evaluation: {why}")
    return None


def _semantic_eval(run_dir: Path, seq, device: str, required: bool) -> dict | None:
    """Run the semantic evaluation when the run's map has classes and the sequence has labels;
    otherwise say why not (an error when `required`)."""
    from .eval.semantic import SEMANTIC_EVAL_FILE, SEMANTIC_FIGURE_FILE, evaluate_semantic_run, format_semantic_table
    from .io.map_state import MAP_STATE_FILE, load_map_state

    why = ""
    if not (run_dir / MAP_STATE_FILE).is_file():
        why = f"no {MAP_STATE_FILE} in {run_dir}"
    elif load_map_state(run_dir).label_set is None:
        why = "the map has no labels (the run had no segmenter)"
    elif seq is not None and not seq.has_labels:
        why = f"{seq.path} has no ground-truth label images"
    if why:
        if required:
            raise SemslamError(f"no semantic evaluation: {why}")
        typer.echo(f"no semantic evaluation: {why}")
        return None
    try:
        result = evaluate_semantic_run(run_dir, seq, device=device,
                                       progress=_progress_bar(0, "semantic eval"))
    except SemslamError as exc:
        if required:
            raise
        typer.echo(f"no semantic evaluation: {exc}")
        return None
    typer.echo(format_semantic_table(result))
    typer.echo(f"saved {run_dir / SEMANTIC_EVAL_FILE}, {run_dir / SEMANTIC_FIGURE_FILE}")
    return result


@app.command()
def render(
    run_dir: Path = typer.Argument(..., help="A folder written by `semslam run ... --segmenter ...`."),
    dataset: Optional[Path] = typer.Option(
        None, "--dataset", help="The run's sequence: its colour images are blended into the colour-coded PNGs "
        "(default: the run's dataset when it is still there)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for labels/<t>.png (uint16) and colour/<t>.png."),
    every: int = typer.Option(1, "--every", min=1, help="Render every n-th pose of the trajectory."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda[:N] [config: device]."),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Label images of the run's map reprojected into the poses of its trajectory (from map.npz);
    for a run with objects, also instance images (a colour per object id)."""
    from . import datasets
    from .io.atomic import write_json_atomic
    from .semantics.render import render_run

    cfg = _config(config, {})
    if dataset is None:
        try:
            recorded = Path(json.loads((run_dir / "summary.json").read_text())["dataset"]["path"])
            dataset = recorded if recorded.is_dir() else None
        except (FileNotFoundError, KeyError, json.JSONDecodeError):
            dataset = None
    seq = datasets.open(dataset, cfg.dataset) if dataset is not None else None
    from .io.map_state import load_map_state
    from .objects.render import render_instances

    state = load_map_state(run_dir)
    if state.label_set is None and state.objects is None:
        raise SemslamError(f"{state.path}: the map has no classes and no objects (the run had no segmenter and no "
                           f"instance segmenter); nothing to render")
    if state.label_set is not None:
        try:
            result = render_run(run_dir, out, seq, device=device or cfg.device,
                                every=every, progress=_progress_bar(0, "render"))
        except ValueError as exc:
            raise SemslamError(str(exc)) from None
        write_json_atomic(out / "render.json", result)
        top = ", ".join(f"{name} {100 * n / max(1, sum(result['classes_seen'].values())):.0f}%"
                        for name, n in list(result["classes_seen"].items())[:8])
        typer.echo(f"rendered {result['frames']} label images ({result['label_set']}) into {out}; classes seen: {top}")
    if state.objects is not None:
        try:
            result = render_instances(run_dir, out, seq, device=device or cfg.device, every=every,
                                      progress=_progress_bar(0, "render instances"))
        except ValueError as exc:
            raise SemslamError(str(exc)) from None
        write_json_atomic(out / "render_instances.json", result)
        typer.echo(f"rendered {result['frames']} instance images (instances/, instance_colour/) into {out}; "
                   f"{len(result['objects_seen'])} objects seen")


@app.command("config")
def show_config(config: Optional[Path] = ConfigOption) -> None:
    """Print the resolved configuration (defaults + the given file) as YAML, to save and reuse."""
    import yaml

    cfg = _config(config, {})
    typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), nl=False)


@app.command()
def version() -> None:
    """Print the version and what the core was built with."""
    from .device import available_devices, build_info

    typer.echo(f"semslam {__version__}")
    typer.echo(json.dumps({"core": build_info(), "devices": available_devices()}, indent=2))


def main() -> None:
    """Entry point: our errors become one clear line and exit status 2, not a traceback."""
    try:
        app()
    except SemslamError as exc:
        typer.echo(f"semslam: error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        typer.echo("semslam: interrupted", err=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
