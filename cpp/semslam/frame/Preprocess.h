// Depth preprocessing: ElasticFusion's bilateral filter, vertex maps and normal maps.
// Images are row-major, width x height; every buffer lives on the same device.
#pragma once

#include "semslam/core/Buffer.h"
#include "semslam/core/Camera.h"

namespace semslam {
namespace frame {

struct BilateralParams {
    int radius;           // pixels; the window is (2 radius + 1)^2
    float sigma_space;    // pixels
    float sigma_depth;    // metres
    float depth_min;      // metres; readings outside [depth_min, depth_max] are invalid
    float depth_max;
};

using core::PinholeIntrinsics;

// depth_in, depth_out: [H*W] metres, 0 = invalid. Invalid centres stay 0; invalid neighbours
// take no part in the weighted mean.
void BilateralFilter(const core::Buffer<float>& depth_in, core::Buffer<float>& depth_out, int width, int height,
                     const BilateralParams& params);

// depth: [H*W] metres -> vertices: [H*W*3] camera-frame metres (x right, y down, z forward);
// NaN where the depth is 0 or not finite.
void ComputeVertexMap(const core::Buffer<float>& depth, core::Buffer<float>& vertices, int width, int height,
                      const PinholeIntrinsics& intrinsics);

// vertices: [H*W*3] -> normals: [H*W*3] unit, from central differences, facing the camera for
// a surface seen from the front; NaN at the border and where a neighbour is invalid.
void ComputeNormalMap(const core::Buffer<float>& vertices, core::Buffer<float>& normals, int width, int height);

}  // namespace frame
}  // namespace semslam
