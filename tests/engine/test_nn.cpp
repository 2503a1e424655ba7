// nn: functional layers, Module bookkeeping, state dicts, initializers and the standard modules.
// References are hand-computed numbers or plain loops over the raw values, never the code under test.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/nn/embedding.h"
#include "engine/nn/functional.h"
#include "engine/nn/init.h"
#include "engine/nn/layer_norm.h"
#include "engine/nn/linear.h"
#include "engine/nn/mlp.h"
#include "engine/nn/module.h"

using namespace brenier;

namespace {

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tol).scale(1.0));
  }
}

Var f64(const std::vector<double>& values, const Shape& shape, bool requires_grad = false) {
  return Var(Tensor::from_vector(values, shape), requires_grad);
}

struct Moments {
  double mean, std, min, max;
};
Moments moments(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  double s = 0, s2 = 0, lo = v[0], hi = v[0];
  for (double x : v) {
    s += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  double mean = s / static_cast<double>(v.size());
  for (double x : v) s2 += (x - mean) * (x - mean);
  return {mean, std::sqrt(s2 / static_cast<double>(v.size())), lo, hi};
}

// The product A Bᵀ of row-major [n, k] and [m, k] matrices, by plain loops.
std::vector<double> a_bt(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t m,
                         int64_t k) {
  std::vector<double> c(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t l = 0; l < k; ++l) c[i * m + j] += a[i * k + l] * b[j * k + l];
  return c;
}

}  // namespace

TEST_CASE("nn: functional linear equals a hand-computed product") {
  // W [out=2, in=3], x [2, 3]:  y[i][o] = sum_k x[i][k] W[o][k] + b[o]
  Var w = f64({1, 2, 3, -1, 0, 2}, {2, 3});
  Var b = f64({0.5, -1}, {2});
  Var x = f64({1, 1, 1, 2, -1, 0.5}, {2, 3});
  // row 0: 1+2+3 = 6, -1+0+2 = 1; row 1: 2-2+1.5 = 1.5, -2+0+1 = -1
  check_close(nn::linear(x, w, b).data(), {6.5, 0, 2, -2});
  check_close(nn::linear(x, w).data(), {6, 1, 1.5, -1});
  CHECK(nn::linear(x, w).shape() == Shape{2, 2});

  // 1-D, 3-D and 4-D inputs keep their leading dims.
  check_close(nn::linear(f64({2, -1, 0.5}, {3}), w, b).data(), {2, -2});  // [1.5 + 0.5, -1 - 1]
  Var x3 = f64({1, 1, 1, 2, -1, 0.5, 1, 1, 1, 2, -1, 0.5}, {2, 2, 3});
  CHECK(nn::linear(x3, w, b).shape() == Shape{2, 2, 2});
  check_close(nn::linear(x3, w, b).data(), {6.5, 0, 2, -2, 6.5, 0, 2, -2});
  Var x4 = Var(x3.data().reshape({2, 1, 2, 3}));
  CHECK(nn::linear(x4, w, b).shape() == Shape{2, 1, 2, 2});
  check_close(nn::linear(x4, w, b).data(), {6.5, 0, 2, -2, 6.5, 0, 2, -2});
}

TEST_CASE("nn: functional linear with batched weights") {
  // Two distributions, each with its own W [2, 3] and b [2]; x [B=2, n=2, 3].
  std::vector<double> w0 = {1, 2, 3, -1, 0, 2}, w1 = {0.5, 0, -1, 2, 1, 1};
  std::vector<double> x0 = {1, 1, 1, 2, -1, 0.5}, x1 = {0, 1, 2, -1, -1, 3};
  std::vector<double> wv = w0, xv = x0;
  wv.insert(wv.end(), w1.begin(), w1.end());
  xv.insert(xv.end(), x1.begin(), x1.end());
  Var w = f64(wv, {2, 2, 3});
  Var b = f64({1, 2, 3, 4}, {2, 2});
  Var x = f64(xv, {2, 2, 3});
  std::vector<double> y0 = a_bt(x0, w0, 2, 2, 3), y1 = a_bt(x1, w1, 2, 2, 3);
  std::vector<double> expected = {y0[0] + 1, y0[1] + 2, y0[2] + 1, y0[3] + 2,
                                  y1[0] + 3, y1[1] + 4, y1[2] + 3, y1[3] + 4};
  Var y = nn::linear(x, w, b);
  CHECK(y.shape() == Shape{2, 2, 2});
  check_close(y.data(), expected);

  // A shared bias [out], and a 2-D x shared by every distribution.
  Var shared_bias = f64({1, 2}, {2});
  check_close(nn::linear(x, w, shared_bias).data(),
              {y0[0] + 1, y0[1] + 2, y0[2] + 1, y0[3] + 2, y1[0] + 1, y1[1] + 2, y1[2] + 1, y1[3] + 2});
  std::vector<double> z1 = a_bt(x0, w1, 2, 2, 3);
  Var xs = f64(x0, {2, 3});
  CHECK(nn::linear(xs, w).shape() == Shape{2, 2, 2});
  check_close(nn::linear(xs, w).data(), {y0[0], y0[1], y0[2], y0[3], z1[0], z1[1], z1[2], z1[3]});

  CHECK_THROWS_AS(nn::linear(f64(xv, {1, 4, 3}), w), Error);        // batch 1 != 2
  CHECK_THROWS_AS(nn::linear(x, w, f64({1, 2, 3}, {3})), Error);    // bias of the wrong size
}

TEST_CASE("nn: functional linear differentiates into weight and bias") {
  Var w = f64({1, 2, 3, -1, 0, 2}, {2, 3}, true);
  Var b = f64({0.5, -1}, {2}, true);
  Var x = f64({1, 1, 1, 2, -1, 0.5}, {2, 3});
  sum(nn::linear(x, w, b)).backward();
  // d/dW[o][k] sum_i,o y = sum_i x[i][k]; d/db[o] = number of rows
  check_close(w.grad(), {3, 0, 1.5, 3, 0, 1.5});
  check_close(b.grad(), {2, 2});
}

TEST_CASE("nn: linear rejects bad arguments with clear errors") {
  Var w(Tensor::zeros({32, 16}));
  Var x(Tensor::zeros({8, 12}));
  CHECK_THROWS_WITH_AS(nn::linear(x, w),
                       "linear: argument 'x' must have last dim 16 (weight is [32, 16]), got f32[8, 12] on cpu",
                       Error);
  CHECK_THROWS_WITH_AS(nn::linear(Var(Tensor::zeros({8, 16})), Var(Tensor::zeros({16}))),
                       doctest::Contains("argument 'weight'"), Error);
  CHECK_THROWS_WITH_AS(nn::linear(Var(Tensor::zeros({8, 16}, DType::F64)), w),
                       doctest::Contains("dtype"), Error);
  nn::Linear layer(16, 32);
  CHECK_THROWS_WITH_AS(layer(x), doctest::Contains("must have last dim 16"), Error);
  CHECK_THROWS_AS(nn::Linear(0, 3), Error);
}

TEST_CASE("nn: functional mlp applies the activation between layers only") {
  Var w1 = f64({1, -1, -1, 1}, {2, 2});
  Var b1 = f64({0, 0.5}, {2});
  Var w2 = f64({2, 3}, {1, 2});
  Var b2 = f64({-10}, {1});
  Var x = f64({3, 1}, {1, 2});
  // h = relu([3-1, -3+1+0.5]) = relu([2, -1.5]) = [2, 0]; y = 2*2 + 3*0 - 10 = -6
  auto relu_act = nn::activation("relu");
  check_close(nn::mlp(x, {w1, w2}, {b1, b2}, relu_act).data(), {-6});
  check_close(nn::mlp(x, {w1, w2}, {b1, b2}, relu_act, /*activate_last=*/true).data(), {0});
  // Without biases: h = relu([2, -2]) = [2, 0], y = 4.
  check_close(nn::mlp(x, {w1, w2}, {}, relu_act).data(), {4});
  check_close(nn::mlp(x, {w1, w2}, {b1, b2}, nn::activation("identity")).data(), {2 * 2 + 3 * -1.5 - 10});
  CHECK_THROWS_AS(nn::mlp(x, {w1, w2}, {b1}, relu_act), Error);
  CHECK_THROWS_WITH_AS(nn::activation("swish"), doctest::Contains("'swish'"), Error);
}

namespace {

// A module with a parameter of its own and nested children, for name/order tests.
struct Net : nn::Module {
  Var scale;
  std::shared_ptr<nn::MLP> encoder;
  std::shared_ptr<nn::Linear> head;
  explicit Net(uint64_t seed) {
    Generator gen(seed);
    scale = register_parameter("scale", Var(Tensor::ones({1}, DType::F64)));
    encoder = register_module("encoder", std::make_shared<nn::MLP>(std::vector<int64_t>{3, 4, 2},
                                                                    nn::activation("tanh"), false, true, gen,
                                                                    DType::F64));
    head = register_module("head", std::make_shared<nn::Linear>(2, 1, true, gen, DType::F64));
  }
  Var forward(const Var& x) const { return (*head)((*encoder)(x)) * scale; }
};

std::vector<std::string> names_of(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters()) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("nn: module parameter names are nested and in registration order") {
  Net net(1);
  CHECK(names_of(net) == std::vector<std::string>{"scale", "encoder.layers.0.weight", "encoder.layers.0.bias",
                                                   "encoder.layers.1.weight", "encoder.layers.1.bias",
                                                   "head.weight", "head.bias"});
  CHECK(net.num_parameters() == 1 + (4 * 3 + 4) + (2 * 4 + 2) + (1 * 2 + 1));
  auto params = net.parameters();
  REQUIRE(params.size() == 7);
  CHECK(params[0].impl() == net.scale.impl());
  CHECK(params[5].impl() == net.head->weight.impl());
  for (const Var& p : params) {
    CHECK(p.is_leaf());
    CHECK(p.requires_grad());
  }
  CHECK(net.encoder->layer(1).weight.shape() == Shape{2, 4});

  // Registration rules.
  CHECK_THROWS_WITH_AS(net.register_parameter("scale", Var(Tensor::ones({1}))), doctest::Contains("already"), Error);
  CHECK_THROWS_WITH_AS(net.register_parameter("a.b", Var(Tensor::ones({1}))), doctest::Contains("'.'"), Error);
  CHECK_THROWS_AS(net.register_module("head", std::make_shared<nn::Linear>(1, 1)), Error);
  CHECK_THROWS_AS(net.register_parameter("idx", Var(Tensor::arange(3))), Error);

  // An op's output becomes a fresh leaf.
  Var leaf(Tensor::ones({2}), true);
  Var derived = leaf * 2.0;
  Var p = net.register_parameter("derived", derived);
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
  check_close(p.data(), {2, 2});

  // A child shared by two parents is listed once.
  nn::Module outer;
  auto shared = std::make_shared<nn::Linear>(2, 2);
  outer.register_module("a", shared);
  outer.register_module("b", shared);
  CHECK(names_of(outer) == std::vector<std::string>{"a.weight", "a.bias"});
}

TEST_CASE("nn: zero_grad, train mode and dtype conversion") {
  Net net(2);
  Var x(Tensor::ones({5, 3}, DType::F64));
  sum(net.forward(x)).backward();
  for (const Var& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const Var& p : net.parameters()) CHECK_FALSE(p.grad().defined());

  CHECK(net.is_training());
  net.train(false);
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.encoder->is_training());
  CHECK_FALSE(net.encoder->children()[0].second->is_training());
  net.train();
  CHECK(net.head->is_training());

  Tensor before = net.head->weight.data().clone();
  Var held = net.head->weight;  // a handle taken before the conversion sees it too
  net.to(DType::F32);
  for (const Var& p : net.parameters()) CHECK(p.dtype() == DType::F32);
  CHECK(held.dtype() == DType::F32);
  check_close(held.data(), before.to_vector<double>(), 1e-6);
  CHECK(net.forward(Var(Tensor::ones({5, 3}))).dtype() == DType::F32);
}

TEST_CASE("nn: state_dict round trip") {
  Net a(10), b(20);
  Var x(Tensor::from_vector<double>({0.1, -0.2, 0.3, 1, 2, -3}, {2, 3}));
  auto ya = a.forward(x).data().to_vector<double>();
  CHECK(b.forward(x).data().to_vector<double>() != ya);

  nn::NamedTensors state = a.state_dict();
  REQUIRE(state.size() == 7);
  CHECK(state[1].first == "encoder.layers.0.weight");
  CHECK_FALSE(state[1].second.shares_storage(a.encoder->layer(0).weight.data()));  // a snapshot

  Var held = b.head->weight;
  b.load_state_dict(state);
  check_close(b.forward(x).data(), ya, 1e-12);
  CHECK(held.data().shares_storage(b.head->weight.data()));  // loaded in place

  // Later training of `a` does not change the snapshot, and f32 state loads into f64 modules.
  a.head->weight.data().fill_(0.0);
  CHECK(state[5].second.to_vector<double>() != std::vector<double>{0, 0});
  nn::NamedTensors as_f32;
  for (auto& [name, t] : state) as_f32.emplace_back(name, t.to(DType::F32));
  Net c(30);
  c.load_state_dict(as_f32);
  CHECK(c.head->weight.dtype() == DType::F64);
  check_close(c.forward(x).data(), ya, 1e-5);
}

TEST_CASE("nn: load_state_dict is strict and names every mismatch") {
  Net net(3);
  nn::NamedTensors good = net.state_dict();
  Net other(4);
  const auto before = other.state_dict();

  nn::NamedTensors missing(good.begin(), good.end() - 1);  // drops head.bias
  CHECK_THROWS_WITH_AS(other.load_state_dict(missing), doctest::Contains("missing entries [head.bias]"), Error);

  nn::NamedTensors extra = good;
  extra.emplace_back("head.scale", Tensor::ones({1}));
  CHECK_THROWS_WITH_AS(other.load_state_dict(extra), doctest::Contains("unexpected entries [head.scale]"), Error);

  nn::NamedTensors wrong = good;
  wrong[5].second = Tensor::zeros({2, 1}, DType::F64);  // head.weight is [1, 2]
  CHECK_THROWS_WITH_AS(other.load_state_dict(wrong),
                       doctest::Contains("'head.weight' expects f64 [1, 2], got f64[2, 1] on cpu"), Error);

  // All problems at once; nothing was loaded by any failed attempt.
  nn::NamedTensors all_bad(good.begin() + 1, good.end());
  all_bad[0].second = Tensor::zeros({3}, DType::F64);
  all_bad.emplace_back("junk", Tensor::ones({1}));
  try {
    other.load_state_dict(all_bad);
    FAIL("load_state_dict accepted a bad state");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("missing entries [scale]") != std::string::npos);
    CHECK(msg.find("unexpected entries [junk]") != std::string::npos);
    CHECK(msg.find("'encoder.layers.0.weight' expects f64 [4, 3]") != std::string::npos);
  }
  const auto after = other.state_dict();
  for (size_t i = 0; i < before.size(); ++i)
    CHECK(after[i].second.to_vector<double>() == before[i].second.to_vector<double>());
}

TEST_CASE("nn: init fans and gains") {
  CHECK(nn::init::fans(Tensor::zeros({32, 16})).fan_in == 16);
  CHECK(nn::init::fans(Tensor::zeros({32, 16})).fan_out == 32);
  CHECK(nn::init::fans(Tensor::zeros({8, 4, 3, 3})).fan_in == 36);
  CHECK(nn::init::fans(Tensor::zeros({8, 4, 3, 3})).fan_out == 72);
  CHECK_THROWS_AS(nn::init::fans(Tensor::zeros({5})), Error);
  using nn::init::Nonlinearity;
  CHECK(nn::init::calculate_gain(Nonlinearity::Relu) == doctest::Approx(1.4142135623730951));
  CHECK(nn::init::calculate_gain(Nonlinearity::Tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(nn::init::calculate_gain(Nonlinearity::LeakyRelu, std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK(nn::init::calculate_gain(Nonlinearity::Linear) == 1.0);
}

TEST_CASE("nn: init statistics") {
  Generator gen(7);
  using nn::init::FanMode;
  using nn::init::Nonlinearity;
  Tensor w = Tensor::empty({400, 500}, DType::F64);  // 200k samples: the std estimate is within ~0.2%

  // kaiming_normal_, relu, fan_in = 500: std = sqrt(2 / 500) = 0.0632456
  nn::init::kaiming_normal_(w, gen, 0.0, FanMode::FanIn, Nonlinearity::Relu);
  Moments m = moments(w);
  CHECK(std::abs(m.mean) < 0.01 * 0.0632456);
  CHECK(m.std == doctest::Approx(0.0632456).epsilon(0.01));
  // fan_out = 400: std = sqrt(2 / 400)
  nn::init::kaiming_normal_(w, gen, 0.0, FanMode::FanOut, Nonlinearity::Relu);
  CHECK(moments(w).std == doctest::Approx(std::sqrt(2.0 / 400)).epsilon(0.01));

  // kaiming_uniform_, default leaky relu a = 0 (gain sqrt 2): bound = sqrt(3) sqrt(2 / 500) = 0.1095445
  nn::init::kaiming_uniform_(w, gen);
  m = moments(w);
  CHECK(m.max <= 0.1095445);
  CHECK(m.min >= -0.1095445);
  CHECK(m.max > 0.999 * 0.1095445);
  CHECK(m.min < -0.999 * 0.1095445);
  CHECK(m.std == doctest::Approx(0.1095445 / std::sqrt(3.0)).epsilon(0.01));

  // xavier_uniform_ with gain 2: bound = 2 sqrt(6 / 900) = 0.1632993
  nn::init::xavier_uniform_(w, gen, 2.0);
  m = moments(w);
  CHECK(m.max <= 0.1632993);
  CHECK(m.min >= -0.1632993);
  CHECK(m.max > 0.999 * 0.1632993);
  CHECK(m.min < -0.999 * 0.1632993);
  // xavier_normal_: std = sqrt(2 / 900)
  nn::init::xavier_normal_(w, gen);
  CHECK(moments(w).std == doctest::Approx(std::sqrt(2.0 / 900)).epsilon(0.01));

  nn::init::normal_(w, gen, 3.0, 0.5);
  m = moments(w);
  CHECK(m.mean == doctest::Approx(3.0).epsilon(0.002));
  CHECK(m.std == doctest::Approx(0.5).epsilon(0.01));
  nn::init::uniform_(w, gen, -1.0, 3.0);
  m = moments(w);
  CHECK(m.min >= -1.0);
  CHECK(m.max < 3.0);
  CHECK(m.mean == doctest::Approx(1.0).epsilon(0.01));

  // Same seed, same values; fills are in place (a Var sharing the storage sees them).
  Var v(Tensor::empty({4, 5}));
  Tensor alias = v.data();
  Generator g1(99), g2(99);
  nn::init::normal_(v, g1);
  Tensor again = Tensor::empty({4, 5});
  nn::init::normal_(again, g2);
  CHECK(alias.to_vector<float>() == again.to_vector<float>());

  nn::init::constant_(v, 2.5);
  check_close(alias, std::vector<double>(20, 2.5));
  nn::init::zeros_(v);
  check_close(alias, std::vector<double>(20, 0.0));
  nn::init::ones_(alias);
  check_close(v.data(), std::vector<double>(20, 1.0));

  Tensor idx = Tensor::arange(4);
  CHECK_THROWS_AS(nn::init::normal_(idx, gen), Error);
  CHECK_THROWS_AS(nn::init::normal_(w, gen, 0.0, -1.0), Error);
  CHECK_THROWS_AS(nn::init::uniform_(w, gen, 1.0, 0.0), Error);
  Tensor vec = Tensor::empty({5});
  CHECK_THROWS_WITH_AS(nn::init::kaiming_uniform_(vec, gen), doctest::Contains("at least 2 dims"), Error);
}

TEST_CASE("nn: Linear default init is U(-1/sqrt(in), 1/sqrt(in))") {
  Generator gen(5);
  nn::Linear layer(64, 2000, true, gen);
  const double bound = 1.0 / 8.0;
  Moments w = moments(layer.weight.data()), b = moments(layer.bias.data());
  CHECK(w.max <= bound);
  CHECK(w.min >= -bound);
  CHECK(w.max > 0.99 * bound);
  CHECK(w.std == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  CHECK(b.max <= bound);
  CHECK(b.min >= -bound);
  CHECK(b.max > 0.9 * bound);
  CHECK(layer.in_features() == 64);
  CHECK(layer.out_features() == 2000);
  nn::Linear no_bias(3, 2, false);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.num_parameters() == 6);
}

namespace {

// max |M Mᵀ - gain² I| for a row-major [rows, cols] matrix (rows orthonormal when it is 0).
double row_orthonormality_error(const std::vector<double>& m, int64_t rows, int64_t cols, double gain = 1.0) {
  std::vector<double> g = a_bt(m, m, rows, rows, cols);
  double err = 0;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < rows; ++j) err = std::max(err, std::abs(g[i * rows + j] - (i == j ? gain * gain : 0.0)));
  return err;
}

std::vector<double> transposed(const std::vector<double>& m, int64_t rows, int64_t cols) {
  std::vector<double> t(m.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t[j * rows + i] = m[i * cols + j];
  return t;
}

}  // namespace

TEST_CASE("nn: orthogonal_ gives orthonormal rows (wide) or columns (tall)") {
  Generator gen(11);
  Tensor wide = Tensor::empty({5, 12}, DType::F64);
  nn::init::orthogonal_(wide, gen);
  CHECK(row_orthonormality_error(wide.to_vector<double>(), 5, 12) < 1e-5);  // W Wᵀ = I

  Tensor tall = Tensor::empty({12, 5}, DType::F64);
  nn::init::orthogonal_(tall, gen);
  CHECK(row_orthonormality_error(transposed(tall.to_vector<double>(), 12, 5), 5, 12) < 1e-5);  // Wᵀ W = I

  Tensor square = Tensor::empty({40, 40}, DType::F64);
  nn::init::orthogonal_(square, gen, 2.0);
  CHECK(row_orthonormality_error(square.to_vector<double>(), 40, 40, 2.0) < 1e-5);

  // [4, 2, 3] is viewed as [4, 6]: orthonormal rows.
  Tensor conv = Tensor::empty({4, 2, 3}, DType::F64);
  nn::init::orthogonal_(conv, gen);
  CHECK(row_orthonormality_error(conv.to_vector<double>(), 4, 6) < 1e-5);

  // f32 to f32 rounding.
  Tensor f = Tensor::empty({6, 9});
  nn::init::orthogonal_(f, gen);
  CHECK(row_orthonormality_error(f.to_vector<double>(), 6, 9) < 1e-5);

  // Sign correction: Q is the QR factor of the drawn normal matrix A with diag(R) > 0, i.e.
  // R = Qᵀ A is upper triangular with a positive diagonal. Redraw A from the same stream.
  Generator g1(21), g2(21);
  Tensor q = Tensor::empty({7, 4}, DType::F64);
  nn::init::orthogonal_(q, g1);
  std::vector<double> a = g2.normal({7, 4}, 0.0, 1.0, DType::F64).to_vector<double>();
  std::vector<double> qt = transposed(q.to_vector<double>(), 7, 4), at = transposed(a, 7, 4);
  std::vector<double> r = a_bt(qt, at, 4, 4, 7);  // R[i][j] = q_i · a_j
  for (int64_t i = 0; i < 4; ++i) {
    CHECK(r[i * 4 + i] > 0);
    for (int64_t j = 0; j < i; ++j) CHECK(std::abs(r[i * 4 + j]) < 1e-10);
  }
  Tensor one_dim = Tensor::empty({5});
  CHECK_THROWS_AS(nn::init::orthogonal_(one_dim, gen), Error);
}

TEST_CASE("nn: Embedding looks up rows for indices of any shape") {
  Generator gen(3);
  nn::Embedding emb(3, 2, gen, DType::F64);
  CHECK(emb.weight.shape() == Shape{3, 2});
  emb.weight.data().copy_from(Tensor::from_vector<double>({10, 11, 20, 21, 30, 31}, {3, 2}));
  Tensor idx = Tensor::from_vector<int64_t>({2, 0, 1, 2}, {2, 2});
  Var y = emb(idx);
  CHECK(y.shape() == Shape{2, 2, 2});
  check_close(y.data(), {30, 31, 10, 11, 20, 21, 30, 31});
  CHECK(emb(Tensor::from_vector<int64_t>({1})).shape() == Shape{1, 2});

  sum(y).backward();
  check_close(emb.weight.grad(), {1, 1, 1, 1, 2, 2});  // row 2 was used twice

  CHECK_THROWS_WITH_AS(emb(Tensor::from_vector<int64_t>({0, 3})), doctest::Contains("[0, 3)"), Error);
  CHECK_THROWS_WITH_AS(emb(Tensor::from_vector<int64_t>({-1})), doctest::Contains("[0, 3)"), Error);
  CHECK_THROWS_WITH_AS(emb(Tensor::from_vector<float>({0})), doctest::Contains("must be i64"), Error);

  // Default init is N(0, 1).
  Generator g(4);
  nn::Embedding big(1000, 100, g, DType::F64);
  Moments m = moments(big.weight.data());
  CHECK(std::abs(m.mean) < 0.02);
  CHECK(m.std == doctest::Approx(1.0).epsilon(0.02));
}

TEST_CASE("nn: LayerNorm output has zero mean and unit variance per row") {
  Generator gen(8);
  const int64_t rows = 4, cols = 16;
  Tensor x = gen.normal({rows, cols}, 3.0, 2.0, DType::F64);
  nn::LayerNorm ln(cols, 1e-5, true, DType::F64);
  CHECK(ln.named_parameters().size() == 2);
  check_close(ln.weight.data(), std::vector<double>(cols, 1.0));
  check_close(ln.bias.data(), std::vector<double>(cols, 0.0));

  auto row_stats = [&](const Tensor& y, int64_t r) {
    std::vector<double> v = y.to_vector<double>();
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += v[r * cols + c] / cols;
    for (int64_t c = 0; c < cols; ++c) var += (v[r * cols + c] - mean) * (v[r * cols + c] - mean) / cols;
    return std::pair{mean, var};
  };
  Tensor y = ln(Var(x)).data();
  for (int64_t r = 0; r < rows; ++r) {
    auto [mean, var] = row_stats(y, r);
    CHECK(std::abs(mean) < 1e-10);
    CHECK(var == doctest::Approx(1.0).epsilon(1e-4));  // eps = 1e-5 against a variance near 4
  }
  // The affine part: weight 2, bias 1 gives mean 1 and variance 4.
  ln.weight.data().fill_(2.0);
  ln.bias.data().fill_(1.0);
  Tensor z = ln(Var(x)).data();
  for (int64_t r = 0; r < rows; ++r) {
    auto [mean, var] = row_stats(z, r);
    CHECK(mean == doctest::Approx(1.0));
    CHECK(var == doctest::Approx(4.0).epsilon(1e-4));
  }
  CHECK_THROWS_WITH_AS(ln(Var(Tensor::zeros({2, 8}, DType::F64))), doctest::Contains("must have last dim 16"), Error);
  CHECK(nn::LayerNorm(4, 1e-5, false).num_parameters() == 0);
}

TEST_CASE("nn: MLP forward equals the layers applied by hand") {
  Generator gen(12);
  nn::MLP net({3, 4, 2}, nn::activation("relu"), false, true, gen, DType::F64);
  CHECK(net.num_layers() == 2);
  std::vector<double> xv = {0.5, -1, 2, 1, 1, -1};
  Var x = f64(xv, {2, 3});
  auto w0 = net.layer(0).weight.data().to_vector<double>(), b0 = net.layer(0).bias.data().to_vector<double>();
  auto w1 = net.layer(1).weight.data().to_vector<double>(), b1 = net.layer(1).bias.data().to_vector<double>();
  std::vector<double> h = a_bt(xv, w0, 2, 4, 3);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j) h[i * 4 + j] = std::max(0.0, h[i * 4 + j] + b0[j]);
  std::vector<double> y = a_bt(h, w1, 2, 2, 4);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j) y[i * 2 + j] += b1[j];
  check_close(net(x).data(), y, 1e-12);
  CHECK_THROWS_AS(nn::MLP({3}), Error);
}
