// Kernel bodies of cleaning the surfel map (ElasticFusion copy_unstable.vert without the
// deformation part) and of the stable compaction that keeps every per-surfel field aligned.
#pragma once

#include "semslam/core/Reduce.h"
#include "semslam/map/kernel/SurfelMapCommon.h"
#include "semslam/map/kernel/SurfelMapKernels.h"

namespace semslam {
namespace map {
namespace kernel {

// The window of the overlap / free-space tests samples the fine index map every half sub-pixel,
// as ElasticFusion does, so a sub-pixel counts once or twice per axis: at most this many distinct
// sub-pixels per axis (index_scale * window_multiplier <= 16 is checked on the host).
constexpr int kMaxWindowTaps = 17;
// The window's cells reach up to index_scale - 1 <= 15 sub-pixels beyond its samples on each side.
constexpr int kWindowPad = 16;
constexpr int kWindowWeights = kWindowPad + kMaxWindowTaps + kWindowPad;

// floorf for finite values within int range, without the libm call floorf is on CPUs without SSE4.1.
SEMSLAM_HOST_DEVICE inline int FloorToInt(float x) {
    const int t = static_cast<int>(x);
    return x < static_cast<float>(t) ? t - 1 : t;
}

// On the CPU, starts the cache miss of data[places[i + kIndexPrefetchDistance]] (when that place is
// >= 0), for reading or for writing; nothing on the GPU (see SEMSLAM_PREFETCH_FOR_READ, and
// PrefetchFineSlot on why a helper).
template <typename T>
SEMSLAM_FORCE_INLINE void PrefetchAhead(T* data, const int32_t* places, int64_t i, int64_t n, bool for_write) {
#if !defined(__CUDA_ARCH__)
    if (i + kIndexPrefetchDistance >= n) return;
    const int32_t ahead = places[i + kIndexPrefetchDistance];
    if (ahead < 0) return;
    if (for_write) {
        SEMSLAM_PREFETCH_FOR_WRITE(data + ahead);
    } else {
        SEMSLAM_PREFETCH_FOR_READ(data + ahead);
    }
#endif
}

// The pixel (bucket) of fine index map slot `slot` when surfel i won it and is stable, else -1.
SEMSLAM_HOST_DEVICE inline int32_t IndexedCell(const SurfelArrays& s, int64_t i, const uint64_t* fine_keys,
                                               const int32_t* slots, int fine_width, int width,
                                               const SurfelMapParams& params, int32_t* fine_x, int32_t* fine_y) {
    const int32_t slot = slots[i];
    if (slot < 0 || KeyIndex(fine_keys[slot]) != static_cast<int32_t>(i)) return -1;
    if (!(s.confidences[i] > params.confidence_threshold)) return -1;  // the window tests skip it
    *fine_y = slot / fine_width;
    *fine_x = slot - *fine_y * fine_width;
    return (*fine_y / params.index_scale) * width + *fine_x / params.index_scale;
}

void SEMSLAM_KERNEL(CountIndexed)(const core::Device& device, SurfelArrays s, int64_t n, const uint64_t* fine_keys,
                                  const int32_t* slots, int fine_width, int width, SurfelMapParams params,
                                  int32_t* cell_counts, int32_t* cells) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        // the slot's key is a random place in the fine map, and the count an atomic
        PrefetchAhead(fine_keys, slots, i, n, false);
        int32_t fx, fy;
        const int32_t cell = IndexedCell(s, i, fine_keys, slots, fine_width, width, params, &fx, &fy);
        cells[i] = cell;
        if (cell >= 0) core::AtomicAdd(cell_counts + cell, 1);
    });
}

// The order within a pixel's list depends on thread timing; Clean only sums integer counts over it.
void SEMSLAM_KERNEL(ScatterIndexed)(const core::Device& device, SurfelArrays s, int64_t n, const int32_t* cells,
                                    const int32_t* slots, core::Rigid3f T_cam_world, int fine_width, int time,
                                    const int32_t* cell_offsets, int32_t* cell_counts, IndexedSurfel* indexed) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        PrefetchAhead(cell_counts, cells, i, n, true);  // as in CountIndexed
        const int32_t cell = cells[i];
        if (cell < 0) return;
        const int32_t fy = slots[i] / fine_width, fx = slots[i] - fy * fine_width;
        const int32_t k = cell_offsets[cell] + core::AtomicAdd(cell_counts + cell, -1) - 1;
        const Vec3f q = T_cam_world.Apply(core::Load3(s.positions + 3 * i));
        IndexedSurfel e;
        e.x = q.x;
        e.y = q.y;
        e.z = q.z;
        e.fine_x = fx;
        e.fine_y = fy;
        e.init_time = s.init_times[i];
        e.updated = s.last_update_times[i] == time ? 1 : 0;
        e.unused = 0;
        indexed[k] = e;
    });
}

// Flags: 1 keep, 2 unstable and stale, 3 in front of older stable surfels (a duplicate),
// 4 in front of surface observed this frame (free-space violation). The window's sub-pixels are
// visited through the per-pixel lists of stable fine-map winners (cell_offsets, indexed): the
// same surfels, with the same multiplicities, as reading the fine index map sub-pixel by sub-pixel.
// A stale unstable surfel is removed whatever its window holds, so its window is not read.
void SEMSLAM_KERNEL(CleanFlags)(const core::Device& device, SurfelArrays s, int64_t n, bool have_pose,
                                const int32_t* cell_offsets, const IndexedSurfel* indexed, core::Rigid3f T_cam_world,
                                PinholeIntrinsics K, int width, int height, int time, SurfelMapParams params,
                                uint8_t* flags, double* stats) {
    const int scale = params.index_scale;
    const int fine_width = width * scale, fine_height = height * scale;
    const int samples = 2 * scale * params.window_multiplier;  // half-sub-pixel steps per axis
    const float half_window = 0.5f * static_cast<float>(scale * params.window_multiplier);
    core::ReduceSum<3>(device, n, SEMSLAM_LAMBDA(int64_t i, float* row) {
        const int last = s.last_update_times[i];
        const float confidence = s.confidences[i];
        const int unstable_time = s.instance_ids[i] >= 0 ? params.unstable_time_object : params.unstable_time;
        const bool stale_unstable = time - last > unstable_time && confidence < params.confidence_threshold;
        uint8_t flag = 1;
        if (have_pose && time - last < params.time_window && !stale_unstable) {
            const Vec3f p = T_cam_world.Apply(core::Load3(s.positions + 3 * i));
            float u = 0.0f, v = 0.0f;
            if (p.z > 0.0f) K.Project(p, &u, &v);
            if (p.z > 0.0f && u > -0.5f && v > -0.5f && u < width - 0.5f && v < height - 0.5f) {
                const Vec3f nrm = Normalized(T_cam_world.Rotate(core::Load3(s.normals + 3 * i)));
                const bool facing = fabsf(nrm.z) > params.free_space_normal_z;
                const float lateral_max = s.radii[i] * params.merge_radius_factor;
                const int init = s.init_times[i];
                // How often the half-step samples hit each sub-pixel per axis, indexed from the first
                // sample's sub-pixel (x_first, y_first) plus kWindowPad: the samples' sub-pixels are
                // consecutive, and the zeros around them give the sub-pixels of the window's cells
                // outside it weight 0, so every list entry is weighed without a branch. Samples
                // outside the image need no clipping: no entry lies there.
                int xm[kWindowWeights], ym[kWindowWeights];
                for (int k = 0; k < kWindowWeights; ++k) xm[k] = ym[k] = 0;
                const float gx = static_cast<float>(scale) * (u + 0.5f) - half_window;
                const float gy = static_cast<float>(scale) * (v + 0.5f) - half_window;
                const int x_first = FloorToInt(gx), y_first = FloorToInt(gy);
                for (int k = 0; k < samples; ++k) {
                    ++xm[kWindowPad + FloorToInt(gx + 0.5f * k) - x_first];
                    ++ym[kWindowPad + FloorToInt(gy + 0.5f * k) - y_first];
                }
                const int x_last = FloorToInt(gx + 0.5f * (samples - 1));
                const int y_last = FloorToInt(gy + 0.5f * (samples - 1));
                // The pixels (cells) the in-image samples lie in; a row's cells are consecutive lists.
                const int cx0 = (x_first > 0 ? x_first : 0) / scale;
                const int cx1 = (x_last < fine_width - 1 ? x_last : fine_width - 1) / scale;
                const int cy0 = (y_first > 0 ? y_first : 0) / scale;
                const int cy1 = (y_last < fine_height - 1 ? y_last : fine_height - 1) / scale;
                int count = 0, z_count = 0;
                for (int cy = cy0; cy <= cy1; ++cy) {
                    const int32_t end = cell_offsets[cy * width + cx1 + 1];
                    for (int32_t e = cell_offsets[cy * width + cx0]; e < end; ++e) {
                        const IndexedSurfel& q = indexed[e];
                        const int weight = ym[kWindowPad + q.fine_y - y_first] * xm[kWindowPad + q.fine_x - x_first];
                        const float behind = q.z - p.z;
                        const float dx = q.x - p.x, dy = q.y - p.y;
                        const bool in_front = q.z > p.z;
                        const bool overlaps = in_front & (q.init_time < init) & (behind < params.merge_depth) &
                                              (sqrtf(dx * dx + dy * dy) < lateral_max);
                        const bool occludes = in_front & facing & (q.updated != 0) & (behind > params.free_space_depth);
                        count += overlaps ? weight : 0;
                        z_count += occludes ? weight : 0;
                    }
                }
                if (count > params.merge_count) {
                    flag = 3;
                } else if (z_count > params.free_space_count) {
                    flag = 4;
                }
            }
        }
        if (stale_unstable) flag = 2;
        if (time - last > params.time_window) flag = 1;  // inactive surfels are kept as they are
        flags[i] = flag;
        if (flag == 1) return false;
        row[0] = flag == 2 ? 1.0f : 0.0f;
        row[1] = flag == 3 ? 1.0f : 0.0f;
        row[2] = flag == 4 ? 1.0f : 0.0f;
        return true;
    }, stats);
}

void SEMSLAM_KERNEL(ChunkSums)(const core::Device& device, const int32_t* counts, int64_t n, int32_t* sums) {
    const int64_t chunk = (n + kRankChunks - 1) / kRankChunks;
    core::ParallelFor(device, kRankChunks, SEMSLAM_LAMBDA(int64_t c) {
        const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
        int32_t total = 0;
        for (int64_t i = begin; i < end; ++i) total += counts[i];
        sums[c] = total;
    });
}

void SEMSLAM_KERNEL(ChunkOffsets)(const core::Device& device, const int32_t* counts, int64_t n,
                                  const int32_t* chunk_offsets, int32_t total, int32_t* offsets) {
    const int64_t chunk = (n + kRankChunks - 1) / kRankChunks;
    core::ParallelFor(device, kRankChunks, SEMSLAM_LAMBDA(int64_t c) {
        const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
        int32_t next = chunk_offsets[c];
        for (int64_t i = begin; i < end; ++i) {
            offsets[i] = next;
            next += counts[i];
        }
        if (c == kRankChunks - 1) offsets[n] = total;
    });
}

void SEMSLAM_KERNEL(ChunkCounts)(const core::Device& device, const uint8_t* flags, int64_t n, int32_t* counts) {
    const int64_t chunk = (n + kRankChunks - 1) / kRankChunks;
    core::ParallelFor(device, kRankChunks, SEMSLAM_LAMBDA(int64_t c) {
        const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
        int32_t total = 0;
        for (int64_t i = begin; i < end; ++i) total += flags[i] == 1;
        counts[c] = total;
    });
}

void SEMSLAM_KERNEL(ChunkRanks)(const core::Device& device, const uint8_t* flags, int64_t n, const int32_t* offsets,
                                int32_t* ranks) {
    const int64_t chunk = (n + kRankChunks - 1) / kRankChunks;
    core::ParallelFor(device, kRankChunks, SEMSLAM_LAMBDA(int64_t c) {
        const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
        int32_t next = offsets[c];
        for (int64_t i = begin; i < end; ++i) ranks[i] = flags[i] == 1 ? next++ : -1;
    });
}

void SEMSLAM_KERNEL(ScatterFloat)(const core::Device& device, const float* src, float* dst, const int32_t* ranks,
                                  int64_t n, int stride) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        const int32_t r = ranks[i];
        if (r < 0) return;
        for (int k = 0; k < stride; ++k) dst[static_cast<int64_t>(r) * stride + k] = src[i * stride + k];
    });
}

void SEMSLAM_KERNEL(ScatterInt)(const core::Device& device, const int32_t* src, int32_t* dst, const int32_t* ranks,
                                int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        const int32_t r = ranks[i];
        if (r >= 0) dst[r] = src[i];
    });
}

void SEMSLAM_KERNEL(ScatterHalf)(const core::Device& device, const uint16_t* src, uint16_t* dst, const int32_t* ranks,
                                 int64_t n, int stride) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        const int32_t r = ranks[i];
        if (r < 0) return;
        for (int k = 0; k < stride; ++k) dst[static_cast<int64_t>(r) * stride + k] = src[i * stride + k];
    });
}

void SEMSLAM_KERNEL(CopyHalf)(const core::Device& device, const uint16_t* src, uint16_t* dst, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) { dst[i] = src[i]; });
}

void SEMSLAM_KERNEL(CopyFloat)(const core::Device& device, const float* src, float* dst, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) { dst[i] = src[i]; });
}

void SEMSLAM_KERNEL(CopyInt)(const core::Device& device, const int32_t* src, int32_t* dst, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) { dst[i] = src[i]; });
}

void SEMSLAM_KERNEL(FillKeys)(const core::Device& device, uint64_t* data, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) { data[i] = core::kEmptyKey; });
}

void SEMSLAM_KERNEL(FillInt)(const core::Device& device, int32_t* data, int32_t value, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) { data[i] = value; });
}

void SEMSLAM_KERNEL(FillOwners)(const core::Device& device, uint32_t* data, int64_t n) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) { data[i] = kNoOwner; });
}

}  // namespace kernel
}  // namespace map
}  // namespace semslam
