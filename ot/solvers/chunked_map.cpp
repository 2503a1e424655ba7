// Chunked evaluation of a gradient map (see chunked_map.h).
#include "ot/solvers/chunked_map.h"

#include <algorithm>

#include "engine/backend/primitives.h"

namespace brenier::ot {

Tensor map_in_chunks(const std::function<Var(const Var&)>& map, const Tensor& points, int64_t chunk_rows,
                     const char* op) {
  BRENIER_CHECK(chunk_rows >= 1, "{}: argument 'chunk_rows' must be >= 1, got {}", op, chunk_rows);
  const int64_t n = points.size(0);
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < n; start += chunk_rows) {
    const int64_t stop = std::min(n, start + chunk_rows);
    autograd::Tape tape;  // the chunk's forward graph dies here
    Tensor chunk = (start == 0 && stop == n) ? points : prim::slice(points, 0, start, stop, 1);
    parts.push_back(map(Var(chunk)).data());
  }
  return parts.size() == 1 ? parts[0] : prim::concat(parts, 0);
}

}  // namespace brenier::ot
