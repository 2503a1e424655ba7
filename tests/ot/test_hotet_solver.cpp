// HotetSolver (spec §1): the batched MM-B loss against ot/solvers/mmb.h's single-distribution
// objective, a short Gaussian-mixture prediction run (§1.7) at D = 2 scored on unseen test
// distributions against the component-wise Bures ground truth, MMv2 steps, checkpoint round trip and
// mismatch errors, divergence handling (the state survives), and bad arguments.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "ot/metrics/l2_uvp.h"
#include "ot/samplers/gaussian_mixture.h"
#include "ot/layers/flattened_set_encoder.h"
#include "ot/solvers/hotet.h"
#include "ot/solvers/mmb.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A small, fast model: 2 transformer blocks, ICNN [32, 32], hypernet [16, 16].
HotetSolverConfig small_config(HotetMethod method = HotetMethod::MMB) {
  HotetSolverConfig c;
  c.method = method;
  c.dim = 2;
  c.icnn_hidden = {32, 32};
  c.hyper_hidden = {16, 16};
  c.embedding.num_layers = 2;
  c.embedding.model_dim = 8;
  c.embedding.num_heads = 2;
  c.embedding.feedforward = 16;
  c.inner_iters = 2;
  c.seed = 3;
  return c;
}

// B point sets [B, n, D] drawn from `mixtures[index[b]]` (and their labels, concatenated).
struct Sets {
  Tensor points;                    // [B, n, D]
  std::vector<Tensor> components;   // per set, i64 [n]
  std::vector<Tensor> flat_points;  // per set, [n, D]
};
Sets draw_sets(const std::vector<GaussianMixture>& mixtures, const std::vector<int64_t>& index, int64_t n,
               int64_t inner_batch, Generator& gen) {
  Sets s;
  std::vector<Var> parts;
  for (int64_t i : index) {
    GaussianMixture::Sample smp = mixtures[i].sample(n, gen, inner_batch);
    s.components.push_back(smp.components);
    s.flat_points.push_back(smp.points);
    parts.push_back(Var(smp.points));
  }
  NoGradGuard no_grad;
  s.points = stack(parts, 0).data();
  return s;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("brenier_test_hotet_" + name + ".safetensors");
}


// `solver`'s checkpoint is refused by the default (transformer) model and restores the same maps into a fresh
// solver of its own configuration `c`.
void check_checkpoint_is_its_own(const HotetSolver& solver, const HotetSolverConfig& c, const Tensor& x,
                                 const Tensor& probe, const std::string& tag) {
  const auto path = temp_path(tag);
  solver.save(path.string());
  HotetSolver transformer(small_config());
  CHECK(has(error_of([&] { transformer.load(path.string()); }), "different model"));
  HotetSolver again(c);
  again.load(path.string());
  CHECK(again.predict(x).transport(probe).to_vector<double>() == solver.predict(x).transport(probe).to_vector<double>());
  std::filesystem::remove(path);
}
}  // namespace

TEST_CASE("HOTET MM-B loss equals the mean of mmb.h's objective over the distributions") {
  HotetSolver solver(small_config());
  Generator gen(4);
  const Tensor x = gen.normal({3, 40, 2}, 0.0, 1.5), y = gen.normal({3, 40, 2}, 1.0, 2.0);
  // The maps the solver would use at this step, from predict() (same contexts: uniform weights on x).
  const HotetMaps maps = solver.predict(x);
  double expected = 0;
  for (int64_t b = 0; b < 3; ++b) {
    NoGradGuard no_grad;
    auto slice_w = [&](const DenseIcnnWeights& w) {
      DenseIcnnWeights out;
      for (const Var& v : w.quadratic) out.quadratic.push_back(slice(v, 0, b, b + 1));
      for (const Var& v : w.linear) out.linear.push_back(slice(v, 0, b, b + 1));
      for (const Var& v : w.bias) out.bias.push_back(slice(v, 0, b, b + 1));
      for (const Var& v : w.convex) out.convex.push_back(slice(v, 0, b, b + 1));
      out.final_layer = slice(w.final_layer, 0, b, b + 1);
      return out;
    };
    const Tensor xb = slice(Var(x), 0, b, b + 1).data(), yb = slice(Var(y), 0, b, b + 1).data();
    const Var psi = reshape(hyper_icnn_potential(Var(xb), slice_w(maps.forward), 1e-4), {40});
    const Var psi_bar = reshape(hyper_icnn_potential(Var(yb), slice_w(maps.inverse), 1e-4), {40});
    const Tensor x2 = xb.reshape({40, 2}), y2 = yb.reshape({40, 2});
    expected += 0.5 * (mmb_objective(psi, x2, y2).loss.item() + mmb_objective(psi_bar, y2, x2).loss.item()) / 3.0;
  }
  const HotetStepStats stats = solver.step(x, y);
  CHECK(stats.step == 1);
  CHECK(stats.loss == doctest::Approx(expected).epsilon(1e-5));
  CHECK(std::isfinite(stats.grad_norm));
  CHECK(stats.grad_norm > 0);
}

TEST_CASE("HOTET predicts maps of unseen Gaussian mixtures (D = 2, short MM-B run)") {
  // §1.7 at a CI scale: 40 training sources, 8 per step, 64 points each (chunks of 32), 400 steps;
  // scored on 6 sources never seen in training, 512 points each, against the component-wise Bures map.
  const int64_t d = 2, n_train = 40, n_test = 6, per_step = 8, batch = 64, eval_n = 512;
  const int64_t steps = 400;
  Generator world(21);
  const GaussianMixture target = random_gaussian_mixture(d, world);
  std::vector<GaussianMixture> train, test;
  for (int64_t i = 0; i < n_train; ++i) train.push_back(random_gaussian_mixture(d, world));
  for (int64_t i = 0; i < n_test; ++i) test.push_back(random_gaussian_mixture(d, world));
  const std::vector<GaussianMixture> targets(static_cast<size_t>(per_step), target);

  HotetSolver solver(small_config());
  Generator gen(22);
  for (int64_t s = 0; s < steps; ++s) {
    const std::vector<int64_t> index = gen.randint({per_step}, 0, n_train).to_vector<int64_t>();
    const Sets x = draw_sets(train, index, batch, 32, gen);
    const Sets y = draw_sets(targets, std::vector<int64_t>(per_step, 0), batch, 32, gen);
    solver.step(x.points, y.points);
  }

  // Unseen test sources, each embedded from its own evaluation sample.
  std::vector<int64_t> all(n_test);
  for (int64_t i = 0; i < n_test; ++i) all[i] = i;
  const Sets eval = draw_sets(test, all, eval_n, 64, gen);
  const HotetMaps maps = solver.predict(eval.points);
  const Tensor mapped = maps.transport(eval.points);
  double hotet = 0, identity = 0, floor = 0;
  for (int64_t i = 0; i < n_test; ++i) {
    const ComponentwiseBuresMap truth(test[i], target);
    const Tensor y_true = truth.apply(eval.flat_points[i], eval.components[i]);
    NoGradGuard no_grad;
    const Tensor fitted = reshape(slice(Var(mapped), 0, i, i + 1), {eval_n, d}).data();
    hotet += l2_uvp(fitted, y_true, target.total_variance()) / n_test;
    identity += l2_uvp(eval.flat_points[i], y_true, target.total_variance()) / n_test;
    floor += l2_uvp(truth.conditional_mean(test[i], eval.flat_points[i]), y_true, target.total_variance()) / n_test;
  }
  MESSAGE("unseen-test L2-UVP: HOTET ", hotet, " %, identity ", identity, " %, floor E[T*|x] ", floor, " %");
  // The components overlap, so T*(x) is not a function of x: no map beats the conditional mean
  // E[T*(x) | x] (its L2-UVP, `floor`, is ~21 % here), and the identity scores ~47 %. Measured at 400
  // steps: HOTET ~30 %, i.e. it closes ~2/3 of the identity-to-floor gap on sources it never saw
  // (1000 steps: ~29 %; a non-negative w_out, which cannot contract, stays at ~44 %). The bound asks
  // for half the gap, and the floor bounds it from below (up to Monte Carlo noise).
  CHECK(floor < identity - 15.0);
  CHECK(hotet < floor + 0.5 * (identity - floor));
  CHECK(hotet > 0.9 * floor);
}

TEST_CASE("HOTET MMv2 steps train both hypernetworks and predict finite maps") {
  HotetSolver solver(small_config(HotetMethod::MMv2));
  Generator gen(8);
  auto targets = [&] { return gen.normal({2, 32, 2}, 1.0, 1.0); };
  const Tensor x = gen.normal({2, 32, 2});
  const HotetMaps before = solver.predict(x);
  for (int i = 0; i < 3; ++i) {
    const HotetStepStats s = solver.step(x, targets(), targets);
    CHECK(std::isfinite(s.loss));
    CHECK(std::isfinite(s.conjugate_loss));
  }
  const HotetMaps after = solver.predict(x);
  const Tensor probe = gen.normal({2, 16, 2});
  auto max_diff = [](const Tensor& a, const Tensor& b) {
    const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
    double m = 0;
    for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
    return m;
  };
  CHECK(max_diff(before.transport(probe), after.transport(probe)) > 1e-6);
  CHECK(max_diff(before.inverse_transport(probe), after.inverse_transport(probe)) > 1e-6);
  CHECK(has(error_of([&] { solver.step(x, targets()); }), "'fresh_targets' must be a callable"));
}

TEST_CASE("HOTET W2GN loss equals its formula on the predicted maps; the cycle term alone trains the inverse") {
  HotetSolverConfig config = small_config(HotetMethod::W2GN);
  config.dtype = DType::F64;
  Generator gen(9);
  const Tensor x = gen.normal({2, 24, 2}, 0.0, 1.0, DType::F64), y = gen.normal({2, 24, 2}, 1.0, 2.0, DType::F64);
  HotetSolver solver(config);
  // The reference's loss (§1.4) from the maps predict() gives (same contexts: uniform weights on x).
  const HotetMaps maps = solver.predict(x);
  double expected = 0, cycle = 0;
  const Tensor y_push = maps.inverse_transport(y);  // maps differentiate ψ: grad mode on
  const Tensor back = maps.transport(y_push);
  {
    NoGradGuard no_grad;
    expected = mean(hyper_icnn_potential(Var(x), maps.forward, 1e-4)).item() -
               mean(hyper_icnn_potential(Var(y_push), maps.forward, 1e-4)).item();
    cycle = mean(square(Var(back) - Var(y))).item();
    double l1 = 0;
    for (const DenseIcnnWeights* w : {&maps.forward, &maps.inverse})
      for (const Var& v : w->all()) l1 += sum(abs(v)).item();
    expected += 100.0 * cycle + 1e-10 * l1;
  }
  const HotetStepStats stats = solver.step(x, y);
  CHECK(stats.loss == doctest::Approx(expected).epsilon(1e-10));
  CHECK(stats.conjugate_loss == doctest::Approx(cycle).epsilon(1e-10));
  CHECK(stats.grad_norm > 0);

  // Ŷ = ∇ψ̄(Y) is held fixed in the potential terms, so without the cycle term (and the ℓ1 term) ψ̄ gets no
  // gradient and stays put; with it, ψ̄ moves.
  auto inverse_change = [&](double cycle_weight) {
    HotetSolverConfig c = config;
    c.cycle_weight = cycle_weight;
    c.generated_l1 = 0;
    HotetSolver s(c);
    const Tensor before = s.predict(x).inverse_transport(y);
    s.step(x, y);
    const auto a = before.to_vector<double>(), b = s.predict(x).inverse_transport(y).to_vector<double>();
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
  };
  CHECK(inverse_change(0.0) == 0.0);
  CHECK(inverse_change(100.0) > 1e-6);
  CHECK(has(error_of([] { parse_hotet_method("w2"); }), "mmb, mmv2, w2gn"));
}

TEST_CASE("HOTET W2GN learns a Gaussian OT map (D = 2, one distribution, against the Bures map)") {
  // Source N(0, I), target N(m, diag(2.25, 0.36)): the OT map is the Bures map y = m + diag(1.5, 0.6) x.
  // 600 W2GN steps of 256 points at the reference's settings (λ = 100, lr 1e-3, betas as §1.4); one
  // distribution, so a constant context stands in for the embedding (it only slows the test down).
  HotetSolverConfig config = small_config(HotetMethod::W2GN);
  config.context_model = ContextModel::Constant;
  HotetSolver solver(config);
  Generator gen(31);
  const std::vector<float> scale{1.5f, 0.6f}, shift{1.0f, -0.5f};
  auto target = [&](const Tensor& z) {
    std::vector<float> v = z.to_vector<float>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * scale[i % 2] + shift[i % 2];
    return Tensor::from_vector(v, z.shape());
  };
  for (int step = 0; step < 600; ++step) solver.step(gen.normal({1, 256, 2}), target(gen.normal({1, 256, 2})));
  const Tensor x = gen.normal({1, 1024, 2});
  const Tensor truth = target(x).reshape({1024, 2}), fitted = solver.predict(x).transport(x).reshape({1024, 2});
  const double variance = 1.5 * 1.5 + 0.6 * 0.6;
  const double ours = l2_uvp(fitted, truth, variance), identity = l2_uvp(x.reshape({1024, 2}), truth, variance);
  MESSAGE("W2GN Gaussian L2-UVP ", ours, " % (identity ", identity, " %)");
  // Measured 3.97 % (identity 62 %): the bound 5 % is an order of magnitude below the identity, so the
  // forward map has learned the anisotropic scaling and the shift, not just moved toward the target mean.
  CHECK(ours < 5.0);
}

TEST_CASE("HOTET checkpoints round-trip and refuse a different model") {
  Generator gen(5);
  const Tensor x = gen.normal({2, 32, 2}), y = gen.normal({2, 32, 2}, 1.0);
  HotetSolver a(small_config());
  a.step(x, y);
  a.step(x, y);
  const auto path = temp_path("roundtrip");
  a.save(path.string());
  HotetSolverConfig other = small_config();
  other.seed = 99;  // different initial weights, same model
  HotetSolver b(other);
  b.load(path.string());
  CHECK(b.steps_done() == 2);
  const Tensor probe = gen.normal({2, 20, 2});
  CHECK(a.predict(x).transport(probe).to_vector<double>() == b.predict(x).transport(probe).to_vector<double>());
  // Same next step (optimizer state restored too).
  CHECK(a.step(x, y).loss == doctest::Approx(b.step(x, y).loss).epsilon(1e-6));

  HotetSolverConfig wider = small_config();
  wider.icnn_hidden = {32, 16};
  HotetSolver c(wider);
  CHECK(has(error_of([&] { c.load(path.string()); }), "different model"));
  HotetSolver d(small_config(HotetMethod::MMv2));
  CHECK(has(error_of([&] { d.load(path.string()); }), "trained with method 'mmb'"));
  CHECK(!error_of([&] { c.load((path.string() + ".missing")); }).empty());
  std::filesystem::remove(path);
}

TEST_CASE("HOTET divergence throws naming the step and keeps the last good state") {
  HotetSolver solver(small_config());
  Generator gen(6);
  const Tensor x = gen.normal({2, 16, 2}), y = gen.normal({2, 16, 2});
  solver.step(x, y);
  const Tensor probe = gen.normal({2, 8, 2});
  const std::vector<double> before = solver.predict(x).transport(probe).to_vector<double>();
  // Finite but huge points: ψ overflows f32, the loss is not finite.
  const Tensor huge = Tensor::full({2, 16, 2}, 1e25);
  const std::string msg = error_of([&] { solver.step(huge, y); });
  CHECK(has(msg, "diverged at step 2"));
  CHECK(has(msg, "left as after step 1"));
  std::vector<double> nan_values(2 * 16 * 2, 0.0);
  nan_values[5] = std::nan("");
  CHECK(has(error_of([&] { solver.step(Tensor::from_vector(nan_values, {2, 16, 2}).to(DType::F32), y); }),
            "NaN or Inf"));
  CHECK(solver.steps_done() == 1);
  CHECK(solver.predict(x).transport(probe).to_vector<double>() == before);
}

TEST_CASE("HOTET bad configuration and arguments") {
  HotetSolverConfig c = small_config();
  c.dim = 0;
  CHECK(has(error_of([&] { HotetSolver s(c); }), "'dim' must be >= 1"));
  c = small_config();
  c.inner_iters = 0;
  CHECK(has(error_of([&] { HotetSolver s(c); }), "'inner_iters' must be >= 1"));
  c = small_config();
  c.lr = -1;
  CHECK(has(error_of([&] { HotetSolver s(c); }), "'lr' must be finite and > 0"));
  CHECK(has(error_of([] { parse_hotet_method("sinkhorn"); }), "one of mmb, mmv2, w2gn"));

  HotetSolver solver(small_config());
  Generator gen(7);
  CHECK(has(error_of([&] { solver.step(gen.normal({2, 8, 3}), gen.normal({2, 8, 3})); }), "[B, n, 2]"));
  CHECK(has(error_of([&] { solver.step(gen.normal({2, 8, 2}), gen.normal({3, 8, 2})); }), "same number of sets"));
  CHECK(has(error_of([&] { solver.predict(gen.normal({8, 3})); }), "'sources' must be"));
  const HotetMaps maps = solver.predict(gen.normal({2, 8, 2}));
  CHECK(has(error_of([&] { maps.transport(gen.normal({3, 8, 2})); }), "[2, n, 2]"));
  // Pre-training stops at once (residual ½‖x‖²) and is refused after a step.
  CHECK(solver.pretrain([&] { return gen.normal({1, 128, 2}, 0.0, 3.0); }) <= 2);
  solver.step(gen.normal({2, 8, 2}), gen.normal({2, 8, 2}));
  CHECK(has(error_of([&] { solver.pretrain([&] { return gen.normal({1, 128, 2}); }); }), "before training"));
}

TEST_CASE("HOTET pooling after the hypernet's hidden layers (the reference's order)") {
  // With every point of a set equal, the embedding rows are equal, so pooling before or after the
  // hypernet's hidden layers gives the same parameters: the two solvers (same seed, same initial
  // weights) must predict the same maps. On real sets the orders differ, and a step trains.
  HotetSolverConfig before = small_config(), after = small_config();
  after.pooling = HypernetPooling::AfterHidden;
  HotetSolver pool_before(before), pool_after(after);
  Generator gen(9);
  const Tensor point = gen.normal({2, 1, 2}, 0.0, 2.0);
  const Tensor constant_sets = broadcast_to(Var(point), {2, 16, 2}).data();
  const Tensor probe = gen.normal({2, 32, 2});
  auto moved = [&](const HotetSolver& s, const Tensor& sets) {
    return s.predict(sets).transport(probe).to_vector<float>();
  };
  auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
    return m;
  };
  CHECK(max_diff(moved(pool_before, constant_sets), moved(pool_after, constant_sets)) < 1e-5);
  // Init maps are near the identity; train both a few steps so the orders' difference shows on spread sets.
  for (int s = 0; s < 20; ++s) {
    const Tensor x = gen.normal({2, 32, 2}, 0.0, 1.5), y = gen.normal({2, 32, 2}, 1.0, 0.5);
    CHECK(std::isfinite(pool_before.step(x, y).loss));
    const HotetStepStats stats = pool_after.step(x, y);
    CHECK(std::isfinite(stats.loss));
    CHECK(stats.grad_norm > 0);
  }
  const Tensor spread_sets = gen.normal({2, 16, 2}, 0.0, 2.0);
  CHECK(max_diff(moved(pool_before, spread_sets), moved(pool_after, spread_sets)) > 1e-4);
  CHECK(parse_hypernet_pooling("after-hidden") == HypernetPooling::AfterHidden);
  CHECK(has(error_of([] { parse_hypernet_pooling("max"); }), "one of before, after-hidden"));
  HotetSolverConfig constant = small_config();
  constant.context_model = ContextModel::Constant;
  constant.pooling = HypernetPooling::AfterHidden;
  CHECK(has(error_of([&] { HotetSolver s(constant); }), "config 'pooling' after-hidden needs per-point features"));
}

TEST_CASE("HOTET's Meta OT context reads a fixed-size, ordered sample and trains like the others") {
  HotetSolverConfig c = small_config();
  c.context_model = ContextModel::FlattenedSample;
  c.meta_ot_points = 16;
  c.meta_ot_context_dim = 8;
  HotetSolver solver(c);
  CHECK(solver.context_dim() == 8);
  Generator gen(12);
  const Tensor x = gen.normal({2, 32, 2}), y = gen.normal({2, 32, 2}, 1.0);
  const Tensor probe = gen.normal({2, 8, 2});
  // The encoder reads only the first 16 points, in their order: changing the others leaves the context
  // unchanged, swapping two of the first 16 changes it (the baseline is neither size- nor order-free).
  Generator init(4);
  FlattenedSetEncoder encoder(2, 16, 8, init);
  const std::vector<double> context = encoder(Var(x)).data().to_vector<double>();
  Tensor tail_changed = x.to(DType::F32);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 16; i < 32; ++i) tail_changed.data<float>()[(b * 32 + i) * 2] += 5.0f;
  CHECK(encoder(Var(tail_changed)).data().to_vector<double>() == context);
  Tensor swapped = x.to(DType::F32);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t k = 0; k < 2; ++k)
      std::swap(swapped.data<float>()[(b * 32) * 2 + k], swapped.data<float>()[(b * 32 + 7) * 2 + k]);
  const std::vector<double> reordered = encoder(Var(swapped)).data().to_vector<double>();
  double diff = 0;
  for (size_t i = 0; i < context.size(); ++i) diff = std::max(diff, std::abs(reordered[i] - context[i]));
  CHECK(diff > 1e-4);
  CHECK(has(error_of([&] { encoder(Var(gen.normal({2, 8, 2}))); }), "n >= 16"));

  const std::vector<double> base = solver.predict(x).transport(probe).to_vector<double>();
  for (int i = 0; i < 3; ++i) CHECK(std::isfinite(solver.step(x, y).loss));
  CHECK(solver.predict(x).transport(probe).to_vector<double>() != base);
  CHECK(has(error_of([&] { solver.predict(gen.normal({2, 8, 2})); }), "n >= 16"));
  CHECK(has(error_of([&] { solver.predict(x, Tensor::full({2, 32}, 1.0 / 32)); }), "Meta OT"));
  // Its checkpoints are not interchangeable with the transformer model's.
  check_checkpoint_is_its_own(solver, c, x, probe, "meta_ot");
  CHECK(parse_context_model("meta-ot") == ContextModel::FlattenedSample);
  CHECK(has(error_of([&] { (void)parse_context_model("mlp"); }), "transformer, constant, meta-ot"));
}

TEST_CASE("HOTET's points context (the reference configs' emb_method mlp / mean): raw points, no trained embedding") {
  Generator gen(21);
  const Tensor x = gen.normal({2, 24, 2}, 0.0, 1.5), y = gen.normal({2, 24, 2}, 1.0, 0.5);
  const Tensor probe = gen.normal({2, 8, 2});
  auto max_diff = [](const std::vector<double>& a, const std::vector<double>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
  };
  // Reverses the order of every set's points.
  auto reversed = [](const Tensor& sets) {
    Tensor out = sets.to(DType::F32);
    const int64_t n = sets.size(1), d = sets.size(2);
    const std::vector<float> in = sets.to_vector<float>();
    for (int64_t b = 0; b < sets.size(0); ++b)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < d; ++k) out.data<float>()[(b * n + i) * d + k] = in[(b * n + (n - 1 - i)) * d + k];
    return out;
  };
  for (HypernetPooling pooling : {HypernetPooling::BeforeHypernet, HypernetPooling::AfterHidden}) {
    for (HotetMethod method : {HotetMethod::MMB, HotetMethod::MMv2}) {
      CAPTURE(name(pooling));
      CAPTURE(name(method));
      HotetSolverConfig c = small_config(method);
      c.context_model = ContextModel::Points;
      c.pooling = pooling;
      HotetSolver solver(c);
      CHECK(solver.context_dim() == 2);
      const std::vector<double> base = solver.predict(x).transport(probe).to_vector<double>();
      auto targets = [&] { return gen.normal({2, 24, 2}, 1.0, 0.5); };
      for (int i = 0; i < 3; ++i) {
        const HotetStepStats stats = solver.step(x, y, targets);
        CHECK(std::isfinite(stats.loss));
        CHECK(stats.grad_norm > 0);
      }
      const std::vector<double> trained = solver.predict(x).transport(probe).to_vector<double>();
      CHECK(max_diff(trained, base) > 1e-6);
      // A set function: the order of the points does not matter ...
      CHECK(max_diff(solver.predict(reversed(x)).transport(probe).to_vector<double>(), trained) < 1e-5);
      // ... and a point of weight 2/(n+1) is that point duplicated.
      const Tensor three = gen.normal({1, 3, 2}, 0.0, 2.0);
      const std::vector<float> p = three.to_vector<float>();
      const Tensor four = Tensor::from_vector(std::vector<float>{p[0], p[1], p[0], p[1], p[2], p[3], p[4], p[5]}, {1, 4, 2});
      const Tensor weights = Tensor::from_vector(std::vector<float>{0.5f, 0.25f, 0.25f}, {1, 3});
      const Tensor one_probe = gen.normal({1, 8, 2});
      CHECK(max_diff(solver.predict(three, weights).transport(one_probe).to_vector<double>(),
                     solver.predict(four).transport(one_probe).to_vector<double>()) < 1e-5);
    }
  }
  // Its checkpoints hold the hypernetworks only and are not interchangeable with the transformer model's.
  HotetSolverConfig c = small_config();
  c.context_model = ContextModel::Points;
  c.pooling = HypernetPooling::AfterHidden;
  HotetSolver solver(c);
  solver.step(x, y);
  check_checkpoint_is_its_own(solver, c, x, probe, "points");
  CHECK(parse_context_model("points") == ContextModel::Points);
  CHECK(std::string(name(ContextModel::Points)) == "points");
  CHECK(has(error_of([&] { (void)parse_context_model("mlp"); }), "transformer, constant, meta-ot, points"));
}
