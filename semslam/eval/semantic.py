"""Semantic segmentation metrics: confusion matrices, IoU, pixel and class-average accuracy.

Conventions: label images are (H, W) integer class ids in one label set with C classes; id 0
("unannotated") in the ground truth is ignored (those pixels are not counted). A prediction of 0
where the ground truth has a class is a miss of that class. Confusion matrices are (C, C) int64
with rows = ground truth, columns = prediction. Averages run over the classes present in the
ground truth (row sum > 0), excluding 0, as the NYU / ScanNet benchmarks do.

- IoU_c = TP_c / (TP_c + FP_c + FN_c), FP_c counting predictions of c on annotated pixels only;
- pixel accuracy = sum TP / annotated pixels; class-average accuracy = mean_c TP_c / GT_c.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IGNORE_ID = 0  # "unannotated" in every label set


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, mask: np.ndarray | None = None) -> np.ndarray:
    """(C, C) int64 counts of (ground truth, prediction) over pixels where gt != 0 (and `mask`).

    gt, pred: integer arrays of one shape with ids in 0..C-1; ValueError names any id outside."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} must have the same shape")
    keep = gt != IGNORE_ID
    if mask is not None:
        if np.shape(mask) != gt.shape:
            raise ValueError(f"mask {np.shape(mask)} must have the shape of the labels {gt.shape}")
        keep &= np.asarray(mask, bool)
    g = gt[keep].astype(np.int64)
    p = pred[keep].astype(np.int64)
    for name, ids in (("ground truth", g), ("prediction", p)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise ValueError(f"{name} ids must lie in 0..{num_classes - 1}, got {ids.min()}..{ids.max()}")
    return np.bincount(g * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class SegmentationScores:
    """Scores of one confusion matrix. per_class: {name: {iou, accuracy, gt_pixels, predicted}}
    for the classes present in the ground truth."""

    miou: float
    pixel_accuracy: float
    class_accuracy: float
    pixels: int
    classes: int
    per_class: dict

    def as_dict(self) -> dict:
        return {"miou": self.miou, "pixel_accuracy": self.pixel_accuracy, "class_accuracy": self.class_accuracy,
                "pixels": self.pixels, "classes": self.classes, "per_class": self.per_class}


def scores(confusion: np.ndarray, names: list[str] | tuple[str, ...] | None = None) -> SegmentationScores:
    """mIoU, pixel accuracy and class-average accuracy of a (C, C) confusion matrix (NaN when it
    counts no annotated pixel)."""
    cm = np.asarray(confusion, dtype=np.int64)
    c = cm.shape[0]
    if cm.shape != (c, c):
        raise ValueError(f"a confusion matrix must be square, got {cm.shape}")
    names = list(names) if names is not None else [str(i) for i in range(c)]
    tp = np.diag(cm).astype(np.float64)
    gt = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    present = gt > 0
    present[IGNORE_ID] = False
    total = gt.sum()
    if not present.any():
        nan = float("nan")
        return SegmentationScores(nan, nan, nan, 0, 0, {})
    iou = tp / np.maximum(gt + predicted - tp, 1)
    accuracy = tp / np.maximum(gt, 1)
    per_class = {
        names[i]: {"id": i, "iou": float(iou[i]), "accuracy": float(accuracy[i]), "gt_pixels": int(gt[i]),
                   "predicted": int(predicted[i])}
        for i in np.flatnonzero(present)
    }
    return SegmentationScores(
        miou=float(iou[present].mean()),
        pixel_accuracy=float(tp.sum() / total),
        class_accuracy=float(accuracy[present].mean()),
        pixels=int(total),
        classes=int(present.sum()),
        per_class=per_class,
    )


def frame_miou(gt: np.ndarray, pred: np.ndarray, num_classes: int, mask: np.ndarray | None = None) -> float:
    """mIoU of one frame (over the classes in its ground truth); NaN when nothing is annotated."""
    return scores(confusion_matrix(gt, pred, num_classes, mask)).miou


class SegmentationAccumulator:
    """Sums confusion matrices over frames and keeps each frame's mIoU.

    >>> acc = SegmentationAccumulator(num_classes, names)
    >>> acc.add(gt, pred, mask)
    >>> acc.result()   # pooled scores + mean / list of per-frame mIoU
    """

    def __init__(self, num_classes: int, names=None) -> None:
        self.num_classes = num_classes
        self.names = names
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        self.frame_mious: list[float] = []

    def add(self, gt: np.ndarray, pred: np.ndarray, mask: np.ndarray | None = None) -> float:
        cm = confusion_matrix(gt, pred, self.num_classes, mask)
        self.confusion += cm
        miou = scores(cm).miou
        self.frame_mious.append(miou)
        return miou

    def result(self) -> dict:
        pooled = scores(self.confusion, self.names).as_dict()
        finite = [m for m in self.frame_mious if np.isfinite(m)]
        pooled["frame_miou_mean"] = float(np.mean(finite)) if finite else float("nan")
        pooled["frames"] = len(self.frame_mious)
        return pooled


def surfel_accuracy(pred: np.ndarray, gt: np.ndarray, num_classes: int, names=None) -> dict:
    """3D: per-surfel labels `pred` (N,) against ground-truth labels `gt` (N,) of the nearest
    scene surface. accuracy = fraction of surfels (gt != 0) labelled right; class_accuracy and
    miou over the classes present; per class."""
    result = scores(confusion_matrix(np.asarray(gt), np.asarray(pred), num_classes), names)
    out = result.as_dict()
    out["accuracy"] = out.pop("pixel_accuracy")
    out["surfels"] = out.pop("pixels")
    return out


# -- a run against ground truth -------------------------------------------------------------------

SEMANTIC_EVAL_FILE = "semantic_eval.json"
SEMANTIC_FIGURE_FILE = "semantic_eval.png"
_SCENE_MESH = "scene.ply"


def ground_truth_label_set(sequence, fallback=None):
    """The label set a sequence's label images use: the manifest's "label_set" (synthetic
    sequences), else the known set whose names agree with the sequence's class list at every id
    it lists, else `fallback` when its names agree. EvaluationError when none fits."""
    from ..errors import EvaluationError
    from ..segmentation.labels import LABEL_SETS, get_label_set

    manifest = Path(sequence.path) / "semslam.json"
    if manifest.is_file():
        name = json.loads(manifest.read_text()).get("label_set")
        if name:
            return get_label_set(name)
    names = sequence.label_names or {}
    candidates = ([fallback] if fallback is not None else []) + list(LABEL_SETS.values())
    for label_set in candidates:
        if names and all(0 <= i < len(label_set) and label_set.names[i] == n for i, n in names.items()):
            return label_set
    raise EvaluationError(f"{sequence.path}: cannot tell which label set its label images use "
                          f"(classes {dict(list(names.items())[:5])}...)")


def read_scene_mesh(path: str | Path) -> dict[str, np.ndarray]:
    """The labelled ground-truth mesh of a synthetic sequence (scene.ply): vertices (V, 3) float32,
    labels (V,) uint16, faces (F, 3) int32."""
    data = Path(path).read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise ValueError(f"{path} is not a PLY file")
    lines = data[:end].decode("ascii").splitlines()
    types = {"float": "<f4", "uchar": "u1", "ushort": "<u2", "int": "<i4", "uint": "<u4", "short": "<i2"}
    vertex_fields, counts, element = [], {}, None
    for line in lines:
        parts = line.split()
        if parts[:1] == ["element"]:
            element = parts[1]
            counts[element] = int(parts[2])
        elif parts[:1] == ["property"] and element == "vertex":
            vertex_fields.append((parts[2], types[parts[1]]))
        elif parts[:2] == ["property", "list"] and parts[2:4] != ["uchar", "int"]:
            raise ValueError(f"{path}: faces must be uchar-counted int lists")
    names = [n for n, _ in vertex_fields]
    if "label" not in names or "face" not in counts:
        raise ValueError(f"{path}: a labelled scene mesh needs vertex labels and faces")
    offset = end + len("end_header\n")
    vertex = np.frombuffer(data, np.dtype(vertex_fields), counts["vertex"], offset)
    faces = np.frombuffer(data, np.dtype([("n", "u1"), ("idx", "<i4", (3,))]), counts["face"],
                          offset + vertex.nbytes)
    if faces.size and np.any(faces["n"] != 3):
        raise ValueError(f"{path}: faces must be triangles")
    return {"vertices": np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1).astype(np.float32),
            "labels": vertex["label"].astype(np.uint16), "faces": faces["idx"].astype(np.int32)}


def nearest_surface_labels(points: np.ndarray, mesh: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(label of the nearest triangle (N,) uint16, distance to it (N,) float32 m) for points
    (N, 3) in the mesh's frame (Open3D's closest-point query)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh["vertices"]), o3d.core.Tensor(mesh["faces"].astype(np.uint32)))
    query = o3d.core.Tensor(np.ascontiguousarray(points, np.float32))
    closest = scene.compute_closest_points(query)
    triangle = closest["primitive_ids"].numpy().astype(np.int64)
    distance = np.linalg.norm(closest["points"].numpy() - points, axis=1).astype(np.float32)
    return mesh["labels"][mesh["faces"][triangle, 0]], distance


def evaluate_semantic_run(run_dir: str | Path, sequence=None, device: str | None = None, write: bool = True,
                          progress=None) -> dict:
    """Per-frame segmentation vs the map reprojected into the same frames, against the sequence's
    ground-truth labels; and in 3D, each stable surfel's label against the nearest triangle of the
    synthetic scene mesh (scene.ply) when the sequence has one.

    Frames: those the run segmented (segmentation/<timestamp>.png), else every frame of the
    trajectory. Pixels counted: annotated in the ground truth and covered by a stable surfel of the
    map, the same pixels for the per-frame and the map scores; `map_coverage` says which fraction of
    the annotated pixels that is, and `per_frame_all_pixels` scores the segmentation on all of them.
    Writes semantic_eval.json and semantic_eval.png into the run folder when `write`."""
    from .. import datasets
    from ..errors import EvaluationError
    from ..io.atomic import write_json_atomic
    from ..io.map_state import load_map_state
    from ..segmentation.base import SegmentationError
    from ..segmentation.mapping import find_mapping
    from ..semantics.render import MapLabelRenderer, match_timestamps

    run_dir = Path(run_dir)
    state = load_map_state(run_dir)
    if state.label_set is None:
        raise EvaluationError(f"{state.path}: the map has no classes (the run had no segmenter)")
    if sequence is None:
        summary_path = run_dir / "summary.json"
        try:
            dataset_path = json.loads(summary_path.read_text())["dataset"]["path"]
        except (FileNotFoundError, KeyError, json.JSONDecodeError):
            raise EvaluationError(f"{summary_path}: no dataset path; pass the sequence with --dataset") from None
        sequence = datasets.open(dataset_path)
    if not sequence.has_labels:
        raise EvaluationError(f"{sequence.path} has no ground-truth label images")
    # scores are computed in the map's label set, or in the ground truth's when only the map's
    # classes map onto those (ADE20K map, NYU40 ground truth)
    gt_set = ground_truth_label_set(sequence, state.label_set)
    try:
        gt_to_eval = find_mapping(gt_set, state.label_set).index
        pred_to_eval = np.arange(len(state.label_set))
        label_set = state.label_set
    except SegmentationError:
        gt_to_eval = np.arange(len(gt_set))
        pred_to_eval = find_mapping(state.label_set, gt_set).index
        label_set = gt_set
    num_classes = len(label_set)

    seg_dir = run_dir / "segmentation"
    seg_files = sorted(seg_dir.glob("*.png")) if seg_dir.is_dir() else []
    if seg_files:
        seg_times = np.array([float(p.stem) for p in seg_files])
        poses_of = match_timestamps(state.timestamps, seg_times)
    else:
        seg_times, poses_of = state.timestamps, np.arange(len(state.timestamps))
    frames_of = match_timestamps(sequence.timestamps, seg_times)

    renderers = {"map": MapLabelRenderer(state, device)}
    if "labels_before_crf" in state.surfels:
        renderers["map_before_crf"] = MapLabelRenderer(state, device, labels="before_crf")
    acc = {name: SegmentationAccumulator(num_classes, label_set.names) for name in ["per_frame", *renderers]}
    acc_all = SegmentationAccumulator(num_classes, label_set.names)
    annotated = covered = 0
    import cv2

    todo = [(k, int(poses_of[k]), int(frames_of[k])) for k in range(len(seg_times))
            if poses_of[k] >= 0 and frames_of[k] >= 0]
    if not todo:
        raise EvaluationError(f"{run_dir}: no frame of the run matches a frame of {sequence.path} in time")
    for n, (k, pose_index, frame_index) in enumerate(todo):
        frame = sequence[frame_index]
        if frame.labels is None:
            continue
        gt = gt_to_eval[frame.labels.astype(np.int64)]
        rendered = {name: r.render(state.T_world_cam[pose_index], state.intrinsics) for name, r in renderers.items()}
        mask = rendered["map"][1] >= 0
        annotated += int((gt != IGNORE_ID).sum())
        covered += int(((gt != IGNORE_ID) & mask).sum())
        if seg_files:
            seg = cv2.imdecode(np.fromfile(str(seg_files[k]), np.uint8), cv2.IMREAD_UNCHANGED)
            if seg is None or seg.shape != gt.shape:
                raise EvaluationError(f"{seg_files[k]}: not a {gt.shape[1]}x{gt.shape[0]} label image")
            seg = pred_to_eval[seg.astype(np.int64)]
            acc["per_frame"].add(gt, seg, mask)
            acc_all.add(gt, seg)
        for name, (labels, _) in rendered.items():
            acc[name].add(gt, pred_to_eval[labels.astype(np.int64)], mask)
        if progress is not None:
            progress(n + 1, len(todo))

    result = {
        "label_set": label_set.name,
        "map_label_set": state.label_set.name,
        "frames_evaluated": len(todo),
        "pixels": "annotated ground truth covered by a stable surfel of the map",
        "map_coverage": covered / annotated if annotated else float("nan"),
        **{name: a.result() for name, a in acc.items() if a.frame_mious},
        **({"per_frame_all_pixels": acc_all.result()} if acc_all.frame_mious else {}),
        "surfels_3d": _surfel_accuracy_3d(state, sequence, label_set, gt_to_eval, pred_to_eval),
    }
    if write:
        write_json_atomic(run_dir / SEMANTIC_EVAL_FILE, result)
        plot_semantic_eval(result, run_dir / SEMANTIC_FIGURE_FILE)
    return result


def _surfel_accuracy_3d(state, sequence, label_set, gt_to_eval: np.ndarray, pred_to_eval: np.ndarray) -> dict | None:
    """Per-surfel accuracy of the stable surfels against scene.ply, in the ground-truth frame
    (the map's world is its first camera: moved by the first frame's ground-truth pose)."""
    from ..semantics.render import match_timestamps

    mesh_path = Path(sequence.path) / _SCENE_MESH
    if not mesh_path.is_file() or len(state.timestamps) == 0:
        return None
    gt_stamps, gt_poses = sequence.ground_truth_poses()
    first = match_timestamps(gt_stamps, state.timestamps[:1])[0]
    if first < 0:
        return None
    T_gt_map = gt_poses[first] @ np.linalg.inv(state.T_world_cam[0])
    stable = state.surfels["confidences"] >= state.config.map.confidence_threshold
    points = state.surfels["positions"][stable].astype(np.float64) @ T_gt_map[:3, :3].T + T_gt_map[:3, 3]
    gt_labels, distance = nearest_surface_labels(points, read_scene_mesh(mesh_path))
    gt_labels = gt_to_eval[gt_labels.astype(np.int64)]
    out = {"surfels": int(stable.sum()),
           "distance_m": {"median": float(np.median(distance)) if distance.size else float("nan"),
                          "p95": float(np.percentile(distance, 95)) if distance.size else float("nan")}}
    out["map"] = surfel_accuracy(pred_to_eval[state.labels()[0][stable].astype(np.int64)], gt_labels,
                                 len(label_set), label_set.names)
    if "labels_before_crf" in state.surfels:
        before = np.maximum(state.surfels["labels_before_crf"][stable], 0).astype(np.int64)
        out["map_before_crf"] = surfel_accuracy(pred_to_eval[before], gt_labels, len(label_set), label_set.names)
    return out


def format_semantic_table(result: dict) -> str:
    """A few lines: mIoU, pixel and class accuracy per source, coverage and 3D accuracy."""
    lines = [f"semantic evaluation ({result['label_set']}, {result['frames_evaluated']} frames, "
             f"map covers {100 * result['map_coverage']:.1f}% of the annotated pixels)",
             f"  {'':<16}{'mIoU':>8}{'pixel acc':>11}{'class acc':>11}{'frame mIoU':>12}"]
    for name in ("per_frame", "map_before_crf", "map"):
        if name in result:
            r = result[name]
            lines.append(f"  {name:<16}{r['miou']:>8.3f}{r['pixel_accuracy']:>11.3f}{r['class_accuracy']:>11.3f}"
                         f"{r['frame_miou_mean']:>12.3f}")
    s3 = result.get("surfels_3d")
    if s3:
        parts = [f"{name} {s3[name]['accuracy']:.3f}" for name in ("map_before_crf", "map") if name in s3]
        lines.append(f"  3D: {s3['surfels']} stable surfels, accuracy {', '.join(parts)} (median distance to "
                     f"the scene {1000 * s3['distance_m']['median']:.1f} mm)")
    return "\n".join(lines)


def plot_semantic_eval(result: dict, path: str | Path) -> None:
    """A small PNG: per-class IoU of the per-frame segmentation and of the map, overall scores in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.atomic import atomic_open

    sources = [name for name in ("per_frame", "map_before_crf", "map") if name in result]
    classes = sorted({c for s in sources for c in result[s]["per_class"]},
                     key=lambda c: -max(result[s]["per_class"].get(c, {}).get("gt_pixels", 0) for s in sources))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(classes) + 2), 3.6), dpi=110)
    width = 0.8 / max(1, len(sources))
    x = np.arange(len(classes))
    for j, name in enumerate(sources):
        values = [result[name]["per_class"].get(c, {}).get("iou", 0.0) for c in classes]
        ax.bar(x + (j - (len(sources) - 1) / 2) * width, values, width,
               label=f"{name.replace('_', ' ')} (mIoU {result[name]['miou']:.3f})")
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"{result['label_set']}: per-frame segmentation vs the fused map, {result['frames_evaluated']} frames",
                 fontsize=8)
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
