// Sinusoidal embedding of a scalar time t (Vaswani et al. 2017; the get_timestep_embedding of DDPM /
// NCSN++ that DIOTM's TOY3 potential uses, spec/algorithms.md §4.3): for half = dim / 2 frequencies
//   f_k = max_positions^(−k / (half − 1)),  k = 0 … half − 1   (f_0 = 1 when half = 1)
// the embedding of t is [sin(s·t·f_0), …, sin(s·t·f_{half−1}), cos(s·t·f_0), …, cos(s·t·f_{half−1})]
// with s = `scale`. It is written in differentiable ops, so ∂/∂t of anything built on it (DIOTM's
// HJB residual needs ∂_t Ṽ) comes from autodiff, to any order.
#pragma once
#include <cstdint>

#include "engine/autograd/var.h"

namespace brenier::ot {

struct TimeEmbeddingConfig {
  int64_t dim = 128;           // TOY3's 128-d embedding (§4.3)
  double max_positions = 1e4;  // TOY3 / DDPM's max_positions (§4.3)
  // Multiplies t before the sines. The spec does not say how TOY3 scales t ∈ [0, 1]; DDPM feeds integer
  // steps up to 1000. Our default 1 keeps every frequency ≤ 1 rad per unit t, so ∂_t of the features
  // (which enters DIOTM's HJB residual) is O(1); see docs/diotm.md.
  double scale = 1.0;
};

// t [n] (f32 or f64) -> [n, config.dim] in t's dtype. Throws naming the argument unless t is a floating
// 1-D tensor, dim is even and >= 2, max_positions > 1 and scale is finite and > 0.
Var sinusoidal_time_embedding(const Var& t, const TimeEmbeddingConfig& config = {});

}  // namespace brenier::ot
