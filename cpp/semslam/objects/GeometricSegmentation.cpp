#include "semslam/objects/GeometricSegmentation.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "semslam/core/Dispatch.h"
#include "semslam/objects/kernel/GeometricSegmentationKernels.h"

namespace semslam {
namespace objects {

namespace {

size_t Pixels(int width, int height) {
    if (width <= 0 || height <= 0) {
        throw std::invalid_argument("image of " + std::to_string(width) + "x" + std::to_string(height) +
                                    " has no pixels");
    }
    return static_cast<size_t>(width) * height;
}

}  // namespace

void GeometricEdges(const core::Buffer<float>& vertices, const core::Buffer<float>& normals,
                    core::Buffer<float>& edgeness, core::Buffer<uint8_t>& edges, int width, int height,
                    const GeometricEdgeParams& params) {
    const size_t n = Pixels(width, height);
    core::CheckSize(vertices, 3 * n, "vertices");
    core::CheckSize(normals, 3 * n, "normals");
    core::CheckSize(edgeness, n, "edgeness");
    core::CheckSize(edges, n, "edges");
    core::CheckSameDevice(vertices, normals);
    core::CheckSameDevice(vertices, edgeness);
    core::CheckSameDevice(vertices, edges);
    if (params.radius < 1) {
        throw std::invalid_argument("geometric edge radius must be at least 1 px, got " + std::to_string(params.radius));
    }
    if (!(params.threshold > 0) || !std::isfinite(params.threshold)) {
        throw std::invalid_argument("geometric edge threshold must be a positive number of metres");
    }
    if (!(params.concavity_weight >= 0) || !std::isfinite(params.concavity_weight)) {
        throw std::invalid_argument("geometric edge concavity weight must be >= 0");
    }
    SEMSLAM_DISPATCH(vertices.device(), GeometricEdges, vertices.data(), normals.data(), edgeness.data(),
                     edges.data(), width, height, params);
}

int ConnectedComponents(const core::Buffer<uint8_t>& edges, core::Buffer<int32_t>& labels, int width, int height) {
    const size_t n = Pixels(width, height);
    core::CheckSize(edges, n, "edges");
    core::CheckSize(labels, n, "labels");
    core::CheckSameDevice(edges, labels);
    const core::Device& device = edges.device();
    core::Buffer<int32_t> other(n, device);
    core::Buffer<int32_t> changed(1, device);
    SEMSLAM_DISPATCH(device, ComponentsInit, edges.data(), labels.data(), width, height);
    // After k steps every pixel within path distance k of its component's smallest index holds
    // that index, so n steps always suffice; the bound only guards against an endless loop.
    const int max_steps = static_cast<int>(n) + 1;
    core::Buffer<int32_t>* in = &labels;
    core::Buffer<int32_t>* out = &other;
    int steps = 0;
    for (;;) {
        changed.Fill0();
        SEMSLAM_DISPATCH(device, ComponentsStep, edges.data(), in->data(), out->data(), changed.data(), width,
                         height);
        ++steps;
        int32_t count = 0;
        changed.CopyToHost(&count);
        std::swap(in, out);
        if (count == 0) break;
        if (steps >= max_steps) {
            throw std::runtime_error("connected components did not converge in " + std::to_string(max_steps) +
                                     " steps");
        }
    }
    if (in != &labels) labels = std::move(other);
    return steps;
}

}  // namespace objects
}  // namespace semslam
