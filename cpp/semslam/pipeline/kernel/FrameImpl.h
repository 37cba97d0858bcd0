// Kernel bodies of the per-frame helpers, written once for CPU (FrameCPU.cpp) and CUDA (FrameCUDA.cu).
#pragma once

#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/core/Reduce.h"
#include "semslam/pipeline/kernel/FrameKernels.h"

namespace semslam {
namespace pipeline {
namespace kernel {

// NaN, inf and negative readings become 0 (no reading); returns how many were replaced.
int64_t SEMSLAM_KERNEL(SanitiseDepth)(const core::Device& device, float* depth, int64_t n) {
    double count = 0.0;
    core::ReduceSum<1>(device, n, SEMSLAM_LAMBDA(int64_t i, float* row)->bool {
        const float d = depth[i];
        if (core::IsFinite(d) && d >= 0.0f) return false;
        depth[i] = 0.0f;
        row[0] = 1.0f;
        return true;
    }, &count);
    return static_cast<int64_t>(count);
}

// Points [n*3] whose z is finite.
int64_t SEMSLAM_KERNEL(CountValidPoints)(const core::Device& device, const float* points, int64_t n) {
    return core::CountIf(device, n, SEMSLAM_LAMBDA(int64_t i)->bool {
        return core::IsFiniteNoBranch(points[3 * i + 2]);
    });
}

// ElasticFusion's FillIn: where the prediction has no surfel, take the last tracked frame's
// vertex, normal and intensity (same camera: the prediction is rendered at that frame's pose).
void SEMSLAM_KERNEL(FillIn)(const core::Device& device, const float* pred_vertices, const float* pred_normals,
                            const float* pred_intensity, const float* last_vertices, const float* last_normals,
                            const uint8_t* last_rgb, float intensity_scale, float* out_vertices, float* out_normals,
                            float* out_intensity, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        const bool hole = !core::IsFinite(pred_vertices[3 * i + 2]);
        const float* v = hole ? last_vertices : pred_vertices;
        const float* nrm = hole ? last_normals : pred_normals;
        for (int k = 0; k < 3; ++k) {
            out_vertices[3 * i + k] = v[3 * i + k];
            out_normals[3 * i + k] = nrm[3 * i + k];
        }
        out_intensity[i] = hole ? intensity_scale * (0.299f * last_rgb[3 * i] + 0.587f * last_rgb[3 * i + 1] +
                                                     0.114f * last_rgb[3 * i + 2])
                                : pred_intensity[i];
    });
}

}  // namespace kernel
}  // namespace pipeline
}  // namespace semslam
