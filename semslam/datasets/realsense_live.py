"""A live Intel RealSense camera as an iterator of `Frame`s (`semslam live`).

    with RealSenseCamera(config.realsense, serial="123456789") as camera:
        for frame in camera:          # depth aligned to colour, metres; RGB; camera timestamps
            slam.process(frame)

The camera's depth and colour sensors are started at the configured size and rate; their frames
are paired by timestamp and converted exactly as a recording's are (`realsense.py`: filters,
rs.align, depth units of the device). Framesets wait in a short queue: when mapping is slower
than the camera, the oldest are skipped and counted (`counts.skipped_behind`), so the map follows
the camera instead of falling ever further behind. Frames the camera dropped and frames without a
partner are counted too.

With `record`, everything the sensors deliver is also written by librealsense's recorder, in its
own format (`.db3` from pyrealsense2 2.58 on, `.bag` before), which `semslam run FILE` replays.

The camera going away (unplugged, a USB error, no frames for `frame_timeout_s`) ends the
iteration with a `CameraError` that says which and after how many frames; `request_stop()`
(Ctrl-C in `semslam live`) ends it quietly after the current frame.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

from ..config import RealSenseConfig
from .frame import Frame
from .realsense import (
    OPEN_DEVICES,
    FrameConverter,
    FramePairer,
    PairQueue,
    RealSenseError,
    device_info,
    filter_names,
    import_pyrealsense2,
    pick_streams,
    sensor_callback,
)

FORMAT = "realsense-live"


class CameraError(RealSenseError):
    """The camera is missing, cannot stream as asked, or stopped delivering frames."""


def recording_suffix(rs) -> str:
    """The file type this pyrealsense2 records: .db3 (ROS 2 bag) from 2.58 on, .bag before."""
    try:
        major, minor = (int(x) for x in rs.__version__.split(".")[:2])
    except (AttributeError, ValueError):
        return ".db3"
    return ".db3" if (major, minor) >= (2, 58) else ".bag"


class RealSenseCamera:
    """A RealSense camera streaming depth and colour; iterate it for `Frame`s.

    `serial` picks a camera when several are plugged in (default: the first found). `device` gives
    a device object directly (a `rs.software_device` in the tests) instead of looking one up.
    `record` also writes the session to that file.
    """

    def __init__(self, cfg: RealSenseConfig | None = None, serial: str | None = None, record: str | Path | None = None,
                 device=None) -> None:
        self.cfg = cfg = cfg or RealSenseConfig()
        self.rs = rs = import_pyrealsense2("live capture from a RealSense camera")
        self.record = Path(record) if record is not None else None
        self._ctx = None
        self._removed = threading.Event()
        self._notifications: list[str] = []
        self._stop = threading.Event()
        self._started = False
        self._closed = False
        self._recorder = None
        if device is None:
            device = self._find(serial)
        self.device = device
        self.info = device_info(rs, device)
        self.serial = self.info.get("serial", serial or "")
        self.name = self.info.get("model", "RealSense")
        self.path = self.record if self.record is not None else Path(f"realsense-{self.serial}")
        self.format = FORMAT
        where = f"camera {self.name} (serial {self.serial})"
        self.where = where
        if self.record is not None:
            suffix = recording_suffix(rs)
            if self.record.suffix.lower() != suffix:
                raise CameraError(f"--record {self.record}: pyrealsense2 {getattr(rs, '__version__', '?')} records "
                                  f"{suffix} files; name the file *{suffix}")
            self.record.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._recorder = rs.recorder(str(self.record), device)
            except RuntimeError as exc:
                raise CameraError(f"cannot record {where} to {self.record}: {exc}") from None
            device = self._recorder
        self.streams = pick_streams(rs, device, where, want=cfg)
        self._streams_info = self.streams.describe()
        self.converter = FrameConverter(rs, self.streams, cfg)
        self.intrinsics = self.converter.intrinsics
        # a few frames per stream wait for their partner: kept frames come from the camera's small frame pool
        self.pairer = FramePairer(cfg.pair_tolerance * 1000.0 / cfg.fps, self._deliver, max_waiting=4)
        self.counts = self.pairer.counts
        self._queue = PairQueue(cfg.queue_size, blocking=False, counts=self.counts)
        self.frames_delivered = 0
        OPEN_DEVICES.add(self)

    # -- finding and watching the device -------------------------------------------------------
    def _find(self, serial: str | None):
        rs = self.rs
        self._ctx = rs.context()
        devices = list(self._ctx.query_devices())
        serials = [d.get_info(rs.camera_info.serial_number) for d in devices
                   if d.supports(rs.camera_info.serial_number)]
        if not devices:
            raise CameraError("no RealSense camera found: is it plugged in (a USB 3 port for full rates), and can "
                              "this user access it (udev rules from librealsense)?")
        if serial is None:
            chosen = devices[0]
        else:
            matches = [d for d, s in zip(devices, serials) if s == serial]
            if not matches:
                raise CameraError(f"no RealSense camera with serial {serial}; connected: {', '.join(serials)}")
            chosen = matches[0]
        self._ctx.set_devices_changed_callback(self._devices_changed)
        return chosen

    def _devices_changed(self, event) -> None:
        try:
            if event.was_removed(self.device):
                self._removed.set()
        except RuntimeError:
            self._removed.set()

    def _on_notification(self, note) -> None:
        severity = str(note.get_severity()).split(".")[-1]
        if severity in ("error", "fatal", "warn"):
            self._notifications.append(f"{severity}: {note.get_description()}")
            del self._notifications[:-5]

    def _deliver(self, pair) -> None:
        self._queue.put(pair)

    # -- streaming -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start streaming (iterating starts it too); a second call does nothing."""
        if self._started:
            return
        s = self.streams
        try:
            s.depth_sensor.open(s.depth_profile)
            s.colour_sensor.open(s.colour_profile)
            for sensor in (s.depth_sensor, s.colour_sensor):
                try:
                    sensor.set_notifications_callback(self._on_notification)
                except RuntimeError:
                    pass
            s.depth_sensor.start(sensor_callback("depth", self.pairer, self._queue.closed))
            s.colour_sensor.start(sensor_callback("colour", self.pairer, self._queue.closed))
        except RuntimeError as exc:
            self.close()
            raise CameraError(f"{self.where}: cannot start streaming: {exc}") from None
        self._started = True
        self._t0 = time.perf_counter()

    def request_stop(self) -> None:
        """End the iteration after the frame being processed (Ctrl-C in `semslam live`)."""
        self._stop.set()

    def __enter__(self) -> "RealSenseCamera":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        if not self._started:
            self.start()
        last = time.perf_counter()
        while not self._stop.is_set():
            limit = self.cfg.first_frame_timeout_s if self.frames_delivered == 0 else self.cfg.frame_timeout_s
            pair = self._queue.get(timeout=0.05)
            now = time.perf_counter()
            if self._removed.is_set():
                raise CameraError(self._gone("was disconnected"))
            if pair is None:
                if now - last > limit:
                    raise CameraError(self._gone(f"delivered no frameset for {now - last:.1f} s (timeout {limit:g} s; "
                                                 "unplugged, a USB error, or the camera stalled)"))
                continue
            frame = self.converter(pair, self.frames_delivered)
            del pair
            self.frames_delivered += 1
            yield frame
            last = time.perf_counter()

    def _gone(self, what: str) -> str:
        c = self.counts
        notes = f"; last device messages: {' | '.join(self._notifications)}" if self._notifications else ""
        return (f"{self.where} {what}, after {self.frames_delivered} framesets "
                f"(depth frames {c.depth.received}, colour frames {c.colour.received}){notes}")

    def summary_info(self) -> dict:
        """For a run's summary: the camera, its streams and filters, what became of its frames."""
        out = {"camera": self.info, "streams": self._streams_info, "alignment": self.converter.alignment,
               "filters": filter_names(self.cfg),
               "framesets": {"delivered": self.frames_delivered, **self.counts.to_dict()},
               "recording": str(self.record) if self.record is not None else None}
        if self._notifications:
            out["device_messages"] = list(self._notifications)
        return out

    def close(self) -> None:
        """Stop the sensors and finish the recording (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.close()
        for sensor in (self.streams.depth_sensor, self.streams.colour_sensor) if self.streams else ():
            for step in (sensor.stop, sensor.close):
                try:
                    step()
                except RuntimeError:
                    pass
        self._queue.close()
        self.pairer.finish()
        self.converter.close()
        # the recorder writes its file out when released; its sensors hold it
        self._recorder = self.streams = None
        if self._ctx is not None:
            try:
                self._ctx.set_devices_changed_callback(lambda event: None)
            except RuntimeError:
                pass
