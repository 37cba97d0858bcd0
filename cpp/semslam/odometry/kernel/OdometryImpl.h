// Kernel bodies of frame-to-model tracking, written once: projective data association and the
// per-pixel Gauss-Newton rows of the point-to-plane ICP term and the photometric term, reduced
// with ReduceSum<29>. Included by OdometryCPU.cpp (OpenMP) and OdometryCUDA.cu (CUDA).
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

// Nearest reference pixel of a reference-frame point; false outside the image or behind the camera.
SEMSLAM_HOST_DEVICE inline bool ProjectToPixel(const LevelView& L, const Vec3f& q, int64_t* j) {
    if (!(q.z > 0.0f)) return false;
    float u, v;
    L.K.Project(q, &u, &v);
    const float uf = floorf(u + 0.5f), vf = floorf(v + 0.5f);
    if (!(uf >= 0.0f && vf >= 0.0f && uf < static_cast<float>(L.width) && vf < static_cast<float>(L.height))) {
        return false;
    }
    *j = static_cast<int64_t>(vf) * L.width + static_cast<int64_t>(uf);
    return true;
}

// Adds the outer products of a 6-row Jacobian j and residual r into the 29-float layout.
SEMSLAM_HOST_DEVICE inline void WriteSystemRow(const float* j, float r, float r_unweighted, float* row) {
    int k = 0;
    for (int a = 0; a < 6; ++a)
        for (int b = a; b < 6; ++b) row[k++] = j[a] * j[b];
    for (int a = 0; a < 6; ++a) row[21 + a] = j[a] * r;
    row[27] = r_unweighted * r_unweighted;
    row[28] = 1.0f;
}

// Point-to-plane ICP with projective association (ElasticFusion's icpStep): the current vertex
// moved into the reference frame, its nearest reference pixel, gated by distance and normal angle.
// r = n_ref . (q - v_ref), J = [n_ref, q x n_ref].
SEMSLAM_HOST_DEVICE inline bool IcpRow(const LevelView& L, const core::Rigid3f& T, IcpGates gates, int64_t i,
                                       float* row) {
    const Vec3f p = core::Load3(L.cur_vertices + 3 * i);
    const Vec3f n_cur = core::Load3(L.cur_normals + 3 * i);
    if (!core::IsFinite(p) || !core::IsFinite(n_cur)) return false;
    const Vec3f q = T.Apply(p);
    int64_t j;
    if (!ProjectToPixel(L, q, &j)) return false;
    const Vec3f d = core::Load3(L.ref_vertices + 3 * j);
    const Vec3f n = core::Load3(L.ref_normals + 3 * j);
    if (!core::IsFinite(d) || !core::IsFinite(n)) return false;
    const Vec3f diff = q - d;
    if (!(core::Dot(diff, diff) <= gates.max_distance * gates.max_distance)) return false;
    if (!(core::Norm(core::Cross(T.Rotate(n_cur), n)) < gates.max_angle_sin)) return false;
    const Vec3f qxn = core::Cross(q, n);
    const float jac[6] = {n.x, n.y, n.z, qxn.x, qxn.y, qxn.z};
    const float r = core::Dot(n, diff);
    WriteSystemRow(jac, r, r, row);
    return true;
}

// Photometric association (ElasticFusion's computeRgbResidual): a current pixel with a valid
// vertex and a gradient of at least the minimum magnitude, warped into the reference by its depth,
// kept when the reference surface at the nearest pixel is within max_depth_delta.
// r = I_cur(x) - I_ref(u) with I_ref interpolated bilinearly at the continuous u (ElasticFusion
// takes the nearest pixel, whose +-0.5 px rounding biases the estimate on exact data).
SEMSLAM_HOST_DEVICE inline bool RgbAssociate(const LevelView& L, const core::Rigid3f& T, RgbGates gates, int64_t i,
                                             Vec3f* p, Vec3f* q, float* gx, float* gy, float* r) {
    *p = core::Load3(L.cur_vertices + 3 * i);
    if (!core::IsFinite(*p)) return false;
    *gx = L.cur_dIdx[i];
    *gy = L.cur_dIdy[i];
    if (!(*gx * *gx + *gy * *gy >= gates.min_gradient_sq)) return false;  // also rejects NaN
    const float i_cur = L.cur_intensity[i];
    if (!core::IsFinite(i_cur)) return false;
    *q = T.Apply(*p);
    if (!(q->z > 0.0f)) return false;
    float u, v;
    L.K.Project(*q, &u, &v);
    const float u0 = floorf(u), v0 = floorf(v);
    if (!(u0 >= 0.0f && v0 >= 0.0f && u0 + 1.0f < static_cast<float>(L.width) &&
          v0 + 1.0f < static_cast<float>(L.height))) {
        return false;
    }
    const float au = u - u0, av = v - v0;
    const int64_t j00 = static_cast<int64_t>(v0) * L.width + static_cast<int64_t>(u0);
    const int64_t nearest = j00 + (av >= 0.5f ? L.width : 0) + (au >= 0.5f ? 1 : 0);
    const float ref_z = L.ref_vertices[3 * nearest + 2];
    if (!core::IsFinite(ref_z) || !(fabsf(q->z - ref_z) <= gates.max_depth_delta)) return false;
    const float i00 = L.ref_intensity[j00], i01 = L.ref_intensity[j00 + 1];
    const float i10 = L.ref_intensity[j00 + L.width], i11 = L.ref_intensity[j00 + L.width + 1];
    if (!core::IsFinite(i00) || !core::IsFinite(i01) || !core::IsFinite(i10) || !core::IsFinite(i11)) return false;
    const float i_ref = (1.0f - av) * ((1.0f - au) * i00 + au * i01) + av * ((1.0f - au) * i10 + au * i11);
    *r = i_cur - i_ref;
    return true;
}

// The photometric row, weighted by w = 1 / (sigma + |r|) as ElasticFusion's rgbStep. With
// r(delta) = I_cur(pi(T_cur_ref exp(-delta) q)) - I_ref(u) and g = grad I_cur . d pi / d p at the
// current point p: J = -[h, q x h], h = R_ref_cur g.
SEMSLAM_HOST_DEVICE inline bool RgbRow(const LevelView& L, const core::Rigid3f& T, RgbGates gates, float sigma,
                                       int64_t i, float* row) {
    Vec3f p, q;
    float gx, gy, r;
    if (!RgbAssociate(L, T, gates, i, &p, &q, &gx, &gy, &r)) return false;
    const float inv_z = 1.0f / p.z;
    const float g0 = gx * L.K.fx * inv_z, g1 = gy * L.K.fy * inv_z;
    const Vec3f g = {g0, g1, -(g0 * p.x + g1 * p.y) * inv_z};
    const Vec3f h = T.Rotate(g);
    const Vec3f qxh = core::Cross(q, h);
    const float w = 1.0f / (sigma + fabsf(r));
    const float jac[6] = {-w * h.x, -w * h.y, -w * h.z, -w * qxh.x, -w * qxh.y, -w * qxh.z};
    WriteSystemRow(jac, w * r, r, row);
    return true;
}

void SEMSLAM_KERNEL(IcpReduce)(const core::Device& device, LevelView level, core::Rigid3f T, IcpGates gates,
                               double* out) {
    core::ReduceSum<kSystemSize>(
        device, static_cast<int64_t>(level.width) * level.height,
        SEMSLAM_LAMBDA(int64_t i, float* row)->bool { return IcpRow(level, T, gates, i, row); }, out);
}

void SEMSLAM_KERNEL(RgbStats)(const core::Device& device, LevelView level, core::Rigid3f T, RgbGates gates,
                              double* out) {
    core::ReduceSum<2>(
        device, static_cast<int64_t>(level.width) * level.height,
        SEMSLAM_LAMBDA(int64_t i, float* row)->bool {
            Vec3f p, q;
            float gx, gy, r;
            if (!RgbAssociate(level, T, gates, i, &p, &q, &gx, &gy, &r)) return false;
            row[0] = r * r;
            row[1] = 1.0f;
            return true;
        },
        out);
}

void SEMSLAM_KERNEL(RgbReduce)(const core::Device& device, LevelView level, core::Rigid3f T, RgbGates gates,
                               float sigma, double* out) {
    core::ReduceSum<kSystemSize>(
        device, static_cast<int64_t>(level.width) * level.height,
        SEMSLAM_LAMBDA(int64_t i, float* row)->bool { return RgbRow(level, T, gates, sigma, i, row); }, out);
}

void SEMSLAM_KERNEL(CountValidPoints)(const core::Device& device, const float* vertices, const float* normals,
                                      int64_t count, double* out) {
    core::ReduceSum<1>(
        device, count,
        SEMSLAM_LAMBDA(int64_t i, float* row)->bool {
            if (!core::IsFinite(core::Load3(vertices + 3 * i)) || !core::IsFinite(core::Load3(normals + 3 * i))) {
                return false;
            }
            row[0] = 1.0f;
            return true;
        },
        out);
}

void SEMSLAM_KERNEL(CopyFloats)(const core::Device& device, const float* src, float* dst, int64_t count) {
    core::ParallelFor(device, count, SEMSLAM_LAMBDA(int64_t i) { dst[i] = src[i]; });
}

}  // namespace kernel
}  // namespace odometry
}  // namespace semslam
