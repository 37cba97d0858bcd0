// ReduceSum<N>(device, n, f, out): out[k] = sum over i of row_i[k], where f(i, row) writes the
// N-float contribution of element i into `row` and returns true (false: contributes nothing).
// Used for the 6x6 tracking systems and counts. Sums are carried in double; the result does not
// depend on thread timing (fixed partitions, partials combined in a fixed order), so a run is
// repeatable on a given device and thread count. Lambdas are written SEMSLAM_LAMBDA(int64_t i,
// float* row) -> bool.
//
// ReduceAccumulate<N>(device, n, f, out): the same sums for contributions that are added rather
// than written: f(i, acc) adds element i's contribution into a float accumulator acc[N] (touching
// only what it contributes to, skipping invalid elements at no cost). Floats are summed over
// fixed runs of elements (kAccumulateRun on the CPU, a thread's grid-stride elements on the GPU) and
// only those partials are combined in double, in a fixed order: the result does not depend on
// thread timing, and on the CPU not on the thread count either. Several times cheaper per element
// than ReduceSum for large N (no per-element row, no per-element float -> double conversions).
// Lambdas are written SEMSLAM_LAMBDA(int64_t i, float* acc).
//
// ReduceNormalEquations<T>(device, n, f, out): the Gauss-Newton normal equations of T
// least-squares terms over 6 parameters. f(i, rows) calls rows.Add(t, jac, r_weighted, r) at most
// once per term t for element i (jac: 6 floats); out[29 t + k] receives the term's sums in the
// layout [0, 21) the upper triangle of J^T J row by row, [21, 27) J^T r_weighted, [27] sum r^2,
// [28] the count. On the GPU rows accumulate as ReduceAccumulate; on the CPU they are stored per
// run of kAccumulateRun elements (structure of arrays) and summed four at a time with vector
// arithmetic, since the per-residual scalar accumulation was most of a tracking pass. The same
// determinism as ReduceAccumulate. Lambdas are written
// SEMSLAM_LAMBDA(int64_t i, core::NormalEquationRows<T>& rows).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "semslam/core/Buffer.h"
#include "semslam/core/ParallelFor.h"

#if !defined(__CUDACC__)
#ifdef _OPENMP
#include <omp.h>
#endif
#endif

namespace semslam {
namespace core {

#if defined(__CUDACC__)

constexpr int kReduceThreads = 128;
constexpr int kReduceBlocks = 512;

template <int N, typename F>
__global__ void ReduceSumKernel(int64_t n, F f, double* partials) {
    __shared__ double shared[N * kReduceThreads];
    double acc[N];
    float row[N];
    for (int k = 0; k < N; ++k) acc[k] = 0.0;
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        if (f(i, row)) {
            for (int k = 0; k < N; ++k) acc[k] += row[k];
        }
    }
    for (int k = 0; k < N; ++k) shared[k * kReduceThreads + threadIdx.x] = acc[k];
    __syncthreads();
    for (int half = kReduceThreads / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            for (int k = 0; k < N; ++k) shared[k * kReduceThreads + threadIdx.x] += shared[k * kReduceThreads + threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        for (int k = 0; k < N; ++k) partials[blockIdx.x * N + k] = shared[k * kReduceThreads];
    }
}

// Runs `kernel`<<<blocks, kReduceThreads>>>(n, f, partials) with one block partial of N doubles
// per block, then sums the partials on the host in block order (deterministic for a given n).
template <int N, typename Kernel, typename F>
void LaunchAndSumPartials(const Device& device, int64_t n, Kernel kernel, const F& f, double* out) {
    for (int k = 0; k < N; ++k) out[k] = 0.0;
    if (n <= 0) return;
    const int64_t wanted = (n + kReduceThreads - 1) / kReduceThreads;
    const int blocks = static_cast<int>(wanted < kReduceBlocks ? wanted : kReduceBlocks);
    Buffer<double> partials(static_cast<size_t>(blocks) * N, device);
    {
        cuda::ScopedDevice scope(device.id());
        kernel<<<blocks, kReduceThreads, 0, cuda::ThreadStream(device.id())>>>(n, f, partials.data());
        SEMSLAM_CUDA_CHECK(cudaGetLastError());
    }
    std::vector<double> host(partials.size());
    partials.CopyToHost(host.data());
    for (int b = 0; b < blocks; ++b) {
        for (int k = 0; k < N; ++k) out[k] += host[static_cast<size_t>(b) * N + k];
    }
}

template <int N, typename F>
void ReduceSum(const Device& device, int64_t n, const F& f, double* out) {
    static_assert(N * kReduceThreads * sizeof(double) <= 48 * 1024, "ReduceSum: N too large for shared memory");
    LaunchAndSumPartials<N>(device, n, ReduceSumKernel<N, F>, f, out);
}

// One warp's values summed onto lane 0 (a fixed tree: deterministic).
__device__ inline double WarpSum(double v) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

template <int N, typename F>
__global__ void ReduceAccumulateKernel(int64_t n, F f, double* partials) {
    constexpr int kWarps = kReduceThreads / 32;
    __shared__ double shared[N * kWarps];  // per-warp sums: 8 bytes * N * 4 (58 values: 1.9 KB)
    float acc[N];
    for (int k = 0; k < N; ++k) acc[k] = 0.0f;
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i, acc);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int k = 0; k < N; ++k) {
        const double s = WarpSum(static_cast<double>(acc[k]));
        if (lane == 0) shared[k * kWarps + warp] = s;
    }
    __syncthreads();
    for (int k = threadIdx.x; k < N; k += blockDim.x) {
        double s = 0.0;
        for (int w = 0; w < kWarps; ++w) s += shared[k * kWarps + w];
        partials[blockIdx.x * N + k] = s;
    }
}

template <int N, typename F>
void ReduceAccumulate(const Device& device, int64_t n, const F& f, double* out) {
    LaunchAndSumPartials<N>(device, n, ReduceAccumulateKernel<N, F>, f, out);
}


constexpr int kNormalEquationSize = 29;  // the layout described at the top of this file

// The GPU's rows: added straight into the thread's float accumulator.
template <int T>
struct NormalEquationRows {
    float* acc;  // [29 T]
    __host__ __device__ void Add(int t, const float* jac, float r_weighted, float r) {
        float* a = acc + kNormalEquationSize * t;
        int k = 0;
        for (int i = 0; i < 6; ++i)
            for (int j = i; j < 6; ++j) a[k++] += jac[i] * jac[j];
        for (int i = 0; i < 6; ++i) a[21 + i] += jac[i] * r_weighted;
        a[27] += r * r;
        a[28] += 1.0f;
    }
};

template <int T, typename F>
struct AccumulateNormalEquations {
    F f;
    __host__ __device__ void operator()(int64_t i, float* acc) const {
        NormalEquationRows<T> rows{acc};
        f(i, rows);
    }
};

template <int T, typename F>
void ReduceNormalEquations(const Device& device, int64_t n, const F& f, double* out) {
    ReduceAccumulate<kNormalEquationSize * T>(device, n, AccumulateNormalEquations<T, F>{f}, out);
}

#else

// Elements per double partial of ReduceSum on the CPU: partials are kept per run and summed in
// run order, so the result does not depend on which thread took which run (runs are taken
// dynamically, as ParallelFor's chunks, for the same reason).
constexpr int64_t kSumRun = 4096;

template <int N, typename F>
void ReduceSum(const Device& /*device*/, int64_t n, const F& f, double* out) {
    for (int k = 0; k < N; ++k) out[k] = 0.0;
    if (n <= 0) return;
    const int64_t runs = (n + kSumRun - 1) / kSumRun;
    std::vector<double> partials(static_cast<size_t>(runs) * N, 0.0);
#pragma omp parallel
    {
        // A copy of the closure per thread whose address does not escape: its captured values stay
        // in registers. Through the reference they would be reloaded after every store of the body
        // (a float or byte store may alias the closure's members as far as the compiler knows).
        const F body = f;
#pragma omp for schedule(dynamic, 1)
        for (int64_t run = 0; run < runs; ++run) {
            double acc[N];
            for (int k = 0; k < N; ++k) acc[k] = 0.0;
            float row[N];
            const int64_t begin = run * kSumRun, end = begin + kSumRun < n ? begin + kSumRun : n;
            for (int64_t i = begin; i < end; ++i) {
                if (body(i, row)) {
                    for (int k = 0; k < N; ++k) acc[k] += row[k];
                }
            }
            for (int k = 0; k < N; ++k) partials[static_cast<size_t>(run) * N + k] = acc[k];
        }
    }
    for (int64_t run = 0; run < runs; ++run) {
        for (int k = 0; k < N; ++k) out[k] += partials[static_cast<size_t>(run) * N + k];
    }
}

// Elements per float partial on the CPU: float sums over 512 tracking rows keep ~1e-6 relative
// error (checked against the numpy references), and the double combination costs ~0.1 op per element.
constexpr int64_t kAccumulateRun = 512;

template <int N, typename F>
void ReduceAccumulate(const Device& /*device*/, int64_t n, const F& f, double* out) {
    for (int k = 0; k < N; ++k) out[k] = 0.0;
    if (n <= 0) return;
    const int64_t runs = (n + kAccumulateRun - 1) / kAccumulateRun;
    std::vector<float> partials(static_cast<size_t>(runs) * N);
#pragma omp parallel
    {
        const F body = f;  // in registers: see ReduceSum
#pragma omp for schedule(dynamic, 4)
        for (int64_t run = 0; run < runs; ++run) {
            float acc[N];
            for (int k = 0; k < N; ++k) acc[k] = 0.0f;
            const int64_t begin = run * kAccumulateRun;
            const int64_t end = begin + kAccumulateRun < n ? begin + kAccumulateRun : n;
            for (int64_t i = begin; i < end; ++i) body(i, acc);
            for (int k = 0; k < N; ++k) partials[static_cast<size_t>(run) * N + k] = acc[k];
        }
    }
    for (int64_t run = 0; run < runs; ++run) {  // in run order, whatever thread summed each run
        for (int k = 0; k < N; ++k) out[k] += partials[static_cast<size_t>(run) * N + k];
    }
}


constexpr int kNormalEquationSize = 29;  // the layout described at the top of this file

// The CPU's rows: one run's residuals of each term as structure of arrays, summed by Sum.
template <int T>
class NormalEquationRows {
public:
    void Clear() {
        for (int t = 0; t < T; ++t) count_[t] = 0;
    }
    inline __attribute__((always_inline)) void Add(int t, const float* jac, float r_weighted, float r) {
        const int c = count_[t]++;
        for (int a = 0; a < 6; ++a) rows_[t][a][c] = jac[a];
        rows_[t][6][c] = r_weighted;
        rows_[t][7][c] = r;
    }
    // out[29 T]: each term's sums in float (lanes combined in a fixed order).
    void Sum(float* out) {
        for (int t = 0; t < T; ++t) {
            float* o = out + kNormalEquationSize * t;
            const int padded = (count_[t] + 3) & ~3;
            for (int c = count_[t]; c < padded; ++c)  // zero rows contribute nothing
                for (int a = 0; a < 8; ++a) rows_[t][a][c] = 0.0f;
            // Two rows of J^T J at a time keep at most 14 vector accumulators in registers.
            SumRows<0>(rows_[t], padded, o);
            SumRows<2>(rows_[t], padded, o);
            SumRows<4>(rows_[t], padded, o);
            o[28] = static_cast<float>(count_[t]);
        }
    }

private:
    typedef float Float4 __attribute__((vector_size(16)));
    static Float4 Load4(const float* p) {
        Float4 v;
        std::memcpy(&v, p, sizeof(v));
        return v;
    }
    static float Lanes(Float4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }
    // Index of J^T J (a, b), b >= a, in the upper triangle row by row.
    static constexpr int Upper(int a, int b) { return a * 6 - a * (a - 1) / 2 + (b - a); }

    // Sums the products of J rows A and A + 1 with J rows b >= A (and with r_weighted); A = 4
    // also sums r^2.
    template <int A>
    static void SumRows(const float (*rows)[kAccumulateRun + 4], int padded, float* out) {
        Float4 acc[2][8] = {};
        for (int c = 0; c < padded; c += 4) {
            Float4 v[8];
            for (int b = A; b < 8; ++b) v[b] = Load4(rows[b] + c);
            for (int a = A; a < A + 2; ++a)
                for (int b = a; b < 7; ++b) acc[a - A][b] += v[a] * v[b];
            if (A == 4) acc[1][7] += v[7] * v[7];
        }
        for (int a = A; a < A + 2; ++a) {
            for (int b = a; b < 6; ++b) out[Upper(a, b)] = Lanes(acc[a - A][b]);
            out[21 + a] = Lanes(acc[a - A][6]);
        }
        if (A == 4) out[27] = Lanes(acc[1][7]);
    }

    alignas(16) float rows_[T][8][kAccumulateRun + 4];  // J (6), r_weighted, r; padded to 4
    int count_[T];
};

template <int T, typename F>
void ReduceNormalEquations(const Device& /*device*/, int64_t n, const F& f, double* out) {
    constexpr int N = kNormalEquationSize * T;
    for (int k = 0; k < N; ++k) out[k] = 0.0;
    if (n <= 0) return;
    const int64_t runs = (n + kAccumulateRun - 1) / kAccumulateRun;
    std::vector<float> partials(static_cast<size_t>(runs) * N);
#pragma omp parallel
    {
        std::vector<NormalEquationRows<T>> storage(1);  // 16 KB per term: on the heap, not the stack
        NormalEquationRows<T>& rows = storage[0];
        const F body = f;  // in registers: see ReduceSum
#pragma omp for schedule(dynamic, 4)
        for (int64_t run = 0; run < runs; ++run) {
            rows.Clear();
            const int64_t begin = run * kAccumulateRun;
            const int64_t end = begin + kAccumulateRun < n ? begin + kAccumulateRun : n;
            for (int64_t i = begin; i < end; ++i) body(i, rows);
            rows.Sum(partials.data() + static_cast<size_t>(run) * N);
        }
    }
    for (int64_t run = 0; run < runs; ++run) {  // in run order, whatever thread summed each run
        for (int k = 0; k < N; ++k) out[k] += partials[static_cast<size_t>(run) * N + k];
    }
}

#endif

// CountIf(device, n, pred): how many i in [0, n) satisfy pred(i), exactly. Lambdas are written
// SEMSLAM_LAMBDA(int64_t i) -> bool. On the GPU a ReduceSum of ones; on the CPU an integer
// reduction, which (unlike ReduceSum's per-element double adds behind a branch) vectorises when
// pred is branch-free, e.g. built from IsFiniteNoBranch.
template <typename P>
struct CountRow {
    P pred;
    SEMSLAM_HOST_DEVICE bool operator()(int64_t i, float* row) const {
        row[0] = 1.0f;
        return pred(i);
    }
};

#if defined(__CUDACC__)

template <typename P>
int64_t CountIf(const Device& device, int64_t n, const P& pred) {
    double count = 0.0;
    ReduceSum<1>(device, n, CountRow<P>{pred}, &count);
    return static_cast<int64_t>(count);
}

#else

template <typename P>
int64_t CountIf(const Device& /*device*/, int64_t n, const P& pred) {
    int64_t count = 0;
#pragma omp parallel reduction(+ : count)
    {
        const P body = pred;  // in registers: see ParallelFor2D
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) count += body(i) ? 1 : 0;
    }
    return count;
}

#endif

}  // namespace core
}  // namespace semslam
