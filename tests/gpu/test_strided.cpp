// The host half of every strided CUDA kernel, checked without a GPU: make_strided (the dim
// merging in engine/backend/cuda/strided.h) must describe exactly the offsets the unmerged layout
// gives, for broadcasts, permutations, slices and size-1 dims. The walk below is the same
// arithmetic as kernels::offsets_at (kernels/common.cuh), written for the host.
#include <algorithm>
#include <random>

#include "engine/backend/cuda/strided.h"
#include "gpu_support.h"

using namespace brenier;

namespace {

template <int N>
void walk_offsets(const kernels::Strided<N>& l, int64_t pos, int64_t* off) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const int64_t i = pos % l.shape[d];
    pos /= l.shape[d];
    for (int k = 0; k < N; ++k) off[k] += i * l.stride[k][d];
  }
}

// Offsets of row-major position `pos` of `shape` under the unmerged strides.
int64_t naive_offset(const Shape& shape, const std::vector<int64_t>& strides, int64_t pos) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    off += (pos % shape[d]) * strides[d];
    pos /= shape[d];
  }
  return off;
}

}  // namespace

TEST_CASE("strided: merged CUDA walks give the unmerged offsets (broadcast, permute, slice)") {
  std::mt19937 rng(4);
  for (int trial = 0; trial < 300; ++trial) {
    const int rank = 1 + static_cast<int>(rng() % 5);
    Shape shape(rank);
    for (auto& s : shape) s = 1 + static_cast<int64_t>(rng() % 4);
    // Operand 0: broadcast from a shape with random size-1 dims; operand 1: a permuted layout;
    // operand 2: a slice with a step along one dim.
    Shape small = shape;
    for (auto& s : small) if (rng() % 2) s = 1;
    const std::vector<int64_t> st0 = cuda::broadcast_strides(small, shape);
    std::vector<int64_t> perm(rank);
    for (int i = 0; i < rank; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    Shape src(rank);
    for (int i = 0; i < rank; ++i) src[perm[i]] = shape[i];
    const std::vector<int64_t> src_st = contiguous_strides(src);
    std::vector<int64_t> st1(rank);
    for (int i = 0; i < rank; ++i) st1[i] = src_st[perm[i]];
    const int dim = static_cast<int>(rng() % rank);
    Shape big = shape;
    big[dim] = shape[dim] * 2 + 1;
    std::vector<int64_t> st2 = contiguous_strides(big);
    st2[dim] *= 2;
    const auto l = cuda::make_strided<3>(shape, {st0, st1, st2}, "test");
    CAPTURE(shape_str(shape));
    CHECK(l.rank <= rank);
    for (int64_t p = 0; p < numel(shape); ++p) {
      int64_t off[3];
      walk_offsets(l, p, off);
      REQUIRE(off[0] == naive_offset(shape, st0, p));
      REQUIRE(off[1] == naive_offset(shape, st1, p));
      REQUIRE(off[2] == naive_offset(shape, st2, p));
    }
  }
}

TEST_CASE("strided: contiguous operands merge to one dim; too many dims are refused") {
  const Shape s = {2, 3, 4, 5};
  const auto l = cuda::make_strided<2>(s, {contiguous_strides(s), contiguous_strides(s)}, "test");
  CHECK(l.rank == 1);
  CHECK(l.shape[0] == 120);
  const Shape nine(9, 2);
  std::vector<int64_t> reversed = contiguous_strides(nine);
  std::reverse(reversed.begin(), reversed.end());
  CHECK_THROWS_WITH_AS(cuda::make_strided<1>(nine, {reversed}, "permute"), doctest::Contains("at most 8"), Error);
}
