// The one binding of the C++ core: semslam._core. Python sees numpy arrays and plain values,
// never C++ types; the typed Python wrappers in semslam/ are the public API. Heavy calls
// release the GIL.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "common.h"
#include "semslam/core/CUDAUtils.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;
using semslam::core::Device;
using semslam::pybind::ParseAvailableDevice;

// One Bind function per area of the core, each in its own file.
namespace semslam {
namespace pybind {
void BindFrame(py::module_& m);
void BindMap(py::module_& m);
void BindObjects(py::module_& m);
void BindOdometry(py::module_& m);
void BindPipeline(py::module_& m);
void BindSemantics(py::module_& m);
}  // namespace pybind
}  // namespace semslam

namespace {

py::dict BuildInfo() {
    py::dict info;
    info["version"] = SEMSLAM_VERSION;
    info["cuda_built"] = semslam::core::CUDABuilt();
#ifdef SEMSLAM_WITH_CUDA
    info["cuda_runtime"] = semslam::core::cuda::RuntimeVersion();
    info["cuda_architectures"] = SEMSLAM_CUDA_ARCHITECTURES;
#else
    info["cuda_runtime"] = py::none();
    info["cuda_architectures"] = py::none();
#endif
#ifdef _OPENMP
    info["openmp"] = true;
    info["openmp_max_threads"] = omp_get_max_threads();
#else
    info["openmp"] = false;
    info["openmp_max_threads"] = 1;
#endif
    info["compiler"] = SEMSLAM_CXX_COMPILER;
    info["build_type"] = SEMSLAM_BUILD_TYPE;
    info["cpu_target"] = SEMSLAM_CPU_TARGET;  // "native" (this machine's vector units) or "generic"
    return info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "semslam's C++/CUDA core (private: use the semslam package's wrappers)";

    // Our DeviceError becomes semslam.errors.DeviceError, so Python catches one class.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const semslam::core::DeviceError& e) {
            py::object cls = py::module_::import("semslam.errors").attr("DeviceError");
            PyErr_SetString(cls.ptr(), e.what());
        } catch (const semslam::core::OutOfMemoryError& e) {
            py::object cls = py::module_::import("semslam.errors").attr("OutOfMemoryError");
            PyErr_SetString(cls.ptr(), e.what());
        }
    });

    m.def("build_info", &BuildInfo, "What this core was built with (dict).");
    m.def("cuda_device_count", &semslam::core::CUDADeviceCount);
    m.def(
        "available_devices",
        [] {
            std::vector<std::string> names;
            for (const auto& d : semslam::core::AvailableDevices()) names.push_back(d.ToString());
            return names;
        },
        "Devices usable now: 'cpu' and 'cuda:N' for every visible GPU.");
    m.def(
        "device_name",
        [](const std::string& text) -> std::string {
            const Device device = ParseAvailableDevice(text);
#ifdef SEMSLAM_WITH_CUDA
            if (device.IsCUDA()) return semslam::core::cuda::DeviceName(device.id());
#endif
            return "CPU";
        },
        py::arg("device"));
    m.def(
        "device_memory",
        [](const std::string& text, bool reset_peaks) {
            const Device device = ParseAvailableDevice(text);
            py::dict out;
#ifdef SEMSLAM_WITH_CUDA
            if (device.IsCUDA()) {
                const auto stats = semslam::core::cuda::PoolMemory(device.id());
                out["used"] = stats.used;
                out["used_peak"] = stats.used_peak;
                out["reserved"] = stats.reserved;
                out["reserved_peak"] = stats.reserved_peak;
                if (reset_peaks) semslam::core::cuda::ResetPoolPeaks(device.id());
                return out;
            }
#endif
            (void)reset_peaks;
            return out;  // the CPU: buffers are ordinary process memory (see peak RSS)
        },
        py::arg("device"), py::arg("reset_peaks") = false,
        "Bytes of device memory semslam's buffers use on a GPU (pool: used, used_peak, reserved, reserved_peak); "
        "{} for the CPU.");
    m.def("check_device", [](const std::string& text) { return ParseAvailableDevice(text).ToString(); },
          py::arg("device"), "Canonical name of an available device; DeviceError otherwise.");

    semslam::pybind::BindFrame(m);
    semslam::pybind::BindMap(m);
    semslam::pybind::BindObjects(m);
    semslam::pybind::BindOdometry(m);
    semslam::pybind::BindPipeline(m);
    semslam::pybind::BindSemantics(m);
}
