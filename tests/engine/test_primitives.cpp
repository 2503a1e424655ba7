// Backend primitives (engine/backend/primitives.h) on the CPU: each one against values computed
// by hand or by a naive reference written here; the f32 oneDNN fast path against the f64 loops on
// inputs large enough to take it; broadcasting; and the argument checks' messages.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/backend/primitives.h"

using namespace brenier;
using prim::Binary;
using prim::Reduce;
using prim::Unary;

namespace {

// Uniform values in [lo, hi) from a local seeded generator (test data only).
Tensor random_tensor(const Shape& shape, std::mt19937& rng, double lo = -2.0, double hi = 2.0,
                     DType dtype = DType::F32) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape).to(dtype);
}

Tensor f32(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s); }

// |got - want| <= atol + rtol |want| element-wise, same shape; NaN matches NaN, inf matches inf.
void check_close(const Tensor& got, const std::vector<double>& want, const Shape& shape,
                 double rtol = 1e-6, double atol = 1e-7) {
  REQUIRE(got.shape() == shape);
  std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(g[i])) continue;
    if (std::isinf(want[i]) && g[i] == want[i]) continue;
    const bool ok = std::abs(g[i] - want[i]) <= atol + rtol * std::abs(want[i]);
    if (!ok) {
      INFO("flat index ", i, ": got ", g[i], ", want ", want[i], " (", got.str(), ")");
      CHECK(ok);
      return;  // one report per comparison is enough
    }
  }
}
void check_close(const Tensor& got, const Tensor& want, double rtol = 1e-6, double atol = 1e-7) {
  check_close(got, want.to_vector<double>(), want.shape(), rtol, atol);
}
void check_exact(const Tensor& got, const std::vector<double>& want, const Shape& shape) {
  check_close(got, want, shape, 0.0, 0.0);
}

double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double ref_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double ref_cdf(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }

// The hand-written reference for every unary op, parameter p.
double ref_unary(Unary op, double x, double p) {
  switch (op) {
    case Unary::Neg: return -x;
    case Unary::Exp: return std::exp(x);
    case Unary::Log: return std::log(x);
    case Unary::Sqrt: return std::sqrt(x);
    case Unary::Abs: return std::fabs(x);
    case Unary::Sign: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case Unary::Square: return x * x;
    case Unary::Reciprocal: return 1.0 / x;
    case Unary::Relu: return x > 0 ? x : 0.0;
    case Unary::LeakyRelu: return x > 0 ? x : p * x;
    case Unary::Celu: return std::max(0.0, x) + std::min(0.0, p * (std::exp(x / p) - 1.0));
    case Unary::Softplus: return std::log(1.0 + std::exp(x));
    case Unary::Sigmoid: return ref_sigmoid(x);
    case Unary::Tanh: return std::tanh(x);
    case Unary::Silu: return x * ref_sigmoid(x);
    case Unary::Gelu: return ref_gelu(x);
    case Unary::Sin: return std::sin(x);
    case Unary::Cos: return std::cos(x);
    case Unary::PowScalar: return std::pow(x, p);
    case Unary::Step: return x > 0 ? 1.0 : 0.0;
    case Unary::CeluGrad: return x > 0 ? 1.0 : std::exp(x / p);
    case Unary::CeluGrad2: return x > 0 ? 0.0 : std::exp(x / p) / p;
    case Unary::LeakyReluGrad: return x > 0 ? 1.0 : p;
    // d/dx [x Φ(x)] and its derivative, written out rather than taken from the library.
    case Unary::GeluGrad: return ref_cdf(x) + x * ref_pdf(x);
    case Unary::GeluGrad2: return 2.0 * ref_pdf(x) - x * x * ref_pdf(x);
    // d/dx [x σ(x)] = σ + x σ', σ' = σ (1 - σ); and its derivative 2 σ' + x σ'', σ'' = σ' (1 - 2σ).
    case Unary::SiluGrad: {
      const double s = ref_sigmoid(x), ds = s * (1 - s);
      return s + x * ds;
    }
    case Unary::SiluGrad2: {
      const double s = ref_sigmoid(x), ds = s * (1 - s);
      return 2 * ds + x * ds * (1 - 2 * s);
    }
    case Unary::Erf: return std::erf(x);
  }
  return 0.0;
}

struct UnaryCase {
  Unary op;
  double p;
  bool positive_only;  // domain restricted to x > 0 (log, sqrt, reciprocal, fractional pow)
};
const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {Unary::Neg, 0, false},        {Unary::Exp, 0, false},       {Unary::Log, 0, true},
      {Unary::Sqrt, 0, true},        {Unary::Abs, 0, false},       {Unary::Sign, 0, false},
      {Unary::Square, 0, false},     {Unary::Reciprocal, 0, true}, {Unary::Relu, 0, false},
      {Unary::LeakyRelu, 0.1, false}, {Unary::Celu, 1.0, false},   {Unary::Celu, 0.5, false},
      {Unary::Softplus, 0, false},   {Unary::Sigmoid, 0, false},   {Unary::Tanh, 0, false},
      {Unary::Silu, 0, false},       {Unary::Gelu, 0, false},      {Unary::Sin, 0, false},
      {Unary::Cos, 0, false},        {Unary::PowScalar, 2.5, true}, {Unary::PowScalar, 3.0, false},
      {Unary::Step, 0, false},       {Unary::CeluGrad, 0.7, false}, {Unary::LeakyReluGrad, 0.2, false},
      {Unary::GeluGrad, 0, false},   {Unary::GeluGrad2, 0, false}, {Unary::Erf, 0, false},
      {Unary::SiluGrad, 0, false},   {Unary::SiluGrad2, 0, false}, {Unary::CeluGrad2, 0.7, false},
      {Unary::CeluGrad, 1.0, false}, {Unary::CeluGrad2, 1.0, false},
  };
  return cases;
}

// Naive C = op(A) @ op(B) in double over to_vector data: a is [ba?, m, k] (stored [k, m] when
// transposed), b likewise; batch entries of size 1 (or 2-D operands) are shared.
std::vector<double> ref_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  const int64_t m = ta ? a.size(-1) : a.size(-2), k = ta ? a.size(-2) : a.size(-1);
  const int64_t n = tb ? b.size(-2) : b.size(-1);
  const int64_t ba = a.dim() == 3 ? a.size(0) : 1, bb = b.dim() == 3 ? b.size(0) : 1;
  const int64_t batch = std::max(ba, bb);
  std::vector<double> c(static_cast<size_t>(batch * m * n), 0.0);
  for (int64_t s = 0; s < batch; ++s) {
    const double* A = av.data() + (ba == 1 ? 0 : s * m * k);
    const double* B = bv.data() + (bb == 1 ? 0 : s * k * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += (ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
        c[(s * m + i) * n + j] = acc;
      }
  }
  return c;
}

}  // namespace

// --- element-wise --------------------------------------------------------------------------------

TEST_CASE("primitives: unary ops match hand-written references (f64 and small f32)") {
  const std::vector<double> mixed = {-2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 3.0};
  const std::vector<double> positive = {0.1, 0.5, 1.0, 2.0, 7.5};
  for (const UnaryCase& c : unary_cases()) {
    INFO("op ", std::string(prim::unary_name(c.op)), " p=", c.p);
    const std::vector<double>& v = c.positive_only ? positive : mixed;
    const Shape shape{static_cast<int64_t>(v.size())};
    std::vector<double> want;
    for (double x : v) want.push_back(ref_unary(c.op, x, c.p));
    check_close(prim::unary(c.op, f64(v, shape), c.p), want, shape, 1e-12, 1e-14);
    check_close(prim::unary(c.op, f64(v, shape).to(DType::F32), c.p), want, shape, 2e-6, 1e-6);
    CHECK(prim::unary(c.op, f64(v, shape).to(DType::F32), c.p).dtype() == DType::F32);
  }
}

TEST_CASE("primitives: unary spot values") {
  // A few values worked out by hand, so the references above are not the only witness.
  check_close(prim::unary(Unary::Gelu, f64({0.0, 1.0}, {2})), {0.0, 0.8413447460685429}, {2}, 1e-12);
  check_close(prim::unary(Unary::GeluGrad2, f64({0.0}, {1})), {2.0 * 0.3989422804014327}, {1}, 1e-12);
  check_close(prim::unary(Unary::Sigmoid, f64({0.0}, {1})), {0.5}, {1}, 0);
  check_close(prim::unary(Unary::Softplus, f64({0.0}, {1})), {std::log(2.0)}, {1}, 1e-15);
  check_exact(prim::unary(Unary::Sign, f64({-3, 0, 2}, {3})), {-1, 0, 1}, {3});
  check_exact(prim::unary(Unary::Step, f64({-3, 0, 2}, {3})), {0, 0, 1}, {3});
  check_close(prim::unary(Unary::CeluGrad, f64({-2.0, 0.5}, {2}), 2.0), {std::exp(-1.0), 1.0}, {2}, 1e-15);
  check_close(prim::unary(Unary::CeluGrad2, f64({-2.0, 0.5}, {2}), 2.0), {std::exp(-1.0) / 2.0, 0.0}, {2}, 1e-15);
  // 0-d in, 0-d out.
  Tensor s = prim::unary(Unary::Exp, Tensor::scalar(1.0, DType::F64));
  CHECK(s.shape() == Shape{});
  CHECK(s.item() == doctest::Approx(std::exp(1.0)));
}

TEST_CASE("primitives: softplus and sigmoid stay finite at extreme inputs") {
  const std::vector<double> x = {-1000.0, -50.0, 50.0, 1000.0};
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor t = f64(x, {4}).to(dt);
    check_close(prim::unary(Unary::Softplus, t), {0.0, std::exp(-50.0), 50.0, 1000.0}, {4}, 1e-6, 1e-30);
    check_close(prim::unary(Unary::Sigmoid, t), {0.0, std::exp(-50.0), 1.0, 1.0}, {4}, 1e-6, 1e-30);
  }
  // The same on a tensor big enough for oneDNN's f32 eltwise.
  std::vector<double> big(8192);
  for (size_t i = 0; i < big.size(); ++i) big[i] = i % 2 ? 900.0 : -900.0;
  Tensor t = f64(big, {8192}).to(DType::F32);
  std::vector<double> sp = prim::unary(Unary::Softplus, t).to_vector<double>();
  std::vector<double> sg = prim::unary(Unary::Sigmoid, t).to_vector<double>();
  for (size_t i = 0; i < big.size(); i += 1001) {
    CHECK(sp[i] == doctest::Approx(i % 2 ? 900.0 : 0.0));
    CHECK(sg[i] == doctest::Approx(i % 2 ? 1.0 : 0.0));
  }
}

TEST_CASE("primitives: silu's derivatives stay finite at extreme inputs (loop and oneDNN-sigmoid path)") {
  // silu' -> 0 (x -> -inf) and 1 (x -> +inf); silu'' -> 0 at both ends. x (1 - s) must not become
  // inf * 0 on the fast path, which builds both from oneDNN's sigmoid.
  const std::vector<double> x = {-1000.0, -50.0, 50.0, 1000.0};
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor t = f64(x, {4}).to(dt);
    check_close(prim::unary(Unary::SiluGrad, t), {0.0, -49.0 * std::exp(-50.0), 1.0, 1.0}, {4}, 1e-6, 1e-18);
    check_close(prim::unary(Unary::SiluGrad2, t), {0.0, 0.0, 0.0, 0.0}, {4}, 0, 1e-18);
  }
  std::vector<double> big(8192);
  for (size_t i = 0; i < big.size(); ++i) big[i] = i % 2 ? 900.0 : -900.0;
  Tensor t = f64(big, {8192}).to(DType::F32);
  std::vector<double> d1 = prim::unary(Unary::SiluGrad, t).to_vector<double>();
  std::vector<double> d2 = prim::unary(Unary::SiluGrad2, t).to_vector<double>();
  for (size_t i = 0; i < big.size(); i += 1001) {
    CHECK(d1[i] == doctest::Approx(i % 2 ? 1.0 : 0.0));
    CHECK(d2[i] == doctest::Approx(0.0));
  }
}

TEST_CASE("primitives: unary f32 fast path matches the f64 loops on large inputs") {
  std::mt19937 rng(7);
  const Shape shape{64, 129};  // 8256 elements: above the oneDNN threshold
  Tensor mixed = random_tensor(shape, rng, -4.0, 4.0);
  Tensor positive = random_tensor(shape, rng, 0.05, 5.0);
  for (const UnaryCase& c : unary_cases()) {
    INFO("op ", std::string(prim::unary_name(c.op)), " p=", c.p);
    Tensor x = c.positive_only ? positive : mixed;
    Tensor want = prim::unary(c.op, x.to(DType::F64), c.p);
    check_close(prim::unary(c.op, x, c.p), want, 1e-5, 1e-6);
  }
}

TEST_CASE("primitives: every unary op keeps NaN on the large f32 path exactly where the f64 loop does") {
  // oneDNN 2.6's exp returned +inf for NaN: a silent NaN -> number on the fast path only.
  std::vector<double> v(8256, 0.5);
  for (size_t i = 3; i < v.size(); i += 101) v[i] = std::nan("");
  Tensor x64 = f64(v, {64, 129});
  Tensor x32 = x64.to(DType::F32);
  for (const UnaryCase& c : unary_cases()) {
    INFO("op ", std::string(prim::unary_name(c.op)), " p=", c.p);
    std::vector<double> want = prim::unary(c.op, x64, c.p).to_vector<double>();
    std::vector<double> got = prim::unary(c.op, x32, c.p).to_vector<double>();
    int mismatches = 0;
    for (size_t i = 0; i < v.size(); ++i) mismatches += std::isnan(want[i]) != std::isnan(got[i]);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("primitives: celu's derivatives on large f32 (oneDNN exp path) keep NaN and stay finite") {
  std::vector<double> v(4096, -1.5);
  v[1] = std::nan("");
  v[2] = 1000.0;
  v[3] = -1000.0;
  v[4] = 0.0;
  Tensor t = f64(v, {4096}).to(DType::F32);
  for (Unary op : {Unary::CeluGrad, Unary::CeluGrad2}) {
    INFO(prim::unary_name(op));
    std::vector<double> y = prim::unary(op, t, 0.5).to_vector<double>();
    CHECK(std::isnan(y[1]));
    const bool first = op == Unary::CeluGrad;
    CHECK(y[2] == (first ? 1.0 : 0.0));
    CHECK(y[3] == 0.0);
    CHECK(y[4] == doctest::Approx(first ? 1.0 : 2.0));  // exp(0) = 1, divided by alpha for celu''
    CHECK(y[0] == doctest::Approx(first ? std::exp(-3.0) : 2.0 * std::exp(-3.0)).epsilon(1e-6));
  }
}

TEST_CASE("primitives: silu_backward g * silu'(x) against a naive reference (loop, broadcast, oneDNN path)") {
  std::mt19937 rng(29);
  auto want_of = [](const Tensor& g, const Tensor& x) {  // same shapes
    std::vector<double> gv = g.to_vector<double>(), xv = x.to_vector<double>(), w(gv.size());
    for (size_t i = 0; i < w.size(); ++i) w[i] = gv[i] * ref_unary(Unary::SiluGrad, xv[i], 0);
    return w;
  };
  for (const Shape& shape : {Shape{7}, Shape{64, 129}}) {  // below / above the oneDNN threshold
    Tensor g = random_tensor(shape, rng, -2, 2), x = random_tensor(shape, rng, -8, 8);
    const std::vector<double> want = want_of(g.to(DType::F64), x.to(DType::F64));
    check_close(prim::binary(Binary::SiluBackward, g.to(DType::F64), x.to(DType::F64)), want, shape, 1e-12, 1e-14);
    check_close(prim::binary(Binary::SiluBackward, g, x), want, shape, 1e-5, 1e-6);
  }
  // Broadcasting x along rows goes through the general loop.
  Tensor g = random_tensor({5, 3}, rng), x = random_tensor({3}, rng, -4, 4);
  check_close(prim::binary(Binary::SiluBackward, g, x),
              want_of(g.to(DType::F64), prim::broadcast_to(x, {5, 3}).to(DType::F64)), {5, 3}, 1e-6, 1e-7);
  CHECK_THROWS_WITH_AS(prim::binary(Binary::SiluBackward, Tensor::zeros({2}, DType::I64), Tensor::zeros({2}, DType::I64)),
                       doctest::Contains("silu_backward: argument 'a' must be f32 or f64"), Error);
}

TEST_CASE("primitives: binary ops broadcast NumPy-style") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = f64({10, 20, 30}, {3});
  Tensor col = f64({100, 200}, {2, 1});
  check_exact(prim::binary(Binary::Add, a, row), {11, 22, 33, 14, 25, 36}, {2, 3});
  check_exact(prim::binary(Binary::Sub, row, a), {9, 18, 27, 6, 15, 24}, {2, 3});
  check_exact(prim::binary(Binary::Mul, col, row), {1000, 2000, 3000, 2000, 4000, 6000}, {2, 3});
  check_exact(prim::binary(Binary::Div, a, col), {0.01, 0.02, 0.03, 0.02, 0.025, 0.03}, {2, 3});
  check_exact(prim::binary(Binary::Pow, a, f64({2}, {1})), {1, 4, 9, 16, 25, 36}, {2, 3});
  check_exact(prim::binary(Binary::Maximum, a, f64({3.5}, {})), {3.5, 3.5, 3.5, 4, 5, 6}, {2, 3});
  check_exact(prim::binary(Binary::Minimum, a, f64({3.5}, {})), {1, 2, 3, 3.5, 3.5, 3.5}, {2, 3});
  // [2,1,3] with [4,1] -> [2,4,3]
  Tensor p = f64({1, 2, 3, 4, 5, 6}, {2, 1, 3});
  Tensor q = f64({0, 10, 20, 30}, {4, 1});
  Tensor r = prim::binary(Binary::Add, p, q);
  CHECK(r.shape() == Shape{2, 4, 3});
  CHECK(r.at({1, 2, 0}) == 24.0);
  CHECK(r.at({0, 3, 2}) == 33.0);
  // 0-d with 0-d stays 0-d.
  CHECK(prim::binary(Binary::Mul, Tensor::scalar(3.0), Tensor::scalar(4.0)).shape() == Shape{});
}

TEST_CASE("primitives: comparisons give 0/1 in the input dtype") {
  Tensor a = f32({1, 2, 3}, {3});
  Tensor b = f32({2, 2, 2}, {3});
  const std::vector<std::pair<Binary, std::vector<double>>> cases = {
      {Binary::Eq, {0, 1, 0}}, {Binary::Ne, {1, 0, 1}}, {Binary::Lt, {1, 0, 0}},
      {Binary::Le, {1, 1, 0}}, {Binary::Gt, {0, 0, 1}}, {Binary::Ge, {0, 1, 1}}};
  for (const auto& [op, want] : cases) {
    INFO("op ", std::string(prim::binary_name(op)));
    Tensor r = prim::binary(op, a, b);
    CHECK(r.dtype() == DType::F32);
    check_exact(r, want, {3});
    Tensor ri = prim::binary(op, a.to(DType::I64), b.to(DType::I64));
    CHECK(ri.dtype() == DType::I64);
    check_exact(ri, want, {3});
  }
}

TEST_CASE("primitives: i64 arithmetic") {
  Tensor a = i64({1, -2, 3}, {3});
  Tensor b = i64({10}, {1});
  check_exact(prim::binary(Binary::Add, a, b), {11, 8, 13}, {3});
  check_exact(prim::binary(Binary::Sub, a, b), {-9, -12, -7}, {3});
  check_exact(prim::binary(Binary::Mul, a, b), {10, -20, 30}, {3});
  check_exact(prim::binary(Binary::Maximum, a, i64({0}, {})), {1, 0, 3}, {3});
  check_exact(prim::binary_scalar(Binary::Add, a, 5), {6, 3, 8}, {3});
  check_exact(prim::clamp(a, -1.5, 2.5), {1, -1, 2}, {3});
  check_exact(prim::clamp(a, -INFINITY, 0), {0, -2, 0}, {3});
}

TEST_CASE("primitives: binary f32 fast path matches the f64 loops on large broadcasts") {
  std::mt19937 rng(11);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{64, 100}, {64, 100}},   // equal shapes (loop)
      {{64, 100}, {100}},       // b broadcast (oneDNN)
      {{64, 1}, {64, 100}},     // a broadcast (oneDNN with swapped operands, or the loop)
      {{8, 1, 100}, {1, 16, 100}},  // both broadcast (loop)
      {{50, 100}, {}},          // 0-d b
  };
  const std::vector<Binary> ops = {Binary::Add, Binary::Sub, Binary::Mul, Binary::Div,
                                   Binary::Pow, Binary::Maximum, Binary::Minimum, Binary::Eq,
                                   Binary::Ne, Binary::Lt, Binary::Le, Binary::Gt, Binary::Ge};
  for (const auto& [sa, sb] : shapes) {
    // Positive, coarsely quantized values: pow and div stay defined, comparisons see ties.
    auto quantized = [&](const Shape& shape) {
      std::uniform_int_distribution<int> level(0, 7);
      std::vector<double> v(static_cast<size_t>(numel(shape)));
      for (double& e : v) e = std::exp(0.25 * level(rng));
      return f64(v, shape);
    };
    Tensor a = quantized(sa), b = quantized(sb);
    for (Binary op : ops) {
      INFO("op ", std::string(prim::binary_name(op)), " ", shape_str(sa), " with ", shape_str(sb));
      Tensor want = prim::binary(op, a, b);
      check_close(prim::binary(op, a.to(DType::F32), b.to(DType::F32)), want, 1e-5, 1e-6);
    }
  }
}

TEST_CASE("primitives: binary f32 on very large broadcasts (oneDNN binary) matches f64") {
  std::mt19937 rng(31);
  Tensor big = random_tensor({1024, 1025}, rng, 0.5, 2.0);
  Tensor row = random_tensor({1025}, rng, 0.5, 2.0);
  Tensor col = random_tensor({1024, 1}, rng, 0.5, 2.0);
  for (Binary op : {Binary::Add, Binary::Sub, Binary::Div, Binary::Maximum, Binary::Lt, Binary::Ge}) {
    INFO("op ", std::string(prim::binary_name(op)));
    check_close(prim::binary(op, big, row), prim::binary(op, big.to(DType::F64), row.to(DType::F64)), 1e-6, 1e-7);
    // The full-shape operand second: swapped for oneDNN where the op allows, else the loop.
    check_close(prim::binary(op, col, big), prim::binary(op, col.to(DType::F64), big.to(DType::F64)), 1e-6, 1e-7);
  }
}

TEST_CASE("primitives: binary_scalar") {
  Tensor a = f64({1, 2, 4}, {3});
  check_exact(prim::binary_scalar(Binary::Add, a, 1.5), {2.5, 3.5, 5.5}, {3});
  check_exact(prim::binary_scalar(Binary::Sub, a, 1), {0, 1, 3}, {3});
  check_exact(prim::binary_scalar(Binary::Mul, a, -2), {-2, -4, -8}, {3});
  check_exact(prim::binary_scalar(Binary::Div, a, 4), {0.25, 0.5, 1}, {3});
  check_exact(prim::binary_scalar(Binary::Pow, a, 0.5), {1, std::sqrt(2.0), 2}, {3});
  check_exact(prim::binary_scalar(Binary::Maximum, a, 2.5), {2.5, 2.5, 4}, {3});
  check_exact(prim::binary_scalar(Binary::Ge, a, 2), {0, 1, 1}, {3});
  // Large f32 against f64, every op.
  std::mt19937 rng(3);
  Tensor x = random_tensor({70, 70}, rng, 0.1, 3.0);
  for (Binary op : {Binary::Add, Binary::Sub, Binary::Mul, Binary::Div, Binary::Pow,
                    Binary::Maximum, Binary::Minimum, Binary::Lt, Binary::Ge}) {
    INFO("op ", std::string(prim::binary_name(op)));
    check_close(prim::binary_scalar(op, x, 1.7), prim::binary_scalar(op, x.to(DType::F64), 1.7), 1e-5, 1e-6);
  }
}

TEST_CASE("primitives: where, clamp and broadcast_to") {
  Tensor cond = f32({1, 0, 1}, {3});
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64({-1, -2}, {2, 1});
  check_exact(prim::where(cond, a, b), {1, -1, 3, 4, -2, 6}, {2, 3});
  check_exact(prim::where(i64({0, 1}, {2, 1}), a, Tensor::scalar(0.0, DType::F64)),
              {0, 0, 0, 4, 5, 6}, {2, 3});

  check_exact(prim::clamp(f64({-3, -1, 0, 2, 9}, {5}), -1, 2), {-1, -1, 0, 2, 2}, {5});
  check_exact(prim::clamp(f64({-3, 9}, {2}), 0, INFINITY), {0, 9}, {2});
  std::mt19937 rng(5);
  Tensor big = random_tensor({100, 100}, rng, -3, 3);
  check_close(prim::clamp(big, -1, 0.5), prim::clamp(big.to(DType::F64), -1, 0.5), 0, 0);
  check_close(prim::clamp(big, -INFINITY, 0.5), prim::clamp(big.to(DType::F64), -INFINITY, 0.5), 0, 0);

  Tensor r = prim::broadcast_to(f64({1, 2}, {2, 1}), {3, 2, 2});
  check_exact(r, {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2}, {3, 2, 2});
  check_exact(prim::broadcast_to(Tensor::scalar(7, DType::I64), {2}), {7, 7}, {2});
  // Large enough to run on both threads.
  Tensor row = random_tensor({1, 300}, rng);
  Tensor wide = prim::broadcast_to(row, {400, 300});
  CHECK(wide.at({399, 17}) == row.at({0, 17}));
  CHECK(wide.at({123, 299}) == row.at({0, 299}));
}

TEST_CASE("primitives: where over every broadcast layout of cond, a and b matches a naive reference") {
  // Full, scalar, row [C] and column [R, 1] operands: the contiguous/scalar runs take the
  // vectorized loops, the rest the strided one; 300 x 257 also splits across threads.
  const int64_t R = 300, C = 257;
  std::mt19937 rng(9);
  const std::vector<Shape> layouts = {{R, C}, {}, {C}, {R, 1}};
  auto at = [&](const std::vector<double>& v, const Shape& s, int64_t i, int64_t j) {
    if (s.empty()) return v[0];
    if (s.size() == 1) return v[static_cast<size_t>(j)];
    if (s[1] == 1) return v[static_cast<size_t>(i)];
    return v[static_cast<size_t>(i * C + j)];
  };
  for (const Shape& cs : layouts)
    for (const Shape& as : layouts)
      for (const Shape& bs : layouts) {
        INFO("cond ", shape_str(cs), " a ", shape_str(as), " b ", shape_str(bs));
        Tensor cond = prim::binary_scalar(prim::Binary::Gt, random_tensor(cs, rng, -1, 1, DType::F64), 0.0);
        // f32-representable values, so the f32 run has the same exact answer
        Tensor a = random_tensor(as, rng, -1, 1, DType::F32).to(DType::F64);
        Tensor b = random_tensor(bs, rng, -1, 1, DType::F32).to(DType::F64);
        const std::vector<double> cv = cond.to_vector<double>(), av = a.to_vector<double>(), bv = b.to_vector<double>();
        std::vector<double> want;
        for (int64_t i = 0; i < R; ++i)
          for (int64_t j = 0; j < C; ++j) want.push_back(at(cv, cs, i, j) != 0 ? at(av, as, i, j) : at(bv, bs, i, j));
        auto two_d = [](const Shape& s) { return s.size() == 2; };
        auto has_columns = [&](const Shape& s) { return !s.empty() && s.back() == C; };
        if (!(two_d(cs) || two_d(as) || two_d(bs)) || !(has_columns(cs) || has_columns(as) || has_columns(bs)))
          continue;  // the result would not be [R, C]
        check_exact(prim::where(cond, a, b), want, {R, C});
        check_exact(prim::where(cond.to(DType::F32), a.to(DType::F32), b.to(DType::F32)), want, {R, C});
      }
}

// --- reductions ----------------------------------------------------------------------------------

TEST_CASE("primitives: reduce sum/max/min over chosen dims") {
  // x[i][j][k] = 100 i + 10 j + k over [2, 3, 2]
  std::vector<double> v;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) v.push_back(100 * i + 10 * j + k);
  Tensor x = f64(v, {2, 3, 2});
  check_exact(prim::reduce(Reduce::Sum, x, {}, false), {726}, {});
  check_exact(prim::reduce(Reduce::Sum, x, {}, true), {726}, {1, 1, 1});
  check_exact(prim::reduce(Reduce::Sum, x, {0}, false), {100, 102, 120, 122, 140, 142}, {3, 2});
  check_exact(prim::reduce(Reduce::Sum, x, {-1}, true), {1, 21, 41, 201, 221, 241}, {2, 3, 1});
  check_exact(prim::reduce(Reduce::Sum, x, {0, 2}, false), {202, 242, 282}, {3});
  check_exact(prim::reduce(Reduce::Max, x, {1}, false), {20, 21, 120, 121}, {2, 2});
  check_exact(prim::reduce(Reduce::Min, x, {2, 0}, true), {0, 10, 20}, {1, 3, 1});
  check_exact(prim::reduce(Reduce::Max, x.to(DType::I64), {}, false), {121}, {});
  check_exact(prim::reduce(Reduce::Sum, x.to(DType::I64), {1}, false), {30, 33, 330, 333}, {2, 2});
  check_exact(prim::reduce(Reduce::Sum, x.to(DType::F32), {0, 1, 2}, false), {726}, {});
  // Edge cases: empty sums are 0, a 0-d tensor reduces to itself.
  check_exact(prim::reduce(Reduce::Sum, Tensor::zeros({2, 0}), {1}, false), {0, 0}, {2});
  check_exact(prim::reduce(Reduce::Max, Tensor::scalar(4.0), {}, false), {4}, {});
  // NaN propagates through max.
  CHECK(std::isnan(prim::reduce(Reduce::Max, f64({1, NAN, 3}, {3}), {}, false).item()));
}

TEST_CASE("primitives: reduce in f32 matches f64") {
  std::mt19937 rng(13);
  Tensor x = random_tensor({12, 30, 40}, rng);
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1}};
  for (const auto& dims : dim_sets)
    for (Reduce op : {Reduce::Sum, Reduce::Max, Reduce::Min})
      for (bool keepdim : {false, true}) {
        INFO("dims [", fmt::format("{}", fmt::join(dims, ",")), "] op ", static_cast<int>(op),
             " keepdim ", keepdim);
        Tensor want = prim::reduce(op, x.to(DType::F64), dims, keepdim);
        check_close(prim::reduce(op, x, dims, keepdim), want, 1e-5, 1e-4);
      }
}

// Reduces x (any rank, contiguous) over `dims` by explicit index arithmetic: the reference for the loops.
std::vector<double> naive_reduce(Reduce op, const Tensor& x, const std::vector<int64_t>& dims) {
  const Shape& shape = x.shape();
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t d : dims) reduced[d] = true;
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d) kept.push_back(reduced[d] ? 1 : shape[d]);
  const std::vector<double> v = x.to(DType::F64).to_vector<double>();
  std::vector<double> out(static_cast<size_t>(numel(kept)), op == Reduce::Sum ? 0.0 : NAN);
  std::vector<bool> seen(out.size(), false);
  const std::vector<int64_t> strides = contiguous_strides(shape), kept_strides = contiguous_strides(kept);
  for (int64_t flat = 0; flat < numel(shape); ++flat) {
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      const int64_t idx = flat / strides[d] % shape[d];
      if (!reduced[d]) o += idx * kept_strides[d];
    }
    const double e = v[static_cast<size_t>(flat)];
    double& acc = out[static_cast<size_t>(o)];
    if (op == Reduce::Sum) acc += e;
    else if (!seen[static_cast<size_t>(o)] || std::isnan(e)) acc = e;
    else if (!std::isnan(acc)) acc = op == Reduce::Max ? std::max(acc, e) : std::min(acc, e);
    seen[static_cast<size_t>(o)] = true;
  }
  return out;
}

TEST_CASE("primitives: reduce over one block of dims and over several match a naive reference") {
  std::mt19937 rng(29);
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  // [outer, red, inner] patterns (inner > 512 spans several accumulator chunks; > 32768 elements runs
  // threaded), size-1 dims inside and around the block, and two separate blocks (the index-array path);
  // contiguous rows (inner 1: short, odd and long rows, threaded) and only size-1 dims reduced (a copy).
  const std::vector<Case> cases = {{{6, 50, 700}, {1}},     {{3, 1, 40, 1, 9}, {1, 2, 3}}, {{2, 5, 7}, {0}},
                                   {{4, 3, 2, 5}, {1, 2}},  {{5, 1200}, {0}},             {{7, 3, 5}, {0, 2}},
                                   {{1, 8, 1}, {0, 1, 2}},  {{64, 33, 20}, {1}},          {{8, 256, 2}, {2}},
                                   {{64, 37}, {1}},         {{40, 1500}, {1}},            {{3, 4, 5}, {1, 2}},
                                   {{5, 3, 1}, {2}},        {{5, 1, 3}, {1}}};
  for (const Case& c : cases)
    for (DType t : {DType::F64, DType::F32})
      for (Reduce op : {Reduce::Sum, Reduce::Max, Reduce::Min}) {
        INFO("shape ", shape_str(c.shape), " dims [", fmt::format("{}", fmt::join(c.dims, ",")), "] ",
             dtype_name(t), " op ", static_cast<int>(op));
        Tensor x = random_tensor(c.shape, rng).to(t);
        const std::vector<double> want = naive_reduce(op, x, c.dims);
        const std::vector<double> got = prim::reduce(op, x, c.dims, true).to(DType::F64).to_vector<double>();
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < want.size(); ++i)
          CHECK(got[i] == doctest::Approx(want[i]).epsilon(t == DType::F64 ? 1e-12 : 1e-5));
      }
  // NaN inside a middle block sticks for max and min; i64 sums are exact.
  Tensor x = random_tensor({3, 4, 600}, rng);
  std::vector<double> v = x.to_vector<double>();
  v[1 * 4 * 600 + 2 * 600 + 5] = NAN;
  x = f64(v, {3, 4, 600});
  for (Reduce op : {Reduce::Max, Reduce::Min}) {
    const Tensor r = prim::reduce(op, x, {1}, false);
    CHECK(std::isnan(r.at({1, 5})));
    CHECK_FALSE(std::isnan(r.at({1, 6})));
    CHECK_FALSE(std::isnan(r.at({0, 5})));
  }
  // ... and in a contiguous row.
  for (DType t : {DType::F64, DType::F32}) {
    std::vector<double> w = random_tensor({4, 45}, rng).to_vector<double>();
    w[2 * 45 + 33] = NAN;
    const Tensor rows = f64(w, {4, 45}).to(t);
    for (Reduce op : {Reduce::Max, Reduce::Min}) {
      const Tensor r = prim::reduce(op, rows, {1}, false).to(DType::F64);
      CHECK(std::isnan(r.at({2})));
      CHECK_FALSE(std::isnan(r.at({1})));
    }
  }
  std::vector<int64_t> ints;
  for (int64_t i = 0; i < 2 * 3 * 700; ++i) ints.push_back(i % 97 - 40);
  const Tensor row_ints = i64(ints, {6, 700});
  const std::vector<double> row_want = naive_reduce(Reduce::Sum, row_ints, {1});
  const std::vector<int64_t> row_got = prim::reduce(Reduce::Sum, row_ints, {1}, false).to_vector<int64_t>();
  for (size_t i = 0; i < row_want.size(); ++i) CHECK(static_cast<double>(row_got[i]) == row_want[i]);
  const Tensor xi = i64(ints, {2, 3, 700});
  const std::vector<double> want = naive_reduce(Reduce::Sum, xi, {1});
  const std::vector<int64_t> got = prim::reduce(Reduce::Sum, xi, {1}, false).to_vector<int64_t>();
  for (size_t i = 0; i < want.size(); ++i) CHECK(static_cast<double>(got[i]) == want[i]);
}

TEST_CASE("primitives: argmax/argmin pick the first index on ties") {
  Tensor x = f64({1, 5, 5, 0,   //
                  7, 2, 7, -1}, {2, 4});
  check_exact(prim::argreduce(true, x, 1, false), {1, 0}, {2});
  check_exact(prim::argreduce(false, x, 1, true), {3, 3}, {2, 1});
  check_exact(prim::argreduce(true, x, 0, false), {1, 0, 1, 0}, {4});
  check_exact(prim::argreduce(false, f64({3, 1, 1}, {3}), 0, false), {1}, {});
  CHECK(prim::argreduce(true, x, -1, false).dtype() == DType::I64);
  check_exact(prim::argreduce(true, x.to(DType::I64), 1, false), {1, 0}, {2});
}

// The first index of the best value along `dim` of a [a, b, c] tensor, NaN first, by plain loops.
std::vector<double> naive_arg_best(const std::vector<double>& v, const Shape& s, int64_t dim, bool is_max) {
  std::vector<double> out;
  const int64_t n[3] = {s[0], s[1], s[2]};
  auto at = [&](int64_t i, int64_t j, int64_t k) { return v[static_cast<size_t>((i * n[1] + j) * n[2] + k)]; };
  for (int64_t i = 0; i < (dim == 0 ? 1 : n[0]); ++i)
    for (int64_t j = 0; j < (dim == 1 ? 1 : n[1]); ++j)
      for (int64_t k = 0; k < (dim == 2 ? 1 : n[2]); ++k) {
        int64_t best = -1;
        double best_v = 0;
        for (int64_t r = 0; r < n[dim]; ++r) {
          const double x = at(dim == 0 ? r : i, dim == 1 ? r : j, dim == 2 ? r : k);
          if (std::isnan(x)) {
            best = r;
            break;
          }
          if (best < 0 || (is_max ? x > best_v : x < best_v)) {
            best = r;
            best_v = x;
          }
        }
        out.push_back(static_cast<double>(best));
      }
  return out;
}

TEST_CASE("primitives: argmax/argmin along every dim match a naive reference (ties, NaN, long lines)") {
  // Long lines take the vectorized paths (contiguous lines; rows of strided lines in blocks of 256).
  std::mt19937 rng(11);
  for (const Shape& shape : {Shape{3, 300, 517}, Shape{2, 1030, 5}, Shape{1, 4, 2049}}) {
    std::vector<double> v(static_cast<size_t>(numel(shape)));
    std::uniform_int_distribution<int> coarse(-40, 40);  // few distinct values: many ties
    for (double& x : v) x = coarse(rng) * 0.25;
    for (size_t i = 7; i < v.size(); i += 977) v[i] = std::nan("");
    for (DType dt : {DType::F32, DType::F64, DType::I64}) {
      std::vector<double> w = v;
      if (dt == DType::I64)
        for (double& x : w) x = std::isnan(x) ? 0.0 : std::round(x * 4);
      Tensor t = Tensor::from_vector(w, shape).to(dt);
      for (int64_t dim = 0; dim < 3; ++dim)
        for (bool is_max : {true, false}) {
          INFO("shape ", shape_str(shape), " ", dtype_name(dt), " dim ", dim, is_max ? " argmax" : " argmin");
          std::vector<double> want = naive_arg_best(w, shape, dim, is_max);
          Shape out_shape = shape;
          out_shape.erase(out_shape.begin() + dim);
          check_exact(prim::argreduce(is_max, t, dim, false), want, out_shape);
        }
    }
  }
}

TEST_CASE("primitives: topk is sorted and returns indices") {
  Tensor x = f64({3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
  auto top = prim::topk(x, 2, 1, true);
  check_exact(top[0], {4, 3, 9, 6}, {2, 2});
  check_exact(top[1], {2, 0, 1, 3}, {2, 2});
  CHECK(top[1].dtype() == DType::I64);
  auto low = prim::topk(x, 3, -1, false);
  check_exact(low[0], {1, 1, 3, 2, 5, 6}, {2, 3});
  check_exact(low[1], {1, 3, 0, 2, 0, 3}, {2, 3});  // equal values: lower index first
  auto col = prim::topk(x, 1, 0, true);
  check_exact(col[0], {5, 9, 4, 6}, {1, 4});
  check_exact(col[1], {1, 1, 0, 1}, {1, 4});
  CHECK(prim::topk(x, 0, 1, true)[0].shape() == Shape{2, 0});
}

TEST_CASE("primitives: bincount") {
  check_exact(prim::bincount(i64({1, 3, 1, 0, 1}, {5}), 0), {1, 3, 0, 1}, {4});
  check_exact(prim::bincount(i64({1, 1}, {2}), 5), {0, 2, 0, 0, 0}, {5});
  check_exact(prim::bincount(i64({}, {0}), 2), {0, 0}, {2});
  CHECK(prim::bincount(i64({2}, {1}), 0).dtype() == DType::I64);
}

// --- matmul --------------------------------------------------------------------------------------

TEST_CASE("primitives: matmul small by hand") {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = f64({7, 8, 9, 10, 11, 12}, {3, 2});
  check_exact(prim::matmul(a, b), {58, 64, 139, 154}, {2, 2});
  // a^T stored: [3, 2] holding a transposed; b^T stored: [2, 3].
  Tensor at = f64({1, 4, 2, 5, 3, 6}, {3, 2});
  Tensor bt = f64({7, 9, 11, 8, 10, 12}, {2, 3});
  check_exact(prim::matmul(at, b, true, false), {58, 64, 139, 154}, {2, 2});
  check_exact(prim::matmul(a, bt, false, true), {58, 64, 139, 154}, {2, 2});
  check_exact(prim::matmul(at, bt, true, true), {58, 64, 139, 154}, {2, 2});
  check_exact(prim::matmul(a.to(DType::F32), b.to(DType::F32)), {58, 64, 139, 154}, {2, 2});
  // k = 0 gives zeros.
  check_exact(prim::matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3})), {0, 0, 0, 0, 0, 0}, {2, 3});
}

TEST_CASE("primitives: matmul f32 (oneDNN), f64 (Eigen), dot products and the loop against a naive reference") {
  std::mt19937 rng(17);
  struct Case {
    Shape a, b;  // logical shapes before transposition
  };
  const std::vector<Case> cases = {
      {{300, 200}, {200, 100}},        // 2-D
      {{4, 50, 60}, {4, 60, 30}},      // batched
      {{4, 50, 60}, {60, 30}},         // shared b
      {{50, 60}, {4, 60, 30}},         // shared a
      {{1, 50, 60}, {4, 60, 30}},      // batch-1 a broadcast
      {{4, 50, 60}, {1, 60, 30}},      // batch-1 b broadcast
      {{3, 7, 5}, {5, 2}},             // small: the f32 loop
      {{1024, 64}, {64, 1}},           // one output column: dot products (a potential's last layer)
      {{300, 67}, {67, 2}},            // two columns (dot products when b is transposed); k with a tail
      {{4, 50, 60}, {60, 1}},          // batched dot products, shared b
      {{2, 40, 30}, {2, 30, 1}},       // batched dot products, both batched
      {{64, 1, 70}, {64, 70, 33}},     // per-sample layers on one point each (m = 1): dots when b is transposed
  };
  // Stored shape of an operand: the last two dims swapped when transposed.
  auto stored = [](Shape s, bool trans) {
    if (trans) std::swap(s[s.size() - 1], s[s.size() - 2]);
    return s;
  };
  for (const Case& c : cases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        INFO(shape_str(c.a), " @ ", shape_str(c.b), " trans_a=", ta, " trans_b=", tb);
        Tensor a = random_tensor(stored(c.a, ta), rng);
        Tensor b = random_tensor(stored(c.b, tb), rng);
        const std::vector<double> want = ref_matmul(a, b, ta, tb);
        const bool batched = c.a.size() == 3 || c.b.size() == 3;
        const int64_t batch = std::max(c.a.size() == 3 ? c.a[0] : 1, c.b.size() == 3 ? c.b[0] : 1);
        const Shape out = batched ? Shape{batch, c.a[c.a.size() - 2], c.b.back()}
                                  : Shape{c.a[0], c.b.back()};
        const double k = static_cast<double>(c.a.back());
        check_close(prim::matmul(a, b, ta, tb), want, out, 1e-4, 1e-5 * k);
        check_close(prim::matmul(a.to(DType::F64), b.to(DType::F64), ta, tb), want, out, 1e-12, 1e-12);
      }
}

// --- softmax and layer norm ----------------------------------------------------------------------

TEST_CASE("primitives: softmax and log_softmax by hand, stable for large inputs") {
  const double e1 = std::exp(1.0), z = 1 + e1 + e1 * e1;
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor x = f64({0, 1, 2, 1000, 1001, 1002}, {2, 3}).to(dt);
    const std::vector<double> p = {1 / z, e1 / z, e1 * e1 / z, 1 / z, e1 / z, e1 * e1 / z};
    check_close(prim::softmax(x, -1, false), p, {2, 3}, 1e-6, 1e-7);
    std::vector<double> lp;
    for (double v : p) lp.push_back(std::log(v));
    check_close(prim::softmax(x, 1, true), lp, {2, 3}, 1e-6, 1e-6);
  }
  // Along dim 0.
  Tensor y = f64({0, 5, 0, 5}, {2, 2});
  check_close(prim::softmax(y, 0, false), {0.5, 0.5, 0.5, 0.5}, {2, 2}, 1e-12);
  check_close(prim::softmax(f64({0, 0, 0, std::log(3.0)}, {2, 2}), 0, false),
              {0.5, 0.25, 0.5, 0.75}, {2, 2}, 1e-12);
}

TEST_CASE("primitives: softmax and layer_norm f32 fast path match the f64 loops") {
  std::mt19937 rng(19);
  Tensor x = random_tensor({20, 30, 40}, rng, -5, 5);
  for (int64_t dim : {0, 1, 2})
    for (bool log : {false, true}) {
      INFO("dim ", dim, " log ", log);
      check_close(prim::softmax(x, dim, log), prim::softmax(x.to(DType::F64), dim, log), 1e-5, 1e-6);
    }
  check_close(prim::layer_norm(x, 1e-5), prim::layer_norm(x.to(DType::F64), 1e-5), 1e-4, 1e-5);
}

TEST_CASE("primitives: softmax_backward against a naive reference (every dim, f64 and f32)") {
  // dx[i] = y[i] * (g[i] - sum_j g[j] y[j]) along the softmax dim, written out per line in double.
  std::mt19937 rng(23);
  const Shape shape{6, 7, 300};  // the last dim runs the host loop (with the omp simd sum)
  Tensor g = random_tensor(shape, rng, -2, 2);
  for (int64_t dim : {0, 1, 2}) {
    INFO("dim ", dim);
    Tensor y = prim::softmax(random_tensor(shape, rng, -3, 3).to(DType::F64), dim, false);
    const std::vector<double> yv = y.to_vector<double>(), gv = g.to_vector<double>();
    const std::vector<int64_t> st = contiguous_strides(shape);
    std::vector<double> want(yv.size());
    for (size_t flat = 0; flat < yv.size(); ++flat) {
      const int64_t at = static_cast<int64_t>(flat);
      const int64_t line_start = at - (at / st[dim] % shape[dim]) * st[dim];
      double dot = 0;
      for (int64_t j = 0; j < shape[dim]; ++j) dot += gv[line_start + j * st[dim]] * yv[line_start + j * st[dim]];
      want[flat] = yv[flat] * (gv[flat] - dot);
    }
    check_close(prim::softmax_backward(y, g.to(DType::F64), dim), want, shape, 1e-12, 1e-15);
    check_close(prim::softmax_backward(y.to(DType::F32), g, dim), want, shape, 1e-5, 1e-7);
  }
  CHECK_THROWS_WITH_AS(prim::softmax_backward(f64({0.5, 0.5}, {2}), f64({1, 2, 3}, {3}), 0),
                       doctest::Contains("softmax_backward: argument 'g' must have the shape"), Error);
}

TEST_CASE("primitives: layer_norm by hand") {
  // Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
  const double inv = 1 / std::sqrt(1.25 + 1e-5);
  const std::vector<double> want = {-1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv, 0, 0, 0, 0};
  Tensor x = f64({1, 2, 3, 4, 7, 7, 7, 7}, {2, 4});
  check_close(prim::layer_norm(x, 1e-5), want, {2, 4}, 1e-12, 1e-12);
  check_close(prim::layer_norm(x.to(DType::F32), 1e-5), want, {2, 4}, 1e-6, 1e-6);
}

// --- shape ---------------------------------------------------------------------------------------

TEST_CASE("primitives: permute") {
  Tensor x = Tensor::arange(24, DType::F64).reshape({2, 3, 4});
  Tensor p = prim::permute(x, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == x.at({i, j, k}));
  check_exact(prim::permute(f64({1, 2, 3, 4, 5, 6}, {2, 3}), {-1, 0}), {1, 4, 2, 5, 3, 6}, {3, 2});
  Tensor big = Tensor::arange(300 * 200, DType::I64).reshape({300, 200});
  Tensor bt = prim::permute(big, {1, 0});
  CHECK(bt.at({199, 299}) == big.at({299, 199}));
  CHECK(bt.at({17, 5}) == big.at({5, 17}));
}

TEST_CASE("primitives: slice with negative bounds, clamping and steps") {
  Tensor x = Tensor::arange(10, DType::F64);
  check_exact(prim::slice(x, 0, 2, 5, 1), {2, 3, 4}, {3});
  check_exact(prim::slice(x, 0, -3, 100, 1), {7, 8, 9}, {3});
  check_exact(prim::slice(x, 0, 1, -1, 3), {1, 4, 7}, {3});
  check_exact(prim::slice(x, 0, -100, 2, 1), {0, 1}, {2});
  CHECK(prim::slice(x, 0, 6, 3, 1).shape() == Shape{0});
  Tensor m = Tensor::arange(12, DType::I64).reshape({3, 4});
  check_exact(prim::slice(m, 1, 1, 4, 2), {1, 3, 5, 7, 9, 11}, {3, 2});
  check_exact(prim::slice(m, -2, 2, 3, 1), {8, 9, 10, 11}, {1, 4});
}

TEST_CASE("primitives: slice_scatter is slice's adjoint") {
  Tensor src = f64({1, 2, 3, 4}, {2, 2});
  check_exact(prim::slice_scatter(src, {2, 5}, 1, 0, 5, 3), {1, 0, 0, 2, 0, 3, 0, 0, 4, 0}, {2, 5});
  check_exact(prim::slice_scatter(src, {4, 2}, 0, -2, 4, 1), {0, 0, 0, 0, 1, 2, 3, 4}, {4, 2});
  // <slice(x), y> == <x, slice_scatter(y)>
  std::mt19937 rng(23);
  Tensor x = random_tensor({5, 7, 3}, rng, -1, 1, DType::F64);
  Tensor s = prim::slice(x, 1, -6, 7, 2);
  Tensor y = random_tensor(s.shape(), rng, -1, 1, DType::F64);
  auto dot = [](const Tensor& a, const Tensor& b) {
    return prim::reduce(Reduce::Sum, prim::binary(Binary::Mul, a, b), {}, false).item();
  };
  CHECK(dot(s, y) == doctest::Approx(dot(x, prim::slice_scatter(y, x.shape(), 1, -6, 7, 2))));
}

TEST_CASE("primitives: concat") {
  Tensor a = f64({1, 2, 3, 4}, {2, 2});
  Tensor b = f64({5, 6}, {2, 1});
  check_exact(prim::concat({a, b}, 1), {1, 2, 5, 3, 4, 6}, {2, 3});
  check_exact(prim::concat({a, f64({7, 8}, {1, 2}), a}, 0), {1, 2, 3, 4, 7, 8, 1, 2, 3, 4}, {5, 2});
  check_exact(prim::concat({a, Tensor::zeros({2, 0}, DType::F64)}, -1), {1, 2, 3, 4}, {2, 2});
}

// --- indexing ------------------------------------------------------------------------------------

TEST_CASE("primitives: index_select and index_add") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor idx = i64({2, 0, 2}, {3});
  check_exact(prim::index_select(x, 0, idx), {5, 6, 1, 2, 5, 6}, {3, 2});
  check_exact(prim::index_select(x, 1, i64({1}, {1})), {2, 4, 6}, {3, 1});
  // Repeated indices accumulate.
  Tensor src = f64({10, 20, 30, 40, 50, 60}, {3, 2});
  check_exact(prim::index_add(x, 0, idx, src), {31, 42, 3, 4, 65, 86}, {3, 2});
  check_exact(prim::index_add(x, -1, i64({0, 0}, {2}), f64({1, 1, 1, 1, 1, 1}, {3, 2})),
              {3, 2, 5, 4, 7, 6}, {3, 2});
  check_exact(prim::index_add(x.to(DType::I64), 0, i64({1}, {1}), i64({7, 7}, {1, 2})),
              {1, 2, 10, 11, 5, 6}, {3, 2});
}

TEST_CASE("primitives: gather and scatter_add (PyTorch semantics)") {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  // dim 1: out[i][j] = x[i][index[i][j]]
  check_exact(prim::gather(x, 1, i64({2, 0, 1, 1}, {2, 2})), {3, 1, 5, 5}, {2, 2});
  // dim 0: out[i][j] = x[index[i][j]][j]; index smaller than x in dim 1
  check_exact(prim::gather(x, 0, i64({1, 0, 0, 1}, {2, 2})), {4, 2, 1, 5}, {2, 2});
  // scatter_add dim 0: out[index[i][j]][j] += src[i][j]
  Tensor src = f64({10, 20, 30, 40, 50, 60}, {2, 3});
  check_exact(prim::scatter_add(x, 0, i64({1, 1, 0, 1}, {2, 2}), src),
              {1 + 40, 2, 3, 4 + 10, 5 + 20 + 50, 6}, {2, 3});
  check_exact(prim::scatter_add(Tensor::zeros({2, 3}, DType::F64), 1, i64({2, 2, 0, 1}, {2, 2}), src),
              {0, 0, 30, 40, 50, 0}, {2, 3});
  // gather then scatter_add are adjoint: <gather(x), y> == <x, scatter_add(0, y)>
  std::mt19937 rng(29);
  Tensor big = random_tensor({40, 50}, rng, -1, 1, DType::F64);
  std::uniform_int_distribution<int64_t> pick(0, 39);
  std::vector<int64_t> iv(30 * 50);
  for (auto& v : iv) v = pick(rng);
  Tensor index = i64(iv, {30, 50});
  Tensor g = prim::gather(big, 0, index);
  Tensor y = random_tensor(g.shape(), rng, -1, 1, DType::F64);
  auto dot = [](const Tensor& a, const Tensor& b) {
    return prim::reduce(Reduce::Sum, prim::binary(Binary::Mul, a, b), {}, false).item();
  };
  Tensor scattered = prim::scatter_add(Tensor::zeros(big.shape(), DType::F64), 0, index, y);
  CHECK(dot(g, y) == doctest::Approx(dot(big, scattered)));
}

TEST_CASE("primitives: one_hot and nonzero_flat") {
  Tensor oh = prim::one_hot(i64({2, 0, 1, 2}, {2, 2}), 3, DType::F32);
  CHECK(oh.dtype() == DType::F32);
  check_exact(oh, {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}, {2, 2, 3});
  check_exact(prim::one_hot(i64({1}, {1}), 2, DType::I64), {0, 1}, {1, 2});
  Tensor nz = prim::nonzero_flat(f32({0, 1.5, 0, -2, 0, 3}, {2, 3}));
  CHECK(nz.dtype() == DType::I64);
  check_exact(nz, {1, 3, 5}, {3});
  CHECK(prim::nonzero_flat(Tensor::zeros({4})).shape() == Shape{0});
}

// --- argument checks -----------------------------------------------------------------------------

TEST_CASE("primitives: shape mismatches are named") {
  CHECK_THROWS_WITH_AS(prim::binary(Binary::Add, Tensor::zeros({2, 3}), Tensor::zeros({4})),
                       doctest::Contains("add: arguments 'a' [2, 3] and 'b' [4] must broadcast"), Error);
  CHECK_THROWS_WITH_AS(prim::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                       doctest::Contains("matmul: argument 'b' must have 3 rows"), Error);
  CHECK_THROWS_WITH_AS(prim::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 5})),
                       doctest::Contains("equal batch sizes or one of them 1"), Error);
  CHECK_THROWS_WITH_AS(prim::matmul(Tensor::zeros({3}), Tensor::zeros({3, 5})),
                       doctest::Contains("matmul: argument 'a' must be 2-D"), Error);
  CHECK_THROWS_WITH_AS(prim::where(Tensor::zeros({5}), Tensor::zeros({2, 3}), Tensor::zeros({3})),
                       doctest::Contains("where: arguments 'cond' [5]"), Error);
  CHECK_THROWS_WITH_AS(prim::broadcast_to(Tensor::zeros({3}), {2, 4}),
                       doctest::Contains("broadcast_to: argument 'x' (f32[3] on cpu) cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(prim::concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1),
                       doctest::Contains("concat: argument 'xs[1]' must match 'xs[0]'"), Error);
  CHECK_THROWS_WITH_AS(prim::slice_scatter(Tensor::zeros({2, 2}), {2, 5}, 1, 0, 5, 1),
                       doctest::Contains("slice_scatter: argument 'src' must have shape [2, 5]"), Error);
  CHECK_THROWS_WITH_AS(prim::index_add(Tensor::zeros({3, 2}), 0, i64({0}, {1}), Tensor::zeros({2, 2})),
                       doctest::Contains("index_add: argument 'src' must have shape [1, 2]"), Error);
  CHECK_THROWS_WITH_AS(prim::gather(Tensor::zeros({2, 3}), 0, i64({0}, {1})),
                       doctest::Contains("gather: argument 'index' must have rank 2"), Error);
  CHECK_THROWS_WITH_AS(prim::permute(Tensor::zeros({2, 3}), {0, 0}),
                       doctest::Contains("permute: argument 'perm' must name each dim once"), Error);
}

TEST_CASE("primitives: dtype mismatches and i64 into floating ops are named") {
  CHECK_THROWS_WITH_AS(prim::binary(Binary::Mul, Tensor::zeros({2}), Tensor::zeros({2}, DType::F64)),
                       doctest::Contains("mul: argument 'b' must have dtype f32 like 'a', got f64[2]"), Error);
  CHECK_THROWS_WITH_AS(prim::matmul(Tensor::zeros({2, 2}), Tensor::zeros({2, 2}, DType::F64)),
                       doctest::Contains("matmul: argument 'b' must have dtype f32"), Error);
  CHECK_THROWS_WITH_AS(prim::unary(Unary::Exp, Tensor::zeros({2}, DType::I64)),
                       doctest::Contains("exp: argument 'x' must be f32 or f64, got i64[2]"), Error);
  CHECK_THROWS_WITH_AS(prim::binary(Binary::Div, Tensor::ones({2}, DType::I64), Tensor::ones({2}, DType::I64)),
                       doctest::Contains("div: argument 'a' must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(prim::matmul(Tensor::zeros({2, 2}, DType::I64), Tensor::zeros({2, 2}, DType::I64)),
                       doctest::Contains("matmul: argument 'a' must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(prim::softmax(Tensor::zeros({2}, DType::I64), 0, false),
                       doctest::Contains("softmax: argument 'x' must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(prim::layer_norm(Tensor::zeros({2}, DType::I64), 1e-5),
                       doctest::Contains("layer_norm: argument 'x' must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(prim::gather(Tensor::zeros({2}), 0, Tensor::zeros({2})),
                       doctest::Contains("gather: argument 'index' must be an i64 index tensor, got f32[2]"), Error);
  CHECK_THROWS_WITH_AS(prim::index_select(Tensor::zeros({2}), 0, Tensor::zeros({1})),
                       doctest::Contains("index_select: argument 'index' must be an i64"), Error);
  CHECK_THROWS_WITH_AS(prim::bincount(Tensor::zeros({2}), 0),
                       doctest::Contains("bincount: argument 'index' must be an i64"), Error);
  CHECK_THROWS_WITH_AS(prim::binary_scalar(Binary::Add, Tensor::zeros({2}, DType::I64), 0.5),
                       doctest::Contains("add: argument 's' must be an integer for an i64 tensor"), Error);
  CHECK_THROWS_WITH_AS(prim::scatter_add(Tensor::zeros({2}), 0, i64({0}, {1}), Tensor::zeros({1}, DType::F64)),
                       doctest::Contains("scatter_add: argument 'src' must have dtype f32 like 'x'"), Error);
}

TEST_CASE("primitives: dims out of range are named") {
  CHECK_THROWS_WITH_AS(prim::reduce(Reduce::Sum, Tensor::zeros({2, 3}), {2}, false),
                       doctest::Contains("sum: argument 'dims' must be in [-2, 1] for a tensor of rank 2, got 2"), Error);
  CHECK_THROWS_WITH_AS(prim::reduce(Reduce::Sum, Tensor::zeros({2, 3}), {1, -1}, false),
                       doctest::Contains("sum: argument 'dims' must name each dim once"), Error);
  CHECK_THROWS_WITH_AS(prim::softmax(Tensor::zeros({2, 3}), -3, false),
                       doctest::Contains("softmax: argument 'dim' must be in [-2, 1]"), Error);
  CHECK_THROWS_WITH_AS(prim::argreduce(true, Tensor::zeros({2}), 1, false),
                       doctest::Contains("argmax: argument 'dim' must be in [-1, 0]"), Error);
  CHECK_THROWS_WITH_AS(prim::slice(Tensor::zeros({4}), 0, 0, 4, 0),
                       doctest::Contains("slice: argument 'step' must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(prim::concat({Tensor::zeros({2})}, 1),
                       doctest::Contains("concat: argument 'dim' must be in [-1, 0]"), Error);
  CHECK_THROWS_WITH_AS(prim::index_select(Tensor::zeros({2}), 3, i64({0}, {1})),
                       doctest::Contains("index_select: argument 'dim' must be in [-1, 0]"), Error);
}

TEST_CASE("primitives: index values out of range are named") {
  CHECK_THROWS_WITH_AS(prim::index_select(Tensor::zeros({3, 2}), 0, i64({0, 3}, {2})),
                       doctest::Contains("index_select: argument 'index' must hold values in [0, 3) "
                                         "(the size of dim 0 of 'x' f32[3, 2] on cpu), got 3 at flat index 1"),
                       Error);
  CHECK_THROWS_WITH_AS(prim::gather(Tensor::zeros({2, 3}), 1, i64({-1, 0}, {1, 2})),
                       doctest::Contains("gather: argument 'index' must hold values in [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(prim::scatter_add(Tensor::zeros({2, 3}), 0, i64({2}, {1, 1}), Tensor::zeros({1, 1})),
                       doctest::Contains("scatter_add: argument 'index' must hold values in [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(prim::index_add(Tensor::zeros({2}), 0, i64({5}, {1}), Tensor::zeros({1})),
                       doctest::Contains("index_add: argument 'index' must hold values in [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(prim::one_hot(i64({0, 4}, {2}), 4, DType::F32),
                       doctest::Contains("one_hot: argument 'index' must hold values in [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(prim::bincount(i64({1, -2}, {2}), 0),
                       doctest::Contains("bincount: argument 'index' must hold values >= 0, got -2"), Error);
  CHECK_THROWS_WITH_AS(prim::topk(Tensor::zeros({2, 3}), 4, 1, true),
                       doctest::Contains("topk: argument 'k' must be in [0, 3]"), Error);
}

TEST_CASE("primitives: empty reductions and undefined tensors are named") {
  CHECK_THROWS_WITH_AS(prim::reduce(Reduce::Max, Tensor::zeros({2, 0}), {1}, false),
                       doctest::Contains("max: argument 'x' (f32[2, 0] on cpu) has size 0 along reduced dim 1"), Error);
  CHECK_THROWS_WITH_AS(prim::reduce(Reduce::Min, Tensor::zeros({0}), {}, false),
                       doctest::Contains("min: argument 'x' (f32[0] on cpu) has size 0"), Error);
  CHECK_THROWS_WITH_AS(prim::argreduce(false, Tensor::zeros({3, 0}), 1, false),
                       doctest::Contains("argmin: argument 'x' (f32[3, 0] on cpu) has size 0 along dim 1"), Error);
  CHECK_THROWS_WITH_AS(prim::binary(Binary::Add, Tensor(), Tensor::zeros({1})),
                       doctest::Contains("add: argument 'a' is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(prim::unary(Unary::Celu, Tensor::zeros({1}), 0.0),
                       doctest::Contains("celu: argument 'p' (alpha) must be nonzero"), Error);
  CHECK_THROWS_WITH_AS(prim::clamp(Tensor::zeros({1}), 2, 1),
                       doctest::Contains("clamp: arguments 'lo' and 'hi' must satisfy lo <= hi"), Error);
}
