// Bindings of the image pyramids (semslam/frame/Pyramid.h) and of RGB-D odometry
// (semslam/odometry): _core.RGBDOdometry plus stateless pyramid kernels for tests.
#include <pybind11/stl.h>

#include <array>
#include <memory>

#include "common.h"
#include "results.h"
#include "semslam/frame/Pyramid.h"
#include "semslam/odometry/Odometry.h"
#include "semslam/odometry/kernel/OdometryKernels.h"

namespace semslam {
namespace pybind {

namespace {

using ByteArray = py::array_t<uint8_t, py::array::c_style>;
using odometry::kLevels;


// --- stateless pyramid kernels --------------------------------------------------------------

FloatArray PyrDownDepth(const FloatArray& depth, float sigma_depth, const std::string& device_name) {
    CheckShape(depth, {-1, -1}, "depth");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(depth.shape(0)), w = static_cast<int>(depth.shape(1));
    core::Buffer<float> in = Upload(depth, device);
    core::Buffer<float> out(static_cast<size_t>(w / 2) * (h / 2), device);
    {
        py::gil_scoped_release release;
        frame::PyrDownDepth(in, out, w, h, sigma_depth);
    }
    return Download(out, {h / 2, w / 2});
}

FloatArray RgbToIntensity(const ByteArray& rgb, const std::string& device_name) {
    CheckShape(rgb, {-1, -1, 3}, "rgb");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(rgb.shape(0)), w = static_cast<int>(rgb.shape(1));
    core::Buffer<uint8_t> in = Upload(rgb, device);
    core::Buffer<float> out(static_cast<size_t>(w) * h, device);
    {
        py::gil_scoped_release release;
        frame::RgbToIntensity(in, out, w, h);
    }
    return Download(out, {h, w});
}

FloatArray PyrDownIntensity(const FloatArray& intensity, const std::string& device_name) {
    CheckShape(intensity, {-1, -1}, "intensity");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(intensity.shape(0)), w = static_cast<int>(intensity.shape(1));
    core::Buffer<float> in = Upload(intensity, device);
    core::Buffer<float> out(static_cast<size_t>(w / 2) * (h / 2), device);
    {
        py::gil_scoped_release release;
        frame::PyrDownIntensity(in, out, w, h);
    }
    return Download(out, {h / 2, w / 2});
}

py::tuple IntensityGradients(const FloatArray& intensity, const std::string& device_name) {
    CheckShape(intensity, {-1, -1}, "intensity");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(intensity.shape(0)), w = static_cast<int>(intensity.shape(1));
    core::Buffer<float> in = Upload(intensity, device);
    core::Buffer<float> dx(in.size(), device), dy(in.size(), device);
    {
        py::gil_scoped_release release;
        frame::IntensityGradients(in, dx, dy, w, h);
    }
    return py::make_tuple(Download(dx, {h, w}), Download(dy, {h, w}));
}

FloatArray PyrDownPoints(const FloatArray& points, bool normalise, const std::string& device_name) {
    CheckShape(points, {-1, -1, 3}, "points");
    const core::Device device = ParseAvailableDevice(device_name);
    const int h = static_cast<int>(points.shape(0)), w = static_cast<int>(points.shape(1));
    core::Buffer<float> in = Upload(points, device);
    core::Buffer<float> out(static_cast<size_t>(w / 2) * (h / 2) * 3, device);
    {
        py::gil_scoped_release release;
        frame::PyrDownPoints(in, out, w, h, normalise);
    }
    return Download(out, {h / 2, w / 2, 3});
}

// --- the odometry object --------------------------------------------------------------------

class PyOdometry {
public:
    PyOdometry(const std::string& device_name, int width, int height, float fx, float fy, float cx, float cy,
               const std::array<int, kLevels>& iterations, float pyramid_sigma_depth, float icp_max_distance,
               float icp_max_angle_deg, float icp_weight, float rgb_max_depth_delta,
               const std::array<float, kLevels>& rgb_min_gradient, float min_inlier_fraction, double max_condition,
               float max_translation, float max_rotation_deg, float convergence_epsilon)
        : device_(ParseAvailableDevice(device_name)), width_(width), height_(height) {
        odometry::OdometryParams p{};
        for (int l = 0; l < kLevels; ++l) {
            p.iterations[l] = iterations[l];
            p.rgb_min_gradient[l] = rgb_min_gradient[l];
        }
        p.pyramid_sigma_depth = pyramid_sigma_depth;
        p.icp_max_distance = icp_max_distance;
        p.icp_max_angle_deg = icp_max_angle_deg;
        p.icp_weight = icp_weight;
        p.rgb_max_depth_delta = rgb_max_depth_delta;
        p.min_inlier_fraction = min_inlier_fraction;
        p.max_condition = max_condition;
        p.max_translation = max_translation;
        p.max_rotation_deg = max_rotation_deg;
        p.convergence_epsilon = convergence_epsilon;
        odometry_ = std::make_unique<odometry::RGBDOdometry>(device_, width, height,
                                                             core::PinholeIntrinsics{fx, fy, cx, cy}, p);
        const size_t n = static_cast<size_t>(width) * height;
        depth_ = core::Buffer<float>(n, device_);
        rgb_ = core::Buffer<uint8_t>(3 * n, device_);
        vertices_ = core::Buffer<float>(3 * n, device_);
        normals_ = core::Buffer<float>(3 * n, device_);
        intensity_ = core::Buffer<float>(n, device_);
    }

    void SetCurrent(const FloatArray& depth, const ByteArray& rgb) {
        CheckShape(depth, {height_, width_}, "depth_filtered");
        CheckShape(rgb, {height_, width_, 3}, "rgb");
        py::gil_scoped_release release;
        depth_.CopyFromHost(depth.data());
        rgb_.CopyFromHost(rgb.data());
        odometry_->SetCurrent(depth_, rgb_);
    }

    void SetReference(const FloatArray& vertices, const FloatArray& normals, const FloatArray& intensity) {
        CheckShape(vertices, {height_, width_, 3}, "vertices");
        CheckShape(normals, {height_, width_, 3}, "normals");
        CheckShape(intensity, {height_, width_}, "intensity");
        py::gil_scoped_release release;
        vertices_.CopyFromHost(vertices.data());
        normals_.CopyFromHost(normals.data());
        intensity_.CopyFromHost(intensity.data());
        odometry_->SetReference(vertices_, normals_, intensity_);
    }

    void Swap() { odometry_->SwapCurrentToReference(); }

    py::dict Track(const py::array_t<double, py::array::c_style | py::array::forcecast>& T_init) {
        const core::Rigid3f init = ToRigid(T_init, "T_ref_cur_init");
        odometry::TrackResult r;
        {
            py::gil_scoped_release release;
            r = odometry_->Track(init);
        }
        return TrackResultToDict(r);
    }

    py::tuple Linearise(int level, const py::array_t<double, py::array::c_style | py::array::forcecast>& T,
                        float rgb_sigma) {
        const core::Rigid3f pose = ToRigid(T, "T_ref_cur");
        DoubleArray icp(odometry::kernel::kSystemSize), rgb(odometry::kernel::kSystemSize);
        double* icp_data = icp.mutable_data();
        double* rgb_data = rgb.mutable_data();
        {
            py::gil_scoped_release release;
            odometry_->Linearise(level, pose, rgb_sigma, icp_data, rgb_data);
        }
        return py::make_tuple(icp, rgb);
    }

    py::dict PyramidLevel(const std::string& which, int level) {
        if (which != "current" && which != "reference") {
            throw py::value_error("which must be 'current' or 'reference', got '" + which + "'");
        }
        if (level < 0 || level >= kLevels) throw py::value_error("level out of range");
        const py::ssize_t h = odometry_->height(level), w = odometry_->width(level);
        const auto& L = which == "current" ? odometry_->current(level) : odometry_->reference(level);
        py::dict out;
        out["vertices"] = Download(L.vertices, {h, w, 3});
        out["normals"] = Download(L.normals, {h, w, 3});
        out["intensity"] = Download(L.intensity, {h, w});
        if (which == "current") {
            out["depth"] = Download(L.depth, {h, w});
            out["dIdx"] = Download(L.dIdx, {h, w});
            out["dIdy"] = Download(L.dIdy, {h, w});
        }
        return out;
    }

private:
    core::Device device_;
    py::ssize_t width_, height_;
    std::unique_ptr<odometry::RGBDOdometry> odometry_;
    core::Buffer<float> depth_, vertices_, normals_, intensity_;  // upload staging, reused
    core::Buffer<uint8_t> rgb_;
};

}  // namespace

void BindOdometry(py::module_& m) {
    m.def("pyr_down_depth", &PyrDownDepth, py::arg("depth"), py::arg("sigma_depth"), py::arg("device"),
          "depth float32 (H, W) metres, 0 invalid -> (H/2, W/2): ElasticFusion's pyrDown.");
    m.def("rgb_to_intensity", &RgbToIntensity, py::arg("rgb"), py::arg("device"),
          "rgb uint8 (H, W, 3) -> float32 (H, W) intensity 0..255.");
    m.def("pyr_down_intensity", &PyrDownIntensity, py::arg("intensity"), py::arg("device"),
          "intensity float32 (H, W), NaN invalid -> (H/2, W/2) Gaussian-downsampled.");
    m.def("intensity_gradients", &IntensityGradients, py::arg("intensity"), py::arg("device"),
          "intensity float32 (H, W) -> (dI/dx, dI/dy) float32 (H, W) per pixel, NaN at borders.");
    m.def("pyr_down_points", &PyrDownPoints, py::arg("points"), py::arg("normalise"), py::arg("device"),
          "points float32 (H, W, 3), NaN invalid -> (H/2, W/2, 3) 2x2 means.");

    py::class_<PyOdometry>(m, "RGBDOdometry")
        .def(py::init<const std::string&, int, int, float, float, float, float, const std::array<int, kLevels>&,
                      float, float, float, float, float, const std::array<float, kLevels>&, float, double, float,
                      float, float>(),
             py::arg("device"), py::arg("width"), py::arg("height"), py::arg("fx"), py::arg("fy"), py::arg("cx"),
             py::arg("cy"), py::kw_only(), py::arg("iterations"), py::arg("pyramid_sigma_depth"),
             py::arg("icp_max_distance"), py::arg("icp_max_angle_deg"), py::arg("icp_weight"),
             py::arg("rgb_max_depth_delta"), py::arg("rgb_min_gradient"), py::arg("min_inlier_fraction"),
             py::arg("max_condition"), py::arg("max_translation"), py::arg("max_rotation_deg"),
             py::arg("convergence_epsilon"))
        .def("set_current", &PyOdometry::SetCurrent, py::arg("depth_filtered"), py::arg("rgb"),
             "depth_filtered float32 (H, W) metres, rgb uint8 (H, W, 3): builds the current pyramid.")
        .def("set_reference", &PyOdometry::SetReference, py::arg("vertices"), py::arg("normals"),
             py::arg("intensity"),
             "vertices, normals float32 (H, W, 3) reference camera frame, NaN invalid; intensity float32 "
             "(H, W) 0..255, NaN invalid.")
        .def("swap_current_to_reference", &PyOdometry::Swap)
        .def("track", &PyOdometry::Track, py::arg("T_ref_cur_init"), "4x4 -> dict (T_ref_cur 4x4 float64, ok, ...)")
        .def("linearise", &PyOdometry::Linearise, py::arg("level"), py::arg("T_ref_cur"), py::arg("rgb_sigma"),
             "(icp, rgb): the two 29-value reduced systems at a level and pose (rgb_sigma < 0: measured).")
        .def("pyramid_level", &PyOdometry::PyramidLevel, py::arg("which"), py::arg("level"));
}

}  // namespace pybind
}  // namespace semslam
