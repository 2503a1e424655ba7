// The W2 benchmark's solvers on DenseICNN potentials: steps, pre-training, maps, checkpoints (see w2_solver.h).
#include "ot/solvers/checkpoint_names.h"
#include "ot/solvers/w2_solver.h"
#include "ot/solvers/checked_gradients.h"
#include "ot/solvers/chunked_map.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "engine/backend/primitives.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "engine/optim/projection.h"
#include "engine/optim/schedule.h"
#include "ot/solvers/mmb.h"
#include "ot/solvers/w2_losses.h"
#include "ot/solvers/solver_device.h"

namespace brenier::ot {
namespace {

constexpr const char* kStep = "W2Solver::step";
// "W2Solver::step (<method>)": how a failed step names itself.
std::string step_name(W2Method method) { return fmt::format("{} ({})", kStep, name(method)); }

// Entries of `all` whose name starts with `prefix`, with the prefix removed.
std::vector<Var> concat_params(const DenseIcnn& a, const DenseIcnn& b) {
  std::vector<Var> params = a.parameters();
  for (const Var& p : b.parameters()) params.push_back(p);
  return params;
}

}  // namespace

W2Method parse_w2_method(std::string_view name) {
  if (name == "mmb") return W2Method::MMB;
  if (name == "mm") return W2Method::MM;
  if (name == "mmv2") return W2Method::MMv2;
  if (name == "w2gn") return W2Method::W2GN;
  throw Error(fmt::format("parse_w2_method: argument 'name' must be one of mmb, mm, mmv2, w2gn, got '{}'", name));
}

const char* name(W2Method method) {
  switch (method) {
    case W2Method::MMB: return "mmb";
    case W2Method::MM: return "mm";
    case W2Method::MMv2: return "mmv2";
    case W2Method::W2GN: return "w2gn";
  }
  return "unknown";
}

bool is_convex(W2Method method) { return method == W2Method::MMv2 || method == W2Method::W2GN; }

W2Solver::W2Solver(W2SolverConfig config) : config_(std::move(config)), gen_(config_.seed) {
  const char* op = "W2Solver";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  BRENIER_CHECK(config_.lr > 0 && std::isfinite(config_.lr), "{}: config 'lr' must be finite and > 0, got {}", op,
                config_.lr);
  BRENIER_CHECK(config_.batch >= 1, "{}: config 'batch' must be >= 1, got {}", op, config_.batch);
  BRENIER_CHECK(config_.iters >= 0, "{}: config 'iters' must be >= 0, got {}", op, config_.iters);
  BRENIER_CHECK(config_.inner_iters >= 1, "{}: config 'inner_iters' must be >= 1, got {}", op, config_.inner_iters);
  BRENIER_CHECK(is_floating(config_.dtype), "{}: config 'dtype' must be f32 or f64, got {}", op,
                dtype_name(config_.dtype));
  BRENIER_CHECK(config_.max_score_elements >= 1, "{}: config 'max_score_elements' must be >= 1, got {}", op,
                config_.max_score_elements);
  if (!config_.cycle_weight) config_.cycle_weight = static_cast<double>(config_.dim);
  BRENIER_CHECK(*config_.cycle_weight >= 0 && std::isfinite(*config_.cycle_weight),
                "{}: config 'cycle_weight' must be finite and >= 0, got {}", op, *config_.cycle_weight);
  BRENIER_CHECK(!config_.cosine_decay || config_.iters >= 1,
                "{}: config 'cosine_decay' needs 'iters' >= 1 (the decay's length), got {}", op, config_.iters);
  if (config_.hidden.empty()) config_.hidden = w2bench_hidden(config_.dim);

  DenseIcnnConfig net;
  net.dim = config_.dim;
  net.hidden = config_.hidden;
  net.rank = config_.rank;
  net.strong_convexity = config_.strong_convexity;
  net.init_std = config_.init_std;
  psi_ = std::make_unique<DenseIcnn>(net, gen_, config_.dtype);  // validates the network fields
  psi_bar_ = std::make_unique<DenseIcnn>(net, gen_, config_.dtype);
  // Initialised on the host from gen_ (the same weights on every device for a seed), then moved.
  move_to_config_device({psi_.get(), psi_bar_.get()}, config_.device, op);

  optim::AdamOptions adam;
  adam.lr = config_.lr;
  const bool separate = config_.method == W2Method::MM || config_.method == W2Method::MMv2;
  if (separate) {
    adam_ = std::make_unique<optim::Adam>(psi_->parameters(), adam);
    adam_bar_ = std::make_unique<optim::Adam>(psi_bar_->parameters(), adam);
  } else {
    adam_ = std::make_unique<optim::Adam>(concat_params(*psi_, *psi_bar_), adam);
  }
  // Projected gradient: the convex weights are clamped ≥ 0 after every step of their optimizer.
  if (is_convex(config_.method)) {
    for (const Var& w : psi_->convex_weights()) adam_->add_projection(w, optim::clamp_min_projection(0.0));
    optim::Adam& bar = separate ? *adam_bar_ : *adam_;
    for (const Var& w : psi_bar_->convex_weights()) bar.add_projection(w, optim::clamp_min_projection(0.0));
  }
}

IdentityPretrainResult W2Solver::pretrain() {
  BRENIER_CHECK(steps_ == 0,
                "W2Solver::pretrain: identity pre-training must come before training, but {} steps are done",
                steps_);
  IdentityPretrainResult result = pretrain_identity(*psi_, config_.pretrain, gen_, is_convex(config_.method));
  psi_bar_->load_state_dict(psi_->state_dict());
  pretrained_ = true;
  return result;
}

Tensor W2Solver::draw(const Sampler& sampler, const char* which, int64_t step_number) const {
  Tensor t = sampler(config_.batch);
  BRENIER_CHECK(t.defined() && is_floating(t.dtype()) && t.dim() == 2 && t.size(0) >= 1 && t.size(1) == config_.dim,
                "{} ({}): the {} sampler must return a floating [n, {}] batch with n >= 1, got {} at step {}", kStep,
                name(config_.method), which, config_.dim, t.defined() ? t.str() : "an undefined tensor", step_number);
  t = t.to(config_.dtype);
  try {
    check_finite(t, kStep, which);  // on the sampler's device (a host batch is checked before it moves)
  } catch (const Error& e) {
    throw Error(fmt::format("{} ({}): training stopped at step {}: the {} batch holds a NaN or Inf ({}); the "
                            "networks are left as after step {}",
                            kStep, name(config_.method), step_number, which, e.what(), steps_));
  }
  return t.to(config_.device);
}

double W2Solver::set_gradients(const Var& loss, const std::vector<Var>& params, int64_t step_number,
                               const char* what) {
  const std::string who = step_name(config_.method);
  return set_checked_gradients(loss, params, who, step_number, steps_, what);
}

W2StepStats W2Solver::step_mmb(const Tensor& x, const Tensor& y, int64_t step_number) {
  W2StepStats stats;
  adam_->zero_grad();
  {
    autograd::Tape tape;  // frees this step's graph when the scope ends
    MmbObjective forward = mmb_objective((*psi_)(Var(x)), x, y, config_.max_score_elements);
    MmbObjective inverse = mmb_objective((*psi_bar_)(Var(y)), y, x, config_.max_score_elements);
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

W2StepStats W2Solver::step_mm(const Tensor& x, const Tensor& y, const Sampler& target, int64_t step_number) {
  W2StepStats stats;
  // The step updates ψ once and ψ̄ inner_iters times; a failure part-way restores this snapshot.
  const nn::NamedTensors psi_before = psi_->state_dict(), psi_bar_before = psi_bar_->state_dict();
  const optim::NamedTensors adam_before = adam_->state(), adam_bar_before = adam_bar_->state();
  try {
    // Outer step on ψ against the fixed inverse map Ŷ = ∇ψ̄(Y).
    Tensor y_inv;
    {
      autograd::Tape tape;
      y_inv = psi_bar_->map(Var(y), /*create_graph=*/false).data();
    }
    adam_->zero_grad();
    {
      autograd::Tape tape;
      PotentialLoss outer = mm_potential_loss(trainable_potential(*psi_), x, y, y_inv);
      stats.loss = outer.loss.item();
      stats.w2_estimate = outer.w2_squared;
      check_w2_estimate(outer.w2_squared, outer.second_moments, step_name(config_.method), step_number, steps_);
      stats.grad_norm = set_gradients(outer.loss, adam_->params(), step_number, "potential loss L_psi");
    }
    adam_->step();
    adam_->zero_grad();

    // Inner steps on ψ̄ with ψ frozen, each on a fresh target batch.
    const DenseIcnnPotential psi_frozen = frozen_potential(*psi_);
    const DenseIcnnPotential psi_bar = trainable_potential(*psi_bar_);
    for (int64_t k = 0; k < config_.inner_iters; ++k) {
      const Tensor y_k = draw(target, "target", step_number);
      adam_bar_->zero_grad();
      {
        autograd::Tape tape;
        Var inner = mm_conjugate_loss(psi_frozen, psi_bar, y_k);
        stats.conjugate_loss = inner.item();
        set_gradients(inner, adam_bar_->params(), step_number, "conjugate loss L_psi_bar");
      }
      adam_bar_->step();
      adam_bar_->zero_grad();
    }
  } catch (const Error&) {
    adam_->zero_grad();
    adam_bar_->zero_grad();
    psi_->load_state_dict(psi_before);
    psi_bar_->load_state_dict(psi_bar_before);
    adam_->load_state(adam_before);
    adam_bar_->load_state(adam_bar_before);
    throw;
  }
  return stats;
}

W2StepStats W2Solver::step_w2gn(const Tensor& x, const Tensor& y, int64_t step_number) {
  W2StepStats stats;
  adam_->zero_grad();
  {
    autograd::Tape tape;
    W2gnLoss loss =
        w2gn_loss(trainable_potential(*psi_), trainable_potential(*psi_bar_), x, y, *config_.cycle_weight);
    stats.loss = loss.loss.item();
    stats.cycle = loss.cycle;
    stats.w2_estimate = loss.w2_squared;
    check_w2_estimate(loss.w2_squared, loss.second_moments, step_name(config_.method), step_number, steps_);
    stats.grad_norm = set_gradients(loss.loss, adam_->params(), step_number, "W2GN loss");
  }
  adam_->step();
  adam_->zero_grad();
  return stats;
}

W2StepStats W2Solver::step(const Sampler& source, const Sampler& target) {
  BRENIER_CHECK(static_cast<bool>(source) && static_cast<bool>(target),
                "{} ({}): arguments 'source' and 'target' must be callable samplers", kStep, name(config_.method));
  const int64_t step_number = steps_ + 1;
  const Tensor x = draw(source, "source", step_number);
  const Tensor y = draw(target, "target", step_number);
  if (config_.cosine_decay) {  // this step's lr, for every optimizer step it makes (MM's inner ones too)
    const optim::WarmupCosine schedule(config_.lr, 0, config_.iters);
    schedule.apply(*adam_, steps_);
    if (adam_bar_) schedule.apply(*adam_bar_, steps_);
  }
  W2StepStats stats;
  switch (config_.method) {
    case W2Method::MMB: stats = step_mmb(x, y, step_number); break;
    case W2Method::MM:
    case W2Method::MMv2: stats = step_mm(x, y, target, step_number); break;
    case W2Method::W2GN: stats = step_w2gn(x, y, step_number); break;
  }
  stats.step = step_number;
  steps_ = step_number;
  return stats;
}

void W2Solver::train(const Sampler& source, const Sampler& target,
                     const std::function<void(const W2StepStats&)>& on_step) {
  BRENIER_CHECK(static_cast<bool>(source) && static_cast<bool>(target),
                "W2Solver::train: arguments 'source' and 'target' must be callable samplers");
  if (config_.pretrain.enabled && steps_ == 0 && !pretrained_) pretrain();
  for (int64_t i = 0; i < config_.iters; ++i) {
    W2StepStats stats = step(source, target);
    if (on_step) on_step(stats);
  }
}

Tensor W2Solver::map_in_chunks(const DenseIcnn& net, const Tensor& points, int64_t chunk_rows, const char* op) const {
  check_defined(points, op, "x");
  BRENIER_CHECK(is_floating(points.dtype()) && points.dim() == 2 && points.size(1) == config_.dim,
                "{}: argument 'x' must be a floating [n, {}] batch (the solver's dim), got {}", op, config_.dim,
                points.str());
  const Tensor pts = points.to(config_.dtype).to(config_.device);
  if (pts.size(0) == 0) return Tensor::empty({0, config_.dim}, config_.dtype, points.device());
  return ot::map_in_chunks([&](const Var& x) { return net.map(x, /*create_graph=*/false); }, pts, chunk_rows, op)
      .to(points.device());
}

Tensor W2Solver::transport(const Tensor& x, int64_t chunk_rows) const {
  return map_in_chunks(*psi_, x, chunk_rows, "W2Solver::transport");
}

Tensor W2Solver::inverse_transport(const Tensor& y, int64_t chunk_rows) const {
  return map_in_chunks(*psi_bar_, y, chunk_rows, "W2Solver::inverse_transport");
}

void W2Solver::save(const std::string& path) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [key, t] : psi_->state_dict()) tensors.emplace_back("psi." + key, t);
  for (auto& [key, t] : psi_bar_->state_dict()) tensors.emplace_back("psi_bar." + key, t);
  for (auto& [key, t] : adam_->state()) tensors.emplace_back("adam." + key, t);
  if (adam_bar_)
    for (auto& [key, t] : adam_bar_->state()) tensors.emplace_back("adam_bar." + key, t);
  std::map<std::string, std::string> metadata{
      {"solver", "w2"},
      {"method", name(config_.method)},
      {"dim", std::to_string(config_.dim)},
      {"hidden", join_sizes(config_.hidden)},
      {"rank", std::to_string(config_.rank)},
      {"steps", std::to_string(steps_)},
      {"pretrained", pretrained_ ? "1" : "0"},
      {"seed", std::to_string(config_.seed)},
      {"lr", fmt::format("{}", config_.lr)},
      {"cosine_decay", config_.cosine_decay ? "1" : "0"},
      {"dtype", dtype_name(config_.dtype)},
      {"strong_convexity", fmt::format("{}", config_.strong_convexity)},
      {"inner_iters", std::to_string(config_.inner_iters)},
      {"cycle_weight", fmt::format("{}", *config_.cycle_weight)},
  };
  io::save_checkpoint(path, tensors, metadata);
}

void W2Solver::load(const std::string& path) {
  const char* op = "W2Solver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  auto meta = [&](const std::string& key) {
    auto it = ck.metadata.find(key);
    BRENIER_CHECK(it != ck.metadata.end(), "{}: checkpoint '{}' has no '{}' metadata: not a W2Solver checkpoint", op,
                  path, key);
    return it->second;
  };
  BRENIER_CHECK(meta("solver") == "w2", "{}: checkpoint '{}' is from solver '{}', expected 'w2' (a W2Solver)", op,
                path, meta("solver"));
  BRENIER_CHECK(meta("method") == name(config_.method),
                "{}: checkpoint '{}' was trained with method '{}', but this solver runs '{}'", op, path, meta("method"),
                name(config_.method));
  BRENIER_CHECK(meta("dim") == std::to_string(config_.dim) && meta("hidden") == join_sizes(config_.hidden) &&
                    meta("rank") == std::to_string(config_.rank),
                "{}: checkpoint '{}' holds dim {} with hidden sizes [{}] and rank {}, but this solver has dim {}, "
                "[{}] and rank {}",
                op, path, meta("dim"), meta("hidden"), meta("rank"), config_.dim, join_sizes(config_.hidden),
                config_.rank);
  int64_t steps = 0;
  try {
    steps = std::stoll(meta("steps"));
  } catch (const std::exception&) {
    throw Error(fmt::format("{}: checkpoint '{}' has a non-integer 'steps' entry '{}'", op, path, meta("steps")));
  }
  const bool pretrained = meta("pretrained") == "1";

  // All or nothing: restore the previous state when any part fails to load.
  const nn::NamedTensors old_psi = psi_->state_dict(), old_psi_bar = psi_bar_->state_dict();
  const optim::NamedTensors old_adam = adam_->state();
  const optim::NamedTensors old_adam_bar = adam_bar_ ? adam_bar_->state() : optim::NamedTensors{};
  try {
    psi_->load_state_dict(with_prefix(ck.tensors, "psi."));
    psi_bar_->load_state_dict(with_prefix(ck.tensors, "psi_bar."));
    adam_->load_state(with_prefix(ck.tensors, "adam."));
    if (adam_bar_) adam_bar_->load_state(with_prefix(ck.tensors, "adam_bar."));
  } catch (const Error& e) {
    psi_->load_state_dict(old_psi);
    psi_bar_->load_state_dict(old_psi_bar);
    adam_->load_state(old_adam);
    if (adam_bar_) adam_bar_->load_state(old_adam_bar);
    throw Error(fmt::format("{}: checkpoint '{}' does not fit this solver: {}", op, path, e.what()));
  }
  steps_ = steps;
  pretrained_ = pretrained;
}

}  // namespace brenier::ot
