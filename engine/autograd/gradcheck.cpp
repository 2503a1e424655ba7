// Central-difference gradient checks (first and second order).
#include "engine/autograd/gradcheck.h"

#include <cmath>
#include <random>

#include "engine/ops/ops.h"

namespace brenier::autograd {
namespace {

Tensor random_like(const Tensor& t, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (double& x : v) x = n(rng);
  return Tensor::from_vector(v, t.shape()).to(t.dtype());
}

std::vector<Var> leaves_of(const std::vector<Tensor>& inputs) {
  std::vector<Var> xs;
  for (const Tensor& t : inputs) xs.emplace_back(t.clone(), true);
  return xs;
}

// Scalar objective as a function of the input tensors; analytic gradient of it w.r.t. the inputs.
using Objective = std::function<Var(const std::vector<Var>&)>;

GradcheckResult compare(const Objective& objective, const std::vector<Tensor>& inputs,
                        const GradcheckOptions& opt, const char* what) {
  std::vector<Var> xs = leaves_of(inputs);
  Var value = objective(xs);
  std::vector<Var> analytic(xs.size());
  if (value.requires_grad()) analytic = grad({value}, xs, {}, {.allow_unused = true});

  GradcheckResult result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<double> a = analytic[i].defined() ? analytic[i].data().to_vector<double>()
                                                  : std::vector<double>(inputs[i].numel(), 0.0);
    for (int64_t k = 0; k < inputs[i].numel(); ++k) {
      auto eval_at = [&](double delta) {
        std::vector<Tensor> moved;
        for (const Tensor& t : inputs) moved.push_back(t.clone());
        std::vector<double> vals = moved[i].to_vector<double>();
        vals[k] += delta;
        moved[i].copy_from(Tensor::from_vector(vals, moved[i].shape()));
        return objective(leaves_of(moved)).item();
      };
      double numeric = (eval_at(opt.step) - eval_at(-opt.step)) / (2 * opt.step);
      double err = std::abs(numeric - a[k]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && !(err <= opt.atol + opt.rtol * std::abs(numeric))) {
        result.ok = false;
        result.report = fmt::format("{}: input {} element {}: analytic {:.10g}, finite difference {:.10g} (|diff| {:.3g})",
                                    what, i, k, a[k], numeric, err);
      }
    }
  }
  return result;
}

}  // namespace

GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  std::mt19937_64 rng(opt.seed);
  Tensor v = random_like(f(leaves_of(inputs)).data(), rng);
  auto objective = [&](const std::vector<Var>& xs) { return sum(f(xs) * Var(v)); };
  return compare(objective, inputs, opt, "gradcheck");
}

GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  std::mt19937_64 rng(opt.seed);
  Tensor v = random_like(f(leaves_of(inputs)).data(), rng);
  std::vector<Tensor> us;
  for (const Tensor& t : inputs) us.push_back(random_like(t, rng));
  auto objective = [&](const std::vector<Var>& xs) {
    Var first = sum(f(xs) * Var(v));
    std::vector<Var> g = grad({first}, xs, {}, {.create_graph = true, .allow_unused = true});
    Var total(Tensor::scalar(0.0, first.dtype()));
    for (size_t i = 0; i < xs.size(); ++i)
      if (g[i].defined()) total = total + sum(g[i] * Var(us[i]));
    return total;
  };
  return compare(objective, inputs, opt, "gradgradcheck");
}

}  // namespace brenier::autograd
