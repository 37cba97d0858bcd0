// The per-frame device work of the SLAM loop, every image resident on one device: a frame goes up
// once and is preprocessed there; the tracking reference is the map's prediction with its holes
// filled from the last tracked frame (ElasticFusion's FillIn); tracking and fusion read the same
// buffers. Only the frame's images go up, and poses and small results come down. Python's
// pipeline calls SetFrame, PredictReference, Track, Fuse in that order.
#pragma once

#include <cstdint>
#include <memory>

#include "semslam/core/Buffer.h"
#include "semslam/core/Camera.h"
#include "semslam/frame/Preprocess.h"
#include "semslam/map/SurfelMap.h"
#include "semslam/odometry/Odometry.h"

namespace semslam {
namespace pipeline {

struct FrameProcessorParams {
    frame::BilateralParams bilateral;
    float fill_in_min_density;  // prediction denser than this fraction of pixels: no fill-in
};

struct FrameStats {
    int64_t invalid_depth_values = 0;  // NaN, inf or negative readings replaced by 0
    int64_t valid_pixels = 0;          // pixels with a vertex after filtering
};

struct ReferenceStats {
    double predicted_fraction = 0;  // pixels holding a predicted surfel
    bool filled = false;            // holes were filled from the last tracked frame
};

class FrameProcessor {
public:
    FrameProcessor(const core::Device& device, int width, int height, const core::PinholeIntrinsics& intrinsics,
                   const FrameProcessorParams& params, const odometry::OdometryParams& odometry_params);

    // depth: [H*W] metres on the host (0 = no reading; NaN, inf, negative are counted and made 0);
    // rgb: [H*W*3] uint8 on the host. Filters, builds vertex/normal maps and the tracking pyramid.
    FrameStats SetFrame(const float* depth, const uint8_t* rgb);

    // Renders `map` at T_world_ref (the last tracked pose) as the tracking reference.
    ReferenceStats PredictReference(map::SurfelMap& map, const core::Rigid3f& T_world_ref, int time);

    // T_ref_cur of the current frame relative to the reference's camera.
    odometry::TrackResult Track(const core::Rigid3f& T_ref_cur_init);

    // Fuses the current frame at T_world_cam (positions from the raw depth, normals from the
    // filtered one) and keeps it as the last tracked frame for fill-in.
    map::FuseStats Fuse(map::SurfelMap& map, const core::Rigid3f& T_world_cam, int time);

    const core::Device& device() const { return device_; }

private:
    core::Device device_;
    int width_, height_;
    core::PinholeIntrinsics intrinsics_;
    FrameProcessorParams params_;
    std::unique_ptr<odometry::RGBDOdometry> odometry_;
    // the current frame
    core::Buffer<float> depth_, depth_filtered_, vertices_raw_;  // filtered vertices/normals: the odometry's level 0
    core::Buffer<uint8_t> rgb_;
    // the last tracked (fused) frame, for fill-in: its filtered depth and colour; its vertex and
    // normal maps are computed from them when a fill-in needs them
    core::Buffer<float> last_depth_filtered_, last_vertices_, last_normals_;
    core::Buffer<uint8_t> last_rgb_;
    bool has_last_ = false;
    // the tracking reference when filled in
    core::Buffer<float> ref_vertices_, ref_normals_, ref_intensity_;
};

}  // namespace pipeline
}  // namespace semslam
