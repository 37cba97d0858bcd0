// Helpers shared by the binding files: device parsing, shape checks, host<->device copies.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "semslam/core/Buffer.h"
#include "semslam/core/Device.h"
#include "semslam/core/Math.h"

namespace semslam {
namespace pybind {

namespace py = pybind11;
using FloatArray = py::array_t<float, py::array::c_style>;
using DoubleArray = py::array_t<double, py::array::c_style>;

inline core::Device ParseAvailableDevice(const std::string& text) {
    const core::Device device = core::Device::Parse(text);
    core::CheckAvailable(device);
    return device;
}

// Shape check with the shapes in the message; -1 in `expected` matches any extent.
// Whether a numpy dtype is IEEE float of `bytes` bytes (dtype objects compare by value, not identity).
inline bool IsFloat(const py::dtype& dtype, py::ssize_t bytes) { return dtype.kind() == 'f' && dtype.itemsize() == bytes; }

inline void CheckShape(const py::array& a, const std::vector<py::ssize_t>& expected, const char* name) {
    bool ok = a.ndim() == static_cast<py::ssize_t>(expected.size());
    for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || a.shape(i) == expected[i];
    if (ok) return;
    auto show = [](const std::vector<py::ssize_t>& s) {
        std::string out = "(";
        for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + (s[i] < 0 ? std::string("*") : std::to_string(s[i]));
        return out + ")";
    };
    std::vector<py::ssize_t> got(a.shape(), a.shape() + a.ndim());
    throw py::value_error(std::string(name) + " has shape " + show(got) + ", expected " + show(expected));
}

template <typename T>
core::Buffer<T> Upload(const py::array_t<T, py::array::c_style>& a, const core::Device& device) {
    core::Buffer<T> buffer(static_cast<size_t>(a.size()), device);
    buffer.CopyFromHost(a.data());
    return buffer;
}

template <typename T>
py::array_t<T, py::array::c_style> Download(const core::Buffer<T>& buffer, std::vector<py::ssize_t> shape) {
    py::array_t<T, py::array::c_style> out(shape);
    buffer.CopyToHost(out.mutable_data());
    return out;
}

// A 4x4 (or 3x4) rigid transform from numpy (float64 or float32) to the core's Rigid3f.
inline core::Rigid3f ToRigid(const py::array_t<double, py::array::c_style | py::array::forcecast>& T, const char* name) {
    if (!(T.ndim() == 2 && (T.shape(0) == 4 || T.shape(0) == 3) && T.shape(1) == 4)) {
        throw py::value_error(std::string(name) + " must be a 4x4 rigid transform");
    }
    core::Rigid3f r;
    for (int i = 0; i < 12; ++i) {
        const double v = T.data()[i];
        if (!std::isfinite(v)) throw py::value_error(std::string(name) + " holds a non-finite value");
        r.m[i] = static_cast<float>(v);
    }
    return r;
}

}  // namespace pybind
}  // namespace semslam
