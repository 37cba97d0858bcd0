"""Compute devices and what the C++ core was built with.

Devices are named as in torch: "cpu", "cuda" (= "cuda:0"), "cuda:N". Asking for a CUDA device
in a CPU-only build, or on a machine without a GPU, raises `semslam.errors.DeviceError` naming
what is missing.
"""

from __future__ import annotations

from .errors import DeviceError, SemslamError


def core():
    """The compiled core module, or a clear error when the package was not built."""
    try:
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
