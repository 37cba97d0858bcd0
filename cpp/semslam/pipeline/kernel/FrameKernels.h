// Device-specific entry points of the per-frame helper kernels (bodies in FrameImpl.h).
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"

namespace semslam {
namespace pipeline {
namespace kernel {

#define SEMSLAM_DECLARE_FRAME_KERNELS(suffix)                                                                 \
    int64_t SanitiseDepth##suffix(const core::Device& device, float* depth, int64_t n);                       \
    int64_t CountValidPoints##suffix(const core::Device& device, const float* points, int64_t n);             \
    void FillIn##suffix(const core::Device& device, const float* pred_vertices, const float* pred_normals,   \
                        const float* pred_intensity, const float* last_vertices, const float* last_normals,   \
                        const uint8_t* last_rgb, float intensity_scale, float* out_vertices,                  \
                        float* out_normals, float* out_intensity, int64_t n);

SEMSLAM_DECLARE_FRAME_KERNELS(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_FRAME_KERNELS(CUDA)
#endif
#undef SEMSLAM_DECLARE_FRAME_KERNELS

}  // namespace kernel
}  // namespace pipeline
}  // namespace semslam
