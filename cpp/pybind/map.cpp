// Bindings of the surfel map (semslam/map). The class is bound directly, so other bindings (the
// tracker) can take a `map::SurfelMap&` and read its Prediction's device buffers without a copy.
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common.h"
#include "results.h"
#include "semslam/map/SurfelMap.h"

namespace semslam {
namespace pybind {

using IntArray = py::array_t<int32_t, py::array::c_style>;

// The fine index map of the last fuse / clean / render_index_map: (H * scale, W * scale) int32.
IntArray FineIndexMap(map::SurfelMap& m) {
    const map::Prediction& p = m.prediction();
    if (p.fine_time < 0) throw py::value_error("no current fine index map: call fuse or render_index_map first");
    std::vector<uint64_t> keys(p.fine_keys.size());
    p.fine_keys.CopyToHost(keys.data());
    IntArray out({p.fine_height, p.fine_width});
    int32_t* dst = out.mutable_data();
    for (py::ssize_t i = 0; i < out.size(); ++i) dst[i] = map::KeyIndex(keys[i]);
    return out;
}

namespace {

using ByteArray = py::array_t<uint8_t, py::array::c_style>;

template <typename T>
py::array_t<T, py::array::c_style> ToArray(const std::vector<T>& values, std::vector<py::ssize_t> shape) {
    py::array_t<T, py::array::c_style> out(shape);
    if (!values.empty()) std::memcpy(out.mutable_data(), values.data(), values.size() * sizeof(T));
    return out;
}

template <typename T>
std::vector<T> ToVector(const py::array_t<T, py::array::c_style | py::array::forcecast>& a) {
    return std::vector<T>(a.data(), a.data() + a.size());
}

py::dict Surfels(const map::SurfelMap& m, bool stable_only, py::object threshold) {
    const float t = threshold.is_none() ? m.params().confidence_threshold : threshold.cast<float>();
    map::SurfelHost h;
    {
        py::gil_scoped_release release;
        h = m.Download(stable_only, t);
    }
    const py::ssize_t n = static_cast<py::ssize_t>(h.radii.size());
    py::dict out;
    out["positions"] = ToArray(h.positions, {n, 3});
    out["normals"] = ToArray(h.normals, {n, 3});
    out["colours"] = ToArray(h.colours, {n, 3});
    out["radii"] = ToArray(h.radii, {n});
    out["confidences"] = ToArray(h.confidences, {n});
    out["init_times"] = ToArray(h.init_times, {n});
    out["last_update_times"] = ToArray(h.last_update_times, {n});
    out["instance_ids"] = ToArray(h.instance_ids, {n});
    const py::ssize_t c = m.num_classes();
    if (m.probability_storage() == map::ProbabilityStorage::Float16) {
        py::array probs(py::dtype("float16"), {n, c});  // the stored half bits, as numpy float16
        if (!h.class_probs_f16.empty()) {
            std::memcpy(probs.mutable_data(), h.class_probs_f16.data(), h.class_probs_f16.size() * sizeof(uint16_t));
        }
        out["class_probs"] = probs;
    } else {
        out["class_probs"] = ToArray(h.class_probs, {n, c});
    }
    out["labels"] = ToArray(h.labels, {n});
    out["label_confidences"] = ToArray(h.label_confidences, {n});
    return out;
}

void SetSurfels(map::SurfelMap& m, const py::dict& d) {
    using F = py::array_t<float, py::array::c_style | py::array::forcecast>;
    using I = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
    for (const char* key : {"positions", "normals", "colours", "radii", "confidences", "init_times",
                            "last_update_times"}) {
        if (!d.contains(key)) throw py::value_error(std::string("surfels dict lacks '") + key + "'");
    }
    F positions = d["positions"].cast<F>();
    CheckShape(positions, {-1, 3}, "positions");
    const py::ssize_t n = positions.shape(0);
    const py::ssize_t c = m.num_classes();
    map::SurfelHost h;
    auto floats = [&](const char* key, std::vector<py::ssize_t> shape) {
        F a = d[key].cast<F>();
        CheckShape(a, shape, key);
        return ToVector<float>(a);
    };
    auto ints = [&](const char* key) {
        I a = d[key].cast<I>();
        CheckShape(a, {n}, key);
        return ToVector<int32_t>(a);
    };
    h.positions = ToVector<float>(positions);
    h.normals = floats("normals", {n, 3});
    h.colours = floats("colours", {n, 3});
    h.radii = floats("radii", {n});
    h.confidences = floats("confidences", {n});
    h.init_times = ints("init_times");
    h.last_update_times = ints("last_update_times");
    h.instance_ids = d.contains("instance_ids") ? ints("instance_ids") : std::vector<int32_t>(n, -1);
    // float16 class_probs are taken bit for bit; labels / label_confidences are derived (ignored here)
    const bool half_given = d.contains("class_probs") && IsFloat(py::array::ensure(d["class_probs"]).dtype(), 2);
    if (half_given) {
        py::array given = py::array::ensure(d["class_probs"]);
        CheckShape(given, {n, c}, "class_probs");
        py::array_t<uint16_t, py::array::c_style> bits = py::array_t<uint16_t, py::array::c_style>::ensure(
            given.attr("view")(py::dtype("uint16")));
        h.class_probs_f16.assign(bits.data(), bits.data() + bits.size());
    } else if (d.contains("class_probs")) {
        h.class_probs = floats("class_probs", {n, c});
    } else {
        h.class_probs.assign(static_cast<size_t>(n * c), c > 0 ? 1.0f / static_cast<float>(c) : 0.0f);
    }
    py::gil_scoped_release release;
    m.Upload(h);
}

py::dict Predict(map::SurfelMap& m, const DoubleArray& T_world_cam, float fx, float fy, float cx, float cy, int width,
                 int height, int time) {
    const core::Rigid3f T = ToRigid(T_world_cam, "T_world_cam");
    map::Prediction* p;
    {
        py::gil_scoped_release release;
        p = &m.Predict(T, {fx, fy, cx, cy}, width, height, time);
    }
    py::dict out;
    out["vertices"] = Download(p->vertices, {height, width, 3});
    out["normals"] = Download(p->normals, {height, width, 3});
    out["colours"] = Download(p->colours, {height, width, 3});
    out["intensity"] = Download(p->intensity, {height, width});
    out["index_map"] = Download(p->index_map, {height, width});
    return out;
}

IntArray RenderIndexMap(map::SurfelMap& m, const DoubleArray& T_world_cam, float fx, float fy, float cx, float cy,
                        int width, int height, int time) {
    const core::Rigid3f T = ToRigid(T_world_cam, "T_world_cam");
    {
        py::gil_scoped_release release;
        m.RenderIndexMap(T, {fx, fy, cx, cy}, width, height, time);
    }
    return FineIndexMap(m);
}

py::dict Fuse(map::SurfelMap& m, const FloatArray& vertices, const FloatArray& normals, const ByteArray& rgb,
              const DoubleArray& T_world_cam, float fx, float fy, float cx, float cy, int time, float weight) {
    CheckShape(vertices, {-1, -1, 3}, "vertices");
    const py::ssize_t h = vertices.shape(0), w = vertices.shape(1);
    CheckShape(normals, {h, w, 3}, "normals");
    CheckShape(rgb, {h, w, 3}, "rgb");
    const core::Rigid3f T = ToRigid(T_world_cam, "T_world_cam");
    const core::Device device = m.device();
    core::Buffer<float> v = Upload(vertices, device);
    core::Buffer<float> n = Upload(normals, device);
    core::Buffer<uint8_t> c = Upload(rgb, device);
    map::FuseStats s;
    {
        py::gil_scoped_release release;
        s = m.Fuse(v, n, c, T, {fx, fy, cx, cy}, static_cast<int>(w), static_cast<int>(h), time, weight);
    }
    return FuseStatsToDict(s);
}

py::dict Clean(map::SurfelMap& m, int time) {
    map::CleanStats s;
    {
        py::gil_scoped_release release;
        s = m.Clean(time);
    }
    py::dict out;
    out["removed_unstable"] = s.removed_unstable;
    out["removed_merged"] = s.removed_merged;
    out["removed_free_space"] = s.removed_free_space;
    out["size"] = s.size;
    return out;
}

// One per-surfel field, copied to the host without the others (the object map reads positions,
// normals and instance ids each frame; surfels() would copy the class-probability table too).
py::array SurfelField(map::SurfelMap& m, const std::string& name) {
    const map::SurfelArrays a = m.Arrays();
    const py::ssize_t n = static_cast<py::ssize_t>(m.size());
    auto copy = [&](auto* src, std::vector<py::ssize_t> shape, py::ssize_t per) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(src)>>;
        py::array_t<T, py::array::c_style> out(shape);
        {
            py::gil_scoped_release release;
            core::CopyDeviceToHost(out.mutable_data(), src, n * per, m.device());
        }
        return py::array(out);
    };
    if (name == "positions") return copy(a.positions, {n, 3}, 3);
    if (name == "normals") return copy(a.normals, {n, 3}, 3);
    if (name == "colours") return copy(a.colours, {n, 3}, 3);
    if (name == "radii") return copy(a.radii, {n}, 1);
    if (name == "confidences") return copy(a.confidences, {n}, 1);
    if (name == "init_times") return copy(a.init_times, {n}, 1);
    if (name == "last_update_times") return copy(a.last_update_times, {n}, 1);
    if (name == "instance_ids") return copy(a.instance_ids, {n}, 1);
    throw py::value_error("surfel field '" + name + "' cannot be read alone (positions, normals, colours, radii, "
                          "confidences, init_times, last_update_times, instance_ids)");
}

// Writes instance ids: ids (N,) for every surfel, or ids (K,) at indices (K,) (each in [0, N)).
void SetInstanceIds(map::SurfelMap& m, const IntArray& ids, py::object indices) {
    const int64_t n = m.size();
    int32_t* dst = m.Arrays().instance_ids;
    if (indices.is_none()) {
        if (ids.ndim() != 1 || ids.shape(0) != n) {
            throw py::value_error("instance ids must be (" + std::to_string(n) + ",) int32 for a map of " +
                                  std::to_string(n) + " surfels, got " + std::to_string(ids.size()) + " values");
        }
        py::gil_scoped_release release;
        core::CopyHostToDevice(dst, ids.data(), n, m.device());
        return;
    }
    const IntArray idx = indices.cast<IntArray>();
    if (ids.ndim() != 1 || idx.ndim() != 1 || idx.shape(0) != ids.shape(0)) {
        throw py::value_error("indices and ids must be 1D arrays of one length");
    }
    const int32_t* ip = idx.data();
    for (py::ssize_t k = 0; k < idx.shape(0); ++k) {
        if (ip[k] < 0 || ip[k] >= n) {
            throw py::value_error("surfel index " + std::to_string(ip[k]) + " out of range for a map of " +
                                  std::to_string(n) + " surfels");
        }
    }
    std::vector<int32_t> host(static_cast<size_t>(n));
    py::gil_scoped_release release;
    core::CopyDeviceToHost(host.data(), dst, n, m.device());
    for (py::ssize_t k = 0; k < idx.shape(0); ++k) host[ip[k]] = ids.data()[k];
    core::CopyHostToDevice(dst, host.data(), n, m.device());
}

}  // namespace

void BindMap(py::module_& m) {
    py::class_<map::SurfelMap>(m, "SurfelMap",
                               "ElasticFusion's surfel map on one device (private: use semslam.mapping.SurfelMap).")
        .def(py::init([](const std::string& device, int time_window, float confidence_threshold,
                         float render_depth_max, float fuse_depth_max, int index_scale, int window_multiplier,
                         float fuse_depth_gate, float fuse_normal_angle, float fuse_grazing_normal_z,
                         float fuse_radius_ratio, float radius_max_factor, float confidence_sigma, bool checkerboard,
                         int unstable_time, int unstable_time_object, float merge_depth, float merge_radius_factor,
                         int merge_count, float free_space_depth, float free_space_normal_z, int free_space_count,
                         int initial_capacity, int num_classes, const std::string& probability_dtype) {
                 const map::SurfelMapParams params{
                     time_window,       confidence_threshold, render_depth_max,      fuse_depth_max,
                     index_scale,       window_multiplier,    fuse_depth_gate,       fuse_normal_angle,
                     fuse_grazing_normal_z, fuse_radius_ratio, radius_max_factor,    confidence_sigma,
                     checkerboard,      unstable_time,        unstable_time_object,  merge_depth,
                     merge_radius_factor, merge_count,      free_space_depth,      free_space_normal_z,
                     free_space_count,  initial_capacity};
                 if (probability_dtype != "float32" && probability_dtype != "float16") {
                     throw py::value_error("probability_dtype must be 'float32' or 'float16', got '" +
                                           probability_dtype + "'");
                 }
                 const map::ProbabilityStorage storage = probability_dtype == "float16"
                                                             ? map::ProbabilityStorage::Float16
                                                             : map::ProbabilityStorage::Float32;
                 return new map::SurfelMap(ParseAvailableDevice(device), params, num_classes, storage);
             }),
             py::arg("device"), py::kw_only(), py::arg("time_window"), py::arg("confidence_threshold"),
             py::arg("render_depth_max"), py::arg("fuse_depth_max"), py::arg("index_scale"),
             py::arg("window_multiplier"), py::arg("fuse_depth_gate"), py::arg("fuse_normal_angle"),
             py::arg("fuse_grazing_normal_z"), py::arg("fuse_radius_ratio"), py::arg("radius_max_factor"),
             py::arg("confidence_sigma"), py::arg("checkerboard"), py::arg("unstable_time"),
             py::arg("unstable_time_object"), py::arg("merge_depth"),
             py::arg("merge_radius_factor"), py::arg("merge_count"), py::arg("free_space_depth"),
             py::arg("free_space_normal_z"), py::arg("free_space_count"), py::arg("initial_capacity"),
             py::arg("num_classes") = 0, py::arg("probability_dtype") = "float32")
        .def("predict", &Predict, py::arg("T_world_cam"), py::arg("fx"), py::arg("fy"), py::arg("cx"), py::arg("cy"),
             py::arg("width"), py::arg("height"), py::arg("time"),
             "Render the active stable surfels: dict of vertices/normals (H, W, 3) camera frame, colours (H, W, 3) "
             "0..255, intensity (H, W) 0..255 (NaN where no surfel), index_map (H, W) int32 (-1 none).")
        .def("render_index_map", &RenderIndexMap, py::arg("T_world_cam"), py::arg("fx"), py::arg("fy"), py::arg("cx"),
             py::arg("cy"), py::arg("width"), py::arg("height"), py::arg("time"),
             "Fine index map of the active surfels: int32 (H * index_scale, W * index_scale), -1 none.")
        .def("fine_index_map", &FineIndexMap, "The fine index map of the last fuse / clean / render_index_map.")
        .def("fuse", &Fuse, py::arg("vertices"), py::arg("normals"), py::arg("rgb"), py::arg("T_world_cam"),
             py::arg("fx"), py::arg("fy"), py::arg("cx"), py::arg("cy"), py::arg("time"), py::arg("weight") = 1.0f,
             "vertices, normals: float32 (H, W, 3) camera frame, NaN invalid; rgb: uint8 (H, W, 3) -> stats dict.")
        .def("clean", &Clean, py::arg("time"), "Remove stale unstable, duplicate and free-space surfels -> stats dict.")
        .def("surfels", &Surfels, py::arg("stable_only") = false, py::arg("confidence_threshold") = py::none(),
             "Every field as numpy arrays (optionally only surfels with confidence >= the threshold).")
        .def("set_surfels", &SetSurfels, py::arg("surfels"),
             "Replace the contents with a dict as surfels() returns (instance_ids, class_probs optional).")
        .def("surfel_field", &SurfelField, py::arg("name"),
             "One per-surfel field as a numpy array (positions, normals, colours (N, 3); radii, confidences, "
             "init_times, last_update_times, instance_ids (N,)), without copying the others.")
        .def("set_instance_ids", &SetInstanceIds, py::arg("ids"), py::arg("indices") = py::none(),
             "Write instance ids: ids (N,) int32 for every surfel, or ids (K,) at surfel indices (K,).")
        .def_property_readonly("size", &map::SurfelMap::size)
        .def_property_readonly("capacity", &map::SurfelMap::capacity)
        .def(
            "reserve",
            [](map::SurfelMap& m, int64_t count) {
                if (count < 0) throw std::invalid_argument("reserve: count must be >= 0, got " + std::to_string(count));
                py::gil_scoped_release release;
                m.Reserve(count);
            },
            py::arg("count"), "Room for `count` surfels; OutOfMemoryError (map intact) when the device has none.")
        .def_property_readonly("bytes_per_surfel", &map::SurfelMap::bytes_per_surfel)
        .def_property_readonly("num_classes", &map::SurfelMap::num_classes)
        .def_property_readonly("probability_dtype",
                               [](const map::SurfelMap& s) {
                                   return s.probability_storage() == map::ProbabilityStorage::Float16 ? "float16"
                                                                                                      : "float32";
                               })
        .def_property_readonly("device", [](const map::SurfelMap& s) { return s.device().ToString(); });
}

}  // namespace pybind
}  // namespace semslam
