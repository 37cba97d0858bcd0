// Kernel bodies of frame-to-model tracking, written once: projective data association and the
// per-pixel Gauss-Newton rows of the point-to-plane ICP term and the photometric term, both from
// one pass over the current pixels (one load, transform and projection per pixel) and reduced with
// ReduceNormalEquations. Included by OdometryCPU.cpp (OpenMP) and OdometryCUDA.cu (CUDA).
//
// Parameterisation: T_ref_cur <- exp(delta) T_ref_cur with delta = (v, w) in the reference frame,
// so a current point p moves as q = T_ref_cur p -> q + v + w x q.
#pragma once

#include <cmath>
#include <cstdint>

#include "semslam/core/Math.h"
#include "semslam/core/ParallelFor.h"
#include "semslam/core/Reduce.h"
#include "semslam/odometry/kernel/OdometryKernels.h"

namespace semslam {
namespace odometry {
namespace kernel {

using core::Vec3f;

using Rows = core::NormalEquationRows<2>;  // term 0: ICP, term 1: photometric
static_assert(core::kNormalEquationSize == kSystemSize, "the reduced system's layout");

// Point-to-plane ICP with projective association (ElasticFusion's icpStep): the current vertex
// moved into the reference frame, q = T p with continuous pixel (u, v), its nearest reference
// pixel, gated by distance and normal angle. r = n_ref . (q - v_ref), J = [n_ref, q x n_ref].
SEMSLAM_FORCE_INLINE void AccumulateIcp(const LevelView& L, const core::Rigid3f& T, IcpGates gates, int64_t i,
                                              const Vec3f& q, float u, float v, Rows& rows) {
    // The nearest pixel floor(u + 0.5): inside the image exactly when 0 <= u + 0.5 < width, and
    // then truncation is the floor (no libm floorf call on the CPU).
    const float us = u + 0.5f, vs = v + 0.5f;
    if (!(us >= 0.0f && vs >= 0.0f && us < static_cast<float>(L.width) && vs < static_cast<float>(L.height))) return;
    const Vec3f n_cur = core::Load3(L.cur_normals + 3 * i);
    if (!core::IsFinite(n_cur)) return;
    const int64_t j = static_cast<int64_t>(static_cast<int>(vs)) * L.width + static_cast<int>(us);
    const Vec3f d = core::Load3(L.ref_vertices + 3 * j);
    const Vec3f n = core::Load3(L.ref_normals + 3 * j);
    if (!(core::IsFinite(d) & core::IsFinite(n))) return;
    const Vec3f diff = q - d;
    if (!(core::Dot(diff, diff) <= gates.max_distance * gates.max_distance)) return;
    const Vec3f sin_angle = core::Cross(T.Rotate(n_cur), n);  // squared: no sqrt call per pixel
    if (!(core::Dot(sin_angle, sin_angle) < gates.max_angle_sin * gates.max_angle_sin)) return;
    const Vec3f qxn = core::Cross(q, n);
    const float jac[6] = {n.x, n.y, n.z, qxn.x, qxn.y, qxn.z};
    const float r = core::Dot(n, diff);
    rows.Add(0, jac, r, r);
}

// Whether current pixel i takes part in the photometric term: a gradient of at least the minimum
// magnitude (also rejects NaN) and a valid intensity. Depends on the current frame only.
SEMSLAM_FORCE_INLINE bool RgbUsable(const LevelView& L, RgbGates gates, int64_t i) {
    const float gx = L.cur_dIdx[i], gy = L.cur_dIdy[i];
    return (gx * gx + gy * gy >= gates.min_gradient_sq) & core::IsFinite(L.cur_intensity[i]);
}

// Photometric association (ElasticFusion's computeRgbResidual) of a usable current pixel i whose
// vertex moved to q projects at (u, v): kept when the reference surface at the nearest pixel is
// within max_depth_delta. r = I_cur(x) - I_ref(u) with I_ref interpolated bilinearly at the
// continuous u (ElasticFusion takes the nearest pixel, whose +-0.5 px rounding biases the estimate
// on exact data).
SEMSLAM_FORCE_INLINE bool RgbResidual(const LevelView& L, RgbGates gates, int64_t i, const Vec3f& q, float u,
                                            float v, float* r) {
    // floor(u) >= 0 and floor(u) + 1 < width exactly when 0 <= u < width - 1; truncation is the floor.
    if (!(u >= 0.0f && v >= 0.0f && u < static_cast<float>(L.width - 1) && v < static_cast<float>(L.height - 1))) {
        return false;
    }
    const int iu = static_cast<int>(u), iv = static_cast<int>(v);
    const float au = u - static_cast<float>(iu), av = v - static_cast<float>(iv);
    const int64_t j00 = static_cast<int64_t>(iv) * L.width + iu;
    const int64_t nearest = j00 + (av >= 0.5f ? L.width : 0) + (au >= 0.5f ? 1 : 0);
    const float ref_z = L.ref_vertices[3 * nearest + 2];
    if (!core::IsFinite(ref_z) || !(fabsf(q.z - ref_z) <= gates.max_depth_delta)) return false;
    const float i00 = L.ref_intensity[j00], i01 = L.ref_intensity[j00 + 1];
    const float i10 = L.ref_intensity[j00 + L.width], i11 = L.ref_intensity[j00 + L.width + 1];
    // one test of the four (& rather than ||: no branch per neighbour)
    if (!(core::IsFinite(i00) & core::IsFinite(i01) & core::IsFinite(i10) & core::IsFinite(i11))) return false;
    const float i_ref = (1.0f - av) * ((1.0f - au) * i00 + au * i01) + av * ((1.0f - au) * i10 + au * i11);
    *r = L.cur_intensity[i] - i_ref;
    return true;
}

// The photometric row, weighted by w = 1 / (sigma + |r|) as ElasticFusion's rgbStep. With
// r(delta) = I_cur(pi(T_cur_ref exp(-delta) q)) - I_ref(u) and g = grad I_cur . d pi / d p at the
// current point p: J = -[h, q x h], h = R_ref_cur g.
SEMSLAM_FORCE_INLINE void AccumulateRgb(const LevelView& L, const core::Rigid3f& T, RgbGates gates, float sigma,
                                              int64_t i, const Vec3f& p, const Vec3f& q, float u, float v,
                                              Rows& rows) {
    if (!RgbUsable(L, gates, i)) return;
    float r;
    if (!RgbResidual(L, gates, i, q, u, v, &r)) return;
    const float inv_z = 1.0f / p.z;
    const float g0 = L.cur_dIdx[i] * L.K.fx * inv_z, g1 = L.cur_dIdy[i] * L.K.fy * inv_z;
    const Vec3f g = {g0, g1, -(g0 * p.x + g1 * p.y) * inv_z};
    const Vec3f h = T.Rotate(g);
    const Vec3f qxh = core::Cross(q, h);
    const float w = 1.0f / (sigma + fabsf(r));
    const float jac[6] = {-w * h.x, -w * h.y, -w * h.z, -w * qxh.x, -w * qxh.y, -w * qxh.z};
    rows.Add(1, jac, w * r, r);
}

// Both terms in one pass: each current pixel is loaded, moved and projected once, and the ICP and
// photometric rows go to out[0, 29) and out[29, 58).
void SEMSLAM_KERNEL(TrackReduce)(const core::Device& device, LevelView level, core::Rigid3f T, IcpGates icp_gates,
                                 RgbGates rgb_gates, float sigma, double* out) {
    core::ReduceNormalEquations<2>(
        device, static_cast<int64_t>(level.width) * level.height,
        SEMSLAM_LAMBDA(int64_t i, Rows& rows) {
            const Vec3f p = core::Load3(level.cur_vertices + 3 * i);
            if (!core::IsFinite(p)) return;
            const Vec3f q = T.Apply(p);
            if (!(q.z > 0.0f)) return;
            float u, v;
            level.K.Project(q, &u, &v);
            AccumulateIcp(level, T, icp_gates, i, q, u, v, rows);
            AccumulateRgb(level, T, rgb_gates, sigma, i, p, q, u, v, rows);
        },
        out);
}

void SEMSLAM_KERNEL(RgbStats)(const core::Device& device, LevelView level, core::Rigid3f T, RgbGates gates,
                              double* out) {
    core::ReduceAccumulate<2>(
        device, static_cast<int64_t>(level.width) * level.height,
        SEMSLAM_LAMBDA(int64_t i, float* acc) {
            if (!RgbUsable(level, gates, i)) return;  // first: most pixels fail it
            const Vec3f p = core::Load3(level.cur_vertices + 3 * i);
            if (!core::IsFinite(p)) return;
            const Vec3f q = T.Apply(p);
            if (!(q.z > 0.0f)) return;
            float u, v, r;
            level.K.Project(q, &u, &v);
            if (!RgbResidual(level, gates, i, q, u, v, &r)) return;
            acc[0] += r * r;
            acc[1] += 1.0f;
        },
        out);
}

void SEMSLAM_KERNEL(CountValidPoints)(const core::Device& device, const float* vertices, const float* normals,
                                      int64_t count, double* out) {
    *out = static_cast<double>(core::CountIf(device, count, SEMSLAM_LAMBDA(int64_t i)->bool {
        return core::IsFiniteNoBranch(core::Load3(vertices + 3 * i)) & core::IsFiniteNoBranch(core::Load3(normals + 3 * i));
    }));
}

void SEMSLAM_KERNEL(CopyFloats)(const core::Device& device, const float* src, float* dst, int64_t count) {
    core::ParallelFor(device, count, SEMSLAM_LAMBDA(int64_t i) { dst[i] = src[i]; });
}

}  // namespace kernel
}  // namespace odometry
}  // namespace semslam
