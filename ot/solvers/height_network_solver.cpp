// OT-Net's height-network solver (see height_network_solver.h).
#include "ot/solvers/height_network_solver.h"

#include <chrono>
#include <cmath>

#include <Eigen/Dense>

#include "engine/backend/primitives.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "ot/solvers/checkpoint_names.h"
#include "ot/solvers/chunked_map.h"
#include "ot/solvers/semi_discrete_progress.h"
#include "ot/solvers/semi_discrete_solver.h"

namespace brenier::ot {
namespace {

constexpr const char* kOp = "HeightNetworkSolver";
constexpr int64_t kPredictChunk = 65536;  // eval-mode rows per forward in predict_heights
// The output layer's least-squares ridge (fit_heights and output-layer steps), relative to the mean diagonal of
// F_c F_cᵀ (ours): it only guards a rank-deficient F. On color (n = 500, W = 512) 1e-12 kept the free heights'
// ‖ŵ − ν‖ (0.028 → 0.029), 1e-8 doubled it (0.063); after 200 output-layer steps ‖ŵ − ν‖ was 0.021 at 1e-12,
// 0.023 at 1e-6 and 0.025 at 1e-3 (a larger ridge blocks the fine height differences of close colors).
constexpr double kFitRidge = 1e-12;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const HeightNetworkSolverConfig& checked(const HeightNetworkSolverConfig& c) {
  BRENIER_CHECK(std::isfinite(c.lr) && c.lr > 0, "{}: option 'lr' must be finite and > 0, got {}", kOp, c.lr);
  BRENIER_CHECK(std::isfinite(c.tolerance) && c.tolerance > 0, "{}: option 'tolerance' must be finite and > 0, got {}",
                kOp, c.tolerance);
  BRENIER_CHECK(std::isfinite(c.lr_final) && c.lr_final >= 0,
                "{}: option 'lr_final' must be finite and >= 0 (0: constant lr), got {}", kOp, c.lr_final);
  BRENIER_CHECK(c.max_iter >= 1, "{}: option 'max_iter' must be >= 1, got {}", kOp, c.max_iter);
  BRENIER_CHECK(c.fourier_features >= 0, "{}: option 'fourier_features' must be >= 0 (0: raw input), got {}", kOp,
                c.fourier_features);
  BRENIER_CHECK(c.target_batch == 0 || c.target_batch >= 2,
                "{}: option 'target_batch' must be 0 (all targets) or >= 2 (BatchNorm needs two rows), got {}", kOp,
                c.target_batch);
  BRENIER_CHECK(c.update == HeightNetworkUpdate::all_parameters || !c.hidden.empty(),
                "{}: option 'update' = output_layer needs a hidden layer (option 'hidden' is empty)", kOp);
  BRENIER_CHECK(is_floating(c.dtype), "{}: option 'dtype' must be f32 or f64, got {}", kOp, dtype_name(c.dtype));
  check_monte_carlo_config(c.monte_carlo, kOp);
  return c;
}

}  // namespace

HeightNetworkSolver::HeightNetworkSolver(const Tensor& train_targets, const Tensor& target_weights,
                                         HeightNetworkSolverConfig config)
    : config_(checked(config)), init_gen_(config.seed), adaptive_(config.monte_carlo), gen_(config.seed + 1) {
  DiscreteTargets t = check_discrete_targets(train_targets, target_weights, kOp);
  BRENIER_CHECK(t.points.size(0) >= 2, "{}: argument 'targets' must hold at least 2 training targets, got {}", kOp,
                t.points.str());
  targets_ = t.points.to(config_.dtype).to(config_.device);
  weights_ = t.weights;
  // The frequencies come from the training targets (and are saved with H_Φ), so new targets are
  // featurized the same way.
  const Tensor frequencies = config_.fourier_features > 0
                                 ? multiscale_fourier_frequencies(t.points, config_.fourier_features, init_gen_)
                                 : Tensor();
  network_ = std::make_unique<HeightNetwork>(targets_.size(1), config_.hidden, config_.batch_norm, init_gen_,
                                             config_.dtype, config_.zero_init_output, frequencies);
  network_->to(config_.device);
  adam_ = std::make_unique<optim::Adam>(network_->parameters(), optim::AdamOptions{.lr = config_.lr});
}

std::vector<Tensor> HeightNetworkSolver::batch_indices() const {
  const int64_t n = targets_.size(0), B = config_.target_batch;
  if (B == 0 || B >= n) return {};
  std::vector<Tensor> batches;
  for (int64_t start = 0; start < n; start += B)
    batches.push_back(prim::slice(targets_, 0, start, std::min(n, start + B), 1));
  return batches;
}

Tensor HeightNetworkSolver::predict_in_chunks(const Tensor& targets, int64_t chunk_rows) const {
  NoGradGuard no_grad;
  return map_in_chunks([this](const Var& rows) { return network_->forward(rows); }, targets, chunk_rows,
                       "HeightNetworkSolver::predict_heights");
}

SemiDiscreteStepStats HeightNetworkSolver::step(const SourceSampler& source) {
  if (config_.update == HeightNetworkUpdate::output_layer) return output_layer_step(source);
  const auto start = std::chrono::steady_clock::now();
  output_model_.reset();  // the hidden layers change below
  const std::vector<Tensor> batches = batch_indices();
  autograd::Tape tape;  // the step's graph dies with it
  Var h;
  if (batches.empty()) {
    // One batch: BN normalizes with the batch's statistics, and the gradient flows through them.
    network_->train(true);
    h = network_->forward(Var(targets_));
  } else {
    // Mini-batches: BN statistics of the whole training set (a no-graph pass), then eval-mode heights,
    // which are row-independent and equal the full-batch training heights.
    network_->freeze_statistics(targets_);
    h = Var(predict_in_chunks(targets_, config_.target_batch));
  }
  frozen_ = false;  // the statistics go stale with the update below
  EnergyGradient g = estimate_energy_gradient(source, gen_, adaptive_.batches(), config_.monte_carlo.batch_size,
                                              targets_, h.data(), weights_, config_.cells);
  SemiDiscreteStepStats stats = step_stats(g, ++steps_, config_.tolerance);
  if (!stats.converged) {
    if (config_.lr_final > 0) adam_->set_lr(decayed_lr(config_.lr, config_.lr_final, steps_, config_.max_iter));
    adam_->zero_grad();
    if (batches.empty()) {
      // d⟨stopgrad(ĝ), H_Φ(Y)⟩/dΦ: ĝ is h's output gradient.
      h.backward(g.gradient);
    } else {
      // Each batch, re-run with a graph (eval mode: the statistics are constants), back-propagates its
      // slice of ĝ; the gradients accumulate and one batch's graph is alive at a time.
      const int64_t n = targets_.size(0), B = config_.target_batch;
      for (size_t k = 0; k < batches.size(); ++k) {
        autograd::Tape batch_tape;
        const int64_t first = static_cast<int64_t>(k) * B;
        Var hb = network_->forward(Var(batches[k]));
        hb.backward(prim::slice(g.gradient, 0, first, std::min(n, first + B), 1));
      }
    }
    adam_->step();
    stats.batches_doubled = adaptive_.observe(g.norm);
  }
  stats.seconds = seconds_since(start);
  return stats;
}

// H_Φ's output layer as a linear model of the training heights at fixed hidden features: h = F w + b, F [n, W]
// the last hidden layer's activations (BN with the training targets' statistics). fit() gives the centred
// least-squares (w, b) for goal heights (the bias takes the means): the minimum-norm w of F_c w = h_c with a tiny
// relative ridge λ (kFitRidge) that only guards a rank-deficient F, in the smaller of two equal forms,
// w = F_cᵀ(F_cF_cᵀ + λI)⁻¹h_c (n ≤ W, an n × n system) or w = (F_cᵀF_c + λI)⁻¹F_cᵀh_c (n > W, W × W); the
// factorization is made once, so each output-layer step costs one solve.
class OutputLayerModel {
 public:
  explicit OutputLayerModel(Eigen::MatrixXd features) : features_(std::move(features)) {
    const int64_t n = features_.rows();
    mean_ = features_.colwise().mean();
    centred_ = features_.rowwise() - mean_;
    kernel_form_ = n <= features_.cols();
    Eigen::MatrixXd gram = kernel_form_ ? Eigen::MatrixXd(centred_ * centred_.transpose())
                                        : Eigen::MatrixXd(centred_.transpose() * centred_);
    const double scale = centred_.squaredNorm() / static_cast<double>(n);  // mean diagonal of F_c F_cᵀ
    constant_ = !(scale > 0);  // features constant over the targets: only the bias fits
    if (!constant_) {
      gram.diagonal().array() += kFitRidge * scale;
      solver_.compute(gram);
    }
  }

  // (w, b) of the least-squares fit to `goal` [n].
  std::pair<Eigen::VectorXd, double> fit(const Eigen::VectorXd& goal) const {
    const double goal_mean = goal.mean();
    const Eigen::VectorXd centred_goal = goal.array() - goal_mean;
    Eigen::VectorXd w = Eigen::VectorXd::Zero(features_.cols());
    if (!constant_)
      w = kernel_form_ ? Eigen::VectorXd(centred_.transpose() * solver_.solve(centred_goal))
                       : Eigen::VectorXd(solver_.solve(centred_.transpose() * centred_goal));
    return {w, goal_mean - mean_.dot(w)};
  }

  Eigen::VectorXd heights(const Eigen::VectorXd& w, double b) const { return (features_ * w).array() + b; }
  int64_t rows() const { return features_.rows(); }
  int64_t width() const { return features_.cols(); }

 private:
  Eigen::MatrixXd features_, centred_;
  Eigen::RowVectorXd mean_;
  Eigen::LDLT<Eigen::MatrixXd> solver_;
  bool kernel_form_ = true, constant_ = false;
};

namespace {

std::vector<double> to_std(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

}  // namespace

const OutputLayerModel& HeightNetworkSolver::output_layer_model() {
  if (!output_model_) {
    // F [n, W] of all training targets, BN with their statistics: what the training-mode forward of one full
    // batch (and the frozen eval-mode forward) feed the output layer.
    network_->freeze_statistics(targets_);
    frozen_ = true;
    const int64_t n = targets_.size(0), W = network_->hidden().back();
    const std::vector<double> f = [&] {
      NoGradGuard no_grad;
      return network_->features(Var(targets_)).data().to_vector<double>();
    }();
    output_model_ = std::make_shared<const OutputLayerModel>(
        Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(f.data(), n, W));
  }
  return *output_model_;
}

double HeightNetworkSolver::fit_heights(const Tensor& heights) {
  const char* op = "HeightNetworkSolver::fit_heights";
  const int64_t n = targets_.size(0);
  check_defined(heights, op, "heights");
  BRENIER_CHECK(heights.shape() == Shape{n} && is_floating(heights.dtype()),
                "{}: argument 'heights' must be a floating [{}] tensor (one per training target), got {}", op, n,
                heights.str());
  check_finite(heights, op, "heights");
  BRENIER_CHECK(!config_.hidden.empty(), "{}: needs a hidden layer (option 'hidden' is empty)", op);
  const std::vector<double> goal = heights.to_vector<double>();
  const OutputLayerModel& model = output_layer_model();
  if (!frozen_) freeze_statistics();  // the model may be an earlier one's: predict below in eval mode
  const auto [w, bias] = model.fit(Eigen::Map<const Eigen::VectorXd>(goal.data(), n));
  BRENIER_CHECK(w.allFinite() && std::isfinite(bias), "{}: the least-squares output layer is not finite", op);
  const int64_t W = model.width();
  network_->set_output_layer(Tensor::from_vector(to_std(w), {1, W}).to(config_.dtype),
                             Tensor::from_vector(std::vector<double>{bias}).to(config_.dtype));
  // The fit's RMS error, as the network computes it (in its dtype).
  const std::vector<double> fitted = predict_in_chunks(targets_, kPredictChunk).to_vector<double>();
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += (fitted[i] - goal[i]) * (fitted[i] - goal[i]);
  network_->train(true);
  frozen_ = false;
  return std::sqrt(sq / static_cast<double>(n));
}

SemiDiscreteStepStats HeightNetworkSolver::output_layer_step(const SourceSampler& source) {
  const auto start = std::chrono::steady_clock::now();
  const char* op = "HeightNetworkSolver::step";
  const OutputLayerModel& model = output_layer_model();
  if (!frozen_) freeze_statistics();  // after fit_heights: eval mode, as the model's heights are
  const int64_t n = model.rows(), W = model.width();
  const std::vector<double> weight = network_->output_weight().to_vector<double>();
  const double bias = network_->output_bias().to_vector<double>()[0];
  const Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(weight.data(), W);
  // The heights H_Φ(y_i) of the frozen network, from the model (equal to its eval-mode forward up to rounding).
  const Tensor h = Tensor::from_vector(to_std(model.heights(w, bias))).to(config_.dtype).to(config_.device);
  const EnergyGradient g = estimate_energy_gradient(source, gen_, adaptive_.batches(), config_.monte_carlo.batch_size,
                                                    targets_, h, weights_, config_.cells);
  SemiDiscreteStepStats stats = step_stats(g, ++steps_, config_.tolerance);
  if (!stats.converged) {
    const double lr = config_.lr_final > 0 ? decayed_lr(config_.lr, config_.lr_final, steps_, config_.max_iter)
                                           : config_.lr;
    const std::vector<double> gradient = g.gradient.to(Device::cpu()).to_vector<double>();
    const Eigen::VectorXd height_step = -lr * Eigen::Map<const Eigen::VectorXd>(gradient.data(), n);
    const auto [dw, db] = model.fit(height_step);
    const Eigen::VectorXd new_w = w + dw;
    BRENIER_CHECK(new_w.allFinite() && std::isfinite(bias + db), "{}: the output-layer step is not finite", op);
    network_->set_output_layer(Tensor::from_vector(to_std(new_w), {1, W}).to(config_.dtype),
                               Tensor::from_vector(std::vector<double>{bias + db}).to(config_.dtype));
    stats.batches_doubled = adaptive_.observe(g.norm);
  }
  stats.seconds = seconds_since(start);
  return stats;
}

HeightNetworkSolveResult HeightNetworkSolver::solve(const SourceSampler& source,
                                                    const std::function<void(const SemiDiscreteStepStats&)>& on_step) {
  const auto start = std::chrono::steady_clock::now();
  HeightNetworkSolveResult result;
  run_until_converged([&] { return step(source); }, config_.max_iter - steps_, on_step, result);
  freeze_statistics();
  const EnergyGradient eval = estimate_energy_gradient(source, gen_, adaptive_.batches(),
                                                       config_.monte_carlo.batch_size, targets_,
                                                       predict_heights(targets_), weights_, config_.cells);
  result.eval_grad_norm = eval.norm;
  result.mc_samples = adaptive_.batches() * config_.monte_carlo.batch_size;
  result.seconds = seconds_since(start);
  return result;
}

void HeightNetworkSolver::freeze_statistics() {
  network_->freeze_statistics(targets_);
  frozen_ = true;
}

Tensor HeightNetworkSolver::predict_heights(const Tensor& targets) const {
  const char* op = "HeightNetworkSolver::predict_heights";
  BRENIER_CHECK(frozen_, "{}: the network is in training mode; call solve() or freeze_statistics() first", op);
  check_defined(targets, op, "targets");
  BRENIER_CHECK(targets.dim() == 2 && targets.size(0) >= 1 && targets.size(1) == targets_.size(1) &&
                    is_floating(targets.dtype()),
                "{}: argument 'targets' must be a floating [m, {}] tensor with m >= 1, got {}", op, targets_.size(1),
                targets.str());
  check_finite(targets, op, "targets");
  return predict_in_chunks(targets.to(config_.dtype).to(config_.device), kPredictChunk);
}

CellAssignment HeightNetworkSolver::assign(const Tensor& x, const Tensor& targets,
                                           const CellAssignmentOptions& options) const {
  const Tensor heights = predict_heights(targets);
  const Tensor y = targets.to(config_.dtype).to(config_.device);
  return assign_cells(prepare_query_points(x, y.size(1), config_.dtype, config_.device, "HeightNetworkSolver::assign"),
                      y, heights, options);
}

Tensor HeightNetworkSolver::transport(const Tensor& x, const Tensor& targets) const {
  CellAssignmentOptions options = config_.cells;
  options.top_k = 0;
  options.counts = false;
  const Tensor y = targets.to(config_.dtype).to(config_.device);
  return prim::index_select(y, 0, assign(x, targets, options).argmax);
}

void HeightNetworkSolver::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : network_->state_dict()) tensors.emplace_back("network." + name, t);
  for (auto& [name, t] : adam_->state()) tensors.emplace_back("adam." + name, t);
  append_progress(tensors, {steps_, adaptive_.state(), gen_.seed(), gen_.offset()});
  tensors.emplace_back("solver.frozen", Tensor::scalar(frozen_ ? 1 : 0, DType::I64));
  io::save_checkpoint(path, tensors,
                      merged_metadata({{"kind", "HeightNetworkSolver"},
                                       {"dim", std::to_string(targets_.size(1))},
                                       {"hidden", join_sizes(config_.hidden)},
                                       {"batch_norm", config_.batch_norm ? "true" : "false"},
                                       {"fourier_features", std::to_string(config_.fourier_features)}},
                                      metadata, "HeightNetworkSolver::save"));
}

std::map<std::string, std::string> HeightNetworkSolver::load(const std::string& path) {
  const char* op = "HeightNetworkSolver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  const auto kind = ck.metadata.find("kind");
  BRENIER_CHECK(kind != ck.metadata.end() && kind->second == "HeightNetworkSolver",
                "{}: '{}' is not a HeightNetworkSolver checkpoint", op, path);
  BRENIER_CHECK(ck.tensors.count("solver.frozen") == 1, "{}: '{}' lacks the entry 'solver.frozen'", op, path);
  const SolverProgress progress = read_progress(ck, op, path);
  AdaptiveBatches adaptive(config_.monte_carlo);
  adaptive.set_state(progress.monte_carlo);
  // All or nothing: the network and Adam load strictly; restore both when either fails.
  const nn::NamedTensors old_network = network_->state_dict();
  const optim::NamedTensors old_adam = adam_->state();
  try {
    network_->load_state_dict(with_prefix(ck.tensors, "network."));
    adam_->load_state(with_prefix(ck.tensors, "adam."));
  } catch (const Error&) {
    network_->load_state_dict(old_network);
    adam_->load_state(old_adam);
    throw;
  }
  adaptive_ = adaptive;
  output_model_.reset();
  steps_ = progress.steps;
  gen_.set_state(progress.generator_seed, progress.generator_offset);
  frozen_ = ck.tensors.at("solver.frozen").item() != 0;
  network_->train(!frozen_);
  return ck.metadata;
}

}  // namespace brenier::ot
