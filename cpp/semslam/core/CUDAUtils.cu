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

void* Malloc(size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    void* ptr = nullptr;
    SEMSLAM_CUDA_CHECK(cudaMalloc(&ptr, bytes));
    return ptr;
}

void Free(void* ptr, int device_id) {
    if (ptr == nullptr) return;
    ScopedDevice scope(device_id);
    cudaFree(ptr);  // never throws from a destructor path
}

void MemcpyHostToDevice(void* dst, const void* src, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void MemcpyDeviceToHost(void* dst, const void* src, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void MemcpyDeviceToDevice(void* dst, const void* src, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

void Memset(void* ptr, int value, size_t bytes, int device_id) {
    ScopedDevice scope(device_id);
    SEMSLAM_CUDA_CHECK(cudaMemset(ptr, value, bytes));
}

void Synchronize(int device_id) {
    ScopedDevice scope(device_id);
    SEMSLAM_CUDA_CHECK(cudaDeviceSynchronize());
}

std::string RuntimeVersion() {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace cuda
}  // namespace core
}  // namespace semslam
