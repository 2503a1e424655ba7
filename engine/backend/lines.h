// A contiguous shape seen around one dim: `outer` blocks of `size` lines of `inner` elements, the geometry
// every per-line loop and kernel (reductions along a dim, softmax, gather/scatter) walks. A 0-d tensor is
// one line of size 1. Shared by the CPU loops and the CUDA backend.
#pragma once
#include <cstdint>

#include "engine/shape.h"

namespace brenier::backend {

struct Lines {
  int64_t outer = 1, size = 1, inner = 1;
};

inline Lines lines_around(const Shape& shape, int64_t dim) {
  Lines l;
  if (shape.empty()) return l;
  for (int64_t d = 0; d < dim; ++d) l.outer *= shape[d];
  l.size = shape[dim];
  for (size_t d = dim + 1; d < shape.size(); ++d) l.inner *= shape[d];
  return l;
}

}  // namespace brenier::backend
