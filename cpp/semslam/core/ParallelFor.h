// ParallelFor(device, n, f): run f(i) for i in [0, n) on the device the translation unit is
// compiled for. A kernel body (XImpl.h) calls it once; included from XCPU.cpp it becomes an
// OpenMP loop, included from XCUDA.cu a grid-stride CUDA kernel. Lambdas passed to it are
// written as SEMSLAM_LAMBDA(int64_t i) { ... } so that nvcc compiles them for the device.
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"

#if defined(__CUDACC__)
#include "semslam/core/CUDACheck.h"
#define SEMSLAM_HOST_DEVICE __host__ __device__
#define SEMSLAM_LAMBDA [=] __host__ __device__
#else
#define SEMSLAM_HOST_DEVICE
#define SEMSLAM_LAMBDA [=]
#endif

namespace semslam {
namespace core {

#if defined(__CUDACC__)

template <typename F>
__global__ void GridStrideKernel(int64_t n, F f) {
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        f(i);
    }
}

template <typename F>
void ParallelFor(const Device& device, int64_t n, const F& f) {
    if (n <= 0) return;
    constexpr int kThreads = 256;
    const int64_t wanted = (n + kThreads - 1) / kThreads;
    const int blocks = static_cast<int>(wanted < 65535 * 8 ? wanted : 65535 * 8);
    cuda::ScopedDevice scope(device.id());
    GridStrideKernel<<<blocks, kThreads>>>(n, f);
    SEMSLAM_CUDA_CHECK(cudaGetLastError());
    SEMSLAM_CUDA_CHECK(cudaDeviceSynchronize());
}

#else

template <typename F>
void ParallelFor(const Device& /*device*/, int64_t n, const F& f) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        f(i);
    }
}

#endif

}  // namespace core
}  // namespace semslam

// Names a kernel entry point after the device its translation unit compiles for:
// SEMSLAM_KERNEL(BilateralFilter) is BilateralFilterCUDA under nvcc, BilateralFilterCPU otherwise.
#if defined(__CUDACC__)
#define SEMSLAM_KERNEL(name) name##CUDA
#else
#define SEMSLAM_KERNEL(name) name##CPU
#endif
