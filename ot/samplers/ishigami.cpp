// The Ishigami function, its closed-form moments, and its OT sensitivity indices by exact OT on samples and
// by quadrature (see ishigami.h).
#include "ot/samplers/ishigami.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace brenier::ot {
namespace {

constexpr double kPi = std::numbers::pi;

void check_input(int input, bool allow_marginal, const char* who) {
  BRENIER_CHECK(input >= (allow_marginal ? -1 : 0) && input <= 2,
                "{}: argument 'input' must be 0, 1 or 2 (X1, X2, X3){}, got {}", who,
                allow_marginal ? ", or -1 for Y itself" : "", input);
}

// P(sin X ≤ t) for X ~ U(−π, π): the arcsine law on [−1, 1].
double arcsine_cdf(double t) {
  if (t <= -1) return 0.0;
  if (t >= 1) return 1.0;
  return 0.5 + std::asin(t) / kPi;
}

// P(1 + b X₃⁴ ≤ c) = P(|X₃| ≤ ((c − 1)/b)^{1/4}) with |X₃| ~ U(0, π).
double scale_cdf(double c, double b) {
  if (c <= 1) return 0.0;
  return std::min(1.0, std::pow((c - 1) / b, 0.25) / kPi);
}

}  // namespace

double Ishigami::operator()(double x1, double x2, double x3) const {
  const double s2 = std::sin(x2);
  return std::sin(x1) + a * s2 * s2 + b * x3 * x3 * x3 * x3 * std::sin(x1);
}

double Ishigami::variance() const {
  const double p4 = std::pow(kPi, 4), p8 = std::pow(kPi, 8);
  return a * a / 8 + b * p4 / 5 + b * b * p8 / 18 + 0.5;
}

// E sin X = 0, E sin² X = ½, E sin⁴ X = 3/8, E X₃⁴ = π⁴/5, E X₃⁸ = π⁸/9.
double Ishigami::conditional_mean(int input, double x) const {
  check_input(input, false, "Ishigami::conditional_mean");
  if (input == 0) return std::sin(x) * (1 + b * std::pow(kPi, 4) / 5) + a / 2;
  if (input == 1) return a * std::sin(x) * std::sin(x);
  return a / 2;
}

double Ishigami::conditional_variance(int input, double x) const {
  check_input(input, false, "Ishigami::conditional_variance");
  const double p4 = std::pow(kPi, 4), p8 = std::pow(kPi, 8);
  if (input == 0) return std::sin(x) * std::sin(x) * b * b * (p8 / 9 - p4 * p4 / 25) + a * a / 8;
  if (input == 1) return 0.5 * (1 + 2 * b * p4 / 5 + b * b * p8 / 9);
  const double c = 1 + b * std::pow(x, 4);
  return 0.5 * c * c + a * a / 8;
}

double w2_squared_1d(std::vector<double> a, std::vector<double> b) {
  BRENIER_CHECK(!a.empty() && a.size() == b.size(),
                "w2_squared_1d: arguments 'a' and 'b' must be non-empty samples of equal size, got {} and {}", a.size(),
                b.size());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double total = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    const double d = a[k] - b[k];
    BRENIER_CHECK(std::isfinite(d), "w2_squared_1d: the samples must be finite");
    total += d * d;
  }
  return total / static_cast<double>(a.size());
}

std::vector<double> sensitivity_grid(int64_t grid_size) {
  BRENIER_CHECK(grid_size >= 1, "sensitivity_grid: argument 'grid_size' must be >= 1, got {}", grid_size);
  std::vector<double> grid;
  for (int64_t j = 0; j < grid_size; ++j)
    grid.push_back(-kPi + 2 * kPi * (static_cast<double>(j) + 0.5) / static_cast<double>(grid_size));
  return grid;
}

std::vector<double> ishigami_outputs(const Ishigami& f, int64_t n, Generator& gen) {
  BRENIER_CHECK(n >= 1, "ishigami_outputs: argument 'n' must be >= 1, got {}", n);
  const std::vector<double> x = gen.uniform({n, 3}, -kPi, kPi, DType::F64).to_vector<double>();
  std::vector<double> y(static_cast<size_t>(n));
  for (size_t k = 0; k < y.size(); ++k) y[k] = f(x[3 * k], x[3 * k + 1], x[3 * k + 2]);
  return y;
}

std::vector<double> ishigami_conditional_outputs(const Ishigami& f, int fixed_input, double value, int64_t n,
                                                 Generator& gen) {
  check_input(fixed_input, false, "ishigami_conditional_outputs");
  BRENIER_CHECK(n >= 1, "ishigami_conditional_outputs: argument 'n' must be >= 1, got {}", n);
  BRENIER_CHECK(std::isfinite(value), "ishigami_conditional_outputs: argument 'value' must be finite, got {}", value);
  std::vector<double> x = gen.uniform({n, 3}, -kPi, kPi, DType::F64).to_vector<double>();
  std::vector<double> y(static_cast<size_t>(n));
  for (size_t k = 0; k < y.size(); ++k) {
    x[3 * k + static_cast<size_t>(fixed_input)] = value;
    y[k] = f(x[3 * k], x[3 * k + 1], x[3 * k + 2]);
  }
  return y;
}

OtSensitivity exact_ot_sensitivity(const Ishigami& f, int input, int64_t grid_size, int64_t n, Generator& gen) {
  check_input(input, false, "exact_ot_sensitivity");
  BRENIER_CHECK(n >= 1, "exact_ot_sensitivity: argument 'n' must be >= 1, got {}", n);
  OtSensitivity s;
  s.input = input;
  s.grid = sensitivity_grid(grid_size);
  const std::vector<double> marginal = ishigami_outputs(f, n, gen);
  // One draw of all inputs; input i is overwritten by each grid value (common random numbers).
  const std::vector<double> others = gen.uniform({n, 3}, -kPi, kPi, DType::F64).to_vector<double>();
  std::vector<double> x(3), conditional(static_cast<size_t>(n));
  for (double value : s.grid) {
    for (size_t k = 0; k < conditional.size(); ++k) {
      x = {others[3 * k], others[3 * k + 1], others[3 * k + 2]};
      x[static_cast<size_t>(input)] = value;
      conditional[k] = f(x[0], x[1], x[2]);
    }
    s.costs.push_back(w2_squared_1d(marginal, conditional));
  }
  double total = 0;
  for (double c : s.costs) total += c;
  s.index = total / static_cast<double>(s.costs.size()) / (2 * f.variance());
  return s;
}

std::vector<double> ishigami_quantiles(const Ishigami& f, int input, double x, const QuadratureOptions& q) {
  check_input(input, true, "ishigami_quantiles");
  BRENIER_CHECK(q.nodes >= 1 && q.cdf_points >= 2 && q.levels >= 1,
                "ishigami_quantiles: options must have nodes >= 1, cdf_points >= 2, levels >= 1, got {}, {}, {}",
                q.nodes, q.cdf_points, q.levels);
  BRENIER_CHECK(std::isfinite(x), "ishigami_quantiles: argument 'x' must be finite, got {}", x);
  BRENIER_CHECK(f.a > 0 && f.b > 0, "ishigami_quantiles: the quadrature assumes a > 0 and b > 0, got {} and {}", f.a,
                f.b);
  // Midpoint nodes: A = a sin² X₂ (X₂ ~ U(0, π/2) by symmetry), C = 1 + b X₃⁴ (|X₃| ~ U(0, π)).
  const auto m = static_cast<size_t>(q.nodes);
  std::vector<double> A(m), C(m);
  for (size_t j = 0; j < m; ++j) {
    const double u = (static_cast<double>(j) + 0.5) / static_cast<double>(m);
    const double s = std::sin(0.5 * kPi * u), t = kPi * u;
    A[j] = f.a * s * s;
    C[j] = 1 + f.b * t * t * t * t;
  }
  const double c_max = 1 + f.b * std::pow(kPi, 4);
  // Every law lies in [−c_max, a + c_max]; a little room keeps F = 0 and F = 1 at the ends.
  const double lo = -c_max - 1e-9, hi = f.a + c_max + 1e-9;
  const double s1 = std::sin(x), c3 = 1 + f.b * std::pow(x, 4), h2 = f.a * std::sin(x) * std::sin(x);
  auto cdf = [&](double y) {
    double total = 0;
    switch (input) {
      case -1:  // Y = sin X₁ · C + A
        for (double a : A)
          for (double c : C) total += arcsine_cdf((y - a) / c);
        return total / static_cast<double>(m * m);
      case 0:  // Y = s₁ C + A, closed form in C
        if (s1 == 0) return std::min(1.0, std::max(0.0, (2 / kPi) * std::asin(std::sqrt(std::clamp(y / f.a, 0.0, 1.0)))));
        for (double a : A) {
          const double p = scale_cdf((y - a) / s1, f.b);
          total += s1 > 0 ? p : 1 - p;
        }
        return total / static_cast<double>(m);
      case 1:  // Y = sin X₁ · C + h₂, closed form in X₁
        for (double c : C) total += arcsine_cdf((y - h2) / c);
        return total / static_cast<double>(m);
      default:  // Y = sin X₁ · c₃ + A, closed form in X₁
        for (double a : A) total += arcsine_cdf((y - a) / c3);
        return total / static_cast<double>(m);
    }
  };
  const auto points = static_cast<size_t>(q.cdf_points);
  std::vector<double> ys(points), F(points);
  for (size_t g = 0; g < points; ++g) {
    ys[g] = lo + (hi - lo) * static_cast<double>(g) / static_cast<double>(points - 1);
    F[g] = cdf(ys[g]);
  }
  F.front() = 0.0;
  F.back() = 1.0;
  for (size_t g = 1; g < points; ++g) F[g] = std::max(F[g], F[g - 1]);  // monotone against rounding
  // F⁻¹(u) by linear interpolation of y between the grid values that bracket u.
  std::vector<double> quantiles(static_cast<size_t>(q.levels));
  size_t g = 0;
  for (size_t k = 0; k < quantiles.size(); ++k) {
    const double u = (static_cast<double>(k) + 0.5) / static_cast<double>(quantiles.size());
    while (g + 2 < points && F[g + 1] < u) ++g;
    const double span = F[g + 1] - F[g];
    const double w = span > 0 ? std::clamp((u - F[g]) / span, 0.0, 1.0) : 0.5;
    quantiles[k] = ys[g] + w * (ys[g + 1] - ys[g]);
  }
  return quantiles;
}

std::vector<double> ishigami_w2_squared_quadrature(const Ishigami& f, int input, const std::vector<double>& xs,
                                                   const QuadratureOptions& q) {
  check_input(input, false, "ishigami_w2_squared_quadrature");
  const std::vector<double> marginal = ishigami_quantiles(f, -1, 0.0, q);
  std::vector<double> costs;
  for (double x : xs) {
    const std::vector<double> conditional = ishigami_quantiles(f, input, x, q);
    double total = 0;
    for (size_t k = 0; k < marginal.size(); ++k) total += (marginal[k] - conditional[k]) * (marginal[k] - conditional[k]);
    costs.push_back(total / static_cast<double>(marginal.size()));
  }
  return costs;
}

}  // namespace brenier::ot
