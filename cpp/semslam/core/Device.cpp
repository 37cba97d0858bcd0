#include "semslam/core/Device.h"

#include "semslam/core/CUDAUtils.h"

namespace semslam {
namespace core {

Device::Device(Type type, int id) : type_(type), id_(id) {
    if (id < 0) throw std::invalid_argument("device index must be >= 0, got " + std::to_string(id));
    if (type == Type::CPU) id_ = 0;
}

Device Device::Parse(const std::string& text) {
    if (text == "cpu" || text == "CPU" || text == "cpu:0") return Device();
    if (text == "cuda" || text == "CUDA") return Device(Type::CUDA, 0);
    const std::string prefix = "cuda:";
    if (text.rfind(prefix, 0) == 0 && text.size() > prefix.size()) {
        const std::string digits = text.substr(prefix.size());
        if (digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 4) {
            return Device(Type::CUDA, std::stoi(digits));
        }
    }
    throw std::invalid_argument("unknown device '" + text + "': expected 'cpu', 'cuda' or 'cuda:N'");
}

std::string Device::ToString() const {
    return IsCPU() ? std::string("cpu") : "cuda:" + std::to_string(id_);
}

bool CUDABuilt() {
#ifdef SEMSLAM_WITH_CUDA
    return true;
#else
    return false;
#endif
}

int CUDADeviceCount() {
#ifdef SEMSLAM_WITH_CUDA
    return cuda::DeviceCount();
#else
    return 0;
#endif
}

std::vector<Device> AvailableDevices() {
    std::vector<Device> devices{Device()};
    const int n = CUDADeviceCount();
    for (int i = 0; i < n; ++i) devices.emplace_back(Device::Type::CUDA, i);
    return devices;
}

void CheckAvailable(const Device& device) {
    if (device.IsCPU()) return;
    if (!CUDABuilt()) {
        throw DeviceError("device " + device.ToString() +
                          " requested, but this semslam build has no CUDA support (built without "
                          "nvcc or with SEMSLAM_CUDA=OFF); rebuild with a CUDA toolkit and "
                          "SEMSLAM_CUDA=ON, or use device 'cpu'");
    }
    const int n = CUDADeviceCount();
    if (n == 0) {
        throw DeviceError("device " + device.ToString() +
                          " requested, but no CUDA GPU is visible (no NVIDIA driver, or "
                          "CUDA_VISIBLE_DEVICES hides them); use device 'cpu'");
    }
    if (device.id() >= n) {
        throw DeviceError("device " + device.ToString() + " requested, but only " + std::to_string(n) +
                          " CUDA device(s) are visible (cuda:0 .. cuda:" + std::to_string(n - 1) + ")");
    }
}

}  // namespace core
}  // namespace semslam
