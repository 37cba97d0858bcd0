// Results of the core as Python values, shared by the binding files that return them.
#pragma once

#include <pybind11/stl.h>

#include <vector>

#include "common.h"
#include "semslam/map/SurfelMap.h"
#include "semslam/odometry/Odometry.h"

namespace semslam {
namespace pybind {

// A rigid transform as a 4x4 float64 array.
inline DoubleArray RigidToNumpy(const core::Rigid3f& T) {
    DoubleArray out({4, 4});
    double* o = out.mutable_data();
    for (int i = 0; i < 12; ++i) o[i] = T.m[i];
    o[12] = o[13] = o[14] = 0.0;
    o[15] = 1.0;
    return out;
}

inline py::dict TrackResultToDict(const odometry::TrackResult& r) {
    py::dict out;
    out["T_ref_cur"] = RigidToNumpy(r.T_ref_cur);
    out["ok"] = r.ok;
    out["reason"] = r.reason;
    out["inliers"] = r.inliers;
    out["inlier_fraction"] = r.inlier_fraction;
    out["icp_rmse"] = r.icp_rmse;
    out["rgb_count"] = r.rgb_count;
    out["rgb_rmse"] = r.rgb_rmse;
    out["iterations"] = std::vector<int>(r.iterations, r.iterations + odometry::kLevels);
    out["condition"] = r.condition;
    return out;
}

inline py::dict FuseStatsToDict(const map::FuseStats& s) {
    py::dict out;
    out["pixels_fused"] = s.pixels_fused;
    out["matched"] = s.matched;
    out["updated"] = s.updated;
    out["averaged"] = s.averaged;
    out["added"] = s.added;
    out["size"] = s.size;
    return out;
}

}  // namespace pybind
}  // namespace semslam
