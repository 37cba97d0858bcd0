// Atomic operations usable in kernel bodies on both devices (CPU threads via GCC builtins,
// CUDA via its intrinsics). Depth-tested splatting uses AtomicMin on a packed 64-bit key
// (depth bits high, index low) so its result does not depend on thread timing.
#pragma once

#include <cstdint>

#include "semslam/core/ParallelFor.h"

namespace semslam {
namespace core {

SEMSLAM_HOST_DEVICE inline void AtomicMin(uint64_t* address, uint64_t value) {
#if defined(__CUDA_ARCH__)
    atomicMin(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value));
#else
    uint64_t current = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (value < current &&
           !__atomic_compare_exchange_n(address, &current, value, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
#endif
}

SEMSLAM_HOST_DEVICE inline void AtomicMin(uint32_t* address, uint32_t value) {
#if defined(__CUDA_ARCH__)
    atomicMin(reinterpret_cast<unsigned int*>(address), static_cast<unsigned int>(value));
#else
    uint32_t current = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (value < current &&
           !__atomic_compare_exchange_n(address, &current, value, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
#endif
}

// Returns the value before the addition (a slot index when used as a counter).
SEMSLAM_HOST_DEVICE inline int32_t AtomicAdd(int32_t* address, int32_t value) {
#if defined(__CUDA_ARCH__)
    return atomicAdd(reinterpret_cast<int*>(address), static_cast<int>(value));
#else
    return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
#endif
}

SEMSLAM_HOST_DEVICE inline float AtomicAdd(float* address, float value) {
#if defined(__CUDA_ARCH__)
    return atomicAdd(address, value);
#else
    float expected;
    __atomic_load(address, &expected, __ATOMIC_RELAXED);
    float desired;
    do {
        desired = expected + value;
    } while (!__atomic_compare_exchange(address, &expected, &desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return expected;
#endif
}

// Packs a non-negative float depth (its IEEE bits order like the value) and an index into a key
// whose minimum is the nearest depth, ties broken by the smaller index.
SEMSLAM_HOST_DEVICE inline uint64_t PackDepthIndex(float depth, uint32_t index) {
    uint32_t bits;
#if defined(__CUDA_ARCH__)
    bits = __float_as_uint(depth);
#else
    __builtin_memcpy(&bits, &depth, sizeof(bits));
#endif
    return (static_cast<uint64_t>(bits) << 32) | index;
}

SEMSLAM_HOST_DEVICE inline uint32_t UnpackIndex(uint64_t key) { return static_cast<uint32_t>(key & 0xffffffffu); }

constexpr uint64_t kEmptyKey = ~static_cast<uint64_t>(0);

}  // namespace core
}  // namespace semslam
