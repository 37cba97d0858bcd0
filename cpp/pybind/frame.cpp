// Bindings of depth preprocessing (semslam/frame).
#include "common.h"
#include "semslam/frame/Preprocess.h"

namespace semslam {
namespace pybind {

namespace {

FloatArray BilateralFilter(const FloatArray& depth, int radius, float sigma_space, float sigma_depth, float depth_min,
                           float depth_max, const std::string& device_name) {
    CheckShape(depth, {-1, -1}, "depth");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(depth.shape(0)), w = static_cast<int>(depth.shape(1));
    core::Buffer<float> in = Upload(depth, device);
    core::Buffer<float> out(in.size(), device);
    {
        py::gil_scoped_release release;
        frame::BilateralFilter(in, out, w, h, {radius, sigma_space, sigma_depth, depth_min, depth_max});
    }
    return Download(out, {h, w});
}

FloatArray VertexMap(const FloatArray& depth, float fx, float fy, float cx, float cy, const std::string& device_name) {
    CheckShape(depth, {-1, -1}, "depth");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(depth.shape(0)), w = static_cast<int>(depth.shape(1));
    core::Buffer<float> in = Upload(depth, device);
    core::Buffer<float> out(3 * in.size(), device);
    {
        py::gil_scoped_release release;
        frame::ComputeVertexMap(in, out, w, h, {fx, fy, cx, cy});
    }
    return Download(out, {h, w, 3});
}

FloatArray NormalMap(const FloatArray& vertices, const std::string& device_name) {
    CheckShape(vertices, {-1, -1, 3}, "vertices");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(vertices.shape(0)), w = static_cast<int>(vertices.shape(1));
    core::Buffer<float> in = Upload(vertices, device);
    core::Buffer<float> out(in.size(), device);
    {
        py::gil_scoped_release release;
        frame::ComputeNormalMap(in, out, w, h);
    }
    return Download(out, {h, w, 3});
}

}  // namespace

void BindFrame(py::module_& m) {
    m.def("bilateral_filter", &BilateralFilter, py::arg("depth"), py::arg("radius"), py::arg("sigma_space"),
          py::arg("sigma_depth"), py::arg("depth_min"), py::arg("depth_max"), py::arg("device"),
          "depth: float32 (H, W) metres, 0 = invalid -> filtered float32 (H, W).");
    m.def("vertex_map", &VertexMap, py::arg("depth"), py::arg("fx"), py::arg("fy"), py::arg("cx"), py::arg("cy"),
          py::arg("device"), "depth: float32 (H, W) metres -> float32 (H, W, 3) camera-frame points, NaN invalid.");
    m.def("normal_map", &NormalMap, py::arg("vertices"), py::arg("device"),
          "vertices: float32 (H, W, 3) -> float32 (H, W, 3) unit normals, NaN invalid.");
}

}  // namespace pybind
}  // namespace semslam
