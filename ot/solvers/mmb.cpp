// MM-B objective, batch-conjugate argmax and the symmetrized solver (see mmb.h).
#include "ot/solvers/mmb.h"
#include "ot/solvers/chunked_map.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "engine/backend/primitives.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/projection.h"
#include "engine/optim/schedule.h"

namespace brenier::ot {
namespace {

void check_points(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  BRENIER_CHECK(is_floating(t.dtype()) && t.dim() == 2 && t.size(0) >= 1,
                "{}: argument '{}' must be a floating [n, D] batch with n >= 1, got {}", op, arg, t.str());
}

// Joint L2 norm of the parameters' gradients (undefined grads count as 0), in f64.
double gradient_norm(const std::vector<Var>& params) {
  NoGradGuard no_grad;
  double sum_sq = 0;
  for (const Var& p : params)
    if (p.grad().defined()) sum_sq += sum(square(Var(p.grad().to(DType::F64)))).item();
  return std::sqrt(sum_sq);
}

std::string join_sizes(const std::vector<int64_t>& sizes) { return fmt::format("{}", fmt::join(sizes, ",")); }

// Entries of `all` whose name starts with `prefix`, with the prefix removed.
nn::NamedTensors with_prefix(const std::map<std::string, Tensor>& all, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace

Tensor batch_conjugate_argmax(const Tensor& psi_x, const Tensor& x, const Tensor& y, int64_t chunk_rows) {
  const char* op = "batch_conjugate_argmax";
  check_points(x, op, "x");
  check_points(y, op, "y");
  check_defined(psi_x, op, "psi_x");
  BRENIER_CHECK(psi_x.shape() == Shape{x.size(0)}, "{}: argument 'psi_x' must be [{}] (one value per row of x), got {}",
                op, x.size(0), psi_x.str());
  BRENIER_CHECK(y.size(1) == x.size(1), "{}: argument 'y' must have x's dimension {}, got {}", op, x.size(1), y.str());
  BRENIER_CHECK(x.dtype() == y.dtype() && x.dtype() == psi_x.dtype(),
                "{}: arguments 'psi_x', 'x' and 'y' must share a dtype, got {}, {} and {}", op, psi_x.str(),
                x.str(), y.str());
  BRENIER_CHECK(chunk_rows >= 1, "{}: argument 'chunk_rows' must be >= 1, got {}", op, chunk_rows);

  NoGradGuard no_grad;
  const int64_t n_y = y.size(0);
  Var x_t = transpose(Var(x));                         // [D, n_x]
  Var psi_row = reshape(Var(psi_x), {1, x.size(0)});  // subtracted from every row of scores
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < n_y; start += chunk_rows) {
    const int64_t stop = std::min(n_y, start + chunk_rows);
    Var rows = (start == 0 && stop == n_y) ? Var(y) : Var(prim::slice(y, 0, start, stop, 1));
    Var scores = matmul(rows, x_t) - psi_row;  // [rows, n_x]: ⟨x_i, y_j⟩ − ψ(x_i)
    parts.push_back(argmax(scores, 1));
  }
  return parts.size() == 1 ? parts[0] : prim::concat(parts, 0);
}

MmbObjective mmb_objective(const Var& psi_x, const Tensor& x, const Tensor& y, int64_t max_score_elements) {
  const char* op = "mmb_objective";
  BRENIER_CHECK(psi_x.defined(), "{}: argument 'psi_x' is an undefined Var", op);
  check_points(x, op, "x");
  BRENIER_CHECK(max_score_elements >= 1, "{}: argument 'max_score_elements' must be >= 1, got {}", op,
                max_score_elements);
  const int64_t chunk_rows = std::max<int64_t>(1, max_score_elements / x.size(0));
  Tensor sigma = batch_conjugate_argmax(psi_x.data(), x, y, chunk_rows);

  double inner = 0, sq_x = 0, sq_y = 0;  // constants of the objective (no parameter gradient)
  {
    NoGradGuard no_grad;
    Var xv(x), yv(y);
    inner = mean(sum(index_select(xv, 0, sigma) * yv, {1})).item();
    sq_x = mean(sum(square(xv), {1})).item();
    sq_y = mean(sum(square(yv), {1})).item();
  }
  Var loss = mean(psi_x) - mean(index_select(psi_x, 0, sigma)) + inner;
  return {loss, sq_x + sq_y - 2.0 * loss.item()};
}

MmbSolver::MmbSolver(MmbConfig config) : config_(std::move(config)) {
  const char* op = "MmbSolver";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  BRENIER_CHECK(config_.lr > 0 && std::isfinite(config_.lr), "{}: config 'lr' must be finite and > 0, got {}", op,
                config_.lr);
  BRENIER_CHECK(config_.batch >= 1, "{}: config 'batch' must be >= 1, got {}", op, config_.batch);
  BRENIER_CHECK(config_.iters >= 0, "{}: config 'iters' must be >= 0, got {}", op, config_.iters);
  BRENIER_CHECK(is_floating(config_.dtype), "{}: config 'dtype' must be f32 or f64, got {}", op,
                dtype_name(config_.dtype));
  BRENIER_CHECK(config_.max_grad_norm >= 0 && std::isfinite(config_.max_grad_norm),
                "{}: config 'max_grad_norm' must be finite and >= 0 (0 = off), got {}", op, config_.max_grad_norm);
  BRENIER_CHECK(config_.strong_convexity >= 0 && std::isfinite(config_.strong_convexity),
                "{}: config 'strong_convexity' must be finite and >= 0, got {}", op, config_.strong_convexity);
  BRENIER_CHECK(!config_.cosine_decay || config_.iters >= 1,
                "{}: config 'cosine_decay' needs 'iters' >= 1 (the decay's length), got {}", op, config_.iters);
  BRENIER_CHECK(config_.max_score_elements >= 1, "{}: config 'max_score_elements' must be >= 1, got {}", op,
                config_.max_score_elements);
  if (config_.hidden.empty()) config_.hidden = bench_icnn_hidden(config_.dim);

  Generator init(config_.seed);
  IcnnConfig icnn;
  icnn.dim = config_.dim;
  icnn.hidden = config_.hidden;
  icnn.quadratic = config_.strong_convexity;
  psi_ = std::make_unique<Icnn>(icnn, init, config_.dtype);
  psi_bar_ = std::make_unique<Icnn>(icnn, init, config_.dtype);

  std::vector<Var> params = psi_->parameters();
  for (const Var& p : psi_bar_->parameters()) params.push_back(p);
  optim::AdamOptions adam;
  adam.lr = config_.lr;
  adam_ = std::make_unique<optim::Adam>(params, adam);
  // Projected gradient: W, w ≥ 0 after every step keeps both potentials convex.
  for (const Icnn* net : {psi_.get(), psi_bar_.get()})
    for (const Var& w : net->convex_weights()) adam_->add_projection(w, optim::clamp_min_projection(0.0));
}

Tensor MmbSolver::as_batch(const Tensor& t, const char* op, const char* arg) const {
  check_points(t, op, arg);
  BRENIER_CHECK(t.size(1) == config_.dim, "{}: argument '{}' must be [n, {}] (the solver's dim), got {}", op, arg,
                config_.dim, t.str());
  return t.to(config_.dtype);
}

StepStats MmbSolver::step(const Tensor& x_in, const Tensor& y_in) {
  const char* op = "MmbSolver::step";
  const Tensor x = as_batch(x_in, op, "x"), y = as_batch(y_in, op, "y");
  const int64_t step_number = steps_ + 1;
  adam_->zero_grad();

  StepStats stats;
  stats.step = step_number;
  {
    autograd::Tape tape;  // frees this step's graph when the scope ends
    MmbObjective forward = mmb_objective((*psi_)(Var(x)), x, y, config_.max_score_elements);
    MmbObjective inverse = mmb_objective((*psi_bar_)(Var(y)), y, x, config_.max_score_elements);
    Var loss = 0.5 * (forward.loss + inverse.loss);
    stats.loss = loss.item();
    stats.loss_forward = forward.loss.item();
    stats.loss_inverse = inverse.loss.item();
    stats.w2_estimate = 0.5 * (forward.w2_squared + inverse.w2_squared);
    BRENIER_CHECK(std::isfinite(stats.loss),
                  "{}: training diverged at step {}: the loss is {} (forward {}, inverse {}); the networks "
                  "are left as after step {}",
                  op, step_number, stats.loss, stats.loss_forward, stats.loss_inverse, steps_);
    loss.backward();
  }
  stats.grad_norm = gradient_norm(adam_->params());
  if (!std::isfinite(stats.grad_norm)) {
    adam_->zero_grad();
    throw Error(fmt::format("{}: training diverged at step {}: the gradient norm is {} (loss {}); the networks "
                            "are left as after step {}",
                            op, step_number, stats.grad_norm, stats.loss, steps_));
  }
  if (config_.max_grad_norm > 0) optim::clip_grad_norm(adam_->params(), config_.max_grad_norm);
  if (config_.cosine_decay) optim::WarmupCosine(config_.lr, 0, config_.iters).apply(*adam_, steps_);
  adam_->step();  // runs the clamp projections
  steps_ = step_number;
  return stats;
}

void MmbSolver::train(const Sampler& source, const Sampler& target,
                      const std::function<void(const StepStats&)>& on_step) {
  BRENIER_CHECK(static_cast<bool>(source) && static_cast<bool>(target),
                "MmbSolver::train: arguments 'source' and 'target' must be callable samplers");
  for (int64_t i = 0; i < config_.iters; ++i) {
    StepStats stats = step(source(config_.batch), target(config_.batch));
    if (on_step) on_step(stats);
  }
}

Tensor MmbSolver::map_in_chunks(const Icnn& net, const Tensor& points, int64_t chunk_rows, const char* op) const {
  const Tensor pts = as_batch(points, op, "x");
  return ot::map_in_chunks([&](const Var& x) { return net.map(x, /*create_graph=*/false); }, pts, chunk_rows, op);
}

Tensor MmbSolver::transport(const Tensor& x, int64_t chunk_rows) const {
  return map_in_chunks(*psi_, x, chunk_rows, "MmbSolver::transport");
}

Tensor MmbSolver::inverse_transport(const Tensor& y, int64_t chunk_rows) const {
  return map_in_chunks(*psi_bar_, y, chunk_rows, "MmbSolver::inverse_transport");
}

void MmbSolver::save(const std::string& path) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : psi_->state_dict()) tensors.emplace_back("psi." + name, t);
  for (auto& [name, t] : psi_bar_->state_dict()) tensors.emplace_back("psi_bar." + name, t);
  for (auto& [name, t] : adam_->state()) tensors.emplace_back("adam." + name, t);
  std::map<std::string, std::string> metadata{
      {"solver", "mmb"},
      {"dim", std::to_string(config_.dim)},
      {"hidden", join_sizes(config_.hidden)},
      {"steps", std::to_string(steps_)},
      {"seed", std::to_string(config_.seed)},
      {"lr", fmt::format("{}", config_.lr)},
      {"dtype", dtype_name(config_.dtype)},
      {"strong_convexity", fmt::format("{}", config_.strong_convexity)},
  };
  io::save_checkpoint(path, tensors, metadata);
}

void MmbSolver::load(const std::string& path) {
  const char* op = "MmbSolver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  auto meta = [&](const std::string& key) {
    auto it = ck.metadata.find(key);
    BRENIER_CHECK(it != ck.metadata.end(), "{}: checkpoint '{}' has no '{}' metadata: not an MM-B checkpoint", op,
                  path, key);
    return it->second;
  };
  BRENIER_CHECK(meta("solver") == "mmb", "{}: checkpoint '{}' is from solver '{}', expected 'mmb'", op, path,
                meta("solver"));
  BRENIER_CHECK(meta("dim") == std::to_string(config_.dim) && meta("hidden") == join_sizes(config_.hidden),
                "{}: checkpoint '{}' holds dim {} with hidden sizes [{}], but this solver has dim {} and [{}]", op,
                path, meta("dim"), meta("hidden"), config_.dim, join_sizes(config_.hidden));
  int64_t steps = 0;
  try {
    steps = std::stoll(meta("steps"));
  } catch (const std::exception&) {
    throw Error(fmt::format("{}: checkpoint '{}' has a non-integer 'steps' entry '{}'", op, path, meta("steps")));
  }

  // All or nothing: restore the previous state when any part fails to load.
  nn::NamedTensors old_psi = psi_->state_dict(), old_psi_bar = psi_bar_->state_dict();
  optim::NamedTensors old_adam = adam_->state();
  try {
    psi_->load_state_dict(with_prefix(ck.tensors, "psi."));
    psi_bar_->load_state_dict(with_prefix(ck.tensors, "psi_bar."));
    adam_->load_state(with_prefix(ck.tensors, "adam."));
  } catch (const Error& e) {
    psi_->load_state_dict(old_psi);
    psi_bar_->load_state_dict(old_psi_bar);
    adam_->load_state(old_adam);
    throw Error(fmt::format("{}: checkpoint '{}' does not fit this solver: {}", op, path, e.what()));
  }
  steps_ = steps;
}

}  // namespace brenier::ot
