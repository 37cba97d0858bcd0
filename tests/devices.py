"""Device parametrisation for kernel tests: every kernel test runs on "cpu" and on each visible GPU;
where no GPU is usable the CUDA case is reported as skipped with the reason."""

from __future__ import annotations

import pytest

from semslam.device import available_devices, build_info


def device_params() -> list:
    params = [pytest.param("cpu", id="cpu")]
    gpus = [d for d in available_devices() if d.startswith("cuda")]
    if gpus:
        params += [pytest.param(d, id=d) for d in gpus]
    else:
        reason = "no visible CUDA GPU" if build_info()["cuda_built"] else "semslam core built without CUDA"
        params.append(pytest.param("cuda:0", id="cuda:0", marks=pytest.mark.skip(reason=reason)))
    return params


DEVICES = device_params()
