// CPU backend entry points, called by dispatch.cpp after it has checked the arguments.
// f32 goes through oneDNN where oneDNN 2.6 has the op; f64, i64 and the rest use templated loops
// parallelized with OpenMP over both cores.
#pragma once
#include "engine/backend/primitives.h"

namespace brenier::cpu {

Tensor cast(const Tensor& x, DType dtype);

}  // namespace brenier::cpu
