#include "semslam/pipeline/FrameProcessor.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "semslam/core/Dispatch.h"
#include "semslam/pipeline/kernel/FrameKernels.h"

namespace semslam {
namespace pipeline {

FrameProcessor::FrameProcessor(const core::Device& device, int width, int height,
                               const core::PinholeIntrinsics& intrinsics, const FrameProcessorParams& params,
                               const odometry::OdometryParams& odometry_params)
    : device_(device), width_(width), height_(height), intrinsics_(intrinsics), params_(params) {
    core::CheckAvailable(device);
    if (width <= 0 || height <= 0) {
        throw std::invalid_argument("frame size must be positive, got " + std::to_string(width) + "x" +
                                    std::to_string(height));
    }
    odometry_ = std::make_unique<odometry::RGBDOdometry>(device, width, height, intrinsics, odometry_params);
    const size_t n = static_cast<size_t>(width) * height;
    depth_ = core::Buffer<float>(n, device);
    depth_filtered_ = core::Buffer<float>(n, device);
    vertices_raw_ = core::Buffer<float>(3 * n, device);
    rgb_ = core::Buffer<uint8_t>(3 * n, device);
    last_depth_filtered_ = core::Buffer<float>(n, device);
    last_vertices_ = core::Buffer<float>(3 * n, device);
    last_normals_ = core::Buffer<float>(3 * n, device);
    last_rgb_ = core::Buffer<uint8_t>(3 * n, device);
    ref_vertices_ = core::Buffer<float>(3 * n, device);
    ref_normals_ = core::Buffer<float>(3 * n, device);
    ref_intensity_ = core::Buffer<float>(n, device);
}

FrameStats FrameProcessor::SetFrame(const float* depth, const uint8_t* rgb) {
    const int64_t n = static_cast<int64_t>(width_) * height_;
    depth_.CopyFromHost(depth);
    rgb_.CopyFromHost(rgb);
    FrameStats stats;
    stats.invalid_depth_values = SEMSLAM_DISPATCH_VALUE(device_, SanitiseDepth, depth_.data(), n);
    frame::BilateralFilter(depth_, depth_filtered_, width_, height_, params_.bilateral);
    frame::ComputeVertexMap(depth_, vertices_raw_, width_, height_, intrinsics_);
    // The tracking pyramid's level 0 holds the filtered depth's vertex and normal maps: fusion reads
    // its normals from there (no second copy of the same maps).
    odometry_->SetCurrent(depth_filtered_, rgb_);
    stats.valid_pixels =
        SEMSLAM_DISPATCH_VALUE(device_, CountValidPoints, odometry_->current(0).vertices.data(), n);
    return stats;
}

ReferenceStats FrameProcessor::PredictReference(map::SurfelMap& map, const core::Rigid3f& T_world_ref, int time) {
    const int64_t n = static_cast<int64_t>(width_) * height_;
    map::Prediction& prediction = map.Predict(T_world_ref, intrinsics_, width_, height_, time);
    ReferenceStats stats;
    const int64_t predicted = SEMSLAM_DISPATCH_VALUE(device_, CountValidPoints, prediction.vertices.data(), n);
    stats.predicted_fraction = static_cast<double>(predicted) / static_cast<double>(n);
    if (!has_last_ || stats.predicted_fraction > params_.fill_in_min_density) {
        odometry_->SetReference(prediction.vertices, prediction.normals, prediction.intensity);
        return stats;
    }
    // the last tracked frame's maps, from its filtered depth (kept by Fuse)
    frame::ComputeVertexMap(last_depth_filtered_, last_vertices_, width_, height_, intrinsics_);
    frame::ComputeNormalMap(last_vertices_, last_normals_, width_, height_);
    SEMSLAM_DISPATCH(device_, FillIn, prediction.vertices.data(), prediction.normals.data(),
                     prediction.intensity.data(), last_vertices_.data(), last_normals_.data(), last_rgb_.data(),
                     map::kIntensityScale, ref_vertices_.data(), ref_normals_.data(), ref_intensity_.data(), n);
    odometry_->SetReference(ref_vertices_, ref_normals_, ref_intensity_);
    stats.filled = true;
    return stats;
}

odometry::TrackResult FrameProcessor::Track(const core::Rigid3f& T_ref_cur_init) {
    return odometry_->Track(T_ref_cur_init);
}

map::FuseStats FrameProcessor::Fuse(map::SurfelMap& map, const core::Rigid3f& T_world_cam, int time) {
    const map::FuseStats stats = map.Fuse(vertices_raw_, odometry_->current(0).normals, rgb_, T_world_cam,
                                          intrinsics_, width_, height_, time);
    // This frame becomes the last tracked one: its filtered depth and colour change places with the
    // buffers the next SetFrame overwrites (no copies).
    std::swap(depth_filtered_, last_depth_filtered_);
    std::swap(rgb_, last_rgb_);
    has_last_ = true;
    return stats;
}

}  // namespace pipeline
}  // namespace semslam
