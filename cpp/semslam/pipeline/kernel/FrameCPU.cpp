// CPU (OpenMP) instantiation of the per-frame helper kernels.
#include "semslam/pipeline/kernel/FrameImpl.h"
