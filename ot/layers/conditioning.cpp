// ConditionedLinear: hypernetwork / concatenation / FiLM conditioning (see conditioning.h).
#include "ot/layers/conditioning.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

std::string describe(const Var& v) { return v.defined() ? v.data().str() : "an undefined Var"; }

}  // namespace

ConditioningKind parse_conditioning(std::string_view name) {
  if (name == "hypernet") return ConditioningKind::Hypernetwork;
  if (name == "concat") return ConditioningKind::Concat;
  if (name == "film") return ConditioningKind::Film;
  throw Error(fmt::format("conditioning must be one of hypernet, concat, film; got '{}'", name));
}

const char* name(ConditioningKind kind) {
  switch (kind) {
    case ConditioningKind::Hypernetwork: return "hypernet";
    case ConditioningKind::Concat: return "concat";
    case ConditioningKind::Film: return "film";
  }
  return "?";
}

ConditionedLinear::ConditionedLinear(const ConditionedLinearConfig& config, Generator& gen, DType dtype)
    : config_(config) {
  const char* op = "ConditionedLinear";
  BRENIER_CHECK(config_.in_features >= 1, "{}: config 'in_features' must be >= 1, got {}", op, config_.in_features);
  BRENIER_CHECK(config_.out_features >= 1, "{}: config 'out_features' must be >= 1, got {}", op,
                config_.out_features);
  BRENIER_CHECK(config_.condition_dim >= 1, "{}: config 'condition_dim' must be >= 1, got {}", op,
                config_.condition_dim);
  for (int64_t h : config_.hyper_hidden)
    BRENIER_CHECK(h >= 1, "{}: config 'hyper_hidden' sizes must be >= 1, got [{}]", op,
                  fmt::join(config_.hyper_hidden, ","));
  BRENIER_CHECK(std::isfinite(config_.hyper_output_gain) && config_.hyper_output_gain >= 0,
                "{}: config 'hyper_output_gain' must be finite and >= 0, got {}", op, config_.hyper_output_gain);
  const int64_t in = config_.in_features, out = config_.out_features;
  switch (config_.kind) {
    case ConditioningKind::Hypernetwork: {
      std::vector<int64_t> sizes{config_.condition_dim};
      sizes.insert(sizes.end(), config_.hyper_hidden.begin(), config_.hyper_hidden.end());
      sizes.push_back(out * in + out);
      hyper_ = register_module("hyper", std::make_shared<nn::MLP>(sizes, nn::activation("silu"),
                                                                  /*activate_last=*/false, /*bias=*/true, gen, dtype));
      const nn::Linear& last = hyper_->layer(hyper_->num_layers() - 1);
      Var w = last.weight, b = last.bias;
      // Output weights: the default init scaled by the gain; bias: an orthogonal base layer, zero bias.
      NoGradGuard no_grad;
      w.data().copy_from((Var(w.data()) * config_.hyper_output_gain).data());
      Tensor base = Tensor::zeros({out, in}, dtype);
      nn::init::orthogonal_(base, gen);
      b.data().copy_from(concat({Var(base.reshape({out * in})), Var(Tensor::zeros({out}, dtype))}, 0).data());
      break;
    }
    case ConditioningKind::Concat:
      linear_ = register_module("linear", std::make_shared<nn::Linear>(in + config_.condition_dim, out, true, gen,
                                                                       dtype));
      break;
    case ConditioningKind::Film: {
      linear_ = register_module("linear", std::make_shared<nn::Linear>(in, out, true, gen, dtype));
      film_ = register_module("film", std::make_shared<nn::Linear>(config_.condition_dim, 2 * out, true, gen, dtype));
      Var w = film_->weight, b = film_->bias;
      nn::init::zeros_(w);
      nn::init::zeros_(b);
      break;
    }
  }
}

void ConditionedLinear::check(const Var& h, const Var& c) const {
  BRENIER_CHECK(h.defined() && h.dim() == 2 && h.size(1) == config_.in_features,
                "ConditionedLinear: argument 'h' must be [n, {}], got {}", config_.in_features, describe(h));
  BRENIER_CHECK(c.defined() && c.dim() == 2 && c.size(1) == config_.condition_dim && c.size(0) == h.size(0),
                "ConditionedLinear: argument 'c' must be [n = {}, {}], got {}", h.size(0), config_.condition_dim,
                describe(c));
}

GeneratedLayer ConditionedLinear::generate(const Var& c) const {
  BRENIER_CHECK(config_.kind == ConditioningKind::Hypernetwork,
                "ConditionedLinear::generate: only the hypernetwork generates layers; this one uses {}",
                name(config_.kind));
  BRENIER_CHECK(c.defined() && c.dim() == 2 && c.size(1) == config_.condition_dim,
                "ConditionedLinear::generate: argument 'c' must be [n, {}], got {}", config_.condition_dim,
                describe(c));
  const int64_t n = c.size(0), in = config_.in_features, out = config_.out_features;
  const Var params = hyper_->forward(c);  // [n, out·in + out]
  std::vector<Var> parts = split(params, {out * in, out}, 1);
  return {reshape(parts[0], {n, out, in}), parts[1]};
}

Var ConditionedLinear::forward(const Var& h, const Var& c) const {
  check(h, c);
  const int64_t n = h.size(0);
  switch (config_.kind) {
    case ConditioningKind::Hypernetwork: {
      const GeneratedLayer layer = generate(c);
      // One batched matmul: row i is a batch of one point for its own layer.
      return reshape(nn::linear(reshape(h, {n, 1, config_.in_features}), layer.weight, layer.bias),
                     {n, config_.out_features});
    }
    case ConditioningKind::Concat:
      return linear_->forward(concat({h, c}, 1));
    case ConditioningKind::Film: {
      std::vector<Var> gb = split(film_->forward(c), {config_.out_features, config_.out_features}, 1);
      return (gb[0] + 1.0) * linear_->forward(h) + gb[1];
    }
  }
  return {};
}

}  // namespace brenier::ot
