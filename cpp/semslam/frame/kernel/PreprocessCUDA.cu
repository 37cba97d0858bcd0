// CUDA instantiation of the preprocessing kernels.
#include "semslam/frame/kernel/PreprocessImpl.h"
