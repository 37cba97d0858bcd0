// Thin host-side CUDA helpers. Declared for every build; defined only in CUDA builds
// (CUDAUtils.cu), and only called behind SEMSLAM_WITH_CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace semslam {
namespace core {
namespace cuda {

int DeviceCount();                       // 0 when the driver is missing or sees no GPU
// The calling thread's stream on a GPU (non-blocking, highest priority; made on first use): every
// kernel, copy and allocation of the core goes there. Returned as an opaque handle (cudaStream_t).
struct CUstream_st* ThreadStream(int device_id);
std::string DeviceName(int device_id);
void* Malloc(size_t bytes, int device_id);
void Free(void* ptr, int device_id);
void MemcpyHostToDevice(void* dst, const void* src, size_t bytes, int device_id);
void MemcpyDeviceToHost(void* dst, const void* src, size_t bytes, int device_id);
void MemcpyDeviceToDevice(void* dst, const void* src, size_t bytes, int device_id);
void Memset(void* ptr, int value, size_t bytes, int device_id);
// The GPU whose memory `ptr` points into, or -1 for host (or unknown) memory.
int PointerDevice(const void* ptr);

// Bytes of the device's memory pool, from which all of semslam's device buffers come: in use now,
// in use at the peak since the last reset, and held from the driver (now, at the peak).
struct MemoryStats {
    uint64_t used = 0, used_peak = 0, reserved = 0, reserved_peak = 0;
};
MemoryStats PoolMemory(int device_id);
void ResetPoolPeaks(int device_id);
std::string RuntimeVersion();

}  // namespace cuda
}  // namespace core
}  // namespace semslam
