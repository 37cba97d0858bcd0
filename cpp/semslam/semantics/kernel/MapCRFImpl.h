// Kernel bodies of the dense CRF over surfels (SemanticFusion, McCormac et al. ICRA 2017, whose
// map CRF is Krahenbuhl and Koltun's DenseCRF with Potts compatibility, NIPS 2011), written once
// for both devices, and of the spatial hash its messages travel through.
//
// Spatial hash: a uniform grid of cells at least the neighbour radius wide, built each call by a
// counting sort (cell counts by atomics, a chunked prefix sum, atomic scatter, then each cell's
// list sorted by surfel index so the layout does not depend on thread timing). A surfel's
// neighbours lie in the 27 cells around its own.
//
// Mean field, per surfel i and class l, starting from Q = p:
//   Q_i(l) <- softmax_l( log p_i(l) + sum_k w_k sum_j k_k(i, j) Q_j(l) / (1 + sum_j k_k(i, j)) )
// k_a = exp(-|dp|^2 / 2 s_p^2 - |dc|^2 / 2 s_c^2) (appearance), k_s = exp(-|dp|^2 / 2 s_p^2 - |dn|^2 / 2 s_n^2)
// (smoothness); j != i ranges over the surfels within the radius. As in SemanticFusion's lattice
// filtering, each kernel's message is normalised by its sum over the neighbourhood including the
// surfel itself (kernel value 1: the 1 in the denominator); unlike the lattice, the surfel's own Q
// is not part of its message (the paper's j != i), so a surfel never reinforces its own belief and
// one without neighbours keeps it. Potts: the message adds to agreeing labels, which equals
// penalising disagreeing ones up to a per-surfel constant.
//
// Sampling: dense surfaces put thousands of surfels within a 3-sigma radius, so each surfel visits
// a stride through its 27 cells, stride = ceil(candidates / max_neighbours), keeping the k-th surfel
// of a cell when k % stride == i % stride; each sampled neighbour counts stride times. The
// normalised message is then an estimate of the full one at a fixed cost per surfel.
//
// Everything is computed in cell order (entries), so a cell's neighbours are read contiguously.
#pragma once

#include "semslam/core/Atomic.h"
#include "semslam/core/Half.h"
#include "semslam/core/Math.h"
#include "semslam/core/Reduce.h"
#include "semslam/semantics/kernel/SemanticsKernels.h"

namespace semslam {
namespace semantics {
namespace kernel {

constexpr float kBoundsEmpty = 3.0e38f;  // min of no positions (max: its negative)
constexpr float kUnaryClamp = 1e-12f;     // log p of a zero probability is taken at this

// The cell of a position, false when it is not finite.
SEMSLAM_HOST_DEVICE inline bool CellOf(const CRFGrid& g, float x, float y, float z, int32_t* cx, int32_t* cy,
                                       int32_t* cz) {
    if (!core::IsFinite(x) || !core::IsFinite(y) || !core::IsFinite(z)) return false;
    const int32_t ix = static_cast<int32_t>(floorf((x - g.origin_x) / g.cell_size));
    const int32_t iy = static_cast<int32_t>(floorf((y - g.origin_y) / g.cell_size));
    const int32_t iz = static_cast<int32_t>(floorf((z - g.origin_z) / g.cell_size));
    // within [0, dims) by construction of the grid; clamped against a position set since
    *cx = ix < 0 ? 0 : (ix >= g.dims_x ? g.dims_x - 1 : ix);
    *cy = iy < 0 ? 0 : (iy >= g.dims_y ? g.dims_y - 1 : iy);
    *cz = iz < 0 ? 0 : (iz >= g.dims_z ? g.dims_z - 1 : iz);
    return true;
}

// The surfels sampled around entry e (stride, phase = its surfel index % stride), within the
// radius. With q null: sums the two kernels into sum_a, sum_s. Otherwise adds
// (coef_a k_a + coef_s k_s) q_j to row. Returns how many neighbours it visited.
SEMSLAM_HOST_DEVICE inline int32_t NeighbourPass(const CRFEntry* entries, int64_t e, const CRFGrid& grid,
                                                 const int32_t* offsets, const CRFKernelParams& p, int32_t stride,
                                                 const float* q, int C, float coef_a, float coef_s, float* row,
                                                 float* sum_a, float* sum_s) {
    const CRFEntry self = entries[e];
    int32_t cx, cy, cz;
    if (!CellOf(grid, self.x, self.y, self.z, &cx, &cy, &cz)) return 0;
    const int32_t phase = self.index % stride;
    int32_t visited = 0;
    for (int32_t z = cz - 1; z <= cz + 1; ++z) {
        if (z < 0 || z >= grid.dims_z) continue;
        for (int32_t y = cy - 1; y <= cy + 1; ++y) {
            if (y < 0 || y >= grid.dims_y) continue;
            for (int32_t x = cx - 1; x <= cx + 1; ++x) {
                if (x < 0 || x >= grid.dims_x) continue;
                const int32_t cell = x + grid.dims_x * (y + grid.dims_y * z);
                const int32_t begin = offsets[cell], end = offsets[cell + 1];
                for (int32_t j = begin + phase; j < end; j += stride) {
                    if (j == e) continue;
                    const CRFEntry other = entries[j];
                    const float dx = other.x - self.x, dy = other.y - self.y, dz = other.z - self.z;
                    const float d2 = dx * dx + dy * dy + dz * dz;
                    if (!(d2 <= p.radius2)) continue;
                    const float dr = other.r - self.r, dg = other.g - self.g, db = other.b - self.b;
                    const float dnx = other.nx - self.nx, dny = other.ny - self.ny, dnz = other.nz - self.nz;
                    const float position = d2 * p.inv_two_sigma_position2;
                    const float arg_a = position + (dr * dr + dg * dg + db * db) * p.inv_two_sigma_colour2;
                    const float arg_s = position + (dnx * dnx + dny * dny + dnz * dnz) * p.inv_two_sigma_normal2;
                    if (!(arg_a >= 0.0f) || !(arg_s >= 0.0f) || !core::IsFinite(arg_a) || !core::IsFinite(arg_s)) {
                        continue;  // a colour or normal that is not finite
                    }
                    const float k_a = core::ExpNonPositive(-arg_a), k_s = core::ExpNonPositive(-arg_s);
                    ++visited;
                    if (q == nullptr) {
                        *sum_a += k_a;
                        *sum_s += k_s;
                    } else {
                        const float w = coef_a * k_a + coef_s * k_s;
                        const float* qj = q + static_cast<int64_t>(j) * C;
                        for (int l = 0; l < C; ++l) row[l] += w * qj[l];
                    }
                }
            }
        }
    }
    return visited;
}

void SEMSLAM_KERNEL(ChunkBounds)(const core::Device& device, const float* positions, int64_t n, float* bounds) {
    const int64_t chunk = (n + kBoundsChunks - 1) / kBoundsChunks;
    core::ParallelFor(device, kBoundsChunks, SEMSLAM_LAMBDA(int64_t c) {
        float lo[3] = {kBoundsEmpty, kBoundsEmpty, kBoundsEmpty}, hi[3] = {-kBoundsEmpty, -kBoundsEmpty, -kBoundsEmpty};
        const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
        for (int64_t i = begin; i < end; ++i) {
            const core::Vec3f v = core::Load3(positions + 3 * i);
            if (!core::IsFinite(v)) continue;
            const float xyz[3] = {v.x, v.y, v.z};
            for (int k = 0; k < 3; ++k) {
                lo[k] = xyz[k] < lo[k] ? xyz[k] : lo[k];
                hi[k] = xyz[k] > hi[k] ? xyz[k] : hi[k];
            }
        }
        for (int k = 0; k < 3; ++k) {
            bounds[6 * c + k] = lo[k];
            bounds[6 * c + 3 + k] = hi[k];
        }
    });
}

void SEMSLAM_KERNEL(CountCells)(const core::Device& device, const float* positions, int64_t n, CRFGrid grid,
                                int32_t* cell_of, int32_t* counts) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        int32_t cx, cy, cz;
        const int32_t cell = CellOf(grid, positions[3 * i], positions[3 * i + 1], positions[3 * i + 2], &cx, &cy, &cz)
                                 ? cx + grid.dims_x * (cy + grid.dims_y * cz)
                                 : grid.cells;
        cell_of[i] = cell;
        core::AtomicAdd(counts + cell, 1);
    });
}

void SEMSLAM_KERNEL(ScatterCells)(const core::Device& device, const int32_t* cell_of, int64_t n,
                                  const int32_t* offsets, int32_t* counts, int32_t* order) {
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t i) {
        const int32_t cell = cell_of[i];
        order[offsets[cell] + core::AtomicAdd(counts + cell, -1) - 1] = static_cast<int32_t>(i);
    });
}

// Shell sort of each cell's surfel indices (Knuth's gaps): a few thousand per cell at most.
void SEMSLAM_KERNEL(SortCells)(const core::Device& device, const int32_t* offsets, int32_t cells, int32_t* order) {
    core::ParallelFor(device, static_cast<int64_t>(cells) + 1, SEMSLAM_LAMBDA(int64_t c) {
        int32_t* a = order + offsets[c];
        const int32_t count = offsets[c + 1] - offsets[c];
        int32_t gap = 1;
        while (gap < count / 3) gap = 3 * gap + 1;
        for (; gap > 0; gap /= 3) {
            for (int32_t k = gap; k < count; ++k) {
                const int32_t v = a[k];
                int32_t m = k;
                for (; m >= gap && a[m - gap] > v; m -= gap) a[m] = a[m - gap];
                a[m] = v;
            }
        }
    });
}

// The *Body templates are named per device (SEMSLAM_KERNEL): a template of plain types included in
// both translation units would otherwise be one symbol with two definitions.
template <typename Table>
void SEMSLAM_KERNEL(GatherEntriesBody)(const core::Device& device, map::SurfelArrays s, const Table* table,
                                       const int32_t* order, int64_t n, CRFEntry* entries, float* q) {
    const int C = s.num_classes;
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t e) {
        const int32_t i = order[e];
        CRFEntry entry;
        entry.x = s.positions[3 * i];
        entry.y = s.positions[3 * i + 1];
        entry.z = s.positions[3 * i + 2];
        entry.r = s.colours[3 * i];
        entry.g = s.colours[3 * i + 1];
        entry.b = s.colours[3 * i + 2];
        entry.nx = s.normals[3 * i];
        entry.ny = s.normals[3 * i + 1];
        entry.nz = s.normals[3 * i + 2];
        entry.index = i;
        entries[e] = entry;
        const Table* p = table + static_cast<int64_t>(i) * C;
        float sum = 0.0f;
        for (int l = 0; l < C; ++l) sum += core::LoadValue(p + l);
        const bool valid = sum > 0.0f && core::IsFinite(sum);
        for (int l = 0; l < C; ++l) q[e * C + l] = valid ? core::LoadValue(p + l) / sum : 1.0f / static_cast<float>(C);
    });
}

void SEMSLAM_KERNEL(GatherEntries)(const core::Device& device, map::SurfelArrays s, const int32_t* order, int64_t n,
                                   CRFEntry* entries, float* q) {
    if (s.class_probs_f16 != nullptr) {
        SEMSLAM_KERNEL(GatherEntriesBody)(device, s, s.class_probs_f16, order, n, entries, q);
    } else {
        SEMSLAM_KERNEL(GatherEntriesBody)(device, s, s.class_probs, order, n, entries, q);
    }
}

void SEMSLAM_KERNEL(CRFNormalisers)(const core::Device& device, const CRFEntry* entries, int64_t n, CRFGrid grid,
                                    const int32_t* offsets, CRFKernelParams params, int32_t* strides,
                                    float* coef_a, float* coef_s, double* stats) {
    core::ReduceAccumulate<2>(device, n, SEMSLAM_LAMBDA(int64_t e, float* acc) {
        const CRFEntry self = entries[e];
        int32_t stride = 1;
        int32_t cx, cy, cz;
        if (CellOf(grid, self.x, self.y, self.z, &cx, &cy, &cz)) {
            int64_t candidates = 0;
            for (int32_t z = cz - 1; z <= cz + 1; ++z) {
                for (int32_t y = cy - 1; y <= cy + 1; ++y) {
                    for (int32_t x = cx - 1; x <= cx + 1; ++x) {
                        if (x < 0 || y < 0 || z < 0) continue;
                        if (x >= grid.dims_x || y >= grid.dims_y || z >= grid.dims_z) continue;
                        const int32_t cell = x + grid.dims_x * (y + grid.dims_y * z);
                        candidates += offsets[cell + 1] - offsets[cell];
                    }
                }
            }
            const int64_t m = params.max_neighbours;
            stride = static_cast<int32_t>(candidates > m ? (candidates + m - 1) / m : 1);
        }
        float sum_a = 0.0f, sum_s = 0.0f;
        const int32_t visited = NeighbourPass(entries, e, grid, offsets, params, stride, nullptr, 0, 0.0f, 0.0f,
                                              nullptr, &sum_a, &sum_s);
        const float z_a = 1.0f + static_cast<float>(stride) * sum_a;
        const float z_s = 1.0f + static_cast<float>(stride) * sum_s;
        strides[e] = stride;
        coef_a[e] = static_cast<float>(stride) * params.appearance_weight / z_a;
        coef_s[e] = static_cast<float>(stride) * params.smoothness_weight / z_s;
        acc[0] += static_cast<float>(visited);
        acc[1] += visited > 0 ? 1.0f : 0.0f;
    }, stats);
}

template <typename Table>
void SEMSLAM_KERNEL(CRFStepBody)(const core::Device& device, map::SurfelArrays s, const Table* table,
                                 const CRFEntry* entries, int64_t n, CRFGrid grid, const int32_t* offsets,
                                 CRFKernelParams params, const int32_t* strides, const float* coef_a,
                                 const float* coef_s, const float* q, float* q_next) {
    const int C = s.num_classes;
    core::ParallelFor(device, n, SEMSLAM_LAMBDA(int64_t e) {
        float* row = q_next + e * C;
        for (int l = 0; l < C; ++l) row[l] = 0.0f;
        NeighbourPass(entries, e, grid, offsets, params, strides[e], q, C, coef_a[e], coef_s[e], row, nullptr,
                      nullptr);
        const Table* p = table + static_cast<int64_t>(entries[e].index) * C;
        float top = -3.0e38f;
        for (int l = 0; l < C; ++l) {
            const float v = core::LoadValue(p + l);
            row[l] += logf(v > kUnaryClamp ? v : kUnaryClamp);  // - unary
            top = row[l] > top ? row[l] : top;
        }
        float sum = 0.0f;
        for (int l = 0; l < C; ++l) {
            row[l] = core::ExpNonPositive(row[l] - top);
            sum += row[l];
        }
        const float inv = 1.0f / sum;
        for (int l = 0; l < C; ++l) row[l] *= inv;
    });
}

void SEMSLAM_KERNEL(CRFStep)(const core::Device& device, map::SurfelArrays s, const CRFEntry* entries, int64_t n,
                             CRFGrid grid, const int32_t* offsets, CRFKernelParams params, const int32_t* strides,
                             const float* coef_a, const float* coef_s, const float* q, float* q_next) {
    if (s.class_probs_f16 != nullptr) {
        SEMSLAM_KERNEL(CRFStepBody)(device, s, s.class_probs_f16, entries, n, grid, offsets, params, strides, coef_a,
                                    coef_s, q, q_next);
    } else {
        SEMSLAM_KERNEL(CRFStepBody)(device, s, s.class_probs, entries, n, grid, offsets, params, strides, coef_a,
                                    coef_s, q, q_next);
    }
}

template <typename Table>
void SEMSLAM_KERNEL(CRFWriteBackBody)(const core::Device& device, map::SurfelArrays s, Table* table,
                                      const CRFEntry* entries, int64_t n, const float* q, float probability_floor,
                                      double* stats) {
    const int C = s.num_classes;
    core::ReduceAccumulate<1>(device, n, SEMSLAM_LAMBDA(int64_t e, float* acc) {
        const int32_t i = entries[e].index;
        const float* row = q + e * C;
        float sum = 0.0f;
        for (int l = 0; l < C; ++l) sum += row[l] > probability_floor ? row[l] : probability_floor;
        const float inv = 1.0f / sum;
        Table* p = table + static_cast<int64_t>(i) * C;
        int32_t label = -1;
        float best = -1.0f;
        for (int l = 0; l < C; ++l) {
            core::StoreValue(p + l, (row[l] > probability_floor ? row[l] : probability_floor) * inv);
            const float stored = core::LoadValue(p + l);
            if (stored > best) {
                best = stored;
                label = l;
            }
        }
        if (label != s.labels[i]) acc[0] += 1.0f;
        s.labels[i] = label;
        s.label_confidences[i] = label >= 0 ? best : 0.0f;
    }, stats);
}

void SEMSLAM_KERNEL(CRFWriteBack)(const core::Device& device, map::SurfelArrays s, const CRFEntry* entries, int64_t n,
                                  const float* q, float probability_floor, double* stats) {
    if (s.class_probs_f16 != nullptr) {
        SEMSLAM_KERNEL(CRFWriteBackBody)(device, s, s.class_probs_f16, entries, n, q, probability_floor, stats);
    } else {
        SEMSLAM_KERNEL(CRFWriteBackBody)(device, s, s.class_probs, entries, n, q, probability_floor, stats);
    }
}

}  // namespace kernel
}  // namespace semantics
}  // namespace semslam
