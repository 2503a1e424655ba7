// The nctm tool's shared parts: the conditional Gaussian family, random streams, option checks, the
// run-folder protocol, and the train-and-score routine (see tool.h).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <numbers>

#include "engine/nn/init.h"
#include "engine/ops/ops.h"
#include "ot/metrics/gaussian_w2.h"
#include "ot/metrics/l2_uvp.h"
#include "tools/common/device_flag.h"
#include "tools/common/seed_mix.h"
#include "tools/common/run_folder.h"
#include "tools/common/cli.h"
#include "tools/common/progress.h"
#include "tools/common/stop_signal.h"
#include "tools/common/results.h"
#include "tools/nctm/tool.h"

namespace brenier::nctm_tool {
namespace {

using Clock = std::chrono::steady_clock;

using tools::mix;  // tools/common/seed_mix.h

uint64_t training_offset(int64_t step) { return static_cast<uint64_t>(step) << 36; }

Tensor column(const Tensor& m, int64_t j) {
  return slice(Var(m), 1, j, j + 1).data().reshape({m.size(0)});
}

// The conditions (k, s) for every class and each s in `grid`: (discrete [n, 1], continuous [n, 1]).
std::vector<std::pair<int64_t, double>> conditions(int64_t classes, const std::vector<double>& grid) {
  std::vector<std::pair<int64_t, double>> out;
  for (int64_t k = 0; k < classes; ++k)
    for (double s : grid) out.emplace_back(k, s);
  return out;
}

ot::Condition repeated(int64_t k, double s, int64_t n) {
  return {Tensor::full({n, 1}, static_cast<double>(k), DType::I64), Tensor::full({n, 1}, s, DType::F64)};
}

// Mean L2-UVP of the map over the conditions, each on the same source sample x.
Scores score(const ot::NctmSolver& solver, const GaussianFamily& family, const std::vector<double>& grid,
             const Tensor& x) {
  Scores sc;
  const int64_t d = family.dim(), n = x.size(0);
  std::vector<double> eye(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i) eye[static_cast<size_t>(i * d + i)] = 1.0;
  const ot::Gaussian standard(Tensor::zeros({d}, DType::F64), Tensor::from_vector(eye, {d, d}));
  for (const auto& [k, s] : conditions(family.classes(), grid)) {
    const ot::Gaussian target = family.target(k, s);
    const Tensor truth = ot::bures_map(standard, target).apply(x);
    const Tensor mapped = solver.transport(x, repeated(k, s, n));
    sc.l2uvp += ot::l2_uvp(mapped, truth, target.total_variance());
    sc.identity += ot::l2_uvp(x, truth, target.total_variance());
    ++sc.conditions;
  }
  sc.l2uvp /= static_cast<double>(sc.conditions);
  sc.identity /= static_cast<double>(sc.conditions);
  return sc;
}

}  // namespace

GaussianFamily::GaussianFamily(int64_t dim, int64_t classes, Generator& gen) : dim_(dim), classes_(classes) {
  BRENIER_CHECK(dim >= 2, "--dims: the conditional Gaussian family needs dimension >= 2, got {}", dim);
  for (int64_t k = 0; k < classes; ++k) {
    Tensor plane = Tensor::zeros({dim, dim}, DType::F64), q = Tensor::zeros({dim, dim}, DType::F64);
    nn::init::orthogonal_(plane, gen);
    nn::init::orthogonal_(q, gen);
    a_.push_back(column(plane, 0).clone());
    b_.push_back(column(plane, 1).clone());
    q_.push_back(q);
    const std::vector<double> u0 = gen.uniform({dim}, 0.25, 2.25, DType::F64).to_vector<double>();
    const std::vector<double> u1 = gen.uniform({dim}, 0.25, 2.25, DType::F64).to_vector<double>();
    std::vector<double> l0, l1;
    for (int64_t i = 0; i < dim; ++i) {
      l0.push_back(std::log(u0[static_cast<size_t>(i)]));
      l1.push_back(std::log(u1[static_cast<size_t>(i)]));
    }
    log_l0_.push_back(l0);
    log_l1_.push_back(l1);
  }
}

ot::Gaussian GaussianFamily::target(int64_t k, double s) const {
  BRENIER_CHECK(k >= 0 && k < classes_, "GaussianFamily::target: class must be in [0, {}), got {}", classes_, k);
  NoGradGuard no_grad;
  const size_t kk = static_cast<size_t>(k);
  const double phi = 2 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(classes_) +
                     0.5 * std::numbers::pi * s;
  const Var mean = 2.0 * (std::cos(phi) * Var(a_[kk]) + std::sin(phi) * Var(b_[kk]));
  std::vector<double> lambda;
  for (int64_t i = 0; i < dim_; ++i)
    lambda.push_back(std::exp((1 - s) * log_l0_[kk][static_cast<size_t>(i)] + s * log_l1_[kk][static_cast<size_t>(i)]));
  const Var q(q_[kk]);
  const Var cov = matmul(q * Var(Tensor::from_vector(lambda, {1, dim_})), transpose(q));
  // Symmetrize: the product is symmetric only up to rounding, and Gaussian checks symmetry.
  return ot::Gaussian(mean.data(), (0.5 * (cov + transpose(cov))).data());
}

std::vector<double> seen_s() { return {0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75}; }
std::vector<double> between_s() { return {0.0625, 0.1875, 0.3125, 0.4375, 0.5625, 0.6875}; }
std::vector<double> beyond_s() { return {0.875, 1.0}; }

Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset) {
  Generator gen(seed);
  // The tag keeps these streams apart from other tools' streams of the same (seed, dim, role).
  gen.set_state(mix(seed ^ mix((static_cast<uint64_t>(dim) << 8) | static_cast<uint64_t>(role) | (0x8C7ULL << 40))),
                offset);
  return gen;
}

void validate_common(const CommonOptions& opt, int64_t min_dim) {
  tools::parse_device_flag(opt.device);  // cuda needs a CUDA build and a GPU here, before any work starts
  BRENIER_CHECK(!opt.dims.empty(), "--dims: give at least one dimension");
  for (size_t i = 0; i < opt.dims.size(); ++i) {
    BRENIER_CHECK(opt.dims[i] >= min_dim, "--dims: dimensions must be >= {}, got {}", min_dim, opt.dims[i]);
    BRENIER_CHECK(std::find(opt.dims.begin(), opt.dims.begin() + static_cast<std::ptrdiff_t>(i), opt.dims[i]) ==
                      opt.dims.begin() + static_cast<std::ptrdiff_t>(i),
                  "--dims: dimension {} is listed twice", opt.dims[i]);
  }
  BRENIER_CHECK(opt.iters >= 1, "--iters: must be >= 1, got {}", opt.iters);
  BRENIER_CHECK(opt.pretrain_steps >= 0, "--pretrain-steps: must be >= 0, got {}", opt.pretrain_steps);
  BRENIER_CHECK(opt.warmup_steps >= 0, "--warmup-steps: must be >= 0, got {}", opt.warmup_steps);
  BRENIER_CHECK(opt.batch >= 1, "--batch: must be >= 1, got {}", opt.batch);
  BRENIER_CHECK(opt.map_steps >= 1, "--map-steps: must be >= 1, got {}", opt.map_steps);
  BRENIER_CHECK(std::isfinite(opt.map_lr) && opt.map_lr > 0, "--map-lr: must be > 0, got {}", opt.map_lr);
  BRENIER_CHECK(std::isfinite(opt.critic_lr) && opt.critic_lr > 0, "--critic-lr: must be > 0, got {}", opt.critic_lr);
  BRENIER_CHECK(std::isfinite(opt.critic_magnitude) && opt.critic_magnitude >= 0,
                "--critic-magnitude: must be finite and >= 0, got {}", opt.critic_magnitude);
  BRENIER_CHECK(std::isfinite(opt.weight_decay) && opt.weight_decay >= 0, "--weight-decay: must be >= 0, got {}",
                opt.weight_decay);
  BRENIER_CHECK(std::isfinite(opt.position_scale) && opt.position_scale > 0,
                "--position-scale: must be finite and > 0, got {}", opt.position_scale);
  BRENIER_CHECK(opt.width >= 1, "--width: must be >= 1, got {}", opt.width);
  BRENIER_CHECK(opt.classes >= 1, "--classes: must be >= 1, got {}", opt.classes);
  BRENIER_CHECK(opt.eval_samples >= 2, "--eval-samples: must be >= 2, got {}", opt.eval_samples);
  BRENIER_CHECK(opt.checkpoint_every >= 1, "--checkpoint-every: must be >= 1, got {}", opt.checkpoint_every);
  ot::parse_conditioning(opt.conditioning);
  ot::parse_continuous_encoding(opt.encoding);
  BRENIER_CHECK(opt.cost == "strong" || opt.cost == "weak", "--cost: must be strong or weak, got '{}'", opt.cost);
  BRENIER_CHECK(opt.noise_dim >= 0, "--noise-dim: must be >= 0, got {}", opt.noise_dim);
  BRENIER_CHECK(std::isfinite(opt.noise_std) && opt.noise_std > 0, "--noise-std: must be finite and > 0, got {}",
                opt.noise_std);
  BRENIER_CHECK(opt.noise_samples >= 1, "--noise-samples: must be >= 1, got {}", opt.noise_samples);
  BRENIER_CHECK(std::isfinite(opt.gamma) && opt.gamma >= 0, "--gamma: must be finite and >= 0, got {}", opt.gamma);
  if (opt.cost == "strong") {
    BRENIER_CHECK(opt.gamma == 0, "--gamma: the strong cost has no γ (got {}); pass --cost weak", opt.gamma);
  } else {
    BRENIER_CHECK(opt.gamma > 0, "--gamma: the weak cost needs γ > 0, got {}", opt.gamma);
    BRENIER_CHECK(opt.noise_dim >= 1, "--noise-dim: the weak cost needs noise, >= 1, got {}", opt.noise_dim);
    BRENIER_CHECK(opt.noise_samples >= 2, "--noise-samples: the weak cost needs >= 2 (Var_z), got {}",
                  opt.noise_samples);
  }
  BRENIER_CHECK(!opt.resume || !opt.out.empty(), "--resume: needs --out, the folder of the run to continue");
}

void prepare_run_folder(const CommonOptions& opt, const fs::path& out, const nlohmann::json& options_json,
                        const std::vector<std::string>& keys, const char* experiment,
                        const nlohmann::json& added_options) {
  // The cost options came later: runs written before them used the strong cost without noise.
  std::vector<std::string> all_keys = keys;
  for (const char* k : {"cost", "noise_dim", "noise_std", "noise_samples", "gamma"}) all_keys.emplace_back(k);
  const CommonOptions before_cost_options;
  const nlohmann::json added{{"cost", "strong"},
                             {"noise_dim", 0},
                             {"noise_std", before_cost_options.noise_std},
                             {"noise_samples", before_cost_options.noise_samples},
                             {"gamma", 0.0}};
  nlohmann::json all_added = added;
  for (const auto& [k, v] : added_options.items()) all_added[k] = v;
  tools::prepare_run_folder("nctm", experiment, out, opt.resume, options_json, all_keys, {"checkpoints"}, all_added);
}

nlohmann::json common_json(const CommonOptions& opt) {
  return {{"dims", opt.dims},
          {"iters", opt.iters},
          {"pretrain_steps", opt.pretrain_steps},
          {"warmup_steps", opt.warmup_steps},
          {"batch", opt.batch},
          {"map_steps", opt.map_steps},
          {"map_lr", opt.map_lr},
          {"critic_lr", opt.critic_lr},
          {"critic_magnitude", opt.critic_magnitude},
          {"weight_decay", opt.weight_decay},
          {"width", opt.width},
          {"conditioning", opt.conditioning},
          {"encoding", opt.encoding},
          {"position_scale", opt.position_scale},
          {"shared_encoder", opt.shared_encoder},
          {"cost", opt.cost},
          {"noise_dim", opt.noise_dim},
          {"noise_std", opt.noise_std},
          {"noise_samples", opt.noise_samples},
          {"gamma", opt.gamma},
          {"classes", opt.classes},
          {"eval_samples", opt.eval_samples},
          {"seed", opt.seed},
          {"device", opt.device}};
}

ot::NctmSolverConfig solver_config(const CommonOptions& opt, int64_t dim) {
  ot::NctmSolverConfig c;
  c.dim = dim;
  c.encoder.num_classes = {opt.classes};
  c.encoder.num_continuous = 1;
  c.encoder.encoding = ot::parse_continuous_encoding(opt.encoding);
  c.encoder.position_scale = opt.position_scale;
  c.conditioning = ot::parse_conditioning(opt.conditioning);
  c.shared_encoder = opt.shared_encoder;
  c.width = opt.width;
  c.map_steps = opt.map_steps;
  c.map_lr = opt.map_lr;
  c.critic_lr = opt.critic_lr;
  c.weight_decay = opt.weight_decay;
  c.pretrain_steps = opt.pretrain_steps;
  c.warmup_steps = opt.warmup_steps;
  c.critic_magnitude = opt.critic_magnitude;
  c.noise_dim = opt.noise_dim;
  c.noise_std = opt.noise_std;
  c.noise_samples = opt.noise_samples;
  c.gamma = opt.gamma;
  c.seed = opt.seed;
  c.device = tools::parse_device_flag(opt.device);
  return c;
}

nlohmann::json Scores::json() const {
  return {{"l2uvp", l2uvp}, {"identity_l2uvp", identity}, {"conditions", conditions}};
}

nlohmann::json RunResult::json() const {
  nlohmann::json j{{"label", label},   {"dim", dim},           {"steps", steps},
                   {"seconds", seconds}, {"diverged", diverged}, {"resumed", resumed}};
  if (!error.empty()) j["error"] = error;
  if (scored) {
    j["seen"] = seen.json();
    j["unseen"] = unseen.json();
    j["beyond"] = beyond.json();
    j["unseen_over_seen"] = seen.l2uvp > 0 ? unseen.l2uvp / seen.l2uvp : 0.0;
  }
  return j;
}

TrainedRun train_run(const CommonOptions& opt, const ot::NctmSolverConfig& config, int64_t stream_key,
                     const std::string& label, const fs::path& out, const BatchDraw& draw) {
  TrainedRun result;
  const int64_t dim = config.dim;
  const fs::path checkpoint = out / "checkpoints" / fmt::format("{}.safetensors", label);
  const fs::path metrics = out / "metrics.jsonl";
  auto solver = std::make_unique<ot::NctmSolver>(config);
  const int64_t total = config.pretrain_steps + config.warmup_steps + opt.iters;
  double seconds_before = 0;
  bool have_checkpoint = false;
  if (opt.resume && fs::exists(checkpoint)) {
    solver->load(checkpoint.string());
    // The cumulative seconds of the last record at this step.
    std::ifstream in(metrics);
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
      if (r.is_object() && r.value("label", "") == label && r.value("step", int64_t{-1}) == solver->steps_done() &&
          r.contains("elapsed") && r["elapsed"].is_number() && r.value("event", "") != "diverged")
        seconds_before = r["elapsed"].get<double>();
    }
    have_checkpoint = result.resumed = true;
    if (!opt.quiet)
      std::cerr << fmt::format("{}: {} from {} (step {})\n", label,
                               solver->steps_done() >= total ? "finished earlier, re-scoring" : "resuming",
                               checkpoint.string(), solver->steps_done());
  }
  const auto start = Clock::now();
  auto elapsed = [&] { return seconds_before + std::chrono::duration<double>(Clock::now() - start).count(); };
  const int64_t first = solver->steps_done();
  std::unique_ptr<tools::Progress> progress;
  if (first < total) progress = std::make_unique<tools::Progress>(label, total - first, opt.quiet);
  try {
    while (solver->steps_done() < total) {
      // Step k draws every batch from its own offset, so a resumed run sees the batches of an uninterrupted one.
      Generator gen = stream(opt.seed, stream_key, Stream::Training, training_offset(solver->steps_done() + 1));
      const ot::NctmSampler sample = [&] {
        NoGradGuard no_grad;
        return draw(gen);
      };
      const ot::NctmStepStats st = solver->train_step(sample);
      std::map<std::string, double> shown;
      if (st.phase == ot::NctmPhase::Pretrain) shown = {{"id_mse", st.map_loss}};
      if (st.phase == ot::NctmPhase::Warmup) shown = {{"critic", st.critic_loss}};
      if (st.phase == ot::NctmPhase::Alternating) shown = {{"cost", st.cost}, {"critic", st.critic_loss}};
      progress->update(st.step - first, shown);
      const bool stop = tools::stop_requested();  // Ctrl-C / SIGTERM: save this step and stop
      if (st.step % opt.checkpoint_every == 0 || st.step == total || stop) {
        solver->save(checkpoint.string());
        have_checkpoint = true;
        tools::append_jsonl(metrics, {{"label", label},
                                      {"dim", dim},
                                      {"step", st.step},
                                      {"phase", ot::name(st.phase)},
                                      {"map_loss", st.map_loss},
                                      {"critic_loss", st.critic_loss},
                                      {"cost", st.cost},
                                      {"elapsed", elapsed()}});
      }
      if (stop) throw tools::Stopped(tools::stopped_message(label, st.step, total, checkpoint));
    }
    if (progress) progress->finish();
  } catch (const Error& e) {
    progress.reset();
    result.diverged = true;
    result.error = e.what();
    tools::append_jsonl(metrics, {{"label", label}, {"dim", dim}, {"step", solver->steps_done()},
                                  {"event", "diverged"}, {"error", result.error}, {"elapsed", elapsed()}});
    std::cerr << fmt::format("{}: training failed: {}\n", label, result.error);
    solver = std::make_unique<ot::NctmSolver>(config);
    if (have_checkpoint)
      solver->load(checkpoint.string());
    else
      solver.reset();
  }
  result.seconds = elapsed();
  result.steps = solver ? solver->steps_done() : 0;
  result.solver = std::move(solver);
  return result;
}

RunResult train_and_score(const CommonOptions& opt, const ot::NctmSolverConfig& config, int64_t dim,
                          const std::string& label, const fs::path& out) {
  RunResult result;
  result.label = label;
  result.dim = dim;
  Generator world_gen = stream(opt.seed, dim, Stream::World);
  const GaussianFamily family(dim, opt.classes, world_gen);
  // The training conditions as tensors: means [C, D] and Cholesky factors [C, D, D], C = K · |seen s|.
  const std::vector<std::pair<int64_t, double>> train = conditions(opt.classes, seen_s());
  const int64_t num_train = static_cast<int64_t>(train.size());
  std::vector<Var> means, chols;
  std::vector<double> s_of;
  std::vector<int64_t> k_of;
  for (const auto& [k, s] : train) {
    const ot::Gaussian g = family.target(k, s);
    means.push_back(Var(g.mean()));
    chols.push_back(Var(g.cholesky()));
    k_of.push_back(k);
    s_of.push_back(s);
  }
  const Tensor mean_table = stack(means, 0).data(), chol_table = stack(chols, 0).data();
  const Tensor k_table = Tensor::from_vector(k_of, {num_train, 1});
  const Tensor s_table = Tensor::from_vector(s_of, {num_train, 1});
  const BatchDraw draw = [&](Generator& gen) {
    const Tensor id = gen.randint({opt.batch}, 0, num_train);
    const Tensor x = gen.normal({opt.batch, dim}, 0, 1, DType::F64);
    const Tensor z = gen.normal({opt.batch, dim, 1}, 0, 1, DType::F64);
    const Var l = index_select(Var(chol_table), 0, id);
    const Tensor y = (index_select(Var(mean_table), 0, id) + reshape(matmul(l, Var(z)), {opt.batch, dim})).data();
    return ot::NctmBatch{x, y, {index_select(Var(k_table), 0, id).data(), index_select(Var(s_table), 0, id).data()}};
  };
  TrainedRun trained = train_run(opt, config, dim, label, out, draw);
  result.diverged = trained.diverged;
  result.resumed = trained.resumed;
  result.error = trained.error;
  const std::unique_ptr<ot::NctmSolver>& solver = trained.solver;
  const fs::path metrics = out / "metrics.jsonl";
  result.seconds = trained.seconds;
  result.steps = trained.steps;
  if (!solver) return result;
  Generator eval = stream(opt.seed, dim, Stream::Evaluation);
  const Tensor x = eval.normal({opt.eval_samples, dim}, 0, 1, DType::F64);
  result.seen = score(*solver, family, seen_s(), x);
  result.unseen = score(*solver, family, between_s(), x);
  result.beyond = score(*solver, family, beyond_s(), x);
  result.scored = true;
  nlohmann::json record = result.json();
  record["event"] = "scored";
  tools::append_jsonl(metrics, record);
  return result;
}

int exit_code(bool diverged) {
  if (!diverged) return tools::kExitOk;
  std::cerr << "error: training diverged (see metrics.jsonl)\n";
  return kExitDiverged;
}

}  // namespace brenier::nctm_tool
