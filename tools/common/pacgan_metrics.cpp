// PacGAN's mode-collapse metrics (see pacgan_metrics.h): nearest mode per sample, 3σ test, captured
// modes, reverse KL against the uniform mode distribution.
#include "tools/common/pacgan_metrics.h"

#include <cmath>
#include <limits>

#include "engine/error.h"

namespace brenier::tools {

ModeMetrics mode_metrics(const std::vector<double>& samples, const std::vector<double>& modes, double sigma,
                         int64_t min_per_mode) {
  BRENIER_CHECK(samples.size() % 2 == 0 && !samples.empty(),
                "mode_metrics: argument 'samples' must be a non-empty flat list of 2-D points, got {} values",
                samples.size());
  BRENIER_CHECK(modes.size() % 2 == 0 && !modes.empty(),
                "mode_metrics: argument 'modes' must be a non-empty flat list of 2-D points, got {} values",
                modes.size());
  BRENIER_CHECK(std::isfinite(sigma) && sigma > 0, "mode_metrics: argument 'sigma' must be finite and > 0, got {}",
                sigma);
  BRENIER_CHECK(min_per_mode >= 1, "mode_metrics: argument 'min_per_mode' must be >= 1, got {}", min_per_mode);
  for (double v : samples) BRENIER_CHECK(std::isfinite(v), "mode_metrics: argument 'samples' holds NaN or Inf");
  const size_t num_modes = modes.size() / 2, num_samples = samples.size() / 2;
  ModeMetrics m;
  m.samples = static_cast<int64_t>(num_samples);
  m.nearest_counts.assign(num_modes, 0);
  m.high_quality_counts.assign(num_modes, 0);
  const double radius2 = 9 * sigma * sigma;
  int64_t high_quality = 0;
  for (size_t j = 0; j < num_samples; ++j) {
    size_t best = 0;
    double best_d2 = std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < num_modes; ++k) {
      const double dx = samples[2 * j] - modes[2 * k], dy = samples[2 * j + 1] - modes[2 * k + 1];
      const double d2 = dx * dx + dy * dy;
      if (d2 < best_d2) best_d2 = d2, best = k;  // ties: the lower mode index
    }
    ++m.nearest_counts[best];
    if (best_d2 <= radius2) ++m.high_quality_counts[best], ++high_quality;
  }
  m.high_quality_percent = 100.0 * static_cast<double>(high_quality) / static_cast<double>(num_samples);
  for (size_t k = 0; k < num_modes; ++k) {
    if (m.high_quality_counts[k] >= min_per_mode) ++m.modes_captured;
    if (m.nearest_counts[k] == 0) continue;
    const double p = static_cast<double>(m.nearest_counts[k]) / static_cast<double>(num_samples);
    m.reverse_kl += p * std::log(p * static_cast<double>(num_modes));
  }
  return m;
}

}  // namespace brenier::tools
