// Source samplers for the semi-discrete solvers (see source_samplers.h).
#include "ot/samplers/source_samplers.h"

#include <cmath>

#include "engine/backend/primitives.h"

namespace brenier::ot {
namespace {

void check_sampler_args(const char* op, int64_t dim, DType dtype) {
  BRENIER_CHECK(dim >= 1, "{}: argument 'dim' must be >= 1, got {}", op, dim);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be floating (f32 or f64), got {}", op,
                dtype_name(dtype));
}

void check_count(const char* op, int64_t count) {
  BRENIER_CHECK(count >= 0, "{}: argument 'count' must be >= 0, got {}", op, count);
}

}  // namespace

SourceSampler uniform_cube_sampler(int64_t dim, double lo, double hi, DType dtype, Device device) {
  const char* op = "uniform_cube_sampler";
  check_sampler_args(op, dim, dtype);
  BRENIER_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi,
                "{}: arguments 'lo' and 'hi' must be finite with lo < hi, got lo={}, hi={}", op, lo, hi);
  return [=](Generator& gen, int64_t count) {
    check_count(op, count);
    return gen.uniform({count, dim}, lo, hi, dtype, device);
  };
}

SourceSampler normal_sampler(int64_t dim, double mean, double std, DType dtype, Device device) {
  const char* op = "normal_sampler";
  check_sampler_args(op, dim, dtype);
  BRENIER_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0,
                "{}: arguments 'mean' and 'std' must be finite with std > 0, got mean={}, std={}", op, mean, std);
  return [=](Generator& gen, int64_t count) {
    check_count(op, count);
    return gen.normal({count, dim}, mean, std, dtype, device);
  };
}

SourceSampler empirical_sampler(const Tensor& points) {
  const char* op = "empirical_sampler";
  check_defined(points, op, "points");
  BRENIER_CHECK(points.dim() == 2 && points.size(0) >= 1 && points.size(1) >= 1 && is_floating(points.dtype()),
                "{}: argument 'points' must be a floating [m, d] tensor with m, d >= 1, got {}", op, points.str());
  check_finite(points, op, "points");
  return [points, op](Generator& gen, int64_t count) {
    check_count(op, count);
    Tensor rows = gen.randint({count}, 0, points.size(0));
    return prim::index_select(points, 0, rows.to(points.device()));
  };
}

}  // namespace brenier::ot
