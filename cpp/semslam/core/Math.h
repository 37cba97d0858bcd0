// Small vector maths usable in host and device code.
#pragma once

#include <math.h>

#include <cmath>
#include <cstring>

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
// & rather than &&: three compares combined, not three branches (invalid pixels are scattered, so
// the branches mispredict in the per-pixel loops)
SEMSLAM_HOST_DEVICE inline bool IsFinite(const Vec3f& a) { return IsFinite(a.x) & IsFinite(a.y) & IsFinite(a.z); }
// IsFinite as arithmetic and a compare, no branch: kernels whose per-pixel bodies must vectorise
// combine these with & (not &&, whose short circuit the compiler may keep as branches).
SEMSLAM_HOST_DEVICE inline bool IsFiniteNoBranch(float v) { return v - v == 0.0f; }  // inf - inf, NaN: NaN
SEMSLAM_HOST_DEVICE inline bool IsFiniteNoBranch(const Vec3f& a) {
    return IsFiniteNoBranch(a.x) & IsFiniteNoBranch(a.y) & IsFiniteNoBranch(a.z);
}
SEMSLAM_HOST_DEVICE inline Vec3f Load3(const float* p) { return {p[0], p[1], p[2]}; }
SEMSLAM_HOST_DEVICE inline void Store3(float* p, const Vec3f& a) {
    p[0] = a.x;
    p[1] = a.y;
    p[2] = a.z;
}
SEMSLAM_HOST_DEVICE inline float QuietNaN() { return nanf(""); }

// exp(x) for x <= 0 in float (x below -87 is taken as -87, e^-87 ~ 1.6e-38). On the host a branch-free
// Cephes-style polynomial (about 2 ulp) that the compiler vectorises inside loops; on the GPU expf.
SEMSLAM_HOST_DEVICE inline float ExpNonPositive(float x) {
#if defined(__CUDA_ARCH__)
    return expf(x);
#else
    x = x < -87.0f ? -87.0f : x;
    const int n = static_cast<int>(x * 1.44269504088896341f - 0.5f);  // ceil(x log2 e - 0.5) for x <= 0
    const float fn = static_cast<float>(n);
    const float r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;  // x - n ln 2 in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    union {
        int i;
        float f;
    } scale = {(n + 127) << 23};  // 2^n
    return (p * r * r + r + 1.0f) * scale.f;
#endif
}

#if !defined(__CUDACC__)
// ExpNonPositive on a GCC/Clang vector of floats (vector_size extension), lane by lane, for the
// CPU forms of kernels that vectorise across output pixels by hand: the scalar form's clamp is
// a float select that GCC turns into a branch (it may trap), which stops auto-vectorisation.
// FloatV and IntV: vectors of float and int32_t with the same lane count.
template <typename FloatV, typename IntV>
inline FloatV ExpNonPositiveV(FloatV x) {
    x = x > -87.0f ? x : FloatV{} - 87.0f;
    const IntV n = __builtin_convertvector(x * 1.44269504088896341f - 0.5f, IntV);
    const FloatV fn = __builtin_convertvector(n, FloatV);
    const FloatV r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
    FloatV p = FloatV{} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const IntV bits = (n + 127) << 23;  // 2^n
    FloatV scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    return (p * r * r + r + 1.0f) * scale;
}
#endif

}  // namespace core
}  // namespace semslam

namespace semslam {
namespace core {

// A rigid transform as 3x4 row-major [R | t]; T_a_b maps points from frame b into frame a.
struct Rigid3f {
    float m[12];

    SEMSLAM_HOST_DEVICE Vec3f Apply(const Vec3f& p) const {
        return {m[0] * p.x + m[1] * p.y + m[2] * p.z + m[3], m[4] * p.x + m[5] * p.y + m[6] * p.z + m[7],
                m[8] * p.x + m[9] * p.y + m[10] * p.z + m[11]};
    }
    SEMSLAM_HOST_DEVICE Vec3f Rotate(const Vec3f& v) const {
        return {m[0] * v.x + m[1] * v.y + m[2] * v.z, m[4] * v.x + m[5] * v.y + m[6] * v.z,
                m[8] * v.x + m[9] * v.y + m[10] * v.z};
    }
    // The inverse transform (R^T, -R^T t).
    SEMSLAM_HOST_DEVICE Rigid3f Inverse() const {
        Rigid3f r;
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) r.m[4 * i + j] = m[4 * j + i];
        const Vec3f t = {m[3], m[7], m[11]};
        for (int i = 0; i < 3; ++i) r.m[4 * i + 3] = -(r.m[4 * i] * t.x + r.m[4 * i + 1] * t.y + r.m[4 * i + 2] * t.z);
        return r;
    }
    static Rigid3f Identity() { return {{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}}; }
};

}  // namespace core
}  // namespace semslam
