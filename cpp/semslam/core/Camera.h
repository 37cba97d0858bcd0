// Pinhole camera model: x right, y down, z forward (OpenCV/TUM); pixel centres at integers.
#pragma once

#include "semslam/core/Math.h"

namespace semslam {
namespace core {

struct PinholeIntrinsics {
    float fx, fy, cx, cy;  // pixels

    // Intrinsics of the image downsampled by 2^level (pixel centres kept consistent).
    SEMSLAM_HOST_DEVICE PinholeIntrinsics Scaled(float factor) const {
        return {fx * factor, fy * factor, (cx + 0.5f) * factor - 0.5f, (cy + 0.5f) * factor - 0.5f};
    }
    // Camera-frame point of pixel (u, v) at depth z (metres).
    SEMSLAM_HOST_DEVICE Vec3f Unproject(float u, float v, float z) const {
        return {(u - cx) * z / fx, (v - cy) * z / fy, z};
    }
    // Continuous pixel coordinates of a camera-frame point (z > 0 assumed).
    SEMSLAM_HOST_DEVICE void Project(const Vec3f& p, float* u, float* v) const {
        *u = fx * p.x / p.z + cx;
        *v = fy * p.y / p.z + cy;
    }
};

}  // namespace core
}  // namespace semslam
