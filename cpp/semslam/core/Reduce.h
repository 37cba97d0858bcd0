// ReduceSum<N>(device, n, f, out): out[k] = sum over i of row_i[k], where f(i, row) writes the
// N-float contribution of element i into `row` and returns true (false: contributes nothing).
// Used for the 6x6 tracking systems and counts. Sums are carried in double; the result does not
// depend on thread timing (fixed partitions, partials combined in a fixed order), so a run is
// repeatable on a given device and thread count. Lambdas are written SEMSLAM_LAMBDA(int64_t i,
// float* row) -> bool.
#pragma once

#include <cstdint>
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

template <int N, typename F>
void ReduceSum(const Device& device, int64_t n, const F& f, double* out) {
    static_assert(N * kReduceThreads * sizeof(double) <= 48 * 1024, "ReduceSum: N too large for shared memory");
    for (int k = 0; k < N; ++k) out[k] = 0.0;
    if (n <= 0) return;
    const int64_t wanted = (n + kReduceThreads - 1) / kReduceThreads;
    const int blocks = static_cast<int>(wanted < kReduceBlocks ? wanted : kReduceBlocks);
    Buffer<double> partials(static_cast<size_t>(blocks) * N, device);
    {
        cuda::ScopedDevice scope(device.id());
        ReduceSumKernel<N><<<blocks, kReduceThreads>>>(n, f, partials.data());
        SEMSLAM_CUDA_CHECK(cudaGetLastError());
    }
    std::vector<double> host(partials.size());
    partials.CopyToHost(host.data());
    for (int b = 0; b < blocks; ++b) {
        for (int k = 0; k < N; ++k) out[k] += host[static_cast<size_t>(b) * N + k];
    }
}

#else

template <int N, typename F>
void ReduceSum(const Device& /*device*/, int64_t n, const F& f, double* out) {
    for (int k = 0; k < N; ++k) out[k] = 0.0;
    if (n <= 0) return;
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    std::vector<double> partials(static_cast<size_t>(threads) * N, 0.0);
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num();
#else
        const int t = 0;
#endif
        double* acc = partials.data() + static_cast<size_t>(t) * N;
        float row[N];
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
            if (f(i, row)) {
                for (int k = 0; k < N; ++k) acc[k] += row[k];
            }
        }
    }
    for (int t = 0; t < threads; ++t) {
        for (int k = 0; k < N; ++k) out[k] += partials[static_cast<size_t>(t) * N + k];
    }
}

#endif

}  // namespace core
}  // namespace semslam
