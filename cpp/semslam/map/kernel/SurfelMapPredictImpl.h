// Kernel bodies of rendering the surfel map, written once (included by SurfelMapCPU.cpp and
// SurfelMapCUDA.cu). Both renderers are deterministic: a key pass AtomicMin's
// PackDepthIndex(depth, surfel) into each pixel (nearest depth wins, ties to the smaller index),
// then a resolve pass reads the winner and resets the key to kEmptyKey for the next use.
#pragma once

#include "semslam/map/kernel/SurfelMapCommon.h"
#include "semslam/map/kernel/SurfelMapKernels.h"

namespace semslam {
namespace map {
namespace kernel {

// A disk's screen footprint is bounded by f r sqrt(1 + (x/z)^2) / (z - r) pixels around its
// centre's projection; this caps it for surfels almost touching the camera.
constexpr float kMaxSplatHalfWidth = 64.0f;
constexpr int kMaxSplatColumns = 2 * 64 + 1;  // columns of the widest footprint

// Prediction (ElasticFusion splat.vert + combo_splat.frag): each stable, active surfel is an
// oriented disk; every pixel of its footprint whose ray hits the disk within its radius takes the
// hit's depth.
void SEMSLAM_KERNEL(SplatKeys)(const core::Device& device, SurfelArrays s, int64_t n, core::Rigid3f T_cam_world,
                               PinholeIntrinsics K, int width, int height, int time, SurfelMapParams params,
                               uint64_t* keys) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        if (s.confidences[i] < params.confidence_threshold) return;
        const int last = s.last_update_times[i];
        if (!IsActive(last, time, params.time_window) || last > time) return;
        const Vec3f p = T_cam_world.Apply(core::Load3(s.positions + 3 * i));
        const float r = s.radii[i];
        if (!(p.z > 0.0f) || p.z > params.render_depth_max || !(p.z - r > 0.0f)) return;
        const Vec3f nrm = T_cam_world.Rotate(core::Load3(s.normals + 3 * i));
        const float xz = p.x / p.z, yz = p.y / p.z;
        const float uc = K.fx * xz + K.cx, vc = K.fy * yz + K.cy;
        float hu = K.fx * r * sqrtf(1.0f + xz * xz) / (p.z - r);
        float hv = K.fy * r * sqrtf(1.0f + yz * yz) / (p.z - r);
        hu = hu < kMaxSplatHalfWidth ? hu : kMaxSplatHalfWidth;
        hv = hv < kMaxSplatHalfWidth ? hv : kMaxSplatHalfWidth;
        int u0 = static_cast<int>(ceilf(uc - hu)), u1 = static_cast<int>(floorf(uc + hu));
        int v0 = static_cast<int>(ceilf(vc - hv)), v1 = static_cast<int>(floorf(vc + hv));
        u0 = u0 < 0 ? 0 : u0;
        v0 = v0 < 0 ? 0 : v0;
        u1 = u1 > width - 1 ? width - 1 : u1;
        v1 = v1 > height - 1 ? height - 1 : v1;
        const float pn = core::Dot(p, nrm), r2 = r * r;
        // The footprint's column rays, computed once per column rather than once per pixel (the
        // same float operations as per pixel, so the same hits).
        float ray_x[kMaxSplatColumns];
        for (int u = u0; u <= u1; ++u) ray_x[u - u0] = (static_cast<float>(u) - K.cx) / K.fx;
        for (int v = v0; v <= v1; ++v) {
            const float ray_y = (static_cast<float>(v) - K.cy) / K.fy;
            const float ray_y_n = ray_y * nrm.y;
            uint64_t* row = keys + static_cast<int64_t>(v) * width;
            for (int u = u0; u <= u1; ++u) {
                const float ray_xu = ray_x[u - u0];
                const float denom = ray_xu * nrm.x + ray_y_n + 1.0f * nrm.z;  // Dot(ray, nrm), ray z = 1
                if (fabsf(denom) < 1e-6f) continue;
                const float t = pn / denom;  // depth of the hit (the ray's z is 1)
                if (!(t > 0.0f)) continue;
                const Vec3f d = {t * ray_xu - p.x, t * ray_y - p.y, t * 1.0f - p.z};
                if (core::Dot(d, d) > r2) continue;
                core::AtomicMin(row + u, core::PackDepthIndex(t, static_cast<uint32_t>(i)));
            }
        }
    });
}

void SEMSLAM_KERNEL(ResolvePrediction)(const core::Device& device, SurfelArrays s, uint64_t* keys,
                                       core::Rigid3f T_cam_world, PinholeIntrinsics K, int width, int height,
                                       float* vertices, float* normals, float* colours, float* intensity,
                                       int32_t* index_map) {
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const uint64_t key = keys[i];
        if (key == core::kEmptyKey) {
            const float nan = core::QuietNaN();
            const Vec3f none = {nan, nan, nan};
            core::Store3(vertices + 3 * i, none);
            core::Store3(normals + 3 * i, none);
            core::Store3(colours + 3 * i, none);
            intensity[i] = nan;
            index_map[i] = -1;
            return;
        }
        keys[i] = core::kEmptyKey;
        const uint32_t j = core::UnpackIndex(key);
        const float z = UnpackDepth(key);
        const int32_t pixel = static_cast<int32_t>(i);  // < 2^31 (checked on the host): a 32-bit divide
        const int v = pixel / width, u = pixel - v * width;
        core::Store3(vertices + 3 * i, K.Unproject(static_cast<float>(u), static_cast<float>(v), z));
        core::Store3(normals + 3 * i, Normalized(T_cam_world.Rotate(core::Load3(s.normals + 3 * j))));
        const Vec3f c = core::Load3(s.colours + 3 * j);
        core::Store3(colours + 3 * i, c);
        intensity[i] = kIntensityScale * (0.299f * c.x + 0.587f * c.y + 0.114f * c.z);
        index_map[i] = static_cast<int32_t>(j);
    });
}

// The fine index map slot of surfel i (its centre's nearest sub-pixel) when it is active and in
// range, with its camera-frame depth; else -1.
SEMSLAM_FORCE_INLINE int32_t FineSlot(const SurfelArrays& s, int64_t i, const core::Rigid3f& T_cam_world,
                                      const PinholeIntrinsics& K_fine, int fine_width, int fine_height, int time,
                                      const SurfelMapParams& params, float* depth) {
    if (!IsActive(s.last_update_times[i], time, params.time_window)) return -1;
    const Vec3f p = T_cam_world.Apply(core::Load3(s.positions + 3 * i));
    if (!(p.z > 0.0f) || p.z > params.render_depth_max) return -1;
    float uf, vf;
    K_fine.Project(p, &uf, &vf);
    const float fu = floorf(uf + 0.5f), fv = floorf(vf + 0.5f);
    if (!(fu >= 0.0f && fv >= 0.0f && fu < static_cast<float>(fine_width) && fv < static_cast<float>(fine_height))) {
        return -1;
    }
    *depth = p.z;
    return static_cast<int32_t>(static_cast<int64_t>(fv) * fine_width + static_cast<int64_t>(fu));
}

// On the CPU, starts the cache miss of the slot surfel i + kIndexPrefetchDistance will write: the
// slots are random places in a map of tens of MB (see SEMSLAM_PREFETCH_FOR_WRITE). Nothing on the
// GPU. (A helper rather than an #if in the kernel's lambda: an extended lambda must capture the
// same variables in the host and the device compilation.)
SEMSLAM_FORCE_INLINE void PrefetchFineSlot(const SurfelArrays& s, int64_t i, int64_t n,
                                           const core::Rigid3f& T_cam_world, const PinholeIntrinsics& K_fine,
                                           int fine_width, int fine_height, int time, const SurfelMapParams& params,
                                           uint64_t* keys) {
#if !defined(__CUDA_ARCH__)
    if (i + kIndexPrefetchDistance >= n) return;
    float depth;
    const int32_t ahead =
        FineSlot(s, i + kIndexPrefetchDistance, T_cam_world, K_fine, fine_width, fine_height, time, params, &depth);
    if (ahead >= 0) SEMSLAM_PREFETCH_FOR_WRITE(keys + ahead);
#endif
}

// Fine index map (ElasticFusion index_map.vert): every active surfel in range is one point at the
// sub-pixel its centre projects to, nearest depth first. The keys are the map (see KeyIndex).
void SEMSLAM_KERNEL(IndexKeys)(const core::Device& device, SurfelArrays s, int64_t n, core::Rigid3f T_cam_world,
                               PinholeIntrinsics K_fine, int fine_width, int fine_height, int time,
                               SurfelMapParams params, uint64_t* keys, int32_t* slots) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        PrefetchFineSlot(s, i, n, T_cam_world, K_fine, fine_width, fine_height, time, params, keys);
        float depth;
        const int32_t slot = FineSlot(s, i, T_cam_world, K_fine, fine_width, fine_height, time, params, &depth);
        slots[i] = slot;
        if (slot >= 0) core::AtomicMin(keys + slot, core::PackDepthIndex(depth, static_cast<uint32_t>(i)));
    });
}

// Several surfels may share a slot: each stores the same kEmptyKey.
void SEMSLAM_KERNEL(ClearSlots)(const core::Device& device, uint64_t* keys, const int32_t* slots, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        const int32_t slot = slots[i];
        if (slot >= 0) StoreRelaxed(keys + slot, core::kEmptyKey);
    });
}

}  // namespace kernel
}  // namespace map
}  // namespace semslam
