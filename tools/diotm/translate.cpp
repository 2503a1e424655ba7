// diotm translate: unpaired image-to-image translation between two Fashion-MNIST classes (issue 7,
// experiment 4; the paper translates CelebA Male→Female and AFHQ Wild→Cat with NCSN++ networks, spec
// §4.1/§4.3, which a 2-core CPU cannot train). DIOTM's solver with the conv architecture
// (ot/layers/conv_unet_map.h, conv_time_potential.h) on flat 28×28 images scaled to [−1, 1], cost
// α‖x − y‖² with α = 1e-3 (the image cost weight τ of the authors' previous code, spec §4.4).
//
// Quality: a Fréchet distance in the feature space of a classifier this tool trains on Fashion-MNIST
// (tools/common/feature_fid.h) — NOT Inception FID, not comparable with the paper's FIDs — between
// translated test images and the target class's test images, beside the identity (untranslated
// inputs) and a floor (target-class training images vs its test images), plus the fraction of
// translations the classifier assigns to the target class, both directions. PNG grid of inputs and
// outputs in figures/.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>

#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"
#include "tools/common/cli.h"
#include "tools/common/fashion_mnist.h"
#include "tools/common/feature_fid.h"
#include "tools/common/image.h"
#include "tools/common/progress.h"
#include "tools/common/results.h"
#include "tools/diotm/tool.h"

namespace brenier::diotm_tool {
namespace {

constexpr const char* kExperiment = "translate";
constexpr int64_t kPixels = 28 * 28;

// "7", "sneaker", "Ankle boot", "ankle-boot", "t-shirt/top" → the label; throws naming `flag`.
int64_t parse_class(const std::string& text, const char* flag) {
  auto normal = [](std::string s) {
    std::string out;
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    }
    return out;
  };
  const auto& names = tools::fashion_mnist_class_names();
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (digits) {
    BRENIER_CHECK(text.size() == 1, "{}: a class index must be 0..9, got '{}'", flag, text);
    return text[0] - '0';
  }
  std::vector<std::string> choices;
  for (size_t k = 0; k < names.size(); ++k) {
    if (normal(names[k]) == normal(text) || (k == 0 && (normal(text) == "tshirt" || normal(text) == "top")))
      return static_cast<int64_t>(k);
    choices.push_back(fmt::format("{} ({})", k, names[k]));
  }
  throw Error(fmt::format("{}: unknown Fashion-MNIST class '{}'; use an index or a name: {}", flag, text,
                          fmt::join(choices, ", ")));
}

// The images of one class, flat [n, 784] in [−1, 1] (f32), the first `limit` of them when limit >= 0.
Tensor class_images(const tools::FashionMnist& data, int64_t label, int64_t limit) {
  const std::vector<int64_t> labels = data.labels.to_vector<int64_t>();
  std::vector<int64_t> rows;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == label && (limit < 0 || static_cast<int64_t>(rows.size()) < limit)) rows.push_back(i);
  BRENIER_CHECK(!rows.empty(), "translate: the data holds no image of class {}", label);
  const Tensor flat = reshape(Var(data.images), {data.images.size(0), kPixels}).data();
  const Tensor picked = prim::index_select(flat, 0, Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}));
  return (Var(picked) * 2.0 - 1.0).data();
}

// [n, 784] in [−1, 1] → [n, 1, 28, 28] in [0, 1] (clamped: the maps are not bounded).
Tensor to_unit_images(const Tensor& flat) {
  NoGradGuard no_grad;
  const Tensor unit = clamp((Var(flat) + 1.0) * 0.5, 0.0, 1.0).data();
  return reshape(Var(unit), {flat.size(0), 1, 28, 28}).data();
}

// Rows of 28×28 images (each [k, 784] in [−1, 1]) stacked into one gray PNG, each pixel shown `scale`×.
tools::RgbImage image_grid(const std::vector<Tensor>& rows, int64_t columns, int64_t scale = 3, int64_t gap = 4) {
  const int64_t cell = 28 * scale;
  tools::RgbImage grid;
  grid.width = columns * (cell + gap) - gap;
  grid.height = static_cast<int64_t>(rows.size()) * (cell + gap) - gap;
  grid.pixels.assign(static_cast<size_t>(grid.width * grid.height * 3), 255);
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::vector<float> v = to_unit_images(rows[r]).to_vector<float>();
    for (int64_t c = 0; c < std::min(columns, rows[r].size(0)); ++c)
      for (int64_t y = 0; y < cell; ++y)
        for (int64_t x = 0; x < cell; ++x) {
          const float p = v[static_cast<size_t>(c * kPixels + (y / scale) * 28 + x / scale)];
          const auto g = static_cast<uint8_t>(std::lround(255.0 * (1.0 - p)));  // dark garments on white
          const int64_t px = c * (cell + gap) + x, py = static_cast<int64_t>(r) * (cell + gap) + y;
          uint8_t* out = &grid.pixels[static_cast<size_t>((py * grid.width + px) * 3)];
          out[0] = out[1] = out[2] = g;
        }
  }
  return grid;
}

struct Scores {
  double fid = NAN, fid_identity = NAN, fid_floor = NAN, target_rate = NAN, identity_rate = NAN, cost = NAN;
};

// One direction: inputs (class a, test) mapped to `mapped`, compared with class b's test images.
Scores score(tools::FeatureClassifier& clf, const Tensor& inputs, const Tensor& mapped, const Tensor& target_test,
             const Tensor& target_train, int64_t target_label) {
  Scores s;
  const Tensor f_mapped = tools::classifier_features(clf, to_unit_images(mapped));
  const Tensor f_inputs = tools::classifier_features(clf, to_unit_images(inputs));
  const Tensor f_target = tools::classifier_features(clf, to_unit_images(target_test));
  const Tensor f_train = tools::classifier_features(clf, to_unit_images(target_train));
  s.fid = tools::frechet_distance(f_mapped, f_target);
  s.fid_identity = tools::frechet_distance(f_inputs, f_target);
  s.fid_floor = tools::frechet_distance(f_train, f_target);
  auto rate = [&](const Tensor& flat) {
    const Tensor labels = Tensor::full({flat.size(0)}, static_cast<double>(target_label), DType::I64);
    return tools::classifier_accuracy(clf, to_unit_images(flat), labels);
  };
  s.target_rate = rate(mapped);
  s.identity_rate = rate(inputs);
  // Mean squared change per pixel, in [0, 1] pixel units (the [−1, 1] scale halves distances).
  NoGradGuard no_grad;
  s.cost = mean(square((Var(mapped) - Var(inputs)) * 0.5)).item();
  return s;
}

std::string num(double v, int decimals = 2) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "n/a"; }

}  // namespace

int run_translate(const TranslateOptions& options) {
  TranslateOptions opt = options;
  validate_common(opt.common);
  const int64_t from = parse_class(opt.from, "--from"), to = parse_class(opt.to, "--to");
  BRENIER_CHECK(from != to, "--from/--to: the two classes must differ, both are {}", from);
  BRENIER_CHECK(opt.channels >= 1, "--channels: must be >= 1, got {}", opt.channels);
  BRENIER_CHECK(opt.train_images == -1 || opt.train_images >= 1, "--train-images: must be >= 1 (or -1: all), got {}",
                opt.train_images);
  BRENIER_CHECK(opt.eval_images >= 2, "--eval-images: must be >= 2, got {}", opt.eval_images);
  BRENIER_CHECK(opt.classifier_images >= 256, "--classifier-images: must be >= 256, got {}", opt.classifier_images);
  BRENIER_CHECK(opt.classifier_epochs >= 1, "--classifier-epochs: must be >= 1, got {}", opt.classifier_epochs);
  ot::parse_diotm_regularizer(opt.common.regularizer);
  ot::parse_hjb_norm(opt.common.hjb_norm);
  // Data first, so a missing package fails before a run folder exists.
  const tools::FashionMnist train = tools::load_fashion_mnist(opt.data, tools::FashionMnistSplit::Train);
  const tools::FashionMnist test = tools::load_fashion_mnist(opt.data, tools::FashionMnistSplit::Test);
  const Tensor source = class_images(train, from, opt.train_images);
  const Tensor target = class_images(train, to, opt.train_images);
  const Tensor source_test = class_images(test, from, opt.eval_images);
  const Tensor target_test = class_images(test, to, opt.eval_images);
  const auto& names = tools::fashion_mnist_class_names();

  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "diotm", kExperiment);
  const fs::path out = opt.common.out;
  nlohmann::json options_j = common_json(opt.common);
  options_j.update({{"from", from}, {"to", to}, {"channels", opt.channels}, {"train_images", opt.train_images},
                    {"eval_images", opt.eval_images}, {"classifier_images", opt.classifier_images},
                    {"classifier_epochs", opt.classifier_epochs}, {"data", opt.data.string()}});
  prepare_run_folder(opt.common, out, options_j,
                     {"batch", "alpha", "regularizer", "hjb_norm", "lambda", "kv", "kt", "lr_map", "lr_potential",
                      "seed", "from", "to", "channels", "train_images"},
                     kExperiment);
  tools::write_json(out / "config.json", {{"tool", "diotm"}, {"experiment", kExperiment}, {"options", options_j}});

  Generator classifier_init(tools::kFeatureClassifierSeed);
  auto classifier = std::make_unique<tools::FeatureClassifier>(classifier_init);
  const tools::PreparedClassifier prepared = tools::prepare_feature_classifier(
      *classifier, opt.classifier, train.images, train.labels, opt.classifier_images, test.images, test.labels,
      tools::ClassifierTraining{.epochs = opt.classifier_epochs}, opt.common.quiet);
  const double accuracy = prepared.test_accuracy;

  ot::DiotmConfig config = solver_config(opt.common, kPixels);
  config.architecture = ot::DiotmArchitecture::Conv;
  config.image = {1, 28, 28};
  config.conv_channels = opt.channels;
  auto rows = [](const Tensor& pool, int64_t n, Generator& g) {
    return prim::index_select(pool, 0, g.randint({n}, 0, pool.size(0)));
  };
  const std::string name = fmt::format("{}to{}", from, to);
  Unit unit{name, config, [&](int64_t n, Generator& g) { return rows(source, n, g); },
            [&](int64_t n, Generator& g) { return rows(target, n, g); }};
  UnitResult trained = train_unit(opt.common, opt.common.iters, unit, out);
  if (!trained.solver) {
    std::cerr << "translate: no checkpoint to score (training failed before the first one)\n";
    return kExitDiverged;
  }
  const Tensor forward = trained.solver->transport(source_test, 256);
  const Tensor backward = trained.solver->inverse_transport(target_test, 256);
  const int64_t floor_n = std::min(target.size(0), target_test.size(0));
  const Scores fwd = score(*classifier, source_test, forward, target_test, prim::slice(target, 0, 0, floor_n, 1), to);
  const int64_t floor_src = std::min(source.size(0), source_test.size(0));
  const Scores inv =
      score(*classifier, target_test, backward, source_test, prim::slice(source, 0, 0, floor_src, 1), from);

  const int64_t shown = std::min<int64_t>(10, std::min(source_test.size(0), target_test.size(0)));
  auto first = [&](const Tensor& t) { return prim::slice(t, 0, 0, shown, 1); };
  tools::save_rgb_png(image_grid({first(source_test), first(forward), first(target_test), first(backward)}, shown),
                      out / "figures" / "translate.png");

  auto direction_json = [](const Scores& s) {
    return nlohmann::json{{"fid", s.fid},
                          {"fid_identity", s.fid_identity},
                          {"fid_floor", s.fid_floor},
                          {"target_class_rate", s.target_rate},
                          {"target_class_rate_identity", s.identity_rate},
                          {"pixel_cost", s.cost}};
  };
  tools::write_json(out / "results.json",
                    {{"tool", "diotm"},
                     {"experiment", kExperiment},
                     {"config", options_j},
                     {"results",
                      {{"from", names[from]}, {"to", names[to]}, {"iters", trained.iters},
                       {"seconds", trained.seconds}, {"seconds_per_step", trained.seconds_per_step},
                       {"diverged", trained.diverged}, {"classifier_test_accuracy", accuracy},
                       {"classifier", {{"path", opt.classifier.string()}, {"cached", prepared.cached},
                                       {"seconds", prepared.seconds}}},
                       {"forward", direction_json(fwd)}, {"backward", direction_json(inv)}}}});
  tools::Table table({"direction", "classifier-FID (ours)", "identity", "floor", "target-class rate", "identity rate",
                      "pixel cost"});
  table.add_row({fmt::format("{} → {} (T→)", names[from], names[to]), num(fwd.fid), num(fwd.fid_identity),
                 num(fwd.fid_floor), num(fwd.target_rate, 3), num(fwd.identity_rate, 3), num(fwd.cost, 4)});
  table.add_row({fmt::format("{} → {} (T←)", names[to], names[from]), num(inv.fid), num(inv.fid_identity),
                 num(inv.fid_floor), num(inv.target_rate, 3), num(inv.identity_rate, 3), num(inv.cost, 4)});
  std::string md = fmt::format(
      "# diotm translate: unpaired Fashion-MNIST translation, {} ↔ {}\n\n"
      "{} steps (batch {} per side, {:.2f} s/step), seed {}{}. Test images: {} per class.\n\n{}\n"
      "- classifier-FID: the Fréchet distance between Gaussian fits of the penultimate-layer features of the "
      "tools' own Fashion-MNIST classifier (tools/common/feature_fid.h; {} images, {} epochs, fixed seed, test "
      "accuracy {:.3f}). It is NOT "
      "Inception FID and cannot be compared with the paper's FIDs (CelebA M→F 64: 5.27, 128: 7.40; AFHQ Wild→Cat "
      "64: 10.72 — the paper's, on other data with NCSN++ networks).\n"
      "- identity: the untranslated inputs against the target class; floor: the target class's training images "
      "against its test images (sampling noise of the distance).\n"
      "- target-class rate: fraction of outputs the classifier labels as the target class.\n"
      "- pixel cost: mean squared change per pixel, pixels in [0, 1].\n\n"
      "Networks: ConvUNetMap / ConvTimePotential with {} base channels (ours, CPU-sized; the paper uses NCSN++ "
      "and DDGAN discriminators, spec §4.3); images scaled to [−1, 1]; α = {} (the image cost weight τ = 1e-3 of "
      "spec §4.4 when left at its default).\n\n{}",
      names[from], names[to], trained.iters, opt.common.batch, trained.seconds_per_step, opt.common.seed,
      trained.diverged ? fmt::format(" — **diverged**: {}", trained.error) : "", source_test.size(0),
      table.to_markdown(), std::min<int64_t>(opt.classifier_images, train.images.size(0)), opt.classifier_epochs,
      accuracy, opt.channels, opt.common.alpha, choices_markdown(opt.common, config));
  tools::write_text(out / "results.md", md);
  std::cout << table.to_markdown() << "\nresults in " << out.string() << " (results.md, results.json, figures/)\n";
  return trained.diverged ? kExitDiverged : tools::kExitOk;
}

}  // namespace brenier::diotm_tool
