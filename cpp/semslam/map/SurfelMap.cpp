#include "semslam/map/SurfelMap.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "semslam/core/CUDAUtils.h"
#include "semslam/core/Dispatch.h"
#include "semslam/core/Half.h"
#include "semslam/map/kernel/SurfelMapKernels.h"

namespace semslam {
namespace map {

namespace {

constexpr int64_t kMinCapacity = 1024;
constexpr int64_t kMaxSurfels = std::numeric_limits<int32_t>::max() - 1;  // indices are int32

void CheckPose(const core::Rigid3f& T, const char* what) {
    for (float v : T.m) {
        if (!std::isfinite(v)) throw std::invalid_argument(std::string(what) + " holds a non-finite value");
    }
}

void CheckIntrinsics(const PinholeIntrinsics& K) {
    if (!(K.fx > 0) || !(K.fy > 0) || !std::isfinite(K.cx) || !std::isfinite(K.cy)) {
        throw std::invalid_argument("intrinsics need positive focal lengths and a finite principal point");
    }
}

void CheckParams(const SurfelMapParams& p) {
    auto require = [](bool ok, const char* message) {
        if (!ok) throw std::invalid_argument(std::string("surfel map parameters: ") + message);
    };
    require(p.time_window >= 0, "time_window must be >= 0");
    require(p.confidence_threshold >= 0, "confidence_threshold must be >= 0");
    require(p.render_depth_max > 0 && p.fuse_depth_max > 0, "depth limits must be positive");
    require(p.index_scale >= 1 && p.window_multiplier >= 1, "index_scale and window_multiplier must be >= 1");
    require(p.index_scale * p.window_multiplier <= 16, "index_scale * window_multiplier must be <= 16");
    require(p.fuse_depth_gate > 0 && p.fuse_normal_angle > 0, "fusion gates must be positive");
    require(p.fuse_radius_ratio > 0 && p.radius_max_factor >= 1, "radius factors out of range");
    require(p.confidence_sigma > 0, "confidence_sigma must be positive");
    require(p.unstable_time >= 0, "unstable_time must be >= 0");
    require(p.unstable_time_object >= 0, "unstable_time_object must be >= 0");
    require(p.merge_depth > 0 && p.merge_radius_factor > 0 && p.free_space_depth >= 0,
            "clean distances must be positive");
    require(p.initial_capacity >= 0, "initial_capacity must be >= 0");
}

}  // namespace

SurfelMap::SurfelMap(const core::Device& device, const SurfelMapParams& params, int num_classes,
                     ProbabilityStorage probability_storage)
    : device_(device), params_(params), num_classes_(num_classes) {
    core::CheckAvailable(device);
    CheckParams(params);
    if (num_classes < 0) throw std::invalid_argument("num_classes must be >= 0");
    probability_storage_ = probability_storage;
    Reserve(std::max<int64_t>(params.initial_capacity, kMinCapacity));
}

int64_t SurfelMap::bytes_per_surfel() const {
    const int64_t probability_bytes = probability_storage_ == ProbabilityStorage::Float16 ? 2 : 4;
    return 3 * 3 * sizeof(float) + 2 * sizeof(float) + 3 * sizeof(int32_t) +
           static_cast<int64_t>(num_classes_) * probability_bytes + sizeof(int32_t) + sizeof(float);  // + label
}

SurfelArrays SurfelMap::Arrays() {
    return {positions_.data(),  normals_.data(),           colours_.data(),       radii_.data(),
            confidences_.data(), init_times_.data(),        last_update_times_.data(),
            instance_ids_.data(), class_probs_.data(),       num_classes_,
            class_probs_f16_.data(), labels_.data(),         label_confidences_.data()};
}

template <typename FloatFn, typename IntFn>
void SurfelMap::ForEachField(const FloatFn& on_float, const IntFn& on_int) {
    const bool half = probability_storage_ == ProbabilityStorage::Float16;
    on_float(positions_, 3);
    on_float(normals_, 3);
    on_float(colours_, 3);
    on_float(radii_, 1);
    on_float(confidences_, 1);
    on_float(class_probs_, half ? 0 : num_classes_);  // the float16 table is handled by the caller
    on_float(label_confidences_, 1);
    on_int(init_times_);
    on_int(last_update_times_);
    on_int(instance_ids_);
    on_int(labels_);
}

void SurfelMap::Reserve(int64_t count) {
    if (count > kMaxSurfels) throw std::length_error("surfel map would exceed " + std::to_string(kMaxSurfels) + " surfels");
    if (count <= capacity_) return;
    const int64_t capacity = std::min(kMaxSurfels, std::max({count, 2 * capacity_, kMinCapacity}));
    try {
        Grow(capacity);
    } catch (const std::bad_alloc&) {
        // Fields already grown keep their new room; the map stays valid at its size.
        const double mb = static_cast<double>(capacity) * static_cast<double>(bytes_per_surfel() + 20) / (1 << 20);
        throw core::OutOfMemoryError(
            "out of memory on " + device_.ToString() + " growing the surfel map from " + std::to_string(capacity_) +
            " to " + std::to_string(capacity) + " surfels (" + std::to_string(static_cast<int64_t>(mb)) +
            " MB with workspace) for " + std::to_string(count) + " surfels; the map so far (" +
            std::to_string(size_) + " surfels) is intact. Lower map.initial_capacity, fuse less (map.fuse_depth_max, "
            "a stride), or use a device with more memory");
    }
}

void SurfelMap::Grow(int64_t capacity) {
    const size_t cap = static_cast<size_t>(capacity);
    const int64_t n = size_;
    auto grow_float = [&](core::Buffer<float>& field, int stride) {
        core::Buffer<float> bigger(cap * stride, device_);
        if (n > 0 && stride > 0) SEMSLAM_DISPATCH(device_, CopyFloat, field.data(), bigger.data(), n * stride);
        field = std::move(bigger);
    };
    auto grow_int = [&](core::Buffer<int32_t>& field) {
        core::Buffer<int32_t> bigger(cap, device_);
        if (n > 0) SEMSLAM_DISPATCH(device_, CopyInt, field.data(), bigger.data(), n);
        field = std::move(bigger);
    };
    ForEachField(grow_float, grow_int);
    const bool half = probability_storage_ == ProbabilityStorage::Float16;
    if (half) {
        core::Buffer<uint16_t> bigger(cap * num_classes_, device_);
        if (n > 0 && num_classes_ > 0) {
            SEMSLAM_DISPATCH(device_, CopyHalf, class_probs_f16_.data(), bigger.data(), n * num_classes_);
        }
        class_probs_f16_ = std::move(bigger);
    }
    owners_ = core::Buffer<uint32_t>(cap, device_);
    SEMSLAM_DISPATCH(device_, FillOwners, owners_.data(), capacity);
    scratch_f_ = core::Buffer<float>(cap * std::max(3, num_classes_), device_);
    scratch_i_ = core::Buffer<int32_t>(cap, device_);
    indexed_ = core::Buffer<IndexedSurfel>(cap, device_);
    core::Buffer<int32_t> slots(cap, device_);
    if (fine_rendered_ > 0) SEMSLAM_DISPATCH(device_, CopyInt, fine_slots_.data(), slots.data(), fine_rendered_);
    fine_slots_ = std::move(slots);
    capacity_ = capacity;
}

void SurfelMap::EnsureWorkspace(int64_t pixels, int64_t fine_pixels) {
    if (keys_.size() < static_cast<size_t>(pixels)) {
        keys_ = core::Buffer<uint64_t>(pixels, device_);
        SEMSLAM_DISPATCH(device_, FillKeys, keys_.data(), pixels);
    }
    core::Buffer<uint64_t>& fine_keys = prediction_.fine_keys;
    if (fine_keys.size() < static_cast<size_t>(fine_pixels)) {
        fine_keys = core::Buffer<uint64_t>(fine_pixels, device_);
        SEMSLAM_DISPATCH(device_, FillKeys, fine_keys.data(), fine_pixels);
        fine_rendered_ = 0;
        prediction_.fine_time = -1;
    }
    if (pixel_match_.size() < static_cast<size_t>(pixels)) pixel_match_ = core::Buffer<int32_t>(pixels, device_);
    const size_t flags = static_cast<size_t>(std::max(pixels, capacity_));
    if (flags_.size() < flags) {
        flags_ = core::Buffer<uint8_t>(flags, device_);
        ranks_ = core::Buffer<int32_t>(flags, device_);
    }
    if (cell_counts_.size() < static_cast<size_t>(pixels + 1)) {
        cell_counts_ = core::Buffer<int32_t>(pixels + 1, device_);
        cell_offsets_ = core::Buffer<int32_t>(pixels + 1, device_);
        SEMSLAM_DISPATCH(device_, FillInt, cell_counts_.data(), 0, pixels + 1);
    }
    if (chunk_counts_.size() == 0) {
        chunk_counts_ = core::Buffer<int32_t>(kernel::kRankChunks, device_);
        chunk_host_.resize(kernel::kRankChunks);
    }
}

int64_t ChunkCountsToOffsets(core::Buffer<int32_t>& chunk_counts, std::vector<int32_t>& chunk_host) {
    // chunk_counts holds one count per chunk; it becomes each chunk's exclusive offset (few chunks:
    // summed on the host, in chunk order, so the result is deterministic)
    chunk_host.resize(chunk_counts.size());
    chunk_counts.CopyToHost(chunk_host.data());
    int64_t total = 0;
    for (int32_t& c : chunk_host) {
        const int32_t count = c;
        c = static_cast<int32_t>(total);
        total += count;
    }
    chunk_counts.CopyFromHost(chunk_host.data());
    return total;
}

int64_t ChunkedExclusiveScan(const core::Device& device, const int32_t* counts, int64_t n, int32_t* offsets,
                             core::Buffer<int32_t>& chunk_counts, std::vector<int32_t>& chunk_host) {
    core::CheckBuffer(chunk_counts, kernel::kRankChunks, device, "chunk counts", "the chunked scan");
    SEMSLAM_DISPATCH(device, ChunkSums, counts, n, chunk_counts.data());
    const int64_t total = ChunkCountsToOffsets(chunk_counts, chunk_host);
    SEMSLAM_DISPATCH(device, ChunkOffsets, counts, n, chunk_counts.data(), static_cast<int32_t>(total), offsets);
    return total;
}

int64_t SurfelMap::ChunkCountsToOffsets() { return map::ChunkCountsToOffsets(chunk_counts_, chunk_host_); }

int64_t SurfelMap::Rank(const core::Buffer<uint8_t>& flags, int64_t n, core::Buffer<int32_t>& positions) {
    SEMSLAM_DISPATCH(device_, ChunkCounts, flags.data(), n, chunk_counts_.data());
    const int64_t total = ChunkCountsToOffsets();
    SEMSLAM_DISPATCH(device_, ChunkRanks, flags.data(), n, chunk_counts_.data(), positions.data());
    return total;
}

int64_t SurfelMap::ExclusiveScan(const core::Buffer<int32_t>& counts, int64_t n, core::Buffer<int32_t>& offsets) {
    return ChunkedExclusiveScan(device_, counts.data(), n, offsets.data(), chunk_counts_, chunk_host_);
}

void SurfelMap::BucketIndexMap(int64_t count, const core::Rigid3f& T_cam_world, int width, int height, int time) {
    const int64_t pixels = static_cast<int64_t>(width) * height;
    const int fine_width = prediction_.fine_width;
    SEMSLAM_DISPATCH(device_, CountIndexed, Arrays(), count, prediction_.fine_keys.data(), fine_slots_.data(),
                     fine_width, width, params_, cell_counts_.data(), scratch_i_.data());
    ExclusiveScan(cell_counts_, pixels, cell_offsets_);
    // Leaves cell_counts_ all 0 again.
    SEMSLAM_DISPATCH(device_, ScatterIndexed, Arrays(), count, scratch_i_.data(), fine_slots_.data(), T_cam_world,
                     fine_width, time, cell_offsets_.data(), cell_counts_.data(), indexed_.data());
}

void SurfelMap::ClearFineKeys() {
    if (fine_rendered_ > 0) {
        SEMSLAM_DISPATCH(device_, ClearSlots, prediction_.fine_keys.data(), fine_slots_.data(), fine_rendered_);
    }
    fine_rendered_ = 0;
    prediction_.fine_time = -1;
}

void SurfelMap::CheckFrameSize(int width, int height) const {
    if (width < 3 || height < 3) {
        throw std::invalid_argument("image size " + std::to_string(width) + "x" + std::to_string(height) +
                                    " is too small (at least 3x3)");
    }
    const int64_t fine = static_cast<int64_t>(width) * height * params_.index_scale * params_.index_scale;
    if (fine > std::numeric_limits<int32_t>::max()) throw std::invalid_argument("image too large for the index map");
}

Prediction& SurfelMap::Predict(const core::Rigid3f& T_world_cam, const PinholeIntrinsics& intrinsics, int width,
                               int height, int time) {
    CheckFrameSize(width, height);
    CheckPose(T_world_cam, "T_world_cam");
    CheckIntrinsics(intrinsics);
    const int64_t pixels = static_cast<int64_t>(width) * height;
    EnsureWorkspace(pixels, pixels * params_.index_scale * params_.index_scale);
    Prediction& p = prediction_;
    if (p.width != width || p.height != height || p.index_map.size() != static_cast<size_t>(pixels)) {
        p.vertices = core::Buffer<float>(3 * pixels, device_);
        p.normals = core::Buffer<float>(3 * pixels, device_);
        p.colours = core::Buffer<float>(3 * pixels, device_);
        p.intensity = core::Buffer<float>(pixels, device_);
        p.index_map = core::Buffer<int32_t>(pixels, device_);
        p.width = width;
        p.height = height;
    }
    const core::Rigid3f T_cam_world = T_world_cam.Inverse();
    SEMSLAM_DISPATCH(device_, SplatKeys, Arrays(), size_, T_cam_world, intrinsics, width, height, time, params_,
                     keys_.data());
    SEMSLAM_DISPATCH(device_, ResolvePrediction, Arrays(), keys_.data(), T_cam_world, intrinsics, width, height,
                     p.vertices.data(), p.normals.data(), p.colours.data(), p.intensity.data(), p.index_map.data());
    p.time = time;
    p.T_world_cam = T_world_cam;
    p.intrinsics = intrinsics;
    return p;
}

void SurfelMap::RenderIndexMap(const core::Rigid3f& T_world_cam, const PinholeIntrinsics& intrinsics, int width,
                               int height, int time) {
    CheckFrameSize(width, height);
    CheckPose(T_world_cam, "T_world_cam");
    CheckIntrinsics(intrinsics);
    RenderIndexMapOf(size_, T_world_cam, intrinsics, width, height, time);
}

void SurfelMap::RenderIndexMapOf(int64_t count, const core::Rigid3f& T_world_cam, const PinholeIntrinsics& intrinsics,
                                 int width, int height, int time) {
    const int scale = params_.index_scale;
    const int64_t pixels = static_cast<int64_t>(width) * height;
    ClearFineKeys();
    EnsureWorkspace(pixels, pixels * scale * scale);
    Prediction& p = prediction_;
    p.fine_width = width * scale;
    p.fine_height = height * scale;
    SEMSLAM_DISPATCH(device_, IndexKeys, Arrays(), count, T_world_cam.Inverse(),
                     intrinsics.Scaled(static_cast<float>(scale)), p.fine_width, p.fine_height, time, params_,
                     p.fine_keys.data(), fine_slots_.data());
    fine_rendered_ = count;
    p.fine_time = time;
    p.fine_T_world_cam = T_world_cam;
}

FuseStats SurfelMap::Fuse(const core::Buffer<float>& vertices, const core::Buffer<float>& normals,
                          const core::Buffer<uint8_t>& rgb, const core::Rigid3f& T_world_cam,
                          const PinholeIntrinsics& intrinsics, int width, int height, int time, float weight) {
    CheckFrameSize(width, height);
    const size_t pixels = static_cast<size_t>(width) * height;
    core::CheckBuffer(vertices, 3 * pixels, device_, "vertices", "the surfel map");
    core::CheckBuffer(normals, 3 * pixels, device_, "normals", "the surfel map");
    core::CheckBuffer(rgb, 3 * pixels, device_, "rgb", "the surfel map");
    CheckPose(T_world_cam, "T_world_cam");
    CheckIntrinsics(intrinsics);
    if (time < 0) throw std::invalid_argument("time must be >= 0, got " + std::to_string(time));
    if (!(weight >= 0.0f) || !std::isfinite(weight)) throw std::invalid_argument("weight must be finite and >= 0");

    RenderIndexMapOf(size_, T_world_cam, intrinsics, width, height, time);
    const core::Rigid3f T_cam_world = T_world_cam.Inverse();
    SEMSLAM_DISPATCH(device_, Associate, Arrays(), prediction_.fine_keys.data(), T_cam_world, intrinsics, width,
                     height, vertices.data(), normals.data(), time, params_, pixel_match_.data(), flags_.data(),
                     owners_.data());
    double counts[4];
    SEMSLAM_DISPATCH(device_, ApplyUpdates, Arrays(), pixel_match_.data(), owners_.data(), T_world_cam, intrinsics,
                     width, height, vertices.data(), normals.data(), rgb.data(), time, weight, params_, counts);
    const int64_t added = Rank(flags_, static_cast<int64_t>(pixels), ranks_);

    size_before_fuse_ = size_;
    Reserve(size_ + added);
    SEMSLAM_DISPATCH(device_, WriteNewSurfels, Arrays(), size_, ranks_.data(), T_world_cam, intrinsics, width, height,
                     vertices.data(), normals.data(), rgb.data(), time, weight, params_);
    size_ += added;

    fused_since_clean_ = true;
    fuse_T_world_cam_ = T_world_cam;
    fuse_intrinsics_ = intrinsics;
    fuse_width_ = width;
    fuse_height_ = height;

    FuseStats stats;
    stats.pixels_fused = static_cast<int64_t>(counts[0]);
    stats.matched = static_cast<int64_t>(counts[1]);
    stats.updated = static_cast<int64_t>(counts[2]);
    stats.averaged = static_cast<int64_t>(counts[3]);
    stats.added = added;
    stats.size = size_;
    return stats;
}

CleanStats SurfelMap::Clean(int time) {
    const bool have_pose = fused_since_clean_;
    if (have_pose) {
        // ElasticFusion re-renders the index map after fusion, without this frame's new surfels.
        RenderIndexMapOf(size_before_fuse_, fuse_T_world_cam_, fuse_intrinsics_, fuse_width_, fuse_height_, time);
    }
    EnsureWorkspace(0, 0);
    const int width = have_pose ? fuse_width_ : 1, height = have_pose ? fuse_height_ : 1;
    const core::Rigid3f T_cam_world = fuse_T_world_cam_.Inverse();
    if (have_pose) BucketIndexMap(size_before_fuse_, T_cam_world, width, height, time);
    const int32_t* cell_offsets = have_pose ? cell_offsets_.data() : nullptr;
    const IndexedSurfel* indexed = have_pose ? indexed_.data() : nullptr;
    double counts[3];
    SEMSLAM_DISPATCH(device_, CleanFlags, Arrays(), size_, have_pose, cell_offsets, indexed, T_cam_world,
                     fuse_intrinsics_, width, height, time, params_, flags_.data(), counts);
    fused_since_clean_ = false;

    CleanStats stats;
    stats.removed_unstable = static_cast<int64_t>(counts[0]);
    stats.removed_merged = static_cast<int64_t>(counts[1]);
    stats.removed_free_space = static_cast<int64_t>(counts[2]);
    const int64_t removed = stats.removed_unstable + stats.removed_merged + stats.removed_free_space;
    if (removed > 0) {
        ClearFineKeys();  // its indices are about to change
        const int64_t kept = Rank(flags_, size_, ranks_);
        const int32_t* ranks = ranks_.data();
        auto compact_float = [&](core::Buffer<float>& field, int stride) {
            if (stride == 0) return;
            SEMSLAM_DISPATCH(device_, ScatterFloat, field.data(), scratch_f_.data(), ranks, size_, stride);
            SEMSLAM_DISPATCH(device_, CopyFloat, scratch_f_.data(), field.data(), kept * stride);
        };
        auto compact_int = [&](core::Buffer<int32_t>& field) {
            SEMSLAM_DISPATCH(device_, ScatterInt, field.data(), scratch_i_.data(), ranks, size_);
            SEMSLAM_DISPATCH(device_, CopyInt, scratch_i_.data(), field.data(), kept);
        };
        ForEachField(compact_float, compact_int);
        const bool half = probability_storage_ == ProbabilityStorage::Float16;
        if (half && num_classes_ > 0) {
            // scratch_f_ holds capacity * max(3, C) floats: room for the half table
            uint16_t* scratch = reinterpret_cast<uint16_t*>(scratch_f_.data());
            SEMSLAM_DISPATCH(device_, ScatterHalf, class_probs_f16_.data(), scratch, ranks, size_, num_classes_);
            SEMSLAM_DISPATCH(device_, CopyHalf, scratch, class_probs_f16_.data(), kept * num_classes_);
        }
        size_ = kept;
        prediction_.time = -1;  // its index map names surfels by their old indices
    }
    stats.size = size_;
    return stats;
}

SurfelHost SurfelMap::Download(bool stable_only, float confidence_threshold) const {
    SurfelHost h;
    const int64_t n = size_;
    const int C = num_classes_;
    const bool half = probability_storage_ == ProbabilityStorage::Float16;
    h.Resize(n, C, half);
    core::CopyDeviceToHost(h.positions.data(), positions_.data(), 3 * n, device_);
    core::CopyDeviceToHost(h.normals.data(), normals_.data(), 3 * n, device_);
    core::CopyDeviceToHost(h.colours.data(), colours_.data(), 3 * n, device_);
    core::CopyDeviceToHost(h.radii.data(), radii_.data(), n, device_);
    core::CopyDeviceToHost(h.confidences.data(), confidences_.data(), n, device_);
    core::CopyDeviceToHost(h.init_times.data(), init_times_.data(), n, device_);
    core::CopyDeviceToHost(h.last_update_times.data(), last_update_times_.data(), n, device_);
    core::CopyDeviceToHost(h.instance_ids.data(), instance_ids_.data(), n, device_);
    if (half) {
        core::CopyDeviceToHost(h.class_probs_f16.data(), class_probs_f16_.data(), n * C, device_);
    } else {
        core::CopyDeviceToHost(h.class_probs.data(), class_probs_.data(), n * C, device_);
    }
    core::CopyDeviceToHost(h.labels.data(), labels_.data(), n, device_);
    core::CopyDeviceToHost(h.label_confidences.data(), label_confidences_.data(), n, device_);
    if (!stable_only) return h;
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (!(h.confidences[i] >= confidence_threshold)) continue;
        for (int d = 0; d < 3; ++d) {
            h.positions[3 * k + d] = h.positions[3 * i + d];
            h.normals[3 * k + d] = h.normals[3 * i + d];
            h.colours[3 * k + d] = h.colours[3 * i + d];
        }
        h.radii[k] = h.radii[i];
        h.confidences[k] = h.confidences[i];
        h.init_times[k] = h.init_times[i];
        h.last_update_times[k] = h.last_update_times[i];
        h.instance_ids[k] = h.instance_ids[i];
        for (int c = 0; c < C; ++c) {
            if (half) {
                h.class_probs_f16[k * C + c] = h.class_probs_f16[i * C + c];
            } else {
                h.class_probs[k * C + c] = h.class_probs[i * C + c];
            }
        }
        h.labels[k] = h.labels[i];
        h.label_confidences[k] = h.label_confidences[i];
        ++k;
    }
    h.Resize(k, C, half);
    return h;
}

void SurfelMap::Upload(const SurfelHost& h) {
    const int64_t n = static_cast<int64_t>(h.radii.size());
    const int C = num_classes_;
    auto check = [&](size_t got, int64_t expected, const char* what) {
        if (static_cast<int64_t>(got) != expected) {
            throw std::invalid_argument(std::string(what) + " holds " + std::to_string(got) + " values, expected " +
                                        std::to_string(expected) + " for " + std::to_string(n) + " surfels");
        }
    };
    check(h.positions.size(), 3 * n, "positions");
    check(h.normals.size(), 3 * n, "normals");
    check(h.colours.size(), 3 * n, "colours");
    check(h.confidences.size(), n, "confidences");
    check(h.init_times.size(), n, "init_times");
    check(h.last_update_times.size(), n, "last_update_times");
    check(h.instance_ids.size(), n, "instance_ids");
    const bool given_half = !h.class_probs_f16.empty() && h.class_probs.empty();
    check(given_half ? h.class_probs_f16.size() : h.class_probs.size(), n * C, "class_probs");
    // The table in its storage type, and the labels derived from it (argmax, ties to the smaller
    // class, as the label kernels keep them).
    const bool half = probability_storage_ == ProbabilityStorage::Float16;
    std::vector<float> probs_f32;
    std::vector<uint16_t> probs_f16;
    if (half) {
        probs_f16 = given_half ? h.class_probs_f16 : std::vector<uint16_t>(h.class_probs.size());
        if (!given_half) {
            for (size_t k = 0; k < probs_f16.size(); ++k) probs_f16[k] = core::FloatToHalf(h.class_probs[k]);
        }
    } else {
        probs_f32 = given_half ? std::vector<float>(h.class_probs_f16.size()) : h.class_probs;
        if (given_half) {
            for (size_t k = 0; k < probs_f32.size(); ++k) probs_f32[k] = core::HalfToFloat(h.class_probs_f16[k]);
        }
    }
    std::vector<int32_t> labels(n, -1);
    std::vector<float> label_confidences(n, 0.0f);
    for (int64_t i = 0; i < n; ++i) {
        float best = -1.0f;  // below any probability; NaN never wins
        for (int c = 0; c < C; ++c) {
            const float p = half ? core::HalfToFloat(probs_f16[i * C + c]) : probs_f32[i * C + c];
            if (p > best) {
                best = p;
                labels[i] = c;
                label_confidences[i] = p;
            }
        }
    }
    ClearFineKeys();
    Reserve(n);
    size_ = n;
    core::CopyHostToDevice(positions_.data(), h.positions.data(), 3 * n, device_);
    core::CopyHostToDevice(normals_.data(), h.normals.data(), 3 * n, device_);
    core::CopyHostToDevice(colours_.data(), h.colours.data(), 3 * n, device_);
    core::CopyHostToDevice(radii_.data(), h.radii.data(), n, device_);
    core::CopyHostToDevice(confidences_.data(), h.confidences.data(), n, device_);
    core::CopyHostToDevice(init_times_.data(), h.init_times.data(), n, device_);
    core::CopyHostToDevice(last_update_times_.data(), h.last_update_times.data(), n, device_);
    core::CopyHostToDevice(instance_ids_.data(), h.instance_ids.data(), n, device_);
    if (half) {
        core::CopyHostToDevice(class_probs_f16_.data(), probs_f16.data(), n * C, device_);
    } else {
        core::CopyHostToDevice(class_probs_.data(), probs_f32.data(), n * C, device_);
    }
    core::CopyHostToDevice(labels_.data(), labels.data(), n, device_);
    core::CopyHostToDevice(label_confidences_.data(), label_confidences.data(), n, device_);
    fused_since_clean_ = false;
    prediction_.time = -1;
}

}  // namespace map
}  // namespace semslam
