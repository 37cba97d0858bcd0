"""What the core says about itself, device selection errors, and the CMake CUDA switch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import semslam
from semslam.device import available_devices, build_info, check_device, device_name
from semslam.errors import DeviceError

ROOT = Path(__file__).resolve().parents[1]


def test_build_info_and_devices():
    info = build_info()
    assert info["version"] == semslam.__version__
    assert info["openmp"] is True and info["openmp_max_threads"] >= 1
    devices = available_devices()
    assert devices[0] == "cpu"
    assert check_device("cpu") == "cpu"
    assert device_name("cpu") == "CPU"
    if info["cuda_built"]:
        assert info["cuda_architectures"]


@pytest.mark.parametrize("env, expected", [({}, "default"), ({"GOMP_SPINCOUNT": "123"}, "123"),
                                           ({"OMP_WAIT_POLICY": "passive"}, "None")])
def test_openmp_spin_count_is_set_before_libgomp_loads(env, expected):
    # libgomp reads GOMP_SPINCOUNT once, when it loads with the core: it must not be loaded before
    code = (
        "import os, sys\n"
        "from semslam.device import OPENMP_SPIN_COUNT, core\n"
        "maps = lambda: open('/proc/self/maps').read()\n"
        "assert 'libgomp' not in maps(), 'libgomp loaded before the core'\n"
        "core()\n"
        "assert 'libgomp' in maps()\n"
        "value = os.environ.get('GOMP_SPINCOUNT')\n"
        "print('default' if value == str(OPENMP_SPIN_COUNT) else value)\n"
    )
    child_env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    child_env.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=child_env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_unknown_device_string():
    with pytest.raises(DeviceError, match="expected 'cpu', 'cuda' or 'cuda:N'"):
        check_device("gpu0")


def test_unavailable_cuda_device_is_a_clear_error():
    n_gpus = len([d for d in available_devices() if d.startswith("cuda")])
    wanted = f"cuda:{n_gpus}"  # one past the last visible GPU (cuda:0 on a machine without GPU)
    with pytest.raises(DeviceError, match=wanted):
        check_device(wanted)


def _cmake_configure(build_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import pybind11

    cmake = shutil.which("cmake")  # resolved before a test narrows PATH
    assert cmake, "cmake is needed to build the core"
    return subprocess.run(
        [cmake, "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja" if shutil.which("ninja") else "Unix Makefiles",
         f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", f"-DPython_EXECUTABLE={sys.executable}", *args],
        capture_output=True, text=True, env=env,
    )


@pytest.mark.slow
def test_cpu_only_build_rejects_cuda_clearly(tmp_path):
    """Build the core with SEMSLAM_CUDA=OFF and ask it for a GPU: DeviceError says CUDA was not built."""
    build = tmp_path / "build"
    configured = _cmake_configure(build, "-DSEMSLAM_CUDA=OFF")
    assert configured.returncode == 0, configured.stderr
    assert "CUDA kernels OFF" in configured.stdout
    built = subprocess.run([shutil.which("cmake"), "--build", str(build), "-j2"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    (so,) = build.glob("_core*.so")
    probe = (
        "import importlib.util, sys, semslam\n"
        f"spec = importlib.util.spec_from_file_location('semslam._core', {str(so)!r})\n"
        "core = importlib.util.module_from_spec(spec); spec.loader.exec_module(core)\n"
        "sys.modules['semslam._core'] = core\n"
        "from semslam.errors import DeviceError\n"
        "assert core.build_info()['cuda_built'] is False\n"
        "assert core.available_devices() == ['cpu']\n"
        "try:\n    core.check_device('cuda:0')\nexcept DeviceError as e:\n    print('ERR', e)\n"
        "import numpy as np\n"
        "print('OUT', core.bilateral_filter(np.ones((4, 4), np.float32), 1, 1.0, 0.1, 0.1, 5.0, 'cpu').sum())\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "ERR device cuda:0 requested, but this semslam build has no CUDA support" in result.stdout
    assert "OUT 16.0" in result.stdout


def test_cuda_on_without_nvcc_fails_clearly(tmp_path):
    env = dict(os.environ)
    env["CUDACXX"] = str(tmp_path / "no-cuda" / "bin" / "nvcc")  # where CMake must look, and finds nothing
    result = _cmake_configure(tmp_path / "build", "-DSEMSLAM_CUDA=ON", env=env)
    assert result.returncode != 0
    assert "SEMSLAM_CUDA=ON but no CUDA compiler was found" in result.stderr
