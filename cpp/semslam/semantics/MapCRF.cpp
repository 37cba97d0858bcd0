#include "semslam/semantics/MapCRF.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "semslam/core/Buffer.h"
#include "semslam/core/Dispatch.h"
#include "semslam/map/SurfelMap.h"
#include "semslam/map/kernel/SurfelMapKernels.h"
#include "semslam/semantics/kernel/SemanticsKernels.h"

namespace semslam {
namespace semantics {

namespace {

// The grid has at most this many cells (64 MiB of counts); beyond, its cells double in size.
constexpr int64_t kMaxCells = int64_t{1} << 24;

void CheckParams(const CRFParams& p, int num_classes) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw std::invalid_argument("CRF parameters: " + message);
    };
    require(num_classes > 0, "the surfel map holds no class probabilities (num_classes is 0)");
    require(p.iterations >= 0, "iterations must be >= 0, got " + std::to_string(p.iterations));
    require(p.sigma_position > 0 && p.sigma_colour > 0 && p.sigma_normal > 0, "sigmas must be positive");
    require(p.appearance_weight >= 0 && p.smoothness_weight >= 0, "kernel weights must be >= 0");
    require(p.neighbour_radius > 0 && std::isfinite(p.neighbour_radius), "neighbour_radius must be positive");
    require(p.max_neighbours >= 1, "max_neighbours must be >= 1");
    require(p.probability_floor >= 0 && p.probability_floor * num_classes < 1,
            "probability_floor must be in [0, 1 / num_classes)");
}

// Exclusive prefix sum of counts[0, n) into offsets[0, n] with the map's chunked scan.
void ExclusiveScan(const core::Device& device, const int32_t* counts, int64_t n, int32_t* offsets) {
    core::Buffer<int32_t> chunks(map::kernel::kRankChunks, device);
    std::vector<int32_t> host;
    map::ChunkedExclusiveScan(device, counts, n, offsets, chunks, host);
}

kernel::CRFGrid MakeGrid(const core::Device& device, const float* positions, int64_t n, float radius) {
    core::Buffer<float> chunk_bounds(6 * kernel::kBoundsChunks, device);
    SEMSLAM_DISPATCH(device, ChunkBounds, positions, n, chunk_bounds.data());
    std::vector<float> b(6 * kernel::kBoundsChunks);
    chunk_bounds.CopyToHost(b.data());
    float lo[3], hi[3];
    for (int k = 0; k < 3; ++k) {
        lo[k] = b[k];
        hi[k] = b[3 + k];
        for (int c = 1; c < kernel::kBoundsChunks; ++c) {
            lo[k] = std::min(lo[k], b[6 * c + k]);
            hi[k] = std::max(hi[k], b[6 * c + 3 + k]);
        }
        if (lo[k] > hi[k]) lo[k] = hi[k] = 0.0f;  // no finite position
    }
    kernel::CRFGrid g;
    g.origin_x = lo[0];
    g.origin_y = lo[1];
    g.origin_z = lo[2];
    g.cell_size = radius;
    for (;;) {
        int64_t dims[3];
        for (int k = 0; k < 3; ++k) dims[k] = static_cast<int64_t>(std::floor((hi[k] - lo[k]) / g.cell_size)) + 1;
        if (dims[0] * dims[1] * dims[2] <= kMaxCells) {
            g.dims_x = static_cast<int32_t>(dims[0]);
            g.dims_y = static_cast<int32_t>(dims[1]);
            g.dims_z = static_cast<int32_t>(dims[2]);
            g.cells = static_cast<int32_t>(dims[0] * dims[1] * dims[2]);
            return g;
        }
        g.cell_size *= 2.0f;
    }
}

}  // namespace

CRFStats RunMapCRF(map::SurfelMap& m, const CRFParams& params) {
    const int C = m.num_classes();
    CheckParams(params, C);
    const int64_t n = m.size();
    CRFStats stats;
    stats.surfels = n;
    if (n == 0) return stats;
    const core::Device& device = m.device();
    const map::SurfelArrays s = m.Arrays();

    // the spatial hash: cells, counting sort of the surfels into them, each cell in index order
    const kernel::CRFGrid grid = MakeGrid(device, s.positions, n, params.neighbour_radius);
    stats.cells = grid.cells;
    stats.cell_size = grid.cell_size;
    const int64_t buckets = static_cast<int64_t>(grid.cells) + 1;  // + the cell of non-finite positions
    core::Buffer<int32_t> counts(buckets, device), offsets(buckets + 1, device), cell_of(n, device), order(n, device);
    counts.Fill0();
    SEMSLAM_DISPATCH(device, CountCells, s.positions, n, grid, cell_of.data(), counts.data());
    ExclusiveScan(device, counts.data(), buckets, offsets.data());
    SEMSLAM_DISPATCH(device, ScatterCells, cell_of.data(), n, offsets.data(), counts.data(), order.data());
    SEMSLAM_DISPATCH(device, SortCells, offsets.data(), grid.cells, order.data());

    // surfels in cell order, the kernels' normalisers, then mean-field steps
    core::Buffer<kernel::CRFEntry> entries(n, device);
    core::Buffer<float> q(static_cast<size_t>(n) * C, device), q_next(static_cast<size_t>(n) * C, device);
    SEMSLAM_DISPATCH(device, GatherEntries, s, order.data(), n, entries.data(), q.data());
    kernel::CRFKernelParams kp;
    kp.inv_two_sigma_position2 = 1.0f / (2.0f * params.sigma_position * params.sigma_position);
    kp.inv_two_sigma_colour2 = 1.0f / (2.0f * params.sigma_colour * params.sigma_colour);
    kp.inv_two_sigma_normal2 = 1.0f / (2.0f * params.sigma_normal * params.sigma_normal);
    kp.appearance_weight = params.appearance_weight;
    kp.smoothness_weight = params.smoothness_weight;
    kp.radius2 = params.neighbour_radius * params.neighbour_radius;
    kp.max_neighbours = params.max_neighbours;
    core::Buffer<int32_t> strides(n, device);
    core::Buffer<float> coef_a(n, device), coef_s(n, device);
    double neighbours[2];
    SEMSLAM_DISPATCH(device, CRFNormalisers, entries.data(), n, grid, offsets.data(), kp, strides.data(),
                     coef_a.data(), coef_s.data(), neighbours);
    stats.mean_neighbours = neighbours[0] / static_cast<double>(n);
    stats.isolated = n - static_cast<int64_t>(neighbours[1]);
    for (int it = 0; it < params.iterations; ++it) {
        SEMSLAM_DISPATCH(device, CRFStep, s, entries.data(), n, grid, offsets.data(), kp, strides.data(),
                         coef_a.data(), coef_s.data(), q.data(), q_next.data());
        std::swap(q, q_next);
    }
    double changed = 0.0;
    SEMSLAM_DISPATCH(device, CRFWriteBack, s, entries.data(), n, q.data(), params.probability_floor, &changed);
    stats.labels_changed = static_cast<int64_t>(changed);
    return stats;
}

}  // namespace semantics
}  // namespace semslam
