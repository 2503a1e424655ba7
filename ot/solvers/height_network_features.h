// Multi-scale Fourier features of the targets for OT-Net's height network H_Φ: a fixed frequency
// matrix B [d, m] chosen from the training targets, so that H_Φ reads [y, sin(yB), cos(yB)] instead of y.
//
// Why (ours; a deviation from Table A3, whose first layer reads y itself; docs/otnet.md "H_Φ's input"):
// the heights of a semi-discrete map vary on the scale of the data's *local* spread (a cluster's width),
// not only on its overall spread. On the 2-D toys (ring: 8 clusters of σ = 0.01 at radius 1) the optimal heights inside
// one cluster are a strongly curved function of y (their y-gradient is the cell's source position, which
// runs over the whole sector while y moves 0.03), and a ReLU MLP of the raw coordinates — with or
// without BatchNorm, wider or deeper — stays almost linear at that scale: it cannot even be *fitted* to
// the free-height solution by least squares (relative error 0.24), and OT training stalls at
// ‖∇E‖ ≈ 0.14. Features at frequencies up to 1/(local spread) give the MLP that resolution (spectral
// bias; Tancik et al. 2020, random Fourier features of Rahimi & Recht 2007).
//
// Frequencies: ω = s·u, u uniform on the unit sphere, s log-uniform in [c/ℓ_coarse, 1/ℓ_fine]:
//   ℓ_coarse = RMS spread of a coordinate of the targets (the data's scale),
//   ℓ_fine   = median distance from a target to its k-th nearest neighbour (k = 4: the local spread, e.g. a
//              cluster's width; the 2-D grid toy at r = 0.7 has 7 targets per cluster) / √d (an offset's
//              typical length along a random direction),
//   c = 4: the raw-y path of the MLP already resolves the data's coarse scales; the features add finer ones.
// Features are made only for *clustered* targets: ℓ_fine < ℓ_coarse/c and ℓ_fine < ℓ_uniform/c, where
// ℓ_uniform is the same k-th-neighbour length for n targets spread uniformly over a cube of the same
// coordinate spread (side √12·ℓ_coarse; r^d·V_d·n = k·side^d). Otherwise (near-uniform data of any n, or high
// dimension, where targets are far apart) H_Φ is Table A3's network of y: fine frequencies on such data only
// cost held-out accuracy (our known-answer test: held-out error 0.17–0.21 with them, 0.06 without).
// B is a deterministic function of (targets, count, generator): held-out targets are then featurized
// with the training targets' B, so heights for new targets remain one forward pass.
#pragma once
#include <cstdint>

#include "engine/random/generator.h"
#include "engine/tensor.h"

namespace brenier::ot {

// k of ℓ_fine's k-th nearest neighbour (ours): the local spread of the data, e.g. a cluster's width.
inline constexpr int64_t kFourierNeighbours = 4;
// c: the lowest frequency is c/ℓ_coarse (ours).
inline constexpr double kFourierCoarseFactor = 4;

struct FourierScales {
  double coarse = 0;  // ℓ_coarse
  double fine = 0;    // ℓ_fine (≤ coarse)
  double uniform = 0; // ℓ_uniform: ℓ_fine of uniformly spread targets with the same n, d and ℓ_coarse
  bool clustered(double factor = kFourierCoarseFactor) const {
    return fine * factor < coarse && fine * factor < uniform;
  }
};

// The two length scales of `targets` [n, d] (n >= 2, finite). The neighbour distances use at most
// `max_points` targets (a fixed-stride subset) so the cost stays O(max_points² d).
FourierScales fourier_scales(const Tensor& targets, int64_t neighbours = kFourierNeighbours,
                             int64_t max_points = 2048);

// B [d, count] (targets' dtype, CPU): count >= 1 frequencies drawn with `gen` at the scales of `targets`;
// an undefined tensor (and nothing drawn) unless the targets are clustered (see above).
Tensor multiscale_fourier_frequencies(const Tensor& targets, int64_t count, Generator& gen);

}  // namespace brenier::ot
