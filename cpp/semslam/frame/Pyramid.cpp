#include "semslam/frame/Pyramid.h"

#include <stdexcept>
#include <string>

#include "semslam/core/Dispatch.h"
#include "semslam/frame/kernel/PyramidKernels.h"

namespace semslam {
namespace frame {

namespace {

void CheckImageSize(int width, int height, int minimum) {
    if (width < minimum || height < minimum) {
        throw std::invalid_argument("image of " + std::to_string(width) + "x" + std::to_string(height) +
                                    " is too small to downsample (needs at least " + std::to_string(minimum) +
                                    " pixels a side)");
    }
}

size_t Pixels(int width, int height) { return static_cast<size_t>(width) * height; }

}  // namespace

void PyrDownDepth(const core::Buffer<float>& depth_in, core::Buffer<float>& depth_out, int width, int height,
                  float sigma_depth) {
    CheckImageSize(width, height, 2);
    core::CheckSize(depth_in, Pixels(width, height), "depth_in");
    core::CheckSize(depth_out, Pixels(width / 2, height / 2), "depth_out");
    core::CheckSameDevice(depth_in, depth_out);
    if (!(sigma_depth > 0)) throw std::invalid_argument("pyramid sigma_depth must be positive");
    SEMSLAM_DISPATCH(depth_in.device(), PyrDownDepth, depth_in.data(), depth_out.data(), width, height, sigma_depth);
}

void RgbToIntensity(const core::Buffer<uint8_t>& rgb, core::Buffer<float>& intensity, int width, int height) {
    core::CheckSize(rgb, 3 * Pixels(width, height), "rgb");
    core::CheckSize(intensity, Pixels(width, height), "intensity");
    core::CheckSameDevice(rgb, intensity);
    SEMSLAM_DISPATCH(rgb.device(), RgbToIntensity, rgb.data(), intensity.data(), width, height);
}

void PyrDownIntensity(const core::Buffer<float>& intensity_in, core::Buffer<float>& intensity_out, int width,
                      int height) {
    CheckImageSize(width, height, 2);
    core::CheckSize(intensity_in, Pixels(width, height), "intensity_in");
    core::CheckSize(intensity_out, Pixels(width / 2, height / 2), "intensity_out");
    core::CheckSameDevice(intensity_in, intensity_out);
    SEMSLAM_DISPATCH(intensity_in.device(), PyrDownIntensity, intensity_in.data(), intensity_out.data(), width,
                     height);
}

void IntensityGradients(const core::Buffer<float>& intensity, core::Buffer<float>& dIdx, core::Buffer<float>& dIdy,
                        int width, int height) {
    core::CheckSize(intensity, Pixels(width, height), "intensity");
    core::CheckSize(dIdx, Pixels(width, height), "dIdx");
    core::CheckSize(dIdy, Pixels(width, height), "dIdy");
    core::CheckSameDevice(intensity, dIdx);
    core::CheckSameDevice(intensity, dIdy);
    SEMSLAM_DISPATCH(intensity.device(), IntensityGradients, intensity.data(), dIdx.data(), dIdy.data(), width,
                     height);
}

void PyrDownPoints(const core::Buffer<float>& points_in, core::Buffer<float>& points_out, int width, int height,
                   bool normalise) {
    CheckImageSize(width, height, 2);
    core::CheckSize(points_in, 3 * Pixels(width, height), "points_in");
    core::CheckSize(points_out, 3 * Pixels(width / 2, height / 2), "points_out");
    core::CheckSameDevice(points_in, points_out);
    SEMSLAM_DISPATCH(points_in.device(), PyrDownPoints, points_in.data(), points_out.data(), width, height,
                     normalise);
}

}  // namespace frame
}  // namespace semslam
