"""Intel RealSense: recordings (.db3, .bag) read as a `Sequence`, and the frame path they share
with the live camera (`realsense_live.py`).

A RealSense device (a camera, a recording played back, or a software device in the tests)
delivers depth (z16) and colour frames on two sensors, each stream with its own frame numbers and
timestamps (milliseconds, from the camera's clock: `hardware_clock`, or `global_time` when
librealsense maps that clock onto the host's). On the way to a `Frame`:

  FramePairer    pairs depth and colour frames by timestamp (within `pair_tolerance` of a frame
                 period), counting the frames a stream dropped (gaps in its frame numbers) and the
                 frames left without a partner; none is skipped without being counted;
  FrameConverter applies the optional librealsense depth filters (spatial and temporal in the
                 disparity domain, then hole filling), aligns depth to colour with `rs.align`
                 (not needed, and skipped, when the depth stream already is the colour camera:
                 same intrinsics, identity extrinsics), converts depth to metres with the depth
                 units of the frame and colour to RGB.

Recordings are read in file order and not in real time: the playback waits for the reader, so
every frame in the file is seen (frame-exact). Opening a recording reads it once to list its
framesets (timestamps and counts, no pixels); frames are then decoded when asked for.

pyrealsense2 is an optional dependency (`pip install semslam[realsense]`), imported when a
recording or camera is opened.
"""

from __future__ import annotations

import atexit
import math
import queue
import threading
import weakref
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import RealSenseConfig
from ..errors import DatasetError, GroundTruthError, SemslamError
from .base import FrameRecord, ReaderOptions, Sequence
from .frame import Frame, Intrinsics

FORMAT = "realsense"
LOOKS_FOR = "a RealSense recording file: .db3 (librealsense >= 2.58) or .bag (older)"
SUFFIXES = (".db3", ".bag")
_END = object()  # end of a playback, in a pair queue


class RealSenseError(SemslamError):
    """pyrealsense2 is missing, or a RealSense device or recording cannot be used as asked."""


def import_pyrealsense2(what: str):
    """The pyrealsense2 module, or a RealSenseError saying how to install it."""
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        raise RealSenseError(
            f"{what} needs pyrealsense2, which is not installed ({exc}); install it with "
            "`pip install 'semslam[realsense]'` (it also needs libusb-1.0-0 from your package manager)"
        ) from None
    return rs


def recognize(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUFFIXES


# -- device facts -------------------------------------------------------------------------------

def device_info(rs, device) -> dict:
    """Name, serial, firmware, product line, USB type and physical port of a device (what it reports)."""
    keys = {"model": rs.camera_info.name, "serial": rs.camera_info.serial_number,
            "firmware": rs.camera_info.firmware_version, "product_line": rs.camera_info.product_line,
            "usb_type": rs.camera_info.usb_type_descriptor, "product_id": rs.camera_info.product_id}
    return {key: device.get_info(info) for key, info in keys.items() if device.supports(info)}


def _intrinsics_dict(intr) -> dict:
    return {"width": intr.width, "height": intr.height, "fx": intr.fx, "fy": intr.fy, "ppx": intr.ppx,
            "ppy": intr.ppy, "model": str(intr.model).split(".")[-1], "coeffs": [float(c) for c in intr.coeffs]}


def _same_camera(rs, depth_profile, colour_profile) -> bool:
    """True when the depth stream already is the colour camera: the same intrinsics (size, focal
    length, principal point, distortion) and identity extrinsics. rs.align would then only
    resample depth onto itself (and, with float rounding at pixel borders, punch holes in it)."""
    a = depth_profile.as_video_stream_profile().get_intrinsics()
    b = colour_profile.as_video_stream_profile().get_intrinsics()
    if (a.width, a.height, a.model) != (b.width, b.height, b.model):
        return False
    if not np.allclose([a.fx, a.fy, a.ppx, a.ppy, *a.coeffs], [b.fx, b.fy, b.ppx, b.ppy, *b.coeffs],
                       rtol=0, atol=1e-6):
        return False
    try:
        ext = depth_profile.get_extrinsics_to(colour_profile)
    except RuntimeError:
        return False
    return bool(np.allclose(ext.rotation, np.eye(3).ravel(), atol=1e-9) and np.allclose(ext.translation, 0, atol=1e-9))


@dataclass
class Streams:
    """The depth and colour sensor and stream profile of a device, as chosen to be read."""

    depth_sensor: Any
    depth_profile: Any
    colour_sensor: Any
    colour_profile: Any
    depth_units: float  # metres per z16 step, read from the depth sensor

    def describe(self) -> dict:
        def one(profile) -> dict:
            vp = profile.as_video_stream_profile()
            return {"format": str(profile.format()).split(".")[-1], "fps": profile.fps(),
                    "intrinsics": _intrinsics_dict(vp.get_intrinsics())}

        out = {"depth": one(self.depth_profile), "colour": one(self.colour_profile),
               "depth_units_m": self.depth_units}
        try:
            ext = self.depth_profile.get_extrinsics_to(self.colour_profile)
            out["depth_to_colour"] = {"rotation": list(ext.rotation), "translation_m": list(ext.translation)}
        except RuntimeError:
            out["depth_to_colour"] = None
        return out


COLOUR_FORMATS = ("rgb8", "bgr8", "rgba8", "bgra8", "yuyv")


def pick_streams(rs, device, where: str, want: RealSenseConfig | None = None) -> Streams:
    """Find the depth (z16) and colour sensors and profiles of `device`. With `want` (live), the
    profiles must have its size, rate and colour format; without (a recording), the recorded ones
    are taken. `where` names the device or file in errors."""
    depth = colour = None
    available: list[str] = []
    for sensor in device.query_sensors():
        for profile in sensor.get_stream_profiles():
            if not profile.is_video_stream_profile():
                continue
            vp = profile.as_video_stream_profile()
            kind = profile.stream_type()
            fmt = str(profile.format()).split(".")[-1]
            available.append(f"{str(kind).split('.')[-1]} {vp.width()}x{vp.height()} {fmt} @{profile.fps()}")
            if want is not None and (vp.width(), vp.height(), profile.fps()) != (want.width, want.height, want.fps):
                continue
            if kind == rs.stream.depth and profile.format() == rs.format.z16 and depth is None:
                depth = (sensor, profile)
            elif kind == rs.stream.color and fmt in (COLOUR_FORMATS if want is None else (want.colour_format,)) \
                    and colour is None:
                colour = (sensor, profile)
    missing = [name for name, found in (("depth (z16)", depth), ("colour", colour)) if found is None]
    if missing:
        wanted = "" if want is None else (f" at {want.width}x{want.height} @{want.fps} fps (colour as "
                                          f"{want.colour_format})")
        shown = "; ".join(sorted(set(available))[:40]) or "none"
        err = DatasetError if want is None else RealSenseError
        raise err(f"{where}: no {' and no '.join(missing)} stream{wanted}. Streams it has: {shown}")
    sensor = depth[0]
    if sensor.is_depth_sensor():
        units = float(sensor.as_depth_sensor().get_depth_scale())
    elif sensor.supports(rs.option.depth_units):  # a software sensor: the option without the interface
        units = float(sensor.get_option(rs.option.depth_units))
    else:
        raise (DatasetError if want is None else RealSenseError)(
            f"{where}: the sensor of the depth stream does not report a depth scale")
    if not math.isfinite(units) or units <= 0:
        raise (DatasetError if want is None else RealSenseError)(f"{where}: invalid depth scale {units!r} m per unit")
    return Streams(depth[0], depth[1], colour[0], colour[1], units)


# -- pairing ------------------------------------------------------------------------------------

@dataclass
class StreamCounts:
    """Per stream: frames received, frames the device dropped (gaps in the frame numbers), frames
    that found no partner in the other stream, and frames that came out of order or repeated."""

    received: int = 0
    dropped: int = 0
    unmatched: int = 0
    out_of_order: int = 0
    last_number: int | None = None
    timestamp_domain: str = ""


@dataclass
class FramesetCounts:
    """What became of the device's frames: `paired` framesets went on; the rest are counted here."""

    paired: int = 0
    skipped_behind: int = 0  # live: framesets dropped because the mapping loop was behind
    depth: StreamCounts = field(default_factory=StreamCounts)
    colour: StreamCounts = field(default_factory=StreamCounts)

    def to_dict(self) -> dict:
        out = asdict(self)
        for stream in ("depth", "colour"):
            out[stream].pop("last_number")
        return out


@dataclass
class Pair:
    """One depth + colour frameset: `index` counts pairs from the start of the stream. `depth` and
    `colour` hold the librealsense frames (None when only counting)."""

    index: int
    depth_number: int
    colour_number: int
    depth_ms: float
    colour_ms: float
    depth: Any = None
    colour: Any = None


class FramePairer:
    """Pairs the depth and colour frames of one device by timestamp; thread-safe (the two sensors
    call back on their own threads).

    The oldest waiting frames of both streams are compared: within `tolerance_ms` they form a
    pair; otherwise the older one can no longer find a partner (each stream arrives in time order)
    and is counted as unmatched. The result depends only on the two streams, not on how their
    callbacks interleave, so a recording pairs the same way on every pass. `emit(pair)` receives
    the pairs in order. `max_waiting` bounds the frames held per stream (live: a stream that
    stopped must not hold the other's frames); None holds all (a recording, to stay exact).
    """

    def __init__(self, tolerance_ms: float, emit: Callable[[Pair], None], max_waiting: int | None = None) -> None:
        self.tolerance_ms = tolerance_ms
        self.counts = FramesetCounts()
        self._emit = emit
        self._max_waiting = max_waiting
        self._waiting = {"depth": deque(), "colour": deque()}
        self._lock = threading.Lock()
        self._next_index = 0

    def push(self, stream: str, number: int, timestamp_ms: float, frame=None, domain: str = "") -> None:
        with self._lock:
            counts: StreamCounts = getattr(self.counts, stream)
            counts.received += 1
            counts.timestamp_domain = counts.timestamp_domain or domain
            if counts.last_number is not None:
                if number <= counts.last_number:
                    counts.out_of_order += 1
                    return
                counts.dropped += number - counts.last_number - 1
            counts.last_number = number
            waiting = self._waiting[stream]
            waiting.append((number, timestamp_ms, frame))
            if self._max_waiting is not None and len(waiting) > self._max_waiting:
                waiting.popleft()
                counts.unmatched += 1
            self._match()

    def _match(self) -> None:
        depth, colour = self._waiting["depth"], self._waiting["colour"]
        while depth and colour:
            (dn, dt, df), (cn, ct, cf) = depth[0], colour[0]
            if abs(dt - ct) <= self.tolerance_ms:
                depth.popleft()
                colour.popleft()
                pair = Pair(self._next_index, dn, cn, dt, ct, df, cf)
                self._next_index += 1
                self.counts.paired += 1
                self._emit(pair)
            elif dt < ct:
                depth.popleft()
                self.counts.depth.unmatched += 1
            else:
                colour.popleft()
                self.counts.colour.unmatched += 1

    def finish(self) -> None:
        """The streams ended: frames still waiting have no partner."""
        with self._lock:
            for stream in ("depth", "colour"):
                getattr(self.counts, stream).unmatched += len(self._waiting[stream])
                self._waiting[stream].clear()


class PairQueue:
    """Pairs from the sensor threads to the reader. `blocking` (recordings): a full queue makes the
    producer wait, which holds the playback; otherwise (live) the oldest pair is dropped and counted
    in `counts.skipped_behind`. `close()` releases a waiting producer."""

    def __init__(self, capacity: int, blocking: bool, counts: FramesetCounts | None = None) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=capacity)
        self._blocking = blocking
        self.counts = counts
        self.closed = threading.Event()

    def put(self, item) -> None:
        if self._blocking:
            while not self.closed.is_set():
                try:
                    self._queue.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue
            return
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    if self.counts is not None:
                        self.counts.skipped_behind += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float):
        """The next item, or None after `timeout` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed.set()
        while True:  # drop what is left, releasing its frames
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


def sensor_callback(stream: str, pairer: FramePairer, closed: threading.Event) -> Callable:
    """A sensor frame callback feeding `pairer`: keeps the frame (it outlives the callback)."""

    def on_frame(frame) -> None:
        if closed.is_set():
            return
        frame.keep()
        pairer.push(stream, int(frame.get_frame_number()), float(frame.get_timestamp()), frame,
                    str(frame.get_frame_timestamp_domain()).split(".")[-1])

    return on_frame


# -- frames -------------------------------------------------------------------------------------

def _filters(rs, cfg: RealSenseConfig) -> list:
    """librealsense's recommended order: spatial and temporal in the disparity domain, then hole filling."""
    chain = []
    if cfg.spatial_filter or cfg.temporal_filter:
        chain.append(rs.disparity_transform(True))
        if cfg.spatial_filter:
            f = rs.spatial_filter()
            f.set_option(rs.option.filter_magnitude, cfg.spatial_magnitude)
            f.set_option(rs.option.filter_smooth_alpha, cfg.spatial_smooth_alpha)
            f.set_option(rs.option.filter_smooth_delta, cfg.spatial_smooth_delta)
            chain.append(f)
        if cfg.temporal_filter:
            f = rs.temporal_filter()
            f.set_option(rs.option.filter_smooth_alpha, cfg.temporal_smooth_alpha)
            f.set_option(rs.option.filter_smooth_delta, cfg.temporal_smooth_delta)
            f.set_option(rs.option.holes_fill, cfg.temporal_persistence)
            chain.append(f)
        chain.append(rs.disparity_transform(False))
    if cfg.hole_filling:
        f = rs.hole_filling_filter()
        f.set_option(rs.option.holes_fill, cfg.hole_filling_mode)
        chain.append(f)
    return chain


def filter_names(cfg: RealSenseConfig) -> list[str]:
    return [name for name, on in (("spatial", cfg.spatial_filter), ("temporal", cfg.temporal_filter),
                                  ("hole_filling", cfg.hole_filling)) if on]


class FrameConverter:
    """Turns a depth + colour pair of one device into a `Frame` in the colour camera."""

    def __init__(self, rs, streams: Streams, cfg: RealSenseConfig) -> None:
        self._rs = rs
        self._filters = _filters(rs, cfg)
        self.registered = _same_camera(rs, streams.depth_profile, streams.colour_profile)
        self.alignment = "none needed (depth stream is the colour camera)" if self.registered else "rs.align to colour"
        self._align = None if self.registered else rs.align(rs.stream.color)
        self._colour_format = str(streams.colour_profile.format()).split(".")[-1]
        intr = streams.colour_profile.as_video_stream_profile().get_intrinsics()
        coeffs = tuple(float(c) for c in intr.coeffs)
        distortion = coeffs if intr.model == rs.distortion.brown_conrady and any(coeffs) else None
        self.distortion_model = str(intr.model).split(".")[-1]
        self.intrinsics = Intrinsics(fx=intr.fx, fy=intr.fy, cx=intr.ppx, cy=intr.ppy, width=intr.width,
                                     height=intr.height, depth_scale=1.0 / streams.depth_units, distortion=distortion)
        self._composed = None
        if self._align is not None:
            # a frameset of the pair, as rs.align takes: a processing block allocating a composite frame
            self._members: list = []
            self._composed = rs.frame_queue(1, keep_frames=True)
            self._compose = rs.processing_block(
                lambda _frame, source: source.frame_ready(source.allocate_composite_frame(self._members)))
            self._compose.start(self._composed)

    def _aligned_depth(self, depth, colour):
        self._members = [depth, colour]
        try:
            self._compose.invoke(depth)
            frameset = self._composed.wait_for_frame(5000).as_frameset()
        finally:
            self._members = []
        aligned = self._align.process(frameset).get_depth_frame()
        if not aligned:
            raise RealSenseError("rs.align returned no depth frame")
        return aligned

    def __call__(self, pair: Pair, index: int, intrinsics: Intrinsics | None = None) -> Frame:
        depth = pair.depth
        for f in self._filters:
            depth = f.process(depth)
        if self._align is not None:
            depth = self._aligned_depth(depth, pair.colour)
        depth = depth.as_depth_frame()
        units = np.float32(depth.get_units())
        depth_m = np.asanyarray(depth.get_data()).astype(np.float32) * units
        rgb = self._rgb(np.asanyarray(pair.colour.get_data()))
        intr = intrinsics or self.intrinsics
        return Frame(
            index=index,
            timestamp=pair.colour_ms / 1000.0,
            rgb=rgb,
            depth=depth_m,
            intrinsics=intr,
            meta={"source_index": pair.index, "depth_frame_number": pair.depth_number,
                  "colour_frame_number": pair.colour_number, "depth_timestamp_ms": pair.depth_ms,
                  "colour_timestamp_ms": pair.colour_ms, "depth_units_m": float(units)},
        )

    def _rgb(self, pixels: np.ndarray) -> np.ndarray:
        fmt = self._colour_format
        if fmt == "rgb8":
            return np.ascontiguousarray(pixels, dtype=np.uint8)
        if fmt == "bgr8":
            return np.ascontiguousarray(pixels[:, :, ::-1])
        if fmt == "rgba8":
            return np.ascontiguousarray(pixels[:, :, :3])
        if fmt == "bgra8":
            return np.ascontiguousarray(pixels[:, :, 2::-1])
        if fmt == "yuyv":
            import cv2

            return cv2.cvtColor(pixels.reshape(pixels.shape[0], -1, 2), cv2.COLOR_YUV2RGB_YUY2)
        raise RealSenseError(f"colour format {fmt} is not supported (use one of {', '.join(COLOUR_FORMATS)})")

    def close(self) -> None:
        """Release the librealsense blocks (and the frames they hold) while the device is there."""
        self._filters = []
        self._align = self._compose = self._composed = None


# -- recordings ---------------------------------------------------------------------------------

# Playbacks, recordings and cameras still open at exit are closed before Python shuts down: a
# librealsense thread calling into (or a block releasing frames through) a finalising interpreter
# aborts the process.
OPEN_DEVICES: "weakref.WeakSet" = weakref.WeakSet()


@atexit.register
def _close_open_devices() -> None:
    # owners first: a recording releases its frames and filters before its playback goes
    for thing in sorted(OPEN_DEVICES, key=lambda t: isinstance(t, Playback)):
        try:
            thing.close()
        except Exception:  # noqa: BLE001 - exiting anyway; one failure must not keep others open
            pass


class Playback:
    """One pass through a recording in file order, not in real time: `pairs()` yields every
    depth + colour pair the file holds (with the frames when `keep_frames`, else only numbers and
    timestamps). Counts of dropped and unmatched frames are in `pairer.counts` at the end."""

    def __init__(self, path: Path, cfg: RealSenseConfig, keep_frames: bool = True) -> None:
        self.path = Path(path)
        self.rs = rs = import_pyrealsense2(f"reading the RealSense recording {self.path}")
        self._ctx = rs.context()
        try:
            self.device = self._ctx.load_device(str(self.path))
        except RuntimeError as exc:
            raise DatasetError(f"{self.path}: librealsense cannot read this recording: {exc}") from None
        self._loaded = True
        playback = self.device.as_playback()
        playback.set_real_time(False)
        self.info = device_info(rs, self.device)
        self.duration_s = playback.get_duration().total_seconds()
        self.streams = pick_streams(rs, self.device, str(self.path))
        fps = min(self.streams.depth_profile.fps(), self.streams.colour_profile.fps()) or 30
        self._queue = PairQueue(capacity=4, blocking=True)
        self.pairer = FramePairer(cfg.pair_tolerance * 1000.0 / fps, self._queue.put)
        self._keep = keep_frames
        self._started = False
        self._closed = False
        self._playback = playback
        self._last_item = None
        self._stopped = threading.Event()
        OPEN_DEVICES.add(self)

    def _callback(self, stream: str) -> Callable:
        if self._keep:
            return sensor_callback(stream, self.pairer, self._queue.closed)
        pairer, closed = self.pairer, self._queue.closed

        def count_only(frame) -> None:
            if not closed.is_set():
                pairer.push(stream, int(frame.get_frame_number()), float(frame.get_timestamp()), None,
                            str(frame.get_frame_timestamp_domain()).split(".")[-1])

        return count_only

    def _on_status(self, status) -> None:
        # `stopped` comes after the sensors' dispatchers have delivered every frame of the file
        if status == self.rs.playback_status.stopped:
            if self._started and not self._closed:
                self.pairer.finish()
                self._queue.put(_END)
            self._stopped.set()

    def pairs(self):
        s = self.streams
        self._playback.set_status_changed_callback(self._on_status)
        s.depth_sensor.open(s.depth_profile)
        s.colour_sensor.open(s.colour_profile)
        self._playback.pause()  # start both sensors before the first frame is read
        self._started = True
        s.depth_sensor.start(self._callback("depth"))
        s.colour_sensor.start(self._callback("colour"))
        self._playback.resume()
        while True:
            item = self._queue.get(timeout=1.0)
            if item is _END:
                return
            if item is None:
                if self._closed:
                    return
                continue
            self._last_item = item
            yield item

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.close()
        if self._last_item is not None:  # frames must not outlive their device
            self._last_item.depth = self._last_item.colour = None
        for sensor in (self.streams.depth_sensor, self.streams.colour_sensor):
            for step in (sensor.stop, sensor.close):
                try:
                    step()
                except RuntimeError:  # not started / already stopped
                    pass
        self._queue.close()
        if self._started:
            # the playback thread reports `stopped` through our callback: let it do so now, not
            # while Python shuts down (a librealsense thread entering a finalising Python aborts)
            self._stopped.wait(timeout=2.0)
        try:
            self._ctx.unload_device(str(self.path))
        except RuntimeError:
            pass
        OPEN_DEVICES.discard(self)


@dataclass
class RecordingIndex:
    """What one counting pass over a recording found."""

    pairs: list[Pair]
    counts: FramesetCounts
    camera: dict
    streams: dict
    duration_s: float


def index_recording(path: Path, cfg: RealSenseConfig) -> RecordingIndex:
    playback = Playback(path, cfg, keep_frames=False)
    try:
        pairs = list(playback.pairs())
        camera = dict(playback.info)
        streams = playback.streams.describe()
    finally:
        playback.close()
    return RecordingIndex(pairs, playback.pairer.counts, camera, streams, playback.duration_s)


class RealSenseRecording(Sequence):
    """A RealSense recording as a lazy `Sequence` of its depth + colour framesets, depth aligned to
    colour, intrinsics and depth scale from the file. Frames are read in file order; asking for an
    earlier frame than the last one read restarts the playback."""

    def __init__(self, path: Path, options: ReaderOptions, cfg: RealSenseConfig) -> None:
        path = Path(path)
        self.realsense_config = cfg
        index = index_recording(path, cfg)
        self.index = index
        if not index.pairs:
            raise DatasetError(
                f"{path}: no depth + colour framesets in the recording (depth frames {index.counts.depth.received}, "
                f"colour frames {index.counts.colour.received})")
        dcfg = options.config
        stop = None if dcfg.limit is None else dcfg.start + dcfg.limit * dcfg.stride
        selected = index.pairs[dcfg.start:stop:dcfg.stride]
        if not selected:
            raise DatasetError(f"{path}: no frames left after start={dcfg.start}, stride={dcfg.stride}, "
                               f"limit={dcfg.limit} ({len(index.pairs)} framesets in the recording)")
        if options.require_ground_truth:
            raise GroundTruthError(f"{path}: ground truth was required but a RealSense recording has none")
        # intrinsics of the colour camera, which the aligned depth is in
        playback = Playback(path, cfg, keep_frames=False)
        try:
            converter = FrameConverter(playback.rs, playback.streams, cfg)
            intrinsics, self.alignment = converter.intrinsics, converter.alignment
            self.distortion_model = converter.distortion_model
            converter.close()
        finally:
            playback.close()
        self._override = options.intrinsics
        records = [FrameRecord(source_index=p.index, timestamp=p.colour_ms / 1000.0, rgb_path=path, depth_path=path)
                   for p in selected]
        super().__init__(path=path, name=path.stem, format=FORMAT, intrinsics=options.intrinsics or intrinsics,
                         records=records)
        self.recorded_intrinsics = intrinsics
        self._pair_ms = {p.index: (p.depth_ms, p.colour_ms) for p in selected}
        self._lock = threading.Lock()
        self._playback: Playback | None = None
        self._pairs = None
        self._converter: FrameConverter | None = None
        self._last = -1
        OPEN_DEVICES.add(self)

    @property
    def camera(self) -> dict:
        return self.index.camera

    def summary_info(self) -> dict:
        """For a run's summary: the camera that recorded, its streams, and the framesets' fate."""
        return {"camera": self.index.camera, "streams": self.index.streams, "alignment": self.alignment,
                "filters": filter_names(self.realsense_config),
                "framesets": {"in_recording": len(self.index.pairs), **self.index.counts.to_dict()}}

    def _restart(self) -> None:
        self._stop_playback()
        self._playback = Playback(self.path, self.realsense_config, keep_frames=True)
        self._pairs = self._playback.pairs()
        self._converter = FrameConverter(self._playback.rs, self._playback.streams, self.realsense_config)
        self._last = -1

    def _stop_playback(self) -> None:
        if self._playback is not None:  # frames and filters go before the device they came from
            self._pairs.close()
            self._converter.close()
            self._playback.close()
        self._playback = self._pairs = self._converter = None

    def close(self) -> None:
        with self._lock:
            self._stop_playback()

    def _load_frame(self, index: int) -> Frame:
        source = self._records[index].source_index
        with self._lock:
            if self._playback is None or source <= self._last:
                self._restart()
            for pair in self._pairs:
                self._last = pair.index
                if pair.index == source:
                    break
            else:
                self._stop_playback()
                raise DatasetError(f"{self.path}: frameset {source} was listed but the second pass ended before it")
            if (pair.depth_ms, pair.colour_ms) != self._pair_ms[source]:
                raise DatasetError(f"{self.path}: frameset {source} read differently on the second pass "
                                   f"(timestamps {pair.depth_ms}, {pair.colour_ms} ms vs {self._pair_ms[source]})")
            frame = self._converter(pair, index, self._override)
            if index == len(self) - 1:  # the last frame asked for: no need to keep the playback open
                self._stop_playback()
            return frame

    def describe(self, depth_samples: int = 5) -> dict:
        """A summary for `semslam info`: as `datasets.describe`, plus the camera and framesets."""
        n = len(self)
        sample = sorted(set(np.linspace(0, n - 1, min(depth_samples, n)).round().astype(int).tolist()))
        fractions, values = [], []
        for i in sample:
            depth = self[i].depth
            valid = depth[depth > 0]
            fractions.append(valid.size / depth.size)
            values.append(valid)
        self.close()
        every = np.concatenate(values)
        return {
            "format": self.format, "name": self.name, "path": str(self.path), "frames": n,
            "first_time": float(self.timestamps[0]), "last_time": float(self.timestamps[-1]),
            "duration_s": float(self.timestamps[-1] - self.timestamps[0]),
            "recording_duration_s": self.index.duration_s,
            "intrinsics": self.intrinsics.to_dict(),
            "distortion_model": self.distortion_model,
            **self.summary_info(),
            "ground_truth": {"frames_with_pose": 0, "frames": n, "coverage": 0.0},
            "depth": {"frames_sampled": sample, "valid_fraction": float(np.mean(fractions)),
                      "min_m": float(every.min()) if every.size else None,
                      "median_m": float(np.median(every)) if every.size else None,
                      "max_m": float(every.max()) if every.size else None},
            "labels": False, "instances": False, "classes": 0,
        }


def open_recording(path: Path, options: ReaderOptions, cfg: RealSenseConfig | None = None) -> RealSenseRecording:
    return RealSenseRecording(path, options, cfg or RealSenseConfig())
