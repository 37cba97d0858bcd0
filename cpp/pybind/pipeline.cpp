// Bindings of the per-frame device work (semslam/pipeline): FrameProcessor holds the frame's
// images on the device and hands them to the odometry and the surfel map without host copies.
#include <pybind11/stl.h>

#include <set>
#include <string>
#include <vector>

#include "common.h"
#include "results.h"
#include "semslam/map/SurfelMap.h"
#include "semslam/pipeline/FrameProcessor.h"

namespace semslam {
namespace pybind {

namespace {

using ByteImage = py::array_t<uint8_t, py::array::c_style>;

// TrackingConfig (as a dict) -> OdometryParams; every field is required and no other is accepted,
// so a field added to the config cannot be silently ignored here.
odometry::OdometryParams OdometryParamsFromDict(const py::dict& d) {
    static const std::set<std::string> known = {
        "iterations", "pyramid_sigma_depth", "icp_max_distance", "icp_max_angle_deg", "icp_weight",
        "rgb_max_depth_delta", "rgb_min_gradient", "min_inlier_fraction", "max_condition", "max_translation",
        "max_rotation_deg", "convergence_epsilon"};
    for (const auto& item : d) {
        const std::string key = py::str(item.first);
        if (!known.count(key)) throw py::value_error("tracking parameter '" + key + "' is not known to the core");
    }
    for (const auto& key : known) {
        if (!d.contains(key.c_str())) throw py::value_error("tracking parameter '" + key + "' is missing");
    }
    odometry::OdometryParams p{};
    const auto iterations = d["iterations"].cast<std::vector<int>>();
    const auto gradients = d["rgb_min_gradient"].cast<std::vector<float>>();
    if (iterations.size() != odometry::kLevels || gradients.size() != odometry::kLevels) {
        throw py::value_error("iterations and rgb_min_gradient need one value per pyramid level");
    }
    for (int l = 0; l < odometry::kLevels; ++l) {
        p.iterations[l] = iterations[l];
        p.rgb_min_gradient[l] = gradients[l];
    }
    p.pyramid_sigma_depth = d["pyramid_sigma_depth"].cast<float>();
    p.icp_max_distance = d["icp_max_distance"].cast<float>();
    p.icp_max_angle_deg = d["icp_max_angle_deg"].cast<float>();
    p.icp_weight = d["icp_weight"].cast<float>();
    p.rgb_max_depth_delta = d["rgb_max_depth_delta"].cast<float>();
    p.min_inlier_fraction = d["min_inlier_fraction"].cast<float>();
    p.max_condition = d["max_condition"].cast<double>();
    p.max_translation = d["max_translation"].cast<float>();
    p.max_rotation_deg = d["max_rotation_deg"].cast<float>();
    p.convergence_epsilon = d["convergence_epsilon"].cast<float>();
    return p;
}

class PyFrameProcessor {
public:
    PyFrameProcessor(const std::string& device, int width, int height, float fx, float fy, float cx, float cy,
                     int bilateral_radius, float bilateral_sigma_space, float bilateral_sigma_depth,
                     float depth_min, float depth_max, const py::dict& tracking, float fill_in_min_density)
        : width_(width), height_(height),
          processor_(ParseAvailableDevice(device), width, height, core::PinholeIntrinsics{fx, fy, cx, cy},
                     {{bilateral_radius, bilateral_sigma_space, bilateral_sigma_depth, depth_min, depth_max},
                      fill_in_min_density},
                     OdometryParamsFromDict(tracking)) {}

    py::dict SetFrame(const FloatArray& depth, const ByteImage& rgb) {
        CheckShape(depth, {height_, width_}, "depth");
        CheckShape(rgb, {height_, width_, 3}, "rgb");
        pipeline::FrameStats s;
        {
            py::gil_scoped_release release;
            s = processor_.SetFrame(depth.data(), rgb.data());
        }
        py::dict out;
        out["invalid_depth_values"] = s.invalid_depth_values;
        out["valid_pixels"] = s.valid_pixels;
        return out;
    }

    py::dict PredictReference(map::SurfelMap& map, const DoubleArray& T_world_ref, int time) {
        const core::Rigid3f T = ToRigid(T_world_ref, "T_world_ref");
        pipeline::ReferenceStats s;
        {
            py::gil_scoped_release release;
            s = processor_.PredictReference(map, T, time);
        }
        py::dict out;
        out["predicted_fraction"] = s.predicted_fraction;
        out["filled"] = s.filled;
        return out;
    }

    py::dict Track(const DoubleArray& T_ref_cur_init) {
        const core::Rigid3f init = ToRigid(T_ref_cur_init, "T_ref_cur_init");
        odometry::TrackResult r;
        {
            py::gil_scoped_release release;
            r = processor_.Track(init);
        }
        return TrackResultToDict(r);
    }

    py::dict Fuse(map::SurfelMap& map, const DoubleArray& T_world_cam, int time) {
        const core::Rigid3f T = ToRigid(T_world_cam, "T_world_cam");
        map::FuseStats s;
        {
            py::gil_scoped_release release;
            s = processor_.Fuse(map, T, time);
        }
        return FuseStatsToDict(s);
    }

private:
    py::ssize_t width_, height_;
    pipeline::FrameProcessor processor_;
};

}  // namespace

void BindPipeline(py::module_& m) {
    py::class_<PyFrameProcessor>(m, "FrameProcessor",
                                 "The SLAM loop's per-frame device work (private: semslam.pipeline uses it).")
        .def(py::init<const std::string&, int, int, float, float, float, float, int, float, float, float, float,
                      const py::dict&, float>(),
             py::arg("device"), py::arg("width"), py::arg("height"), py::arg("fx"), py::arg("fy"), py::arg("cx"),
             py::arg("cy"), py::kw_only(), py::arg("bilateral_radius"), py::arg("bilateral_sigma_space"),
             py::arg("bilateral_sigma_depth"), py::arg("depth_min"), py::arg("depth_max"), py::arg("tracking"),
             py::arg("fill_in_min_density"))
        .def("set_frame", &PyFrameProcessor::SetFrame, py::arg("depth"), py::arg("rgb"),
             "depth float32 (H, W) metres, rgb uint8 (H, W, 3): upload, sanitise, filter, vertex/normal maps, "
             "pyramid -> {invalid_depth_values, valid_pixels}.")
        .def("predict_reference", &PyFrameProcessor::PredictReference, py::arg("surfel_map"), py::arg("T_world_ref"),
             py::arg("time"), "The map's prediction at T_world_ref (filled in when sparse) as the tracking reference.")
        .def("track", &PyFrameProcessor::Track, py::arg("T_ref_cur_init"))
        .def("fuse", &PyFrameProcessor::Fuse, py::arg("surfel_map"), py::arg("T_world_cam"), py::arg("time"));
}

}  // namespace pybind
}  // namespace semslam
