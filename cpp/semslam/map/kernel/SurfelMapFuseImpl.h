// Kernel bodies of fusing a frame into the surfel map (ElasticFusion data.vert, update.vert),
// written once. Three passes keep the result independent of thread timing:
//   Associate:     each pixel picks one surfel from the fine index map (or none: new) and
//                  AtomicMin's its pixel index into that surfel's owner slot;
//   ApplyUpdates:  the owning pixel (smallest index) alone updates the surfel; others are dropped,
//                  as in ElasticFusion, where a surfel takes one update per frame;
//   WriteNewSurfels: unmatched pixels are appended in pixel order (ranks from a stable prefix sum).
#pragma once

#include "semslam/core/Half.h"
#include "semslam/core/Reduce.h"
#include "semslam/map/kernel/SurfelMapCommon.h"
#include "semslam/map/kernel/SurfelMapKernels.h"

namespace semslam {
namespace map {
namespace kernel {

// Whether pixel (x, y) takes part in fusion: a finite vertex within range, a finite normal, valid
// 4-neighbours (ElasticFusion checkNeighbours) and, with the checkerboard, the time's parity.
SEMSLAM_HOST_DEVICE inline bool FusablePixel(const float* vertices, const float* normals, int x, int y, int width,
                                             int height, int time, const SurfelMapParams& params) {
    if (params.checkerboard && ((x & 1) != (time & 1) || (y & 1) != (time & 1))) return false;
    if (x < 1 || y < 1 || x >= width - 1 || y >= height - 1) return false;
    const int64_t i = static_cast<int64_t>(y) * width + x;
    const Vec3f v = core::Load3(vertices + 3 * i);
    if (!core::IsFinite(v) || !(v.z > 0.0f) || v.z > params.fuse_depth_max) return false;
    if (!core::IsFinite(core::Load3(normals + 3 * i))) return false;
    const int64_t neighbours[4] = {i - 1, i + 1, i - width, i + width};
    for (int k = 0; k < 4; ++k) {
        if (!core::IsFinite(vertices[3 * neighbours[k] + 2])) return false;
    }
    return true;
}

void SEMSLAM_KERNEL(Associate)(const core::Device& device, SurfelArrays s, const uint64_t* fine_keys,
                               core::Rigid3f T_cam_world, PinholeIntrinsics K, int width, int height,
                               const float* vertices, const float* normals, int time, SurfelMapParams params,
                               int32_t* pixel_match, uint8_t* flags, uint32_t* owners) {
    const int scale = params.index_scale;
    const int fine_width = width * scale, fine_height = height * scale;
    const float half_window = 0.5f * static_cast<float>(scale * params.window_multiplier);
    const float cos_gate = cosf(params.fuse_normal_angle);
    core::ParallelFor2D(device, width, height, SEMSLAM_LAMBDA(int x, int y) {
        const int64_t i = static_cast<int64_t>(y) * width + x;
        pixel_match[i] = -2;
        flags[i] = 0;
        if (!FusablePixel(vertices, normals, x, y, width, height, time, params)) return;
        const Vec3f v = core::Load3(vertices + 3 * i);
        const Vec3f nv = core::Load3(normals + 3 * i);
        const Vec3f ray = {(static_cast<float>(x) - K.cx) / K.fx, (static_cast<float>(y) - K.cy) / K.fy, 1.0f};
        const float ray_length = core::Norm(ray);
        // The fine pixels ElasticFusion's half-sub-pixel sampling visits: index_scale *
        // window_multiplier of them per axis, centred on the pixel.
        const float gx = static_cast<float>(scale) * (static_cast<float>(x) + 0.5f);
        const float gy = static_cast<float>(scale) * (static_cast<float>(y) + 0.5f);
        int x0 = static_cast<int>(floorf(gx - half_window)), x1 = static_cast<int>(floorf(gx + half_window - 0.5f));
        int y0 = static_cast<int>(floorf(gy - half_window)), y1 = static_cast<int>(floorf(gy + half_window - 0.5f));
        x0 = x0 < 0 ? 0 : x0;
        y0 = y0 < 0 ? 0 : y0;
        x1 = x1 > fine_width - 1 ? fine_width - 1 : x1;
        y1 = y1 > fine_height - 1 ? fine_height - 1 : y1;
        float best_distance = 1000.0f;
        int32_t best = -1;
        for (int fx = x0; fx <= x1; ++fx) {  // x outer, y inner, first best kept: as ElasticFusion
            for (int fy = y0; fy <= y1; ++fy) {
                const int32_t j = KeyIndex(fine_keys[static_cast<int64_t>(fy) * fine_width + fx]);
                if (j < 0) continue;
                const Vec3f p = T_cam_world.Apply(core::Load3(s.positions + 3 * j));
                if (!(fabsf(p.z - v.z) * ray_length < params.fuse_depth_gate)) continue;
                const float distance = core::Norm(core::Cross(ray, p)) / ray_length;
                if (!(distance < best_distance)) continue;
                const Vec3f n = T_cam_world.Rotate(core::Load3(s.normals + 3 * j));
                const float cos_angle = core::Dot(n, nv) / (core::Norm(n) * core::Norm(nv));
                if (fabsf(n.z) < params.fuse_grazing_normal_z || cos_angle > cos_gate) {
                    best_distance = distance;
                    best = j;
                }
            }
        }
        pixel_match[i] = best;
        if (best < 0) {
            flags[i] = 1;
            return;
        }
        core::AtomicMin(owners + best, static_cast<uint32_t>(i));
    });
}

void SEMSLAM_KERNEL(ApplyUpdates)(const core::Device& device, SurfelArrays s, const int32_t* pixel_match,
                                  uint32_t* owners, core::Rigid3f T_world_cam, PinholeIntrinsics K, int width,
                                  int height, const float* vertices, const float* normals, const uint8_t* rgb,
                                  int time, float weight, SurfelMapParams params, double* stats) {
    core::ReduceSum<4>(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i, float* row) {
        const int32_t b = pixel_match[i];
        if (b == -2) return false;
        row[0] = 1.0f;  // fused
        row[1] = b >= 0 ? 1.0f : 0.0f;
        row[2] = row[3] = 0.0f;
        if (b < 0 || LoadRelaxed(owners + b) != static_cast<uint32_t>(i)) return true;
        StoreRelaxed(owners + b, kNoOwner);  // leave the slot clean for the next frame
        row[2] = 1.0f;
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        const Vec3f v_cam = core::Load3(vertices + 3 * i);
        const Vec3f n_cam = core::Load3(normals + 3 * i);
        const float a = weight * MeasurementConfidence(x, y, K, width, height, params.confidence_sigma);
        const float r_new = MeasurementRadius(v_cam.z, n_cam.z, K, params.radius_max_factor);
        const float c = s.confidences[b];
        if (r_new < params.fuse_radius_ratio * s.radii[b]) {
            const float inv = 1.0f / (c + a);
            const Vec3f v = T_world_cam.Apply(v_cam);
            const Vec3f n = T_world_cam.Rotate(n_cam);
            const Vec3f colour = {static_cast<float>(rgb[3 * i]), static_cast<float>(rgb[3 * i + 1]),
                                  static_cast<float>(rgb[3 * i + 2])};
            core::Store3(s.positions + 3 * b, inv * (c * core::Load3(s.positions + 3 * b) + a * v));
            core::Store3(s.colours + 3 * b, inv * (c * core::Load3(s.colours + 3 * b) + a * colour));
            core::Store3(s.normals + 3 * b, Normalized(inv * (c * core::Load3(s.normals + 3 * b) + a * n)));
            s.radii[b] = inv * (c * s.radii[b] + a * r_new);
            row[3] = 1.0f;
        }
        s.confidences[b] = c + a;
        s.last_update_times[b] = time;
        return true;
    }, stats);
}

void SEMSLAM_KERNEL(WriteNewSurfels)(const core::Device& device, SurfelArrays s, int64_t base, const int32_t* ranks,
                                     core::Rigid3f T_world_cam, PinholeIntrinsics K, int width, int height,
                                     const float* vertices, const float* normals, const uint8_t* rgb, int time,
                                     float weight, SurfelMapParams params) {
    const float uniform = s.num_classes > 0 ? 1.0f / static_cast<float>(s.num_classes) : 0.0f;
    const uint16_t uniform_f16 = core::FloatToHalf(uniform);
    const float uniform_as_half = core::HalfToFloat(uniform_f16);
    core::ParallelFor(device, static_cast<int64_t>(width) * height, SEMSLAM_LAMBDA(int64_t i) {
        const int32_t rank = ranks[i];
        if (rank < 0) return;
        const int64_t k = base + rank;
        const int x = static_cast<int>(i % width), y = static_cast<int>(i / width);
        const Vec3f v_cam = core::Load3(vertices + 3 * i);
        const Vec3f n_cam = core::Load3(normals + 3 * i);
        core::Store3(s.positions + 3 * k, T_world_cam.Apply(v_cam));
        core::Store3(s.normals + 3 * k, T_world_cam.Rotate(n_cam));
        core::Store3(s.colours + 3 * k, {static_cast<float>(rgb[3 * i]), static_cast<float>(rgb[3 * i + 1]),
                                         static_cast<float>(rgb[3 * i + 2])});
        s.radii[k] = MeasurementRadius(v_cam.z, n_cam.z, K, params.radius_max_factor);
        s.confidences[k] = weight * MeasurementConfidence(x, y, K, width, height, params.confidence_sigma);
        s.init_times[k] = time;
        s.last_update_times[k] = time;
        s.instance_ids[k] = -1;
        // Uniform class probabilities (float or half storage); argmax the first class.
        for (int c = 0; c < s.num_classes; ++c) {
            if (s.class_probs_f16 != nullptr) {
                s.class_probs_f16[k * s.num_classes + c] = uniform_f16;
            } else {
                s.class_probs[k * s.num_classes + c] = uniform;
            }
        }
        s.labels[k] = s.num_classes > 0 ? 0 : -1;
        s.label_confidences[k] = s.num_classes > 0 ? (s.class_probs_f16 != nullptr ? uniform_as_half : uniform) : 0.0f;
    });
}

}  // namespace kernel
}  // namespace map
}  // namespace semslam
