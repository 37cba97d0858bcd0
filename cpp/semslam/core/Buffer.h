// Buffer<T>: a typed array that owns its memory on one device (host memory for the CPU,
// cudaMalloc'd memory for a GPU). Move-only; copies between host and device are explicit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "semslam/core/CUDAUtils.h"
#include "semslam/core/Device.h"

namespace semslam {
namespace core {

// Copies `count` elements between host memory and memory on `device` (a plain memcpy on the CPU).
template <typename T>
void CopyHostToDevice(T* dst, const T* src, int64_t count, const Device& device) {
    if (count <= 0) return;
    if (device.IsCPU()) {
        std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(T));
        return;
    }
#ifdef SEMSLAM_WITH_CUDA
    cuda::MemcpyHostToDevice(dst, src, static_cast<size_t>(count) * sizeof(T), device.id());
#endif
}

template <typename T>
void CopyDeviceToHost(T* dst, const T* src, int64_t count, const Device& device) {
    if (count <= 0) return;
    if (device.IsCPU()) {
        std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(T));
        return;
    }
#ifdef SEMSLAM_WITH_CUDA
    cuda::MemcpyDeviceToHost(dst, src, static_cast<size_t>(count) * sizeof(T), device.id());
#endif
}

// Host allocations of at least this size are aligned to it and marked for transparent huge pages
// (Linux madvise; a hint, ignored where they are off): buffers such as the fine index map (tens of
// MB) are read and written at random places, and with 4 KB pages nearly every such access also
// misses the TLB. The rounding up to whole huge pages is at most 2 MB per buffer.
constexpr size_t kHugePageBytes = static_cast<size_t>(2) << 20;

inline void* HostAllocate(size_t bytes) {
    if (bytes < kHugePageBytes) return std::malloc(bytes);
    const size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    void* data = std::aligned_alloc(kHugePageBytes, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (data != nullptr) madvise(data, rounded, MADV_HUGEPAGE);
#endif
    return data;
}

template <typename T>
class Buffer;

// Throws std::invalid_argument unless `buffer` holds `expected` values on `device`; the message
// names the buffer (`what`) and who needs it (`owner`, e.g. "the surfel map").
template <typename T>
void CheckBuffer(const Buffer<T>& buffer, size_t expected, const Device& device, const char* what,
                 const char* owner) {
    if (buffer.size() != expected) {
        throw std::invalid_argument(std::string(what) + " holds " + std::to_string(buffer.size()) +
                                    " values, expected " + std::to_string(expected));
    }
    if (buffer.device() != device) {
        throw std::invalid_argument(std::string(what) + " is on " + buffer.device().ToString() + " but " + owner +
                                    " runs on " + device.ToString());
    }
}

template <typename T>
class Buffer {
public:
    Buffer() = default;
    Buffer(size_t count, const Device& device) : device_(device), count_(count) {
        CheckAvailable(device);
        if (count == 0) return;
        if (device.IsCPU()) {
            data_ = static_cast<T*>(HostAllocate(count * sizeof(T)));
            if (data_ == nullptr) throw std::bad_alloc();
        } else {
#ifdef SEMSLAM_WITH_CUDA
            data_ = static_cast<T*>(cuda::Malloc(count * sizeof(T), device.id()));
#endif
        }
    }
    ~Buffer() { Release(); }

    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& other) noexcept { Swap(other); }
    Buffer& operator=(Buffer&& other) noexcept {
        if (this != &other) {
            Release();
            Swap(other);
        }
        return *this;
    }

    T* data() { return data_; }
    const T* data() const { return data_; }
    size_t size() const { return count_; }
    size_t bytes() const { return count_ * sizeof(T); }
    const Device& device() const { return device_; }

    // Copies size() elements from host memory `src`.
    void CopyFromHost(const T* src) { CopyHostToDevice(data_, src, static_cast<int64_t>(count_), device_); }
    // Copies size() elements into host memory `dst`.
    void CopyToHost(T* dst) const { CopyDeviceToHost(dst, data_, static_cast<int64_t>(count_), device_); }
    void Fill0() {
        if (count_ == 0) return;
        if (device_.IsCPU()) {
            std::memset(data_, 0, bytes());
        } else {
#ifdef SEMSLAM_WITH_CUDA
            cuda::Memset(data_, 0, bytes(), device_.id());
#endif
        }
    }

private:
    void Release() noexcept {
        if (data_ == nullptr) return;
        if (device_.IsCPU()) {
            std::free(data_);
        } else {
#ifdef SEMSLAM_WITH_CUDA
            cuda::Free(data_, device_.id());
#endif
        }
        data_ = nullptr;
        count_ = 0;
    }
    void Swap(Buffer& other) noexcept {
        std::swap(device_, other.device_);
        std::swap(data_, other.data_);
        std::swap(count_, other.count_);
    }

    Device device_;
    T* data_ = nullptr;
    size_t count_ = 0;
};

// std::invalid_argument unless `buffer` holds exactly `expected` values (`what` names it).
template <typename T>
void CheckSize(const Buffer<T>& buffer, size_t expected, const char* what) {
    if (buffer.size() != expected) {
        throw std::invalid_argument(std::string(what) + " holds " + std::to_string(buffer.size()) +
                                    " values, expected " + std::to_string(expected));
    }
}

// std::invalid_argument unless both buffers live on the same device.
template <typename A, typename B>
void CheckSameDevice(const Buffer<A>& a, const Buffer<B>& b) {
    if (a.device() != b.device()) {
        throw std::invalid_argument("buffers on different devices: " + a.device().ToString() + " and " +
                                    b.device().ToString());
    }
}

}  // namespace core
}  // namespace semslam
