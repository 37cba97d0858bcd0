// Bindings of the object-level helpers (semslam/objects): geometric segmentation of a depth frame.
#include "common.h"
#include "semslam/objects/GeometricSegmentation.h"

namespace semslam {
namespace pybind {

namespace {

py::tuple GeometricEdges(const FloatArray& vertices, const FloatArray& normals, float threshold,
                         float concavity_weight, int radius, const std::string& device_name) {
    CheckShape(vertices, {-1, -1, 3}, "vertices");
    CheckShape(normals, {vertices.shape(0), vertices.shape(1), 3}, "normals");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(vertices.shape(0)), w = static_cast<int>(vertices.shape(1));
    core::Buffer<float> v = Upload(vertices, device);
    core::Buffer<float> n = Upload(normals, device);
    core::Buffer<float> edgeness(static_cast<size_t>(w) * h, device);
    core::Buffer<uint8_t> edges(static_cast<size_t>(w) * h, device);
    {
        py::gil_scoped_release release;
        objects::GeometricEdges(v, n, edgeness, edges, w, h, {threshold, concavity_weight, radius});
    }
    return py::make_tuple(Download(edgeness, {h, w}), Download(edges, {h, w}));
}

py::tuple ConnectedComponents(const py::array_t<uint8_t, py::array::c_style | py::array::forcecast>& edges,
                              const std::string& device_name) {
    CheckShape(edges, {-1, -1}, "edges");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(edges.shape(0)), w = static_cast<int>(edges.shape(1));
    core::Buffer<uint8_t> e(static_cast<size_t>(w) * h, device);
    e.CopyFromHost(edges.data());
    core::Buffer<int32_t> labels(static_cast<size_t>(w) * h, device);
    int steps = 0;
    {
        py::gil_scoped_release release;
        steps = objects::ConnectedComponents(e, labels, w, h);
    }
    return py::make_tuple(Download(labels, {h, w}), steps);
}

}  // namespace

void BindObjects(py::module_& m) {
    m.def("geometric_edges", &GeometricEdges, py::arg("vertices"), py::arg("normals"), py::arg("threshold"),
          py::arg("concavity_weight"), py::arg("radius"), py::arg("device"),
          "vertices, normals: float32 (H, W, 3) camera frame, NaN invalid -> (edgeness float32 (H, W), inf where "
          "invalid; edges uint8 (H, W)).");
    m.def("connected_components", &ConnectedComponents, py::arg("edges"), py::arg("device"),
          "edges: uint8 (H, W), non-zero = edge -> (labels int32 (H, W): smallest row-major index of each "
          "4-connected non-edge component, -1 on edges; steps taken).");
}

}  // namespace pybind
}  // namespace semslam
