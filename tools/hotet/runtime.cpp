// hotet runtime: the paper's Table V protocol (HOTET appendix A-D): wall time to obtain OT maps for 500
// distribution pairs of the §1.7 Gaussian-mixture family (default D = 8), and the time to produce the map
// of one new distribution.
//
//   HOTET-MMB, HOTET-MMv2  one model for all 500 pairs: `steps` steps of 8 distributions each, as gm-predict
//                          trains (spec §1.6, §1.7); a new distribution costs one forward pass of the
//                          embedding and the hypernetwork (HotetSolver::predict).
//   MetaOT                 the same with the Meta OT context (an MLP on a flattened 64-point sample, §3.3),
//                          trained by MM-B like HOTET-MMB (the paper does not say which solver it used).
//   MM-B, MMv2             one single-map solve per pair (W2Solver, the `w2bench` solvers, on GM-prediction
//                          ICNN sizes and batch): `pairs_measured` pairs are timed and the mean is multiplied
//                          by 500. A new distribution needs a new solve.
//
// Every trainer's time includes drawing its batches and identity pre-training; nothing is scored. When a
// trainer runs fewer steps than the paper's 5000 (§1.6), its time is projected linearly (seconds per step
// × 5000 + pre-training), and results.md says so. --resume keeps the trainers already timed in
// results.json and times the rest.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "engine/ops/ops.h"
#include "ot/solvers/w2_solver.h"
#include "tools/common/cli.h"
#include "tools/common/device_flag.h"
#include "tools/common/progress.h"
#include "tools/common/results.h"
#include "tools/hotet/gm_world.h"
#include "tools/hotet/tool.h"

namespace brenier::hotet_tool {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kExperiment = "runtime";
constexpr const char* kTrainers[] = {"hotet-mmb", "meta-ot", "hotet-mmv2", "mmb", "mmv2"};

// The paper's Table V (HOTET appendix A-D; spec §1.10): wall time for 500 maps per method and dimension,
// unit not stated (seconds, presumably), hardware not stated.
struct PaperRuntime {
  int64_t dim;
  double metaot, hotet_mmb, hotet_mmv2, mmb, mmv2;
};
constexpr PaperRuntime kPaper[] = {
    {2, 1161, 1228, 30972, 20695, 409284},  {4, 1183, 1239, 31762, 21848, 365529},
    {8, 1214, 1339, 29106, 24099, 418475},  {16, 1248, 1405, 30541, 24615, 411523},
    {32, 1405, 1223, 28150, 19618, 401511}, {64, 4198, 2324, 20120, 52633, 395583},
};
double paper_seconds(int64_t dim, const std::string& trainer) {
  for (const PaperRuntime& p : kPaper)
    if (p.dim == dim) {
      if (trainer == "hotet-mmb") return p.hotet_mmb;
      if (trainer == "meta-ot") return p.metaot;
      if (trainer == "hotet-mmv2") return p.hotet_mmv2;
      if (trainer == "mmb") return p.mmb;
      if (trainer == "mmv2") return p.mmv2;
    }
  return std::nan("");
}

const char* display_name(const std::string& trainer) {
  if (trainer == "hotet-mmb") return "HOTET-MMB";
  if (trainer == "meta-ot") return "MetaOT (MM-B)";
  if (trainer == "hotet-mmv2") return "HOTET-MMv2";
  if (trainer == "mmb") return "MM-B, one solve per pair";
  return "MMv2, one solve per pair";
}

bool is_mmv2(const std::string& trainer) { return trainer == "hotet-mmv2" || trainer == "mmv2"; }
bool per_pair(const std::string& trainer) { return trainer == "mmb" || trainer == "mmv2"; }

std::string read_first_line(const char* path, const std::string& prefix = "") {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (prefix.empty() || line.rfind(prefix, 0) == 0) return line;
  return "";
}

// The machine, so a reader can weigh the numbers: cores, CPU model, load and thread settings.
nlohmann::json machine_json() {
  std::string model = read_first_line("/proc/cpuinfo", "model name");
  if (auto colon = model.find(':'); colon != std::string::npos) model = model.substr(colon + 2);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return {{"nproc", static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN))},
          {"cpu", model},
          {"host", host},
          {"loadavg", read_first_line("/proc/loadavg")},
          {"omp_num_threads", omp ? omp : "unset"},
          {"omp_wait_policy", policy ? policy : "unset"}};
}

ot::HotetSolverConfig hotet_config(const RuntimeOptions& opt, const std::string& trainer) {
  ot::HotetSolverConfig c = base_solver_config(opt.common, opt.dim);
  c.method = is_mmv2(trainer) ? ot::HotetMethod::MMv2 : ot::HotetMethod::MMB;
  c.icnn_hidden = ot::gm_prediction_hidden(opt.dim);  // §1.1
  c.context_model = trainer == "meta-ot" ? ot::ContextModel::FlattenedSample : ot::ContextModel::Transformer;
  return c;
}

int64_t batch_of(const RuntimeOptions& opt) { return opt.batch > 0 ? opt.batch : batch_for_dim(opt.dim); }
int64_t steps_of(const RuntimeOptions& opt, const std::string& trainer) {
  return is_mmv2(trainer) && opt.mmv2_steps > 0 ? opt.mmv2_steps : opt.common.iters;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One model for all pairs (HOTET-MMB, HOTET-MMv2, MetaOT): gm-predict's training loop, timed; then the
// time to produce (and apply) the map of an unseen distribution.
nlohmann::json time_hotet(const RuntimeOptions& opt, const World& world, const std::string& trainer) {
  const int64_t dim = opt.dim, batch = batch_of(opt), steps = steps_of(opt, trainer);
  const auto start = Clock::now();
  ot::HotetSolver solver(hotet_config(opt, trainer));
  int64_t pretrain_iterations = 0;
  double pretrain_seconds = 0;
  if (opt.common.pretrain) {
    // §1.5, GM variant: points of the first training source, ×3 (as gm-predict).
    Generator gen = stream(opt.common.seed, dim, Stream::Pretrain);
    pretrain_iterations = solver.pretrain([&] {
      const Tensor x = world.train[0].sample(1024, gen, kTrainInnerBatch).points;
      NoGradGuard no_grad;
      return reshape(Var(x) * 3.0, {1, 1024, dim}).data();
    });
    pretrain_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  tools::Progress progress(fmt::format("runtime {} D={}", trainer, dim), steps, opt.common.quiet);
  const auto train_start = Clock::now();
  for (int64_t k = 0; k < steps; ++k) {
    Generator gen = stream(opt.common.seed, dim, Stream::Training, training_offset(k + 1));
    std::vector<int64_t> index = gen.permutation(opt.pairs).to_vector<int64_t>();
    index.resize(static_cast<size_t>(opt.per_step));  // distinct sources per step (§1.7)
    const auto [x, y] = draw_batches(world, index, batch, Targets::Paired, gen);  // as gm-predict's default
    auto fresh = [&] { return draw_batches(world, index, batch, Targets::Paired, gen).second; };
    ot::HotetStepStats stats;
    try {
      stats = solver.step(x, y, fresh);
    } catch (const Error& e) {
      throw TrainingDiverged(fmt::format("runtime {}: training diverged at step {}: {}", trainer, k + 1, e.what()));
    }
    progress.update(k + 1, {{"loss", stats.loss}});
  }
  progress.finish();
  const double train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();

  // A new distribution: an unseen test source, embedded from `batch` of its points (what the model was
  // trained to embed); the map applied to 1024 points is timed separately.
  Generator gen = stream(opt.common.seed, dim, Stream::Evaluation);
  const Tensor sample = world.test[0].sample(batch, gen, kTrainInnerBatch).points;
  const Tensor points = world.test[0].sample(1024, gen, kTrainInnerBatch).points;
  std::vector<double> predict_s, apply_s;
  for (int64_t r = 0; r < opt.predict_repeats; ++r) {
    const auto t0 = Clock::now();
    const ot::HotetMaps maps = solver.predict(sample);
    const auto t1 = Clock::now();
    const Tensor mapped = maps.transport(points);
    const auto t2 = Clock::now();
    BRENIER_CHECK(mapped.size(0) == points.size(0), "hotet runtime: the predicted map returned {} points, expected {}",
                  mapped.size(0), points.size(0));
    predict_s.push_back(std::chrono::duration<double>(t1 - t0).count());
    apply_s.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  return {{"trainer", trainer},
          {"steps", steps},
          {"batch", batch},
          {"per_step", opt.per_step},
          {"pretrain_iterations", pretrain_iterations},
          {"pretrain_seconds", pretrain_seconds},
          {"train_seconds", train_seconds},
          {"seconds_per_step", train_seconds / static_cast<double>(steps)},
          {"new_map_seconds", median(predict_s)},
          {"apply_1024_seconds", median(apply_s)},
          {"predict_repeats", opt.predict_repeats}};
}

// One single-map solve per pair (MM-B, MMv2): the first `pairs_measured` training sources, each trained
// from scratch against ν's samples; the mean per-pair time stands for every one of the 500.
nlohmann::json time_per_pair(const RuntimeOptions& opt, const World& world, const std::string& trainer) {
  const int64_t dim = opt.dim, steps = steps_of(opt, trainer);
  nlohmann::json pairs = nlohmann::json::array();
  double total_pretrain = 0, total_train = 0;
  for (int64_t i = 0; i < opt.pairs_measured; ++i) {
    ot::W2SolverConfig c;
    c.method = trainer == "mmb" ? ot::W2Method::MMB : ot::W2Method::MMv2;
    c.dim = dim;
    c.hidden = ot::gm_prediction_hidden(dim);  // HOTET's generated ICNN, as a plain network (§1.1)
    c.batch = batch_of(opt);                   // GM-prediction batch (§1.6)
    c.iters = steps;
    c.inner_iters = opt.common.inner_iters;    // HOTET's configs: 20 (§1.4)
    c.seed = opt.common.seed + static_cast<uint64_t>(i);
    c.device = tools::parse_device_flag(opt.common.device);
    c.pretrain.enabled = opt.common.pretrain;
    ot::W2Solver solver(c);
    Generator gen = stream(opt.common.seed, dim, Stream::PairSolve, training_offset(i));
    auto source = [&](int64_t n) { return world.train[i].sample(n, gen, kTrainInnerBatch).points; };
    auto target = [&](int64_t n) { return world.target.sample(n, gen, kTrainInnerBatch).points; };
    const auto t0 = Clock::now();
    int64_t pretrain_iterations = 0;
    if (c.pretrain.enabled) pretrain_iterations = solver.pretrain().iterations;
    const auto t1 = Clock::now();
    tools::Progress progress(fmt::format("runtime {} pair {}/{} D={}", trainer, i + 1, opt.pairs_measured, dim), steps,
                             opt.common.quiet);
    for (int64_t k = 0; k < steps; ++k) {
      ot::W2StepStats stats;
      try {
        stats = solver.step(source, target);
      } catch (const Error& e) {
        throw TrainingDiverged(
            fmt::format("runtime {}: pair {} diverged at step {}: {}", trainer, i, k + 1, e.what()));
      }
      progress.update(k + 1, {{"loss", stats.loss}});
    }
    progress.finish();
    const auto t2 = Clock::now();
    const double pre = std::chrono::duration<double>(t1 - t0).count();
    const double train = std::chrono::duration<double>(t2 - t1).count();
    total_pretrain += pre;
    total_train += train;
    pairs.push_back({{"source", i}, {"pretrain_iterations", pretrain_iterations}, {"pretrain_seconds", pre},
                     {"train_seconds", train}});
  }
  const double n = static_cast<double>(opt.pairs_measured);
  return {{"trainer", trainer},
          {"steps", steps},
          {"batch", batch_of(opt)},
          {"pairs_measured", opt.pairs_measured},
          {"pairs", pairs},
          {"pretrain_seconds", total_pretrain / n},
          {"train_seconds", total_train / n},
          {"seconds_per_step", total_train / n / static_cast<double>(steps)}};
}

// Seconds to obtain all the maps with the paper's 5000 steps (§1.6): measured pre-training + seconds per
// step × 5000, times `pairs` for the per-pair solvers.
double projected_seconds(const nlohmann::json& row, int64_t pairs) {
  const double one = row["pretrain_seconds"].get<double>() + row["seconds_per_step"].get<double>() * kPaperIters;
  return per_pair(row["trainer"].get<std::string>()) ? one * static_cast<double>(pairs) : one;
}
double measured_seconds(const nlohmann::json& row) {
  return row["pretrain_seconds"].get<double>() + row["train_seconds"].get<double>();
}

std::string fmt_seconds(double s) {
  if (!std::isfinite(s)) return "—";
  if (s < 100) return fmt::format("{:.2f}", s);
  return fmt::format("{:.0f}", s);
}
// With its unit, for the text column.
std::string fmt_duration(double s) { return s < 0.1 ? fmt::format("{:.2f} ms", s * 1e3) : fmt_seconds(s) + " s"; }

nlohmann::json options_json(const RuntimeOptions& opt) {
  nlohmann::json j = common_json(opt.common);
  j.erase("dims");
  j.erase("method");
  j["dim"] = opt.dim;
  j["steps"] = opt.common.iters;
  j.erase("iters");
  j["mmv2_steps"] = opt.mmv2_steps;
  j["pairs"] = opt.pairs;
  j["pairs_measured"] = opt.pairs_measured;
  j["batch"] = batch_of(opt);
  j["per_step"] = opt.per_step;
  j["trainers"] = opt.trainers;
  return j;
}

void write_results(const fs::path& out, const RuntimeOptions& opt, const nlohmann::json& rows,
                   const nlohmann::json& machine_start, bool done) {
  nlohmann::json per = nlohmann::json::object();
  bool projected = false;
  for (const std::string& trainer : opt.trainers) {
    if (!rows.contains(trainer)) continue;
    nlohmann::json row = rows[trainer];
    row["projected_seconds"] = projected_seconds(row, opt.pairs);
    const double paper = paper_seconds(opt.dim, trainer);
    row["paper_seconds"] = std::isfinite(paper) ? nlohmann::json(paper) : nlohmann::json(nullptr);
    per[trainer] = row;
    if (row["steps"].get<int64_t>() != kPaperIters || per_pair(trainer)) projected = true;
  }
  tools::Table full({"method", "what is trained", "steps timed", "measured s", "s / step",
                     fmt::format("ours: s for {} maps at 5000 steps", opt.pairs),
                     "paper Table V (D = " + std::to_string(opt.dim) + "), not ours", "ours ÷ HOTET-MMB",
                     "paper ÷ HOTET-MMB", "map of a new distribution"});
  // Ratios to HOTET-MMB cancel most of the hardware difference between our machine and the paper's.
  const double ours_ref = per.contains("hotet-mmb") ? per["hotet-mmb"]["projected_seconds"].get<double>() : std::nan("");
  const double paper_ref = paper_seconds(opt.dim, "hotet-mmb");
  auto ratio = [](double a, double b) { return std::isfinite(a) && std::isfinite(b) ? fmt::format("{:.2f}", a / b) : std::string("—"); };
  for (const std::string& trainer : opt.trainers) {
    if (!per.contains(trainer)) continue;
    const nlohmann::json& row = per[trainer];
    const int64_t steps = row["steps"].get<int64_t>();
    const double total = row["projected_seconds"].get<double>();
    const double paper = row["paper_seconds"].is_number() ? row["paper_seconds"].get<double>() : std::nan("");
    full.add_row({std::string(display_name(trainer)),
                  per_pair(trainer) ? fmt::format("{} of {} pairs timed, one network pair each",
                                                  row["pairs_measured"].get<int64_t>(), opt.pairs)
                                    : fmt::format("one model for {} sources, {} per step", opt.pairs, opt.per_step),
                  steps, fmt_seconds(measured_seconds(row)), fmt::format("{:.4f}", row["seconds_per_step"].get<double>()),
                  fmt::format("{}{}", fmt_seconds(total),
                              steps != kPaperIters || per_pair(trainer) ? " (projected)" : ""),
                  std::isfinite(paper) ? fmt::format("{:.0f}", paper) : std::string("—"), ratio(total, ours_ref),
                  ratio(paper, paper_ref),
                  per_pair(trainer) ? fmt::format("a full solve, {}", fmt_duration(total / static_cast<double>(opt.pairs)))
                                    : fmt::format("{} (embedding + hypernetwork); applying it to 1024 points: {}",
                                                  fmt_duration(row["new_map_seconds"].get<double>()),
                                                  fmt_duration(row["apply_1024_seconds"].get<double>()))});
  }
  const nlohmann::json machine_now = machine_json();
  tools::write_json(out / "results.json", {{"tool", "hotet"},
                                           {"experiment", kExperiment},
                                           {"status", done ? "done" : "running"},
                                           {"config", options_json(opt)},
                                           {"machine", {{"at_start", machine_start}, {"at_end", machine_now}}},
                                           {"paper_source", "HOTET paper (arXiv 2504.17740), appendix A-D, Table V"},
                                           {"results", per}});
  std::string md = fmt::format(
      "# hotet runtime: time to obtain {} OT maps (paper Table V protocol, D = {})\n\n"
      "Status: {}. Seed {}. The §1.7 Gaussian-mixture family: {} source mixtures, one reference ν. HOTET and "
      "MetaOT train one model for all sources ({} per step, batch {} points per distribution, as gm-predict); "
      "MM-B and MMv2 train one network pair per source (the `w2bench` W2Solver on HOTET's GM-prediction ICNN "
      "sizes, batch {}, MMv2 with {} inner steps).\n\n{}\n"
      "**Machine**: {} cores ({}), OMP_NUM_THREADS={}, OMP_WAIT_POLICY={}; load average at start `{}`, at end `{}`. "
      "Times are wall-clock and include drawing batches and identity pre-training; the machine may be shared, so "
      "read them as an order of magnitude.\n\n"
      "**How the columns are made.** `measured s` is what this run timed. `ours: s for {} maps` projects it to "
      "the paper's 5000 steps per model (spec §1.6): pre-training + s/step × 5000, and for the per-pair solvers "
      "times {} pairs (the mean of the {} pairs timed — the other pairs were not run). A row marked "
      "(projected) was not run in full. `paper Table V` is the paper's figure (unit not stated, presumably "
      "seconds; hardware not stated), not ours; the two `÷ HOTET-MMB` columns divide each row by HOTET-MMB's (ours by ours, the paper's by the paper's), which cancels most of the difference in hardware. The paper does not say which solver its MetaOT row used; ours "
      "trains MetaOT by MM-B, like HOTET-MMB. `map of a new distribution`: HOTET and MetaOT embed an unseen "
      "source's sample ({} points) and run the hypernetworks once (median of {} repeats); the per-pair solvers "
      "have no such path — a new source needs a new solve.\n",
      opt.pairs, opt.dim, done ? "done" : "running", opt.common.seed, opt.pairs, opt.per_step, batch_of(opt),
      batch_of(opt), opt.common.inner_iters, full.to_markdown(), machine_start["nproc"].get<int64_t>(),
      machine_start["cpu"].get<std::string>(), machine_start["omp_num_threads"].get<std::string>(),
      machine_start["omp_wait_policy"].get<std::string>(), machine_start["loadavg"].get<std::string>(),
      machine_now["loadavg"].get<std::string>(), opt.pairs, opt.pairs, opt.pairs_measured, batch_of(opt),
      opt.predict_repeats);
  if (projected)
    md += "\nSome rows are projections (see above): they are extrapolated from shorter runs, not measured end to "
          "end.\n";
  tools::write_text(out / "results.md", md);
}

}  // namespace

int run_runtime(const RuntimeOptions& options) {
  RuntimeOptions opt = options;
  BRENIER_CHECK(opt.dim >= 1, "--dim: must be >= 1, got {}", opt.dim);
  opt.common.dims = {opt.dim};
  BRENIER_CHECK(opt.common.iters >= 1, "--steps: must be >= 1, got {}", opt.common.iters);
  validate_common(opt.common);
  BRENIER_CHECK(opt.mmv2_steps >= 0, "--mmv2-steps: must be >= 0 (0: --steps), got {}", opt.mmv2_steps);
  BRENIER_CHECK(opt.pairs >= 1, "--pairs: must be >= 1, got {}", opt.pairs);
  BRENIER_CHECK(opt.per_step >= 1 && opt.per_step <= opt.pairs, "--per-step: must be in [1, --pairs = {}], got {}",
                opt.pairs, opt.per_step);
  BRENIER_CHECK(opt.pairs_measured >= 1 && opt.pairs_measured <= opt.pairs,
                "--pairs-measured: must be in [1, --pairs = {}], got {}", opt.pairs, opt.pairs_measured);
  BRENIER_CHECK(opt.batch == 0 || opt.batch >= 2, "--batch: must be >= 2 (MM-B pairs points within a batch), got {}",
                opt.batch);
  BRENIER_CHECK(opt.predict_repeats >= 1, "--predict-repeats: must be >= 1, got {}", opt.predict_repeats);
  BRENIER_CHECK(!opt.trainers.empty(), "--trainers: give at least one of hotet-mmb, meta-ot, hotet-mmv2, mmb, mmv2");
  for (const std::string& t : opt.trainers) {
    BRENIER_CHECK(std::find(std::begin(kTrainers), std::end(kTrainers), t) != std::end(kTrainers),
                  "--trainers: '{}' is not one of hotet-mmb, meta-ot, hotet-mmv2, mmb, mmv2", t);
    BRENIER_CHECK(std::count(opt.trainers.begin(), opt.trainers.end(), t) == 1, "--trainers: '{}' is listed twice", t);
  }
  if (std::count(opt.trainers.begin(), opt.trainers.end(), "meta-ot")) {
    const int64_t points = ot::HotetSolverConfig{}.meta_ot_points;
    BRENIER_CHECK(batch_of(opt) >= points,
                  "--batch: the Meta OT context reads the first {} points of every set, so it needs >= {}, got {}",
                  points, points, batch_of(opt));
  }
  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "hotet", kExperiment);
  const fs::path out = opt.common.out;
  const nlohmann::json options_j = options_json(opt);
  prepare_run_folder(opt.common, out, options_j,
                     {"dim", "seed", "steps", "mmv2_steps", "pairs", "pairs_measured", "batch", "per_step", "pretrain",
                      "embed_width", "embed_heads", "embed_layers", "inner_iters"},
                     kExperiment);
  tools::write_json(out / "config.json", {{"tool", "hotet"}, {"experiment", kExperiment}, {"options", options_j}});

  // Rows timed by an earlier run of this folder (--resume) are kept as they are.
  nlohmann::json rows = nlohmann::json::object();
  nlohmann::json machine_start = machine_json();
  if (opt.common.resume && fs::exists(out / "results.json")) {
    std::ifstream in(out / "results.json");
    const nlohmann::json old = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (old.is_object() && old.contains("results") && old["results"].is_object()) {
      for (auto& [trainer, row] : old["results"].items()) rows[trainer] = row;
      if (old.contains("machine") && old["machine"].contains("at_start")) machine_start = old["machine"]["at_start"];
    }
  }
  const World world = make_world(opt.common.seed, opt.dim, opt.pairs, 1);
  for (const std::string& trainer : opt.trainers) {
    if (rows.contains(trainer)) {
      if (!opt.common.quiet) std::cerr << fmt::format("runtime: {} timed earlier, kept\n", trainer);
      continue;
    }
    try {
      rows[trainer] = per_pair(trainer) ? time_per_pair(opt, world, trainer) : time_hotet(opt, world, trainer);
    } catch (const TrainingDiverged& e) {
      // The rows timed so far stay in results.json (status "running"); a timing of a diverged run means nothing.
      std::cerr << "error: " << e.what() << "\n";
      return kExitDiverged;
    }
    tools::append_jsonl(out / "metrics.jsonl", rows[trainer]);
    write_results(out, opt, rows, machine_start, false);
  }
  write_results(out, opt, rows, machine_start, true);
  std::cout << "runtime results in " << out.string() << " (results.md, results.json)\n";
  for (const std::string& trainer : opt.trainers)
    std::cout << fmt::format("{}: {:.1f} s measured, {:.0f} s projected for {} maps (paper: {:.0f})\n", trainer,
                             measured_seconds(rows[trainer]), projected_seconds(rows[trainer], opt.pairs), opt.pairs,
                             paper_seconds(opt.dim, trainer));
  return tools::kExitOk;
}

}  // namespace brenier::hotet_tool
