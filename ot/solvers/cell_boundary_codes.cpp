// New codes across non-singular cell boundaries (see cell_boundary_codes.h).
#include "ot/solvers/cell_boundary_codes.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace brenier::ot {
namespace {

constexpr const char* kOp = "generate_boundary_codes";

}  // namespace

Tensor supporting_plane_normals(const Tensor& targets) {
  check_defined(targets, "supporting_plane_normals", "targets");
  BRENIER_CHECK(targets.dim() == 2 && targets.size(0) >= 1 && is_floating(targets.dtype()),
                "supporting_plane_normals: argument 'targets' must be a floating [n, d] tensor, got {}", targets.str());
  const Tensor y = targets.to(Device::cpu()).to(DType::F64);
  const int64_t n = y.size(0), d = y.size(1);
  Tensor normals = Tensor::empty({n, d + 1}, DType::F64);
  const double* py = y.data<double>();
  double* pn = normals.data<double>();
  for (int64_t i = 0; i < n; ++i) {
    double sq = 1.0;  // the −1 component
    for (int64_t j = 0; j < d; ++j) sq += py[i * d + j] * py[i * d + j];
    const double inv = 1.0 / std::sqrt(sq);
    for (int64_t j = 0; j < d; ++j) pn[i * (d + 1) + j] = py[i * d + j] * inv;
    pn[i * (d + 1) + d] = -inv;
  }
  return normals;
}

BoundaryCodes generate_boundary_codes(const SourceSampler& sampler, Generator& gen, const Tensor& targets,
                                      const Tensor& heights, const BoundaryCodeConfig& c) {
  BRENIER_CHECK(static_cast<bool>(sampler), "{}: argument 'sampler' is empty", kOp);
  check_defined(targets, kOp, "targets");
  BRENIER_CHECK(targets.dim() == 2 && targets.size(0) >= 2,
                "{}: argument 'targets' must be [n, d] with n >= 2 (a boundary needs two cells), got {}", kOp,
                targets.str());
  const int64_t n = targets.size(0), d = targets.size(1);
  BRENIER_CHECK(c.samples >= 1, "{}: option 'samples' must be >= 1, got {}", kOp, c.samples);
  BRENIER_CHECK(c.top_k >= 2 && c.top_k <= n, "{}: option 'top_k' must be in [2, {}] (the number of targets), got {}",
                kOp, n, c.top_k);
  BRENIER_CHECK(std::isfinite(c.angle_threshold) && c.angle_threshold >= 0,
                "{}: option 'angle_threshold' must be finite and >= 0 (radians), got {}", kOp, c.angle_threshold);
  BRENIER_CHECK(c.max_codes >= 0, "{}: option 'max_codes' must be >= 0, got {}", kOp, c.max_codes);
  BRENIER_CHECK(c.fixed_t >= 0 && c.fixed_t <= 1, "{}: option 'fixed_t' must be in [0, 1], got {}", kOp, c.fixed_t);

  Tensor x = sampler(gen, c.samples);
  check_defined(x, kOp, "sampler's batch");
  BRENIER_CHECK(x.dim() == 2 && x.size(0) == c.samples && x.size(1) == d && is_floating(x.dtype()),
                "{}: the sampler must return floating [{}, {}] (samples × the targets' dimension), got {}", kOp,
                c.samples, d, x.str());
  CellAssignmentOptions options = c.cells;
  options.top_k = c.top_k;
  options.counts = false;
  options.check_finite = true;
  const CellAssignment cells = assign_cells(x.to(targets.dtype()).to(targets.device()), targets, heights, options);
  const Tensor top = cells.topk_indices.to(Device::cpu());
  const int64_t* ti = top.data<int64_t>();
  const int64_t k = c.top_k, N = c.samples;

  const Tensor normals = supporting_plane_normals(targets);
  const double* pn = normals.data<double>();
  auto angle = [&](int64_t a, int64_t b) {
    double cs = 0;
    for (int64_t j = 0; j <= d; ++j) cs += pn[a * (d + 1) + j] * pn[b * (d + 1) + j];
    return std::acos(std::clamp(cs, -1.0, 1.0));  // rounding can push |cos| past 1
  };

  BoundaryCodes out;
  out.candidate_pairs = N * (k - 1);
  // Rank by rank, point by point (the reference's order); the first accepted pair of each winner stays.
  std::vector<char> has_pair(static_cast<size_t>(n), 0);
  std::vector<int64_t> first, second;
  std::vector<double> angles;
  for (int64_t r = 1; r < k; ++r) {
    for (int64_t j = 0; j < N; ++j) {
      const int64_t a = ti[j * k], b = ti[j * k + r];
      const double theta = angle(a, b);
      if (!(theta <= c.angle_threshold)) continue;
      ++out.accepted_pairs;
      if (has_pair[a]) continue;
      has_pair[a] = 1;
      first.push_back(a);
      second.push_back(b);
      angles.push_back(theta);
    }
  }

  // Shuffle, then cap.
  const int64_t found = static_cast<int64_t>(first.size());
  const int64_t m = std::min(found, c.max_codes);
  std::vector<int64_t> order(static_cast<size_t>(found));
  if (found > 0) order = gen.permutation(found).to_vector<int64_t>();
  std::vector<int64_t> f(m), s(m);
  std::vector<double> th(m), t(m, c.fixed_t);
  for (int64_t i = 0; i < m; ++i) f[i] = first[order[i]], s[i] = second[order[i]], th[i] = angles[order[i]];
  if (c.interpolation == CodeInterpolation::Uniform && m > 0) t = gen.uniform({m}, 0, 1, DType::F64).to_vector<double>();

  const Tensor y = targets.to(Device::cpu()).to(DType::F64);
  const double* py = y.data<double>();
  std::vector<double> codes(static_cast<size_t>(m * d));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < d; ++j) codes[i * d + j] = (1 - t[i]) * py[f[i] * d + j] + t[i] * py[s[i] * d + j];
  out.codes = Tensor::from_vector(codes, {m, d}).to(targets.dtype());
  out.first = Tensor::from_vector(f, {m});
  out.second = Tensor::from_vector(s, {m});
  out.t = Tensor::from_vector(t, {m});
  out.angle = Tensor::from_vector(th, {m});
  return out;
}

}  // namespace brenier::ot
