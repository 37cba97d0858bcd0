#include "semslam/semantics/LabelFusion.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "semslam/core/Dispatch.h"
#include "semslam/semantics/kernel/SemanticsKernels.h"

namespace semslam {
namespace semantics {

namespace {

void CheckSize(const map::SurfelMap& map, int width, int height) {
    if (map.num_classes() <= 0) throw std::invalid_argument("the surfel map holds no class probabilities (num_classes is 0)");
    if (width <= 0 || height <= 0) throw std::invalid_argument("image size must be positive");
}

template <typename T>
void CheckProbs(const map::SurfelMap& map, const core::Buffer<T>& probs, int width, int height) {
    CheckSize(map, width, height);
    const size_t expected = static_cast<size_t>(width) * height * map.num_classes();
    core::CheckBuffer(probs, expected, map.device(), "class probabilities", "the surfel map");
}

LabelUpdateStats Update(map::SurfelMap& map, const float* probs_f32, const uint16_t* probs_f16,
                        const core::Rigid3f& T_world_cam, const core::PinholeIntrinsics& intrinsics, int width,
                        int height, int time, float probability_floor) {
    const int C = map.num_classes();
    if (!(probability_floor >= 0.0f) || !(probability_floor * C < 1.0f)) {
        throw std::invalid_argument("probability_floor must be in [0, 1 / num_classes) = [0, " +
                                    std::to_string(1.0 / C) + "), got " + std::to_string(probability_floor));
    }
    map.RenderIndexMap(T_world_cam, intrinsics, width, height, time);
    const map::Prediction& p = map.prediction();
    double stats[3];
    SEMSLAM_DISPATCH(map.device(), UpdateLabels, map.Arrays(), map.fine_rendered(), p.fine_keys.data(),
                     map.fine_slots().data(), p.fine_width, map.params().index_scale, probs_f32, probs_f16, width,
                     probability_floor, stats);
    LabelUpdateStats out;
    out.visible = static_cast<int64_t>(stats[0]);
    out.updated = static_cast<int64_t>(stats[1]);
    out.rejected = static_cast<int64_t>(stats[2]);
    return out;
}

}  // namespace

LabelUpdateStats UpdateLabels(map::SurfelMap& map, const core::Buffer<float>& probs, const core::Rigid3f& T_world_cam,
                              const core::PinholeIntrinsics& intrinsics, int width, int height, int time,
                              float probability_floor) {
    CheckProbs(map, probs, width, height);
    return Update(map, probs.data(), nullptr, T_world_cam, intrinsics, width, height, time, probability_floor);
}

LabelUpdateStats UpdateLabels(map::SurfelMap& map, const core::Buffer<uint16_t>& probs,
                              const core::Rigid3f& T_world_cam, const core::PinholeIntrinsics& intrinsics, int width,
                              int height, int time, float probability_floor) {
    CheckProbs(map, probs, width, height);
    return Update(map, nullptr, probs.data(), T_world_cam, intrinsics, width, height, time, probability_floor);
}

LabelUpdateStats UpdateLabelsFromDevice(map::SurfelMap& map, const float* probs_f32, const uint16_t* probs_f16,
                                        const core::Rigid3f& T_world_cam, const core::PinholeIntrinsics& intrinsics,
                                        int width, int height, int time, float probability_floor) {
    CheckSize(map, width, height);
    if ((probs_f32 == nullptr) == (probs_f16 == nullptr)) {
        throw std::invalid_argument("UpdateLabelsFromDevice: give exactly one of float32 and float16 probabilities");
    }
    return Update(map, probs_f32, probs_f16, T_world_cam, intrinsics, width, height, time, probability_floor);
}

}  // namespace semantics
}  // namespace semslam
