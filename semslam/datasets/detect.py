"""Format auto-detection and `open`: pick the reader that recognises a folder and run it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..config import DatasetConfig, RealSenseConfig
from ..errors import DatasetError, FormatNotRecognizedError
from . import icl, realsense, scannet, sevenscenes, tum
from .base import ReaderOptions, Sequence
from .frame import Intrinsics


@dataclass(frozen=True)
class Reader:
    """One on-disk format: its name, what it looks for (for error messages), how to spot and open it."""

    format: str
    looks_for: str
    recognize: Callable[[Path], bool]
    open: Callable[[Path, ReaderOptions], Sequence]


# Order matters: ICL-NUIM folders converted for TUM tools also hold rgb.txt/depth.txt, so the
# ICL-NUIM reader (integer frame names) is asked before the TUM reader. A RealSense recording is
# a file, which the folder readers are not asked about.
READERS: tuple[Reader, ...] = (
    Reader(realsense.FORMAT, realsense.LOOKS_FOR, realsense.recognize, realsense.open_recording),
    Reader(icl.FORMAT, icl.LOOKS_FOR, icl.recognize, icl.open_icl),
    Reader(tum.FORMAT, tum.LOOKS_FOR, tum.recognize, tum.open_tum),
    Reader(sevenscenes.FORMAT, sevenscenes.LOOKS_FOR, sevenscenes.recognize, sevenscenes.open_sevenscenes),
    Reader(scannet.FORMAT, scannet.LOOKS_FOR, scannet.recognize, scannet.open_scannet),
)
# Names accepted by `open(..., format=...)`; the synthetic format is read by the TUM reader.
FORMATS: dict[str, Reader] = {r.format: r for r in READERS} | {
    tum.SYNTHETIC_FORMAT: next(r for r in READERS if r.format == tum.FORMAT)}


def _check_folder(path: Path) -> Path:
    if not path.exists():
        raise DatasetError(f"dataset path does not exist: {path}")
    if not path.is_dir() and not realsense.recognize(path):
        raise FormatNotRecognizedError(
            f"{path} is a file; give the folder of a sequence, or a RealSense recording ({', '.join(realsense.SUFFIXES)})")
    return path


def detect_format(path: str | Path) -> str:
    """The format name of the sequence folder at `path`; FormatNotRecognizedError when no reader
    recognises it, saying what each reader looked for."""
    return _detect(_check_folder(Path(path))).format


def _detect(path: Path) -> Reader:
    for reader in READERS:
        if reader.recognize(path):
            return reader
    looked = "\n".join(f"  - {r.format}: {r.looks_for}" for r in READERS)
    raise FormatNotRecognizedError(f"{path}: no reader recognises this folder. Looked for:\n{looked}")


def resolve_config(config: DatasetConfig | None, overrides: dict) -> DatasetConfig:
    """`config` (or the defaults) with DatasetConfig fields in `overrides` replaced and validated."""
    config = config or DatasetConfig()
    unknown = set(overrides) - set(DatasetConfig.model_fields)
    if unknown:
        raise TypeError(f"unknown dataset option(s) {sorted(unknown)}; known: {sorted(DatasetConfig.model_fields)}")
    return DatasetConfig.model_validate({**config.model_dump(), **overrides}) if overrides else config


def open(  # noqa: A001 - the package's verb: semslam.datasets.open(path)
    path: str | Path,
    config: DatasetConfig | None = None,
    *,
    format: str | None = None,
    intrinsics: Intrinsics | None = None,
    require_ground_truth: bool = False,
    realsense_config: RealSenseConfig | None = None,
    **overrides,
) -> Sequence:
    """Open the recorded sequence in folder `path` lazily, detecting its format.

    `config` sets start/stride/limit/strict and the time windows; keyword `overrides` (start=...,
    stride=..., limit=..., strict=..., max_time_difference=..., gt_max_time_difference=...)
    replace its fields. `format` skips detection ("tum", "semslam-synthetic", "icl-nuim",
    "7scenes", "scannet"). `intrinsics` replaces the reader's camera. With
    `require_ground_truth`, frames without a ground-truth pose are a GroundTruthError.
    `path` may also be a RealSense recording file (.db3, .bag), read with `realsense_config`
    (post-processing filters, frame pairing; defaults when None).
    """
    options = ReaderOptions(
        config=resolve_config(config, overrides), intrinsics=intrinsics, require_ground_truth=require_ground_truth
    )
    path = _check_folder(Path(path))
    if format is None:
        reader = _detect(path)
    elif format in FORMATS:
        reader = FORMATS[format]
    else:
        raise FormatNotRecognizedError(f"unknown format {format!r}; known: {sorted(FORMATS)}")
    if reader.format == realsense.FORMAT:
        return realsense.open_recording(path, options, realsense_config)
    return reader.open(path, options)
