// Bindings of the semantic kernels (semslam/semantics): the per-surfel Bayesian label update and
// the dense CRF over the map. Both take the bound SurfelMap and work on its device buffers.
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common.h"
#include "semslam/map/SurfelMap.h"
#include "semslam/core/CUDAUtils.h"
#include "semslam/semantics/LabelFusion.h"
#include "semslam/semantics/MapCRF.h"

namespace semslam {
namespace pybind {

namespace {

py::dict LabelStatsToDict(const semantics::LabelUpdateStats& s) {
    py::dict out;
    out["visible"] = s.visible;
    out["updated"] = s.updated;
    out["rejected"] = s.rejected;
    return out;
}

// Host probabilities (float, or float16 as uint16 bits): on the CPU the kernel reads the array
// where it lies (no copy of the tens of MB of a frame's probabilities); a GPU map gets them uploaded.
template <typename Value>
semantics::LabelUpdateStats UpdateFromHost(map::SurfelMap& m, const py::array_t<Value, py::array::c_style>& values,
                                           const core::Rigid3f& T, const core::PinholeIntrinsics& K, int width,
                                           int height, int time, float probability_floor) {
    if (m.device().IsCPU()) {
        const float* f32 = nullptr;
        const uint16_t* f16 = nullptr;
        if constexpr (std::is_same_v<Value, float>) {
            f32 = values.data();
        } else {
            f16 = values.data();
        }
        py::gil_scoped_release release;
        return semantics::UpdateLabelsFromDevice(m, f32, f16, T, K, width, height, time, probability_floor);
    }
    core::Buffer<Value> buffer = Upload(values, m.device());
    py::gil_scoped_release release;
    return semantics::UpdateLabels(m, buffer, T, K, width, height, time, probability_floor);
}

py::dict UpdateLabels(map::SurfelMap& m, const py::array& probs, const DoubleArray& T_world_cam, float fx, float fy,
                      float cx, float cy, int time, float probability_floor) {
    if (probs.ndim() != 3) throw py::value_error("probs must be (H, W, num_classes)");
    const py::ssize_t h = probs.shape(0), w = probs.shape(1);
    CheckShape(probs, {h, w, static_cast<py::ssize_t>(m.num_classes())}, "probs");
    const core::Rigid3f T = ToRigid(T_world_cam, "T_world_cam");
    const core::PinholeIntrinsics K{fx, fy, cx, cy};
    semantics::LabelUpdateStats s;
    if (IsFloat(probs.dtype(), 2)) {
        using Bits = py::array_t<uint16_t, py::array::c_style>;
        Bits bits = Bits::ensure(probs.attr("view")(py::dtype("uint16")));
        if (!bits) throw py::value_error("probs could not be read as float16");
        s = UpdateFromHost(m, bits, T, K, static_cast<int>(w), static_cast<int>(h), time, probability_floor);
    } else if (IsFloat(probs.dtype(), 4)) {
        s = UpdateFromHost(m, FloatArray::ensure(probs), T, K, static_cast<int>(w), static_cast<int>(h), time,
                           probability_floor);
    } else {
        throw py::value_error("probs must be float32 or float16, got " + std::string(py::str(probs.dtype())));
    }
    return LabelStatsToDict(s);
}

// probs given as __cuda_array_interface__ fields (a torch CUDA tensor, CuPy array): a device
// pointer, shape (H, W, C), typestr <f2 / <f4, C-contiguous, on the map's GPU.
py::dict UpdateLabelsDevice(map::SurfelMap& m, uintptr_t pointer, py::ssize_t h, py::ssize_t w, py::ssize_t classes,
                            const std::string& typestr, const DoubleArray& T_world_cam, float fx, float fy, float cx,
                            float cy, int time, float probability_floor) {
    if (classes != m.num_classes()) {
        throw py::value_error("probs must be (H, W, " + std::to_string(m.num_classes()) + ") for this map, got " +
                              std::to_string(classes) + " classes");
    }
    if (typestr != "<f2" && typestr != "<f4") throw py::value_error("probs must be float16 or float32, got " + typestr);
    const core::Device device = m.device();
#ifdef SEMSLAM_WITH_CUDA
    const int on = core::cuda::PointerDevice(reinterpret_cast<const void*>(pointer));
    if (!device.IsCUDA() || on != device.id()) {
        throw py::value_error("GPU probabilities must be on the map's device " + device.ToString() + ", they are on " +
                              (on < 0 ? std::string("no GPU") : "cuda:" + std::to_string(on)));
    }
#else
    throw py::value_error("GPU probabilities need a CUDA build of the core");
#endif
    const core::Rigid3f T = ToRigid(T_world_cam, "T_world_cam");
    const core::PinholeIntrinsics K{fx, fy, cx, cy};
    semantics::LabelUpdateStats s;
    {
        py::gil_scoped_release release;
        const bool half = typestr == "<f2";
        s = semantics::UpdateLabelsFromDevice(m, half ? nullptr : reinterpret_cast<const float*>(pointer),
                                              half ? reinterpret_cast<const uint16_t*>(pointer) : nullptr, T, K,
                                              static_cast<int>(w), static_cast<int>(h), time, probability_floor);
    }
    return LabelStatsToDict(s);
}

py::dict MapCRF(map::SurfelMap& m, int iterations, float sigma_position, float sigma_colour, float sigma_normal,
              float appearance_weight, float smoothness_weight, float neighbour_radius, int max_neighbours,
              float probability_floor) {
    const semantics::CRFParams params{iterations,        sigma_position,    sigma_colour,
                                      sigma_normal,      appearance_weight, smoothness_weight,
                                      neighbour_radius,  max_neighbours,    probability_floor};
    semantics::CRFStats s;
    {
        py::gil_scoped_release release;
        s = semantics::RunMapCRF(m, params);
    }
    py::dict out;
    out["surfels"] = s.surfels;
    out["mean_neighbours"] = s.mean_neighbours;
    out["isolated"] = s.isolated;
    out["labels_changed"] = s.labels_changed;
    out["cells"] = s.cells;
    out["cell_size"] = s.cell_size;
    return out;
}

py::tuple SurfelLabels(map::SurfelMap& m) {
    const int64_t n = m.size();
    py::array_t<int32_t, py::array::c_style> labels(n);
    py::array_t<float, py::array::c_style> confidences(n);
    const map::SurfelArrays s = m.Arrays();
    int32_t* labels_out = labels.mutable_data();
    float* confidences_out = confidences.mutable_data();
    {
        py::gil_scoped_release release;
        core::CopyDeviceToHost(labels_out, s.labels, n, m.device());
        core::CopyDeviceToHost(confidences_out, s.label_confidences, n, m.device());
    }
    return py::make_tuple(labels, confidences);
}

}  // namespace

void BindSemantics(py::module_& m) {
    m.def("update_labels", &UpdateLabels, py::arg("surfel_map"), py::arg("probs"), py::arg("T_world_cam"),
          py::arg("fx"), py::arg("fy"), py::arg("cx"), py::arg("cy"), py::arg("time"), py::arg("probability_floor"),
          "Bayesian label update of the surfels visible at T_world_cam from probs (H, W, C) float32/float16 "
          "-> dict visible, updated, rejected.");
    m.def("update_labels_device", &UpdateLabelsDevice, py::arg("surfel_map"), py::arg("pointer"), py::arg("height"),
          py::arg("width"), py::arg("classes"), py::arg("typestr"), py::arg("T_world_cam"), py::arg("fx"), py::arg("fy"),
          py::arg("cx"), py::arg("cy"), py::arg("time"), py::arg("probability_floor"),
          "update_labels from GPU memory (__cuda_array_interface__ fields) on the map's device.");
    m.def("map_crf", &MapCRF, py::arg("surfel_map"), py::kw_only(), py::arg("iterations"),
          py::arg("sigma_position"), py::arg("sigma_colour"), py::arg("sigma_normal"), py::arg("appearance_weight"),
          py::arg("smoothness_weight"), py::arg("neighbour_radius"), py::arg("max_neighbours"),
          py::arg("probability_floor"),
          "Dense CRF over the surfels; writes the posterior back -> dict surfels, mean_neighbours, isolated, "
          "labels_changed, cells, cell_size.");
    m.def("surfel_labels", &SurfelLabels, py::arg("surfel_map"),
          "Per surfel: argmax class (N,) int32 and its probability (N,) float32.");
}

}  // namespace pybind
}  // namespace semslam
