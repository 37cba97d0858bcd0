// The surfel map (ElasticFusion, Whelan et al. RSS 2015 / IJRR 2016): surfels stored as
// structure-of-arrays on one device, rendered into a camera (prediction for tracking, index maps
// for association), fused with new frames and cleaned of unstable and duplicate surfels.
//
// Frames: surfel positions and normals live in the world frame; T_world_cam maps camera points
// into the world. Camera x right, y down, z forward; images row-major width x height. Time is the
// frame index (int), the same clock for every call.
//
// One frame, as ElasticFusion does it:
//   Predict(T_world_cam_prev)  -> vertices / normals / intensity for tracking the new frame
//   (track)                    -> T_world_cam of the new frame
//   Fuse(frame, T_world_cam)   -> renders the fine index map at T_world_cam itself, associates,
//                                 updates matched surfels, appends new unstable ones
//   Clean(time)                -> re-renders the fine index map at the last Fuse's pose and removes
//                                 stale unstable surfels, overlapping duplicates and free-space
//                                 violations
// No call depends on another having been made at the same pose: Fuse renders its own index map.
#pragma once

#include <cstdint>
#include <vector>

#include "semslam/core/Buffer.h"
#include "semslam/core/Camera.h"
#include "semslam/core/Math.h"

namespace semslam {
namespace map {

using core::PinholeIntrinsics;

// Predicted intensity = kIntensityScale * (0.299 R + 0.587 G + 0.114 B) with R, G, B in 0..255:
// the tracker receives intensities in 0..255 units.
constexpr float kIntensityScale = 1.0f;

// The surfel index a depth-index key names: its low 32 bits as int32, so kEmptyKey reads as -1.
SEMSLAM_HOST_DEVICE inline int32_t KeyIndex(uint64_t key) { return static_cast<int32_t>(static_cast<uint32_t>(key)); }

// Every threshold of the map. Defaults live in semslam/config.py (MapConfig), which names the
// ElasticFusion source of each.
struct SurfelMapParams {
    int time_window;                  // frames; a surfel is active while time - last_update <= this
    float confidence_threshold;       // a surfel is stable once its confidence reaches this
    float render_depth_max;           // m; surfels farther from the camera are not rendered
    float fuse_depth_max;             // m; measurements farther are not fused
    int index_scale;                  // the fine index map has index_scale^2 sub-pixels per pixel
    int window_multiplier;            // association window: index_scale * this fine pixels wide
    float fuse_depth_gate;            // m; along the ray, |z_surfel - z_pixel| * |ray| below this
    float fuse_normal_angle;          // rad; normals must agree within this ...
    float fuse_grazing_normal_z;      // ... unless the surfel's camera-frame |n_z| is below this
    float fuse_radius_ratio;          // average only when r_new < this * r_surfel
    float radius_max_factor;          // radius r / |n_z| capped at this times r
    float confidence_sigma;           // Gaussian sigma of the normalised radial distance
    bool checkerboard;                // fuse only pixels whose x and y parity equal the time's
    int unstable_time;                // frames; unstable surfels not updated for longer are removed
    int unstable_time_object;         // the same for unstable surfels of an object (instance id >= 0)
    float merge_depth;                // m; an older stable surfel within this behind overlaps
    float merge_radius_factor;        // its lateral distance below this * radius overlaps
    int merge_count;                  // removed when more than this many overlap samples
    float free_space_depth;           // m; a surfel this far in front of just-seen stable ones ...
    float free_space_normal_z;        // ... facing the camera (|n_z| above this) ...
    int free_space_count;             // ... in more than this many samples is removed
    int initial_capacity;             // surfels allocated at construction (doubles as needed)
};

// What one Predict renders, reused across frames (reallocated only when the image size changes).
struct Prediction {
    int width = 0, height = 0, time = -1;
    core::Rigid3f T_world_cam = core::Rigid3f::Identity();
    PinholeIntrinsics intrinsics{1, 1, 0, 0};
    core::Buffer<float> vertices;     // [H*W*3] camera frame, metres; NaN where no surfel
    core::Buffer<float> normals;      // [H*W*3] camera frame, unit; NaN where no surfel
    core::Buffer<float> colours;      // [H*W*3] RGB float 0..255; NaN where no surfel
    core::Buffer<float> intensity;    // [H*W] kIntensityScale * luma, 0..255; NaN where no surfel
    core::Buffer<int32_t> index_map;  // [H*W] surfel index, -1 none

    // The fine index map of the last Fuse, Clean or RenderIndexMap (at that call's pose), kept as the
    // depth-index keys it was rendered with (no second buffer): [fine_height * fine_width], surfel
    // KeyIndex(key), -1 none; fine_width = index_scale * width. fine_time < 0: none valid (a Clean that
    // removes surfels and Upload renumber them and invalidate it).
    int fine_width = 0, fine_height = 0, fine_time = -1;
    core::Rigid3f fine_T_world_cam = core::Rigid3f::Identity();
    core::Buffer<uint64_t> fine_keys;
};

struct FuseStats {
    int64_t pixels_fused = 0;   // pixels eligible for fusion (valid, within range, checkerboard)
    int64_t matched = 0;        // eligible pixels that found a surfel
    int64_t updated = 0;        // surfels updated (one pixel each; the smallest pixel index wins)
    int64_t averaged = 0;       // updates that averaged position / colour / normal / radius
    int64_t added = 0;          // new unstable surfels
    int64_t size = 0;           // surfels after the call
};

struct CleanStats {
    int64_t removed_unstable = 0;    // unstable and not updated for unstable_time frames
    int64_t removed_merged = 0;      // overlapping older stable surfels
    int64_t removed_free_space = 0;  // in front of surface seen this frame
    int64_t size = 0;
};

// Storage of the per-surfel class-probability table: float32, or float16 (half the memory; about
// three significant digits, enough for probabilities floored at 1e-4).
enum class ProbabilityStorage { Float32, Float16 };

// Host copies of every per-surfel field (what Download returns and Upload takes).
struct SurfelHost {
    // Every field sized for n surfels (the class table of the storage in use: float16 bits or float).
    void Resize(int64_t n, int num_classes, bool half) {
        const size_t m = static_cast<size_t>(n);
        for (auto* v : {&positions, &normals, &colours}) v->resize(3 * m);
        for (auto* v : {&radii, &confidences, &label_confidences}) v->resize(m);
        for (auto* v : {&init_times, &last_update_times, &instance_ids, &labels}) v->resize(m);
        (half ? class_probs_f16.resize(m * num_classes) : class_probs.resize(m * num_classes));
    }

    std::vector<float> positions, normals, colours;  // [N*3] world / world unit / RGB 0..255
    std::vector<float> radii, confidences;           // [N] metres / accumulated weight
    std::vector<int32_t> init_times, last_update_times, instance_ids;  // [N]
    // [N*num_classes]: class_probs with Float32 storage, class_probs_f16 (half bits) with Float16.
    // Upload takes either and converts.
    std::vector<float> class_probs;
    std::vector<uint16_t> class_probs_f16;
    // [N] argmax class (ties: the smaller index; -1 without classes) and its probability. Derived
    // from the probabilities: Download returns them, Upload recomputes them.
    std::vector<int32_t> labels;
    std::vector<float> label_confidences;
};

// Raw device pointers of the fields, as the kernels see them.
struct SurfelArrays {
    float* positions;
    float* normals;
    float* colours;
    float* radii;
    float* confidences;
    int32_t* init_times;
    int32_t* last_update_times;
    int32_t* instance_ids;
    float* class_probs;        // [N*num_classes] with Float32 storage, else null
    int num_classes;
    uint16_t* class_probs_f16;  // [N*num_classes] half bits with Float16 storage, else null
    int32_t* labels;            // [N] argmax of the class probabilities, -1 without classes
    float* label_confidences;   // [N] its probability
};

// A stable surfel that won its sub-pixel of the fine index map, as Clean's window tests read it;
// Clean buckets these by the pixel their sub-pixel lies in (one list per pixel).
struct IndexedSurfel {
    float x, y, z;             // camera frame of the index map's render, metres
    int32_t fine_x, fine_y;    // its sub-pixel
    int32_t init_time;
    int32_t updated;           // 1: last updated at the Clean's time
    int32_t unused;            // pads the record to 32 bytes
};

// Exclusive prefix sum of counts[0, n) (on `device`) into offsets[0, n], offsets[n] = total, with the
// chunked scan kernels: chunk_counts holds kernel::kRankChunks ints on the device, chunk_host is
// host scratch. Deterministic (chunk totals are summed on the host in order). Returns the total.
int64_t ChunkedExclusiveScan(const core::Device& device, const int32_t* counts, int64_t n, int32_t* offsets,
                             core::Buffer<int32_t>& chunk_counts, std::vector<int32_t>& chunk_host);
// Turns per-chunk counts into exclusive chunk offsets in place; returns the total.
int64_t ChunkCountsToOffsets(core::Buffer<int32_t>& chunk_counts, std::vector<int32_t>& chunk_host);

class SurfelMap {
public:
    // num_classes: columns of the class-probability table (0 = none); rows start uniform.
    SurfelMap(const core::Device& device, const SurfelMapParams& params, int num_classes,
              ProbabilityStorage probability_storage = ProbabilityStorage::Float32);

    // Renders the active stable surfels (confidence >= threshold, updated within time_window of
    // `time`, 0 < z <= render_depth_max) as oriented disks at T_world_cam, depth-tested.
    Prediction& Predict(const core::Rigid3f& T_world_cam, const PinholeIntrinsics& intrinsics, int width, int height,
                        int time);

    // Renders the fine index map (all active surfels, one sub-pixel each) into
    // prediction().fine_keys. Fuse and Clean call it; public for tests and label fusion.
    void RenderIndexMap(const core::Rigid3f& T_world_cam, const PinholeIntrinsics& intrinsics, int width, int height,
                        int time);

    // vertices, normals: [H*W*3] camera frame (NaN invalid): positions from the raw depth, normals
    // (and radii) from the filtered depth. rgb: [H*W*3] uint8. weight multiplies every
    // measurement's confidence (ElasticFusion's velocity weighting; 1 = none).
    FuseStats Fuse(const core::Buffer<float>& vertices, const core::Buffer<float>& normals,
                   const core::Buffer<uint8_t>& rgb, const core::Rigid3f& T_world_cam,
                   const PinholeIntrinsics& intrinsics, int width, int height, int time, float weight = 1.0f);

    // Removes surfels as ElasticFusion's copy_unstable step does. The overlap and free-space tests
    // use the pose of the last Fuse (skipped when no Fuse preceded this Clean).
    CleanStats Clean(int time);

    // Room for `count` surfels (capacity doubles as needed, keeping the surfels); OutOfMemoryError
    // when the device has no room, with the map unchanged and valid.
    void Reserve(int64_t count);

    int64_t size() const { return size_; }
    int64_t capacity() const { return capacity_; }
    int num_classes() const { return num_classes_; }
    // Bytes of storage per surfel (all fields, one copy; growth briefly holds two).
    int64_t bytes_per_surfel() const;
    const core::Device& device() const { return device_; }
    const SurfelMapParams& params() const { return params_; }
    Prediction& prediction() { return prediction_; }
    ProbabilityStorage probability_storage() const { return probability_storage_; }
    // Raw device pointers of every field, for the kernels of other areas (label fusion, CRF).
    SurfelArrays Arrays();
    // Of the last fine render: slot i is the fine_keys slot surfel i wrote (-1 none), for surfels
    // [0, fine_rendered()); a surfel is visible when that slot's key still names it.
    const core::Buffer<int32_t>& fine_slots() const { return fine_slots_; }
    int64_t fine_rendered() const { return fine_rendered_; }

    // Host copies of all fields; with stable_only, only surfels whose confidence >= threshold.
    SurfelHost Download(bool stable_only, float confidence_threshold) const;
    // Replaces the map's contents (loading a saved map, tests). Sizes must agree.
    void Upload(const SurfelHost& surfels);

private:
    void Grow(int64_t capacity);
    // Calls on_float(buffer, floats per surfel) / on_int(buffer) for every per-surfel field (the
    // float16 class table aside): growth and compaction walk the same list, so no field is missed.
    template <typename FloatFn, typename IntFn>
    void ForEachField(const FloatFn& on_float, const IntFn& on_int);
    void RenderIndexMapOf(int64_t count, const core::Rigid3f& T_world_cam, const PinholeIntrinsics& intrinsics,
                          int width, int height, int time);
    void EnsureWorkspace(int64_t pixels, int64_t fine_pixels);
    // Stable prefix sum over flags[0, n) == 1: positions[i] = rank or -1. Returns the total.
    int64_t Rank(const core::Buffer<uint8_t>& flags, int64_t n, core::Buffer<int32_t>& positions);
    // Turns chunk_counts_ into exclusive chunk offsets; returns the total.
    int64_t ChunkCountsToOffsets();
    void CheckFrameSize(int width, int height) const;
    void ClearFineKeys();  // resets the slots the last fine render wrote to kEmptyKey
    // Exclusive prefix sum of counts[0, n) into offsets[0, n] (offsets[n] = total). Returns the total.
    int64_t ExclusiveScan(const core::Buffer<int32_t>& counts, int64_t n, core::Buffer<int32_t>& offsets);
    // Buckets the stable winners of the last fine render of surfels [0, count) by pixel into
    // cell_offsets_ / indexed_ (Clean's window tests visit only the pixels under the window).
    void BucketIndexMap(int64_t count, const core::Rigid3f& T_cam_world, int width, int height, int time);

    core::Device device_;
    SurfelMapParams params_;
    int num_classes_;
    int64_t size_ = 0, capacity_ = 0;

    core::Buffer<float> positions_, normals_, colours_, radii_, confidences_, class_probs_;
    core::Buffer<int32_t> init_times_, last_update_times_, instance_ids_;
    ProbabilityStorage probability_storage_;
    core::Buffer<uint16_t> class_probs_f16_;  // used instead of class_probs_ with Float16 storage
    core::Buffer<int32_t> labels_;
    core::Buffer<float> label_confidences_;

    Prediction prediction_;

    // Workspace, grown as needed and reused across frames.
    core::Buffer<uint64_t> keys_;          // [H*W] prediction keys; all kEmptyKey between calls
    core::Buffer<int32_t> fine_slots_;     // [capacity] fine key slot each rendered surfel wrote, -1 none
    int64_t fine_rendered_ = 0;            // surfels whose fine_slots_ are live (cleared before a render)
    core::Buffer<uint32_t> owners_;        // [capacity] pixel that updates a surfel; all ~0 between calls
    core::Buffer<int32_t> pixel_match_;    // [H*W] surfel matched, -1 new, -2 not fused
    core::Buffer<uint8_t> flags_;          // [max(H*W, capacity)]
    core::Buffer<int32_t> ranks_;          // [max(H*W, capacity)]
    core::Buffer<float> scratch_f_;        // [capacity * max(3, num_classes)] compaction scratch
    core::Buffer<int32_t> scratch_i_;      // [capacity]
    core::Buffer<int32_t> chunk_counts_;   // [kRankChunks]
    core::Buffer<int32_t> cell_counts_;    // [H*W + 1] surfels per pixel; all 0 between calls
    core::Buffer<int32_t> cell_offsets_;   // [H*W + 1] first IndexedSurfel of each pixel
    core::Buffer<IndexedSurfel> indexed_;  // [capacity] stable fine-map winners grouped by pixel
    std::vector<int32_t> chunk_host_;

    // The last Fuse (Clean's pose), and how many surfels existed before it.
    bool fused_since_clean_ = false;
    core::Rigid3f fuse_T_world_cam_ = core::Rigid3f::Identity();
    PinholeIntrinsics fuse_intrinsics_{1, 1, 0, 0};
    int fuse_width_ = 0, fuse_height_ = 0;
    int64_t size_before_fuse_ = 0;
};

}  // namespace map
}  // namespace semslam
