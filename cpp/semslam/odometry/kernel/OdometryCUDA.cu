// CUDA instantiation of the tracking reductions.
#include "semslam/odometry/kernel/OdometryImpl.h"
