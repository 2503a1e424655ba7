// A Fréchet distance in the feature space of a small Fashion-MNIST classifier that the tools train
// themselves: FID's formula (Heusel et al. 2017) with a different network, so the numbers are NOT Inception
// FIDs and cannot be compared with published FIDs (the OT-Net paper's 9.85 for Fashion-MNIST, say); they
// only rank samples scored with the same classifier. No Inception network ships with Debian, and a
// classifier trained on the data set itself is what the 28×28 gray-scale images call for.
//
// FeatureClassifier: conv(1→32, 4, s2, p1) + BN + ReLU → conv(32→64, 4, s2, p1) + BN + ReLU → flatten →
// Linear(3136→128) + ReLU (= the features, the penultimate layer) → Linear(128→10). Its design is ours.
//   Fréchet distance d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
// between the Gaussian fits (sample mean, unbiased covariance) of two feature sets.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/nn/batch_norm.h"
#include "engine/nn/conv.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::tools {

class FeatureClassifier : public nn::Module {
 public:
  static constexpr int64_t kFeatures = 128;
  static constexpr int64_t kClasses = 10;
  explicit FeatureClassifier(Generator& gen);
  // x [N, 1, 28, 28] (f32, values in [0, 1]) → [N, 128] (non-negative) / [N, 10].
  Var features(const Var& x) const;
  Var logits(const Var& x) const;

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm> bn1_, bn2_;
  std::shared_ptr<nn::Linear> hidden_, out_;
};

struct ClassifierTraining {
  int64_t epochs = 2;   // ours: ~90% test accuracy on 20k images (enough to separate the classes' features)
  int64_t batch = 128;  // ours
  double lr = 1e-3;     // Adam (PyTorch's default)
};

// Trains `model` with Adam on cross-entropy over shuffled mini-batches (the last partial batch dropped);
// `gen` shuffles. `on_step(step, total_steps, loss)` sees every step. Leaves the model in eval mode.
void train_feature_classifier(FeatureClassifier& model, const Tensor& images, const Tensor& labels,
                              const ClassifierTraining& config, Generator& gen,
                              const std::function<void(int64_t, int64_t, double)>& on_step = {});

// Fraction of `images` whose argmax logit equals the label (eval mode, in chunks).
double classifier_accuracy(FeatureClassifier& model, const Tensor& images, const Tensor& labels);

// Penultimate-layer features of `images` [N, 1, 28, 28]: f64 [N, 128] (eval mode, no graph, in chunks).
Tensor classifier_features(FeatureClassifier& model, const Tensor& images);

struct GaussianFit {
  Tensor mean;  // f64 [F]
  Tensor cov;   // f64 [F, F], unbiased (divides by N − 1)
  int64_t count = 0;
};
// Mean and covariance of the rows of `features` [N, F] (N >= 2, finite).
GaussianFit fit_gaussian(const Tensor& features);
// The Fréchet distance d² above (≥ 0; a tiny negative rounding is clamped to 0).
double frechet_distance(const GaussianFit& a, const GaussianFit& b);
// Both steps: Fréchet distance between two feature sets [N, F], [M, F].
double frechet_distance(const Tensor& features_a, const Tensor& features_b);

// The one FID classifier every tool measures with, so their numbers rank alike: initialized and shuffled
// from this fixed seed (whatever a run's --seed), trained on the first `count` training images, and
// cached at `path` keyed by a hash of that data and the training settings (a cache made from other data or
// settings is retrained and overwritten; the tools share kDefaultFeatureClassifierCache by default).
inline constexpr uint64_t kFeatureClassifierSeed = 20240601;
inline constexpr const char* kDefaultFeatureClassifierCache = "runs/fid_classifier.safetensors";

struct PreparedClassifier {
  double test_accuracy = 0;  // on the test images given
  bool cached = false;       // loaded from `path`
  double seconds = 0;        // to load or train, plus the accuracy pass
};
// Loads or trains `model` (constructed from Generator(kFeatureClassifierSeed)) as above, with a progress line
// unless `quiet`.
PreparedClassifier prepare_feature_classifier(FeatureClassifier& model, const std::filesystem::path& path,
                                              const Tensor& train_images, const Tensor& train_labels, int64_t count,
                                              const Tensor& test_images, const Tensor& test_labels,
                                              const ClassifierTraining& training, bool quiet);

// A 64-bit FNV-1a hash of a tensor's dtype, shape and bytes: identifies the data a cached classifier was
// trained on.
uint64_t tensor_fingerprint(const Tensor& t);

// Saves the classifier (state_dict, atomically, safetensors) with `metadata` (e.g. its test accuracy and
// the data fingerprint). "format" is added.
void save_feature_classifier(const std::filesystem::path& path, const FeatureClassifier& model,
                             std::map<std::string, std::string> metadata);
// Loads a classifier saved by save_feature_classifier when the file exists and its metadata agree with
// `expected` on every key given; returns its metadata, or nullopt (model untouched) when the file is absent
// or was made for other data/settings. A damaged file throws brenier::Error naming it.
std::optional<std::map<std::string, std::string>> load_feature_classifier(
    const std::filesystem::path& path, FeatureClassifier& model, const std::map<std::string, std::string>& expected);

}  // namespace brenier::tools
