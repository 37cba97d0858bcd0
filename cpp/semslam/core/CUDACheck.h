// Error checking and device scoping for CUDA translation units (.cu files only).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace semslam {
namespace core {
namespace cuda {

inline void Check(cudaError_t err, const char* what, const char* file, int line) {
    if (err == cudaSuccess) return;
    const std::string message = std::string(what) + " failed: " + cudaGetErrorString(err) + " (" + file +
                                ":" + std::to_string(line) + ")";
    if (err == cudaErrorMemoryAllocation) throw std::bad_alloc();
    throw std::runtime_error(message);
}

// Makes `device_id` current for the scope and restores the previous device after.
class ScopedDevice {
public:
    explicit ScopedDevice(int device_id) {
        Check(cudaGetDevice(&previous_), "cudaGetDevice", __FILE__, __LINE__);
        if (previous_ != device_id) Check(cudaSetDevice(device_id), "cudaSetDevice", __FILE__, __LINE__);
    }
    ~ScopedDevice() { cudaSetDevice(previous_); }
    ScopedDevice(const ScopedDevice&) = delete;
    ScopedDevice& operator=(const ScopedDevice&) = delete;

private:
    int previous_ = 0;
};

}  // namespace cuda
}  // namespace core
}  // namespace semslam

#define SEMSLAM_CUDA_CHECK(expr) ::semslam::core::cuda::Check((expr), #expr, __FILE__, __LINE__)
