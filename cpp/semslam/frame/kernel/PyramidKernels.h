// Device-specific entry points of the pyramid kernels (bodies in PyramidImpl.h). Raw pointers to
// memory on the device named; sizes as in Pyramid.h (width, height: the source image).
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"

namespace semslam {
namespace frame {
namespace kernel {

#define SEMSLAM_DECLARE_PYRAMID(suffix)                                                                       \
    void PyrDownDepth##suffix(const core::Device& device, const float* depth_in, float* depth_out, int width, \
                              int height, float sigma_depth);                                                 \
    void RgbToIntensity##suffix(const core::Device& device, const uint8_t* rgb, float* intensity, int width,  \
                                int height);                                                                  \
    void PyrDownIntensity##suffix(const core::Device& device, const float* intensity_in, float* intensity_out,\
                                  int width, int height);                                                     \
    void IntensityGradients##suffix(const core::Device& device, const float* intensity, float* dIdx,          \
                                    float* dIdy, int width, int height);                                      \
    void PyrDownPoints##suffix(const core::Device& device, const float* points_in, float* points_out,         \
                               int width, int height, bool normalise);

SEMSLAM_DECLARE_PYRAMID(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_PYRAMID(CUDA)
#endif
#undef SEMSLAM_DECLARE_PYRAMID

}  // namespace kernel
}  // namespace frame
}  // namespace semslam
