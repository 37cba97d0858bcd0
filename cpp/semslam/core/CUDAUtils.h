// Thin host-side CUDA helpers. Declared for every build; defined only in CUDA builds
// (CUDAUtils.cu), and only called behind SEMSLAM_WITH_CUDA.
#pragma once

#include <cstddef>
#include <string>

namespace semslam {
namespace core {
namespace cuda {

int DeviceCount();                       // 0 when the driver is missing or sees no GPU
std::string DeviceName(int device_id);
void* Malloc(size_t bytes, int device_id);
void Free(void* ptr, int device_id);
void MemcpyHostToDevice(void* dst, const void* src, size_t bytes, int device_id);
void MemcpyDeviceToHost(void* dst, const void* src, size_t bytes, int device_id);
void MemcpyDeviceToDevice(void* dst, const void* src, size_t bytes, int device_id);
void Memset(void* ptr, int value, size_t bytes, int device_id);
void Synchronize(int device_id);
std::string RuntimeVersion();

}  // namespace cuda
}  // namespace core
}  // namespace semslam
