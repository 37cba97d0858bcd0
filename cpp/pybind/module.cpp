// The one binding of the C++ core: semslam._core. Python sees numpy arrays and plain values,
// never C++ types; the typed Python wrappers in semslam/ are the public API. Heavy calls
// release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "semslam/core/Buffer.h"
#include "semslam/core/CUDAUtils.h"
#include "semslam/core/Device.h"
#include "semslam/frame/Preprocess.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;
using semslam::core::Buffer;
using semslam::core::Device;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

Device ParseAvailableDevice(const std::string& text) {
    const Device device = Device::Parse(text);
    semslam::core::CheckAvailable(device);
    return device;
}

// Shape check with the shape in the message (numpy order).
void CheckShape(const py::array& a, const std::vector<py::ssize_t>& expected, const char* name) {
    bool ok = a.ndim() == static_cast<py::ssize_t>(expected.size());
    for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || a.shape(i) == expected[i];
    if (ok) return;
    std::string got = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) got += (i ? ", " : "") + std::to_string(a.shape(i));
    got += ")";
    throw py::value_error(std::string(name) + " has shape " + got + ", expected " + std::to_string(expected.size()) +
                          " dimensions " + (expected.size() == 3 ? "(H, W, 3)" : "(H, W)"));
}

Buffer<float> Upload(const FloatArray& a, const Device& device) {
    Buffer<float> buffer(static_cast<size_t>(a.size()), device);
    buffer.CopyFromHost(a.data());
    return buffer;
}

FloatArray Download(const Buffer<float>& buffer, std::vector<py::ssize_t> shape) {
    FloatArray out(shape);
    buffer.CopyToHost(out.mutable_data());
    return out;
}

FloatArray BilateralFilter(const FloatArray& depth, int radius, float sigma_space, float sigma_depth, float depth_min,
                           float depth_max, const std::string& device_name) {
    CheckShape(depth, {-1, -1}, "depth");
    const Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(depth.shape(0)), w = static_cast<int>(depth.shape(1));
    Buffer<float> in = Upload(depth, device);
    Buffer<float> out(in.size(), device);
    {
        py::gil_scoped_release release;
        semslam::frame::BilateralFilter(in, out, w, h, {radius, sigma_space, sigma_depth, depth_min, depth_max});
    }
    return Download(out, {h, w});
}

FloatArray VertexMap(const FloatArray& depth, float fx, float fy, float cx, float cy, const std::string& device_name) {
    CheckShape(depth, {-1, -1}, "depth");
    const Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(depth.shape(0)), w = static_cast<int>(depth.shape(1));
    Buffer<float> in = Upload(depth, device);
    Buffer<float> out(3 * in.size(), device);
    {
        py::gil_scoped_release release;
        semslam::frame::ComputeVertexMap(in, out, w, h, {fx, fy, cx, cy});
    }
    return Download(out, {h, w, 3});
}

FloatArray NormalMap(const FloatArray& vertices, const std::string& device_name) {
    CheckShape(vertices, {-1, -1, 3}, "vertices");
    const Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(vertices.shape(0)), w = static_cast<int>(vertices.shape(1));
    Buffer<float> in = Upload(vertices, device);
    Buffer<float> out(in.size(), device);
    {
        py::gil_scoped_release release;
        semslam::frame::ComputeNormalMap(in, out, w, h);
    }
    return Download(out, {h, w, 3});
}

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
    m.def("check_device", [](const std::string& text) { return ParseAvailableDevice(text).ToString(); },
          py::arg("device"), "Canonical name of an available device; DeviceError otherwise.");

    m.def("bilateral_filter", &BilateralFilter, py::arg("depth"), py::arg("radius"), py::arg("sigma_space"),
          py::arg("sigma_depth"), py::arg("depth_min"), py::arg("depth_max"), py::arg("device"),
          "depth: float32 (H, W) metres, 0 = invalid -> filtered float32 (H, W).");
    m.def("vertex_map", &VertexMap, py::arg("depth"), py::arg("fx"), py::arg("fy"), py::arg("cx"), py::arg("cy"),
          py::arg("device"), "depth: float32 (H, W) metres -> float32 (H, W, 3) camera-frame points, NaN invalid.");
    m.def("normal_map", &NormalMap, py::arg("vertices"), py::arg("device"),
          "vertices: float32 (H, W, 3) -> float32 (H, W, 3) unit normals, NaN invalid.");
}
