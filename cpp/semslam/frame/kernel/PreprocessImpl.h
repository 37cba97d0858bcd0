// Kernel bodies of depth preprocessing, written once. Included by PreprocessCPU.cpp (OpenMP)
// and PreprocessCUDA.cu (CUDA); SEMSLAM_KERNEL names each entry point for its device.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/frame/kernel/PreprocessKernels.h"

namespace semslam {
namespace frame {
namespace kernel {

using core::Vec3f;

// The weighted mean of the valid neighbours within the window around an output pixel (x, y) with
// valid centre depth `centre`, accumulated as centre + sum w (d - centre) / sum w: the same mean,
// with less rounding than sum w d / sum w. Used by the GPU form and by the CPU form at the borders.
SEMSLAM_HOST_DEVICE inline float BilateralPixel(const float* depth_in, int width, int height, int x, int y,
                                                float centre, int r, float inv_2ss, float inv_2sd, float dmin,
                                                float dmax) {
    float sum = 0.0f, weight_sum = 0.0f;
    const int y0 = y - r < 0 ? 0 : y - r, y1 = y + r >= height ? height - 1 : y + r;
    const int x0 = x - r < 0 ? 0 : x - r, x1 = x + r >= width ? width - 1 : x + r;
    for (int v = y0; v <= y1; ++v) {
        const float* row = depth_in + static_cast<int64_t>(v) * width;
        for (int u = x0; u <= x1; ++u) {
            const float d = row[u];
            if (!(d >= dmin && d <= dmax)) continue;  // also rejects NaN
            const float diff = d - centre;
            const float space2 = static_cast<float>((u - x) * (u - x) + (v - y) * (v - y));
            const float w = core::ExpNonPositive(-(space2 * inv_2ss + diff * diff * inv_2sd));
            sum += w * diff;
            weight_sum += w;
        }
    }
    return centre + sum / weight_sum;  // weight_sum >= 1: the centre itself counts
}

#if defined(__CUDACC__)

// GPU form: one thread per output pixel walks its window.
void SEMSLAM_KERNEL(BilateralFilter)(const core::Device& device, const float* depth_in, float* depth_out,
                                     int width, int height, BilateralParams params) {
    const float inv_2ss = 0.5f / (params.sigma_space * params.sigma_space);
    const float inv_2sd = 0.5f / (params.sigma_depth * params.sigma_depth);
    const int r = params.radius;
    const float dmin = params.depth_min, dmax = params.depth_max;
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        const float centre = depth_in[i];
        depth_out[i] = centre >= dmin && centre <= dmax  // also rejects NaN
                           ? BilateralPixel(depth_in, width, height, x, y, centre, r, inv_2ss, inv_2sd, dmin, dmax)
                           : 0.0f;
    });
}

#else

// CPU form, a different loop nest computing the same function: per-pixel window loops are 13 wide
// and end in reductions, which SIMD does not speed up. Here a work item is an output row and the
// SIMD lanes are kLanes adjacent output pixels that walk their windows together (one unaligned
// load per window offset), so each lane keeps its own sums in registers. Written with GCC/Clang
// vector types, not left to the auto-vectoriser, which gave up on the exp's float clamp. The lane
// count follows the target: 4 (SSE2, the generic build), 8 (AVX), 16 (AVX-512).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float FloatLanes __attribute__((vector_size(4 * kLanes)));
typedef int32_t IntLanes __attribute__((vector_size(4 * kLanes)));
// Radii up to this use the vector path (the spatial terms sit in a table on the stack).
constexpr int kMaxVectorRadius = 15;

void SEMSLAM_KERNEL(BilateralFilter)(const core::Device& device, const float* depth_in, float* depth_out,
                                     int width, int height, BilateralParams params) {
    const float inv_2ss = 0.5f / (params.sigma_space * params.sigma_space);
    const float inv_2sd = 0.5f / (params.sigma_depth * params.sigma_depth);
    const int r = params.radius;
    const float dmin = params.depth_min, dmax = params.depth_max;
    const int side = 2 * r + 1;
    // -(dx^2 + dy^2) / (2 sigma_space^2) for each window offset, row by row
    float neg_space[(2 * kMaxVectorRadius + 1) * (2 * kMaxVectorRadius + 1)];
    const bool vector_path = r <= kMaxVectorRadius;
    if (vector_path) {
        for (int dy = -r; dy <= r; ++dy)
            for (int dx = -r; dx <= r; ++dx)
                neg_space[(dy + r) * side + dx + r] = -static_cast<float>(dx * dx + dy * dy) * inv_2ss;
    }
    const float* neg_space_table = neg_space;
    core::ParallelFor(device, height, SEMSLAM_LAMBDA(int64_t row_index) {
        const int y = static_cast<int>(row_index);
        const float* centre_row = depth_in + static_cast<int64_t>(y) * width;
        float* out_row = depth_out + static_cast<int64_t>(y) * width;
        auto pixel = [&](int x) {
            const float centre = centre_row[x];
            return centre >= dmin && centre <= dmax  // also rejects NaN
                       ? BilateralPixel(depth_in, width, height, x, y, centre, r, inv_2ss, inv_2sd, dmin, dmax)
                       : 0.0f;
        };
        int x = 0;
        if (vector_path) {
            const int v0 = y - r < 0 ? 0 : y - r, v1 = y + r >= height ? height - 1 : y + r;
            for (; x < r && x < width; ++x) out_row[x] = pixel(x);
            // lanes x .. x + kLanes - 1 whose windows lie inside the row
            for (; x + kLanes + r <= width; x += kLanes) {
                FloatLanes centre;
                std::memcpy(&centre, centre_row + x, sizeof(centre));
                const IntLanes centre_valid = (centre >= dmin) & (centre <= dmax);  // false for NaN
                // Lanes without a valid centre are 0 whatever their windows hold, and blocks of
                // kLanes such pixels are common (no depth on glass, dark or far surfaces, at the
                // image edges: 10-20 % of blocks on TUM fr3/teddy): skip their windows.
                bool any_valid = false;
                for (int lane = 0; lane < kLanes; ++lane) any_valid |= centre_valid[lane] != 0;
                if (!any_valid) {
                    std::memset(out_row + x, 0, sizeof(FloatLanes));
                    continue;
                }
                centre = centre_valid ? centre : FloatLanes{};
                FloatLanes sum = {}, weight_sum = {};
                for (int v = v0; v <= v1; ++v) {
                    const float* window_row = depth_in + static_cast<int64_t>(v) * width + x - r;
                    const float* neg_space_row = neg_space_table + (v - y + r) * side;
                    for (int k = 0; k < side; ++k) {
                        FloatLanes d;
                        std::memcpy(&d, window_row + k, sizeof(d));
                        const IntLanes valid = (d >= dmin) & (d <= dmax);
                        const FloatLanes diff = valid ? d - centre : FloatLanes{};  // finite in every lane
                        const FloatLanes w = core::ExpNonPositiveV<FloatLanes, IntLanes>(
                            neg_space_row[k] - diff * diff * inv_2sd);
                        const FloatLanes weight = valid ? w : FloatLanes{};  // invalid neighbours weigh 0
                        sum += weight * diff;
                        weight_sum += weight;
                    }
                }
                const FloatLanes result = centre_valid ? centre + sum / weight_sum : FloatLanes{};
                std::memcpy(out_row + x, &result, sizeof(result));
            }
        }
        for (; x < width; ++x) out_row[x] = pixel(x);
    });
}

#endif

void SEMSLAM_KERNEL(ComputeVertexMap)(const core::Device& device, const float* depth, float* vertices, int width,
                                      int height, PinholeIntrinsics K) {
    const float inv_fx = 1.0f / K.fx, inv_fy = 1.0f / K.fy;
    // Branch-free, so that the CPU loop over x vectorises: an invalid depth becomes NaN before the
    // arithmetic, which carries it to x and y (a select after it, GCC sinks the arithmetic into a branch).
    core::ParallelFor2D(device, width, height, SEMSLAM_LAMBDA(int x, int y) {
        const int64_t i = static_cast<int64_t>(y) * width + x;
        const float d = depth[i];
        const float z = (d > 0.0f) & core::IsFiniteNoBranch(d) ? d : core::QuietNaN();
        core::Store3(vertices + 3 * i,
                     {(static_cast<float>(x) - K.cx) * z * inv_fx, (static_cast<float>(y) - K.cy) * z * inv_fy, z});
    });
}

void SEMSLAM_KERNEL(ComputeNormalMap)(const core::Device& device, const float* vertices, float* normals, int width,
                                      int height) {
    core::ParallelFor2DInterior(
        device, width, height, 1, width - 1, 1, height - 1,
        SEMSLAM_LAMBDA(int x, int y) {
            const float nan = core::QuietNaN();
            core::Store3(normals + 3 * (static_cast<int64_t>(y) * width + x), {nan, nan, nan});
        },
        // branch-free (selects, no early outs), so that the CPU loop over x vectorises
        SEMSLAM_LAMBDA(int x, int y) {
            const int64_t i = static_cast<int64_t>(y) * width + x;
            const Vec3f left = core::Load3(vertices + 3 * (i - 1));
            const Vec3f right = core::Load3(vertices + 3 * (i + 1));
            const Vec3f up = core::Load3(vertices + 3 * (i - width));
            const Vec3f down = core::Load3(vertices + 3 * (i + width));
            // cross(dy, dx) points towards the camera for a surface seen from the front
            const Vec3f c = core::Cross(down - up, right - left);
            const float len = core::Norm(c);
            const Vec3f n = (1.0f / len) * c;
            const bool valid = core::IsFiniteNoBranch(left) & core::IsFiniteNoBranch(right) &
                               core::IsFiniteNoBranch(up) & core::IsFiniteNoBranch(down) & (len > 0.0f);
            const float nan = core::QuietNaN();
            core::Store3(normals + 3 * i, {valid ? n.x : nan, valid ? n.y : nan, valid ? n.z : nan});
        });
}

}  // namespace kernel
}  // namespace frame
}  // namespace semslam
