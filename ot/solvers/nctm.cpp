// NctmSolver: the NOT max–min objective on conditional networks, its two-phase schedule and checkpoints
// (see nctm.h).
#include "ot/solvers/checkpoint_names.h"
#include "ot/solvers/nctm.h"

#include <cmath>
#include <map>
#include <utility>

#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "ot/solvers/checked_gradients.h"
#include "ot/solvers/solver_device.h"

namespace brenier::ot {
namespace {

constexpr const char* kWho = "NctmSolver::train_step";

// Rows repeated `times` each, i-major: [n, k] → [n·times, k].
Var repeat_rows(const Var& v, int64_t times) {
  if (times == 1) return v;
  const int64_t n = v.size(0), k = v.size(1);
  return reshape(broadcast_to(unsqueeze(v, 1), {n, times, k}), {n * times, k});
}

bool finite_sum(const Tensor& t) {
  NoGradGuard no_grad;
  return std::isfinite(sum(Var(t.to(DType::F64))).item());
}

}  // namespace

const char* name(NctmPhase phase) {
  switch (phase) {
    case NctmPhase::Pretrain: return "pretrain";
    case NctmPhase::Warmup: return "warmup";
    case NctmPhase::Alternating: return "alternating";
  }
  return "?";
}

// All trained modules under one root, so state_dict / load_state_dict cover everything at once.
struct NctmSolver::Modules : nn::Module {
  std::shared_ptr<ConditionEncoder> map_encoder, critic_encoder;  // the same object when shared
  std::shared_ptr<ConditionalNetwork> map, critic;
};

NctmSolver::NctmSolver(NctmSolverConfig config)
    : config_(std::move(config)), init_gen_(config_.seed), noise_gen_(config_.seed ^ 0x6E63746DULL) {
  const char* op = "NctmSolver";
  const NctmSolverConfig& c = config_;
  BRENIER_CHECK(c.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, c.dim);
  BRENIER_CHECK(c.noise_dim >= 0, "{}: config 'noise_dim' must be >= 0, got {}", op, c.noise_dim);
  BRENIER_CHECK(c.noise_samples >= 1, "{}: config 'noise_samples' must be >= 1, got {}", op, c.noise_samples);
  BRENIER_CHECK(std::isfinite(c.noise_std) && c.noise_std > 0, "{}: config 'noise_std' must be finite and > 0, got {}",
                op, c.noise_std);
  BRENIER_CHECK(std::isfinite(c.gamma) && c.gamma >= 0, "{}: config 'gamma' must be finite and >= 0, got {}", op,
                c.gamma);
  BRENIER_CHECK(c.gamma == 0 || (c.noise_dim > 0 && c.noise_samples >= 2),
                "{}: config 'gamma' = {} (weak cost) needs noise: 'noise_dim' >= 1 and 'noise_samples' >= 2, got {} "
                "and {}",
                op, c.gamma, c.noise_dim, c.noise_samples);
  BRENIER_CHECK(c.map_steps >= 1, "{}: config 'map_steps' must be >= 1, got {}", op, c.map_steps);
  BRENIER_CHECK(std::isfinite(c.map_lr) && c.map_lr > 0, "{}: config 'map_lr' must be finite and > 0, got {}", op,
                c.map_lr);
  BRENIER_CHECK(std::isfinite(c.critic_lr) && c.critic_lr > 0, "{}: config 'critic_lr' must be finite and > 0, got {}",
                op, c.critic_lr);
  BRENIER_CHECK(std::isfinite(c.weight_decay) && c.weight_decay >= 0,
                "{}: config 'weight_decay' must be finite and >= 0, got {}", op, c.weight_decay);
  BRENIER_CHECK(c.pretrain_steps >= 0 && c.warmup_steps >= 0,
                "{}: config 'pretrain_steps' and 'warmup_steps' must be >= 0, got {} and {}", op, c.pretrain_steps,
                c.warmup_steps);
  BRENIER_CHECK(std::isfinite(c.critic_magnitude) && c.critic_magnitude >= 0,
                "{}: config 'critic_magnitude' must be finite and >= 0, got {}", op, c.critic_magnitude);

  m_ = std::make_unique<Modules>();
  m_->map_encoder = m_->register_module("map_encoder", std::make_shared<ConditionEncoder>(c.encoder, init_gen_,
                                                                                          c.dtype));
  m_->critic_encoder = c.shared_encoder ? m_->map_encoder
                                        : m_->register_module("critic_encoder", std::make_shared<ConditionEncoder>(
                                                                                    c.encoder, init_gen_, c.dtype));
  ConditionalNetworkConfig net;
  net.width = c.width;
  net.encoder_blocks = c.encoder_blocks;
  net.activation = c.activation;
  net.condition_dim = c.encoder.out_dim;
  net.conditioning = c.conditioning;
  net.hyper_hidden = c.hyper_hidden;
  ConditionalNetworkConfig map_net = net, critic_net = net;
  map_net.in_dim = c.dim + c.noise_dim;
  map_net.out_dim = c.dim;
  map_net.decoder_blocks = c.map_decoder_blocks;
  critic_net.in_dim = c.dim;
  critic_net.out_dim = 1;
  critic_net.decoder_blocks = c.critic_decoder_blocks;
  m_->map = m_->register_module("map", std::make_shared<ConditionalNetwork>(map_net, init_gen_, c.dtype));
  m_->critic = m_->register_module("critic", std::make_shared<ConditionalNetwork>(critic_net, init_gen_, c.dtype));
  // Initialised on the host from init_gen_ (the same weights on every device for a seed), then moved.
  move_to_config_device({m_.get()}, c.device, op);

  std::vector<Var> map_params = m_->map->parameters(), critic_params = m_->critic->parameters();
  for (const Var& p : m_->map_encoder->parameters()) map_params.push_back(p);
  for (const Var& p : m_->critic_encoder->parameters()) critic_params.push_back(p);
  map_adam_ = std::make_unique<optim::AdamW>(map_params, optim::AdamWOptions{.lr = c.map_lr,
                                                                             .weight_decay = c.weight_decay});
  critic_adam_ = std::make_unique<optim::AdamW>(critic_params, optim::AdamWOptions{.lr = c.critic_lr,
                                                                                   .weight_decay = c.weight_decay});
}

NctmSolver::~NctmSolver() = default;

const ConditionEncoder& NctmSolver::map_encoder() const { return *m_->map_encoder; }
const ConditionEncoder& NctmSolver::critic_encoder() const { return *m_->critic_encoder; }
const ConditionalNetwork& NctmSolver::map_network() const { return *m_->map; }
const ConditionalNetwork& NctmSolver::critic_network() const { return *m_->critic; }
int64_t NctmSolver::num_parameters() const { return m_->num_parameters(); }

NctmPhase NctmSolver::next_phase() const {
  if (steps_ < config_.pretrain_steps) return NctmPhase::Pretrain;
  if (steps_ < config_.pretrain_steps + config_.warmup_steps) return NctmPhase::Warmup;
  return NctmPhase::Alternating;
}

void NctmSolver::check_batch(const NctmBatch& b, int64_t step, const char* phase) const {
  const int64_t d = config_.dim;
  BRENIER_CHECK(b.x.defined() && is_floating(b.x.dtype()) && b.x.dim() == 2 && b.x.size(1) == d && b.x.size(0) >= 1,
                "{}: the sampler's 'x' must be a floating tensor [n >= 1, {}], got {} ({} step {})", kWho, d,
                b.x.defined() ? b.x.str() : "undefined", phase, step);
  const int64_t n = b.x.size(0);
  BRENIER_CHECK(b.y.defined() && is_floating(b.y.dtype()) && b.y.dim() == 2 && b.y.size(1) == d && b.y.size(0) == n,
                "{}: the sampler's 'y' must be a floating tensor [n = {}, {}], got {} ({} step {})", kWho, n, d,
                b.y.defined() ? b.y.str() : "undefined", phase, step);
  BRENIER_CHECK(b.condition.rows() == n, "{}: the sampler's condition has {} rows, but x has {} ({} step {})", kWho,
                b.condition.rows(), n, phase, step);
  BRENIER_CHECK(finite_sum(b.x) && finite_sum(b.y) &&
                    (!b.condition.continuous.defined() || finite_sum(b.condition.continuous)),
                "{}: the sampler returned a batch with NaN or Inf at {} step {}; the networks are left as after step {}",
                kWho, phase, step, steps_);
}

Condition NctmSolver::on_device(const Condition& condition) const {
  Condition out;
  if (condition.discrete.defined()) out.discrete = condition.discrete.to(config_.device);
  if (condition.continuous.defined()) out.continuous = condition.continuous.to(config_.device);
  return out;
}

Var NctmSolver::map_output(const Var& x, const Var& c, int64_t repeats, Generator& gen) const {
  if (config_.noise_dim == 0) return m_->map->forward(x, c);
  const Var xr = repeat_rows(x, repeats), cr = repeat_rows(c, repeats);
  const Var z(gen.normal({xr.size(0), config_.noise_dim}, 0.0, config_.noise_std, config_.dtype, config_.device));
  return m_->map->forward(concat({xr, z}, 1), cr);
}

NctmStepStats NctmSolver::train_step(const NctmSampler& sample) {
  BRENIER_CHECK(static_cast<bool>(sample), "{}: argument 'sample' must be a callable sampler", kWho);
  const NctmPhase phase = next_phase();
  const int64_t step = steps_ + 1;
  const char* phase_name = name(phase);
  const DType dt = config_.dtype;
  const int64_t repeats = config_.noise_dim > 0 ? config_.noise_samples : 1;
  NctmStepStats stats;
  stats.phase = phase;
  stats.step = step;

  // Snapshot: a failure part-way through a step (after some of its K_T updates) restores all of it.
  const nn::NamedTensors modules_before = m_->state_dict();
  const optim::NamedTensors map_adam_before = map_adam_->state(), critic_adam_before = critic_adam_->state();
  const uint64_t noise_offset = noise_gen_.offset();
  const std::string who = fmt::format("{} ({})", kWho, phase_name);
  auto next_batch = [&] {
    NctmBatch b = sample();
    check_batch(b, step, phase_name);  // where the sampler made it (host or device), then moved
    b.x = b.x.to(dt).to(config_.device);
    b.y = b.y.to(dt).to(config_.device);
    b.condition = on_device(b.condition);
    return b;
  };
  // One critic update on L_f (+ the warm-up's magnitude term).
  auto critic_update = [&](double magnitude) {
    NctmBatch b = next_batch();
    Tensor mapped;
    {
      NoGradGuard no_grad;
      mapped = map_output(Var(b.x), m_->map_encoder->forward(b.condition), repeats, noise_gen_).data();
    }
    const Var cf = m_->critic_encoder->forward(b.condition);
    const Var f_mapped = m_->critic->forward(Var(mapped), repeat_rows(cf, repeats));
    const Var f_target = m_->critic->forward(Var(b.y), cf);
    Var loss = mean(f_mapped) - mean(f_target);
    stats.critic_loss = loss.item();
    if (magnitude > 0) loss = loss + magnitude * (mean(square(f_mapped)) + mean(square(f_target)));
    stats.critic_grad_norm =
        set_checked_gradients(loss, critic_adam_->params(), who, step, steps_, "critic loss");
    critic_adam_->step();
    critic_adam_->zero_grad();
  };

  try {
    switch (phase) {
      case NctmPhase::Pretrain: {
        NctmBatch b = next_batch();
        const Var x(b.x);
        const Var t = map_output(x, m_->map_encoder->forward(b.condition), repeats, noise_gen_);
        const Var loss = mean(square(t - repeat_rows(x, repeats)));
        stats.map_loss = loss.item();
        stats.map_grad_norm = set_checked_gradients(loss, map_adam_->params(), who, step, steps_, "identity loss");
        map_adam_->step();
        map_adam_->zero_grad();
        break;
      }
      case NctmPhase::Warmup:
        critic_update(config_.critic_magnitude);
        break;
      case NctmPhase::Alternating: {
        for (int64_t k = 0; k < config_.map_steps; ++k) {
          NctmBatch b = next_batch();
          const Var x(b.x);
          const Var t = map_output(x, m_->map_encoder->forward(b.condition), repeats, noise_gen_);
          Var cost = mean(square(repeat_rows(x, repeats) - t));
          if (config_.gamma > 0) {
            const int64_t n = x.size(0);
            const Var t3 = reshape(t, {n, repeats, config_.dim});
            cost = cost - config_.gamma * mean(square(t3 - mean(t3, {1}, true)));
          }
          const Var cf = repeat_rows(m_->critic_encoder->forward(b.condition), repeats);
          const Var loss = cost - mean(m_->critic->forward(t, cf));
          stats.cost = cost.item();
          stats.map_loss = loss.item();
          stats.map_grad_norm = set_checked_gradients(loss, map_adam_->params(), who, step, steps_, "map loss");
          map_adam_->step();
          map_adam_->zero_grad();
        }
        critic_update(0.0);
        break;
      }
    }
  } catch (const Error&) {
    m_->load_state_dict(modules_before);
    map_adam_->load_state(map_adam_before);
    critic_adam_->load_state(critic_adam_before);
    map_adam_->zero_grad();
    critic_adam_->zero_grad();
    noise_gen_.set_state(noise_gen_.seed(), noise_offset);
    throw;
  }
  steps_ = step;
  return stats;
}

Tensor NctmSolver::transport(const Tensor& x, const Condition& condition, const Tensor& z, Generator* gen,
                             int64_t chunk_rows) const {
  const char* op = "NctmSolver::transport";
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 2 && x.size(1) == config_.dim,
                "{}: argument 'x' must be a floating tensor [n, {}], got {}", op, config_.dim,
                x.defined() ? x.str() : "undefined");
  const int64_t n = x.size(0);
  BRENIER_CHECK(condition.rows() == n, "{}: argument 'condition' must have n = {} rows, got {}", op, n,
                condition.rows());
  BRENIER_CHECK(chunk_rows >= 1, "{}: argument 'chunk_rows' must be >= 1, got {}", op, chunk_rows);
  if (config_.noise_dim == 0)
    BRENIER_CHECK(!z.defined(), "{}: argument 'z' must be undefined: this map has no noise input (noise_dim 0)", op);
  else if (z.defined())
    BRENIER_CHECK(is_floating(z.dtype()) && z.dim() == 2 && z.size(0) == n && z.size(1) == config_.noise_dim,
                  "{}: argument 'z' must be a floating tensor [n = {}, {}], got {}", op, n, config_.noise_dim, z.str());
  NoGradGuard no_grad;
  Generator& g = gen ? *gen : noise_gen_;
  const Device device = config_.device;
  std::vector<Var> parts;
  const Var xv(x.to(config_.dtype).to(device));
  const Var zv = z.defined() ? Var(z.to(config_.dtype).to(device)) : Var();
  const Condition cond = on_device(condition);
  for (int64_t start = 0; start < n; start += chunk_rows) {
    const int64_t stop = std::min(n, start + chunk_rows);
    const Var xc = slice(xv, 0, start, stop);
    const Var c = m_->map_encoder->forward(cond.slice(start, stop));
    Var input = xc;
    if (config_.noise_dim > 0) {
      const Var zc = zv.defined() ? slice(zv, 0, start, stop)
                                  : Var(g.normal({stop - start, config_.noise_dim}, 0.0, config_.noise_std,
                                                 config_.dtype, device));
      input = concat({xc, zc}, 1);
    }
    parts.push_back(m_->map->forward(input, c));
  }
  if (parts.empty()) return Tensor::zeros({0, config_.dim}, config_.dtype, x.device());
  return (parts.size() == 1 ? parts[0] : concat(parts, 0)).data().to(x.device());  // answers on x's device
}

Tensor NctmSolver::critic(const Tensor& y, const Condition& condition) const {
  BRENIER_CHECK(y.defined() && is_floating(y.dtype()) && y.dim() == 2 && y.size(1) == config_.dim,
                "NctmSolver::critic: argument 'y' must be a floating tensor [n, {}], got {}", config_.dim,
                y.defined() ? y.str() : "undefined");
  BRENIER_CHECK(condition.rows() == y.size(0), "NctmSolver::critic: argument 'condition' must have n = {} rows, got {}",
                y.size(0), condition.rows());
  NoGradGuard no_grad;
  const Var f = m_->critic->forward(Var(y.to(config_.dtype).to(config_.device)),
                                    m_->critic_encoder->forward(on_device(condition)));
  return f.data().reshape({y.size(0)}).to(y.device());  // answers on y's device
}

std::string NctmSolver::signature() const {
  const NctmSolverConfig& c = config_;
  return fmt::format(
      "dim={} classes=[{}] continuous={} embedding={} encoding={}:{} mixer=[{}]->{} shared={} conditioning={} "
      "hyper=[{}] width={} enc={} dec={}/{} act={} noise={} dtype={}",
      c.dim, fmt::join(c.encoder.num_classes, ","), c.encoder.num_continuous, c.encoder.embedding_dim,
      name(c.encoder.encoding), c.encoder.encoding_dim, fmt::join(c.encoder.hidden, ","), c.encoder.out_dim,
      c.shared_encoder, name(c.conditioning), fmt::join(c.hyper_hidden, ","), c.width, c.encoder_blocks,
      c.map_decoder_blocks, c.critic_decoder_blocks, c.activation, c.noise_dim, dtype_name(c.dtype));
}

void NctmSolver::save(const std::string& path) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [key, t] : m_->state_dict()) tensors.emplace_back("model." + key, t);
  for (auto& [key, t] : map_adam_->state()) tensors.emplace_back("map_adam." + key, t);
  for (auto& [key, t] : critic_adam_->state()) tensors.emplace_back("critic_adam." + key, t);
  const std::map<std::string, std::string> metadata{
      {"solver", "nctm"},
      {"signature", signature()},
      {"steps", std::to_string(steps_)},
      {"noise_seed", std::to_string(noise_gen_.seed())},
      {"noise_offset", std::to_string(noise_gen_.offset())},
  };
  io::save_checkpoint(path, tensors, metadata);
}

void NctmSolver::load(const std::string& path) {
  const char* op = "NctmSolver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  auto meta = [&](const std::string& key) {
    auto it = ck.metadata.find(key);
    BRENIER_CHECK(it != ck.metadata.end(), "{}: checkpoint '{}' has no '{}' metadata: not an NctmSolver checkpoint",
                  op, path, key);
    return it->second;
  };
  BRENIER_CHECK(meta("solver") == "nctm", "{}: checkpoint '{}' is from solver '{}', expected 'nctm'", op, path,
                meta("solver"));
  BRENIER_CHECK(meta("signature") == signature(),
                "{}: checkpoint '{}' holds a different model ({}) than this solver ({})", op, path, meta("signature"),
                signature());
  int64_t steps = 0;
  uint64_t noise_seed = 0, noise_offset = 0;
  try {
    steps = std::stoll(meta("steps"));
    noise_seed = std::stoull(meta("noise_seed"));
    noise_offset = std::stoull(meta("noise_offset"));
  } catch (const std::logic_error&) {
    throw Error(fmt::format("{}: checkpoint '{}' has a non-integer 'steps' / 'noise_*' entry", op, path));
  }
  const nn::NamedTensors old_modules = m_->state_dict();
  const optim::NamedTensors old_map = map_adam_->state(), old_critic = critic_adam_->state();
  try {
    m_->load_state_dict(with_prefix(ck.tensors, "model."));
    map_adam_->load_state(with_prefix(ck.tensors, "map_adam."));
    critic_adam_->load_state(with_prefix(ck.tensors, "critic_adam."));
  } catch (const Error& e) {
    m_->load_state_dict(old_modules);
    map_adam_->load_state(old_map);
    critic_adam_->load_state(old_critic);
    throw Error(fmt::format("{}: checkpoint '{}' does not fit this solver: {}", op, path, e.what()));
  }
  steps_ = steps;
  noise_gen_.set_state(noise_seed, noise_offset);
}

}  // namespace brenier::ot
