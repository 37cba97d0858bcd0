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

// Sums w(dx) w(dy) value over the 5x5 window around source pixel (sx, sy) for the values `take`
// accepts: into *sum and *weight_sum, in the order dy, dx. This form tests each tap against the
// image bounds; Binomial5x5Interior below is the one for windows inside the image.
template <typename Take>
SEMSLAM_HOST_DEVICE inline void Binomial5x5(const float* in, int width, int height, int sx, int sy, const Take& take,
                                            float* sum, float* weight_sum) {
    float s = 0.0f, ws = 0.0f;
    for (int dy = -2; dy <= 2; ++dy) {
        const int v = sy + dy;
        if (v < 0 || v >= height) continue;
        for (int dx = -2; dx <= 2; ++dx) {
            const int u = sx + dx;
            if (u < 0 || u >= width) continue;
            const float value = in[static_cast<int64_t>(v) * width + u];
            if (!take(value)) continue;
            const float w = Binomial5(dx) * Binomial5(dy);
            s += w * value;
            ws += w;
        }
    }
    *sum = s;
    *weight_sum = ws;
}

// Binomial5x5 for a window inside the image, without branches: a tap that `take` rejects adds
// 0 * 0 (the value is replaced too, so that NaN or inf do not turn the product into NaN), which
// leaves the sums exactly as skipping it would. The fixed trip counts unroll, and a loop over
// output pixels calling it vectorises (ParallelFor2DInterior). `take` must be branch-free too.
template <typename Take>
SEMSLAM_HOST_DEVICE inline void Binomial5x5Interior(const float* in, int width, int sx, int sy, const Take& take,
                                                    float* sum, float* weight_sum) {
    float s = 0.0f, ws = 0.0f;
    SEMSLAM_UNROLL
    for (int dy = -2; dy <= 2; ++dy) {
        const float* row = in + static_cast<int64_t>(sy + dy) * width + sx;
        const float wy = Binomial5(dy);
        SEMSLAM_UNROLL
        for (int dx = -2; dx <= 2; ++dx) {
            const float value = row[dx];
            const bool t = take(value);
            const float w = t ? Binomial5(dx) * wy : 0.0f;
            s += w * (t ? value : 0.0f);
            ws += w;
        }
    }
    *sum = s;
    *weight_sum = ws;
}

// The output pixels of a pyrDown from `width` x `height` whose 5x5 window around (2x, 2y) lies
// inside the source: [1, (width - 1) / 2) along x, the same along y.
SEMSLAM_HOST_DEVICE inline int PyrDownInteriorEnd(int size) { return (size - 1) / 2; }

void SEMSLAM_KERNEL(PyrDownDepth)(const core::Device& device, const float* depth_in, float* depth_out, int width,
                                  int height, float sigma_depth) {
    const int out_w = width / 2, out_h = height / 2;
    const float gate = 3.0f * sigma_depth;
    // Valid depth: positive and finite. The neighbour test needs no finiteness test of its own:
    // NaN fails d > 0, and +inf fails |d - centre| < gate for a finite centre.
    core::ParallelFor2DInterior(
        device, out_w, out_h, 1, PyrDownInteriorEnd(width), 1, PyrDownInteriorEnd(height),
        SEMSLAM_LAMBDA(int x, int y) {
            const int64_t i = static_cast<int64_t>(y) * out_w + x;
            const int sx = 2 * x, sy = 2 * y;
            const float centre = depth_in[static_cast<int64_t>(sy) * width + sx];
            if (!(centre > 0.0f) || !core::IsFinite(centre)) {
                depth_out[i] = 0.0f;
                return;
            }
            float sum, weight_sum;
            Binomial5x5(depth_in, width, height, sx, sy,
                        [=](float d) { return d > 0.0f && fabsf(d - centre) < gate; }, &sum, &weight_sum);
            depth_out[i] = sum / weight_sum;  // the centre itself always counts
        },
        SEMSLAM_LAMBDA(int x, int y) {
            const int sx = 2 * x, sy = 2 * y;
            const float centre = depth_in[static_cast<int64_t>(sy) * width + sx];
            const bool valid = (centre > 0.0f) & core::IsFiniteNoBranch(centre);
            float sum, weight_sum;
            Binomial5x5Interior(depth_in, width, sx, sy,
                                [=](float d) { return (d > 0.0f) & (fabsf(d - centre) < gate); }, &sum, &weight_sum);
            // an invalid centre gives 0 / 0 here: selected away
            depth_out[static_cast<int64_t>(y) * out_w + x] = valid ? sum / weight_sum : 0.0f;
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
    core::ParallelFor2DInterior(
        device, out_w, out_h, 1, PyrDownInteriorEnd(width), 1, PyrDownInteriorEnd(height),
        SEMSLAM_LAMBDA(int x, int y) {
            float sum, weight_sum;
            Binomial5x5(intensity_in, width, height, 2 * x, 2 * y, [](float value) { return core::IsFinite(value); },
                        &sum, &weight_sum);
            intensity_out[static_cast<int64_t>(y) * out_w + x] = weight_sum > 0.0f ? sum / weight_sum : core::QuietNaN();
        },
        SEMSLAM_LAMBDA(int x, int y) {
            float sum, weight_sum;
            Binomial5x5Interior(intensity_in, width, 2 * x, 2 * y,
                                [](float value) { return core::IsFiniteNoBranch(value); }, &sum, &weight_sum);
            intensity_out[static_cast<int64_t>(y) * out_w + x] = weight_sum > 0.0f ? sum / weight_sum : core::QuietNaN();
        });
}

void SEMSLAM_KERNEL(IntensityGradients)(const core::Device& device, const float* intensity, float* dIdx, float* dIdy,
                                        int width, int height) {
    core::ParallelFor2DInterior(
        device, width, height, 1, width - 1, 1, height - 1,
        SEMSLAM_LAMBDA(int x, int y) {
            const int64_t i = static_cast<int64_t>(y) * width + x;
            dIdx[i] = core::QuietNaN();
            dIdy[i] = core::QuietNaN();
        },
        SEMSLAM_LAMBDA(int x, int y) {
            const int64_t i = static_cast<int64_t>(y) * width + x;
            float p[3][3];
            bool valid = true;
            SEMSLAM_UNROLL
            for (int dy = -1; dy <= 1; ++dy)
                SEMSLAM_UNROLL
                for (int dx = -1; dx <= 1; ++dx) {
                    p[dy + 1][dx + 1] = intensity[i + static_cast<int64_t>(dy) * width + dx];
                    valid = valid & core::IsFiniteNoBranch(p[dy + 1][dx + 1]);
                }
            // Sobel: [1 2 1] smoothing across, central difference (2 px) along: 8 x the slope
            const float gx = 0.125f * ((p[0][2] - p[0][0]) + 2.0f * (p[1][2] - p[1][0]) + (p[2][2] - p[2][0]));
            const float gy = 0.125f * ((p[2][0] - p[0][0]) + 2.0f * (p[2][1] - p[0][1]) + (p[2][2] - p[0][2]));
            // NaN next to any non-finite value (the centre's too), though each uses only 6 of the 9
            dIdx[i] = valid ? gx : core::QuietNaN();
            dIdy[i] = valid ? gy : core::QuietNaN();
        });
}

void SEMSLAM_KERNEL(PyrDownPoints)(const core::Device& device, const float* points_in, float* points_out, int width,
                                   int height, bool normalise) {
    const int out_w = width / 2, out_h = height / 2;
    (void)height;
    // Left with its branches: a branch-free form does not vectorise either (GCC cannot group the
    // loads of two adjacent 3-float points, 6 floats, per output) and only adds the normalisation's
    // square root and division to every point: it measured slower.
    core::ParallelFor2D(device, out_w, out_h, SEMSLAM_LAMBDA(int x, int y) {
        const int64_t i = static_cast<int64_t>(y) * out_w + x;
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
