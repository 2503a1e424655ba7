// Closed-form checks of higher-order derivatives: Hessian-vector products of a quadratic and of
// log-sum-exp, the third derivative of a polynomial, a PSD Hessian for an input-convex network, and
// silu / gelu up to third order (their derivative ops, silu_grad and gelu_grad).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/autograd/gradcheck.h"
#include "engine/ops/ops.h"

using namespace brenier;

namespace {

Tensor f64(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s); }

std::vector<double> random_vec(size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> d;
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// Eigenvalues of a small symmetric matrix by cyclic Jacobi rotations (test-only reference).
std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-24) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (std::abs(a[p * n + q]) < 1e-300) continue;
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // rotate columns p, q
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rotate rows p, q
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> ev(n);
  for (int i = 0; i < n; ++i) ev[i] = a[i * n + i];
  return ev;
}

}  // namespace

TEST_CASE("double backward: Hessian-vector product of a quadratic is A v") {
  // f(x) = 1/2 x^T A x + b^T x with A symmetric; grad = A x + b; Hv = A v.
  std::mt19937_64 rng(3);
  const int n = 5;
  std::vector<double> m = random_vec(n * n, rng), a(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[i * n + j] = m[i * n + j] + m[j * n + i];
  Var A(f64(a, {n, n})), b(f64(random_vec(n, rng), {n, 1}));
  Var x(f64(random_vec(n, rng), {n, 1}), true);
  std::vector<double> v = random_vec(n, rng);
  Var f = sum(matmul(transpose(x), matmul(A, x))) * 0.5 + sum(b * x);
  Var g = grad({f}, {x}, {}, {.create_graph = true})[0];
  Var hv = grad({sum(g * Var(f64(v, {n, 1})))}, {x})[0];
  std::vector<double> got = hv.data().to_vector<double>();
  for (int i = 0; i < n; ++i) {
    double want = 0;
    for (int j = 0; j < n; ++j) want += a[i * n + j] * v[j];
    CHECK(got[i] == doctest::Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("double backward: Hessian-vector product of log-sum-exp is diag(p) v - p (p.v)") {
  std::mt19937_64 rng(5);
  const int n = 6;
  std::vector<double> xv = random_vec(n, rng), v = random_vec(n, rng);
  Var x(f64(xv, {n}), true);
  Var g = grad({logsumexp(x, 0)}, {x}, {}, {.create_graph = true})[0];
  Var hv = grad({sum(g * Var(f64(v, {n})))}, {x})[0];
  double z = 0;
  for (double t : xv) z += std::exp(t);
  double pv = 0;
  std::vector<double> p(n);
  for (int i = 0; i < n; ++i) {
    p[i] = std::exp(xv[i]) / z;
    pv += p[i] * v[i];
  }
  std::vector<double> got = hv.data().to_vector<double>();
  for (int i = 0; i < n; ++i) CHECK(got[i] == doctest::Approx(p[i] * v[i] - p[i] * pv).epsilon(1e-12));
}

TEST_CASE("double backward: third derivative of a polynomial") {
  // p(x) = 2x^4 - 3x^3 + x: p''' = 48x - 18.
  Var x(Tensor::scalar(1.7, DType::F64), true);
  Var p = pow(x, 4.0) * 2.0 - pow(x, 3.0) * 3.0 + x;
  Var d1 = grad({p}, {x}, {}, {.create_graph = true})[0];
  Var d2 = grad({d1}, {x}, {}, {.create_graph = true})[0];
  Var d3 = grad({d2}, {x})[0];
  CHECK(d1.item() == doctest::Approx(8 * std::pow(1.7, 3) - 9 * 1.7 * 1.7 + 1).epsilon(1e-12));
  CHECK(d2.item() == doctest::Approx(24 * 1.7 * 1.7 - 18 * 1.7).epsilon(1e-12));
  CHECK(d3.item() == doctest::Approx(48 * 1.7 - 18).epsilon(1e-12));
}

TEST_CASE("double backward: an input-convex network has a PSD Hessian at random points") {
  // psi(x) = w+ . softplus(W1+ softplus(A0 x + b0) + A1 x + b1) + 1/2 |x|^2 with non-negative
  // W1+, w+ and convex non-decreasing softplus: convex, so its Hessian is PSD (>= I here).
  std::mt19937_64 rng(11);
  const int d = 4, h = 8;
  auto param = [&](Shape s, bool nonneg) {
    std::vector<double> v = random_vec(static_cast<size_t>(numel(s)), rng);
    if (nonneg)
      for (double& t : v) t = std::abs(t);
    return Var(f64(v, s));
  };
  Var A0 = param({h, d}, false), b0 = param({h}, false), A1 = param({h, d}, false);
  Var b1 = param({h}, false), W1 = param({h, h}, true), w = param({h, 1}, true);
  for (int trial = 0; trial < 10; ++trial) {
    Var x(f64(random_vec(d, rng), {1, d}), true);
    Var z1 = softplus(matmul(x, transpose(A0)) + b0);
    Var z2 = softplus(matmul(z1, transpose(W1)) + matmul(x, transpose(A1)) + b1);
    Var psi = sum(matmul(z2, w)) + sum(square(x)) * 0.5;
    Var g = grad({psi}, {x}, {}, {.create_graph = true})[0];
    std::vector<double> hess;
    for (int i = 0; i < d; ++i) {
      Var row = grad({sum(slice(g, 1, i, i + 1))}, {x})[0];
      for (double t : row.data().to_vector<double>()) hess.push_back(t);
    }
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) CHECK(hess[i * d + j] == doctest::Approx(hess[j * d + i]).epsilon(1e-10));
    for (double ev : symmetric_eigenvalues(hess, d)) CHECK(ev >= 1.0 - 1e-9);
  }
}

TEST_CASE("double backward: celu's second derivative stays finite for large inputs (f32)") {
  // exp(100) overflows f32; the positive branch must never evaluate it.
  Var x(Tensor::from_vector<float>({100.0f, -3.0f, 0.5f}), true);
  Var g = grad({sum(celu(x) * celu(x))}, {x}, {}, {.create_graph = true})[0];
  Var h = grad({sum(g)}, {x})[0];
  for (double v : h.data().to_vector<double>()) CHECK(std::isfinite(v));
  CHECK(h.data().at({0}) == doctest::Approx(2.0));  // d²(x²)/dx² on the positive side
}

// silu and gelu record their derivative as an op of its own under create_graph (silu_grad,
// gelu_grad). Their first three derivatives against formulas written out here, and the derivative
// ops' own first and second order backward against finite differences.
namespace {
double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
// d^k silu / dx^k for k = 1, 2, 3, from s = sigmoid and its derivatives s1 = s (1 - s),
// s2 = s1 (1 - 2 s), s3 = s2 (1 - 2 s) - 2 s1^2: silu^(k) = k s_(k-1) + x s_k.
double ref_silu_derivative(int k, double x) {
  const double s = ref_sigmoid(x), s1 = s * (1 - s), s2 = s1 * (1 - 2 * s), s3 = s2 * (1 - 2 * s) - 2 * s1 * s1;
  return k == 1 ? s + x * s1 : k == 2 ? 2 * s1 + x * s2 : 3 * s2 + x * s3;
}
// gelu = x Phi: gelu' = Phi + x phi, gelu'' = phi (2 - x^2), gelu''' = phi (x^3 - 4x)  (phi' = -x phi).
double ref_gelu_derivative(int k, double x) {
  const double phi = ref_pdf(x), cdf = 0.5 * (1 + std::erf(x / std::sqrt(2.0)));
  return k == 1 ? cdf + x * phi : k == 2 ? phi * (2 - x * x) : phi * (x * x * x - 4 * x);
}
}  // namespace

TEST_CASE("double backward: silu and gelu, derivatives 1-3 match closed forms (f64)") {
  const std::vector<double> xs = {-6.0, -2.5, -0.7, 0.0, 0.3, 1.9, 7.0};
  for (bool is_silu : {true, false}) {
    CAPTURE(is_silu);
    Var x(f64(xs, {static_cast<int64_t>(xs.size())}), true);
    Var y = is_silu ? silu(x) : gelu(x);
    Var d1 = grad({sum(y)}, {x}, {}, {.create_graph = true})[0];
    Var d2 = grad({sum(d1)}, {x}, {}, {.create_graph = true})[0];
    Var d3 = grad({sum(d2)}, {x})[0];
    const std::vector<Var> got = {d1, d2, d3};
    for (int k = 1; k <= 3; ++k)
      for (size_t i = 0; i < xs.size(); ++i) {
        CAPTURE(k);
        CAPTURE(xs[i]);
        const double want = is_silu ? ref_silu_derivative(k, xs[i]) : ref_gelu_derivative(k, xs[i]);
        CHECK(got[k - 1].data().to_vector<double>()[i] == doctest::Approx(want).epsilon(1e-12).scale(1e-12));
      }
  }
}

TEST_CASE("double backward: silu_grad and gelu_grad ops pass first and second order gradcheck") {
  // f(x) = d/dx sum(act(x) * w), recorded with create_graph: gradcheck of f exercises the derivative
  // op's backward, gradgradcheck of f its backward under create_graph (the activation's 3rd order).
  std::mt19937_64 rng(13);
  const Tensor w = f64(random_vec(6, rng), {2, 3});
  const Tensor x0 = f64(random_vec(6, rng), {2, 3});
  for (bool is_silu : {true, false}) {
    CAPTURE(is_silu);
    auto f = [&](const std::vector<Var>& in) {
      Var y = (is_silu ? silu(in[0]) : gelu(in[0])) * Var(w);
      return grad({sum(y)}, {in[0]}, {}, {.create_graph = true})[0];
    };
    auto r1 = autograd::gradcheck(f, {x0});
    INFO(r1.report);
    CHECK(r1.ok);
    auto r2 = autograd::gradgradcheck(f, {x0}, {.step = 1e-5, .atol = 1e-5, .rtol = 1e-4});
    INFO(r2.report);
    CHECK(r2.ok);
  }
}

TEST_CASE("double backward: silu's fused derivatives match closed forms in f32 (oneDNN sigmoid path)") {
  // 64 x 129 elements: the f32 silu' and silu'' primitives build on oneDNN's sigmoid there.
  // silu'' = s (1 - s) (2 + x (1 - 2 s)) cancels near x = -2.4, so the f32 bound is absolute:
  // a few f32 ulps of the terms (|x| s (1 - s) <= 1 on [-9, 9]), 1e-6, plus 1e-5 relative.
  std::mt19937_64 rng(17);
  std::vector<double> xv = random_vec(64 * 129, rng);
  for (double& t : xv) t *= 3.0;
  Var x(f64(xv, {64, 129}).to(DType::F32), true);
  Var d1 = grad({sum(silu(x))}, {x}, {}, {.create_graph = true})[0];
  Var d2 = grad({sum(d1 * d1)}, {x})[0];  // 2 silu' silu''
  std::vector<double> g1 = d1.data().to_vector<double>(), g2 = d2.data().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double x32 = static_cast<double>(static_cast<float>(xv[i]));
    CHECK(g1[i] == doctest::Approx(ref_silu_derivative(1, x32)).epsilon(1e-5).scale(0.1));
    CHECK(g2[i] == doctest::Approx(2 * ref_silu_derivative(1, x32) * ref_silu_derivative(2, x32))
                       .epsilon(1e-5).scale(0.1));
  }
}
