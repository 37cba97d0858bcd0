// CUDA instantiation of the pyramid kernels.
#include "semslam/frame/kernel/PyramidImpl.h"
