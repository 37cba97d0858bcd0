// The recursive Bayesian label update of the surfel map (SemanticFusion, McCormac et al. ICRA
// 2017): a segmentation's per-pixel class probabilities, fused into every surfel visible from the
// pose of the frame it was computed on. Body and its stability argument: kernel/LabelFusionImpl.h.
#pragma once

#include <cstdint>

#include "semslam/core/Buffer.h"
#include "semslam/core/Camera.h"
#include "semslam/core/Math.h"
#include "semslam/map/SurfelMap.h"

namespace semslam {
namespace semantics {

struct LabelUpdateStats {
    int64_t visible = 0;   // surfels that won a sub-pixel of the fine index map at the frame's pose
    int64_t updated = 0;   // of those, updated (once each)
    int64_t rejected = 0;  // visible, but their pixel's probabilities were invalid or zero on every class held
};

// probs: [height * width * num_classes] class probabilities of frame k (float32, or float16 bits
// as uint16_t), on the map's device, row-major (y, x, class); any non-negative scale per pixel
// (each pixel is normalised). T_world_cam, intrinsics, width x height: frame k's camera. time: the
// clock of frame k (surfels updated within the map's time_window of it are rendered).
// probability_floor in [0, 1 / num_classes): no class falls below it before renormalisation.
// Renders the map's fine index map at T_world_cam (it stays in map.prediction()).
LabelUpdateStats UpdateLabels(map::SurfelMap& map, const core::Buffer<float>& probs, const core::Rigid3f& T_world_cam,
                              const core::PinholeIntrinsics& intrinsics, int width, int height, int time,
                              float probability_floor);
LabelUpdateStats UpdateLabels(map::SurfelMap& map, const core::Buffer<uint16_t>& probs,
                              const core::Rigid3f& T_world_cam, const core::PinholeIntrinsics& intrinsics, int width,
                              int height, int time, float probability_floor);
// The same from memory the caller owns on the map's device (exactly one of probs_f32 / probs_f16
// non-null, height * width * num_classes values; host memory when the map is on the CPU): a
// segmentation a network left on the GPU is fused without a round trip through the host. The caller guarantees size, device and that the
// values are ready (its stream synchronised).
LabelUpdateStats UpdateLabelsFromDevice(map::SurfelMap& map, const float* probs_f32, const uint16_t* probs_f16,
                                        const core::Rigid3f& T_world_cam, const core::PinholeIntrinsics& intrinsics,
                                        int width, int height, int time, float probability_floor);

}  // namespace semantics
}  // namespace semslam
