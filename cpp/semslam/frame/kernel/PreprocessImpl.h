// Kernel bodies of depth preprocessing, written once. Included by PreprocessCPU.cpp (OpenMP)
// and PreprocessCUDA.cu (CUDA); SEMSLAM_KERNEL names each entry point for its device.
#pragma once

#include <cmath>

#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/frame/kernel/PreprocessKernels.h"

namespace semslam {
namespace frame {
namespace kernel {

using core::Vec3f;

void SEMSLAM_KERNEL(BilateralFilter)(const core::Device& device, const float* depth_in, float* depth_out,
                                     int width, int height, BilateralParams params) {
    const float inv_2ss = 0.5f / (params.sigma_space * params.sigma_space);
    const float inv_2sd = 0.5f / (params.sigma_depth * params.sigma_depth);
    const int r = params.radius;
    const float dmin = params.depth_min, dmax = params.depth_max;
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        const float centre = depth_in[i];
        if (!(centre >= dmin && centre <= dmax)) {  // also rejects NaN
            depth_out[i] = 0.0f;
            return;
        }
        float sum = 0.0f, weight_sum = 0.0f;
        const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r >= height ? height - 1 : y + r;
        const int x0 = x - r < 0 ? 0 : x - r, x1 = x + r >= width ? width - 1 : x + r;
        for (int v = y0; v <= y1; ++v) {
            for (int u = x0; u <= x1; ++u) {
                const float d = depth_in[static_cast<int64_t>(v) * width + u];
                if (!(d >= dmin && d <= dmax)) continue;
                const float space2 = static_cast<float>((u - x) * (u - x) + (v - y) * (v - y));
                const float diff = d - centre;
                const float w = expf(-(space2 * inv_2ss + diff * diff * inv_2sd));
                sum += d * w;
                weight_sum += w;
            }
        }
        depth_out[i] = sum / weight_sum;  // weight_sum >= 1: the centre itself counts
    });
}

void SEMSLAM_KERNEL(ComputeVertexMap)(const core::Device& device, const float* depth, float* vertices, int width,
                                      int height, PinholeIntrinsics K) {
    const float inv_fx = 1.0f / K.fx, inv_fy = 1.0f / K.fy;
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        const float z = depth[i];
        Vec3f v;
        if (z > 0.0f && core::IsFinite(z)) {
            v = {(static_cast<float>(x) - K.cx) * z * inv_fx, (static_cast<float>(y) - K.cy) * z * inv_fy, z};
        } else {
            const float nan = core::QuietNaN();
            v = {nan, nan, nan};
        }
        core::Store3(vertices + 3 * i, v);
    });
}

void SEMSLAM_KERNEL(ComputeNormalMap)(const core::Device& device, const float* vertices, float* normals, int width,
                                      int height) {
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        const float nan = core::QuietNaN();
        Vec3f n = {nan, nan, nan};
        if (x > 0 && y > 0 && x < width - 1 && y < height - 1) {
            const Vec3f left = core::Load3(vertices + 3 * (i - 1));
            const Vec3f right = core::Load3(vertices + 3 * (i + 1));
            const Vec3f up = core::Load3(vertices + 3 * (i - width));
            const Vec3f down = core::Load3(vertices + 3 * (i + width));
            if (core::IsFinite(left) && core::IsFinite(right) && core::IsFinite(up) && core::IsFinite(down)) {
                // cross(dy, dx) points towards the camera for a surface seen from the front
                const Vec3f c = core::Cross(down - up, right - left);
                const float len = core::Norm(c);
                if (len > 0.0f) n = (1.0f / len) * c;
            }
        }
        core::Store3(normals + 3 * i, n);
    });
}

}  // namespace kernel
}  // namespace frame
}  // namespace semslam
