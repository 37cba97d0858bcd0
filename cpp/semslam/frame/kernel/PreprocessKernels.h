// Device-specific entry points of the preprocessing kernels (bodies in PreprocessImpl.h).
// Raw pointers to memory on the device named; sizes as in Preprocess.h.
#pragma once

#include "semslam/core/Device.h"
#include "semslam/frame/Preprocess.h"

namespace semslam {
namespace frame {
namespace kernel {

#define SEMSLAM_DECLARE_PREPROCESS(suffix)                                                                  \
    void BilateralFilter##suffix(const core::Device& device, const float* depth_in, float* depth_out,      \
                                 int width, int height, BilateralParams params);                           \
    void ComputeVertexMap##suffix(const core::Device& device, const float* depth, float* vertices,         \
                                  int width, int height, PinholeIntrinsics intrinsics);                     \
    void ComputeNormalMap##suffix(const core::Device& device, const float* vertices, float* normals,       \
                                  int width, int height);

SEMSLAM_DECLARE_PREPROCESS(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_PREPROCESS(CUDA)
#endif
#undef SEMSLAM_DECLARE_PREPROCESS

}  // namespace kernel
}  // namespace frame
}  // namespace semslam
