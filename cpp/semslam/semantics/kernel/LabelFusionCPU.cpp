// CPU (OpenMP) instantiation of the label-fusion kernels.
#include "semslam/semantics/kernel/LabelFusionImpl.h"
