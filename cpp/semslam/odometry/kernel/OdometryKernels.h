// Device-specific entry points of the tracking reductions (bodies in OdometryImpl.h). A LevelView
// holds raw pointers to one pyramid level of the current frame and of the reference, all on the
// device named; both are width x height with intrinsics K.
#pragma once

#include <cstdint>

#include "semslam/core/Camera.h"
#include "semslam/core/Device.h"
#include "semslam/core/Math.h"

namespace semslam {
namespace odometry {
namespace kernel {

// The reduced system of one term: [0, 21) the upper triangle of J^T J row by row (00 01 .. 05 11 ..
// 55), [21, 27) J^T r, [27] the sum of the unweighted squared residuals, [28] the residual count.
constexpr int kSystemSize = 29;

struct LevelView {
    const float* cur_vertices;   // [H*W*3] current camera frame, NaN invalid
    const float* cur_normals;    // [H*W*3]
    const float* cur_intensity;  // [H*W] 0..255
    const float* cur_dIdx;       // [H*W] intensity per pixel, NaN invalid
    const float* cur_dIdy;
    const float* ref_vertices;   // [H*W*3] reference camera frame, NaN invalid
    const float* ref_normals;    // [H*W*3]
    const float* ref_intensity;  // [H*W] 0..255, NaN invalid
    int width, height;
    core::PinholeIntrinsics K;
};

struct IcpGates {
    float max_distance;   // m
    float max_angle_sin;  // sine of the largest normal angle
};

struct RgbGates {
    float max_depth_delta;    // m; |z of the warped current point - reference z|
    float min_gradient_sq;    // (intensity / pixel)^2
};

#define SEMSLAM_DECLARE_ODOMETRY(suffix)                                                                        \
    /* out[0, 29): the ICP system, out[29, 58): the photometric one, weighted with sigma */                   \
    void TrackReduce##suffix(const core::Device& device, LevelView level, core::Rigid3f T_ref_cur,               \
                             IcpGates icp_gates, RgbGates rgb_gates, float sigma, double* out);                  \
    /* out[0]: sum of the squared photometric residuals, out[1]: their count */                                \
    void RgbStats##suffix(const core::Device& device, LevelView level, core::Rigid3f T_ref_cur, RgbGates gates,  \
                          double* out);                                                                         \
    void CountValidPoints##suffix(const core::Device& device, const float* vertices, const float* normals,      \
                                  int64_t count, double* out);                                                  \
    void CopyFloats##suffix(const core::Device& device, const float* src, float* dst, int64_t count);

SEMSLAM_DECLARE_ODOMETRY(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_ODOMETRY(CUDA)
#endif
#undef SEMSLAM_DECLARE_ODOMETRY

}  // namespace kernel
}  // namespace odometry
}  // namespace semslam
