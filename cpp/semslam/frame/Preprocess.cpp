#include "semslam/frame/Preprocess.h"

#include <stdexcept>

#include "semslam/core/Dispatch.h"
#include "semslam/frame/kernel/PreprocessKernels.h"

namespace semslam {
namespace frame {

void BilateralFilter(const core::Buffer<float>& depth_in, core::Buffer<float>& depth_out, int width, int height,
                     const BilateralParams& params) {
    const size_t n = static_cast<size_t>(width) * height;
    core::CheckBuffer(depth_in, n, depth_in.device(), "depth_in", "the bilateral filter");
    core::CheckBuffer(depth_out, n, depth_in.device(), "depth_out", "the bilateral filter");
    if (params.radius < 0 || !(params.sigma_space > 0) || !(params.sigma_depth > 0)) {
        throw std::invalid_argument("bilateral filter needs radius >= 0 and positive sigmas");
    }
    SEMSLAM_DISPATCH(depth_in.device(), BilateralFilter, depth_in.data(), depth_out.data(), width, height, params);
}

void ComputeVertexMap(const core::Buffer<float>& depth, core::Buffer<float>& vertices, int width, int height,
                      const PinholeIntrinsics& intrinsics) {
    const size_t n = static_cast<size_t>(width) * height;
    core::CheckBuffer(depth, n, depth.device(), "depth", "the vertex map");
    core::CheckBuffer(vertices, 3 * n, depth.device(), "vertices", "the vertex map");
    if (!(intrinsics.fx > 0) || !(intrinsics.fy > 0)) {
        throw std::invalid_argument("focal lengths must be positive");
    }
    SEMSLAM_DISPATCH(depth.device(), ComputeVertexMap, depth.data(), vertices.data(), width, height, intrinsics);
}

void ComputeNormalMap(const core::Buffer<float>& vertices, core::Buffer<float>& normals, int width, int height) {
    const size_t n = static_cast<size_t>(width) * height;
    core::CheckBuffer(vertices, 3 * n, vertices.device(), "vertices", "the normal map");
    core::CheckBuffer(normals, 3 * n, vertices.device(), "normals", "the normal map");
    SEMSLAM_DISPATCH(vertices.device(), ComputeNormalMap, vertices.data(), normals.data(), width, height);
}

}  // namespace frame
}  // namespace semslam
