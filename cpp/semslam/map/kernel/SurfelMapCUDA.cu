// CUDA instantiation of the surfel-map kernels.
#include "semslam/map/kernel/SurfelMapCleanImpl.h"
#include "semslam/map/kernel/SurfelMapFuseImpl.h"
#include "semslam/map/kernel/SurfelMapPredictImpl.h"
