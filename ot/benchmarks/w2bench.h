// The continuous Wasserstein-2 benchmark's Mix3toMix10 pairs (Korotin et al., "Do Neural Optimal
// Transport Solvers Work? A Continuous Wasserstein-2 Benchmark", NeurIPS 2021; spec/algorithms.md
// §2.2), rebuilt exactly from the NumPy export in shared/data/w2bench (its README is the reference).
//
// Source P ("Mix3"): an equal-weight mixture of 3 Gaussians in R^D,
//   k ~ U{0, 1, 2},  z ~ N(0, I_D),  x = 0.4 · maps[k] z + centers[k].
// Ground truth: two trained DenseICNNs D_v1, D_v2 (dense_icnn.h, strong convexity s = 0.01, the
// benchmark loader's value) are summed and standardised,
//   ψ(x)  = scale · (D_v1(x) + D_v2(x) − shift · x),
//   T*(x) = ∇ψ(x) = scale · (∇D_v1(x) + ∇D_v2(x) − shift),
// and T* is the optimal map from P to Q = T*#P by Brenier's theorem (ψ is convex, even
// 0.02·scale-strongly convex, so T* is invertible). Target samples are pushed source samples; the
// inverse direction is scored on the pairs (x, T*(x)) as upstream does.
//
// Variances (the L2-UVP normalisers):
//   Var(P) = D exactly: the stored centers are permutations of {−1, 0, 1} per coordinate and every
//     row of maps has unit norm, both divided by sqrt(2/3 + 0.16), so each coordinate of x has mean 0
//     and variance (2/3 + 0.16)/(2/3 + 0.16) = 1 (up to the f32 rounding of the stored arrays).
//   Var(Q) = D by construction: shift and scale make T*#P zero-mean with unit average per-coordinate
//     variance. They were estimated once from 2^20 samples in f64, so this holds to Monte-Carlo
//     error (~0.1 %); upstream re-estimates both from 2^14 samples on every construction instead.
//
// Evaluation (psi, map) runs in chunks under no-grad: the map is the README's closed-form reverse
// pass, so no tape is kept and it also works inside a NoGradGuard. The DenseIcnn modules are exposed
// for callers that need a differentiable ψ (their forward / map).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "engine/tensor.h"
#include "ot/layers/dense_icnn.h"

namespace brenier::ot {

// The dims shipped in shared/data/w2bench (256 is listed upstream but its weights are missing).
const std::vector<int64_t>& w2bench_dims();

class W2Benchmark {
 public:
  struct Pair {
    Tensor x;  // [n, D] source samples
    Tensor y;  // [n, D] T*(x)
  };

  int64_t dim() const { return dim_; }
  DType dtype() const { return dtype_; }

  // ψ(x) [n] and T*(x) [n, D] for x [n, D] (f32 or f64; converted to dtype(), results in dtype()),
  // computed on device() and returned on x's device.
  Tensor psi(const Tensor& x) const;
  Tensor map(const Tensor& x) const;

  // Moves the two potentials to `device` (e.g. CUDA, for a solver training there: T*(x) of every
  // target batch is two ICNN gradients, the sampler's dominant cost). Sampling stays on the host.
  // Copies share the potentials: move the copy you use.
  void to(Device device);
  Device device() const { return device_; }

  // n samples of P [n, D] in dtype() on the host, and the pairs (x, T*(x)).
  Tensor sample_source(int64_t n, Generator& gen) const;
  Pair sample_pair(int64_t n, Generator& gen) const;

  // Var(P) = Var(Q) = D (exact, see the top of this file).
  double source_variance() const { return static_cast<double>(dim_); }
  double target_variance() const { return static_cast<double>(dim_); }

  // The parts, as loaded.
  const DenseIcnn& potential_v1() const { return *v1_; }
  const DenseIcnn& potential_v2() const { return *v2_; }
  const Tensor& source_centers() const { return centers_; }  // [3, D] in dtype()
  const Tensor& source_maps() const { return maps_; }        // [3, D, D] in dtype()
  const Tensor& shift() const { return shift_; }             // [D] in dtype() (f64 on disk)
  double scale() const { return scale_; }
  const std::string& folder() const { return folder_; }      // .../mix3tomix10/dimDDD

  // Rows evaluated per chunk by psi() and map(): bounds the memory of the intermediate activations.
  static constexpr int64_t kChunkRows = 4096;

 private:
  friend W2Benchmark load_w2bench(int64_t dim, const std::string& shared_dir, DType dtype);
  W2Benchmark() = default;

  int64_t dim_ = 0;
  DType dtype_ = DType::F32;
  Device device_ = Device::cpu();
  std::shared_ptr<DenseIcnn> v1_, v2_;
  Tensor centers_, maps_, shift_;
  double scale_ = 1.0;
  std::string folder_;
};

// Reads <shared_dir>/data/w2bench/mix3tomix10/dimDDD/{v1,v2}/*.npy, source_centers.npy,
// source_maps.npy and shift.npy, and scale from manifest.json (dims.<dim>.standardization.scale).
// `shared_dir` is the shared data root (tests use BRENIER_SHARED, default ../shared). The
// potentials' hidden sizes and rank come from the tensors' shapes. Throws brenier::Error naming the
// path when the folder or manifest is missing, and listing the available dims when `dim` is not one
// of them or its files are incomplete.
W2Benchmark load_w2bench(int64_t dim, const std::string& shared_dir, DType dtype = DType::F32);

}  // namespace brenier::ot
