// Mode-collapse metrics of PacGAN (Lin et al., NeurIPS 2018), used by OT-Net's 2-D toys (spec/algorithms.md
// §6.4; paper Tables 1–2): for generated 2-D samples and a Gaussian mixture with known mode centres and a
// common per-coordinate standard deviation σ,
//   * high quality: a sample within 3σ (Euclidean distance) of its nearest mode centre;
//   * modes captured: modes with at least `min_per_mode` high-quality samples (the threshold is the
//     caller's rule; the otnet tool states its choice in results.md);
//   * reverse KL: KL(p_gen ‖ uniform) = Σ_k p_k log(K p_k), where p_k is the fraction of samples whose
//     nearest mode is k (all samples, high quality or not; empty modes contribute 0).
// Pure functions on host vectors, so they can be tested against hand-computed cases.
#pragma once
#include <cstdint>
#include <vector>

namespace brenier::tools {

struct ModeMetrics {
  int64_t samples = 0;
  int64_t modes_captured = 0;
  double high_quality_percent = 0;           // 100 · (high-quality samples) / samples
  double reverse_kl = 0;                     // nats
  std::vector<int64_t> nearest_counts;       // per mode: samples whose nearest mode it is
  std::vector<int64_t> high_quality_counts;  // per mode: of those, the ones within 3σ
};

// samples and modes are flat (x0, y0, x1, y1, ...) lists; sigma > 0; at least one sample and one mode;
// min_per_mode >= 1. Throws brenier::Error on bad input (odd lengths, NaN, empty lists).
ModeMetrics mode_metrics(const std::vector<double>& samples, const std::vector<double>& modes, double sigma,
                         int64_t min_per_mode);

}  // namespace brenier::tools
