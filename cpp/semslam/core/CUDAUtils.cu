#include <cstdint>
#include <new>
#include <stdexcept>

#include "semslam/core/CUDACheck.h"
#include "semslam/core/CUDAUtils.h"

namespace semslam {
namespace core {
namespace cuda {

int DeviceCount() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no driver" error
        return 0;
    }
    return n;
}

std::string DeviceName(int device_id) {
    cudaDeviceProp prop;
    SEMSLAM_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_id));
    return prop.name;
}

// Memory comes from the device's stream-ordered pool on the calling thread's stream: allocating and freeing the small per-call
// buffers (reduction partials) neither synchronises the device, as cudaMalloc/cudaFree do, nor waits
// for work on other streams (a network running on the same GPU). The pool keeps what is freed for
// reuse instead of returning it to the driver at every synchronisation.
cudaStream_t ThreadStream(int device_id) {
    // One stream per calling thread and GPU, made on first use: non-blocking (it does not wait for
    // work on the legacy default stream, where libraries such as torch may queue theirs) and of the
    // highest priority, so when a network shares the GPU the SLAM kernels' blocks are scheduled
    // first. Never destroyed: it lives as long as the thread's CUDA context.
    constexpr int kMaxDevices = 64;
    thread_local cudaStream_t streams[kMaxDevices] = {};
    if (device_id < 0 || device_id >= kMaxDevices) throw std::invalid_argument("CUDA device id out of range");
    if (streams[device_id] == nullptr) {
        ScopedDevice scope(device_id);
        int least = 0, greatest = 0;
        SEMSLAM_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
        SEMSLAM_CUDA_CHECK(cudaStreamCreateWithPriority(&streams[device_id], cudaStreamNonBlocking, greatest));
    }
    return streams[device_id];
}

// Freed memory the pool keeps for reuse; beyond this it goes back to the driver at synchronisations.
constexpr uint64_t kPoolKeepBytes = 1ull << 30;

void* Malloc(size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    cudaMemPool_t pool;
    SEMSLAM_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_id));
    uint64_t keep = kPoolKeepBytes;
    SEMSLAM_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    void* ptr = nullptr;
    const cudaStream_t stream = ThreadStream(device_id);
    const cudaError_t err = cudaMallocAsync(&ptr, bytes, stream);
    if (err == cudaErrorMemoryAllocation) {
        // Not sticky, but it stays the thread's "last error", which the next launch check would
        // report; and what the pool holds from a failed multi-buffer allocation goes back now.
        cudaGetLastError();
        cudaStreamSynchronize(stream);
        cudaMemPoolTrimTo(pool, 0);
        throw std::bad_alloc();
    }
    SEMSLAM_CUDA_CHECK(err);
    return ptr;
}

int PointerDevice(const void* ptr) {
    cudaPointerAttributes attributes;
    if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged ? attributes.device : -1;
}

MemoryStats PoolMemory(int device_id) {
    ScopedDevice scope(device_id);
    cudaMemPool_t pool;
    SEMSLAM_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_id));
    MemoryStats stats;
    uint64_t value = 0;
    SEMSLAM_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &value));
    stats.used = value;
    SEMSLAM_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &value));
    stats.used_peak = value;
    SEMSLAM_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &value));
    stats.reserved = value;
    SEMSLAM_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &value));
    stats.reserved_peak = value;
    return stats;
}

void ResetPoolPeaks(int device_id) {
    ScopedDevice scope(device_id);
    cudaMemPool_t pool;
    SEMSLAM_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_id));
    uint64_t zero = 0;
    SEMSLAM_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
    SEMSLAM_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &zero));
}

void Free(void* ptr, int device_id) {
    if (ptr == nullptr) return;
    ScopedDevice scope(device_id);
    cudaFreeAsync(ptr, ThreadStream(device_id));  // never throws from a destructor path
}

void MemcpyHostToDevice(void* dst, const void* src, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    const cudaStream_t stream = ThreadStream(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
    SEMSLAM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void MemcpyDeviceToHost(void* dst, const void* src, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    const cudaStream_t stream = ThreadStream(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
    SEMSLAM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void MemcpyDeviceToDevice(void* dst, const void* src, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    const cudaStream_t stream = ThreadStream(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
    SEMSLAM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void Memset(void* ptr, int value, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemsetAsync(ptr, value, bytes, ThreadStream(device_id)));
}

std::string RuntimeVersion() {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace cuda
}  // namespace core
}  // namespace semslam
