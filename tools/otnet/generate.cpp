// otnet generate: OT-Net's latent generation on Fashion-MNIST (paper §4.1.2–4.1.3, Tables 3–4, Appendix A;
// spec/algorithms.md §6.2–6.3), scaled to a CPU.
//
// Pipeline (each stage checkpointed in DIR/checkpoints, so --resume continues where a run stopped):
//  1. Fashion-MNIST from its IDX files (tools/common/fashion_mnist.h): the first --train-images training
//     images, the first --test-images test images.
//  2. The FID classifier (tools/common/feature_fid.h), trained once on the first --classifier-images training
//     images with a fixed seed (it is a measuring instrument: every --seed is scored with the same one) and
//     cached at --classifier; a cache made from other data or settings is retrained.
//  3. The convolutional autoencoder (conv_autoencoder.h, Tables A1–A2), MSE + Adam, checkpointed per epoch.
//  4. Targets: the codes of the first --targets training images, centred and divided by their RMS coordinate
//     (ours: the source N(0, I) of §6.3 then has the codes' scale, so one lr fits any autoencoder).
//  5. Semi-discrete OT from N(0, I) to the n codes: OT-Net's height network H_Φ (Algorithm 1, Table A3) at each
//     training ratio r of --ratios (§4.1.3, Table 4: H_Φ trained on a random ⌈r·n⌉ of the codes, the other
//     heights predicted by a forward pass) and, for Table 4's AE-OT row and as the solved heights the
//     predictions are compared with, AE-OT's free heights on all n; all to the same δ or step budget. Each
//     solve is checkpointed (per ratio, every --checkpoint-every steps and when finished), so --resume loads a
//     finished one and continues an unfinished one (tool.h, "checkpointed solves").
//  6. New codes at non-singular cell boundaries (§6.2: top-20 planes, angle ≤ 0.7 rad, t = 0.75) for every
//     height vector (over all n codes), the plain map T(x) = y_argmax, and a Gaussian fit of the codes (no OT)
//     as a baseline; all decoded.
//  7. Fréchet distances in the classifier's feature space (NOT Inception FID) of m samples of each kind
//     against the test images, beside two floors: m real training images, and their AE reconstructions.
//     Every row uses the same m (the estimate is biased by the sample count).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <numeric>

#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "ot/linalg/dense.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/cell_boundary_codes.h"
#include "ot/solvers/chunked_map.h"
#include "ot/solvers/semi_discrete_cells.h"
#include "tools/common/fashion_mnist.h"
#include "tools/common/feature_fid.h"
#include "tools/common/image.h"
#include "tools/common/progress.h"
#include "tools/common/results.h"
#include "tools/common/run_folder.h"
#include "tools/common/stop_signal.h"
#include "tools/otnet/conv_autoencoder.h"
#include "tools/otnet/tool.h"

namespace brenier::otnet_tool {
namespace {

constexpr const char* kExperiment = "generate";
constexpr double kNetworkLr = 4e-3;  // H_Φ's Adam lr for Fashion-MNIST (§6.3, Appendix A)
constexpr double kFreeLr = 5e-2;     // free heights' lr: pyOMT's CelebA-latent setting (§6.1)
// δ (ours): pyOMT's 2e-3 (§6.1) would need ≳ 1/δ² = 250,000 sources per step to see through the Monte-Carlo
// noise; 5e-3 is an rms cell-mass error of ≈ 22% of 1/n at n = 2,000 (‖ŵ − ν‖·√n), reached in a few hundred steps.
constexpr double kTolerance = 5e-3;
constexpr int64_t kMaxIter = 600;            // ours (pyOMT: 20,000 on a GPU, §6.1); both solvers stop at δ before it
constexpr int64_t kTopK = 20;                // demo2's top-k planes (§6.2)
constexpr double kGapT = 0.75;               // demo2's rec_gen_distance (§6.2)
constexpr int64_t kBoundarySamples = 20000;  // Monte-Carlo points for the boundary search (ours; demo2 10,000)
constexpr int64_t kEvalChunk = 500;          // images per no-graph forward
// Monte Carlo of both solvers: 20 × 1000 sources per step to start (pyOMT's CelebA demo, §6.1, P4's N), doubled
// when ‖∇E‖ stalls for 30 steps (§6.1), capped at 8 × 20,000 (ours) so a step's cost stays bounded.
constexpr ot::MonteCarloConfig kMonteCarlo{
    .batch_size = 1000, .initial_batches = 20, .patience = 30, .max_batches = 160};

// Paper numbers (OT-Net, Li et al.): Table 3 FID (Inception) and Table 4 OT solve time (s), Fashion-MNIST.
constexpr double kPaperFidAeot = 10.98, kPaperFidOtnet = 9.85;
constexpr double kPaperSecondsAeot = 134.83;
struct PaperTime {
  double ratio, seconds;
};
constexpr PaperTime kPaperSecondsOtnet[] = {{1.0, 37.22},  {0.95, 24.56}, {0.90, 26.62}, {0.85, 29.30},
                                            {0.80, 19.61}, {0.75, 23.42}, {0.70, 16.35}};

Tensor rows(const Tensor& t, int64_t begin, int64_t end) { return slice(Var(t), 0, begin, end).data(); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --- stage 3: the autoencoder ------------------------------------------------------------------------------

struct AutoencoderInfo {
  int64_t epochs_done = 0;
  double last_loss = NAN;
  double seconds = 0;  // training time summed over resumed sessions
};

void save_autoencoder(const fs::path& path, const ConvAutoencoder& ae, const optim::Adam& adam,
                      const AutoencoderInfo& info) {
  nn::NamedTensors tensors = ae.state_dict();
  for (auto& [name, t] : adam.state()) tensors.emplace_back("adam." + name, t);
  io::save_checkpoint(path.string(), tensors,
                      {{"epochs_done", std::to_string(info.epochs_done)},
                       {"last_loss", fmt::format("{:.17g}", info.last_loss)},
                       {"seconds", fmt::format("{:.17g}", info.seconds)}});
}

AutoencoderInfo load_autoencoder(const fs::path& path, ConvAutoencoder& ae, optim::Adam& adam) {
  io::Checkpoint ck = io::load_checkpoint(path.string());
  nn::NamedTensors model, optimizer;
  for (auto& [name, t] : ck.tensors) {
    if (name.rfind("adam.", 0) == 0)
      optimizer.emplace_back(name.substr(5), t);
    else
      model.emplace_back(name, t);
  }
  // load_state_dict wants the module's order; the checkpoint's map is sorted by name.
  nn::NamedTensors ordered;
  for (const auto& [name, _] : ae.state_dict()) {
    auto it = std::find_if(model.begin(), model.end(), [&](const auto& e) { return e.first == name; });
    BRENIER_CHECK(it != model.end(), "--resume: '{}' has no tensor '{}' (another --latent or --ae-width?)",
                  path.string(), name);
    ordered.push_back(*it);
  }
  ae.load_state_dict(ordered);
  adam.load_state(optimizer);
  AutoencoderInfo info;
  try {
    info.epochs_done = std::stoll(ck.metadata.at("epochs_done"));
    info.last_loss = std::stod(ck.metadata.at("last_loss"));
    info.seconds = std::stod(ck.metadata.at("seconds"));
  } catch (const std::exception&) {
    throw Error(fmt::format("--resume: '{}' lacks the autoencoder's progress metadata", path.string()));
  }
  return info;
}

AutoencoderInfo train_autoencoder(ConvAutoencoder& ae, const Tensor& images, const GenerateOptions& opt,
                                  const fs::path& checkpoint) {
  optim::Adam adam(ae.parameters(), {.lr = opt.ae_lr});
  AutoencoderInfo info;
  if (opt.common.resume && fs::exists(checkpoint)) info = load_autoencoder(checkpoint, ae, adam);
  const int64_t n = images.size(0);
  const int64_t per_epoch = n / opt.ae_batch;
  tools::Progress progress("autoencoder", per_epoch * opt.ae_epochs, opt.common.quiet);
  ae.train(true);
  for (int64_t epoch = info.epochs_done; epoch < opt.ae_epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    // Each epoch's shuffle is its own stream, so a run resumed at an epoch boundary is bit-identical.
    Generator gen = stream(opt.common.seed, Stream::Autoencoder, 1 + static_cast<uint64_t>(epoch));
    const Tensor order = gen.permutation(n);
    double sum = 0;
    for (int64_t b = 0; b < per_epoch; ++b) {
      if (tools::stop_requested())  // the epoch restarts on --resume: its shuffle is its own stream
        throw tools::Stopped(fmt::format("autoencoder: stopped in epoch {}; {} continues with --resume", epoch + 1,
                                         info.epochs_done > 0 ? fmt::format("the checkpoint of epoch {} in '{}'",
                                                                            info.epochs_done, checkpoint.string())
                                                              : std::string("a run from its start")));
      autograd::Tape tape;
      const Var x(index_select(Var(images), 0, rows(order, b * opt.ae_batch, (b + 1) * opt.ae_batch)).data());
      const Var loss = mean(square(ae.forward(x) - x));
      adam.zero_grad();
      loss.backward();
      adam.step();
      const double value = loss.data().item();
      if (!std::isfinite(value))
        throw DivergedError(fmt::format("autoencoder: the loss became {} in epoch {}", value, epoch + 1));
      sum += value;
      progress.update(epoch * per_epoch + b + 1, {{"mse", value}, {"epoch", static_cast<double>(epoch + 1)}});
    }
    info.epochs_done = epoch + 1;
    info.last_loss = sum / static_cast<double>(per_epoch);
    info.seconds += seconds_since(t0);
    save_autoencoder(checkpoint, ae, adam, info);
  }
  progress.finish();
  ae.train(false);
  return info;
}

Tensor encode_all(ConvAutoencoder& ae, const Tensor& images) {
  NoGradGuard no_grad;
  return ot::map_in_chunks([&](const Var& x) { return ae.encode(x); }, images, kEvalChunk, "encode_all");
}

Tensor decode_all(ConvAutoencoder& ae, const Tensor& codes) {
  NoGradGuard no_grad;
  return ot::map_in_chunks([&](const Var& z) { return ae.decode(z); }, codes, kEvalChunk, "decode_all");
}

// --- latent normalization (ours) ---------------------------------------------------------------------------

struct LatentScale {
  Tensor mean;  // f32 [d]
  double rms = 1;
  Tensor to_targets(const Tensor& codes) const { return ((Var(codes) - Var(mean)) / rms).data(); }
  Tensor to_codes(const Tensor& targets) const { return (Var(targets.to(DType::F32)) * rms + Var(mean)).data(); }
};

LatentScale fit_latent_scale(const Tensor& codes) {
  LatentScale s;
  s.mean = mean(Var(codes), {0}).data();
  const double ms = mean(square(Var(codes) - Var(s.mean))).data().item();
  BRENIER_CHECK(std::isfinite(ms) && ms > 0, "generate: the autoencoder's codes are {} (all equal or not finite)",
                ms > 0 ? "not finite" : "constant");
  s.rms = std::sqrt(ms);
  return s;
}

// Samples of N(mean, cov) fitted to the rows of `targets` [n, d]: the "no OT" baseline. cov + εI keeps the
// Cholesky factor defined when the codes span fewer than d directions.
Tensor gaussian_fit_samples(const Tensor& targets, int64_t m, Generator& gen) {
  const tools::GaussianFit fit = tools::fit_gaussian(targets.to(DType::F64));
  const Eigen::MatrixXd cov = ot::linalg::to_eigen_matrix(fit.cov, "generate", "code covariance");
  const int64_t d = cov.rows();
  const double eps = 1e-9 * std::max(cov.trace() / static_cast<double>(d), 1e-30);
  const Eigen::LLT<Eigen::MatrixXd> llt(cov + eps * Eigen::MatrixXd::Identity(d, d));
  BRENIER_CHECK(llt.info() == Eigen::Success, "generate: the codes' covariance has no Cholesky factor");
  const Tensor factor = ot::linalg::from_eigen(Eigen::MatrixXd(llt.matrixL()));
  const Tensor z = gen.normal({m, d}, 0.0, 1.0, DType::F64);
  return (matmul(Var(z), transpose(Var(factor), 0, 1)) + Var(fit.mean)).data().to(DType::F32);
}

// --- figures -----------------------------------------------------------------------------------------------

// The first cols·rows images of [N, 1, 28, 28] as a gray grid, each pixel drawn `zoom`×`zoom`, 2-pixel gaps.
tools::RgbImage image_grid(const Tensor& images, int64_t cols, int64_t rows_count, int64_t zoom = 2) {
  const int64_t side = 28, gap = 2, cell = side * zoom + gap;
  tools::RgbImage img;
  img.width = cols * cell + gap;
  img.height = rows_count * cell + gap;
  img.pixels.assign(static_cast<size_t>(img.width * img.height * 3), 255);
  const std::vector<float> px = images.to(DType::F32).to_vector<float>();
  const int64_t count = std::min(images.size(0), cols * rows_count);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t x0 = gap + (k % cols) * cell, y0 = gap + (k / cols) * cell;
    for (int64_t y = 0; y < side * zoom; ++y)
      for (int64_t x = 0; x < side * zoom; ++x) {
        const float v = px[static_cast<size_t>(k * side * side + (y / zoom) * side + x / zoom)];
        const auto g = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
        uint8_t* p = &img.pixels[static_cast<size_t>(((y0 + y) * img.width + x0 + x) * 3)];
        p[0] = p[1] = p[2] = g;
      }
  }
  return img;
}

// Rows alternate originals and their reconstructions.
Tensor interleave_rows(const Tensor& a, const Tensor& b, int64_t cols, int64_t pairs) {
  std::vector<Var> parts;
  for (int64_t r = 0; r < pairs; ++r) {
    const int64_t begin = std::min(r * cols, a.size(0)), end = std::min((r + 1) * cols, a.size(0));
    if (begin >= end) break;
    parts.push_back(Var(rows(a, begin, end)));
    parts.push_back(Var(rows(b, begin, end)));
  }
  return concat(parts, 0).data();
}

// --- OT solves ---------------------------------------------------------------------------------------------

// The file-name tag and results.json key of ratio r: "r0.9" / "0.9" (shortest round-trip form, so two
// different ratios never share a checkpoint). r = 1 keeps the names of runs made before --ratios.
std::string ratio_key(double ratio) { return fmt::format("{}", ratio); }
std::string ratio_suffix(double ratio) { return ratio == 1.0 ? "" : "_r" + ratio_key(ratio); }

// Random-stream index of ratio r's draws with base index `base`: r = 1 keeps the indices of runs made before
// --ratios (so its row reproduces them); other ratios get their own, whatever the order of the list.
uint64_t ratio_stream(double ratio, uint64_t base) {
  if (ratio == 1.0) return base;
  return base + 1000 * (1 + static_cast<uint64_t>(std::llround(ratio * 1e6)));
}

// ‖ŵ − ν‖₂ of heights `h` over the n targets on fresh N(0, I) sources: the same yardstick for both solvers.
double fresh_grad_norm(const Tensor& targets, const Tensor& heights, int64_t samples, Generator& gen) {
  const int64_t n = targets.size(0), d = targets.size(1);
  std::vector<int64_t> counts(static_cast<size_t>(n), 0);
  int64_t drawn = 0;
  while (drawn < samples) {
    const int64_t count = std::min<int64_t>(20000, samples - drawn);
    const std::vector<int64_t> c =
        ot::assign_cells(gen.normal({count, d}), targets, heights).counts.to_vector<int64_t>();
    for (int64_t i = 0; i < n; ++i) counts[static_cast<size_t>(i)] += c[static_cast<size_t>(i)];
    drawn += count;
  }
  double s = 0;
  for (int64_t c : counts) {
    const double g = static_cast<double>(c) / static_cast<double>(samples) - 1.0 / static_cast<double>(n);
    s += g * g;
  }
  return std::sqrt(s);
}

struct Generated {
  Tensor codes;  // targets' space [m, d]
  int64_t accepted_pairs = 0, candidate_pairs = 0;
  double mean_angle = 0;  // of the pairs used
};

Generated boundary_codes(const Tensor& targets, const Tensor& heights, const GenerateOptions& opt, uint64_t index) {
  Generator gen = stream(opt.common.seed, Stream::Generate, index);
  ot::BoundaryCodeConfig cfg;
  cfg.samples = kBoundarySamples;
  cfg.top_k = std::min<int64_t>(kTopK, targets.size(0));
  cfg.angle_threshold = opt.angle;
  cfg.max_codes = opt.samples;
  cfg.interpolation = ot::CodeInterpolation::Fixed;
  cfg.fixed_t = kGapT;
  const ot::BoundaryCodes b =
      ot::generate_boundary_codes(ot::normal_sampler(targets.size(1)), gen, targets, heights, cfg);
  Generated g{b.codes, b.accepted_pairs, b.candidate_pairs, 0};
  if (b.angle.defined() && b.angle.numel() > 0) g.mean_angle = mean(Var(b.angle)).data().item();
  return g;
}

// One OT-Net solve at training ratio r and what is measured on it.
struct RatioRun {
  double ratio = 1;
  Split split;  // training / held-out code indices (r = 1: all train)
  std::unique_ptr<ot::HeightNetworkSolver> solver;
  nlohmann::json solve;  // solve_json + fresh_grad_norm
  Tensor heights;        // H_Φ's heights of all n codes
  double predict_ms = 0, predict_held_out_ms = 0;
  nlohmann::json relative_error;  // vs the free heights; null without the baseline
  Generated generated;
};

// The paper's Table 4 OT-Net time at ratio r (Fashion-MNIST), or −1 when the table has no such row.
double paper_seconds(double ratio) {
  for (const PaperTime& p : kPaperSecondsOtnet)
    if (std::abs(p.ratio - ratio) < 1e-9) return p.seconds;
  return -1;
}

}  // namespace

void validate_generate(const GenerateOptions& opt) {
  validate_common(opt.common);
  BRENIER_CHECK(opt.train_images >= 16, "--train-images: must be >= 16, got {}", opt.train_images);
  BRENIER_CHECK(opt.test_images >= 16, "--test-images: must be >= 16, got {}", opt.test_images);
  BRENIER_CHECK(opt.classifier_images >= 16, "--classifier-images: must be >= 16, got {}", opt.classifier_images);
  BRENIER_CHECK(opt.classifier_epochs >= 1, "--classifier-epochs: must be >= 1, got {}", opt.classifier_epochs);
  BRENIER_CHECK(opt.ae_epochs >= 1, "--ae-epochs: must be >= 1, got {}", opt.ae_epochs);
  BRENIER_CHECK(opt.ae_batch >= 2 && opt.ae_batch <= opt.train_images,
                "--ae-batch: must be in [2, --train-images = {}], got {}", opt.train_images, opt.ae_batch);
  BRENIER_CHECK(std::isfinite(opt.ae_lr) && opt.ae_lr > 0, "--ae-lr: must be > 0, got {}", opt.ae_lr);
  BRENIER_CHECK(opt.latent >= 2 && opt.latent <= 1024, "--latent: must be in [2, 1024], got {}", opt.latent);
  BRENIER_CHECK(opt.ae_width >= 1 && opt.ae_width <= 256, "--ae-width: must be in [1, 256], got {}", opt.ae_width);
  BRENIER_CHECK(opt.targets >= 4 && opt.targets <= opt.train_images,
                "--targets: must be in [4, --train-images = {}], got {}", opt.train_images, opt.targets);
  BRENIER_CHECK(opt.samples >= 2, "--samples: must be >= 2, got {}", opt.samples);
  BRENIER_CHECK(std::isfinite(opt.angle) && opt.angle > 0 && opt.angle <= 3.1416,
                "--angle: must be in (0, π] radians, got {}", opt.angle);
  BRENIER_CHECK(std::isfinite(opt.baseline_lr) && opt.baseline_lr >= 0,
                "--baseline-lr: must be > 0 (or 0 for the default), got {}", opt.baseline_lr);
  BRENIER_CHECK(!opt.classifier.empty(), "--classifier: must name a file");
  validate_ratios(opt.ratios, "--ratios");
}

int run_generate(const GenerateOptions& opt) {
  validate_generate(opt);
  const auto run_start = std::chrono::steady_clock::now();
  const double lr = opt.common.lr > 0 ? opt.common.lr : kNetworkLr;
  const double tol = opt.common.tolerance > 0 ? opt.common.tolerance : kTolerance;
  const int64_t max_iter = opt.common.max_iter > 0 ? opt.common.max_iter : kMaxIter;
  const double free_lr = opt.baseline_lr > 0 ? opt.baseline_lr : kFreeLr;
  nlohmann::json options = common_json(opt.common);
  options.update({{"data", opt.data.string()},
                  {"train_images", opt.train_images},
                  {"test_images", opt.test_images},
                  {"classifier_images", opt.classifier_images},
                  {"classifier_epochs", opt.classifier_epochs},
                  {"ae_epochs", opt.ae_epochs},
                  {"ae_batch", opt.ae_batch},
                  {"ae_lr", opt.ae_lr},
                  {"ae_width", opt.ae_width},
                  {"latent", opt.latent},
                  {"targets", opt.targets},
                  {"ratios", opt.ratios},
                  {"samples", opt.samples},
                  {"angle", opt.angle},
                  {"baseline", opt.baseline},
                  {"baseline_lr", free_lr},
                  {"lr_used", lr},
                  {"tolerance_used", tol},
                  {"max_iter_used", max_iter}});

  // Data first, so a missing data set fails before a run folder is made.
  const int64_t train_needed = std::max(opt.train_images, opt.classifier_images);
  const tools::FashionMnist train = tools::load_fashion_mnist(opt.data, tools::FashionMnistSplit::Train, train_needed);
  const tools::FashionMnist test = tools::load_fashion_mnist(opt.data, tools::FashionMnistSplit::Test, opt.test_images);
  BRENIER_CHECK(train.images.size(0) >= opt.train_images,
                "--train-images: the training set holds {} images, fewer than the {} asked for", train.images.size(0),
                opt.train_images);
  const fs::path out = opt.common.out.empty() ? tools::make_run_dir("runs", "otnet", kExperiment) : opt.common.out;
  // Keys that shape the trained models and solves: a resumed run must agree on them.
  tools::prepare_run_folder("otnet", kExperiment, out, opt.common.resume, options,
                            {"seed", "data", "train_images", "ae_epochs", "ae_batch", "ae_lr", "ae_width", "latent",
                             "targets", "hidden", "lr_used", "tolerance_used", "max_iter_used", "baseline_lr"},
                            {"checkpoints", "figures"});
  tools::write_json(out / "config.json", {{"tool", "otnet"}, {"experiment", kExperiment}, {"options", options}});
  const fs::path ckdir = out / "checkpoints";
  const SolveCheckpoints checkpoints = solve_checkpoints(opt.common, out);

  // 2. FID classifier.
  Generator classifier_init(tools::kFeatureClassifierSeed);
  tools::FeatureClassifier classifier(classifier_init);
  const tools::PreparedClassifier clf = tools::prepare_feature_classifier(
      classifier, opt.classifier, train.images, train.labels, opt.classifier_images, test.images, test.labels,
      tools::ClassifierTraining{.epochs = opt.classifier_epochs}, opt.common.quiet);
  const Tensor test_features = tools::classifier_features(classifier, test.images);
  const tools::GaussianFit test_fit = tools::fit_gaussian(test_features);

  // 3. Autoencoder.
  Generator ae_init = stream(opt.common.seed, Stream::Autoencoder, 0);
  ConvAutoencoder ae({.latent = opt.latent, .width = opt.ae_width}, ae_init);
  const Tensor ae_images = rows(train.images, 0, opt.train_images);
  const AutoencoderInfo ae_info = train_autoencoder(ae, ae_images, opt, ckdir / "autoencoder.safetensors");
  const double test_mse = [&] {
    const int64_t k = std::min<int64_t>(test.images.size(0), 2000);
    const Tensor x = rows(test.images, 0, k);
    const Tensor x_codes = encode_all(ae, x);
    return mean(square(Var(decode_all(ae, x_codes)) - Var(x))).data().item();
  }();

  // 4. Targets.
  const Tensor codes = encode_all(ae, rows(ae_images, 0, opt.targets));
  const LatentScale scale = fit_latent_scale(codes);
  const Tensor targets = scale.to_targets(codes);
  const ot::SourceSampler source = ot::normal_sampler(opt.latent);

  // 5. Solves. OT-Net at every ratio r (Table 4, §4.1.3): H_Φ trained on a random ⌈r·n⌉ of the codes, the heights
  //    of all n predicted by one forward pass, the map and the new codes over all n. Then AE-OT's free heights on
  //    all n codes: Table 4's AE-OT row and the solved heights the predictions are compared with.
  const int64_t n = opt.targets;
  const int64_t check_samples = std::max<int64_t>(200000, 50 * n);
  std::vector<int64_t> all_index(static_cast<size_t>(n));
  std::iota(all_index.begin(), all_index.end(), int64_t{0});
  std::vector<RatioRun> runs;
  for (double ratio : opt.ratios) {
    RatioRun run;
    run.ratio = ratio;
    if (ratio == 1.0) {
      run.split.train = all_index;
    } else {
      Generator split_gen = stream(opt.common.seed, Stream::Split, ratio_stream(ratio, 0));
      run.split = random_split(n, ratio, split_gen);
    }
    const Tensor train_targets = ratio == 1.0 ? targets : select_rows(targets, run.split.train);
    run.solver = std::make_unique<ot::HeightNetworkSolver>(
        train_targets, Tensor{}, network_config(opt.common, lr, tol, max_iter, ratio_stream(ratio, 1), kMonteCarlo));
    const ot::HeightNetworkSolveResult r =
        solve_network(*run.solver, source, fmt::format("OT-Net H_Φ r={:.2f}", ratio), opt.common.quiet, checkpoints,
                      "height_network" + ratio_suffix(ratio));
    run.solve = network_solve_json(*run.solver, r);
    const auto t_predict = std::chrono::steady_clock::now();
    run.heights = on_host(run.solver->predict_heights(targets));  // all n: training and held-out codes
    run.predict_ms = 1e3 * seconds_since(t_predict);
    if (!run.split.held_out.empty()) {
      const Tensor held = select_rows(targets, run.split.held_out);
      const auto t_held = std::chrono::steady_clock::now();
      (void)run.solver->predict_heights(held);
      run.predict_held_out_ms = 1e3 * seconds_since(t_held);
    }
    Generator check_gen = stream(opt.common.seed, Stream::Generate, ratio_stream(ratio, 100));
    run.solve["fresh_grad_norm"] = fresh_grad_norm(targets, run.heights, check_samples, check_gen);
    runs.push_back(std::move(run));
  }
  Tensor free_heights;
  nlohmann::json free_solve;
  if (opt.baseline) {
    ot::FreeHeightSolver free_solver(targets, {},
                                     free_height_config(opt.common, free_lr, tol, max_iter, 2, kMonteCarlo));
    const ot::SemiDiscreteSolveResult r =
        solve_free(free_solver, source, "AE-OT free heights", opt.common.quiet, checkpoints, "free_heights");
    free_solve = solve_json(r, -1, r.iterations);
    free_heights = on_host(free_solver.heights());
    Generator check_gen = stream(opt.common.seed, Stream::Generate, 101);
    free_solve["fresh_grad_norm"] = fresh_grad_norm(targets, free_heights, check_samples, check_gen);
    // Predicted vs solved heights (as `reuse`): centred (heights are defined up to a constant), relative to the
    // free heights over the same codes. Cheap: both vectors exist already.
    const std::vector<double> solved = free_heights.to(DType::F64).to_vector<double>();
    for (RatioRun& run : runs) {
      const std::vector<double> h = run.heights.to(DType::F64).to_vector<double>();
      run.relative_error = {{"all", centred_relative_error(h, solved, all_index)},
                            {"train", centred_relative_error(h, solved, run.split.train)},
                            {"held_out", run.split.held_out.empty()
                                             ? nlohmann::json()
                                             : nlohmann::json(centred_relative_error(h, solved, run.split.held_out))}};
    }
  }

  // 6. Samples of every kind, in the targets' space, then decoded. Every row uses the same m.
  for (RatioRun& run : runs) run.generated = boundary_codes(targets, run.heights, opt, ratio_stream(run.ratio, 1));
  Generated aeot_gen;
  if (opt.baseline) aeot_gen = boundary_codes(targets, free_heights, opt, 2);
  int64_t m = opt.samples;
  for (const RatioRun& run : runs) m = std::min(m, run.generated.codes.size(0));
  if (opt.baseline) m = std::min(m, aeot_gen.codes.size(0));
  BRENIER_CHECK(m >= 2,
                "generate: only {} new codes passed the angle threshold {} rad; raise --angle or --targets, or train "
                "longer",
                m, opt.angle);
  Generator gauss_gen = stream(opt.common.seed, Stream::Generate, 4);
  const Tensor gauss_targets = gaussian_fit_samples(targets, m, gauss_gen);

  struct Row {
    std::string name, key;
    Tensor images;
    std::string figure;  // figures/<figure> shows its first 100 images; empty: none
  };
  std::vector<Row> samples;
  for (const RatioRun& run : runs) {
    const std::string suffix = ratio_suffix(run.ratio);
    Generator map_gen = stream(opt.common.seed, Stream::Generate, ratio_stream(run.ratio, 3));
    const Tensor map_targets = on_host(run.solver->transport(map_gen.normal({m, opt.latent}), targets));
    samples.push_back({fmt::format("OT-Net r = {:.2f}: new codes (boundary, §6.2)", run.ratio),
                       "otnet_generated" + suffix, decode_all(ae, scale.to_codes(rows(run.generated.codes, 0, m))),
                       "samples_otnet" + suffix + ".png"});
    samples.push_back({fmt::format("OT-Net r = {:.2f}: plain map T(x)", run.ratio), "otnet_map" + suffix,
                       decode_all(ae, scale.to_codes(map_targets)), "samples_map" + suffix + ".png"});
  }
  if (opt.baseline)
    samples.push_back({"AE-OT (free heights): new codes (boundary)", "aeot_generated",
                       decode_all(ae, scale.to_codes(rows(aeot_gen.codes, 0, m))), "samples_aeot.png"});
  samples.push_back(
      {"Gaussian fit of the codes (no OT)", "gaussian_latent", decode_all(ae, scale.to_codes(gauss_targets)), ""});
  const Tensor real = rows(ae_images, 0, m);
  samples.push_back(
      {"floor: AE reconstructions of m training images", "reconstruction", decode_all(ae, encode_all(ae, real)), ""});
  samples.push_back({"floor: m real training images", "data", real, ""});

  // 7. Fréchet distances and figures.
  tools::Table table({"samples", "FID (our classifier)"}, 3);
  nlohmann::json fid = nlohmann::json::object();
  const fs::path fig = out / "figures";
  for (const Row& row : samples) {
    const double d =
        tools::frechet_distance(tools::fit_gaussian(tools::classifier_features(classifier, row.images)), test_fit);
    fid[row.key] = d;
    table.add_row({row.name, d});
    if (!row.figure.empty()) tools::save_rgb_png(image_grid(row.images, 10, 10), fig / row.figure);
  }
  const Tensor show = rows(test.images, 0, std::min<int64_t>(40, test.images.size(0)));
  tools::save_rgb_png(image_grid(interleave_rows(show, decode_all(ae, encode_all(ae, show)), 10, 4), 10, 8),
                      fig / "reconstructions.png");

  // Table 4 with the sample quality of each ratio (Fig. 8) beside it.
  auto generation_json = [](const Generated& g) {
    return nlohmann::json{{"codes", g.codes.size(0)},
                          {"accepted_pairs", g.accepted_pairs},
                          {"candidate_pairs", g.candidate_pairs},
                          {"mean_angle", g.mean_angle}};
  };
  auto cell = [](const nlohmann::json& v) -> tools::Table::Cell {
    if (v.is_number()) return v.get<double>();
    return std::string("—");
  };
  tools::Table timing({"solver", "r", "train / held-out codes", "steps", "converged", "|dE| last step",
                       "|dE| fresh, all n", "MC sources/step", "solve s", "predict all n ms", "FID new codes",
                       "FID T(x)", "rel. err. held-out", "rel. err. all n", "paper s (Table 4)"},
                      4);
  nlohmann::json ratio_results = nlohmann::json::object();
  for (const RatioRun& run : runs) {
    const std::string suffix = ratio_suffix(run.ratio);
    const double paper = paper_seconds(run.ratio);
    const nlohmann::json paper_cell = paper > 0 ? nlohmann::json(paper) : nlohmann::json();
    const nlohmann::json& rel = run.relative_error;
    const nlohmann::json held = rel.is_object() ? rel["held_out"] : nlohmann::json();
    const nlohmann::json all = rel.is_object() ? rel["all"] : nlohmann::json();
    timing.add_row({std::string("OT-Net (height network H_Φ)"), fmt::format("{:.2f}", run.ratio),
                    fmt::format("{} / {}", run.split.train.size(), run.split.held_out.size()),
                    run.solve["iterations"].get<int64_t>(),
                    std::string(run.solve["converged"].get<bool>() ? "yes" : "no"),
                    run.solve["grad_norm"].get<double>(), run.solve["fresh_grad_norm"].get<double>(),
                    run.solve["mc_samples"].get<int64_t>(), run.solve["seconds"].get<double>(), run.predict_ms,
                    fid["otnet_generated" + suffix].get<double>(), fid["otnet_map" + suffix].get<double>(), cell(held),
                    cell(all), cell(paper_cell)});
    ratio_results[ratio_key(run.ratio)] = {
        {"ratio", run.ratio},
        {"train_targets", run.split.train.size()},
        {"held_out_targets", run.split.held_out.size()},
        {"steps", run.solve["iterations"]},
        {"converged", run.solve["converged"]},
        {"solve_seconds", run.solve["seconds"]},
        {"fresh_grad_norm", run.solve["fresh_grad_norm"]},
        {"predict_heights_ms", run.predict_ms},
        {"predict_held_out_ms", run.split.held_out.empty() ? nlohmann::json() : nlohmann::json(run.predict_held_out_ms)},
        {"fid_generated", fid["otnet_generated" + suffix]},
        {"fid_map", fid["otnet_map" + suffix]},
        {"relative_error_vs_free_heights", rel},
        {"generation", generation_json(run.generated)},
        {"solve", run.solve},
        {"paper_seconds", paper_cell},
        {"figures", {"figures/samples_otnet" + suffix + ".png", "figures/samples_map" + suffix + ".png"}}};
  }
  if (opt.baseline)
    timing.add_row({std::string("AE-OT (free heights)"), std::string("1.00"), fmt::format("{} / 0", n),
                    free_solve["iterations"].get<int64_t>(),
                    std::string(free_solve["converged"].get<bool>() ? "yes" : "no"),
                    free_solve["grad_norm"].get<double>(), free_solve["fresh_grad_norm"].get<double>(),
                    free_solve["mc_samples"].get<int64_t>(), free_solve["seconds"].get<double>(), std::string("—"),
                    fid["aeot_generated"].get<double>(), std::string("—"), std::string("—"), std::string("—"),
                    kPaperSecondsAeot});

  // The top-level "ot" block and fid keys without a suffix are those of r = 1 (or the first ratio without it),
  // as before --ratios.
  const auto main_it = std::find_if(runs.begin(), runs.end(), [](const RatioRun& r) { return r.ratio == 1.0; });
  const RatioRun& main_run = main_it != runs.end() ? *main_it : runs.front();
  nlohmann::json paper_times = nlohmann::json::array();
  for (const PaperTime& p : kPaperSecondsOtnet)
    paper_times.push_back({{"ratio", p.ratio}, {"otnet_seconds", p.seconds}});
  nlohmann::json generation = {{"otnet", generation_json(main_run.generated)}};
  if (opt.baseline) generation["aeot"] = generation_json(aeot_gen);
  const double total_seconds = seconds_since(run_start);
  nlohmann::json results = {
      {"tool", "otnet"},
      {"experiment", kExperiment},
      {"status", "done"},
      {"fid_note",
       "Fréchet distance in the penultimate-layer features (128) of our own Fashion-MNIST classifier, "
       "NOT Inception FID: not comparable with the paper's FIDs"},
      {"fid", fid},
      {"samples", m},
      {"test_images", test.images.size(0)},
      {"classifier",
       {{"test_accuracy", clf.test_accuracy},
        {"cached", clf.cached},
        {"seconds", clf.seconds},
        {"path", opt.classifier.string()},
        {"features", tools::FeatureClassifier::kFeatures}}},
      {"autoencoder",
       {{"epochs", ae_info.epochs_done},
        {"train_mse", ae_info.last_loss},
        {"test_mse", test_mse},
        {"seconds", ae_info.seconds},
        {"latent", opt.latent},
        {"width", opt.ae_width},
        {"train_images", opt.train_images}}},
      {"targets", n},
      {"latent_rms", scale.rms},
      {"ratios", ratio_results},
      {"ot", {{"otnet", main_run.solve}, {"otnet_ratio", main_run.ratio}, {"predict_heights_ms", main_run.predict_ms}}},
      {"generation", generation},
      {"seconds", total_seconds},
      {"paper",
       {{"fid",
         {{"aeot", kPaperFidAeot},
          {"otnet", kPaperFidOtnet},
          {"note", "Table 3, Inception FID, full Fashion-MNIST, r = 1; Fig. 8 gives FID against r only as a curve"}}},
        {"solve_seconds",
         {{"aeot", kPaperSecondsAeot},
          {"otnet", paper_times},
          {"note", "Table 4, GPU, 60,000 codes of dimension 100"}}},
        {"predict_held_out_seconds", {{"ratio", 0.8}, {"seconds", 0.028}, {"note", "§4.1.3, the 20% new codes"}}}}}};
  if (opt.baseline) results["ot"]["aeot"] = free_solve;
  tools::write_json(out / "results.json", results);

  const std::string md = fmt::format(
      "# otnet generate: latent generation on Fashion-MNIST\n\n"
      "## Sample quality\n\n{}\n"
      "**These are not Inception FIDs.** The distance is FID's formula in the 128 penultimate-layer features of a "
      "small classifier trained by this tool ({} training images, {} epochs, test accuracy {:.2f}% on {} test "
      "images{}), so the numbers only rank the rows above; they cannot be compared with the paper's Table 3 "
      "(Inception FID, paper: AE-OT {:.2f}, OT-Net {:.2f} at r = 1; its Fig. 8 plots FID against r as a curve "
      "without numbers). Every row: m = {} samples against {} test images. The two floors show what the "
      "autoencoder and the sample size allow.\n\n"
      "## OT solve time per training ratio r (paper Table 4)\n\n{}\n"
      "Ours: n = {} codes of dimension {}, source N(0, I), δ = {}, at most {} steps, on this machine's CPU. OT-Net "
      "at ratio r trains H_Φ on a random ⌈r·n⌉ of the codes and predicts the heights of all n (one forward pass: "
      "\"predict all n ms\"); the map and the new codes run over all n codes. |dE| fresh, all n: ‖ŵ − ν‖ over all "
      "n codes of the final (for r < 1 partly predicted) heights on {} fresh sources (noise ≈ {:.1e}). "
      "rel. err.: ‖h̃ − h̃*‖/‖h̃*‖ of H_Φ's heights against AE-OT's free heights h* on all n codes, both centred "
      "over the codes compared (held-out codes; all n). "
      "Paper (Table 4, the paper's numbers on a GPU, 60,000 codes of dimension 100): AE-OT {:.2f} s; OT-Net "
      "37.22 / 24.56 / 26.62 / 29.30 / 19.61 / 23.42 / 16.35 s at r = 1 / 0.95 / 0.9 / 0.85 / 0.8 / 0.75 / 0.7; "
      "predicting the 20% new codes at r = 0.8 took 0.028 s.\n\n"
      "## Setup\n\n"
      "Autoencoder (Tables A1–A2, width {}, latent {}): {} epochs on {} training images, batch {}, Adam lr {} "
      "(ours; paper: lr 2e-4, batch 512); train MSE {:.5f}, test MSE {:.5f}; {:.0f} s. Codes centred and scaled "
      "by their RMS coordinate {:.3f} (ours). New codes: {} Monte-Carlo points, top-{} planes, angle ≤ {} rad, "
      "t = {} (§6.2): OT-Net r = {:.2f} {} codes ({} of {} candidate pairs within the angle). Figures: "
      "figures/samples_otnet[_rR].png, samples_map[_rR].png, samples_aeot.png, reconstructions.png (rows "
      "alternate test images and their reconstructions). Seed {}; total {:.0f} s.\n",
      table.to_markdown(), std::min(opt.classifier_images, train.images.size(0)), opt.classifier_epochs,
      100 * clf.test_accuracy, test.images.size(0), clf.cached ? ", loaded from its cache" : "", kPaperFidAeot,
      kPaperFidOtnet, m, test.images.size(0), timing.to_markdown(), n, opt.latent, tol, max_iter, check_samples,
      std::sqrt(1.0 / static_cast<double>(check_samples)), kPaperSecondsAeot, opt.ae_width, opt.latent,
      ae_info.epochs_done, opt.train_images, opt.ae_batch, opt.ae_lr, ae_info.last_loss, test_mse, ae_info.seconds,
      scale.rms, kBoundarySamples, kTopK, opt.angle, kGapT, main_run.ratio, main_run.generated.codes.size(0),
      main_run.generated.accepted_pairs, main_run.generated.candidate_pairs, opt.common.seed, total_seconds);
  tools::write_text(out / "results.md", md);
  if (!opt.common.quiet) std::cout << md;
  std::cout << fmt::format("results: {}\n", (out / "results.json").string());
  return 0;
}

}  // namespace brenier::otnet_tool
