// Geometric segmentation of a depth frame (Tateno et al. ICRA 2016, as MaskFusion uses it):
// per-pixel edgeness from the vertex and normal maps, thresholded into edges, and the connected
// components of the non-edge pixels as segments. Images are row-major; every buffer of a call
// lives on one device.
#pragma once

#include <cstdint>

#include "semslam/core/Buffer.h"

namespace semslam {
namespace objects {

struct GeometricEdgeParams {
    float threshold;         // an edge where phi_d + concavity_weight * phi_c > threshold (phi_d in metres)
    float concavity_weight;  // lambda: weight of the concavity term (unitless, 1 - cos of the normals' angle)
    int radius;              // px; the 8 neighbours at offsets {-radius, 0, radius}^2
};

// vertices, normals: [H*W*3] camera frame, NaN invalid -> edgeness [H*W] float, edges [H*W] uint8.
// For pixel u with point v and normal n and each neighbour i (v_i, n_i):
//   phi_d = max_i |(v_i - v) . n|                                    (depth discontinuity)
//   phi_c = max_i { 0 if (v_i - v) . n < 0 (convex), else 1 - n_i . n } (concavity)
// edgeness = phi_d + concavity_weight * phi_c; +inf where u or any neighbour is invalid or outside
// the image. edges = edgeness > threshold.
void GeometricEdges(const core::Buffer<float>& vertices, const core::Buffer<float>& normals,
                    core::Buffer<float>& edgeness, core::Buffer<uint8_t>& edges, int width, int height,
                    const GeometricEdgeParams& params);

// edges [H*W] uint8 (non-zero = edge) -> labels [H*W] int32: for every non-edge pixel the smallest
// row-major index of its 4-connected component of non-edge pixels; -1 on edges. Min-label
// propagation with pointer jumping, double-buffered (each step reads only the previous one), so
// the result is the same on every device and thread count. Returns the number of steps taken.
int ConnectedComponents(const core::Buffer<uint8_t>& edges, core::Buffer<int32_t>& labels, int width, int height);

}  // namespace objects
}  // namespace semslam
