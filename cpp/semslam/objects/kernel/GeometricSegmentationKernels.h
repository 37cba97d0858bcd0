// Device-specific entry points of the geometric segmentation kernels (bodies in
// GeometricSegmentationImpl.h). Raw pointers to memory on the device named; sizes as in
// GeometricSegmentation.h.
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"
#include "semslam/objects/GeometricSegmentation.h"

namespace semslam {
namespace objects {
namespace kernel {

#define SEMSLAM_DECLARE_GEOMETRIC_SEGMENTATION(suffix)                                                         \
    void GeometricEdges##suffix(const core::Device& device, const float* vertices, const float* normals,      \
                                float* edgeness, uint8_t* edges, int width, int height,                       \
                                GeometricEdgeParams params);                                                  \
    void ComponentsInit##suffix(const core::Device& device, const uint8_t* edges, int32_t* labels, int width,  \
                                int height);                                                                  \
    void ComponentsStep##suffix(const core::Device& device, const uint8_t* edges, const int32_t* labels_in,   \
                                int32_t* labels_out, int32_t* changed, int width, int height);

SEMSLAM_DECLARE_GEOMETRIC_SEGMENTATION(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_GEOMETRIC_SEGMENTATION(CUDA)
#endif
#undef SEMSLAM_DECLARE_GEOMETRIC_SEGMENTATION

}  // namespace kernel
}  // namespace objects
}  // namespace semslam
