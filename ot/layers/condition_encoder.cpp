// ConditionEncoder: embeddings, continuous encodings and the SiLU mixer (see condition_encoder.h).
#include "ot/layers/condition_encoder.h"

#include <cmath>
#include <numbers>

#include "engine/ops/ops.h"
#include "ot/layers/time_embedding.h"

namespace brenier::ot {
namespace {

std::string describe(const Tensor& t) { return t.defined() ? t.str() : "undefined"; }

}  // namespace

int64_t Condition::rows() const {
  if (discrete.defined()) return discrete.size(0);
  if (continuous.defined()) return continuous.size(0);
  return 0;
}

Condition Condition::slice(int64_t start, int64_t stop) const {
  Condition out;
  if (discrete.defined()) out.discrete = brenier::slice(Var(discrete), 0, start, stop).data();
  if (continuous.defined()) out.continuous = brenier::slice(Var(continuous), 0, start, stop).data();
  return out;
}

ContinuousEncoding parse_continuous_encoding(std::string_view name) {
  if (name == "positional") return ContinuousEncoding::Positional;
  if (name == "scalar") return ContinuousEncoding::Scalar;
  if (name == "fourier") return ContinuousEncoding::Fourier;
  throw Error(fmt::format("continuous encoding must be one of positional, scalar, fourier; got '{}'", name));
}

const char* name(ContinuousEncoding encoding) {
  switch (encoding) {
    case ContinuousEncoding::Positional: return "positional";
    case ContinuousEncoding::Scalar: return "scalar";
    case ContinuousEncoding::Fourier: return "fourier";
  }
  return "?";
}

Var positional_encoding(const Var& p, int64_t dim, double scale) {
  BRENIER_CHECK(dim >= 2 && dim % 2 == 0, "positional_encoding: argument 'dim' must be even and >= 2, got {}", dim);
  const int64_t half = dim / 2;
  TimeEmbeddingConfig te;
  te.dim = dim;
  te.scale = scale;
  // f_k = max_positions^(−k/(half−1)) = 10000^(−k/half) = 10000^(−2k/dim): the paper's frequencies.
  te.max_positions = half > 1 ? std::pow(1e4, static_cast<double>(half - 1) / static_cast<double>(half)) : 1e4;
  return sinusoidal_time_embedding(p, te);
}

ConditionEncoder::ConditionEncoder(const ConditionEncoderConfig& config, Generator& gen, DType dtype)
    : config_(config), dtype_(dtype) {
  const char* op = "ConditionEncoder";
  for (int64_t k : config_.num_classes)
    BRENIER_CHECK(k >= 1, "{}: config 'num_classes' entries must be >= 1, got [{}]", op,
                  fmt::join(config_.num_classes, ","));
  BRENIER_CHECK(config_.num_continuous >= 0, "{}: config 'num_continuous' must be >= 0, got {}", op,
                config_.num_continuous);
  BRENIER_CHECK(!config_.num_classes.empty() || config_.num_continuous > 0,
                "{}: the condition needs at least one variable: 'num_classes' is empty and 'num_continuous' is 0", op);
  BRENIER_CHECK(config_.embedding_dim >= 1, "{}: config 'embedding_dim' must be >= 1, got {}", op,
                config_.embedding_dim);
  BRENIER_CHECK(config_.out_dim >= 1, "{}: config 'out_dim' must be >= 1, got {}", op, config_.out_dim);
  for (int64_t h : config_.hidden)
    BRENIER_CHECK(h >= 1, "{}: config 'hidden' sizes must be >= 1, got [{}]", op, fmt::join(config_.hidden, ","));
  if (config_.num_continuous > 0 && config_.encoding != ContinuousEncoding::Scalar)
    BRENIER_CHECK(config_.encoding_dim >= 2 && config_.encoding_dim % 2 == 0,
                  "{}: config 'encoding_dim' must be even and >= 2 for the {} encoding, got {}", op,
                  name(config_.encoding), config_.encoding_dim);
  BRENIER_CHECK(std::isfinite(config_.position_scale) && config_.position_scale > 0,
                "{}: config 'position_scale' must be finite and > 0, got {}", op, config_.position_scale);
  BRENIER_CHECK(std::isfinite(config_.fourier_sigma) && config_.fourier_sigma > 0,
                "{}: config 'fourier_sigma' must be finite and > 0, got {}", op, config_.fourier_sigma);

  for (size_t j = 0; j < config_.num_classes.size(); ++j)
    embeddings_.push_back(register_module(
        fmt::format("embedding{}", j),
        std::make_shared<nn::Embedding>(config_.num_classes[j], config_.embedding_dim, gen, dtype)));
  if (config_.num_continuous > 0 && config_.encoding == ContinuousEncoding::Fourier)
    fourier_frequencies_ = register_buffer(
        "fourier_frequencies",
        gen.normal({config_.num_continuous, config_.encoding_dim / 2}, 0.0, config_.fourier_sigma, dtype));
  std::vector<int64_t> sizes{features_dim()};
  sizes.insert(sizes.end(), config_.hidden.begin(), config_.hidden.end());
  sizes.push_back(config_.out_dim);
  mixer_ = register_module("mixer", std::make_shared<nn::MLP>(sizes, nn::activation("silu"),
                                                              /*activate_last=*/false, /*bias=*/true, gen, dtype));
}

int64_t ConditionEncoder::features_dim() const {
  const int64_t per_continuous = config_.encoding == ContinuousEncoding::Scalar ? 1 : config_.encoding_dim;
  return static_cast<int64_t>(config_.num_classes.size()) * config_.embedding_dim +
         config_.num_continuous * per_continuous;
}

Var ConditionEncoder::features(const Condition& condition) const {
  const char* op = "ConditionEncoder";
  const int64_t num_discrete = static_cast<int64_t>(config_.num_classes.size());
  const int64_t n = condition.rows();
  if (num_discrete > 0) {
    const Tensor& d = condition.discrete;
    BRENIER_CHECK(d.defined() && d.dtype() == DType::I64 && d.dim() == 2 && d.size(1) == num_discrete,
                  "{}: argument 'condition.discrete' must be an i64 tensor [n, {}], got {}", op, num_discrete,
                  describe(d));
  } else {
    BRENIER_CHECK(!condition.discrete.defined() || condition.discrete.numel() == 0,
                  "{}: argument 'condition.discrete' must be undefined (the encoder has no discrete variable), got {}",
                  op, describe(condition.discrete));
  }
  if (config_.num_continuous > 0) {
    const Tensor& c = condition.continuous;
    BRENIER_CHECK(c.defined() && is_floating(c.dtype()) && c.dim() == 2 && c.size(1) == config_.num_continuous &&
                      c.size(0) == n,
                  "{}: argument 'condition.continuous' must be a floating tensor [n = {}, {}], got {}", op, n,
                  config_.num_continuous, describe(c));
  } else {
    BRENIER_CHECK(!condition.continuous.defined() || condition.continuous.numel() == 0,
                  "{}: argument 'condition.continuous' must be undefined (the encoder has no continuous variable), "
                  "got {}",
                  op, describe(condition.continuous));
  }
  std::vector<Var> parts;
  if (num_discrete > 0) {
    const std::vector<int64_t> classes = condition.discrete.to_vector<int64_t>();
    for (int64_t j = 0; j < num_discrete; ++j) {
      const int64_t k = config_.num_classes[static_cast<size_t>(j)];
      for (int64_t i = 0; i < n; ++i) {
        const int64_t v = classes[static_cast<size_t>(i * num_discrete + j)];
        BRENIER_CHECK(v >= 0 && v < k, "{}: argument 'condition.discrete' column {} must hold classes in [0, {}), got {}",
                      op, j, k, v);
      }
      const Tensor column = brenier::slice(Var(condition.discrete), 1, j, j + 1).data().reshape({n});
      parts.push_back(embeddings_[static_cast<size_t>(j)]->forward(column));
    }
  }
  if (config_.num_continuous > 0) {
    const Var cont(condition.continuous.to(dtype_));
    for (int64_t j = 0; j < config_.num_continuous; ++j) {
      const Var p = reshape(slice(cont, 1, j, j + 1), {n});
      switch (config_.encoding) {
        case ContinuousEncoding::Positional:
          parts.push_back(positional_encoding(p, config_.encoding_dim, config_.position_scale));
          break;
        case ContinuousEncoding::Scalar:
          parts.push_back(unsqueeze(p, 1));
          break;
        case ContinuousEncoding::Fourier: {
          const Var freq = reshape(slice(fourier_frequencies_, 0, j, j + 1), {1, config_.encoding_dim / 2});
          const Var args = unsqueeze(p, 1) * freq * (2.0 * std::numbers::pi);
          parts.push_back(concat({sin(args), cos(args)}, 1));
          break;
        }
      }
    }
  }
  return parts.size() == 1 ? parts[0] : concat(parts, 1);
}

Var ConditionEncoder::forward(const Condition& condition) const { return mixer_->forward(features(condition)); }

}  // namespace brenier::ot
