// CPU (OpenMP) instantiation of the geometric segmentation kernels.
#include "semslam/objects/kernel/GeometricSegmentationImpl.h"
