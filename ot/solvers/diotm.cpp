// DIOTM's solver: alternating potential and map updates, maps, checkpoints (see diotm.h).
#include "ot/solvers/checkpoint_names.h"
#include "ot/solvers/diotm.h"

#include <cmath>
#include <map>
#include <utility>

#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "ot/layers/conv_time_potential.h"
#include "ot/layers/residual_mlp.h"
#include "ot/layers/time_potential.h"
#include "ot/solvers/checked_gradients.h"
#include "ot/solvers/chunked_map.h"
#include "ot/solvers/solver_device.h"

namespace brenier::ot {
namespace {

constexpr const char* kStep = "DiotmSolver::step";

// Everything a step changes before its last gradient check, so a failure can put it back.
struct Snapshot {
  nn::NamedTensors forward, backward, potential;
  optim::NamedTensors map_adam, potential_adam;
  uint64_t time_offset = 0;
};

// "mlp", or "conv CxHxW b<channels>": what a checkpoint must match besides the widths.
std::string architecture_key(const DiotmConfig& c) {
  if (c.architecture == DiotmArchitecture::Mlp) return "mlp";
  return fmt::format("conv {}x{}x{} b{}", c.image.channels, c.image.height, c.image.width, c.conv_channels);
}

}  // namespace

DiotmSolver::DiotmSolver(DiotmConfig config)
    : config_(std::move(config)), init_gen_(config_.seed), time_gen_(config_.seed) {
  const char* op = "DiotmSolver";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  BRENIER_CHECK(std::isfinite(config_.alpha) && config_.alpha > 0, "{}: config 'alpha' must be finite and > 0, got {}",
                op, config_.alpha);
  BRENIER_CHECK(std::isfinite(config_.reg_weight) && config_.reg_weight >= 0,
                "{}: config 'reg_weight' (λ) must be finite and >= 0, got {}", op, config_.reg_weight);
  BRENIER_CHECK(config_.potential_steps >= 1, "{}: config 'potential_steps' (K_V) must be >= 1, got {}", op,
                config_.potential_steps);
  BRENIER_CHECK(config_.map_steps >= 1, "{}: config 'map_steps' (K_T) must be >= 1, got {}", op, config_.map_steps);
  for (auto [value, field] : {std::pair{config_.map_lr, "map_lr"}, std::pair{config_.potential_lr, "potential_lr"}})
    BRENIER_CHECK(std::isfinite(value) && value > 0, "{}: config '{}' must be finite and > 0, got {}", op, field, value);
  BRENIER_CHECK(config_.beta1 >= 0 && config_.beta1 < 1 && config_.beta2 >= 0 && config_.beta2 < 1,
                "{}: config 'beta1' and 'beta2' must be in [0, 1), got {} and {}", op, config_.beta1, config_.beta2);
  BRENIER_CHECK(config_.batch >= 1, "{}: config 'batch' must be >= 1, got {}", op, config_.batch);
  BRENIER_CHECK(is_floating(config_.dtype), "{}: config 'dtype' must be f32 or f64, got {}", op,
                dtype_name(config_.dtype));
  // The t draws get their own Philox stream, far from the weights' (2^62 elements apart).
  time_gen_.set_state(config_.seed, uint64_t{1} << 62);

  if (config_.architecture == DiotmArchitecture::Mlp) {
    ResidualMlpConfig map;
    map.dim = config_.dim;
    map.hidden = config_.map_hidden;
    map.zero_init_output = config_.zero_init_maps;
    forward_ = std::make_unique<ResidualMlpMap>(map, init_gen_, config_.dtype);
    backward_ = std::make_unique<ResidualMlpMap>(map, init_gen_, config_.dtype);
    TimePotentialConfig pot;
    pot.dim = config_.dim;
    pot.hidden = config_.potential_hidden;
    pot.time = config_.time;
    potential_ = std::make_unique<TimePotential>(pot, init_gen_, config_.dtype);
  } else {
    BRENIER_CHECK(config_.dim == config_.image.numel(),
                  "{}: config 'dim' must be the image's C·H·W = {} for the conv architecture, got {}", op,
                  config_.image.numel(), config_.dim);
    ConvUNetConfig map;
    map.image = config_.image;
    map.base_channels = config_.conv_channels;
    map.zero_init_output = config_.zero_init_maps;
    forward_ = std::make_unique<ConvUNetMap>(map, init_gen_, config_.dtype);
    backward_ = std::make_unique<ConvUNetMap>(map, init_gen_, config_.dtype);
    ConvTimePotentialConfig pot;
    pot.image = config_.image;
    pot.base_channels = config_.conv_channels;
    pot.time = config_.time;
    potential_ = std::make_unique<ConvTimePotential>(pot, init_gen_, config_.dtype);
  }
  sinusoidal_time_embedding(Var(Tensor::zeros({1}, config_.dtype)), config_.time);  // validates config.time
  // Initialised on the host from init_gen_ (the same weights on every device for a seed), then moved.
  move_to_config_device({forward_.get(), backward_.get(), potential_.get()}, config_.device, op);

  std::vector<Var> map_params = forward_->parameters();
  for (const Var& p : backward_->parameters()) map_params.push_back(p);
  optim::AdamOptions adam;
  adam.beta1 = config_.beta1;
  adam.beta2 = config_.beta2;
  adam.lr = config_.map_lr;
  map_adam_ = std::make_unique<optim::Adam>(map_params, adam);
  adam.lr = config_.potential_lr;
  potential_adam_ = std::make_unique<optim::Adam>(potential_->parameters(), adam);
}

TimePotentialFn DiotmSolver::potential_fn() const {
  const DiotmPotential* v = potential_.get();
  return [v](const Var& t, const Var& z) { return v->forward(t, z); };
}

Tensor DiotmSolver::draw(const Sampler& sampler, const char* which, int64_t step_number) const {
  Tensor t = sampler(config_.batch);
  BRENIER_CHECK(t.defined() && is_floating(t.dtype()) && t.dim() == 2 && t.size(0) >= 1 && t.size(1) == config_.dim,
                "{}: the {} sampler must return a floating [n, {}] batch with n >= 1, got {} at step {}", kStep, which,
                config_.dim, t.defined() ? t.str() : "an undefined tensor", step_number);
  t = t.to(config_.dtype);
  try {
    check_finite(t, kStep, which);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: training stopped at step {}: the {} batch holds a NaN or Inf ({}); the networks are "
                            "left as after step {}",
                            kStep, step_number, which, e.what(), steps_));
  }
  return t.to(config_.device);
}

void DiotmSolver::potential_update(const Sampler& source, const Sampler& target, int64_t step_number,
                                   DiotmStepStats& stats) {
  const Tensor x = draw(source, "source", step_number), y = draw(target, "target", step_number);
  const Tensor t_x = time_gen_.uniform({x.size(0)}, 0.0, 1.0, config_.dtype, config_.device);
  const Tensor t_y = time_gen_.uniform({y.size(0)}, 0.0, 1.0, config_.dtype, config_.device);
  Tensor x_t, y_t;
  {
    NoGradGuard no_grad;  // the maps are fixed in the potential's update
    x_t = forward_interpolant(Var(x), forward_->forward(Var(x)), Var(t_x)).data();
    y_t = backward_interpolant(backward_->forward(Var(y)), Var(y), Var(t_y)).data();
  }
  potential_adam_->zero_grad();
  {
    autograd::Tape tape;
    const TimePotentialFn v = potential_fn();
    Var loss = mean(v(Var(t_x), Var(x_t))) - mean(v(Var(t_y), Var(y_t)));
    stats.regularizer = 0;
    if (config_.regularizer != DiotmRegularizer::None) {
      Tensor t_all, z_all;
      {
        NoGradGuard no_grad;
        t_all = concat({Var(t_x), Var(t_y)}, 0).data();
        z_all = concat({Var(x_t), Var(y_t)}, 0).data();
      }
      const Var reg = diotm_regularizer(config_.regularizer, config_.hjb_norm, v, t_all, z_all, config_.alpha);
      stats.regularizer = reg.item();
      loss = loss + config_.reg_weight * reg;
    }
    stats.potential_loss = loss.item();
    stats.potential_grad_norm = set_checked_gradients(loss, potential_adam_->params(), kStep, step_number, steps_,
                                                      "potential loss");
  }
  potential_adam_->step();
  potential_adam_->zero_grad();
}

void DiotmSolver::map_update(const Sampler& source, const Sampler& target, int64_t step_number, DiotmStepStats& stats) {
  const Tensor x = draw(source, "source", step_number), y = draw(target, "target", step_number);
  const Tensor t_x = time_gen_.uniform({x.size(0)}, 0.0, 1.0, config_.dtype, config_.device);
  const Tensor t_y = time_gen_.uniform({y.size(0)}, 0.0, 1.0, config_.dtype, config_.device);
  map_adam_->zero_grad();
  {
    autograd::Tape tape;
    const Var xv(x), yv(y);
    const Var tx = forward_->forward(xv), sy = backward_->forward(yv);
    const Var loss = diotm_objective(potential_fn(), xv, tx, Var(t_x), yv, sy, Var(t_y), config_.alpha);
    stats.objective = loss.item();
    {
      NoGradGuard no_grad;
      stats.transport_cost = mean(sum(square(xv - tx), {1})).item();
    }
    stats.map_grad_norm = set_checked_gradients(loss, map_adam_->params(), kStep, step_number, steps_, "map objective");
  }
  map_adam_->step();
  map_adam_->zero_grad();
}

DiotmStepStats DiotmSolver::step(const Sampler& source, const Sampler& target) {
  BRENIER_CHECK(static_cast<bool>(source) && static_cast<bool>(target),
                "{}: arguments 'source' and 'target' must be callable samplers", kStep);
  const int64_t step_number = steps_ + 1;
  // The last gradient check comes before the last map update, so the potential (and, with K_T > 1, the
  // maps) may have moved when it fails: keep what is needed to put them back.
  Snapshot before;
  before.potential = potential_->state_dict();
  before.potential_adam = potential_adam_->state();
  before.time_offset = time_gen_.offset();
  if (config_.map_steps > 1) {
    before.forward = forward_->state_dict();
    before.backward = backward_->state_dict();
    before.map_adam = map_adam_->state();
  }
  DiotmStepStats stats;
  try {
    for (int64_t k = 0; k < config_.potential_steps; ++k) potential_update(source, target, step_number, stats);
    for (int64_t k = 0; k < config_.map_steps; ++k) map_update(source, target, step_number, stats);
  } catch (const Error&) {
    potential_adam_->zero_grad();
    map_adam_->zero_grad();
    potential_->load_state_dict(before.potential);
    potential_adam_->load_state(before.potential_adam);
    if (config_.map_steps > 1) {
      forward_->load_state_dict(before.forward);
      backward_->load_state_dict(before.backward);
      map_adam_->load_state(before.map_adam);
    }
    time_gen_.set_state(time_gen_.seed(), before.time_offset);
    throw;
  }
  stats.step = step_number;
  steps_ = step_number;
  return stats;
}

Tensor DiotmSolver::transport(const Tensor& x, int64_t chunk_rows) const {
  const char* op = "DiotmSolver::transport";
  check_defined(x, op, "x");
  BRENIER_CHECK(is_floating(x.dtype()) && x.dim() == 2 && x.size(1) == config_.dim,
                "{}: argument 'x' must be a floating [n, {}] batch (the solver's dim), got {}", op, config_.dim,
                x.str());
  if (x.size(0) == 0) return Tensor::empty({0, config_.dim}, config_.dtype, x.device());
  const DiotmMap* m = forward_.get();
  return map_in_chunks([m](const Var& v) { return m->forward(v); }, x.to(config_.dtype).to(config_.device),
                       chunk_rows, op)
      .to(x.device());
}

Tensor DiotmSolver::inverse_transport(const Tensor& y, int64_t chunk_rows) const {
  const char* op = "DiotmSolver::inverse_transport";
  check_defined(y, op, "y");
  BRENIER_CHECK(is_floating(y.dtype()) && y.dim() == 2 && y.size(1) == config_.dim,
                "{}: argument 'y' must be a floating [n, {}] batch (the solver's dim), got {}", op, config_.dim,
                y.str());
  if (y.size(0) == 0) return Tensor::empty({0, config_.dim}, config_.dtype, y.device());
  const DiotmMap* m = backward_.get();
  return map_in_chunks([m](const Var& v) { return m->forward(v); }, y.to(config_.dtype).to(config_.device),
                       chunk_rows, op)
      .to(y.device());
}

Tensor DiotmSolver::interpolate(const Tensor& x, double t) const {
  BRENIER_CHECK(std::isfinite(t) && t >= 0 && t <= 1, "DiotmSolver::interpolate: argument 't' must be in [0, 1], got {}",
                t);
  const Tensor mapped = transport(x);
  NoGradGuard no_grad;
  const Tensor xs = x.to(config_.dtype);
  return ((1.0 - t) * Var(xs) + t * Var(mapped)).data();
}

Tensor DiotmSolver::potential_values(const Tensor& t, const Tensor& x) const {
  const char* op = "DiotmSolver::potential_values";
  check_defined(t, op, "t");
  check_defined(x, op, "x");
  NoGradGuard no_grad;
  return potential_->forward(Var(t.to(config_.dtype).to(config_.device)), Var(x.to(config_.dtype).to(config_.device)))
      .data()
      .to(x.device());
}

void DiotmSolver::save(const std::string& path) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [key, t] : forward_->state_dict()) tensors.emplace_back("forward." + key, t);
  for (auto& [key, t] : backward_->state_dict()) tensors.emplace_back("backward." + key, t);
  for (auto& [key, t] : potential_->state_dict()) tensors.emplace_back("potential." + key, t);
  for (auto& [key, t] : map_adam_->state()) tensors.emplace_back("map_adam." + key, t);
  for (auto& [key, t] : potential_adam_->state()) tensors.emplace_back("potential_adam." + key, t);
  std::map<std::string, std::string> metadata{
      {"solver", "diotm"},
      {"dim", std::to_string(config_.dim)},
      {"architecture", architecture_key(config_)},
      {"map_hidden", join_sizes(config_.map_hidden)},
      {"potential_hidden", join_sizes(config_.potential_hidden)},
      {"time_dim", std::to_string(config_.time.dim)},
      {"steps", std::to_string(steps_)},
      {"time_seed", std::to_string(time_gen_.seed())},
      {"time_offset", std::to_string(time_gen_.offset())},
      {"seed", std::to_string(config_.seed)},
      {"alpha", fmt::format("{}", config_.alpha)},
      {"regularizer", name(config_.regularizer)},
      {"hjb_norm", name(config_.hjb_norm)},
      {"reg_weight", fmt::format("{}", config_.reg_weight)},
      {"dtype", dtype_name(config_.dtype)},
  };
  io::save_checkpoint(path, tensors, metadata);
}

void DiotmSolver::load(const std::string& path) {
  const char* op = "DiotmSolver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  auto meta = [&](const std::string& key) {
    auto it = ck.metadata.find(key);
    BRENIER_CHECK(it != ck.metadata.end(), "{}: checkpoint '{}' has no '{}' metadata: not a DiotmSolver checkpoint", op,
                  path, key);
    return it->second;
  };
  BRENIER_CHECK(meta("solver") == "diotm", "{}: checkpoint '{}' is from solver '{}', expected 'diotm'", op, path,
                meta("solver"));
  // Checkpoints written before the conv architecture existed are MLP ones.
  const std::string architecture = ck.metadata.count("architecture") ? ck.metadata.at("architecture") : "mlp";
  BRENIER_CHECK(architecture == architecture_key(config_),
                "{}: checkpoint '{}' holds the '{}' architecture; this solver has '{}'", op, path, architecture,
                architecture_key(config_));
  BRENIER_CHECK(meta("dim") == std::to_string(config_.dim) && meta("map_hidden") == join_sizes(config_.map_hidden) &&
                    meta("potential_hidden") == join_sizes(config_.potential_hidden) &&
                    meta("time_dim") == std::to_string(config_.time.dim),
                "{}: checkpoint '{}' holds dim {}, map widths [{}], potential widths [{}], time embedding {}; this "
                "solver has dim {}, [{}], [{}], {}",
                op, path, meta("dim"), meta("map_hidden"), meta("potential_hidden"), meta("time_dim"), config_.dim,
                join_sizes(config_.map_hidden), join_sizes(config_.potential_hidden), config_.time.dim);
  int64_t steps = 0;
  uint64_t time_seed = 0, time_offset = 0;
  try {
    steps = std::stoll(meta("steps"));
    time_seed = std::stoull(meta("time_seed"));
    time_offset = std::stoull(meta("time_offset"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    throw Error(fmt::format("{}: checkpoint '{}' has a non-integer 'steps', 'time_seed' or 'time_offset' entry", op,
                            path));
  }
  const nn::NamedTensors old_f = forward_->state_dict(), old_b = backward_->state_dict(),
                         old_v = potential_->state_dict();
  const optim::NamedTensors old_ma = map_adam_->state(), old_pa = potential_adam_->state();
  try {
    forward_->load_state_dict(with_prefix(ck.tensors, "forward."));
    backward_->load_state_dict(with_prefix(ck.tensors, "backward."));
    potential_->load_state_dict(with_prefix(ck.tensors, "potential."));
    map_adam_->load_state(with_prefix(ck.tensors, "map_adam."));
    potential_adam_->load_state(with_prefix(ck.tensors, "potential_adam."));
  } catch (const Error& e) {
    forward_->load_state_dict(old_f);
    backward_->load_state_dict(old_b);
    potential_->load_state_dict(old_v);
    map_adam_->load_state(old_ma);
    potential_adam_->load_state(old_pa);
    throw Error(fmt::format("{}: checkpoint '{}' does not fit this solver: {}", op, path, e.what()));
  }
  steps_ = steps;
  time_gen_.set_state(time_seed, time_offset);  // the t stream continues where the checkpoint left it
}

}  // namespace brenier::ot
