// Helpers shared by the GPU tests: the skip decorator, and an element-wise comparison of a CUDA
// result against its CPU reference within atol + rtol * |ref| that reports the worst element.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/backend/device_memory.h"
#include "engine/tensor.h"

namespace brenier::testing {

inline bool has_gpu() { return backend::cuda_available(); }
// TEST_CASE("..." * gpu_only()): skipped (reported as such) when no CUDA device is usable.
inline auto gpu_only() { return doctest::skip(!has_gpu()); }

struct Tolerance {
  double atol, rtol;
};
// f64: CUDA's double math functions are within 2 ulp and sums run in another order (atomics, tree
// reductions): agreement should be ~1e-14 relative, so 1e-8 still catches any real bug while
// leaving room for second-order chains. f32: CUDA's single-precision functions are within 2-4 ulp
// (expf, erff, powf) of glibc's ~1 ulp, i.e. ~5e-7 relative per op; chains of up to ~10 ops in a
// second-order gradient, with factors like layer_norm's 1/sigma^3 (values up to ~100), bound the
// absolute difference near 5e-5, hence 1e-4. A real bug gives O(1) differences in both dtypes.
inline Tolerance tolerance_for(DType t) { return t == DType::F64 ? Tolerance{1e-9, 1e-8} : Tolerance{1e-4, 1e-4}; }

// Checks that `got` (any device) matches `ref` (CPU): same shape and dtype, and every element within
// atol + rtol * |ref| (NaN matches NaN, equal infinities match). Reports the worst element.
inline bool close_to(const Tensor& ref, const Tensor& got, Tolerance tol, const std::string& what) {
  INFO(what);
  if (ref.defined() != got.defined()) {
    FAIL_CHECK("one side is undefined: ref " << ref.str() << ", got " << got.str());
    return false;
  }
  if (!ref.defined()) return true;
  if (ref.shape() != got.shape() || ref.dtype() != got.dtype()) {
    FAIL_CHECK("shape/dtype differ: ref " << ref.str() << ", got " << got.str());
    return false;
  }
  const std::vector<double> r = ref.to_vector<double>(), g = got.to_vector<double>();
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == g[i] || (std::isnan(r[i]) && std::isnan(g[i]))) continue;
    const double excess = std::abs(g[i] - r[i]) / (tol.atol + tol.rtol * std::abs(r[i]));
    if (!(excess <= worst)) {  // NaN on one side only counts as the worst
      worst = std::isnan(excess) ? INFINITY : excess;
      worst_at = i;
    }
  }
  if (worst > 1.0) {
    FAIL_CHECK("mismatch at flat index " << worst_at << " of " << ref.str() << ": ref " << r[worst_at]
                                         << ", got " << g[worst_at] << " (|diff| is " << worst
                                         << "x the allowed " << tol.atol << " + " << tol.rtol << "*|ref|)");
    return false;
  }
  return true;
}

}  // namespace brenier::testing
