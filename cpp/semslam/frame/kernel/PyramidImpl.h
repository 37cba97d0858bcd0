// Kernel bodies of the image pyramids, written once. Included by PyramidCPU.cpp (OpenMP) and
// PyramidCUDA.cu (CUDA); SEMSLAM_KERNEL names each entry point for its device.
#pragma once

#include <cmath>
#include <cstdint>

#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/frame/kernel/PyramidKernels.h"

namespace semslam {
namespace frame {
namespace kernel {

using core::Vec3f;

// The 1D binomial filter (1 4 6 4 1)/16; its outer product is the 5x5 Gaussian of the pyramids.
SEMSLAM_HOST_DEVICE inline float Binomial5(int offset) {
    return offset == 0 ? 0.375f : (offset == 1 || offset == -1) ? 0.25f : 0.0625f;
}

void SEMSLAM_KERNEL(PyrDownDepth)(const core::Device& device, const float* depth_in, float* depth_out, int width,
                                  int height, float sigma_depth) {
    const int out_w = width / 2, out_h = height / 2;
    const float gate = 3.0f * sigma_depth;
    core::ParallelFor(device, static_cast<int64_t>(out_w) * out_h, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % out_w), y = static_cast<int>(i / out_w);
        const int sx = 2 * x, sy = 2 * y;
        const float centre = depth_in[static_cast<int64_t>(sy) * width + sx];
        if (!(centre > 0.0f) || !core::IsFinite(centre)) {
            depth_out[i] = 0.0f;
            return;
        }
        float sum = 0.0f, weight_sum = 0.0f;
        for (int dy = -2; dy <= 2; ++dy) {
            const int v = sy + dy;
            if (v < 0 || v >= height) continue;
            for (int dx = -2; dx <= 2; ++dx) {
                const int u = sx + dx;
                if (u < 0 || u >= width) continue;
                const float d = depth_in[static_cast<int64_t>(v) * width + u];
                if (!(d > 0.0f) || !core::IsFinite(d) || fabsf(d - centre) >= gate) continue;
                const float w = Binomial5(dx) * Binomial5(dy);
                sum += w * d;
                weight_sum += w;
            }
        }
        depth_out[i] = sum / weight_sum;  // the centre itself always counts
    });
}

void SEMSLAM_KERNEL(RgbToIntensity)(const core::Device& device, const uint8_t* rgb, float* intensity, int width,
                                    int height) {
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const uint8_t* p = rgb + 3 * i;
        intensity[i] = 0.299f * static_cast<float>(p[0]) + 0.587f * static_cast<float>(p[1]) +
                       0.114f * static_cast<float>(p[2]);
    });
}

void SEMSLAM_KERNEL(PyrDownIntensity)(const core::Device& device, const float* intensity_in, float* intensity_out,
                                      int width, int height) {
    const int out_w = width / 2, out_h = height / 2;
    core::ParallelFor(device, static_cast<int64_t>(out_w) * out_h, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % out_w), y = static_cast<int>(i / out_w);
        const int sx = 2 * x, sy = 2 * y;
        float sum = 0.0f, weight_sum = 0.0f;
        for (int dy = -2; dy <= 2; ++dy) {
            const int v = sy + dy;
            if (v < 0 || v >= height) continue;
            for (int dx = -2; dx <= 2; ++dx) {
                const int u = sx + dx;
                if (u < 0 || u >= width) continue;
                const float value = intensity_in[static_cast<int64_t>(v) * width + u];
                if (!core::IsFinite(value)) continue;
                const float w = Binomial5(dx) * Binomial5(dy);
                sum += w * value;
                weight_sum += w;
            }
        }
        intensity_out[i] = weight_sum > 0.0f ? sum / weight_sum : core::QuietNaN();
    });
}

void SEMSLAM_KERNEL(IntensityGradients)(const core::Device& device, const float* intensity, float* dIdx, float* dIdy,
                                        int width, int height) {
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        float gx = core::QuietNaN(), gy = core::QuietNaN();
        if (x > 0 && y > 0 && x < width - 1 && y < height - 1) {
            float p[3][3];
            bool valid = true;
            for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                    p[dy + 1][dx + 1] = intensity[i + static_cast<int64_t>(dy) * width + dx];
                    valid = valid && core::IsFinite(p[dy + 1][dx + 1]);
                }
            if (valid) {
                // Sobel: [1 2 1] smoothing across, central difference (2 px) along: 8 x the slope
                gx = 0.125f * ((p[0][2] - p[0][0]) + 2.0f * (p[1][2] - p[1][0]) + (p[2][2] - p[2][0]));
                gy = 0.125f * ((p[2][0] - p[0][0]) + 2.0f * (p[2][1] - p[0][1]) + (p[2][2] - p[0][2]));
            }
        }
        dIdx[i] = gx;
        dIdy[i] = gy;
    });
}

void SEMSLAM_KERNEL(PyrDownPoints)(const core::Device& device, const float* points_in, float* points_out, int width,
                                   int height, bool normalise) {
    const int out_w = width / 2, out_h = height / 2;
    (void)height;
    core::ParallelFor(device, static_cast<int64_t>(out_w) * out_h, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % out_w), y = static_cast<int>(i / out_w);
        const int64_t s = static_cast<int64_t>(2 * y) * width + 2 * x;
        const Vec3f a = core::Load3(points_in + 3 * s), b = core::Load3(points_in + 3 * (s + 1));
        const Vec3f c = core::Load3(points_in + 3 * (s + width)), d = core::Load3(points_in + 3 * (s + width + 1));
        const float nan = core::QuietNaN();
        Vec3f out = {nan, nan, nan};
        if (core::IsFinite(a) && core::IsFinite(b) && core::IsFinite(c) && core::IsFinite(d)) {
            out = 0.25f * (a + b + c + d);
            if (normalise) {
                const float len = core::Norm(out);
                out = len > 0.0f ? (1.0f / len) * out : Vec3f{nan, nan, nan};
            }
        }
        core::Store3(points_out + 3 * i, out);
    });
}

}  // namespace kernel
}  // namespace frame
}  // namespace semslam
