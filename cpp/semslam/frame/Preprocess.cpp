#include "semslam/frame/Preprocess.h"

#include <stdexcept>
#include <string>

#include "semslam/core/Dispatch.h"
#include "semslam/frame/kernel/PreprocessKernels.h"

namespace semslam {
namespace frame {

namespace {

void CheckSize(const core::Buffer<float>& buffer, size_t expected, const char* what) {
    if (buffer.size() != expected) {
        throw std::invalid_argument(std::string(what) + " holds " + std::to_string(buffer.size()) +
                                    " values, expected " + std::to_string(expected));
    }
}

void CheckSameDevice(const core::Buffer<float>& a, const core::Buffer<float>& b) {
    if (a.device() != b.device()) {
        throw std::invalid_argument("buffers on different devices: " + a.device().ToString() + " and " +
                                    b.device().ToString());
    }
}

}  // namespace


void BilateralFilter(const core::Buffer<float>& depth_in, core::Buffer<float>& depth_out, int width, int height,
                     const BilateralParams& params) {
    const size_t n = static_cast<size_t>(width) * height;
    CheckSize(depth_in, n, "depth_in");
    CheckSize(depth_out, n, "depth_out");
    CheckSameDevice(depth_in, depth_out);
    if (params.radius < 0 || !(params.sigma_space > 0) || !(params.sigma_depth > 0)) {
        throw std::invalid_argument("bilateral filter needs radius >= 0 and positive sigmas");
    }
    SEMSLAM_DISPATCH(depth_in.device(), BilateralFilter, depth_in.data(), depth_out.data(), width, height, params);
}

void ComputeVertexMap(const core::Buffer<float>& depth, core::Buffer<float>& vertices, int width, int height,
                      const PinholeIntrinsics& intrinsics) {
    const size_t n = static_cast<size_t>(width) * height;
    CheckSize(depth, n, "depth");
    CheckSize(vertices, 3 * n, "vertices");
    CheckSameDevice(depth, vertices);
    if (!(intrinsics.fx > 0) || !(intrinsics.fy > 0)) {
        throw std::invalid_argument("focal lengths must be positive");
    }
    SEMSLAM_DISPATCH(depth.device(), ComputeVertexMap, depth.data(), vertices.data(), width, height, intrinsics);
}

void ComputeNormalMap(const core::Buffer<float>& vertices, core::Buffer<float>& normals, int width, int height) {
    const size_t n = static_cast<size_t>(width) * height;
    CheckSize(vertices, 3 * n, "vertices");
    CheckSize(normals, 3 * n, "normals");
    CheckSameDevice(vertices, normals);
    SEMSLAM_DISPATCH(vertices.device(), ComputeNormalMap, vertices.data(), normals.data(), width, height);
}

}  // namespace frame
}  // namespace semslam
