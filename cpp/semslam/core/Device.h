// A compute device: the CPU (OpenMP) or one CUDA GPU. Parsed from "cpu", "cuda", "cuda:N".
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace semslam {
namespace core {

// Raised when a device is asked for that this build or machine does not have; the binding
// maps it to semslam.errors.DeviceError.
class DeviceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A device ran out of memory for a named allocation (Python: semslam.errors.OutOfMemoryError, a
// MemoryError). What was built before the allocation stays valid.
class OutOfMemoryError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Device {
public:
    enum class Type { CPU, CUDA };

    Device() = default;  // the CPU
    Device(Type type, int id);

    // "cpu", "cuda" (= cuda:0) or "cuda:N"; throws std::invalid_argument on anything else.
    static Device Parse(const std::string& text);

    Type type() const { return type_; }
    int id() const { return id_; }
    bool IsCPU() const { return type_ == Type::CPU; }
    bool IsCUDA() const { return type_ == Type::CUDA; }
    std::string ToString() const;

    bool operator==(const Device& other) const { return type_ == other.type_ && id_ == other.id_; }
    bool operator!=(const Device& other) const { return !(*this == other); }

private:
    Type type_ = Type::CPU;
    int id_ = 0;
};

// True when the CUDA kernels were compiled into this build.
bool CUDABuilt();
// Number of CUDA devices the driver reports; 0 in a CPU-only build or without a usable driver.
int CUDADeviceCount();
// "cpu" first, then every visible GPU.
std::vector<Device> AvailableDevices();
// Throws DeviceError naming what is missing (CUDA not built, no GPU, index out of range).
void CheckAvailable(const Device& device);

}  // namespace core
}  // namespace semslam
