// ParallelFor(device, n, f): run f(i) for i in [0, n) on the device the translation unit is
// compiled for. A kernel body (XImpl.h) calls it once; included from XCPU.cpp it becomes an
// OpenMP loop, included from XCUDA.cu a grid-stride CUDA kernel. Lambdas passed to it are
// written as SEMSLAM_LAMBDA(int64_t i) { ... } so that nvcc compiles them for the device.
#pragma once

#include <cstdint>

#include "semslam/core/Device.h"

#if defined(__CUDACC__)
#include "semslam/core/CUDACheck.h"
#include "semslam/core/CUDAUtils.h"
#define SEMSLAM_HOST_DEVICE __host__ __device__
#define SEMSLAM_LAMBDA [=] __host__ __device__
#define SEMSLAM_FORCE_INLINE __forceinline__ __host__ __device__
#else
#define SEMSLAM_HOST_DEVICE
#define SEMSLAM_LAMBDA [=]
#define SEMSLAM_FORCE_INLINE inline __attribute__((always_inline))
#endif
// SEMSLAM_FORCE_INLINE: for the per-element helpers of hot loops, which GCC otherwise may leave as
// calls (the per-element values then go through memory instead of registers).

// Before a loop with a small fixed trip count in a per-pixel body: unrolled completely, the body
// has no inner loop left, and the CPU's loop over pixels can vectorise (GCC's own unrolling
// heuristics stop short of e.g. a 5x5 window with selects).
#if defined(__CUDACC__)
#define SEMSLAM_UNROLL _Pragma("unroll")
#else
#define SEMSLAM_UNROLL _Pragma("GCC unroll 8")
#endif

// Ask the CPU to bring the cache line at `address` in (for reading / for writing) without waiting
// for it; nothing on the GPU. For loops whose elements each touch a random address of a large
// array and also do an atomic: x86's locked instructions let no later load start before them, so
// without a prefetch issued ahead (which they do not wait for) every element waits for its own
// cache miss in turn.
#if defined(__CUDA_ARCH__)
#define SEMSLAM_PREFETCH_FOR_READ(address) ((void)0)
#define SEMSLAM_PREFETCH_FOR_WRITE(address) ((void)0)
#else
#define SEMSLAM_PREFETCH_FOR_READ(address) __builtin_prefetch((address), 0)
#define SEMSLAM_PREFETCH_FOR_WRITE(address) __builtin_prefetch((address), 1)
#endif

namespace semslam {
namespace core {

#if defined(__CUDACC__)

// Kernels go to the calling thread's stream (cuda::ThreadStream: non-blocking, high priority)
// without a wait after each launch: kernels of one thread run in order, and every result the host reads comes
// through a copy, which waits for that stream's work (and only that stream's). A kernel's runtime
// error is reported by the next copy or synchronisation.
// Grid-stride loops run kLoopThreads threads per block, enough blocks for one item per thread
// up to 65535 * 8 blocks (beyond that each thread takes several).
constexpr int kLoopThreads = 256;
inline int LoopBlocks(int64_t n) {
    const int64_t wanted = (n + kLoopThreads - 1) / kLoopThreads;
    return static_cast<int>(wanted < 65535 * 8 ? wanted : 65535 * 8);
}

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
    const int blocks = LoopBlocks(n);
    cuda::ScopedDevice scope(device.id());
    GridStrideKernel<<<blocks, kLoopThreads, 0, cuda::ThreadStream(device.id())>>>(n, f);
    SEMSLAM_CUDA_CHECK(cudaGetLastError());
}

// ParallelFor2D over a width x height image: f(x, y) for every pixel (row-major i = y * width + x).
template <typename F>
__global__ void GridStride2DKernel(int width, int64_t n, F f) {
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const int y = static_cast<int>(i / width);
        f(static_cast<int>(i - static_cast<int64_t>(y) * width), y);
    }
}

template <typename F>
void ParallelFor2D(const Device& device, int width, int height, const F& f) {
    const int64_t n = static_cast<int64_t>(width) * height;
    if (width <= 0 || height <= 0) return;
    const int blocks = LoopBlocks(n);
    cuda::ScopedDevice scope(device.id());
    GridStride2DKernel<<<blocks, kLoopThreads, 0, cuda::ThreadStream(device.id())>>>(width, n, f);
    SEMSLAM_CUDA_CHECK(cudaGetLastError());
}

// ParallelFor2DInterior: ParallelFor2D with a second body for the pixels of the interior
// [x0, x1) x [y0, y1) (see the CPU form); here each thread picks the body of its pixel.
template <typename Border, typename Interior>
__global__ void GridStride2DInteriorKernel(int width, int64_t n, int x0, int x1, int y0, int y1, Border border,
                                           Interior interior) {
    const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const int y = static_cast<int>(i / width);
        const int x = static_cast<int>(i - static_cast<int64_t>(y) * width);
        if (x >= x0 && x < x1 && y >= y0 && y < y1) {
            interior(x, y);
        } else {
            border(x, y);
        }
    }
}

template <typename Border, typename Interior>
void ParallelFor2DInterior(const Device& device, int width, int height, int x0, int x1, int y0, int y1,
                           const Border& border, const Interior& interior) {
    const int64_t n = static_cast<int64_t>(width) * height;
    if (width <= 0 || height <= 0) return;
    const int blocks = LoopBlocks(n);
    cuda::ScopedDevice scope(device.id());
    GridStride2DInteriorKernel<<<blocks, kLoopThreads, 0, cuda::ThreadStream(device.id())>>>(
        width, n, x0, x1, y0, y1, border, interior);
    SEMSLAM_CUDA_CHECK(cudaGetLastError());
}

#else

// Iterations per chunk: about 64 chunks per loop, taken by whichever thread is free (dynamic
// schedule). Work per item is uneven and clustered (pixels without depth in image regions,
// surfels out of view at the start of the arrays), and a thread may lose its core for a while
// (the frame reader, a segmentation worker, other programs: on 2 cores any of them preempts a
// loop thread): with a fixed assignment every loop would then wait at its barrier for the
// preempted thread's whole share, with dynamic chunks only for the chunk it holds. One shared
// counter increment per chunk is the cost.
inline int64_t ParallelChunk(int64_t n) {
    const int64_t chunk = n / 64;
    return chunk < 1 ? 1 : (chunk > 4096 ? 4096 : chunk);
}

template <typename F>
void ParallelFor(const Device& /*device*/, int64_t n, const F& f) {
    if (n <= 0) return;
    const int64_t chunk = ParallelChunk(n);
#pragma omp parallel
    {
        const F body = f;  // in registers: see ParallelFor2D
#pragma omp for schedule(dynamic, chunk)
        for (int64_t i = 0; i < n; ++i) body(i);
    }
}

// ParallelFor2D over a width x height image: f(x, y) for every pixel (row-major i = y * width + x).
// Threads take chunks of rows and walk each row left to right: no division per pixel, and the
// compiler sees the inner loop over x. That loop carries `ivdep`: the pixels of a 2D body are
// independent by contract (on the GPU they run concurrently, in any order), so the compiler need
// not prove that a pixel's stores miss the next pixels' loads, which it cannot for bodies that
// read several neighbours through captured pointers (it gives up on vectorising instead).
template <typename F>
void ParallelFor2D(const Device& /*device*/, int width, int height, const F& f) {
    if (width <= 0 || height <= 0) return;
    const int64_t chunk = ParallelChunk(height);
#pragma omp parallel
    {
        // A copy per thread whose address does not escape: the captured values live in registers.
        // Through the reference they would be reloaded every pixel, since the body's float stores
        // might alias the closure's float members as far as the compiler knows.
        const F body = f;
#pragma omp for schedule(dynamic, chunk)
        for (int y = 0; y < height; ++y) {
#pragma GCC ivdep
            for (int x = 0; x < width; ++x) body(x, y);
        }
    }
}

// ParallelFor2DInterior over a width x height image: interior(x, y) for the pixels of
// [x0, x1) x [y0, y1), border(x, y) for the others. Image kernels whose windows leave the image
// near its edges pass a body with bounds tests for the border and one without for the interior:
// the interior pixels of a row then run in a loop by themselves, with fixed trip counts and no
// branches when the body has none, which the compiler vectorises across x.
template <typename Border, typename Interior>
void ParallelFor2DInterior(const Device& /*device*/, int width, int height, int x0, int x1, int y0, int y1,
                           const Border& border, const Interior& interior) {
    if (width <= 0 || height <= 0) return;
    x0 = x0 < 0 ? 0 : (x0 > width ? width : x0);
    x1 = x1 < x0 ? x0 : (x1 > width ? width : x1);
    const int64_t chunk = ParallelChunk(height);
#pragma omp parallel
    {
        const Interior body = interior;  // in registers: see ParallelFor2D
#pragma omp for schedule(dynamic, chunk)
        for (int y = 0; y < height; ++y) {
            if (y < y0 || y >= y1) {
                for (int x = 0; x < width; ++x) border(x, y);
                continue;
            }
            for (int x = 0; x < x0; ++x) border(x, y);
#pragma GCC ivdep
            for (int x = x0; x < x1; ++x) body(x, y);  // independent pixels: see ParallelFor2D
            for (int x = x1; x < width; ++x) border(x, y);
        }
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
