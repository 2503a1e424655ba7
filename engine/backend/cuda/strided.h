// Host-side helpers that describe tensors to the kernels: broadcast strides, the merge of dims
// that every operand walks as one (so most element-wise kernels see rank 1 or 2), and the
// kernels::Strided<N> they launch with. The same idea as the CPU's for_each_run (cpu/loops.h),
// done once on the host instead of per element.
#pragma once
#include <array>
#include <vector>

#include "engine/error.h"
#include "engine/shape.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {

// Element strides of a tensor of shape `in` read as if broadcast to `out` (NumPy rules; the caller
// has checked them): right-aligned, 0 on broadcast and missing leading dims.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  const std::vector<int64_t> own = contiguous_strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[lead + i] = in[i] == 1 && out[lead + i] != 1 ? 0 : own[i];
  return st;
}

// The walk of `shape` with operand k laid out by strides[k], size-1 dims dropped and neighbouring
// dims merged where every operand allows it. Throws if more than kernels::kMaxDims dims remain.
template <int N>
kernels::Strided<N> make_strided(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides,
                                 const char* op) {
  Shape dims;
  std::array<std::vector<int64_t>, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (int k = 0; k < N && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      dims.back() *= shape[d];
      for (int k = 0; k < N; ++k) st[k].back() = strides[k][d];
    } else {
      dims.push_back(shape[d]);
      for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
  }
  BRENIER_CHECK(static_cast<int>(dims.size()) <= kernels::kMaxDims,
                "{}: the CUDA backend walks at most {} non-mergeable dims, got {} for shape {}; "
                "reshape the tensor to fewer dims",
                op, kernels::kMaxDims, dims.size(), shape_str(shape));
  kernels::Strided<N> out;
  out.rank = static_cast<int>(dims.size());
  for (int d = 0; d < out.rank; ++d) {
    out.shape[d] = dims[d];
    for (int k = 0; k < N; ++k) out.stride[k][d] = st[k][d];
  }
  return out;
}

}  // namespace brenier::cuda
