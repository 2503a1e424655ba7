// The fused attention op against the same math composed of matmul and softmax: values and first-order
// gradients in f64 and f32 over shapes that split into several query tiles, one-row tiles, d = 1 heads
// (HOTET's reference embedding) and the threaded path; masked keys; NaN; bad arguments.
// (Finite-difference checks of first and second order are in the op table, op_cases.cpp.) Also the
// host kernel's vectorized e^x.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "engine/backend/cpu/attention_rows.h"
#include "engine/ops/ops.h"
#include "engine/random/generator.h"

using namespace brenier;

namespace {

struct AttentionInputs {
  Var q, k, v, bias;
};

AttentionInputs random_inputs(int64_t g, int64_t m, int64_t n, int64_t d, int64_t e, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return {Var(gen.normal({g, m, d}, 0, 1, dtype), true), Var(gen.normal({g, n, d}, 0, 1, dtype), true),
          Var(gen.normal({g, n, e}, 0, 1, dtype), true), Var(gen.normal({g, n}, 0, 1, dtype), true)};
}

Var composed(const AttentionInputs& in, double scale) {
  Var scores = matmul(in.q, in.k, false, true) * scale;
  if (in.bias.defined()) scores = scores + unsqueeze(in.bias, 1);
  return matmul(softmax(scores, -1), in.v);
}

// max |a − b| / (1 + max |b|): a relative error that ignores entries near 0.
double relative_error(const Var& a, const Var& b) {
  NoGradGuard no_grad;
  const Var wide_a(a.data().to(DType::F64)), wide_b(b.data().to(DType::F64));
  return max(abs(wide_a - wide_b)).item() / (1.0 + max(abs(wide_b)).item());
}

// Output and gradients of sum(out ∘ w) w.r.t. q, k, v, bias, for out computed by `f`.
std::vector<Var> value_and_grads(const AttentionInputs& in, const Var& out, const Var& w) {
  std::vector<Var> inputs{in.q, in.k, in.v};
  if (in.bias.defined()) inputs.push_back(in.bias);
  std::vector<Var> result = autograd::grad({sum(out * w)}, inputs);
  result.insert(result.begin(), out);
  return result;
}

}  // namespace

TEST_CASE("attention: the fused op equals softmax(q kᵀ scale + bias) v, values and gradients") {
  struct Case {
    int64_t g, m, n, d, e;
    bool bias;
  };
  // n = 1024: 32-row tiles, m = 70 leaves a 6-row tile; n = 40000 exceeds a tile (1-row tiles);
  // d = e = 1 with G = 16 is HOTET's reference embedding at D = 2 (threaded).
  // d = e = 1 takes the row-by-row path (narrow_attention_row), d = 1 < e the tiled one.
  const Case cases[] = {{3, 70, 1024, 4, 5, true}, {2, 3, 40000, 2, 3, true}, {16, 256, 256, 1, 1, true},
                        {1, 1, 1, 3, 2, true},     {4, 9, 17, 8, 8, false},   {3, 5, 700, 1, 1, false},
                        {2, 6, 9, 1, 3, true}};
  for (const Case& c : cases)
    for (DType dtype : {DType::F64, DType::F32}) {
      INFO("G ", c.g, " m ", c.m, " n ", c.n, " d ", c.d, " e ", c.e, " bias ", c.bias, " ", dtype_name(dtype));
      // The f64 composition is the reference for both dtypes.
      AttentionInputs in = random_inputs(c.g, c.m, c.n, c.d, c.e, dtype, 11);
      if (!c.bias) in.bias = Var();
      AttentionInputs ref{Var(in.q.data().to(DType::F64), true), Var(in.k.data().to(DType::F64), true),
                          Var(in.v.data().to(DType::F64), true),
                          c.bias ? Var(in.bias.data().to(DType::F64), true) : Var()};
      const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
      const Var w(Generator(5).normal({c.g, c.m, c.e}, 0, 1, dtype));
      const std::vector<Var> got = value_and_grads(in, attention(in.q, in.k, in.v, in.bias, scale), w);
      const std::vector<Var> want = value_and_grads(ref, composed(ref, scale), Var(w.data().to(DType::F64)));
      const double tol = dtype == DType::F64 ? 1e-11 : 2e-5;
      const char* names[] = {"out", "dq", "dk", "dv", "dbias"};
      for (size_t i = 0; i < want.size(); ++i) {
        INFO(names[i]);
        CHECK(got[i].dtype() == dtype);
        CHECK(got[i].shape() == want[i].shape());
        CHECK(relative_error(got[i], want[i]) < tol);
      }
    }
}

TEST_CASE("attention: a key with bias -1e30 or -inf (weight 0) is removed exactly; NaN is not hidden") {
  for (DType dtype : {DType::F64, DType::F32})
  for (int64_t width : {3, 1})  // tiled heads and width-1 heads (the row-by-row path)
  for (double mask : {-1e30, -std::numeric_limits<double>::infinity()}) {
    INFO(dtype_name(dtype), " width ", width, " mask ", mask);
    AttentionInputs in = random_inputs(2, 5, 6, width, width == 3 ? 2 : 1, dtype, 3);
    // Keys 0, 1 and 4 of set 0 masked: the result must equal attention over the other three keys.
    std::vector<double> b = in.bias.data().to(DType::F64).to_vector<double>();
    b[0] = b[1] = b[4] = mask;
    in.bias = Var(Tensor::from_vector(b, {2, 6}).to(dtype), true);
    const Var out = attention(in.q, in.k, in.v, in.bias, 0.5);
    const Tensor keep = Tensor::from_vector<int64_t>({2, 3, 5}, {3});
    AttentionInputs kept{slice(in.q, 0, 0, 1), index_select(slice(in.k, 0, 0, 1), 1, keep),
                         index_select(slice(in.v, 0, 0, 1), 1, keep), index_select(slice(in.bias, 0, 0, 1), 1, keep)};
    CHECK(relative_error(slice(out, 0, 0, 1), attention(kept.q, kept.k, kept.v, kept.bias, 0.5)) <
          (dtype == DType::F64 ? 1e-14 : 1e-6));
    // The masked keys get exactly zero gradient.
    const std::vector<Var> g = autograd::grad({sum(square(out))}, {in.k, in.v, in.bias});
    for (const Var& t : g)
      for (int64_t key : {0, 1, 4}) CHECK(max(abs(slice(slice(t, 0, 0, 1), 1, key, key + 1))).item() == 0.0);
    // A NaN query turns its own row NaN and leaves the others finite.
    std::vector<double> qv = in.q.data().to(DType::F64).to_vector<double>();
    qv[3 * width] = NAN;  // set 0, query 3
    const Var q_nan(Tensor::from_vector(qv, {2, 5, width}).to(dtype));
    const Tensor nan_out = attention(q_nan, in.k, in.v, in.bias, 0.5).data().to(DType::F64);
    CHECK(std::isnan(nan_out.at({0, 3, 0})));
    CHECK(std::isfinite(nan_out.at({0, 2, 0})));
    CHECK(std::isfinite(nan_out.at({1, 3, 0})));
  }
}

TEST_CASE("attention: bad arguments are named") {
  const AttentionInputs in = random_inputs(2, 4, 5, 3, 2, DType::F64, 1);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message([&] { attention(in.q, in.v, in.v, in.bias, 1.0); }).find("argument 'k'") != std::string::npos);
  CHECK(message([&] { attention(in.q, in.k, in.q, in.bias, 1.0); }).find("argument 'v'") != std::string::npos);
  CHECK(message([&] { attention(in.q, in.k, in.v, slice(in.bias, 1, 0, 4), 1.0); }).find("argument 'key_bias'") !=
        std::string::npos);
  CHECK(message([&] { attention(in.q, Var(in.k.data().to(DType::F32)), in.v, in.bias, 1.0); }).find("'k'") !=
        std::string::npos);
  CHECK(message([&] { attention(in.q, in.k, in.v, in.bias, INFINITY); }).find("argument 'scale'") !=
        std::string::npos);
  CHECK(message([&] { attention(reshape(in.q, {8, 3}), in.k, in.v, in.bias, 1.0); }).find("argument 'q'") !=
        std::string::npos);
}

TEST_CASE("attention: the host kernel's vectorized e^x is within 1.5 ulp on [-87, 0], 0 below, NaN kept") {
  std::vector<float> x;
  for (double v = 0; v >= -87.0; v -= 0.00037) x.push_back(static_cast<float>(v));
  x.push_back(-0.0f);
  const size_t grid = x.size();
  for (float v : {-87.0001f, -100.0f, -1e30f, -INFINITY, NAN}) x.push_back(v);
  std::vector<float> y = x;
  cpu::exp_nonpositive(y.data(), static_cast<int64_t>(y.size()));
  double worst = 0;
  for (size_t i = 0; i < grid; ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    worst = std::max(worst, std::abs(y[i] - want) / want);
  }
  CHECK(worst <= 1.5 * 0x1p-23);
  CHECK(y[0] == 1.0f);
  for (size_t i = grid; i + 1 < x.size(); ++i) CHECK(y[i] == 0.0f);
  CHECK(std::isnan(y.back()));
}
