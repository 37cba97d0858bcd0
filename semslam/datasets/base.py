"""The lazy `Sequence` every reader returns, and what readers share to build one.

A reader lists the frames of a recording as `FrameRecord`s (file paths, timestamp, ground-truth
pose or the file holding it) and hands them to `build_sequence`, which drops frames whose files
are missing, applies start/stride/limit and checks ground-truth coverage. Images are decoded only
when a frame is accessed, so a 3,000-frame sequence never sits in memory.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..config import DatasetConfig
from ..errors import DatasetError, DatasetWarning, GroundTruthError
from . import imageio
from .frame import Frame, Intrinsics

_MISSING_SHOWN = 5  # missing frames named in a warning or error message


@dataclass
class FrameRecord:
    """Where one frame lives on disk, before decoding.

    timestamp in seconds. T_world_cam: 4x4 float64 ground truth when known at listing time;
    pose_path: a file holding it (read lazily) for formats with one pose file per frame.
    """

    source_index: int
    timestamp: float
    rgb_path: Path
    depth_path: Path
    labels_path: Path | None = None
    instances_path: Path | None = None
    T_world_cam: np.ndarray | None = None
    pose_path: Path | None = None

    def files(self) -> list[Path]:
        return [p for p in (self.rgb_path, self.depth_path, self.labels_path, self.instances_path) if p is not None]


def read_pose_matrix_file(path: Path) -> np.ndarray | None:
    """A 4x4 camera-to-world matrix from a text file (7-Scenes, ScanNet); None when it holds
    non-finite values (ScanNet marks lost tracking with -inf/nan rows). Malformed → GroundTruthError."""
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except OSError as exc:
        raise GroundTruthError(f"cannot read pose file {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise GroundTruthError(f"pose file {path} holds something that is not a number") from None
    if values.size != 16:
        raise GroundTruthError(f"pose file {path} must hold a 4x4 matrix (16 numbers), got {values.size}")
    pose = values.reshape(4, 4)
    if not np.all(np.isfinite(pose)):
        return None
    return pose


class Sequence:
    """A recorded RGB-D sequence, read lazily.

    `len(seq)` frames; `seq[i]` decodes frame i into a `Frame` (rgb uint8 HxWx3, depth float32 HxW
    metres) on access; iterating decodes one frame at a time. `timestamps` (N,) float64 seconds.
    `ground_truth_poses()` gives the frames that have ground truth as (timestamps (M,),
    T_world_cam (M,4,4)). `label_names` maps class id -> name when the sequence has labels.
    """

    def __init__(
        self,
        *,
        path: Path,
        name: str,
        format: str,
        intrinsics: Intrinsics,
        records: list[FrameRecord],
        label_names: dict[int, str] | None = None,
        instance_info: list[dict] | None = None,
        depth_invalid_value: int | None = None,
        resize_rgb_to_depth: bool = False,
        missing_frames: int = 0,
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.format = format
        self.intrinsics = intrinsics
        self.label_names = label_names
        self.instance_info = instance_info
        self.missing_frames = missing_frames
        self._records = records
        self._depth_invalid_value = depth_invalid_value
        self._resize_rgb_to_depth = resize_rgb_to_depth
        self._poses: list[np.ndarray | None] | None = None
        self.timestamps = np.array([r.timestamp for r in records], dtype=np.float64)
        self._colour_reader: ThreadPoolExecutor | None = None  # made on first use (see _load_frame)
        self._colour_reader_lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_colour_reader"] = None  # threads do not pickle; the copy makes its own
        state["_colour_reader_lock"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._colour_reader_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Sequence(format={self.format!r}, name={self.name!r}, frames={len(self)}, path='{self.path}')"

    def __getitem__(self, index: int) -> Frame:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"Sequence indices must be integers, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for a sequence of {n} frames")
        index = int(index) % n
        return self._load_frame(index)

    @property
    def has_ground_truth(self) -> bool:
        return any(r.T_world_cam is not None or r.pose_path is not None for r in self._records)

    @property
    def has_labels(self) -> bool:
        return any(r.labels_path is not None for r in self._records)

    @property
    def has_instances(self) -> bool:
        return any(r.instances_path is not None for r in self._records)

    def pose(self, index: int) -> np.ndarray | None:
        """Ground-truth T_world_cam (4x4 float64) of frame `index`, or None where there is none."""
        record = self._records[index]
        if record.T_world_cam is not None:
            return record.T_world_cam.copy()
        if record.pose_path is not None:
            return read_pose_matrix_file(record.pose_path)
        return None

    def ground_truth_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps (M,) seconds, T_world_cam (M,4,4) float64) of the M frames with ground truth."""
        if self._poses is None:
            self._poses = [self.pose(i) for i in range(len(self))]
        keep = [i for i, p in enumerate(self._poses) if p is not None]
        poses = np.array([self._poses[i] for i in keep], dtype=np.float64).reshape(-1, 4, 4)
        return self.timestamps[keep], poses

    def _load_frame(self, index: int) -> Frame:
        record = self._records[index]
        size = (self.intrinsics.height, self.intrinsics.width)
        # The colour image decodes on a second thread while the depth decodes here (cv2 releases the
        # GIL): a frame is ready when the slower one is (TUM 640x480: 11 ms, against 7.7 + 10.6 ms
        # one after the other).
        with self._colour_reader_lock:
            if self._colour_reader is None:
                self._colour_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semslam-colour")
            colour = self._colour_reader.submit(
                imageio.read_rgb, record.rgb_path, size, resize_to=size if self._resize_rgb_to_depth else None
            )
        try:
            depth = imageio.read_depth(
                record.depth_path, self.intrinsics.depth_scale, size, invalid_value=self._depth_invalid_value
            )
        except BaseException:
            colour.cancel()  # the depth's error is the one raised; a colour decode under way just ends
            raise
        rgb = colour.result()  # raises the colour image's own error (a missing or corrupt file)
        labels = instances = None
        if record.labels_path is not None:
            labels = imageio.read_id_image(record.labels_path, size, what="label")
        if record.instances_path is not None:
            instances = imageio.read_id_image(record.instances_path, size, what="instance")
        return Frame(
            index=index,
            timestamp=record.timestamp,
            rgb=rgb,
            depth=depth,
            intrinsics=self.intrinsics,
            T_world_cam=self.pose(index),
            labels=labels,
            instances=instances,
            meta={"source_index": record.source_index, "rgb_path": str(record.rgb_path),
                  "depth_path": str(record.depth_path)},
        )


@dataclass
class ReaderOptions:
    """What `open` passes to every reader: the dataset config and the keyword-only extras."""

    config: DatasetConfig = field(default_factory=DatasetConfig)
    intrinsics: Intrinsics | None = None
    require_ground_truth: bool = False


def build_sequence(
    *,
    path: Path,
    name: str,
    format: str,
    intrinsics: Intrinsics,
    records: list[FrameRecord],
    options: ReaderOptions,
    **sequence_kwargs,
) -> Sequence:
    """Drop frames whose files are missing, apply start/stride/limit and check ground truth.

    Missing files: a DatasetWarning naming the count and the first frames dropped, or a
    DatasetError with `strict`. No frame left, before or after slicing: DatasetError.
    `require_ground_truth`: every selected frame must have a pose, else GroundTruthError.
    """
    if not records:
        raise DatasetError(f"{path}: the sequence lists no frames")
    present, missing = [], []
    for record in records:
        absent = [p for p in record.files() if not p.is_file()]
        (missing if absent else present).append((record, absent))
    if missing:
        shown = "; ".join(
            f"frame {r.source_index} (t={r.timestamp:.6f}): {', '.join(str(p) for p in absent)}"
            for r, absent in missing[:_MISSING_SHOWN]
        )
        more = f"; and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
        message = f"{path}: {len(missing)} of {len(records)} frames have missing files: {shown}{more}"
        if options.config.strict or not present:
            raise DatasetError(message)
        warnings.warn(f"{message}; these frames are dropped", DatasetWarning, stacklevel=3)
    kept = [r for r, _ in present]
    cfg = options.config
    stop = None if cfg.limit is None else cfg.start + cfg.limit * cfg.stride
    selected = kept[cfg.start : stop : cfg.stride]
    if not selected:
        raise DatasetError(
            f"{path}: no frames left after start={cfg.start}, stride={cfg.stride}, limit={cfg.limit} "
            f"({len(kept)} frames available)"
        )
    sequence = Sequence(
        path=path, name=name, format=format, intrinsics=intrinsics, records=selected,
        missing_frames=len(missing), **sequence_kwargs,
    )
    if options.require_ground_truth:
        lacking = [i for i in range(len(sequence)) if sequence.pose(i) is None]
        if lacking:
            raise GroundTruthError(
                f"{path}: ground truth was required but {len(lacking)} of {len(sequence)} frames have none "
                f"(first: frames {lacking[:_MISSING_SHOWN]})"
            )
    return sequence


def describe(seq: Sequence, depth_samples: int = 5) -> dict:
    """A summary for `semslam info`: format, path, frames, intrinsics, ground-truth coverage,
    depth statistics over `depth_samples` evenly spaced frames (metres), labels/instances.

    Reading the sampled frames decodes them; an unreadable one raises ImageReadError.
    """
    n = len(seq)
    info: dict = {
        "format": seq.format,
        "name": seq.name,
        "path": str(seq.path),
        "frames": n,
        "missing_frames_dropped": seq.missing_frames,
        "first_time": float(seq.timestamps[0]),
        "last_time": float(seq.timestamps[-1]),
        "duration_s": float(seq.timestamps[-1] - seq.timestamps[0]),
        "intrinsics": seq.intrinsics.to_dict(),
    }
    gt_stamps, _ = seq.ground_truth_poses()
    info["ground_truth"] = {
        "frames_with_pose": int(len(gt_stamps)),
        "frames": n,
        "coverage": len(gt_stamps) / n,
        "first_time": float(gt_stamps[0]) if len(gt_stamps) else None,
        "last_time": float(gt_stamps[-1]) if len(gt_stamps) else None,
    }
    sample = sorted(set(np.linspace(0, n - 1, min(depth_samples, n)).round().astype(int).tolist()))
    valid_fractions, values = [], []
    for i in sample:
        depth = imageio.read_depth(
            seq._records[i].depth_path, seq.intrinsics.depth_scale, invalid_value=seq._depth_invalid_value
        )
        valid = depth[depth > 0]
        valid_fractions.append(valid.size / depth.size)
        values.append(valid)
    all_valid = np.concatenate(values) if values else np.empty(0, np.float32)
    info["depth"] = {
        "frames_sampled": sample,
        "valid_fraction": float(np.mean(valid_fractions)),
        "min_m": float(all_valid.min()) if all_valid.size else None,
        "median_m": float(np.median(all_valid)) if all_valid.size else None,
        "max_m": float(all_valid.max()) if all_valid.size else None,
    }
    info["labels"] = seq.has_labels
    info["instances"] = seq.has_instances
    info["classes"] = len(seq.label_names) if seq.label_names else 0
    return info
