// HeightNetwork: OT-Net's Brenier height representation H_Φ : R^d → R (Li et al., "OT-Net: A Reusable
// Neural Optimal Transport Solver", Table A3; spec/algorithms.md §6.3):
//   Linear(d, 512) + BN + ReLU → Linear(512, 512) + BN + ReLU → Linear(512, 512) + BN + ReLU → Linear(512, 1).
// Widths and BatchNorm are configurable. Optionally (ours, see height_network_features.h) the first layer reads
// Fourier features [y, sin(yB), cos(yB)] of a fixed frequency matrix B (buffer "input_frequencies") instead of
// y. Parameters are named "linears.<i>.weight|bias",
// "norms.<i>.weight|bias|running_mean|running_var|num_batches_tracked".
//
// BatchNorm and heights. In training the solver feeds all training targets as one batch (or fixed-size
// mini-batches), so BN normalizes with statistics of the target set: a fixed feature normalization, not
// noise. Heights for new targets must use those same statistics. BN's running averages only approximate
// them (momentum 0.1 over past weights, and PyTorch keeps the *unbiased* variance while training
// normalizes with the biased one), and the semi-discrete map is sensitive to small height errors, so
// freeze_statistics() sets every BN's running mean/variance to the exact (biased) statistics of its input
// over a given target set and switches to eval mode: then H_Φ(y_train) in eval mode equals the full-batch
// training output, and any new target is normalized the same way.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/batch_norm.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::ot {

class HeightNetwork : public nn::Module {
 public:
  // hidden: widths of the hidden layers ({512, 512, 512} in Table A3; may be empty: a linear H).
  // zero_output: the output layer starts at W = 0, b = 0, so H_Φ ≡ 0 at the start, Algorithm 1's
  // "h = zeros(n)"; otherwise PyTorch's default init for it too.
  // input_frequencies: B [dim, m] for Fourier input features (first layer dim + 2m wide), or undefined
  // for Table A3's raw input y.
  HeightNetwork(int64_t dim, const std::vector<int64_t>& hidden, bool batch_norm, Generator& gen,
                DType dtype = DType::F32, bool zero_output = true, const Tensor& input_frequencies = {});

  // y [m, dim] -> heights [m]. In training mode BN uses the batch's statistics (m >= 2 needed).
  Var forward(const Var& y) const;
  Var operator()(const Var& y) const { return forward(y); }

  // The last hidden layer's activations [m, hidden.back()] (what the output layer reads); needs a hidden layer.
  Var features(const Var& y) const;
  // Replaces the output layer: weight [1, hidden.back()] (or [1, input width] without hidden layers), bias [1].
  void set_output_layer(const Tensor& weight, const Tensor& bias);
  // The output layer's weight [1, W] and bias [1] (the parameters' own tensors: copy before changing them).
  const Tensor& output_weight() const;
  const Tensor& output_bias() const;

  // Sets every BN's running statistics to the exact biased mean/variance of its input over `targets`
  // [m, dim] (m >= 2; one pass, no graph) and switches the network to eval mode. No-op for the
  // statistics when the network has no BN (it still switches to eval mode).
  void freeze_statistics(const Tensor& targets);

  int64_t dim() const { return dim_; }
  const std::vector<int64_t>& hidden() const { return hidden_; }
  bool has_batch_norm() const { return !norms_.empty(); }
  bool has_fourier_input() const { return frequencies_.defined(); }
  // Width of the first layer's input: dim, or dim + 2m with m Fourier frequencies.
  int64_t input_width() const { return has_fourier_input() ? dim_ + 2 * frequencies_.size(1) : dim_; }
  // The first layer's input: y itself, or [y, sin(yB), cos(yB)].
  Var input_features(const Var& y) const;

 private:
  Var output_layer_input(const Var& y) const;  // input features, then the hidden layers (y itself if none)

  int64_t dim_;
  std::vector<int64_t> hidden_;
  std::vector<std::shared_ptr<nn::Linear>> linears_;    // hidden layers, then the output layer
  std::vector<std::shared_ptr<nn::BatchNorm>> norms_;   // one per hidden layer, or none
  Var frequencies_;                                     // B [dim, m] (a buffer), or undefined
};

}  // namespace brenier::ot
