// Device-specific entry points of the surfel-map kernels. Bodies: SurfelMapPredictImpl.h
// (splatting, index maps), SurfelMapFuseImpl.h (association, update, new surfels),
// SurfelMapCleanImpl.h (clean-up, ranking, compaction, fills). Raw pointers to memory on the
// device named; T_cam_world maps world points into the rendering camera.
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"
#include "semslam/map/SurfelMap.h"

namespace semslam {
namespace map {
namespace kernel {

// Counts the stable-compaction helpers split their input into (fixed: results do not depend on
// the thread count). Enough chunks that a GPU runs them side by side (each thread walks one chunk;
// 1024 left most of an H200 idle), few enough that the host sums their counts in microseconds.
constexpr int kRankChunks = 16384;

#define SEMSLAM_DECLARE_SURFEL_MAP(suffix)                                                                      \
    /* Predict: disk splatting, key pass then resolve (keys reset to kEmptyKey after). */                       \
    void SplatKeys##suffix(const core::Device& device, SurfelArrays s, int64_t n, core::Rigid3f T_cam_world,     \
                           PinholeIntrinsics K, int width, int height, int time, SurfelMapParams params,        \
                           uint64_t* keys);                                                                     \
    void ResolvePrediction##suffix(const core::Device& device, SurfelArrays s, uint64_t* keys,                   \
                                   core::Rigid3f T_cam_world, PinholeIntrinsics K, int width, int height,       \
                                   float* vertices, float* normals, float* colours, float* intensity,           \
                                   int32_t* index_map);                                                         \
    /* Fine index map: point splatting of the active surfels [0, n) into keys that stay the map; */             \
    /* slots[i] records the key each surfel wrote (-1 none) so ClearSlots can reset exactly those. */            \
    void IndexKeys##suffix(const core::Device& device, SurfelArrays s, int64_t n, core::Rigid3f T_cam_world,     \
                           PinholeIntrinsics K_fine, int fine_width, int fine_height, int time,                 \
                           SurfelMapParams params, uint64_t* keys, int32_t* slots);                             \
    void ClearSlots##suffix(const core::Device& device, uint64_t* keys, const int32_t* slots, int64_t n);        \
    /* Fuse: per pixel, the surfel matched (>= 0), -1 new, -2 not fused; flags = 1 for new. */                  \
    void Associate##suffix(const core::Device& device, SurfelArrays s, const uint64_t* fine_keys,               \
                           core::Rigid3f T_cam_world, PinholeIntrinsics K, int width, int height,               \
                           const float* vertices, const float* normals, int time, SurfelMapParams params,       \
                           int32_t* pixel_match, uint8_t* flags, uint32_t* owners);                             \
    /* stats: pixels fused, matched, surfels updated, averaged. */                                              \
    void ApplyUpdates##suffix(const core::Device& device, SurfelArrays s, const int32_t* pixel_match,           \
                              uint32_t* owners, core::Rigid3f T_world_cam, PinholeIntrinsics K, int width,       \
                              int height, const float* vertices, const float* normals, const uint8_t* rgb,       \
                              int time, float weight, SurfelMapParams params, double* stats);                   \
    void WriteNewSurfels##suffix(const core::Device& device, SurfelArrays s, int64_t base, const int32_t* ranks,  \
                                 core::Rigid3f T_world_cam, PinholeIntrinsics K, int width, int height,          \
                                 const float* vertices, const float* normals, const uint8_t* rgb, int time,      \
                                 float weight, SurfelMapParams params);                                         \
    /* Clean's buckets: per pixel, the stable surfels [0, n) that won a sub-pixel of the fine map in it: */    \
    /* counts first (AtomicAdd; cells[i]: surfel i's pixel or -1), then, given offsets, the records */         \
    /* (counts decremented back to 0). */                                                                       \
    void CountIndexed##suffix(const core::Device& device, SurfelArrays s, int64_t n, const uint64_t* fine_keys,  \
                              const int32_t* slots, int fine_width, int width, SurfelMapParams params,          \
                              int32_t* cell_counts, int32_t* cells);                                            \
    void ScatterIndexed##suffix(const core::Device& device, SurfelArrays s, int64_t n, const int32_t* cells,     \
                                const int32_t* slots, core::Rigid3f T_cam_world, int fine_width, int time,      \
                                const int32_t* cell_offsets, int32_t* cell_counts, IndexedSurfel* indexed);     \
    /* Clean: flags 1 keep, 2 unstable, 3 merged, 4 free space; stats counts of 2, 3, 4. */                     \
    void CleanFlags##suffix(const core::Device& device, SurfelArrays s, int64_t n, bool have_pose,              \
                            const int32_t* cell_offsets, const IndexedSurfel* indexed, core::Rigid3f T_cam_world,\
                            PinholeIntrinsics K, int width, int height, int time, SurfelMapParams params,       \
                            uint8_t* flags, double* stats);                                                     \
    /* Exclusive prefix sum of counts[0, n) in kRankChunks chunks: sums per chunk, then offsets [0, n]. */      \
    void ChunkSums##suffix(const core::Device& device, const int32_t* counts, int64_t n, int32_t* sums);        \
    void ChunkOffsets##suffix(const core::Device& device, const int32_t* counts, int64_t n,                      \
                              const int32_t* chunk_offsets, int32_t total, int32_t* offsets);                   \
    /* Stable ranking of flags == 1 in kRankChunks chunks: counts per chunk, then ranks (-1 others). */        \
    void ChunkCounts##suffix(const core::Device& device, const uint8_t* flags, int64_t n, int32_t* counts);     \
    void ChunkRanks##suffix(const core::Device& device, const uint8_t* flags, int64_t n, const int32_t* offsets, \
                            int32_t* ranks);                                                                    \
    void ScatterFloat##suffix(const core::Device& device, const float* src, float* dst, const int32_t* ranks,   \
                              int64_t n, int stride);                                                           \
    void ScatterInt##suffix(const core::Device& device, const int32_t* src, int32_t* dst, const int32_t* ranks,  \
                            int64_t n);                                                                         \
    void CopyFloat##suffix(const core::Device& device, const float* src, float* dst, int64_t n);                \
    void CopyInt##suffix(const core::Device& device, const int32_t* src, int32_t* dst, int64_t n);              \
    /* Half (uint16_t bits) rows of `stride` values: the float16 class-probability table. */                   \
    void ScatterHalf##suffix(const core::Device& device, const uint16_t* src, uint16_t* dst,                    \
                             const int32_t* ranks, int64_t n, int stride);                                      \
    void CopyHalf##suffix(const core::Device& device, const uint16_t* src, uint16_t* dst, int64_t n);           \
    void FillKeys##suffix(const core::Device& device, uint64_t* data, int64_t n);                               \
    void FillInt##suffix(const core::Device& device, int32_t* data, int32_t value, int64_t n);                  \
    void FillOwners##suffix(const core::Device& device, uint32_t* data, int64_t n);

SEMSLAM_DECLARE_SURFEL_MAP(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_SURFEL_MAP(CUDA)
#endif
#undef SEMSLAM_DECLARE_SURFEL_MAP

}  // namespace kernel
}  // namespace map
}  // namespace semslam
