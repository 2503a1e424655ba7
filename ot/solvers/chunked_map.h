// Applies a potential's gradient map to any number of points, a chunk of rows at a time, so no
// autodiff graph outlives one chunk (evaluation of a trained solver on large sample sets).
#pragma once
#include <functional>

#include "engine/autograd/var.h"

namespace brenier::ot {

// map(x) -> ∇ψ(x) for a chunk x [m, D]; points [n, D] -> [n, D]. chunk_rows >= 1 (checked, naming `op`).
Tensor map_in_chunks(const std::function<Var(const Var&)>& map, const Tensor& points, int64_t chunk_rows,
                     const char* op);

}  // namespace brenier::ot
