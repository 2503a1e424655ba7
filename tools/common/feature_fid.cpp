// The classifier-feature Fréchet distance (see feature_fid.h).
#include "tools/common/feature_fid.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>

#include "engine/autograd/var.h"
#include "engine/backend/primitives.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "ot/linalg/dense.h"
#include "tools/common/progress.h"
#include "tools/common/stop_signal.h"

namespace brenier::tools {
namespace {

constexpr int64_t kChunk = 500;  // images per eval-mode forward (bounds im2col memory)
constexpr const char* kFormat = "brenier-fashion-feature-classifier-v1";

Tensor rows(const Tensor& t, int64_t begin, int64_t end) { return slice(Var(t), 0, begin, end).data(); }

}  // namespace

FeatureClassifier::FeatureClassifier(Generator& gen)
    : conv1_(register_module("conv1", std::make_shared<nn::Conv2d>(1, 32, 4, 2, 1, true, gen))),
      conv2_(register_module("conv2", std::make_shared<nn::Conv2d>(32, 64, 4, 2, 1, true, gen))),
      bn1_(register_module("bn1", std::make_shared<nn::BatchNorm>(32))),
      bn2_(register_module("bn2", std::make_shared<nn::BatchNorm>(64))),
      hidden_(register_module("hidden", std::make_shared<nn::Linear>(64 * 7 * 7, kFeatures, true, gen))),
      out_(register_module("out", std::make_shared<nn::Linear>(kFeatures, kClasses, true, gen))) {}

Var FeatureClassifier::features(const Var& x) const {
  BRENIER_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == 28 && x.size(3) == 28,
                "FeatureClassifier: argument 'x' must be [N, 1, 28, 28], got {}", shape_str(x.shape()));
  Var h = relu((*bn1_)((*conv1_)(x)));
  h = relu((*bn2_)((*conv2_)(h)));
  return relu((*hidden_)(reshape(h, {h.size(0), -1})));
}

Var FeatureClassifier::logits(const Var& x) const { return (*out_)(features(x)); }

void train_feature_classifier(FeatureClassifier& model, const Tensor& images, const Tensor& labels,
                              const ClassifierTraining& config, Generator& gen,
                              const std::function<void(int64_t, int64_t, double)>& on_step) {
  const int64_t n = images.size(0);
  BRENIER_CHECK(labels.dim() == 1 && labels.size(0) == n, "train_feature_classifier: labels must be [{}], got {}", n,
                shape_str(labels.shape()));
  BRENIER_CHECK(config.epochs >= 1 && config.batch >= 2 && config.batch <= n && config.lr > 0,
                "train_feature_classifier: need epochs >= 1, 2 <= batch <= {} images and lr > 0, got {}, {}, {}", n,
                config.epochs, config.batch, config.lr);
  model.train(true);
  optim::Adam adam(model.parameters(), {.lr = config.lr});
  const int64_t per_epoch = n / config.batch;
  const int64_t total = per_epoch * config.epochs;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    const Tensor order = gen.permutation(n);
    for (int64_t b = 0; b < per_epoch; ++b) {
      autograd::Tape tape;
      const Tensor index = rows(order, b * config.batch, (b + 1) * config.batch);
      const Var x(index_select(Var(images), 0, index).data());
      const Tensor y = index_select(Var(labels), 0, index).data().reshape({config.batch, 1});
      const Var loss = neg(mean(gather(log_softmax(model.logits(x), 1), 1, y)));
      adam.zero_grad();
      loss.backward();
      adam.step();
      const double value = loss.data().item();
      BRENIER_CHECK(std::isfinite(value), "train_feature_classifier: the loss became {} at step {}", value, step);
      if (on_step) on_step(++step, total, value);
    }
  }
  model.train(false);
}

double classifier_accuracy(FeatureClassifier& model, const Tensor& images, const Tensor& labels) {
  const bool was_training = model.is_training();
  model.train(false);
  NoGradGuard no_grad;
  const int64_t n = images.size(0);
  const std::vector<int64_t> truth = labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = std::min(n, begin + kChunk);
    const std::vector<int64_t> guess = argmax(model.logits(Var(rows(images, begin, end))), 1).to_vector<int64_t>();
    for (int64_t i = begin; i < end; ++i)
      correct += guess[static_cast<size_t>(i - begin)] == truth[static_cast<size_t>(i)];
  }
  model.train(was_training);
  return static_cast<double>(correct) / static_cast<double>(n);
}

Tensor classifier_features(FeatureClassifier& model, const Tensor& images) {
  const bool was_training = model.is_training();
  model.train(false);
  NoGradGuard no_grad;
  std::vector<Var> parts;
  for (int64_t begin = 0; begin < images.size(0); begin += kChunk)
    parts.push_back(Var(model.features(Var(rows(images, begin, std::min(images.size(0), begin + kChunk)))).data()));
  model.train(was_training);
  return cast(concat(parts, 0), DType::F64).data();
}

GaussianFit fit_gaussian(const Tensor& features) {
  BRENIER_CHECK(features.dim() == 2 && features.size(0) >= 2,
                "fit_gaussian: argument 'features' must be [N >= 2, F], got {}", shape_str(features.shape()));
  const Eigen::MatrixXd x = ot::linalg::to_eigen_matrix(features, "fit_gaussian", "features");
  BRENIER_CHECK(x.allFinite(), "fit_gaussian: argument 'features' must be finite");
  const Eigen::VectorXd mean = x.colwise().mean();
  const Eigen::MatrixXd centred = x.rowwise() - mean.transpose();
  const Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(x.rows() - 1);
  return {ot::linalg::from_eigen(mean), ot::linalg::from_eigen(cov), features.size(0)};
}

double frechet_distance(const GaussianFit& a, const GaussianFit& b) {
  const Eigen::VectorXd ma = ot::linalg::to_eigen_vector(a.mean, "frechet_distance", "a.mean");
  const Eigen::VectorXd mb = ot::linalg::to_eigen_vector(b.mean, "frechet_distance", "b.mean");
  const Eigen::MatrixXd ca = ot::linalg::to_eigen_matrix(a.cov, "frechet_distance", "a.cov");
  const Eigen::MatrixXd cb = ot::linalg::to_eigen_matrix(b.cov, "frechet_distance", "b.cov");
  BRENIER_CHECK(ma.size() == mb.size() && ca.rows() == ma.size() && cb.rows() == mb.size(),
                "frechet_distance: the two fits must have one feature dimension, got {} and {}", ma.size(), mb.size());
  // tr (Σa^{1/2} Σb Σa^{1/2})^{1/2}: the inner matrix is symmetric PSD, so both roots are symmetric ones
  // (eigendecompositions; tiny negative eigenvalues from rounding clamp to 0). Singular Σ (dead features)
  // are fine: no inverse is taken.
  const Eigen::MatrixXd root_a = ot::linalg::spd_sqrt(ca);
  Eigen::MatrixXd inner = root_a * cb * root_a;
  inner = 0.5 * (inner + inner.transpose());
  const double cross = ot::linalg::spd_sqrt(inner).trace();
  const double d2 = (ma - mb).squaredNorm() + ca.trace() + cb.trace() - 2 * cross;
  BRENIER_CHECK(std::isfinite(d2), "frechet_distance: the result is not finite ({})", d2);
  return std::max(0.0, d2);
}

double frechet_distance(const Tensor& features_a, const Tensor& features_b) {
  return frechet_distance(fit_gaussian(features_a), fit_gaussian(features_b));
}

uint64_t tensor_fingerprint(const Tensor& t) {
  uint64_t h = 1469598103934665603ULL;
  auto feed = [&h](const void* data, size_t bytes) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  const std::string head = fmt::format("{}|{}", static_cast<int>(t.dtype()), shape_str(t.shape()));
  feed(head.data(), head.size());
  const Tensor host = t.to(Device::cpu());
  feed(host.raw_data(), static_cast<size_t>(host.numel()) * dtype_size(host.dtype()));
  return h;
}

void save_feature_classifier(const std::filesystem::path& path, const FeatureClassifier& model,
                             std::map<std::string, std::string> metadata) {
  metadata["format"] = kFormat;
  io::save_checkpoint(path.string(), model.state_dict(), metadata);
}

std::optional<std::map<std::string, std::string>> load_feature_classifier(
    const std::filesystem::path& path, FeatureClassifier& model, const std::map<std::string, std::string>& expected) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  io::Checkpoint ckpt = io::load_checkpoint(path.string());
  const auto format = ckpt.metadata.find("format");
  BRENIER_CHECK(format != ckpt.metadata.end() && format->second == kFormat,
                "load_feature_classifier: '{}' is not a feature-classifier checkpoint ({} expected)", path.string(),
                kFormat);
  for (const auto& [key, value] : expected) {
    const auto it = ckpt.metadata.find(key);
    if (it == ckpt.metadata.end() || it->second != value) return std::nullopt;
  }
  nn::NamedTensors state;
  for (const auto& [name, _] : model.state_dict()) {
    const auto it = ckpt.tensors.find(name);
    BRENIER_CHECK(it != ckpt.tensors.end(), "load_feature_classifier: '{}' has no tensor '{}'", path.string(), name);
    state.emplace_back(name, it->second);
  }
  model.load_state_dict(state);
  model.train(false);
  return ckpt.metadata;
}

PreparedClassifier prepare_feature_classifier(FeatureClassifier& model, const std::filesystem::path& path,
                                              const Tensor& train_images, const Tensor& train_labels, int64_t count,
                                              const Tensor& test_images, const Tensor& test_labels,
                                              const ClassifierTraining& training, bool quiet) {
  const int64_t n = std::min(count, train_images.size(0));
  BRENIER_CHECK(n >= 1, "prepare_feature_classifier: argument 'count' must be >= 1, got {}", count);
  const Tensor images = prim::slice(train_images, 0, 0, n, 1), labels = prim::slice(train_labels, 0, 0, n, 1);
  const std::map<std::string, std::string> key = {
      {"data", fmt::format("{:016x}-{:016x}", tensor_fingerprint(images), tensor_fingerprint(labels))},
      {"epochs", std::to_string(training.epochs)},
      {"batch", std::to_string(training.batch)},
      {"lr", fmt::format("{}", training.lr)},
      {"seed", std::to_string(kFeatureClassifierSeed)}};
  PreparedClassifier info;
  const auto t0 = std::chrono::steady_clock::now();
  if (load_feature_classifier(path, model, key)) {
    info.cached = true;
  } else {
    if (!quiet && std::filesystem::exists(path))
      std::cerr << fmt::format("FID classifier: '{}' was trained on other data or settings; retraining it\n",
                               path.string());
    Generator gen(kFeatureClassifierSeed);
    Progress progress("FID classifier", training.epochs * (n / training.batch), quiet);
    train_feature_classifier(model, images, labels, training, gen,
                             [&](int64_t step, int64_t, double loss) {
                               progress.update(step, {{"loss", loss}});
                               if (stop_requested())  // Ctrl-C / SIGTERM; not checkpointed: it is short
                                 throw Stopped(fmt::format("FID classifier: stopped at step {}; --resume trains it "
                                                           "again from the start",
                                                           step));
                             });
    progress.finish();
    std::map<std::string, std::string> meta = key;
    meta["images"] = std::to_string(n);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    save_feature_classifier(path, model, meta);
  }
  info.test_accuracy = classifier_accuracy(model, test_images, test_labels);
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return info;
}

}  // namespace brenier::tools
