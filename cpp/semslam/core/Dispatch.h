// SEMSLAM_DISPATCH(device, Name, args...): call kernel::NameCUDA or kernel::NameCPU for the
// device the data lives on. Each area's host code calls it from inside its own namespace, where
// `kernel::` names that area's kernel entry points.
#pragma once

#include "semslam/core/Device.h"

// Calls the CPU or CUDA instantiation of a kernel for the buffers' device.
#ifdef SEMSLAM_WITH_CUDA
#define SEMSLAM_DISPATCH(device, name, ...)                               \
    do {                                                                  \
        if ((device).IsCUDA()) {                                          \
            kernel::name##CUDA(device, __VA_ARGS__);                      \
        } else {                                                          \
            kernel::name##CPU(device, __VA_ARGS__);                       \
        }                                                                 \
    } while (0)
#else
#define SEMSLAM_DISPATCH(device, name, ...)                               \
    do {                                                                  \
        core::CheckAvailable(device);                                     \
        kernel::name##CPU(device, __VA_ARGS__);                           \
    } while (0)
#endif

// The same, as an expression with the kernel's result.
#ifdef SEMSLAM_WITH_CUDA
#define SEMSLAM_DISPATCH_VALUE(device, name, ...) \
    ((device).IsCUDA() ? kernel::name##CUDA(device, __VA_ARGS__) : kernel::name##CPU(device, __VA_ARGS__))
#else
#define SEMSLAM_DISPATCH_VALUE(device, name, ...) \
    (core::CheckAvailable(device), kernel::name##CPU(device, __VA_ARGS__))
#endif
