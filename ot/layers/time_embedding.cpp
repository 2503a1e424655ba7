// Sinusoidal time embedding (see time_embedding.h).
#include "ot/layers/time_embedding.h"

#include <cmath>
#include <vector>

#include "engine/ops/ops.h"

namespace brenier::ot {

Var sinusoidal_time_embedding(const Var& t, const TimeEmbeddingConfig& config) {
  const char* op = "sinusoidal_time_embedding";
  BRENIER_CHECK(t.defined() && is_floating(t.dtype()) && t.dim() == 1,
                "{}: argument 't' must be a floating 1-D tensor [n], got {}", op,
                t.defined() ? t.data().str() : "an undefined Var");
  BRENIER_CHECK(config.dim >= 2 && config.dim % 2 == 0, "{}: config 'dim' must be even and >= 2, got {}", op,
                config.dim);
  BRENIER_CHECK(std::isfinite(config.max_positions) && config.max_positions > 1,
                "{}: config 'max_positions' must be finite and > 1, got {}", op, config.max_positions);
  BRENIER_CHECK(std::isfinite(config.scale) && config.scale > 0, "{}: config 'scale' must be finite and > 0, got {}",
                op, config.scale);
  const int64_t half = config.dim / 2;
  std::vector<double> freqs(static_cast<size_t>(half), 1.0);
  const double step = half > 1 ? std::log(config.max_positions) / static_cast<double>(half - 1) : 0.0;
  for (int64_t k = 0; k < half; ++k) freqs[static_cast<size_t>(k)] = config.scale * std::exp(-step * k);
  const Var f(Tensor::from_vector(freqs, {1, half}).to(t.dtype()).to(t.device()));
  const Var args = unsqueeze(t, 1) * f;  // [n, half]
  return concat({sin(args), cos(args)}, 1);
}

}  // namespace brenier::ot
