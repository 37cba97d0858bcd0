// Image pyramids for coarse-to-fine tracking (ElasticFusion / KinectFusion): depth, intensity,
// intensity gradients and 2x2-averaged vertex/normal maps. Level l+1 is floor(W/2) x floor(H/2)
// of level l; downsampled pixel (x, y) is centred on source pixel (2x, 2y) for the 5x5 filters
// and on the 2x2 block (2x..2x+1, 2y..2y+1) for vertex/normal averaging. Images are row-major;
// every buffer of a call lives on one device.
#pragma once

#include <cstdint>

#include "semslam/core/Buffer.h"

namespace semslam {
namespace frame {

// depth_in: [H*W] metres, 0 = invalid -> depth_out: [(H/2)*(W/2)]. ElasticFusion's pyrDown: the
// binomial 5x5 (1 4 6 4 1)/16 weighted mean of the valid neighbours within 3 sigma_depth of the
// centre; 0 where the centre is invalid.
void PyrDownDepth(const core::Buffer<float>& depth_in, core::Buffer<float>& depth_out, int width, int height,
                  float sigma_depth);

// rgb: [H*W*3] uint8 (R, G, B) -> intensity: [H*W] float 0..255 = 0.299 R + 0.587 G + 0.114 B.
void RgbToIntensity(const core::Buffer<uint8_t>& rgb, core::Buffer<float>& intensity, int width, int height);

// intensity_in: [H*W] (NaN = invalid) -> [(H/2)*(W/2)]: binomial 5x5 Gaussian mean of the valid
// neighbours (weights renormalised at borders and holes); NaN where none is valid.
void PyrDownIntensity(const core::Buffer<float>& intensity_in, core::Buffer<float>& intensity_out, int width,
                      int height);

// intensity: [H*W] -> dIdx, dIdy: [H*W] in intensity units per pixel: 3x3 Sobel scaled by 1/8
// (exact for a linear ramp); NaN on the border and where a neighbour is NaN.
void IntensityGradients(const core::Buffer<float>& intensity, core::Buffer<float>& dIdx, core::Buffer<float>& dIdy,
                        int width, int height);

// points_in: [H*W*3] (NaN = invalid) -> [(H/2)*(W/2)*3]: the mean of each 2x2 block, NaN when any
// of the four is invalid (ElasticFusion's resizeVMap / resizeNMap); `normalise` rescales the mean
// to unit length (for normals).
void PyrDownPoints(const core::Buffer<float>& points_in, core::Buffer<float>& points_out, int width, int height,
                   bool normalise);

}  // namespace frame
}  // namespace semslam
