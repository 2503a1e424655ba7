// nn::BatchNorm and Module buffers: forward against a plain-loop f64 reference (PyTorch's formulas),
// running-statistics updates, eval mode, the train/eval switch, gradients of the training-mode
// function (first and second order), state dicts and checkpoints with buffers, and argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "engine/autograd/gradcheck.h"
#include "engine/io/checkpoint.h"
#include "engine/nn/batch_norm.h"
#include "engine/nn/linear.h"
#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"

using namespace brenier;

namespace {

std::vector<double> random_values(size_t n, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(shift, scale);
  std::vector<double> v(n);
  for (double& x : v) x = normal(rng);
  return v;
}

void check_close(const Tensor& t, const std::vector<double>& expected, double tol) {
  const std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i);
    CHECK(std::abs(got[i] - expected[i]) <= tol * (1 + std::abs(expected[i])));
  }
}

// Per-channel statistics of x [N, C, inner] (inner = product of the dims after C), plain loops.
struct ChannelStats {
  std::vector<double> mean, biased_var, unbiased_var;
};
ChannelStats channel_stats(const std::vector<double>& x, int64_t n, int64_t c, int64_t inner) {
  ChannelStats s{std::vector<double>(c, 0.0), std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  const double count = static_cast<double>(n * inner);
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) sum += x[(i * c + ch) * inner + k];
    const double mean = sum / count;
    double sq = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) sq += (x[(i * c + ch) * inner + k] - mean) * (x[(i * c + ch) * inner + k] - mean);
    s.mean[ch] = mean;
    s.biased_var[ch] = sq / count;
    s.unbiased_var[ch] = sq / (count - 1);
  }
  return s;
}

// y = (x - mean_c) / sqrt(var_c + eps) * w_c + b_c, plain loops.
std::vector<double> normalize(const std::vector<double>& x, int64_t n, int64_t c, int64_t inner,
                              const std::vector<double>& mean, const std::vector<double>& var,
                              const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) {
        const size_t at = static_cast<size_t>((i * c + ch) * inner + k);
        y[at] = (x[at] - mean[ch]) / std::sqrt(var[ch] + eps) * w[ch] + b[ch];
      }
  return y;
}

}  // namespace

TEST_CASE("batch_norm: training forward and running statistics match a plain-loop reference, [N, C] and [N, C, H, W]") {
  struct Case {
    Shape shape;
    int64_t inner;
  };
  for (const Case& k : {Case{{6, 4}, 1}, Case{{3, 4, 2, 5}, 10}, Case{{2, 4, 7}, 7}}) {
    CAPTURE(shape_str(k.shape));
    const int64_t n = k.shape[0], c = 4;
    nn::BatchNorm bn(c, 1e-5, 0.1, true, DType::F64);
    const std::vector<double> w = {1.5, -0.5, 2.0, 0.25}, b = {0.1, 0.2, -0.3, 1.0};
    bn.weight.data().copy_from(Tensor::from_vector(w));
    bn.bias.data().copy_from(Tensor::from_vector(b));

    std::vector<double> rm(c, 0.0), rv(c, 1.0);
    for (int step = 0; step < 2; ++step) {
      const std::vector<double> xv = random_values(static_cast<size_t>(numel(k.shape)), 100 + step, 2.0, 0.7);
      Var y = bn(Var(Tensor::from_vector(xv, k.shape)));
      const ChannelStats s = channel_stats(xv, n, c, k.inner);
      check_close(y.data(), normalize(xv, n, c, k.inner, s.mean, s.biased_var, w, b, 1e-5), 1e-12);
      for (int64_t ch = 0; ch < c; ++ch) {
        rm[ch] = 0.9 * rm[ch] + 0.1 * s.mean[ch];
        rv[ch] = 0.9 * rv[ch] + 0.1 * s.unbiased_var[ch];  // unbiased for the running estimate
      }
      check_close(bn.running_mean.data(), rm, 1e-12);
      check_close(bn.running_var.data(), rv, 1e-12);
      CHECK(bn.num_batches_tracked.data().item() == step + 1);
      CHECK(bn.num_batches_tracked.dtype() == DType::I64);
    }
  }
}

TEST_CASE("batch_norm: eval mode normalizes with the running statistics and leaves them unchanged") {
  nn::BatchNorm bn(3, 1e-3, 0.1, true, DType::F64);
  const std::vector<double> rm = {0.5, -1, 2}, rv = {4, 0.25, 1}, w = {2, 1, -1}, b = {0, 1, 0.5};
  bn.running_mean.data().copy_from(Tensor::from_vector(rm));
  bn.running_var.data().copy_from(Tensor::from_vector(rv));
  bn.weight.data().copy_from(Tensor::from_vector(w));
  bn.bias.data().copy_from(Tensor::from_vector(b));
  bn.train(false);
  CHECK_FALSE(bn.is_training());
  // A batch of one is fine in eval mode.
  const std::vector<double> xv = {1.5, 0, 3};
  Var y = bn(Var(Tensor::from_vector(xv, {1, 3})));
  // (1.5 - 0.5) / sqrt(4.001) * 2, (0 + 1) / sqrt(0.251) + 1, (3 - 2) / sqrt(1.001) * -1 + 0.5
  check_close(y.data(), {2 / std::sqrt(4.001), 1 / std::sqrt(0.251) + 1, -1 / std::sqrt(1.001) + 0.5}, 1e-14);
  check_close(bn.running_mean.data(), rm, 0);
  check_close(bn.running_var.data(), rv, 0);
  CHECK(bn.num_batches_tracked.data().item() == 0);

  // Eval-mode gradients flow to x, weight and bias (the statistics are constants).
  Var x(Tensor::from_vector(xv, {1, 3}), true);
  auto g = grad({sum(bn(x))}, {x, bn.weight, bn.bias});
  check_close(g[0].data(), {2 / std::sqrt(4.001), 1 / std::sqrt(0.251), -1 / std::sqrt(1.001)}, 1e-14);
  check_close(g[2].data(), {1, 1, 1}, 0);
}

TEST_CASE("batch_norm: momentum nullopt is the cumulative average; no affine means no parameters") {
  nn::BatchNorm bn(2, 1e-5, std::nullopt, false, DType::F64);
  CHECK(bn.parameters().empty());
  CHECK_FALSE(bn.weight.defined());
  std::vector<double> sum_mean(2, 0.0);
  for (int step = 0; step < 3; ++step) {
    const std::vector<double> xv = random_values(10, 7 + step, 1.0, step);
    bn(Var(Tensor::from_vector(xv, {5, 2})));
    const ChannelStats s = channel_stats(xv, 5, 2, 1);
    for (int ch = 0; ch < 2; ++ch) sum_mean[ch] += s.mean[ch];
  }
  check_close(bn.running_mean.data(), {sum_mean[0] / 3, sum_mean[1] / 3}, 1e-12);
}

TEST_CASE("batch_norm: the training-mode function passes first- and second-order gradchecks (f64)") {
  auto f = [](const std::vector<Var>& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true); };
  const std::vector<Tensor> inputs = {Tensor::from_vector(random_values(15, 3), {5, 3}),
                                      Tensor::from_vector(random_values(3, 4), {3}),
                                      Tensor::from_vector(random_values(3, 5), {3})};
  auto r1 = autograd::gradcheck(f, inputs);
  INFO(r1.report);
  CHECK(r1.ok);
  auto r2 = autograd::gradgradcheck(f, inputs, {.step = 1e-5, .atol = 1e-5, .rtol = 1e-4});
  INFO(r2.report);
  CHECK(r2.ok);

  // Through the module: the running-statistics update is not on the tape.
  nn::BatchNorm bn(3, 1e-5, 0.1, true, DType::F64);
  Var x(inputs[0], true);
  Var y = bn(x);
  CHECK(y.requires_grad());
  CHECK_FALSE(bn.running_mean.requires_grad());
  CHECK_FALSE(bn.running_var.requires_grad());
  // Σ_n y is Σ_n β (the normalized values sum to zero per channel): dx vanishes, dβ = N.
  auto g = grad({sum(y)}, {x, bn.bias});
  for (double v : g[0].data().to_vector<double>()) CHECK(std::abs(v) < 1e-12);
  check_close(g[1].data(), {5, 5, 5}, 1e-14);
}

namespace {
// A composite: BN as a child, so buffer names get a prefix and modes propagate.
struct Head : nn::Module {
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::BatchNorm> bn;
  explicit Head(uint64_t seed) {
    Generator gen(seed);
    fc = register_module("fc", std::make_shared<nn::Linear>(3, 4, true, gen, DType::F64));
    bn = register_module("bn", std::make_shared<nn::BatchNorm>(4, 1e-5, 0.1, true, DType::F64));
  }
  Var forward(const Var& x) const { return relu((*bn)(fc->forward(x))); }
};
}  // namespace

TEST_CASE("batch_norm: state_dict, load_state_dict and checkpoints carry the buffers; modes propagate") {
  Head a(1), b(2);
  const Var x(Tensor::from_vector(random_values(18, 9), {6, 3}));
  for (int i = 0; i < 3; ++i) a.forward(x);  // moves a's running statistics away from 0 / 1

  const nn::NamedTensors state = a.state_dict();
  std::vector<std::string> names;
  for (const auto& [name, t] : state) names.push_back(name);
  CHECK(names == std::vector<std::string>{"fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                          "bn.running_var", "bn.num_batches_tracked"});
  const auto buffers = a.named_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[0].first == "bn.running_mean");
  CHECK(a.parameters().size() == 4);  // buffers are not trainable
  CHECK_FALSE(state[4].second.shares_storage(a.bn->running_mean.data()));  // a snapshot

  a.train(false);
  CHECK_FALSE(a.bn->is_training());
  b.load_state_dict(state);
  b.train(false);
  check_close(b.bn->running_var.data(), a.bn->running_var.data().to_vector<double>(), 0);
  CHECK(b.bn->num_batches_tracked.data().item() == 3);
  check_close(b.forward(x).data(), a.forward(x).data().to_vector<double>(), 0);

  // Through a safetensors checkpoint (the i64 scalar counter included).
  const std::string path = (std::filesystem::temp_directory_path() / "brenier_test_batch_norm.safetensors").string();
  io::save_checkpoint(path, state);
  const io::Checkpoint ck = io::load_checkpoint(path);
  std::filesystem::remove(path);
  nn::NamedTensors loaded;
  for (const std::string& name : names) loaded.emplace_back(name, ck.tensors.at(name));
  Head c(3);
  c.load_state_dict(loaded);
  c.train(false);
  check_close(c.forward(x).data(), a.forward(x).data().to_vector<double>(), 0);

  // A float tensor for the i64 counter, or a missing buffer, is refused and names the entry.
  nn::NamedTensors bad = state;
  bad[6].second = Tensor::scalar(3.0, DType::F64);
  CHECK_THROWS_WITH_AS(c.load_state_dict(bad), doctest::Contains("'bn.num_batches_tracked' expects i64"), Error);
  nn::NamedTensors missing(state.begin(), state.end() - 2);
  CHECK_THROWS_WITH_AS(c.load_state_dict(missing),
                       doctest::Contains("missing entries [bn.running_var, bn.num_batches_tracked]"), Error);
}

TEST_CASE("batch_norm: Module::to converts floating buffers (the handle sees it), the counter stays i64") {
  nn::BatchNorm bn(2, 1e-5, 0.1, true, DType::F64);
  Var held = bn.running_var;
  bn.to(DType::F32);
  CHECK(held.dtype() == DType::F32);
  CHECK(bn.running_mean.dtype() == DType::F32);
  CHECK(bn.num_batches_tracked.dtype() == DType::I64);
  Var y = bn(Var(Tensor::from_vector<double>({1, 2, 3, 5}, {2, 2}).to(DType::F32)));
  CHECK(y.dtype() == DType::F32);
  check_close(bn.running_mean.data(), {0.2, 0.35}, 1e-6);  // 0.1 * [2, 3.5]
  CHECK_THROWS_WITH_AS(bn(Var(Tensor::ones({2, 2}, DType::F64))), doctest::Contains("must be f32 on cpu like the module"),
                       Error);
}

TEST_CASE("batch_norm: register_buffer refuses name clashes and bad tensors") {
  nn::BatchNorm bn(2);
  CHECK_THROWS_WITH_AS(bn.register_buffer("running_mean", Tensor::zeros({2})),
                       doctest::Contains("'running_mean' is already a buffer"), Error);
  CHECK_THROWS_WITH_AS(bn.register_buffer("weight", Tensor::zeros({2})),
                       doctest::Contains("'weight' is already a parameter"), Error);
  CHECK_THROWS_WITH_AS(bn.register_parameter("running_var", Var(Tensor::zeros({2}))),
                       doctest::Contains("'running_var' is already a buffer"), Error);
  CHECK_THROWS_WITH_AS(bn.register_buffer("undefined", Tensor()), doctest::Contains("undefined tensor"), Error);
}

TEST_CASE("batch_norm: clear errors for wrong rank, channels, a single value per channel in training, arguments") {
  nn::BatchNorm bn(3, 1e-5, 0.1, true, DType::F64);
  CHECK_THROWS_WITH_AS(bn(Var(Tensor::ones({3}, DType::F64))), doctest::Contains("must be [N, 3] or [N, 3, d...]"),
                       Error);
  CHECK_THROWS_WITH_AS(bn(Var(Tensor::ones({4, 2}, DType::F64))), doctest::Contains("got f64[4, 2]"), Error);
  CHECK_THROWS_WITH_AS(bn(Var(Tensor::ones({1, 3}, DType::F64))),
                       doctest::Contains("more than 1 value per channel in training mode"), Error);
  CHECK_THROWS_WITH_AS(bn(Var(Tensor::ones({1, 3, 1, 1}, DType::F64))),
                       doctest::Contains("more than 1 value per channel"), Error);
  bn(Var(Tensor::ones({1, 3, 2, 1}, DType::F64)));  // one sample, two values per channel: allowed (PyTorch too)
  CHECK_THROWS_WITH_AS(nn::BatchNorm(0), doctest::Contains("'num_features' must be > 0"), Error);
  CHECK_THROWS_WITH_AS(nn::BatchNorm(2, 0.0), doctest::Contains("'eps' must be > 0"), Error);
  CHECK_THROWS_WITH_AS(nn::BatchNorm(2, 1e-5, 1.5), doctest::Contains("'momentum' must be in [0, 1]"), Error);
  const Var x(Tensor::ones({4, 3}, DType::F64));
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), {}, {}, false),
                       doctest::Contains("required when training is false"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor::zeros({2}, DType::F64), Tensor::ones({2}, DType::F64)),
                       doctest::Contains("argument 'running_mean' must be f64 [3]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Var(Tensor::ones({3}, DType::F32))),
                       doctest::Contains("argument 'weight' must be f64 [3]"), Error);
}

TEST_CASE("batch_norm: the fused primitives match the op-by-op formula and its gradients (large, f64/f32, no affine)") {
  // Several channel blocks of 64 and more than one thread's worth of elements; [N, C] and [N, C, H, W].
  for (const Shape& shape : {Shape{300, 130}, Shape{6, 70, 5, 4}}) {
    const int64_t c = shape[1];
    Tensor x64 = Tensor::from_vector(random_values(static_cast<size_t>(numel(shape)), 3, 2.0, 0.5), shape);
    Tensor g64 = Tensor::from_vector(random_values(static_cast<size_t>(numel(shape)), 4), shape);
    Tensor w64 = Tensor::from_vector(random_values(static_cast<size_t>(c), 5), {c});
    Tensor b64 = Tensor::from_vector(random_values(static_cast<size_t>(c), 6), {c});
    const double eps = 1e-5;
    for (bool affine : {true, false}) {
      // Reference: the formula in f64 ops, gradients by autograd.
      Var x(x64, true), w(w64, true), b(b64, true);
      Shape cs(shape.size(), 1);
      cs[1] = c;
      Dims reduced{0};
      for (int64_t d = 2; d < static_cast<int64_t>(shape.size()); ++d) reduced.push_back(d);
      Var centered = x - mean(x, reduced, true);
      Var var = mean(square(centered), reduced, true);
      Var y = centered / sqrt(var + eps);
      if (affine) y = y * reshape(w, cs) + reshape(b, cs);
      std::vector<Var> want = grad({sum(y * Var(g64))}, affine ? std::vector<Var>{x, w, b} : std::vector<Var>{x});
      for (DType dt : {DType::F64, DType::F32}) {
        INFO(shape_str(shape), " ", dtype_name(dt), affine ? " affine" : " plain");
        const double tol = dt == DType::F64 ? 1e-10 : 2e-4;
        const Tensor wt = affine ? w64.to(dt) : Tensor(), bt = affine ? b64.to(dt) : Tensor();
        std::vector<Tensor> out = prim::batch_norm_train(x64.to(dt), wt, bt, eps);
        check_close(out[0], y.data().to_vector<double>(), tol);
        check_close(out[1], mean(x, reduced).data().to_vector<double>(), tol);
        check_close(out[2], reshape(var, {c}).data().to_vector<double>(), tol);
        std::vector<Tensor> d = prim::batch_norm_backward(g64.to(dt), x64.to(dt), out[1], out[2], wt, eps);
        check_close(d[0], want[0].data().to_vector<double>(), tol);
        check_close(d[2], sum(Var(g64), reduced).data().to_vector<double>(), tol);
        if (affine) {
          check_close(d[1], want[1].data().to_vector<double>(), tol);
          check_close(d[2], want[2].data().to_vector<double>(), tol);
        } else {
          CHECK_FALSE(d[1].defined());
        }
      }
    }
  }
  // Argument errors name the argument.
  Tensor x = Tensor::ones({4, 3});
  CHECK_THROWS_WITH_AS(prim::batch_norm_train(x, Tensor::ones({2}), Tensor(), 1e-5),
                       doctest::Contains("argument 'weight' must be f32 [3]"), Error);
  CHECK_THROWS_WITH_AS(prim::batch_norm_train(Tensor::ones({4}), Tensor(), Tensor(), 1e-5),
                       doctest::Contains("argument 'x' must be [N, C]"), Error);
  CHECK_THROWS_WITH_AS(prim::batch_norm_backward(Tensor::ones({4, 2}), x, Tensor::zeros({3}), Tensor::ones({3}),
                                                 Tensor(), 1e-5),
                       doctest::Contains("argument 'g' must have the shape and dtype of 'x'"), Error);
}
