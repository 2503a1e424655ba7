// ConditionEncoder: NCTM's encoder of a mixed condition c = (discrete variables, continuous variables)
// into one vector (arXiv 2505.15808 §3.3; spec/algorithms.md §5.2):
//   discrete variable j with K_j classes  → a learned embedding e_{j,k} ∈ R^{embedding_dim}
//   continuous variable p                → an encoding: sinusoidal positional (the paper's), the raw
//                                           scalar, or random Fourier features (the ablation's alternatives)
//   all of them concatenated             → an MLP with SiLU → c ∈ R^{out_dim}
// The map T and the critic f each own one (separate encoders are the paper's better ablation row);
// the solver may share one between them.
//
// Positional encoding (Vaswani et al. 2017, the paper's formula) of p with `dim` = 2·half features:
//   PE(p, 2i) = sin(p' / 10000^{2i/dim}),  PE(p, 2i+1) = cos(p' / 10000^{2i/dim}),  p' = position_scale · p
// (frequencies position_scale · 10000^{−2i/dim}: position_scale down to 1e-4 of it; see position_scale)
// computed by sinusoidal_time_embedding (ot/layers/time_embedding.h, reused) with
// max_positions = 10000^{(half−1)/half}, which gives exactly these frequencies; its layout is
// [sin…, cos…], a fixed permutation of the interleaved one that the following Linear layer absorbs.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/nn/embedding.h"
#include "engine/nn/mlp.h"
#include "engine/random/generator.h"

namespace brenier::ot {

// A batch of n conditions: `discrete` i64 [n, #discrete] (class indices) and `continuous` floating
// [n, #continuous]. Either may be undefined when the model has no variable of that kind.
struct Condition {
  Tensor discrete;
  Tensor continuous;
  int64_t rows() const;  // n (0 when both are undefined)
  // Rows [start, stop) of both parts.
  Condition slice(int64_t start, int64_t stop) const;
};

enum class ContinuousEncoding { Positional, Scalar, Fourier };
// "positional" | "scalar" | "fourier"; anything else throws, listing the choices.
ContinuousEncoding parse_continuous_encoding(std::string_view name);
const char* name(ContinuousEncoding encoding);

struct ConditionEncoderConfig {
  std::vector<int64_t> num_classes;  // K_j of each discrete variable (each >= 1)
  int64_t num_continuous = 0;        // continuous variables
  int64_t embedding_dim = 16;        // d_c per discrete variable (not given by the paper; ours)
  ContinuousEncoding encoding = ContinuousEncoding::Positional;  // the paper's choice (§5.2)
  int64_t encoding_dim = 64;  // features per continuous variable for Positional / Fourier (§5.2: d = 64)
  // p' = position_scale · p for Positional: p' counts steps of the spacing Δ of the values p is trained
  // on (position_scale = 1/Δ), as the paper's positions count years of annual data (Δ = 1). The highest
  // frequency is then 1 rad per training step (wavelength 2π steps), below the grid's Nyquist limit of
  // π rad per step, so every feature is pinned down between training values by its values on them; a
  // frequency above the limit aliases on the grid and lets the network fit each training value apart
  // (docs/nctm.md: at 100, unseen-s L2-UVP was 2.4× the seen one; at 8, 0.9×). Default 8 = 1/Δ for
  // s ∈ [0, 1] on a grid of spacing 1/8 (`nctm gaussian`'s); set it to 1/Δ of your grid (ours).
  double position_scale = 8.0;
  // Fourier features (Tancik et al. 2020): [sin(2π B p), cos(2π B p)], B ~ N(0, σ²) fixed at
  // construction (a buffer, saved with the model), σ = fourier_sigma. Ours: σ = 4 in units of [0, 1].
  double fourier_sigma = 4.0;
  std::vector<int64_t> hidden{128};  // the mixer MLP's hidden sizes (ours; the hypernet's width, §5.2)
  int64_t out_dim = 64;              // size of c (ours)
};

class ConditionEncoder : public nn::Module {
 public:
  // Throws naming the field unless every count is >= 1 (num_continuous >= 0, at least one variable),
  // encoding_dim is even for Positional / Fourier, and the scales are finite and > 0.
  ConditionEncoder(const ConditionEncoderConfig& config, Generator& gen, DType dtype = DType::F32);
  // c [n, out_dim]. Throws naming the argument when a part has the wrong shape or dtype, or a class
  // index is out of range.
  Var forward(const Condition& condition) const;
  Var operator()(const Condition& condition) const { return forward(condition); }
  // The concatenated features before the mixer MLP [n, features_dim()] (tests, ablations).
  Var features(const Condition& condition) const;
  int64_t features_dim() const;
  const ConditionEncoderConfig& config() const { return config_; }

 private:
  ConditionEncoderConfig config_;
  DType dtype_;
  std::vector<std::shared_ptr<nn::Embedding>> embeddings_;
  Var fourier_frequencies_;  // buffer [num_continuous, encoding_dim / 2] (Fourier only)
  std::shared_ptr<nn::MLP> mixer_;
};

// The paper's positional encoding of p [n] (floating) → [n, dim] in p's dtype, layout [sin…, cos…]
// (see the file comment). Throws unless dim is even and >= 2 and scale is finite and > 0.
Var positional_encoding(const Var& p, int64_t dim, double scale = 1.0);

}  // namespace brenier::ot
