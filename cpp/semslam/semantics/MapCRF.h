// The dense CRF over the surfel map (SemanticFusion, McCormac et al. ICRA 2017): mean-field
// inference with the fused class probabilities as unary potentials and Gaussian appearance and
// smoothness kernels between surfels, messages passed through a spatial hash built in the core.
// Model, normalisation and neighbour sampling: kernel/MapCRFImpl.h.
#pragma once

#include <cstdint>

#include "semslam/map/SurfelMap.h"

namespace semslam {
namespace semantics {

// Defaults live in semslam/config.py (SemanticsConfig, SemanticFusion's values).
struct CRFParams {
    int iterations;           // mean-field steps
    float sigma_position;     // m, both kernels
    float sigma_colour;       // RGB levels 0..255, appearance kernel
    float sigma_normal;       // unit-normal difference, smoothness kernel
    float appearance_weight;  // w_a
    float smoothness_weight;  // w_s
    float neighbour_radius;   // m; surfels farther apart exchange no messages
    int max_neighbours;       // neighbours sampled per surfel (a stride through its cells when more)
    float probability_floor;  // the posterior's floor before renormalising, as the label update's
};

struct CRFStats {
    int64_t surfels = 0;
    double mean_neighbours = 0.0;     // sampled neighbours within the radius, per surfel
    int64_t isolated = 0;             // surfels with no neighbour (only their own unary and self term)
    int64_t labels_changed = 0;
    int64_t cells = 0;                // of the grid
    float cell_size = 0.0f;           // m
};

// Runs the CRF over every surfel of the map and writes the posterior probabilities, labels and
// confidences back. Throws std::invalid_argument on parameters out of range or a map without classes.
CRFStats RunMapCRF(map::SurfelMap& map, const CRFParams& params);

}  // namespace semantics
}  // namespace semslam
