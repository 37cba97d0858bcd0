// Kernel body of the recursive Bayesian label update (SemanticFusion, McCormac et al. ICRA 2017),
// written once for both devices and both table storages (float, half).
//
// For each surfel i that is visible in the fine index map just rendered at the segmented frame's
// pose (it won its sub-pixel: slots[i] names a key that still holds i), once:
//   q   <- the segmentation's class probabilities at the pixel of that sub-pixel (the pixel its
//          position projects to, as the render rounded it)
//   p_i <- normalise(max(normalise(p_i * q), floor))          (element-wise; floor renormalised)
//   label_i, confidence_i <- argmax of the stored p_i (ties: the smaller class) and its value
//
// Stability: q is first divided by its largest entry (normalise(p * q) = normalise(p * q / max q)),
// so the product at that class is p_c itself, at least floor / (1 + C floor) after any floored
// update: products cannot all underflow in float, and with floor > 0 no class dies. No log space
// is needed, since every update renormalises. A pixel whose probabilities are not finite or negative, or whose
// products with p are zero on every class (possible only with floor 0), leaves p as it is and is
// counted as rejected.
#pragma once

#include "semslam/core/Half.h"
#include "semslam/core/Math.h"
#include "semslam/core/Reduce.h"
#include "semslam/semantics/kernel/SemanticsKernels.h"

namespace semslam {
namespace semantics {
namespace kernel {

// Named per device (SEMSLAM_KERNEL): a template of plain types included in both translation units
// would otherwise be one symbol with two definitions.
template <typename Table, typename Input>
void SEMSLAM_KERNEL(UpdateLabelsBody)(const core::Device& device, map::SurfelArrays s, Table* table, int64_t n,
                      const uint64_t* fine_keys, const int32_t* slots, int fine_width, int index_scale,
                      const Input* probs, int width, float probability_floor, double* stats) {
    const int C = s.num_classes;
    core::ReduceAccumulate<3>(device, n, SEMSLAM_LAMBDA(int64_t i, float* acc) {
        const int32_t slot = slots[i];
        if (slot < 0 || map::KeyIndex(fine_keys[slot]) != static_cast<int32_t>(i)) return;
        acc[0] += 1.0f;
        const int32_t fine_y = slot / fine_width, fine_x = slot - fine_y * fine_width;
        const int64_t pixel = static_cast<int64_t>(fine_y / index_scale) * width + fine_x / index_scale;
        const Input* q = probs + pixel * C;
        Table* p = table + i * C;
        float q_max = 0.0f;
        bool valid = true;
        for (int c = 0; c < C; ++c) {
            const float v = core::LoadValue(q + c);
            valid = valid && core::IsFinite(v) && v >= 0.0f;
            q_max = v > q_max ? v : q_max;
        }
        if (!valid || !(q_max > 0.0f)) {
            acc[2] += 1.0f;
            return;
        }
        const float q_scale = 1.0f / q_max;
        float sum = 0.0f;
        for (int c = 0; c < C; ++c) sum += core::LoadValue(p + c) * (core::LoadValue(q + c) * q_scale);
        if (!(sum > 0.0f) || !core::IsFinite(sum)) {
            acc[2] += 1.0f;
            return;
        }
        const float inv_sum = 1.0f / sum;
        float floored_sum = 0.0f;
        for (int c = 0; c < C; ++c) {
            const float v = core::LoadValue(p + c) * (core::LoadValue(q + c) * q_scale) * inv_sum;
            floored_sum += v > probability_floor ? v : probability_floor;
        }
        const float inv_floored = 1.0f / floored_sum;
        int32_t label = -1;
        float best = -1.0f;
        for (int c = 0; c < C; ++c) {
            const float v = core::LoadValue(p + c) * (core::LoadValue(q + c) * q_scale) * inv_sum;
            core::StoreValue(p + c, (v > probability_floor ? v : probability_floor) * inv_floored);
            const float stored = core::LoadValue(p + c);  // the argmax of what the table holds
            if (stored > best) {
                best = stored;
                label = c;
            }
        }
        s.labels[i] = label;
        s.label_confidences[i] = label >= 0 ? best : 0.0f;
        acc[1] += 1.0f;
    }, stats);
}

void SEMSLAM_KERNEL(UpdateLabels)(const core::Device& device, map::SurfelArrays s, int64_t n,
                                  const uint64_t* fine_keys, const int32_t* slots, int fine_width, int index_scale,
                                  const float* probs_f32, const uint16_t* probs_f16, int width,
                                  float probability_floor, double* stats) {
    if (s.class_probs_f16 != nullptr && probs_f16 != nullptr) {
        SEMSLAM_KERNEL(UpdateLabelsBody)(device, s, s.class_probs_f16, n, fine_keys, slots, fine_width, index_scale,
                                         probs_f16, width, probability_floor, stats);
    } else if (s.class_probs_f16 != nullptr) {
        SEMSLAM_KERNEL(UpdateLabelsBody)(device, s, s.class_probs_f16, n, fine_keys, slots, fine_width, index_scale,
                                         probs_f32, width, probability_floor, stats);
    } else if (probs_f16 != nullptr) {
        SEMSLAM_KERNEL(UpdateLabelsBody)(device, s, s.class_probs, n, fine_keys, slots, fine_width, index_scale,
                                         probs_f16, width, probability_floor, stats);
    } else {
        SEMSLAM_KERNEL(UpdateLabelsBody)(device, s, s.class_probs, n, fine_keys, slots, fine_width, index_scale,
                                         probs_f32, width, probability_floor, stats);
    }
}

}  // namespace kernel
}  // namespace semantics
}  // namespace semslam
