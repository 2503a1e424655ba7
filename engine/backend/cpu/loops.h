// Loop helpers shared by the CPU kernels: the OpenMP threshold, a strided walker that visits a
// shape in row-major order (used for broadcasting, permute, slice and gather, so none of them
// carries its own index arithmetic), and the outer/size/inner split of a shape around one dim.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "engine/backend/lines.h"
#include "engine/shape.h"

namespace brenier::cpu {

// Below this many elements a loop runs on one thread: spawning the team costs more than it saves.
constexpr int64_t kParallelThreshold = 32768;

// Element strides of a tensor of shape `in` read as if broadcast to `out` (NumPy rules, the caller
// has checked compatibility): right-aligned, 0 on broadcast and missing leading dims.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> own = contiguous_strides(in);
  size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    st[lead + i] = in[i] == 1 && out[lead + i] != 1 ? 0 : own[i];
  return st;
}

// Visits every element of `shape` in row-major order, as runs along the last dim, split into
// contiguous chunks across threads when the shape is large. For each run it calls
// `f(pos, offsets, len, inner)`: `pos` is the row-major position of the run's first element,
// offsets[k] is operand k's element offset there, and within the run operand k advances by
// inner[k] per element. Operand k is laid out by strides[k] (one stride per dim of `shape`).
// Dims are merged first where every operand allows it, so runs are as long as possible.
template <size_t N, class F>
void for_each_run(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides, F&& f,
                  bool parallel = true) {
  const int64_t total = numel(shape);
  if (total == 0) return;
  // Drop size-1 dims and merge dim i into i+1 when each operand steps through them as one dim.
  Shape dims;
  std::array<std::vector<int64_t>, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = strides[k][d];
    } else {
      dims.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (dims.empty()) {  // a single element
    dims.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(0);
  }
  const int64_t rank = static_cast<int64_t>(dims.size());
  const int64_t row = dims.back();
  std::array<int64_t, N> inner;
  for (size_t k = 0; k < N; ++k) inner[k] = st[k].back();

  auto run_chunk = [&](int64_t begin, int64_t end) {
    // Unravel `begin` once, then advance an odometer run by run.
    std::vector<int64_t> idx(rank);
    std::array<int64_t, N> off{};
    for (int64_t d = rank - 1, rest = begin; d >= 0; --d) {
      idx[d] = rest % dims[d];
      rest /= dims[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * st[k][d];
    }
    for (int64_t pos = begin; pos < end;) {
      const int64_t len = std::min(end - pos, row - idx[rank - 1]);
      f(pos, off, len, inner);
      pos += len;
      idx[rank - 1] += len;
      for (size_t k = 0; k < N; ++k) off[k] += len * inner[k];
      for (int64_t d = rank - 1; d > 0 && idx[d] == dims[d]; --d) {
        for (size_t k = 0; k < N; ++k) off[k] += st[k][d - 1] - dims[d] * st[k][d];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  };

  if (!parallel || total <= kParallelThreshold) {
    run_chunk(0, total);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (total + threads - 1) / threads;
    const int64_t begin = std::min(total, t * chunk), end = std::min(total, begin + chunk);
    if (begin < end) run_chunk(begin, end);
  }
}

using backend::Lines;  // engine/backend/lines.h
using backend::lines_around;

}  // namespace brenier::cpu
