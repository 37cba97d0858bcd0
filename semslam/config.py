"""The one place where semslam's defaults live.

Every tunable number of the system is a named field here, with its unit and where the default
comes from. YAML files under configs/ override any subset; `load_config` merges them. The C++
core holds no defaults: it receives these values as plain structs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .errors import SemslamError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatasetConfig(_Section):
    """How a recorded sequence is read."""

    start: int = Field(0, ge=0, description="index of the first frame used (after association)")
    stride: int = Field(1, ge=1, description="use every stride-th frame")
    limit: int | None = Field(None, ge=1, description="at most this many frames (None: all)")
    strict: bool = Field(False, description="missing listed files are an error instead of a warning")
    max_time_difference: float = Field(
        0.02, gt=0, description="s; rgb/depth association window (TUM benchmark's associate.py)"
    )
    gt_max_time_difference: float = Field(
        0.05, gt=0, description="s; a frame needs ground truth on both sides within this gap to interpolate"
    )


class PreprocessConfig(_Section):
    """Depth preprocessing (ElasticFusion's bilateral filter and vertex/normal maps)."""

    bilateral_radius: int = Field(
        6, ge=0, le=12, description="pixels; window half-width (ElasticFusion/KinectFusion R = 6: 13x13)"
    )
    bilateral_sigma_space: float = Field(4.5, gt=0, description="pixels; ElasticFusion's sigma_pixel")
    bilateral_sigma_depth: float = Field(0.03, gt=0, description="m; ElasticFusion's sigma_intensity 30 mm")
    depth_min: float = Field(0.1, ge=0, description="m; nearer readings are treated as invalid")
    depth_max: float = Field(8.0, gt=0, description="m; farther readings are treated as invalid")


class SensorNoiseConfig(_Section):
    """Kinect-like depth/colour noise for synthetic sequences.

    Axial noise after Nguyen, Izadi & Lovell (3DIMPVT 2012): sigma_z = a + b (z - z0)^2;
    depth quantised in disparity like a structured-light sensor; readings lost at grazing
    angles and near depth discontinuities; a maximum range.
    """

    axial_a: float = Field(0.0012, ge=0, description="m; constant part of the axial sigma")
    axial_b: float = Field(0.0019, ge=0, description="1/m; quadratic part of the axial sigma")
    axial_z0: float = Field(0.4, description="m; depth where the quadratic part is zero")
    lateral_sigma_px: float = Field(0.8, ge=0, description="pixels; lateral jitter of the depth sampling")
    disparity_constant: float = Field(
        351.3,
        gt=0,
        description="m; depth is quantised to c / round(c / z): c = 8 * baseline * focal in 1/8-pixel "
        "disparity steps (Kinect: 0.075 m * 585 px * 8; the 35130 of Handa et al. with z in cm), "
        "about 11 mm steps at 2 m",
    )
    grazing_angle_deg: float = Field(78.0, gt=0, le=90, description="deg; readings beyond this incidence are lost")
    edge_dropout_px: int = Field(1, ge=0, description="pixels lost on each side of depth discontinuities")
    edge_jump: float = Field(0.05, gt=0, description="m; a neighbour this much farther marks a discontinuity")
    max_range: float = Field(4.5, gt=0, description="m; farther readings are lost")
    min_range: float = Field(0.45, ge=0, description="m; nearer readings are lost")
    rgb_sigma: float = Field(2.0, ge=0, description="intensity levels (0-255); Gaussian colour noise")


class SynthConfig(_Section):
    """Synthetic indoor sequences with exact ground truth."""

    frames: int = Field(300, ge=1, description="number of frames in the sequence")
    seed: int = Field(0, ge=0, description="seeds the room, its furniture, the hand-shake and the sensor noise")
    trajectory: Literal["orbit", "walk", "loop"] = Field(
        "orbit",
        description="orbit: circles the room centre looking inward; walk: across the room; "
        "loop: leaves its start and returns to exactly the start pose",
    )
    noise: Literal["kinect", "none"] = Field(
        "kinect", description="kinect: the sensor model below; none: exact depth and colour"
    )
    width: int = Field(640, ge=16, description="px; image width")
    height: int = Field(480, ge=16, description="px; image height")
    fx: float = Field(525.0, gt=0, description="px; default Kinect-like focal length")
    fy: float = Field(525.0, gt=0, description="px; vertical focal length")
    cx: float | None = Field(None, description="px; principal point (None: (width - 1) / 2)")
    cy: float | None = Field(None, description="px; principal point (None: (height - 1) / 2)")
    fps: float = Field(30.0, gt=0, description="frames per second; sets timestamps")
    depth_scale: float = Field(5000.0, gt=0, description="raw units per metre in the depth PNGs (TUM's)")
    speed: float = Field(
        0.25, gt=0, le=0.5, description="m/s; mean camera speed along the path (peaks 1.5x at mid-path)"
    )
    shake_translation: float = Field(0.003, ge=0, description="m; amplitude of the hand-shake per axis")
    shake_rotation_deg: float = Field(0.25, ge=0, description="deg; amplitude of the hand-shake rotation per axis")
    write_scene_mesh: bool = Field(True, description="also write scene.ply (labelled ground-truth mesh)")
    sensor: SensorNoiseConfig = SensorNoiseConfig()


class DemoConfig(_Section):
    """What `semslam demo` runs on: a synthetic sequence it generates itself (no download)."""

    frames: int = Field(30, ge=2, description="frames generated for the demo")
    seed: int = 0
    trajectory: Literal["orbit", "walk", "loop"] = "orbit"
    noise: Literal["kinect", "none"] = "kinect"


class EvalConfig(_Section):
    """How an estimated trajectory is compared with ground truth (`semslam eval`, through evo)."""

    max_difference: float = Field(
        0.02, gt=0, description="s; an estimated pose matches the nearest ground truth within this (TUM benchmark's default)"
    )
    alignment: Literal["se3", "sim3", "none"] = Field(
        "se3", description="Umeyama alignment of the estimate onto the ground truth: rigid (se3), with scale (sim3), or none"
    )
    rpe_delta_frames: int = Field(1, ge=1, description="frames; pose-pair step of the per-frame RPE")
    rpe_delta_seconds: float = Field(1.0, gt=0, description="s; pose-pair time step of the per-second RPE")
    rpe_delta_tolerance: float = Field(
        0.1, gt=0, lt=1, description="fraction of rpe_delta_seconds a pair's time step may miss it by (evo's rel_delta_tol)"
    )


class Config(_Section):
    """Everything a semslam run is configured with."""

    device: str = Field("cpu", description="cpu or cuda[:N]")
    dataset: DatasetConfig = DatasetConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    synth: SynthConfig = SynthConfig()
    demo: DemoConfig = DemoConfig()
    eval: EvalConfig = EvalConfig()


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(*paths: str | Path, overrides: dict | None = None) -> Config:
    """Defaults, then each YAML file in order, then `overrides` (a nested dict)."""
    data: dict = {}
    for path in paths:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise SemslamError(f"config file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise SemslamError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise SemslamError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
        data = _merge(data, loaded)
    if overrides:
        data = _merge(data, overrides)
    try:
        return Config.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: name the sources
        sources = ", ".join(str(p) for p in paths) or "defaults"
        raise SemslamError(f"invalid configuration ({sources}):\n{exc}") from None
