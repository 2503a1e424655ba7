// HotetSolver: batched MM-B / MMv2 steps over embeddings and hypernetworks, prediction, checkpoints
// (see hotet.h).
#include "ot/solvers/checkpoint_names.h"
#include "ot/solvers/hotet.h"
#include "ot/solvers/checked_gradients.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "engine/backend/primitives.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "ot/layers/flattened_set_encoder.h"
#include "ot/solvers/solver_device.h"

namespace brenier::ot {
namespace {

constexpr const char* kStep = "HotetSolver::step";
// "HotetSolver::step (<method>)": how a failed step names itself.
std::string step_name(HotetMethod method) { return fmt::format("{} ({})", kStep, name(method)); }

Var detach(const Var& v) { return v.defined() ? Var(v.data()) : Var(); }

DenseIcnnWeights detach(const DenseIcnnWeights& w) {
  DenseIcnnWeights out;
  for (const Var& v : w.quadratic) out.quadratic.push_back(detach(v));
  for (const Var& v : w.linear) out.linear.push_back(detach(v));
  for (const Var& v : w.bias) out.bias.push_back(detach(v));
  for (const Var& v : w.convex) out.convex.push_back(detach(v));
  out.final_layer = detach(w.final_layer);
  return out;
}

// Uniform point weights 1/n: [B, n] beside `points` [B, n, D] (same dtype and device).
Var uniform_weights(const Tensor& points) {
  const int64_t n = points.size(1);
  return Var(Tensor::full({points.size(0), n}, 1.0 / static_cast<double>(n), points.dtype(), points.device()));
}

// A learned constant context [1, c] (the no-embedding ablation, paper Table IV).
class ConstantContext : public nn::Module {
 public:
  ConstantContext(int64_t width, Generator& gen, DType dtype)
      : value(register_parameter("value", Var(gen.normal({1, width}, 0.0, 1.0, dtype)))) {}
  Var value;
};

// The batch-conjugate MM-B objective of mmb.h for B distributions at once: psi_x [B, n] = ψ_b(x_b),
// x [B, n, D], y [B, m, D]. σ_b(j) = argmax_i ⟨x_bi, y_bj⟩ − ψ_b(x_bi) from one batched matmul;
// the loss is averaged over the B distributions (all have n and m points).
struct BatchedMmb {
  Var loss;
  double w2_squared;
};
BatchedMmb batched_mmb_objective(const Var& psi_x, const Tensor& x, const Tensor& y) {
  const int64_t batch = x.size(0), m = y.size(1);
  Tensor sigma;
  double inner = 0, sq_x = 0, sq_y = 0;
  {
    NoGradGuard no_grad;
    Var xv(x), yv(y), psi(psi_x.data());
    Var scores = matmul(yv, xv, false, true) - unsqueeze(psi, 1);  // [B, m, n]: ⟨x_i, y_j⟩ − ψ(x_i)
    sigma = argmax(scores, 2);                                    // [B, m]
    // ⟨x_σ(j), y_j⟩ = best score + ψ(x_σ(j)).
    Var best = reshape(gather(scores, 2, sigma.reshape({batch, m, 1})), {batch, m});
    inner = mean(best + gather(psi, 1, sigma)).item();
    sq_x = mean(sum(square(xv), {2})).item();
    sq_y = mean(sum(square(yv), {2})).item();
  }
  Var loss = mean(psi_x) - mean(gather(psi_x, 1, sigma)) + inner;
  return {loss, sq_x + sq_y - 2.0 * loss.item()};
}

}  // namespace

// The four trained modules (or the constant contexts in place of the embeddings), as children of one
// module so that state_dict() covers them all.
struct HotetSolver::Modules : nn::Module {
  std::shared_ptr<PointCloudTransformer> embed_x, embed_y;
  std::shared_ptr<ConstantContext> context_x, context_y;
  std::shared_ptr<FlattenedSetEncoder> flat_x, flat_y;
  std::shared_ptr<HyperDenseIcnn> psi, psi_bar;

  // The trained context of ψ (or ψ̄ when `inverse`); null for the Points context, which has no parameters.
  const nn::Module* context_module(bool inverse) const {
    if (inverse) return embed_y ? static_cast<const nn::Module*>(embed_y.get())
                        : context_y ? static_cast<const nn::Module*>(context_y.get()) : flat_y.get();
    return embed_x ? static_cast<const nn::Module*>(embed_x.get())
                   : context_x ? static_cast<const nn::Module*>(context_x.get()) : flat_x.get();
  }
  std::vector<Var> params(bool inverse) const {
    std::vector<Var> p = (inverse ? psi_bar : psi)->parameters();
    if (const nn::Module* context = context_module(inverse))
      for (const Var& v : context->parameters()) p.push_back(v);
    return p;
  }
  std::vector<Var> forward_params() const { return params(false); }
  std::vector<Var> inverse_params() const { return params(true); }
};

HotetMethod parse_hotet_method(std::string_view name) {
  if (name == "mmb") return HotetMethod::MMB;
  if (name == "mmv2") return HotetMethod::MMv2;
  if (name == "w2gn") return HotetMethod::W2GN;
  throw Error(fmt::format("parse_hotet_method: argument 'name' must be one of mmb, mmv2, w2gn, got '{}'", name));
}

const char* name(HotetMethod method) {
  switch (method) {
    case HotetMethod::MMB: return "mmb";
    case HotetMethod::MMv2: return "mmv2";
    case HotetMethod::W2GN: return "w2gn";
  }
  return "?";
}

ContextModel parse_context_model(std::string_view name) {
  if (name == "transformer") return ContextModel::Transformer;
  if (name == "constant") return ContextModel::Constant;
  if (name == "meta-ot") return ContextModel::FlattenedSample;
  if (name == "points") return ContextModel::Points;
  throw Error(fmt::format(
      "parse_context_model: argument 'name' must be one of transformer, constant, meta-ot, points, got '{}'",
                          name));
}

bool has_point_features(ContextModel model) {
  return model == ContextModel::Transformer || model == ContextModel::Points;
}

const char* name(ContextModel model) {
  switch (model) {
    case ContextModel::Transformer: return "transformer";
    case ContextModel::Constant: return "constant";
    case ContextModel::FlattenedSample: return "meta-ot";
    case ContextModel::Points: return "points";
  }
  return "?";
}

HypernetPooling parse_hypernet_pooling(std::string_view name) {
  if (name == "before") return HypernetPooling::BeforeHypernet;
  if (name == "after-hidden") return HypernetPooling::AfterHidden;
  throw Error(fmt::format("parse_hypernet_pooling: argument 'name' must be one of before, after-hidden, got '{}'",
                          name));
}

const char* name(HypernetPooling pooling) {
  return pooling == HypernetPooling::AfterHidden ? "after-hidden" : "before";
}

std::vector<int64_t> gm_prediction_hidden(int64_t dim) {
  if (dim == 32) return {64, 128, 128, 64};
  return {64, 64, 32};
}

HotetSolver::HotetSolver(HotetSolverConfig config) : config_(std::move(config)), gen_(config_.seed) {
  const char* op = "HotetSolver";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  BRENIER_CHECK(config_.lr > 0 && std::isfinite(config_.lr), "{}: config 'lr' must be finite and > 0, got {}", op,
                config_.lr);
  BRENIER_CHECK(config_.inner_iters >= 1, "{}: config 'inner_iters' must be >= 1, got {}", op, config_.inner_iters);
  BRENIER_CHECK(config_.cycle_weight >= 0 && std::isfinite(config_.cycle_weight) && config_.generated_l1 >= 0 &&
                    std::isfinite(config_.generated_l1),
                "{}: config 'cycle_weight' and 'generated_l1' must be finite and >= 0, got {} and {}", op,
                config_.cycle_weight, config_.generated_l1);
  BRENIER_CHECK(is_floating(config_.dtype), "{}: config 'dtype' must be f32 or f64, got {}", op,
                dtype_name(config_.dtype));
  if (config_.icnn_hidden.empty()) config_.icnn_hidden = w2bench_hidden(config_.dim);
  config_.embedding.dim = config_.dim;

  const ContextModel model = config_.context_model;
  BRENIER_CHECK(config_.pooling == HypernetPooling::BeforeHypernet || has_point_features(model),
                "{}: config 'pooling' after-hidden needs per-point features, i.e. context_model transformer or points, "
                "got {}",
                op, name(model));
  if (model == ContextModel::FlattenedSample)
    BRENIER_CHECK(config_.meta_ot_points >= 1 && config_.meta_ot_context_dim >= 1,
                  "{}: config 'meta_ot_points' and 'meta_ot_context_dim' must be >= 1, got {} and {}", op,
                  config_.meta_ot_points, config_.meta_ot_context_dim);
  m_ = std::make_unique<Modules>();
  HyperDenseIcnnConfig hyper;
  hyper.dim = config_.dim;
  hyper.context_dim = context_dim();
  hyper.icnn_hidden = config_.icnn_hidden;
  hyper.hyper_hidden = config_.hyper_hidden;
  hyper.init_std = config_.init_std;
  hyper.strong_convexity = config_.strong_convexity;
  hyper.nonnegative_final_layer = config_.nonnegative_final_layer;
  // Registration order = checkpoint order: context of ψ, ψ, context of ψ̄, ψ̄.
  auto add_context = [&](const char* suffix) {
    const std::string tag(suffix);
    if (model == ContextModel::Transformer) {
      auto m = m_->register_module("embed_" + tag,
                                   std::make_shared<PointCloudTransformer>(config_.embedding, gen_, config_.dtype));
      config_.embedding = m->config();  // num_heads filled in
      (tag == "x" ? m_->embed_x : m_->embed_y) = m;
    } else if (model == ContextModel::Constant) {
      (tag == "x" ? m_->context_x : m_->context_y) = m_->register_module(
          "context_" + tag, std::make_shared<ConstantContext>(hyper.context_dim, gen_, config_.dtype));
    } else if (model == ContextModel::FlattenedSample) {
      (tag == "x" ? m_->flat_x : m_->flat_y) = m_->register_module(
          "meta_ot_" + tag, std::make_shared<FlattenedSetEncoder>(config_.dim, config_.meta_ot_points,
                                                                  config_.meta_ot_context_dim, gen_, config_.dtype));
    }
  };
  add_context("x");
  m_->psi = m_->register_module("psi", std::make_shared<HyperDenseIcnn>(hyper, gen_, config_.dtype));
  config_.hyper_hidden = m_->psi->config().hyper_hidden;
  add_context("y");
  m_->psi_bar = m_->register_module("psi_bar", std::make_shared<HyperDenseIcnn>(hyper, gen_, config_.dtype));
  // Initialised on the host from gen_ (the same weights on every device for a seed), then moved.
  move_to_config_device({m_.get()}, config_.device, op);

  optim::AdamOptions adam;
  adam.lr = config_.lr;
  if (config_.method == HotetMethod::MMB) {
    adam_ = std::make_unique<optim::Adam>(m_->parameters(), adam);
  } else if (config_.method == HotetMethod::MMv2) {
    adam_ = std::make_unique<optim::Adam>(m_->forward_params(), adam);
    adam_bar_ = std::make_unique<optim::Adam>(m_->inverse_params(), adam);
  } else {  // W2GN: the reference color scripts' betas (§1.4)
    adam.beta1 = 0.8;
    adam.beta2 = 0.99;
    adam_ = std::make_unique<optim::Adam>(m_->forward_params(), adam);
    adam.beta1 = 0.4;
    adam.beta2 = 0.4;
    adam_bar_ = std::make_unique<optim::Adam>(m_->inverse_params(), adam);
  }
}

HotetSolver::~HotetSolver() = default;

int64_t HotetSolver::context_dim() const {
  if (config_.context_model == ContextModel::FlattenedSample) return config_.meta_ot_context_dim;
  if (config_.context_model == ContextModel::Points) return config_.dim;
  const PointCloudTransformerConfig& e = config_.embedding;
  return e.context_dim > 0 ? e.context_dim : e.model_dim > 0 ? e.model_dim : config_.dim;
}

Var HotetSolver::context(bool inverse, const Var& points, const Var& weights) const {
  const int64_t batch = points.size(0);
  switch (config_.context_model) {
    case ContextModel::Constant: {
      const Var& value = inverse ? m_->context_y->value : m_->context_x->value;
      return broadcast_to(value, {batch, value.size(1)});
    }
    case ContextModel::FlattenedSample: return (inverse ? m_->flat_y : m_->flat_x)->forward(points);
    case ContextModel::Points: return weighted_mean_pool(points, weights);
    case ContextModel::Transformer: break;
  }
  return (inverse ? m_->embed_y : m_->embed_x)->embed(points, weights);
}

Var HotetSolver::point_features(bool inverse, const Var& points, const Var& weights) const {
  if (config_.context_model == ContextModel::Points) return points;
  return (inverse ? m_->embed_y : m_->embed_x)->forward(points, weights);
}

DenseIcnnWeights HotetSolver::generated(bool inverse, const Var& points, const Var& weights) const {
  const HyperDenseIcnn& hypernet = inverse ? *m_->psi_bar : *m_->psi;
  if (config_.pooling == HypernetPooling::AfterHidden)  // the reference's order (hyper_icnn.h)
    return hypernet.generate_from_points(point_features(inverse, points, weights), weights);
  return hypernet.generate(context(inverse, points, weights));
}

Tensor HotetSolver::checked_batch(const Tensor& t, const char* which, int64_t step_number) const {
  BRENIER_CHECK(t.defined() && is_floating(t.dtype()) && t.dim() == 3 && t.size(0) >= 1 && t.size(1) >= 1 &&
                    t.size(2) == config_.dim,
                "{} ({}): argument '{}' must be a floating [B, n, {}] batch of point sets, got {} at step {}", kStep,
                name(config_.method), which, config_.dim, t.defined() ? t.str() : "an undefined tensor", step_number);
  Tensor out = t.to(config_.dtype);
  try {
    check_finite(out, kStep, which);
  } catch (const Error& e) {
    throw Error(fmt::format("{} ({}): training stopped at step {}: the {} batch holds a NaN or Inf ({}); the "
                            "networks are left as after step {}",
                            kStep, name(config_.method), step_number, which, e.what(), steps_));
  }
  return out.to(config_.device);  // checked where it came from (a host batch before it moves)
}

double HotetSolver::set_gradients(const Var& loss, const std::vector<Var>& params, int64_t step_number,
                                  const char* what) {
  const std::string who = step_name(config_.method);
  return set_checked_gradients(loss, params, who, step_number, steps_, what);
}

int64_t HotetSolver::pretrain(const std::function<Tensor()>& points, double tolerance, int64_t max_iters) {
  const char* op = "HotetSolver::pretrain";
  BRENIER_CHECK(steps_ == 0, "{}: identity pre-training must come before training, but {} steps are done", op, steps_);
  BRENIER_CHECK(static_cast<bool>(points), "{}: argument 'points' must be a callable sampler", op);
  BRENIER_CHECK(tolerance > 0 && max_iters >= 1, "{}: arguments 'tolerance' > 0 and 'max_iters' >= 1 required, got {} "
                "and {}", op, tolerance, max_iters);
  optim::AdamOptions options;
  options.lr = 1e-3;             // §1.5
  options.weight_decay = 1e-10;  // §1.5
  optim::Adam adam(m_->forward_params(), options);
  const nn::NamedTensors before = m_->state_dict();
  int64_t iters = 0;
  try {
    for (; iters < max_iters; ++iters) {
      const Tensor x = checked_batch(points(), "pretrain points", 0);
      adam.zero_grad();
      double mse = 0;
      {
        autograd::Tape tape;
        Var xv(x);
        const DenseIcnnWeights w = generated(false, xv, uniform_weights(x));
        Var loss = mean(square(m_->psi->map(xv, w, /*create_graph=*/true) - xv));
        mse = loss.item();
        if (mse < tolerance) break;  // as upstream: the loss before the step decides
        set_gradients(loss, adam.params(), 0, "identity pre-training MSE");
      }
      adam.step();
    }
  } catch (const Error&) {
    m_->load_state_dict(before);
    throw;
  }
  adam.zero_grad();
  m_->psi_bar->load_state_dict(m_->psi->state_dict());  // H̄ ← H, E_y ← E_x (§1.5)
  if (m_->embed_x) m_->embed_y->load_state_dict(m_->embed_x->state_dict());
  if (m_->context_x) m_->context_y->load_state_dict(m_->context_x->state_dict());
  if (m_->flat_x) m_->flat_y->load_state_dict(m_->flat_x->state_dict());
  pretrained_ = true;
  return iters;
}

HotetStepStats HotetSolver::step_mmb(const Tensor& x, const Tensor& y, int64_t step_number) {
  HotetStepStats stats;
  adam_->zero_grad();
  {
    autograd::Tape tape;
    Var xv(x), yv(y);
    Var wx = uniform_weights(x), wy = uniform_weights(y);
    const DenseIcnnWeights w = generated(false, xv, wx);
    const DenseIcnnWeights w_bar =
        config_.inverse_context == ContextFrom::Source ? generated(true, xv, wx) : generated(true, yv, wy);
    BatchedMmb forward = batched_mmb_objective(m_->psi->potential(xv, w), x, y);
    BatchedMmb inverse = batched_mmb_objective(m_->psi_bar->potential(yv, w_bar), y, x);
    Var loss = 0.5 * (forward.loss + inverse.loss);
    stats.loss = loss.item();
    stats.conjugate_loss = inverse.loss.item();
    stats.w2_estimate = 0.5 * (forward.w2_squared + inverse.w2_squared);
    stats.grad_norm = set_gradients(loss, adam_->params(), step_number, "MM-B loss");
  }
  adam_->step();
  adam_->zero_grad();
  return stats;
}

HotetStepStats HotetSolver::step_mmv2(const Tensor& x, const Tensor& y, const std::function<Tensor()>& fresh,
                                      int64_t step_number) {
  HotetStepStats stats;
  const nn::NamedTensors modules_before = m_->state_dict();
  const optim::NamedTensors adam_before = adam_->state(), adam_bar_before = adam_bar_->state();
  const Var xv(x);
  const Var wx = uniform_weights(x);
  auto inverse_weights = [&](const Tensor& targets) {
    if (config_.inverse_context == ContextFrom::Source) return generated(true, xv, wx);
    return generated(true, Var(targets), uniform_weights(targets));
  };
  try {
    // Outer step on (H, E_x) against the fixed inverse map Ŷ = ∇ψ̄(Y).
    Tensor y_inv;
    {
      autograd::Tape tape;
      DenseIcnnWeights w_bar;
      {
        NoGradGuard no_grad;
        w_bar = detach(inverse_weights(y));
      }
      y_inv = m_->psi_bar->map(Var(y), w_bar, /*create_graph=*/false).data();
    }
    adam_->zero_grad();
    {
      autograd::Tape tape;
      const DenseIcnnWeights w = generated(false, xv, wx);
      Var loss = mean(m_->psi->potential(xv, w)) - mean(m_->psi->potential(Var(y_inv), w));
      stats.loss = loss.item();
      {
        NoGradGuard no_grad;
        const double inner = mean(sum(Var(y_inv) * Var(y), {2})).item();
        const double sq = mean(sum(square(xv), {2})).item() + mean(sum(square(Var(y)), {2})).item();
        stats.w2_estimate = sq - 2.0 * (stats.loss + inner);
        check_w2_estimate(stats.w2_estimate, sq, step_name(config_.method), step_number, steps_);
      }
      stats.grad_norm = set_gradients(loss, adam_->params(), step_number, "potential loss L_psi");
    }
    adam_->step();
    adam_->zero_grad();

    // Inner steps on (H̄, E_y) with ψ's generated weights frozen, each on fresh target batches.
    DenseIcnnWeights w_frozen;
    {
      NoGradGuard no_grad;
      w_frozen = detach(generated(false, xv, wx));
    }
    for (int64_t k = 0; k < config_.inner_iters; ++k) {
      const Tensor y_k = checked_batch(fresh(), "fresh target", step_number);
      BRENIER_CHECK(y_k.size(0) == x.size(0), "{} (mmv2): fresh targets must hold B = {} sets, got {}", kStep,
                    x.size(0), y_k.str());
      adam_bar_->zero_grad();
      {
        autograd::Tape tape;
        Var yk(y_k);
        const DenseIcnnWeights w_bar =
            config_.inverse_context == ContextFrom::Source
                ? generated(true, xv, wx)
                : generated(true, yk, uniform_weights(y_k));
        Var mapped = m_->psi_bar->map(yk, w_bar, /*create_graph=*/true);  // ∇ψ̄(Y'), differentiable
        Var loss = mean(m_->psi->potential(mapped, w_frozen) - sum(mapped * yk, {2}));
        stats.conjugate_loss = loss.item();
        set_gradients(loss, adam_bar_->params(), step_number, "conjugate loss L_psi_bar");
      }
      adam_bar_->step();
      adam_bar_->zero_grad();
    }
  } catch (const Error&) {
    adam_->zero_grad();
    adam_bar_->zero_grad();
    m_->load_state_dict(modules_before);
    adam_->load_state(adam_before);
    adam_bar_->load_state(adam_bar_before);
    throw;
  }
  return stats;
}

HotetStepStats HotetSolver::step_w2gn(const Tensor& x, const Tensor& y, int64_t step_number) {
  HotetStepStats stats;
  adam_->zero_grad();
  adam_bar_->zero_grad();
  {
    autograd::Tape tape;
    Var xv(x), yv(y);
    const Var wx = uniform_weights(x);
    const DenseIcnnWeights w = generated(false, xv, wx);
    const DenseIcnnWeights w_bar = config_.inverse_context == ContextFrom::Source
                                       ? generated(true, xv, wx)
                                       : generated(true, yv, uniform_weights(y));
    Var y_push = m_->psi_bar->map(yv, w_bar, /*create_graph=*/true);  // ∇ψ̄(Y), differentiable for the cycle
    const Var y_fixed(y_push.data());
    Var potential_loss = mean(m_->psi->potential(xv, w)) - mean(m_->psi->potential(y_fixed, w));
    Var cycle = mean(square(m_->psi->map(y_push, w, /*create_graph=*/true) - yv));
    Var loss = potential_loss + config_.cycle_weight * cycle;
    if (config_.generated_l1 > 0) {
      Var l1;
      for (const DenseIcnnWeights* g : {&w, &w_bar})
        for (const Var& v : g->all()) l1 = l1.defined() ? l1 + sum(abs(v)) : sum(abs(v));
      loss = loss + config_.generated_l1 * l1;
    }
    stats.loss = loss.item();
    stats.conjugate_loss = cycle.item();
    {
      NoGradGuard no_grad;
      const double inner = mean(sum(y_fixed * yv, {2})).item();
      const double sq = mean(sum(square(xv), {2})).item() + mean(sum(square(yv), {2})).item();
      stats.w2_estimate = sq - 2.0 * (potential_loss.item() + inner);
      check_w2_estimate(stats.w2_estimate, sq, step_name(config_.method), step_number, steps_);
    }
    std::vector<Var> params = adam_->params();
    for (const Var& p : adam_bar_->params()) params.push_back(p);
    stats.grad_norm = set_gradients(loss, params, step_number, "W2GN loss");
  }
  adam_->step();
  adam_bar_->step();
  adam_->zero_grad();
  adam_bar_->zero_grad();
  return stats;
}

HotetStepStats HotetSolver::step(const Tensor& x_in, const Tensor& y_in, const std::function<Tensor()>& fresh_targets) {
  const int64_t step_number = steps_ + 1;
  const Tensor x = checked_batch(x_in, "source", step_number);
  const Tensor y = checked_batch(y_in, "target", step_number);
  BRENIER_CHECK(y.size(0) == x.size(0), "{} ({}): arguments 'x' and 'y' must hold the same number of sets, got {} and {}",
                kStep, name(config_.method), x.str(), y.str());
  BRENIER_CHECK(config_.method != HotetMethod::MMv2 || static_cast<bool>(fresh_targets),
                "{} (mmv2): argument 'fresh_targets' must be a callable sampler (the inner steps draw fresh target "
                "batches)",
                kStep);
  HotetStepStats stats = config_.method == HotetMethod::MMB    ? step_mmb(x, y, step_number)
                         : config_.method == HotetMethod::MMv2 ? step_mmv2(x, y, fresh_targets, step_number)
                                                               : step_w2gn(x, y, step_number);
  stats.step = step_number;
  steps_ = step_number;
  return stats;
}

HotetMaps HotetSolver::predict(const Tensor& sources, const Tensor& weights, const Tensor& targets) const {
  const char* op = "HotetSolver::predict";
  check_defined(sources, op, "sources");
  BRENIER_CHECK(is_floating(sources.dtype()) && (sources.dim() == 2 || sources.dim() == 3) &&
                    sources.size(-1) == config_.dim && sources.size(-2) >= 1,
                "{}: argument 'sources' must be a floating [B, n, {}] (or [n, {}]) sample with n >= 1, got {}", op,
                config_.dim, config_.dim, sources.str());
  Tensor x = (sources.dim() == 2 ? sources.reshape({1, sources.size(0), sources.size(1)}) : sources)
                 .to(config_.dtype);
  check_finite(x, op, "sources");
  x = x.to(config_.device);
  Tensor w = weights.defined() ? weights.to(config_.dtype).to(config_.device) : uniform_weights(x).data();
  if (w.dim() == 1 && x.size(0) == 1) w = w.reshape({1, w.size(0)});
  BRENIER_CHECK(config_.context_model != ContextModel::FlattenedSample || !weights.defined(),
                "{}: argument 'weights' is not supported by the Meta OT context (an MLP on a fixed-size unweighted "
                "sample); pass samples only",
                op);
  const bool need_targets =
      config_.inverse_context == ContextFrom::Target && config_.context_model != ContextModel::Constant;
  BRENIER_CHECK(!need_targets || targets.defined(),
                "{}: argument 'targets' is needed: this solver conditions ψ̄ on target samples (inverse_context = "
                "Target)",
                op);
  NoGradGuard no_grad;
  HotetMaps maps;
  maps.strong_convexity = config_.strong_convexity;
  const Var xv(x), wv(w);
  maps.forward = detach(generated(false, xv, wv));
  if (need_targets) {
    const Tensor t = (targets.dim() == 2 ? targets.reshape({1, targets.size(0), targets.size(1)}) : targets)
                         .to(config_.dtype)
                         .to(config_.device);
    maps.inverse = detach(generated(true, Var(t), uniform_weights(t)));
  } else {
    maps.inverse = detach(generated(true, xv, wv));
  }
  return maps;
}

namespace {

Tensor map_sets(const DenseIcnnWeights& w, double s, const Tensor& points, int64_t chunk_rows, const char* op) {
  check_defined(points, op, "x");
  const int64_t batch = w.final_layer.size(0), dim = w.quadratic[0].size(1);
  const bool flat = points.dim() == 2;
  BRENIER_CHECK(is_floating(points.dtype()) && (flat ? batch == 1 : points.dim() == 3 && points.size(0) == batch) &&
                    points.size(-1) == dim,
                "{}: argument 'x' must be a floating [{}, n, {}] batch (one set per predicted map{}), got {}", op,
                batch, dim, batch == 1 ? "; [n, D] also works" : "", points.str());
  BRENIER_CHECK(chunk_rows >= 1, "{}: argument 'chunk_rows' must be >= 1, got {}", op, chunk_rows);
  const DType dtype = w.final_layer.dtype();
  const Tensor x =
      (flat ? points.reshape({1, points.size(0), points.size(1)}) : points).to(dtype).to(w.final_layer.device());
  const int64_t n = x.size(1);
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < n; start += chunk_rows) {
    const int64_t stop = std::min(n, start + chunk_rows);
    autograd::Tape tape;
    Tensor chunk = (start == 0 && stop == n) ? x : prim::slice(x, 1, start, stop, 1);
    parts.push_back(hyper_icnn_map(Var(chunk), w, s, /*create_graph=*/false).data());
  }
  Tensor out = n == 0 ? x : parts.size() == 1 ? parts[0] : prim::concat(parts, 1);
  out = out.to(points.dtype()).to(points.device());
  return flat ? out.reshape({points.size(0), points.size(1)}) : out;
}

}  // namespace

Tensor HotetMaps::transport(const Tensor& x, int64_t chunk_rows) const {
  return map_sets(forward, strong_convexity, x, chunk_rows, "HotetMaps::transport");
}

Tensor HotetMaps::inverse_transport(const Tensor& y, int64_t chunk_rows) const {
  return map_sets(inverse, strong_convexity, y, chunk_rows, "HotetMaps::inverse_transport");
}

std::string HotetSolver::context_signature() const {
  if (config_.context_model == ContextModel::FlattenedSample)
    return fmt::format("meta-ot(points={},width={})", config_.meta_ot_points, config_.meta_ot_context_dim);
  return name(config_.context_model);
}

std::string HotetSolver::signature() const {
  const PointCloudTransformerConfig& e = config_.embedding;
  return fmt::format(
      "dim={};icnn=[{}];hyper=[{}];s={};nonneg_out={};embedding={};model_dim={};heads={};layers={};ff={};"
      "context_dim={};norm_first={};final_norm={};inverse_context={};dtype={}",
      config_.dim, join_sizes(config_.icnn_hidden), join_sizes(config_.hyper_hidden), config_.strong_convexity,
      config_.nonnegative_final_layer ? 1 : 0, context_signature(), e.model_dim,
      e.num_heads, e.num_layers, e.feedforward, e.context_dim, e.norm_first ? 1 : 0, e.final_residual_norm ? 1 : 0,
      config_.inverse_context == ContextFrom::Source ? "source" : "target", dtype_name(config_.dtype));
}

void HotetSolver::save(const std::string& path) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [key, t] : m_->state_dict()) tensors.emplace_back("model." + key, t);
  for (auto& [key, t] : adam_->state()) tensors.emplace_back("adam." + key, t);
  if (adam_bar_)
    for (auto& [key, t] : adam_bar_->state()) tensors.emplace_back("adam_bar." + key, t);
  const std::map<std::string, std::string> metadata{
      {"solver", "hotet"},
      {"method", name(config_.method)},
      {"signature", signature()},
      {"steps", std::to_string(steps_)},
      {"pretrained", pretrained_ ? "1" : "0"},
      {"seed", std::to_string(config_.seed)},
      {"lr", fmt::format("{}", config_.lr)},
      {"inner_iters", std::to_string(config_.inner_iters)},
  };
  io::save_checkpoint(path, tensors, metadata);
}

void HotetSolver::load(const std::string& path) {
  const char* op = "HotetSolver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  auto meta = [&](const std::string& key) {
    auto it = ck.metadata.find(key);
    BRENIER_CHECK(it != ck.metadata.end(), "{}: checkpoint '{}' has no '{}' metadata: not a HotetSolver checkpoint",
                  op, path, key);
    return it->second;
  };
  BRENIER_CHECK(meta("solver") == "hotet", "{}: checkpoint '{}' is from solver '{}', expected 'hotet'", op, path,
                meta("solver"));
  BRENIER_CHECK(meta("method") == name(config_.method),
                "{}: checkpoint '{}' was trained with method '{}', but this solver runs '{}'", op, path,
                meta("method"), name(config_.method));
  BRENIER_CHECK(meta("signature") == signature(),
                "{}: checkpoint '{}' holds a different model ({}) than this solver ({})", op, path, meta("signature"),
                signature());
  int64_t steps = 0;
  try {
    steps = std::stoll(meta("steps"));
  } catch (const std::exception&) {
    throw Error(fmt::format("{}: checkpoint '{}' has a non-integer 'steps' entry '{}'", op, path, meta("steps")));
  }
  const nn::NamedTensors old_modules = m_->state_dict();
  const optim::NamedTensors old_adam = adam_->state();
  const optim::NamedTensors old_adam_bar = adam_bar_ ? adam_bar_->state() : optim::NamedTensors{};
  try {
    m_->load_state_dict(with_prefix(ck.tensors, "model."));
    adam_->load_state(with_prefix(ck.tensors, "adam."));
    if (adam_bar_) adam_bar_->load_state(with_prefix(ck.tensors, "adam_bar."));
  } catch (const Error& e) {
    m_->load_state_dict(old_modules);
    adam_->load_state(old_adam);
    if (adam_bar_) adam_bar_->load_state(old_adam_bar);
    throw Error(fmt::format("{}: checkpoint '{}' does not fit this solver: {}", op, path, e.what()));
  }
  steps_ = steps;
  pretrained_ = meta("pretrained") == "1";
}

}  // namespace brenier::ot
