"""The one place where semslam's defaults live.

Every tunable number of the system is a named field here, with its unit and where the default
comes from. YAML files under configs/ override any subset; `load_config` merges them. The C++
core holds no defaults: it receives these values as plain structs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import SemslamError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    # fields a section no longer has: {name: why}; a config (a YAML file, a saved run's) that still
    # sets one loads with a warning, any other unknown field is an error
    _retired: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls._retired and any(k in data for k in cls._retired):
            data = dict(data)
            for name, why in cls._retired.items():
                if name in data:
                    del data[name]
                    warnings.warn(f"config: {cls.__name__}.{name} is ignored: {why}", stacklevel=2)
        return data


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
    read_ahead: int = Field(
        0,
        ge=0,
        description="frames decoded ahead of the mapping loop on a reader thread (0: read in the loop, colour and "
        "depth side by side). 0 by default: on 2 cores a reader thread preempts the mapping threads (fr3/teddy on "
        "2 pinned cores: 9.4 frames/s reading in the loop, 8.3 with 2 read ahead); with cores to spare, read ahead",
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


class TrackingConfig(_Section):
    """Frame-to-model RGB-D tracking (ElasticFusion's RGBDOdometry: ICP + photometric, 3 levels).

    Intensities are 0..255 (0.299 R + 0.587 G + 0.114 B); levels are numbered from the full
    resolution (0) to the coarsest (2) and run coarsest first.
    """

    # what the Python loop uses; the core's FrameProcessor takes the other fields (core_params)
    _loop_fields: ClassVar[set[str]] = {"fill_in_min_density", "motion_model"}

    def core_params(self) -> dict:
        """The fields the core's FrameProcessor takes as its `tracking` dict."""
        return self.model_dump(exclude=self._loop_fields)

    iterations: tuple[int, int, int] = Field(
        (10, 5, 4),
        description="Gauss-Newton iterations for levels 0 (full resolution, >= 1), 1, 2 (half, quarter); run "
        "coarsest first, 4 then 5 then 10 (ElasticFusion's iterations[0..2] = 10, 5, 4)",
    )
    pyramid_sigma_depth: float = Field(
        0.03, gt=0, description="m; depth pyrDown averages neighbours within 3 sigma (KinectFusion/ElasticFusion 30 mm)"
    )
    icp_max_distance: float = Field(0.10, gt=0, description="m; ICP association gate (ElasticFusion distThresh 0.1)")
    icp_max_angle_deg: float = Field(
        20.0, gt=0, le=90, description="deg; ICP normal-angle gate (ElasticFusion angleThresh sin 20 deg)"
    )
    icp_weight: float = Field(
        10.0, ge=0, description="ICP residuals weigh this much relative to RGB: A = w^2 A_icp + A_rgb "
        "(ElasticFusion's icpWeight 10)"
    )
    rgb_max_depth_delta: float = Field(
        0.07, gt=0, description="m; photometric association depth gate (ElasticFusion maxDepthDeltaRGB)"
    )
    rgb_min_gradient: tuple[float, float, float] = Field(
        (5.0, 3.0, 1.0), description="intensity/pixel; weaker gradients are not used, levels 0, 1, 2 "
        "(ElasticFusion minimumGradientMagnitudes)"
    )
    min_inlier_fraction: float = Field(
        0.1, ge=0, le=1, description="failure below this fraction of valid pixels with an ICP match at level 0 (ours)"
    )
    max_condition: float = Field(
        1e6, gt=1, description="failure when the final 6x6 system's condition number exceeds this (ours, measured)"
    )
    max_translation: float = Field(
        0.3, gt=0, description="m; failure when the estimate moves this far from the initial pose (ElasticFusion 0.3)"
    )
    max_rotation_deg: float = Field(
        20.0, gt=0, description="deg; failure when the estimate rotates this far from the initial pose (ours)"
    )
    motion_model: Literal["constant_velocity", "static"] = Field(
        "constant_velocity", description="where tracking starts each frame: the last pose moved by the last tracked "
        "frame's motion again (constant velocity; the last pose after a failure), or the last pose (static: "
        "ElasticFusion's). Where the frame constrains the pose weakly (a camera sliding along a blank wall: ICP "
        "holds 3 of 6 degrees of freedom and the photometric term has a few hundred pixels) the estimate stays near "
        "where it started (an 850-frame synthetic room scan: ATE 31.6 cm static, 3.1 cm constant velocity; "
        "fr3/teddy: 0.84, 0.81 cm)"
    )
    fill_in_min_density: float = Field(
        0.75, ge=0, le=1, description="when fewer of the prediction's pixels hold a surfel, its holes are filled "
        "from the last tracked frame (ElasticFusion's denseEnough / FillIn)",
    )
    convergence_epsilon: float = Field(
        3e-4,
        ge=0,
        description="a level stops early when the update's norm (rad and m together) falls below this "
        "(ours; fr3/teddy 193 frames: 3e-4 stops after 2.2 full-resolution iterations a frame on average, ATE "
        "0.84 cm; 1e-4 after 4.6, ATE 0.77 cm)",
    )


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


KINECT_FOCAL_PX = 525.0  # px at 640x480: the Kinect v1 focal length (TUM's default intrinsics)


class SynthConfig(_Section):
    """Synthetic indoor sequences with exact ground truth."""

    frames: int = Field(300, ge=1, description="number of frames in the sequence")
    seed: int = Field(0, ge=0, description="seeds the room, its furniture, the hand-shake and the sensor noise")
    trajectory: Literal["orbit", "walk", "loop", "tour", "scan"] = Field(
        "orbit",
        description="orbit: circles the room centre looking inward; walk: across the room; "
        "loop: leaves its start and returns to exactly the start pose; tour: round the ring like an orbit, held "
        "higher, looking down at the room's middle, the gaze swinging and nodding (things seen from several sides; "
        "at 15 frames/s and 0.3 m/s it covers 2.4 m in 120 frames and tracks); scan: round the ring facing the walls "
        "and the furniture along them from 1-2 m, panning slowly (at most 1.8 deg a frame at 30 frames/s, 0.3 m/s)",
    )
    noise: Literal["kinect", "none"] = Field(
        "kinect", description="kinect: the sensor model below; none: exact depth and colour"
    )
    width: int = Field(640, ge=16, description="px; image width")
    height: int = Field(480, ge=16, description="px; image height")
    fx: float | None = Field(
        None, gt=0, description="px; None: Kinect-like 525 px at 640 px width, scaled with the width"
    )
    fy: float | None = Field(None, gt=0, description="px; None: 525 px at 480 px height, scaled with the height")
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
    colour_supersampling: int = Field(
        2, ge=1, le=4, description="colour is averaged over n x n sub-pixel rays, as a camera pixel integrates "
        "light over its area (1: point-sampled; sharp texture edges then alias)",
    )
    sensor: SensorNoiseConfig = SensorNoiseConfig()


class DemoConfig(_Section):
    """What `semslam demo` runs on: a synthetic sequence it generates itself (no download)."""

    frames: int = Field(30, ge=2, description="frames generated for the demo")
    seed: int = 0
    trajectory: Literal["orbit", "walk", "loop"] = "orbit"
    noise: Literal["kinect", "none"] = "kinect"
    segmenter: str = Field(
        "oracle:moderate", description="labels when the config names no segmenter and no --model is given "
        "(the oracle: ground truth with moderate noise, per-frame mIoU about 0.6)"
    )
    segment_every: int = Field(
        2, ge=1, description="frames; the demo's sequence is short, so it segments more often than "
        "SemanticFusion's 10"
    )
    instances: str = Field(
        "oracle:noisy", description="objects when the config names no instance segmenter (ground-truth "
        "instances with 20% missed, 10% false positive, 10% wrong-class detections)"
    )
    queue_every_frame: bool = Field(
        True, description="the segmentation workers' queues hold every due frame of the demo (its sequence is "
        "short, and the workers run on CPU time tracking leaves idle: with the default queue most frames would be "
        "skipped); tracking still never waits, the queued frames are fused as they finish and at the end"
    )


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
    object_min_visible_frames: int = Field(
        5, ge=1, description="frames; a true object counts as present when it covers objects.min_mask_pixels in this many"
    )
    object_min_map_surfels: int = Field(
        50, ge=1, description="a true object counts as present when this many of the map's surfels lie in its box"
    )
    object_margin: float = Field(0.03, ge=0, description="m; a map object's surfels count as inside a true box within this")


class MapConfig(_Section):
    """The surfel map: rendering, fusion and clean-up (ElasticFusion, Whelan et al. RSS 2015 /
    IJRR 2016). Sources name mp3guy/ElasticFusion's files: ElasticFusion.cpp (EF), the shaders
    splat.vert (prediction), index_map.vert, data.vert (association), update.vert (averaging),
    copy_unstable.vert (clean-up), surfels.glsl (radius, confidence) and IndexMap.cpp.
    """

    time_window: int = Field(
        200, ge=0, description="frames; a surfel is active (rendered, fused) while time - last update <= this "
        "(EF timeDelta, -t 200)"
    )
    confidence_threshold: float = Field(
        10.0, ge=0, description="accumulated weight at which a surfel is stable; only stable surfels are "
        "predicted for tracking (EF confidenceThreshold, -c 10; splat.vert)"
    )
    render_depth_max: float = Field(
        20.0, gt=0, description="m; farther surfels are not rendered (EF maxDepthProcessed 20)"
    )
    fuse_depth_max: float = Field(
        3.0, gt=0, description="m; farther measurements are not fused (EF depthCutoff, -d 3)"
    )
    index_scale: int = Field(
        4, ge=1, le=16, description="sub-pixels per pixel and axis of the fine index map used for association "
        "(EF IndexMap::FACTOR 4 in the 2015 release; later versions use 1)"
    )
    window_multiplier: int = Field(
        2, ge=1, le=16, description="association / clean window: index_scale * this sub-pixels per axis, "
        "centred on the pixel (EF windowMultiplier 2: 8x8 sub-pixels)"
    )
    fuse_depth_gate: float = Field(
        0.05, gt=0, description="m; a candidate's depth along the pixel's ray must differ by less (data.vert 0.05)"
    )
    fuse_normal_angle: float = Field(
        0.5, gt=0, description="rad; candidate and measured normals must agree within this, 28.6 deg (data.vert 0.5)"
    )
    fuse_grazing_normal_z: float = Field(
        0.75, ge=0, le=1, description="the normal test is skipped when the candidate's camera-frame |n_z| is "
        "below this (data.vert 0.75)"
    )
    fuse_radius_ratio: float = Field(
        1.5, gt=0, description="a match is averaged in only when its radius < this * the surfel's; otherwise only "
        "confidence and time are updated (update.vert (1.0 + 0.5))"
    )
    radius_max_factor: float = Field(
        2.0, ge=1, description="measurement radius sqrt(2) z / f / |n_z| is capped at this * sqrt(2) z / f "
        "(surfels.glsl getRadius)"
    )
    confidence_sigma: float = Field(
        0.6, gt=0, description="Gaussian sigma of a measurement's confidence over its distance from the principal "
        "point normalised by the half image diagonal (paper and surfels.glsl: 2 sigma^2 = 0.72)"
    )
    checkerboard: bool = Field(
        True, description="fuse only pixels whose x and y parity equal the frame time's, a quarter of the image "
        "per frame (data.vert)"
    )
    unstable_time: int = Field(
        20, ge=0, description="frames; unstable surfels not updated for longer are removed (copy_unstable.vert 20)"
    )
    unstable_time_object: int = Field(
        200, ge=0, description="frames; the same for unstable surfels that belong to an object (instance id >= 0): "
        "things confirmed by detections but seen from afar seldom reach the confidence threshold (200 = time_window; "
        "a map without objects has none of these, so dense SLAM is unchanged)"
    )
    merge_depth: float = Field(
        0.01, gt=0, description="m; an older stable surfel less than this behind a surfel overlaps it "
        "(copy_unstable.vert 0.01)"
    )
    merge_radius_factor: float = Field(
        1.4, gt=0, description="... when also laterally (camera x, y) within this * the surfel's radius "
        "(copy_unstable.vert 1.4)"
    )
    merge_count: int = Field(
        8, ge=0, description="a surfel with more overlap samples than this is removed as a duplicate; the window "
        "is sampled every half sub-pixel, so a sub-pixel counts up to 4 times (copy_unstable.vert count > 8)"
    )
    free_space_depth: float = Field(
        0.01, ge=0, description="m; stable surfels updated this frame more than this behind a surfel ... "
        "(copy_unstable.vert 0.01)"
    )
    free_space_normal_z: float = Field(
        0.85, ge=0, le=1, description="... while it faces the camera (|n_z| above this) ... (copy_unstable.vert 0.85)"
    )
    free_space_count: int = Field(
        4, ge=0, description="... in more samples than this remove it as a free-space violation "
        "(copy_unstable.vert zCount > 4)"
    )
    initial_capacity: int = Field(
        1 << 18, ge=0, description="surfels allocated up front; capacity doubles when exceeded "
        "(EF allocates a fixed 3072^2)"
    )


class OracleConfig(_Section):
    """The oracle segmenter (synthetic sequences only): ground-truth labels degraded in controlled
    ways, so fusion can be measured against a known truth. The defaults are the "moderate" preset
    (per-frame mIoU about 0.6 on a synthetic room; see semslam/segmentation/oracle.py)."""

    confusion: float = Field(
        0.15, ge=0, le=1, description="chance per frame that an object/stuff region takes a plausibly confused class"
    )
    boundary: int = Field(
        5, ge=0, description="px; pixels this near a label border take a neighbour's label (smooth shift)"
    )
    patches: float = Field(
        1.0, ge=0, description="mean number of random wrong-class blobs per frame (Poisson)"
    )
    patch_size: float = Field(
        0.12, gt=0, le=1, description="blob radius as a fraction of the image's shorter side"
    )
    temperature: float = Field(
        1.0, gt=0, description="softmax temperature (chosen class logit +5); lower = more confident"
    )
    logit_noise: float = Field(
        1.0, ge=0, description="std of per-pixel Gaussian noise added to every class logit"
    )
    drop: float = Field(
        0.0, ge=0, le=1, description="chance that a frame gets no segmentation (segment returns None)"
    )
    seed: int = Field(
        0, description="random seed; frame k's degradation depends only on (seed, k)"
    )


class _WorkerSection(_Section):
    """Where a section's network runs (semslam.semantics.start_worker); shared by the semantic and
    the instance segmenters."""

    worker: Literal["process", "thread"] = Field(
        "process", description="where the network runs: 'process' (a child process: it never holds this "
        "process's GIL, and runs below tracking's priority; results come back through shared memory) or 'thread' "
        "(in this process; also the fallback for a segmenter that cannot be pickled)"
    )
    worker_idle: bool = Field(
        True, description="Linux: the worker process runs under SCHED_IDLE, on CPU time tracking leaves idle (a "
        "network sharing the cores fairly holds up every OpenMP region of tracking); frames it cannot keep up with "
        "are skipped (counted). False, or where refused: it runs at worker_nice"
    )
    worker_nice: int = Field(
        10, ge=0, le=19, description="niceness added to the worker process when it does not run idle (worker_idle)"
    )


class SemanticsConfig(_WorkerSection):
    """Semantic label fusion (SemanticFusion, McCormac et al. ICRA 2017): a segmenter's per-pixel
    class probabilities fused into the surfels they observe by recursive Bayesian updates, then
    regularised by a dense CRF over the map. Defaults follow SemanticFusion's main.cpp."""

    segmenter: str = Field(
        "none", description="onnx:PATH | torch:PATH | oracle[:key=value,...] | none (no labels in the map)"
    )
    labels: str = Field("nyu40", description="label set of the map: nyu40, nyu13, ade20k, voc, coco")
    segmenter_device: str | None = Field(
        None, description="cpu or cuda[:N] for the network; None: the run's device"
    )
    input_size: tuple[int, int] | None = Field(
        None, description="(width, height) the network sees; None: the model sidecar's rule at frame size"
    )
    segment_every: int = Field(
        10, ge=1, description="frames; segment every k-th frame (SemanticFusion's cnn_skip_frames 10; 1: every frame)"
    )
    queue_size: int = Field(
        2, ge=1, description="frames waiting for the segmentation worker; a full queue skips the frame (counted)"
    )
    probability_floor: float = Field(
        1e-20, ge=0, lt=1, description="after each label update (and CRF) a surfel's class probabilities are raised "
        "to at least this, then renormalised (none ends below floor / (1 + C floor)); must be < 1 / classes. It keeps "
        "a class from dying forever and bounds the evidence a surfel holds at ln(1/floor) nats: 1e-20 is 46 nats, "
        "about nine confident contrary segmentations to overturn a settled surfel (1e-4, 9 nats, let two do it, and "
        "the fused map scored below single frames). Float16 tables hold no less than 6e-8 (their smallest value)"
    )
    probability_dtype: Literal["float32", "float16"] = Field(
        "float32", description="storage of the per-surfel class-probability table"
    )
    crf_every: int = Field(
        500, ge=0, description="frames; run the map CRF every N frames (SemanticFusion's crf_skip_frames 500; 0: never)"
    )
    crf_at_end: bool = Field(True, description="run the map CRF once more after the last frame")
    crf_iterations: int = Field(10, ge=1, description="mean-field iterations per CRF run (SemanticFusion: 10)")
    crf_sigma_position: float = Field(0.05, gt=0, description="m; Gaussian sigma of surfel distance (both kernels)")
    crf_sigma_colour: float = Field(20.0, gt=0, description="RGB levels 0-255; sigma of the appearance kernel")
    crf_sigma_normal: float = Field(0.1, gt=0, description="sigma of the normal difference in the smoothness kernel")
    crf_appearance_weight: float = Field(
        10.0, ge=0, description="weight of the position+colour kernel (SemanticFusion's addPairwiseBilateral, 10)"
    )
    crf_smoothness_weight: float = Field(
        3.0, ge=0, description="weight of the position+normal kernel (SemanticFusion's addPairwiseGaussian, 3)"
    )
    crf_neighbour_radius: float = Field(
        0.15, gt=0, description="m; neighbours within this distance (3 sigma_position) exchange messages "
        "(SemanticFusion's permutohedral lattice has no cut-off; beyond 3 sigma a kernel is below 0.011)"
    )
    crf_max_neighbours: int = Field(
        48, ge=1, description="neighbours sampled per surfel and CRF iteration: where more lie within the radius "
        "(thousands on dense surfaces), a fixed stride through them, each counting for the skipped ones"
    )
    oracle: OracleConfig = OracleConfig()


class RealSenseConfig(_Section):
    """Intel RealSense cameras and their recordings (pyrealsense2, `pip install semslam[realsense]`).

    Intrinsics, extrinsics and the depth scale always come from the device or the recording; these
    are only the choices a user makes. Filter defaults are librealsense's own.
    """

    width: int = Field(640, ge=1, description="px; live: width of the depth and colour streams")
    height: int = Field(480, ge=1, description="px; live: height of the depth and colour streams")
    fps: int = Field(30, ge=1, description="frames per second of both live streams")
    colour_format: Literal["rgb8", "bgr8", "rgba8", "bgra8", "yuyv"] = Field(
        "rgb8", description="live: pixel format asked of the colour sensor (frames become RGB either way)"
    )
    pair_tolerance: float = Field(
        0.5, gt=0, le=1, description="a depth and a colour frame form one frameset when their timestamps differ by "
        "less than this fraction of the frame period"
    )
    frame_timeout_s: float = Field(
        5.0, gt=0, description="s; live: no frameset for this long ends the run (camera unplugged, USB error)"
    )
    first_frame_timeout_s: float = Field(
        15.0, gt=0, description="s; live: the same for the first frameset (a camera needs a few seconds to start)"
    )
    queue_size: int = Field(
        2, ge=1, description="live: framesets waiting for the mapping loop; when it falls behind the oldest are "
        "skipped (counted in the summary)"
    )
    spatial_filter: bool = Field(False, description="librealsense spatial edge-preserving filter on depth")
    spatial_magnitude: int = Field(2, ge=1, le=5, description="spatial filter iterations (librealsense 2)")
    spatial_smooth_alpha: float = Field(0.5, ge=0.25, le=1, description="spatial filter alpha (librealsense 0.5)")
    spatial_smooth_delta: float = Field(20.0, ge=1, le=50, description="spatial filter step threshold (librealsense 20)")
    temporal_filter: bool = Field(False, description="librealsense temporal filter on depth (uses past frames)")
    temporal_smooth_alpha: float = Field(0.4, ge=0, le=1, description="temporal filter alpha (librealsense 0.4)")
    temporal_smooth_delta: float = Field(20.0, ge=1, le=100, description="temporal filter step threshold (librealsense 20)")
    temporal_persistence: int = Field(
        3, ge=0, le=8, description="temporal filter persistency index (librealsense 3: valid in 2 of the last 4)"
    )
    hole_filling: bool = Field(False, description="librealsense hole-filling filter on depth (after the others)")
    hole_filling_mode: int = Field(
        1, ge=0, le=2, description="0 fill from left, 1 farthest from around, 2 nearest from around (librealsense 1)"
    )


class OracleInstancesConfig(_Section):
    """The oracle instance segmenter (synthetic sequences only): ground-truth instances degraded as
    a detector errs. The defaults are issue 5's test setting: 20% missed, 10% false positives, 10%
    wrong classes (see semslam/segmentation/oracle_instances.py)."""

    miss: float = Field(0.2, ge=0, le=1, description="chance that a visible instance is not detected in a frame")
    false_positive: float = Field(
        0.1, ge=0, description="false detections per frame, as a fraction of the true ones (Poisson mean)"
    )
    wrong_class: float = Field(0.1, ge=0, le=1, description="chance that a detection carries a confusable class")
    boundary: int = Field(2, ge=0, description="px; each mask is eroded or dilated by up to this radius")
    split: float = Field(0.0, ge=0, le=1, description="chance that a detection is split in two across its long axis")
    merge: float = Field(
        0.0, ge=0, le=1, description="chance that a detection is merged with a touching one (one mask, larger's class)"
    )
    min_pixels: int = Field(100, ge=1, description="px; instances with fewer visible pixels are not detected")
    score_range: tuple[float, float] = Field(
        (0.6, 1.0), description="scores of true detections, uniform in this range"
    )
    false_score_range: tuple[float, float] = Field(
        (0.3, 0.8), description="scores of false positives, uniform in this range"
    )
    seed: int = Field(0, description="random seed; frame k's degradation depends only on (seed, k)")


class ObjectsConfig(_WorkerSection):
    """Object-level mapping (Meaningful Maps, MaskFusion, Fusion++): instance masks per frame,
    refined by a geometric segmentation of the depth, associated with map objects that carry class
    beliefs, existence and oriented boxes."""

    _retired: ClassVar[dict[str, str]] = {
        "class_floor": "an object's class belief is kept as log evidence without a floor (the floor made it forget "
        "all but the last few detections)"}

    instances: str = Field(
        "none", description="instance segmenter: onnx:PATH / yolo:PATH (YOLOv8-seg), oracle[:params] or none"
    )
    instances_device: str | None = Field(None, description="device of the instance network (None: the run's)")
    segment_every: int = Field(1, ge=1, description="run the instance segmenter on every n-th frame")
    queue_size: int = Field(
        2, ge=1, description="frames waiting for the instance segmenter; a full queue skips the frame (never blocks)"
    )
    wait_for_instances: bool = Field(
        False, description="offline runs: each due frame's instances are applied before the next frame is tracked "
        "(tracking waits for the instance segmenter, run in a thread); the object map then depends on the sequence "
        "alone, not on the machine's load (asynchronously, detections reach the map a load-dependent number of "
        "frames late)"
    )
    detection_score: float = Field(0.25, gt=0, lt=1, description="YOLO: minimum class score (YOLOv8 predict: 0.25)")
    detection_iou: float = Field(0.7, gt=0, lt=1, description="YOLO: class-aware NMS IoU threshold (YOLOv8: 0.7)")
    mask_threshold: float = Field(0.5, gt=0, lt=1, description="YOLO: threshold on the sigmoid mask")
    min_mask_pixels: int = Field(200, ge=1, description="px; smaller detections are ignored")
    oracle: OracleInstancesConfig = OracleInstancesConfig()
    # geometric segmentation (Tateno et al. 2016, MaskFusion)
    refine_masks: bool = Field(True, description="snap masks to the geometric segments they overlap most")
    edge_threshold: float = Field(
        0.02, gt=0, description="m; an edge where phi_d + concavity_weight * phi_c exceeds this (mid-fusion: 0.02)"
    )
    concavity_weight: float = Field(0.1, ge=0, description="lambda of the concavity term (mid-fusion: 0.1)")
    edge_radius: int = Field(1, ge=1, description="px; neighbours at this offset enter the edge terms")
    segment_min_pixels: int = Field(50, ge=1, description="px; smaller geometric segments are ignored")
    refine_segment_overlap: float = Field(
        0.5, gt=0, le=1, description="a segment joins the mask that covers more than this fraction of it"
    )
    refine_min_keep: float = Field(
        0.5, gt=0, le=1, description="refined masks smaller than this fraction of the original keep the original"
    )
    refine_band: int = Field(
        5, ge=0, description="px; refinement moves a mask's border by at most this, in or out (0: no limit; a "
        "segment joining a thing to its wall would add the wall, noisy depth cuts thin parts into edges)"
    )
    # association (Meaningful Maps: > 50% of the points within 2 cm)
    match_distance: float = Field(0.02, gt=0, description="m; a detection point agrees with an object within this")
    match_fraction: float = Field(
        0.5, gt=0, le=1, description="a detection matches an object when more than this fraction of its points agree"
    )
    match_iou: float = Field(0.5, gt=0, le=1, description="or when its mask overlaps the object's projection this much")
    class_weight: float = Field(
        0.5, ge=0, description="weight of class compatibility (object's probability of the detection's class)"
    )
    min_match_score: float = Field(0.5, ge=0, description="a candidate needs at least this total score")
    new_object_score: float = Field(0.5, ge=0, le=1, description="unmatched detections need this score to start an object")
    max_points: int = Field(2000, ge=10, description="detection points (subsampled) used for the 3D agreement test")
    # per-object beliefs
    visible_min_pixels: int = Field(
        200, ge=1, description="px; an object is expected to be seen when it covers this many pixels of the index map "
        "(min_mask_pixels: as many as the smallest detection used; with 300 an object started by a wrong-class or "
        "false detection over a small part of a thing was never expected, so Fusion++'s existence test never "
        "dropped it)"
    )
    existence_threshold: float = Field(
        0.3, gt=0, lt=1, description="objects whose detected / expected ratio falls below this are dropped (Fusion++)"
    )
    existence_min_expected: int = Field(
        5, ge=1, description="frames an object must have been expected in before the existence test applies"
    )
    min_detections: int = Field(3, ge=1, description="objects detected fewer times are dropped at the end")
    min_surfels: int = Field(20, ge=1, description="objects with fewer surfels are dropped")
    claim_depth_gap: float = Field(
        0.03, gt=0, description="a detection gives its object the surfels under its mask whose depth lies within "
        "this fraction of the depths of the mask's interior near them (not the floor behind a table's edge)"
    )
    release_margin: int = Field(
        4, ge=-1, description="px; a detection of an object's class frees the object's surfels it shows further than "
        "this outside its mask (what wider or false masks gave it earlier), unless another mask of its class covers "
        "them, or one of another class covers them where they are not the surface measured (ObjectMap._release); "
        "-1 = never"
    )
    release_depth_gap: float = Field(
        0.05, gt=0, description="m; ... a surfel is the surface measured at its pixel when it lies within this of the "
        "frame's depth there (the fusion's association gate, map.fuse_depth_gate: the same surface)"
    )
    release_min_cover: float = Field(
        0.5, gt=0, le=1, description="... only when its mask covers this fraction of the object's visible pixels"
    )
    merge_overlap: float = Field(
        0.3, gt=0, le=1, description="same-class objects merge when this fraction of the smaller's surfels lie within "
        "match_distance of the other's"
    )
    merge_box_overlap: float = Field(
        0.5, gt=0, le=1, description="same-class objects also merge when this fraction of the smaller one's box "
        "lies inside the other's (one thing found again as a new object whose surfels are too few to overlap)"
    )
    merge_cover: float = Field(
        0.6, gt=0, le=1, description="a detection matched to an object covers another object of its class when its "
        "mask holds this fraction of the other's visible pixels ..."
    )
    merge_codetections: int = Field(
        3, ge=0, description="... and same-class objects covered together by this many detections merge (one thing "
        "mapped as two: a chair's back found while its seat was hidden); 0: never"
    )
    fragment_touch: float = Field(
        0.05, gt=0, le=1, description="at the end, a same-class object with more than this fraction of its surfels "
        "within fragment_distance of another's ..."
    )
    fragment_distance: float = Field(0.06, gt=0, description="m; ... (see fragment_touch) ...")
    fragment_detections: float = Field(
        0.15, ge=0, lt=1, description="... and detected at most this fraction as often is a part of the other: merged "
        "(0: never)"
    )
    box_voxel: float = Field(0.03, gt=0, description="m; voxels of the clusters an object's box is made from")
    box_keep: float = Field(
        0.03, gt=0, le=1, description="an object's box holds its clusters of at least this fraction of its largest"
    )
    box_strip_depth: float = Field(
        0.25, ge=0, lt=1, description="an object's box leaves out the end slices (box_voxel thick) of its surfels "
        "that are a sheet thinner than this fraction of its median slice, at its back or front (the wall beside a "
        "thing, given to it where its mask met the wall behind it); 0: off"
    )
    floor_band: float = Field(
        0.03, ge=0, description="m; an object's surfels within this of the floor (the commonest surfel height) are "
        "left out of its box, and a box ending this plus 2 box_voxel above the floor reaches down to it; 0: off"
    )
    support_min_surfels: int = Field(
        10, ge=0, description="a box whose bottom floats reaches down to what holds it up: the first level below it "
        "with this many other surfels round its footprint (a table's top, a shelf, the wall below a window), else "
        "the floor (the thin legs or stand it stands on seldom reach the map); 0: off"
    )
    support_reach: float = Field(0.06, ge=0, description="m; ... in its footprint grown by this (under it, it hides them)")
    face_band: float = Field(
        0.08, ge=0, description="m; a box's side moves to the face its surfels show there: the median of the surfels "
        "within this inside it whose normals point out of it (an untrimmed box ends at the outermost, which lie out "
        "by about twice the depth noise); 0: off"
    )
    face_angle_deg: float = Field(25.0, gt=0, lt=90, description="deg; ... normals within this of the side's own")
    face_min_surfels: int = Field(10, ge=1, description="... when at least this many do (else the outermost surfel)")
    face_min_extent: float = Field(
        0.15, ge=0, description="m; ... only along axes where the box is at least this long (a sheet on a wall, a "
        "picture or a door, is as thin as the depth noise and the map's misregistration: its outermost surfels fit "
        "it better)"
    )
    maintain_every: int = Field(10, ge=1, description="frames between drop / merge / box passes")
    up: Literal["auto", "camera"] = Field(
        "auto", description="world up of the gravity-aligned boxes: auto = the mean surfel normal within up_cone_deg "
        "of the first camera's up (-y), refined by a plane fit to the up-facing surfels at the commonest height "
        "(the floor); camera = the first camera's -y"
    )
    up_cone_deg: float = Field(20.0, gt=0, lt=90, description="deg; normals this close to the up guess count (up=auto)")


class Config(_Section):
    """Everything a semslam run is configured with."""

    device: str = Field("cpu", description="cpu or cuda[:N]")
    dataset: DatasetConfig = DatasetConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    map: MapConfig = MapConfig()
    tracking: TrackingConfig = TrackingConfig()
    synth: SynthConfig = SynthConfig()
    demo: DemoConfig = DemoConfig()
    eval: EvalConfig = EvalConfig()
    semantics: SemanticsConfig = SemanticsConfig()
    objects: ObjectsConfig = ObjectsConfig()
    realsense: RealSenseConfig = RealSenseConfig()


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
