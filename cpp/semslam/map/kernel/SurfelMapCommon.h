// Small device functions shared by the surfel-map kernel bodies: ElasticFusion's measurement
// radius and confidence, key unpacking, relaxed atomic loads/stores.
#pragma once

#include <cmath>
#include <cstdint>

#include "semslam/core/Atomic.h"
#include "semslam/core/Camera.h"
#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/map/SurfelMap.h"

namespace semslam {
namespace map {
namespace kernel {

using core::Vec3f;

// Radius of the disk a pixel at depth z covers (ElasticFusion surfels.glsl getRadius):
// sqrt(2) z / mean focal, divided by |n_z| of the camera-frame normal, at most factor times more.
SEMSLAM_HOST_DEVICE inline float MeasurementRadius(float z, float normal_z, const PinholeIntrinsics& K,
                                                   float max_factor) {
    const float radius = 1.41421356237f * z / (0.5f * (K.fx + K.fy));
    const float slanted = radius / fabsf(normal_z);
    return slanted < max_factor * radius ? slanted : max_factor * radius;  // NaN-safe for n_z = 0
}

// Confidence of a measurement at pixel (x, y) (ElasticFusion surfels.glsl confidence): a Gaussian of
// the distance from the principal point normalised by the half-diagonal (400 px at 640x480).
SEMSLAM_HOST_DEVICE inline float MeasurementConfidence(int x, int y, const PinholeIntrinsics& K, int width, int height,
                                                       float sigma) {
    const float half_diagonal = sqrtf(0.25f * static_cast<float>(width) * width + 0.25f * static_cast<float>(height) * height);
    const float dx = static_cast<float>(x) - K.cx, dy = static_cast<float>(y) - K.cy;
    const float r2 = (dx * dx + dy * dy) / (half_diagonal * half_diagonal);
    return expf(-r2 / (2.0f * sigma * sigma));
}

// The depth stored in the high bits of a PackDepthIndex key.
SEMSLAM_HOST_DEVICE inline float UnpackDepth(uint64_t key) {
    const uint32_t bits = static_cast<uint32_t>(key >> 32);
#if defined(__CUDA_ARCH__)
    return __uint_as_float(bits);
#else
    float depth;
    __builtin_memcpy(&depth, &bits, sizeof(depth));
    return depth;
#endif
}

// v / |v| (NaN for a zero vector: callers pass unit-ish normals).
SEMSLAM_HOST_DEVICE inline Vec3f Normalized(const Vec3f& v) {
    const float n = core::Norm(v);
    return (1.0f / n) * v;
}

SEMSLAM_HOST_DEVICE inline uint32_t LoadRelaxed(const uint32_t* p) {
#if defined(__CUDA_ARCH__)
    return *reinterpret_cast<const volatile uint32_t*>(p);
#else
    return __atomic_load_n(p, __ATOMIC_RELAXED);
#endif
}

SEMSLAM_HOST_DEVICE inline void StoreRelaxed(uint32_t* p, uint32_t value) {
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<volatile uint32_t*>(p) = value;
#else
    __atomic_store_n(p, value, __ATOMIC_RELAXED);
#endif
}

SEMSLAM_HOST_DEVICE inline void StoreRelaxed(uint64_t* p, uint64_t value) {
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<volatile unsigned long long*>(p) = value;
#else
    __atomic_store_n(p, value, __ATOMIC_RELAXED);
#endif
}

constexpr uint32_t kNoOwner = ~static_cast<uint32_t>(0);

// How many surfels ahead the loops over surfels that write the fine index map, or read it at a
// surfel's slot, prefetch the place a later surfel will touch (CPU; see SEMSLAM_PREFETCH_FOR_READ).
constexpr int64_t kIndexPrefetchDistance = 16;

// A surfel is rendered / associated while it was updated within the time window.
SEMSLAM_HOST_DEVICE inline bool IsActive(int last_update, int time, int window) { return time - last_update <= window; }

}  // namespace kernel
}  // namespace map
}  // namespace semslam
