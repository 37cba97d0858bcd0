// Kernel bodies of the geometric segmentation, written once. Included by
// GeometricSegmentationCPU.cpp (OpenMP) and GeometricSegmentationCUDA.cu (CUDA); SEMSLAM_KERNEL
// names each entry point for its device.
#pragma once

#include <cmath>
#include <cstdint>

#include "semslam/core/Atomic.h"
#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/objects/kernel/GeometricSegmentationKernels.h"

namespace semslam {
namespace objects {
namespace kernel {

using core::Vec3f;

void SEMSLAM_KERNEL(GeometricEdges)(const core::Device& device, const float* vertices, const float* normals,
                                    float* edgeness, uint8_t* edges, int width, int height,
                                    GeometricEdgeParams params) {
    const int r = params.radius;
    const float lambda = params.concavity_weight, threshold = params.threshold;
    core::ParallelFor2D(device, width, height, SEMSLAM_LAMBDA(int x, int y) {
        const int64_t i = static_cast<int64_t>(y) * width + x;
        const Vec3f v = core::Load3(vertices + 3 * i), n = core::Load3(normals + 3 * i);
        float value = INFINITY;
        if (core::IsFinite(v) && core::IsFinite(n) && x >= r && y >= r && x + r < width && y + r < height) {
            float phi_d = 0.0f, phi_c = 0.0f;
            bool valid = true;
            for (int dy = -r; dy <= r && valid; dy += r) {
                for (int dx = -r; dx <= r; dx += r) {
                    if (dx == 0 && dy == 0) continue;
                    const int64_t j = i + static_cast<int64_t>(dy) * width + dx;
                    const Vec3f vj = core::Load3(vertices + 3 * j), nj = core::Load3(normals + 3 * j);
                    if (!core::IsFinite(vj) || !core::IsFinite(nj)) {
                        valid = false;
                        break;
                    }
                    const float along = core::Dot(vj - v, n);
                    phi_d = fmaxf(phi_d, fabsf(along));
                    if (along >= 0.0f) phi_c = fmaxf(phi_c, 1.0f - core::Dot(nj, n));
                }
            }
            if (valid) value = phi_d + lambda * phi_c;
        }
        edgeness[i] = value;
        edges[i] = value > threshold ? 1 : 0;
    });
}

void SEMSLAM_KERNEL(ComponentsInit)(const core::Device& device, const uint8_t* edges, int32_t* labels, int width,
                                    int height) {
    core::ParallelFor2D(device, width, height, SEMSLAM_LAMBDA(int x, int y) {
        const int64_t i = static_cast<int64_t>(y) * width + x;
        labels[i] = edges[i] ? -1 : static_cast<int32_t>(i);
    });
}

// One step: each non-edge pixel takes the smallest label among itself and its 4 non-edge
// neighbours, then follows that label's own label twice (pointer jumping: a label is a pixel of
// the same component whose label is never larger). Reads labels_in only; counts the changes.
void SEMSLAM_KERNEL(ComponentsStep)(const core::Device& device, const uint8_t* edges, const int32_t* labels_in,
                                    int32_t* labels_out, int32_t* changed, int width, int height) {
    core::ParallelFor2D(device, width, height, SEMSLAM_LAMBDA(int x, int y) {
        const int64_t i = static_cast<int64_t>(y) * width + x;
        const int32_t own = labels_in[i];
        if (own < 0) {
            labels_out[i] = own;
            return;
        }
        int32_t best = own;
        if (x > 0 && !edges[i - 1]) best = labels_in[i - 1] < best ? labels_in[i - 1] : best;
        if (x + 1 < width && !edges[i + 1]) best = labels_in[i + 1] < best ? labels_in[i + 1] : best;
        if (y > 0 && !edges[i - width]) best = labels_in[i - width] < best ? labels_in[i - width] : best;
        if (y + 1 < height && !edges[i + width]) best = labels_in[i + width] < best ? labels_in[i + width] : best;
        best = labels_in[best];
        best = labels_in[best];
        labels_out[i] = best;
        if (best != own) core::AtomicAdd(changed, 1);
    });
}

}  // namespace kernel
}  // namespace objects
}  // namespace semslam
