// The 2-D toy distributions of DIOTM's synthetic experiments (spec/algorithms.md §4.4, taken from the
// authors' previous repo Jae-Moo/Analyzing_Improving_OT_Adversarial_Networks:dataset.py), and the four
// source → target pairs of the paper: G → 8G, G → 25G, Moon → Spiral, G → Circles.
//
//   G       N(0, I₂)
//   8G      means 12·(cos 2πk/8, sin 2πk/8), k = 0…7, covariance 0.4·I, equal counts per mode
//   25G     means {−4, −2, 0, 2, 4}², covariance 0.02·I, equal counts per mode
//   Moon    10·(cos s + .5, −sin s + .2) and 10·(cos s − .5, sin s − .2), s = linspace(0, π, n/2) per half,
//           plus N(0, 0.5²) noise (the formula as the spec records it)
//   Spiral  θ = √U · 3π − π/2, r = θ + π, x = r·(cos θ, sin θ) + N(0, 0.25²)
//   Circles not in that repo (spec: "sklearn-style concentric circles; unverified"). Ours: radii 8 and 4
//           (sklearn's factor 0.5), angle U[0, 2π), half the points on each, N(0, 0.2²) noise.
//
// "Equal counts per mode": point i of a draw belongs to mode i mod K (counts differ by at most one), so a
// batch never misses a mode by chance. Every draw comes from the caller's Generator (reproducible).
#pragma once
#include <cstdint>
#include <string_view>

#include "engine/random/generator.h"
#include "engine/tensor.h"

namespace brenier::ot {

enum class Toy2d { Gaussian, EightGaussians, TwentyFiveGaussians, Moon, Spiral, Circles };

// n points [n, 2] (n >= 1) in `dtype` (f32 or f64; computed in f64).
Tensor sample_toy2d(Toy2d distribution, int64_t n, Generator& gen, DType dtype = DType::F32);

// "g" | "8g" | "25g" | "moon" | "spiral" | "circles"; anything else throws, listing the choices.
Toy2d parse_toy2d(std::string_view name);
const char* name(Toy2d distribution);

// A source → target pair of the paper's 2-D experiments (§4.1, §4.4).
struct Toy2dPair {
  Toy2d source, target;
};
// "8g" (G → 8G) | "25g" (G → 25G) | "moon-spiral" (Moon → Spiral) | "circles" (G → Circles).
Toy2dPair toy2d_pair(std::string_view dataset);
// The dataset names toy2d_pair accepts, in the paper's order.
const char* const* toy2d_datasets();  // null-terminated

}  // namespace brenier::ot
