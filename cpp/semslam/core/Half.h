// IEEE 754 binary16 ("half") storage for kernel bodies on both devices: values are kept as their
// uint16_t bit patterns and converted with these functions, written once in plain integer
// arithmetic so that the CPU and CUDA forms round identically (to nearest, ties to even, as
// numpy's float16 does). Used where a table is large and its precision need is small (the
// per-surfel class probabilities).
#pragma once

#include <cstdint>

#include "semslam/core/ParallelFor.h"

#if !defined(__CUDACC__) && defined(__F16C__)
#include <immintrin.h>
#endif

namespace semslam {
namespace core {

SEMSLAM_HOST_DEVICE inline uint32_t FloatBits(float value) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(value);
#else
    uint32_t bits;
    __builtin_memcpy(&bits, &value, sizeof(bits));
    return bits;
#endif
}

SEMSLAM_HOST_DEVICE inline float BitsFloat(uint32_t bits) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(bits);
#else
    float value;
    __builtin_memcpy(&value, &bits, sizeof(value));
    return value;
#endif
}

// Rounds to the nearest half (ties to even); overflow becomes infinity, NaN stays NaN. CPUs with
// F16C convert in one instruction, with the same rounding.
SEMSLAM_HOST_DEVICE inline uint16_t FloatToHalf(float value) {
#if !defined(__CUDACC__) && defined(__F16C__)
    return static_cast<uint16_t>(_cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT));
#endif
    uint32_t x = FloatBits(value);
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0u));
    if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to infinity
    if (x < 0x38800000u) {                                                 // below 2^-14: subnormal or zero
        if (x < 0x33000000u) return static_cast<uint16_t>(sign);           // below 2^-25: rounds to zero
        const uint32_t exponent = x >> 23;                                 // 102..112
        const uint32_t mantissa = (x & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - exponent;  // value / 2^-24 = mantissa >> shift, shift 14..24
        uint32_t h = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        h += (rest > halfway || (rest == halfway && (h & 1u))) ? 1u : 0u;
        return static_cast<uint16_t>(sign | h);
    }
    uint32_t h = (x - 0x38000000u) >> 13;  // exponent rebiased from 127 to 15, mantissa to 10 bits
    const uint32_t rest = x & 0x1fffu;
    h += (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ? 1u : 0u;  // a carry rounds up the exponent
    return static_cast<uint16_t>(sign | h);
}

SEMSLAM_HOST_DEVICE inline float HalfToFloat(uint16_t half) {
#if !defined(__CUDACC__) && defined(__F16C__)
    return _cvtsh_ss(half);
#endif
    const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
    const uint32_t exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
    if (exponent == 0x1fu) return BitsFloat(sign | 0x7f800000u | (mantissa << 13));
    if (exponent == 0) {
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // mantissa * 2^-24, exact
        return sign ? -magnitude : magnitude;
    }
    return BitsFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Loads and stores of a table element whose storage is float or half (uint16_t bits), so one
// kernel body serves both storages as a template.
SEMSLAM_HOST_DEVICE inline float LoadValue(const float* p) { return *p; }
SEMSLAM_HOST_DEVICE inline float LoadValue(const uint16_t* p) { return HalfToFloat(*p); }
SEMSLAM_HOST_DEVICE inline void StoreValue(float* p, float value) { *p = value; }
SEMSLAM_HOST_DEVICE inline void StoreValue(uint16_t* p, float value) { *p = FloatToHalf(value); }

}  // namespace core
}  // namespace semslam
