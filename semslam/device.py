"""Compute devices and what the C++ core was built with.

Devices are named as in torch: "cpu", "cuda" (= "cuda:0"), "cuda:N". Asking for a CUDA device
in a CPU-only build, or on a machine without a GPU, raises `semslam.errors.DeviceError` naming
what is missing.
"""

from __future__ import annotations

import os

from .errors import DeviceError, SemslamError

# How long (in pause loops; about 0.5 ms on current x86) an idle OpenMP thread of the core spins
# before it sleeps, unless the environment sets GOMP_SPINCOUNT or OMP_WAIT_POLICY. libgomp's own
# default (300000, some 15-20 ms where a pause takes ~140 cycles) keeps the core's worker threads
# spinning through each frame's reading, so on 2 cores the colour and depth decodes, meant to run
# side by side, shared one core: fr3/teddy on 2 pinned cores of the H200 host, 3 interleaved runs,
# read 15.1 -> 11.5 ms per frame, 11.4 -> 12.3 frames/s; the parallel loops within a frame follow
# each other far sooner than this, so their threads still find each other spinning.
OPENMP_SPIN_COUNT = 10000


def _limit_openmp_spinning() -> None:
    """Set GOMP_SPINCOUNT before the core (and with it libgomp, which reads it once) loads."""
    if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = str(OPENMP_SPIN_COUNT)


def core():
    """The compiled core module, or a clear error when the package was not built."""
    try:
        _limit_openmp_spinning()
        from . import _core
    except ImportError as exc:
        raise SemslamError(
            "semslam's C++ core (semslam._core) is not built or failed to load: run `make build` "
            f"(or `pip install .`) in the repository ({exc})"
        ) from exc
    return _core


def build_info() -> dict:
    """Version, CUDA (built, runtime, architectures), OpenMP threads, compiler, build type."""
    return dict(core().build_info())


def available_devices() -> list[str]:
    """"cpu" first, then "cuda:N" for every visible GPU of a CUDA build."""
    return list(core().available_devices())


def check_device(device: str) -> str:
    """Canonical name of `device` ("cuda" -> "cuda:0"); DeviceError if it is not usable here."""
    try:
        return core().check_device(str(device))
    except ValueError as exc:  # an unparseable name
        raise DeviceError(str(exc)) from None


def device_name(device: str) -> str:
    """Human-readable name ("CPU", "NVIDIA H200")."""
    return core().device_name(str(device))


def device_memory(device: str, reset_peaks: bool = False) -> dict:
    """Bytes of GPU memory held by semslam's buffers on `device` (cuda:N): used, used_peak,
    reserved, reserved_peak (peaks since the last reset; reset_peaks starts a new interval).
    Empty for the CPU, whose buffers are ordinary process memory (see the run's peak RSS)."""
    return dict(core().device_memory(check_device(device), reset_peaks))
