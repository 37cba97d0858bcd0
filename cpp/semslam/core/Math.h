// Small vector maths usable in host and device code.
#pragma once

#include <math.h>

#include <cmath>

#include "semslam/core/ParallelFor.h"

namespace semslam {
namespace core {

struct Vec3f {
    float x, y, z;
};

SEMSLAM_HOST_DEVICE inline Vec3f operator-(const Vec3f& a, const Vec3f& b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
SEMSLAM_HOST_DEVICE inline Vec3f operator+(const Vec3f& a, const Vec3f& b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
SEMSLAM_HOST_DEVICE inline Vec3f operator*(float s, const Vec3f& a) { return {s * a.x, s * a.y, s * a.z}; }
SEMSLAM_HOST_DEVICE inline float Dot(const Vec3f& a, const Vec3f& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
SEMSLAM_HOST_DEVICE inline Vec3f Cross(const Vec3f& a, const Vec3f& b) {
    return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
SEMSLAM_HOST_DEVICE inline float Norm(const Vec3f& a) { return sqrtf(Dot(a, a)); }
SEMSLAM_HOST_DEVICE inline bool IsFinite(float v) {
#if defined(__CUDA_ARCH__)
    return isfinite(v);
#else
    return std::isfinite(v);
#endif
}
SEMSLAM_HOST_DEVICE inline bool IsFinite(const Vec3f& a) { return IsFinite(a.x) && IsFinite(a.y) && IsFinite(a.z); }
SEMSLAM_HOST_DEVICE inline Vec3f Load3(const float* p) { return {p[0], p[1], p[2]}; }
SEMSLAM_HOST_DEVICE inline void Store3(float* p, const Vec3f& a) {
    p[0] = a.x;
    p[1] = a.y;
    p[2] = a.z;
}
SEMSLAM_HOST_DEVICE inline float QuietNaN() { return nanf(""); }

}  // namespace core
}  // namespace semslam
