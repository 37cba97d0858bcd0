// Frame-to-model RGB-D odometry (ElasticFusion, Whelan et al. RSS 2015 / IJRR 2016): estimates
// T_ref_cur, the pose of the current frame in the reference camera frame, by Gauss-Newton on SE(3)
// jointly over point-to-plane ICP and a photometric term, coarse to fine over a 3-level pyramid.
//
// The reference is the model's prediction rendered at T_world_ref: vertices and normals in the
// REFERENCE camera frame ([H*W*3], NaN invalid) and intensity ([H*W] float, 0..255 like the
// current frame's 0.299 R + 0.587 G + 0.114 B; NaN where nothing was rendered). Every buffer stays
// on the device; only poses and the small result cross to the host.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "semslam/core/Buffer.h"
#include "semslam/core/Camera.h"
#include "semslam/core/Math.h"

namespace semslam {
namespace odometry {

constexpr int kLevels = 3;  // level 0 = full resolution, each next level half the previous

struct OdometryParams {
    int iterations[kLevels];          // Gauss-Newton iterations per level, [0] = finest; run coarse first
    float pyramid_sigma_depth;        // m; depth pyrDown keeps neighbours within 3 sigma of the centre
    float icp_max_distance;           // m; association gate on |q - v_ref|
    float icp_max_angle_deg;          // degrees; association gate on the normals' angle
    float icp_weight;                 // ICP residuals weigh this much relative to the RGB ones
    float rgb_max_depth_delta;        // m; photometric association gate on depth
    float rgb_min_gradient[kLevels];  // intensity (0..255) per pixel; weaker current gradients unused
    float min_inlier_fraction;        // ICP inliers / valid current pixels at level 0 below this: failure
    double max_condition;             // condition number of the final 6x6 above this: failure
    float max_translation;            // m; |t| of T_ref_cur T_init^-1 above this: failure
    float max_rotation_deg;           // degrees; rotation angle of T_ref_cur T_init^-1 above this: failure
    float convergence_epsilon;        // a level stops when |delta| (rad and m together) falls below
};

struct TrackResult {
    core::Rigid3f T_ref_cur;   // the estimate when ok, the initial pose otherwise
    bool ok = false;
    std::string reason;        // "" when ok
    int64_t inliers = 0;       // ICP correspondences at level 0 (last iteration)
    double inlier_fraction = 0;  // inliers / valid current pixels (vertex and normal) at level 0
    double icp_rmse = 0;       // m; point-to-plane RMSE of the level-0 inliers
    int64_t rgb_count = 0;     // photometric correspondences at level 0
    double rgb_rmse = 0;       // intensity levels (0..255)
    int iterations[kLevels] = {0, 0, 0};  // Gauss-Newton updates applied per level
    double condition = 0;      // condition number of the last level-0 system
};

class RGBDOdometry {
public:
    RGBDOdometry(const core::Device& device, int width, int height, const core::PinholeIntrinsics& intrinsics,
                 const OdometryParams& params);

    // depth_filtered: [H*W] metres (bilateral-filtered), 0 = invalid; rgb: [H*W*3] uint8 RGB.
    // Builds the current pyramid: depth, vertices, normals, intensity and its gradients per level.
    void SetCurrent(const core::Buffer<float>& depth_filtered, const core::Buffer<uint8_t>& rgb);
    // vertices, normals: [H*W*3] in the reference camera frame, NaN invalid; intensity: [H*W] 0..255,
    // NaN invalid. Coarser levels: 2x2 means (NaN if any is invalid), normals renormalised;
    // intensity Gaussian-downsampled.
    void SetReference(const core::Buffer<float>& vertices, const core::Buffer<float>& normals,
                      const core::Buffer<float>& intensity);
    // Frame-to-frame mode: the current frame's own maps become the reference; the current frame must
    // be set again before the next Track.
    void SwapCurrentToReference();

    TrackResult Track(const core::Rigid3f& T_ref_cur_init);

    // The two reduced systems (kernel::kSystemSize values each) at one level for a given pose, with
    // the photometric weight's sigma given (test entry point); rgb_sigma < 0 measures it as the RMS
    // photometric residual at T_ref_cur. Both come from one pass; icp and rgb must not be null.
    void Linearise(int level, const core::Rigid3f& T_ref_cur, float rgb_sigma, double* icp, double* rgb);

    int width(int level) const { return width_ >> level; }
    int height(int level) const { return height_ >> level; }
    const core::Device& device() const { return device_; }

    struct Level {
        core::Buffer<float> depth, vertices, normals, intensity, dIdx, dIdy;
    };
    const Level& current(int level) const { return current_[level]; }
    const Level& reference(int level) const { return reference_[level]; }

private:
    void CheckLevel(int level) const;

    core::Device device_;
    int width_, height_;
    core::PinholeIntrinsics intrinsics_;
    OdometryParams params_;
    std::array<Level, kLevels> current_, reference_;  // the reference uses vertices, normals, intensity
    bool has_current_ = false, has_reference_ = false;
    double valid_current_ = 0;  // valid level-0 current pixels (vertex and normal)
};

}  // namespace odometry
}  // namespace semslam
