// CPU (OpenMP) instantiation of the map CRF kernels.
#include "semslam/semantics/kernel/MapCRFImpl.h"
