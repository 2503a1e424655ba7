// OT-Net's height network H_Φ and the freezing of its BatchNorm statistics (see height_network.h).
#include "ot/solvers/height_network.h"

#include "engine/nn/functional.h"
#include "engine/nn/module_list.h"
#include "engine/ops/ops.h"

namespace brenier::ot {

HeightNetwork::HeightNetwork(int64_t dim, const std::vector<int64_t>& hidden, bool batch_norm, Generator& gen,
                             DType dtype, bool zero_output, const Tensor& input_frequencies)
    : dim_(dim), hidden_(hidden) {
  BRENIER_CHECK(dim >= 1, "HeightNetwork: argument 'dim' must be >= 1, got {}", dim);
  for (int64_t w : hidden)
    BRENIER_CHECK(w >= 1, "HeightNetwork: argument 'hidden' must hold widths >= 1, got [{}]", fmt::join(hidden, ", "));
  int64_t in = dim;
  if (input_frequencies.defined()) {
    BRENIER_CHECK(input_frequencies.dim() == 2 && input_frequencies.size(0) == dim && input_frequencies.size(1) >= 1 &&
                      is_floating(input_frequencies.dtype()),
                  "HeightNetwork: argument 'input_frequencies' must be a floating [{}, m] tensor with m >= 1, got {}",
                  dim, input_frequencies.str());
    check_finite(input_frequencies, "HeightNetwork", "input_frequencies");
    frequencies_ = register_buffer("input_frequencies", input_frequencies.to(dtype));
    in = dim + 2 * input_frequencies.size(1);
  }
  auto linears = register_module("linears", std::make_shared<nn::ModuleList>());
  std::shared_ptr<nn::ModuleList> norms;
  if (batch_norm) norms = register_module("norms", std::make_shared<nn::ModuleList>());
  for (int64_t width : hidden) {
    linears_.push_back(linears->push_back(std::make_shared<nn::Linear>(in, width, true, gen, dtype)));
    if (batch_norm) norms_.push_back(norms->push_back(std::make_shared<nn::BatchNorm>(width, 1e-5, 0.1, true, dtype)));
    in = width;
  }
  linears_.push_back(linears->push_back(std::make_shared<nn::Linear>(in, 1, true, gen, dtype)));
  if (zero_output) {
    linears_.back()->weight.data().fill_(0.0);
    linears_.back()->bias.data().fill_(0.0);
  }
}

Var HeightNetwork::features(const Var& y) const {
  BRENIER_CHECK(!hidden_.empty(), "HeightNetwork::features: the network has no hidden layer");
  return output_layer_input(y);
}

void HeightNetwork::set_output_layer(const Tensor& weight, const Tensor& bias) {
  nn::Linear& out = *linears_.back();
  BRENIER_CHECK(weight.defined() && weight.shape() == out.weight.data().shape() && bias.defined() &&
                    bias.shape() == out.bias.data().shape(),
                "HeightNetwork::set_output_layer: arguments must be weight {} and bias {}, got {} and {}",
                out.weight.data().str(), out.bias.data().str(), weight.defined() ? weight.str() : "undefined",
                bias.defined() ? bias.str() : "undefined");
  check_finite(weight, "HeightNetwork::set_output_layer", "weight");
  check_finite(bias, "HeightNetwork::set_output_layer", "bias");
  out.weight.data().copy_from(weight.to(out.weight.data().dtype()));
  out.bias.data().copy_from(bias.to(out.bias.data().dtype()));
}

const Tensor& HeightNetwork::output_weight() const { return linears_.back()->weight.data(); }
const Tensor& HeightNetwork::output_bias() const { return linears_.back()->bias.data(); }

Var HeightNetwork::forward(const Var& y) const {
  return reshape(linears_.back()->forward(output_layer_input(y)), {y.size(0)});
}

Var HeightNetwork::output_layer_input(const Var& y) const {
  BRENIER_CHECK(y.defined() && y.dim() == 2 && y.size(1) == dim_,
                "HeightNetwork: argument 'y' must be [m, {}] (targets), got {}", dim_,
                y.defined() ? y.data().str() : std::string("an undefined Var"));
  if (is_training() && has_batch_norm())
    BRENIER_CHECK(y.size(0) >= 2, "HeightNetwork: in training mode BatchNorm needs a batch of >= 2 targets, got {}",
                  y.size(0));
  Var h = input_features(y);
  for (size_t i = 0; i + 1 < linears_.size(); ++i) {
    h = linears_[i]->forward(h);
    if (has_batch_norm()) h = norms_[i]->forward(h);
    h = relu(h);
  }
  return h;
}

Var HeightNetwork::input_features(const Var& y) const {
  if (!has_fourier_input()) return y;
  const Var z = matmul(y, frequencies_);
  return concat({y, sin(z), cos(z)}, 1);
}

void HeightNetwork::freeze_statistics(const Tensor& targets) {
  check_defined(targets, "HeightNetwork::freeze_statistics", "targets");
  BRENIER_CHECK(targets.dim() == 2 && targets.size(1) == dim_ && targets.size(0) >= 2,
                "HeightNetwork::freeze_statistics: argument 'targets' must be [m, {}] with m >= 2, got {}", dim_,
                targets.str());
  NoGradGuard no_grad;
  Var h = input_features(Var(targets));
  for (size_t i = 0; i + 1 < linears_.size(); ++i) {
    h = linears_[i]->forward(h);
    if (has_batch_norm()) {
      // The exact statistics training normalizes with: the batch mean and the biased variance.
      const Var mu = mean(h, {0});
      const Var var = mean(square(h - mu), {0});
      norms_[i]->running_mean.data().copy_from(mu.data());
      norms_[i]->running_var.data().copy_from(var.data());
      h = batch_norm(h, norms_[i]->running_mean.data(), norms_[i]->running_var.data(), norms_[i]->weight,
                     norms_[i]->bias, /*training=*/false, 0.0, norms_[i]->eps());
    }
    h = relu(h);
  }
  train(false);
}

}  // namespace brenier::ot
