// Device-specific entry points of the semantic kernels. Bodies: LabelFusionImpl.h (the recursive
// Bayesian label update) and MapCRFImpl.h (the dense CRF over surfels and its spatial hash).
// Raw pointers to memory on the device named; tables of class probabilities are [N * C] row-major
// (float or half bits, as SurfelArrays holds them).
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"
#include "semslam/map/SurfelMap.h"

namespace semslam {
namespace semantics {
namespace kernel {

// Chunks the bounds reduction splits the surfels into (fixed: results do not depend on threads).
constexpr int kBoundsChunks = 256;

// The CRF's uniform grid: cell (x, y, z) = floor((p - origin) / cell_size), id x + dims_x (y + dims_y z);
// surfels without a finite position go to the extra cell `cells`.
struct CRFGrid {
    float origin_x, origin_y, origin_z;
    float cell_size;  // m, >= the neighbour radius
    int32_t dims_x, dims_y, dims_z;
    int32_t cells;
};

// A surfel as the CRF's neighbour loops read it, in cell order.
struct CRFEntry {
    float x, y, z;     // world, metres
    float r, g, b;     // 0..255
    float nx, ny, nz;  // world, unit
    int32_t index;     // the surfel's index in the map
};

struct CRFKernelParams {
    float inv_two_sigma_position2;  // 1 / (2 sigma_position^2)
    float inv_two_sigma_colour2;
    float inv_two_sigma_normal2;
    float appearance_weight, smoothness_weight;
    float radius2;                  // neighbour radius squared
    int32_t max_neighbours;         // candidates sampled per surfel (a stride through its 27 cells)
};

#define SEMSLAM_DECLARE_SEMANTICS(suffix)                                                                      \
    /* The Bayesian update of surfels [0, n) visible in the fine index map (slots: the key each wrote). */      \
    /* probs: [H * W * C] float (probs_f32) or half bits (probs_f16), the other null. */                         \
    /* stats: visible, updated, rejected (pixel probabilities invalid or zero on every class held). */            \
    void UpdateLabels##suffix(const core::Device& device, map::SurfelArrays s, int64_t n, const uint64_t* fine_keys, \
                              const int32_t* slots, int fine_width, int index_scale, const float* probs_f32,     \
                              const uint16_t* probs_f16, int width, float probability_floor, double* stats);     \
    /* Per chunk of surfels: min xyz, max xyz of the finite positions (+-inf when none). */                      \
    void ChunkBounds##suffix(const core::Device& device, const float* positions, int64_t n, float* bounds);     \
    /* cell_of[i] = the surfel's cell; counts[cell] += 1 (counts [cells + 1] zeroed). */                          \
    void CountCells##suffix(const core::Device& device, const float* positions, int64_t n, CRFGrid grid,        \
                            int32_t* cell_of, int32_t* counts);                                                 \
    /* order[offsets[cell] + k] = surfel, counts decremented back to 0; then each cell sorted by index. */       \
    void ScatterCells##suffix(const core::Device& device, const int32_t* cell_of, int64_t n,                    \
                              const int32_t* offsets, int32_t* counts, int32_t* order);                         \
    void SortCells##suffix(const core::Device& device, const int32_t* offsets, int32_t cells, int32_t* order);  \
    /* entries[e] from surfel order[e]; q[e] = its probabilities normalised (the mean field's start). */          \
    void GatherEntries##suffix(const core::Device& device, map::SurfelArrays s, const int32_t* order, int64_t n, \
                               CRFEntry* entries, float* q);                                                    \
    /* Per entry: the sampling stride and the kernels' normalisers as message coefficients: */                  \
    /* coef_a = stride w_a / Z_a, coef_s = stride w_s / Z_s. */                                                   \
    /* stats: sampled neighbours within the radius, entries with at least one. */                                \
    void CRFNormalisers##suffix(const core::Device& device, const CRFEntry* entries, int64_t n, CRFGrid grid,    \
                                const int32_t* offsets, CRFKernelParams params, int32_t* strides,              \
                                float* coef_a, float* coef_s, double* stats);                                   \
    /* One mean-field step: q_next = softmax(log p - unary clamp + messages from q). */                          \
    void CRFStep##suffix(const core::Device& device, map::SurfelArrays s, const CRFEntry* entries, int64_t n,    \
                         CRFGrid grid, const int32_t* offsets, CRFKernelParams params, const int32_t* strides, \
                         const float* coef_a, const float* coef_s, const float* q, float* q_next);              \
    /* Writes q (entry order) back to the table with the floor, and the labels; stats: labels changed. */        \
    void CRFWriteBack##suffix(const core::Device& device, map::SurfelArrays s, const CRFEntry* entries,          \
                              int64_t n, const float* q, float probability_floor, double* stats);

SEMSLAM_DECLARE_SEMANTICS(CPU)
#ifdef SEMSLAM_WITH_CUDA
SEMSLAM_DECLARE_SEMANTICS(CUDA)
#endif
#undef SEMSLAM_DECLARE_SEMANTICS

}  // namespace kernel
}  // namespace semantics
}  // namespace semslam
