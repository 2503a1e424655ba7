// optim: SGD / Adam / AdamW updates against hand-computed numbers, convergence on a quadratic,
// projections, gradient clipping, the warmup-cosine schedule and checkpoint state.
// Expected values come from the update formulas evaluated by hand (first steps) or by a separate
// Python transcription of PyTorch's documented algorithms (second steps).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/projection.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "engine/random/generator.h"

using namespace brenier;

namespace {

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-9) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tol).scale(1.0));
  }
}

// The parameter p = [1, -2] and the gradients of two successive steps.
Var make_param() { return Var(Tensor::from_vector<double>({1.0, -2.0}), true); }
const std::vector<double> kGrad1 = {0.5, -0.25}, kGrad2 = {-1.0, 2.0};

// Runs `steps` (1 or 2) steps of `opt` on `p` with the gradients above; returns p's values.
template <class Opt>
std::vector<double> run(Opt& opt, Var& p, int steps) {
  for (int s = 0; s < steps; ++s) {
    p.set_grad(Tensor::from_vector<double>(s == 0 ? kGrad1 : kGrad2));
    opt.step();
  }
  return p.data().to_vector<double>();
}

template <class Opt, class Options>
Tensor after(Options options, int steps) {
  Var p = make_param();
  Opt opt({p}, options);
  run(opt, p, steps);
  return p.data();
}

}  // namespace

TEST_CASE("optim: SGD steps match hand-computed numbers") {
  using optim::SGD;
  using optim::SGDOptions;
  // Plain: p - 0.1 g = [1 - 0.05, -2 + 0.025]
  check_close(after<SGD>(SGDOptions{.lr = 0.1}, 1), {0.95, -1.975});
  check_close(after<SGD>(SGDOptions{.lr = 0.1}, 2), {1.05, -2.175});
  // Momentum 0.9, weight decay 0.1. Step 1: g = [0.5 + 0.1, -0.25 - 0.2] = [0.6, -0.45] = b,
  // p = [0.94, -1.955]. Step 2: g = [-1 + 0.094, 2 - 0.1955] = [-0.906, 1.8045],
  // b = 0.9 [0.6, -0.45] + g = [-0.366, 1.3995], p = [0.94 + 0.0366, -1.955 - 0.13995].
  SGDOptions mom{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1};
  check_close(after<SGD>(mom, 1), {0.94, -1.955});
  check_close(after<SGD>(mom, 2), {0.9766, -2.09495});
  // Nesterov: step 1 moves by g + 0.9 b = 1.9 g: p = [1 - 0.095, -2 + 0.0475].
  SGDOptions nesterov{.lr = 0.1, .momentum = 0.9, .nesterov = true};
  check_close(after<SGD>(nesterov, 1), {0.905, -1.9525});
  check_close(after<SGD>(nesterov, 2), {1.0545, -2.31225});
}

TEST_CASE("optim: Adam and AdamW steps match hand-computed numbers") {
  using optim::Adam;
  using optim::AdamOptions;
  using optim::AdamW;
  using optim::AdamWOptions;
  // With bias correction the first step is lr * g / (|g| + eps) (the moments are g and g²):
  // p ≈ p - 0.1 sign(g), up to eps = 1e-8 (0.1 * 1e-8 / 0.5 = 2e-9).
  check_close(after<Adam>(AdamOptions{.lr = 0.1}, 1), {0.900000002, -1.900000004});
  check_close(after<Adam>(AdamOptions{.lr = 0.1}, 2), {0.9366103542405654, -1.9655326651601626});
  // L2 weight decay 0.1 enters the gradient: g = [0.6, -0.45], still ~ sign(g) on step 1.
  AdamOptions l2{.lr = 0.1, .weight_decay = 0.1};
  check_close(after<Adam>(l2, 1), {0.9000000016666666, -1.900000002222222});
  check_close(after<Adam>(l2, 2), {0.9252635194456061, -1.9560582491070564});
  // Without bias correction: m = 0.1 g, v = 0.001 g², step = 0.1 * 0.1 g / (sqrt(0.001) |g| + eps)
  // = 0.316227766 sign(g) (less a hair for eps).
  AdamOptions raw{.lr = 0.1, .bias_correction = false};
  check_close(after<Adam>(raw, 1), {0.6837724339830358, -1.6837726339826562});
  check_close(after<Adam>(raw, 2), {0.8393514405183142, -1.9622596444022522});
  // Other betas / eps with L2 decay and no correction: g = [0.6, -0.45], m = 0.2 g, v = 0.01 g²,
  // step = 0.1 * 0.2 g / (0.1 |g| + 1e-3): [0.012 / 0.061, -0.009 / 0.046].
  AdamOptions raw_l2{.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-3, .weight_decay = 0.1,
                     .bias_correction = false};
  check_close(after<Adam>(raw_l2, 1), {1 - 0.012 / 0.061, -2 + 0.009 / 0.046});
  check_close(after<Adam>(raw_l2, 2), {0.882753256266918, -1.9593038585622018});
  // AdamW: decoupled decay multiplies p by 1 - lr wd = 0.99 first, then the Adam step.
  AdamWOptions dec{.lr = 0.1, .weight_decay = 0.1};
  check_close(after<AdamW>(dec, 1), {0.890000002, -1.880000004});
  check_close(after<AdamW>(dec, 2), {0.9177103542205653, -1.9267326651201626});
  AdamWOptions dec_raw{.lr = 0.1, .weight_decay = 0.1, .bias_correction = false};
  check_close(after<AdamW>(dec_raw, 1), {0.6737724339830358, -1.6637726339826562});
  check_close(after<AdamW>(dec_raw, 2), {0.8226137161784839, -1.9256219180624257});
  // AdamW's default decay is PyTorch's 0.01.
  CHECK(AdamWOptions{}.weight_decay == 0.01);
}

TEST_CASE("optim: Adam minimizes a quadratic") {
  // f(x) = sum a (x - c)², minimum at c; f32 like a real model.
  Var x(Tensor::from_vector<float>({5, -3, 0.5}), true);
  Var a(Tensor::from_vector<float>({1, 10, 0.1}));
  Var c(Tensor::from_vector<float>({1, 2, -1}));
  optim::Adam opt({x}, {.lr = 0.05});
  double first = 0, last = 0;
  for (int it = 0; it < 1500; ++it) {
    opt.zero_grad();
    Var loss = sum(a * square(x - c));
    if (it == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    opt.step();
  }
  CHECK(opt.step_count() == 1500);
  CHECK(last < 1e-6 * first);
  check_close(x.data(), {1, 2, -1}, 1e-3);
}

TEST_CASE("optim: parameters without a grad are skipped") {
  Var p = make_param(), q = make_param();
  optim::Adam opt({p, q}, {.lr = 0.1});
  p.set_grad(Tensor::from_vector<double>(kGrad1));
  opt.step();
  check_close(q.data(), {1, -2});
  check_close(p.data(), {0.900000002, -1.900000004});
  // q's first step is a first step for it (its own bias correction), though the optimizer is at 2.
  q.set_grad(Tensor::from_vector<double>(kGrad1));
  p.zero_grad();
  opt.step();
  check_close(q.data(), {0.900000002, -1.900000004});
  check_close(p.data(), {0.900000002, -1.900000004});
  opt.zero_grad();
  CHECK_FALSE(q.grad().defined());
}

TEST_CASE("optim: projection hooks run after every step") {
  Var w(Tensor::from_vector<double>({0.05, 1.0}), true);
  Var other(Tensor::from_vector<double>({0.05, 1.0}), true);
  optim::SGD opt({w, other}, {.lr = 0.1});
  opt.add_projection(w, optim::clamp_min_projection(0.0));
  auto step = [&] {
    w.set_grad(Tensor::from_vector<double>({1, 1}));
    other.set_grad(Tensor::from_vector<double>({1, 1}));
    opt.step();
  };
  step();
  check_close(w.data(), {0.0, 0.9});        // -0.05 clamped
  check_close(other.data(), {-0.05, 0.9});  // not projected
  // A projection over all parameters, run after the per-parameter one.
  int calls = 0;
  opt.add_projection([&](std::vector<Var>& ps) {
    ++calls;
    CHECK(ps.size() == 2);
  });
  opt.add_projection(optim::clamp_min_projection(-0.1));
  step();
  CHECK(calls == 1);
  check_close(w.data(), {0.0, 0.8});
  check_close(other.data(), {-0.1, 0.8});  // -0.15 clamped to -0.1

  Var stranger(Tensor::ones({2}, DType::F64), true);
  CHECK_THROWS_WITH_AS(opt.add_projection(stranger, optim::clamp_min_projection(0.0)),
                       doctest::Contains("not one of the optimizer's 2 parameters"), Error);
}

TEST_CASE("optim: clip_grad_norm returns the norm and scales copies of the grads") {
  Var a(Tensor::from_vector<double>({0, 0}), true), b(Tensor::from_vector<double>({0}), true);
  Var none(Tensor::from_vector<double>({0}), true);  // no grad: ignored
  Tensor ga = Tensor::from_vector<double>({3, 4}), gb = Tensor::from_vector<double>({12});
  a.set_grad(ga);
  b.set_grad(gb);
  // ||(3, 4, 12)|| = 13
  CHECK(optim::clip_grad_norm({a, b, none}, 100.0) == doctest::Approx(13.0));
  CHECK(a.grad().shares_storage(ga));  // under the limit: untouched
  CHECK(optim::clip_grad_norm({a, b, none}, 6.5) == doctest::Approx(13.0));
  const double s = 6.5 / (13.0 + 1e-6);
  check_close(a.grad(), {3 * s, 4 * s});
  check_close(b.grad(), {12 * s});
  check_close(ga, {3, 4});  // the original grad tensors were not modified
  check_close(gb, {12});
  CHECK(optim::clip_grad_norm({a, b}, 1000.0) == doctest::Approx(6.5).epsilon(1e-6));
  CHECK_THROWS_AS(optim::clip_grad_norm({a}, 0.0), Error);
  CHECK_THROWS_AS(optim::clip_grad_norm({a}, -1.0), Error);
}

TEST_CASE("optim: WarmupCosine values at start, warmup, middle and end") {
  optim::WarmupCosine sched(1.0, 10, 110, 0.1);
  CHECK(sched.lr_at(0) == doctest::Approx(0.1));  // base / warmup
  CHECK(sched.lr_at(4) == doctest::Approx(0.5));
  CHECK(sched.lr_at(9) == doctest::Approx(1.0));
  CHECK(sched.lr_at(10) == doctest::Approx(1.0));                // warmup done: the cosine starts at base
  CHECK(sched.lr_at(35) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::sqrt(0.5))));  // a quarter in
  CHECK(sched.lr_at(60) == doctest::Approx(0.55));               // middle: (base + final) / 2
  CHECK(sched.lr_at(110) == doctest::Approx(0.1));               // end
  CHECK(sched.lr_at(1000) == doctest::Approx(0.1));
  optim::WarmupCosine no_warmup(2.0, 0, 4);
  CHECK(no_warmup.lr_at(0) == doctest::Approx(2.0));
  CHECK(no_warmup.lr_at(2) == doctest::Approx(1.0));
  CHECK(no_warmup.lr_at(4) == doctest::Approx(0.0));

  Var p = make_param();
  optim::SGD opt({p}, {.lr = 123.0});
  CHECK(sched.apply(opt, 60) == doctest::Approx(0.55));
  CHECK(opt.lr() == doctest::Approx(0.55));
  CHECK_THROWS_AS(optim::WarmupCosine(1.0, 10, 5), Error);
  CHECK_THROWS_AS(sched.lr_at(-1), Error);
}

TEST_CASE("optim: bad hyper-parameters are clear errors") {
  Var p = make_param();
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.lr = -0.1}), "SGD: argument 'lr' must be finite and >= 0, got -0.1",
                       Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.beta1 = 1.0}), "Adam: argument 'beta1' must be in [0, 1), got 1", Error);
  CHECK_THROWS_WITH_AS(optim::AdamW({p}, {.beta2 = -0.5}), doctest::Contains("AdamW: argument 'beta2'"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.eps = -1}), doctest::Contains("'eps'"), Error);
  CHECK_THROWS_WITH_AS(optim::Adam({p}, {.weight_decay = -1}), doctest::Contains("'weight_decay'"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.nesterov = true}), doctest::Contains("'nesterov' needs momentum"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p}, {.momentum = -1}), doctest::Contains("'momentum'"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({}, {}), doctest::Contains("at least one parameter"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p, p}, {}), doctest::Contains("twice"), Error);
  CHECK_THROWS_WITH_AS(optim::SGD({p * 2.0}, {}), doctest::Contains("must be a leaf"), Error);
  optim::SGD ok({p}, {.lr = 0.1});
  CHECK_THROWS_AS(ok.set_lr(-1.0), Error);
  CHECK_THROWS_AS(ok.set_lr(NAN), Error);
  CHECK(ok.lr() == 0.1);
}

TEST_CASE("optim: state round trip and strict load") {
  Var p = make_param(), q = make_param();
  optim::Adam opt({p}, {.lr = 0.1});
  run(opt, p, 1);
  optim::NamedTensors state = opt.state();
  std::vector<std::string> names;
  for (auto& [name, t] : state) names.push_back(name);
  CHECK(names == std::vector<std::string>{"step", "lr", "params.0.step", "params.0.exp_avg", "params.0.exp_avg_sq"});
  check_close(state[3].second, {0.05, -0.025});  // (1 - 0.9) g

  // A fresh optimizer loaded with the state takes the same second step as the original.
  q.data().copy_from(p.data());
  optim::Adam resumed({q}, {.lr = 0.5});
  resumed.load_state(state);
  CHECK(resumed.lr() == 0.1);
  CHECK(resumed.step_count() == 1);
  run(opt, p, 2);  // the original takes steps 2 and 3 with gradients 1 and 2
  q.set_grad(Tensor::from_vector<double>(kGrad1));
  resumed.step();
  q.set_grad(Tensor::from_vector<double>(kGrad2));
  resumed.step();
  check_close(q.data(), p.data().to_vector<double>());
  // Without the state the same two steps differ (bias correction restarts).
  Var r = make_param();
  r.data().copy_from(Tensor::from_vector<double>({0.900000002, -1.900000004}));
  optim::Adam fresh({r}, {.lr = 0.1});
  run(fresh, r, 2);
  CHECK(r.data().to_vector<double>() != p.data().to_vector<double>());

  optim::NamedTensors bad = state;
  bad.emplace_back("params.1.exp_avg", Tensor::zeros({2}, DType::F64));
  CHECK_THROWS_WITH_AS(resumed.load_state(bad), doctest::Contains("unexpected entry 'params.1.exp_avg'"), Error);
  bad = state;
  bad[3].second = Tensor::zeros({3}, DType::F64);
  CHECK_THROWS_WITH_AS(resumed.load_state(bad), doctest::Contains("'params.0.exp_avg' must be a floating tensor of "
                                                                 "shape [2]"),
                       Error);
  bad = optim::NamedTensors(state.begin() + 1, state.end());
  CHECK_THROWS_WITH_AS(resumed.load_state(bad), doctest::Contains("'step' is missing"), Error);
  bad = state;
  bad.emplace_back("params.0.momentum_buffer", Tensor::zeros({2}, DType::F64));
  CHECK_THROWS_AS(resumed.load_state(bad), Error);
  CHECK(resumed.step_count() == 3);  // failed loads changed nothing

  // SGD's momentum buffer round-trips under its own name.
  Var s = make_param();
  optim::SGD sgd({s}, {.lr = 0.1, .momentum = 0.9});
  run(sgd, s, 1);
  auto sgd_state = sgd.state();
  REQUIRE(sgd_state.size() == 4);
  CHECK(sgd_state[3].first == "params.0.momentum_buffer");
  check_close(sgd_state[3].second, kGrad1);
}

TEST_CASE("optim: the fused host Adam/AdamW update equals the op-by-op formula bit for bit") {
  // The reference is adam.h's formula written with element-wise ops, each rounding to the tensor's
  // type (how the update ran before it was fused): the fused pass must give the same bits, for f32
  // above and below the parallel threshold, f64, Adam with L2 decay, AdamW, and no bias correction.
  struct Case {
    DType dtype;
    int64_t n;
    double weight_decay;
    bool decoupled, bias_correction;
  };
  const std::vector<Case> cases = {{DType::F32, 40000, 0.0, false, true}, {DType::F32, 37, 0.1, false, true},
                                   {DType::F32, 50, 0.05, true, true},    {DType::F64, 33, 0.0, false, false},
                                   {DType::F64, 40, 0.02, true, true}};
  Generator gen(5);
  for (const Case& c : cases) {
    CAPTURE(static_cast<int>(c.dtype));
    CAPTURE(c.n);
    CAPTURE(c.decoupled);
    const double lr = 3e-3, b1 = 0.8, b2 = 0.95, eps = 1e-6;
    Var p(gen.normal({c.n}, 0.0, 1.0, c.dtype), true);
    Tensor ref = p.data().clone(), m_ref, v_ref;
    std::unique_ptr<optim::Adam> opt;
    if (c.decoupled)
      opt = std::make_unique<optim::AdamW>(std::vector<Var>{p}, optim::AdamWOptions{lr, b1, b2, eps, c.weight_decay,
                                                                                  c.bias_correction});
    else
      opt = std::make_unique<optim::Adam>(std::vector<Var>{p}, optim::AdamOptions{lr, b1, b2, eps, c.weight_decay,
                                                                                c.bias_correction});
    for (int t = 1; t <= 3; ++t) {
      Tensor grad = gen.normal({c.n}, 0.0, 1.0, c.dtype);
      p.set_grad(grad);
      opt->step();
      Var rp(ref), g(grad);
      if (c.weight_decay != 0) {
        if (c.decoupled) rp = rp * (1.0 - lr * c.weight_decay);
        else g = g + c.weight_decay * rp;
      }
      Var m = (1.0 - b1) * g, v = (1.0 - b2) * square(g);
      if (m_ref.defined()) m = b1 * Var(m_ref) + m;
      if (v_ref.defined()) v = b2 * Var(v_ref) + v;
      m_ref = m.data();
      v_ref = v.data();
      double step_size = lr;
      Var denom = sqrt(v);
      if (c.bias_correction) {
        step_size /= 1.0 - std::pow(b1, t);
        denom = denom / std::sqrt(1.0 - std::pow(b2, t));
      }
      ref = (rp - step_size * (m / (denom + eps))).data();
      const std::vector<double> got = p.data().to_vector<double>(), want = ref.to_vector<double>();
      int64_t mismatches = 0;
      for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
      CHECK(mismatches == 0);
    }
  }
}
