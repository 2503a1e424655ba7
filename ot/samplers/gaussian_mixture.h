// Gaussian mixtures Σ_k w_k N(m_k, Σ_k) on R^D: the distributions of HOTET's "predict OT maps"
// experiment (spec/algorithms.md §1.7), with the experiment's ground truth.
//
// The family (§1.7, HOTET's wishart_HOTET_multi_mixtureGaussian script): K = 3 components with weights
// [0.3, 0.3, 0.4], every mean m_k ~ U(0, 3)^D and every covariance Σ_k ~ Wishart(df = D + 5, scale = I),
// drawn as Σ = G Gᵀ with G [D, D + 5] standard normal (E Σ = (D + 5) I; df ≥ D makes Σ ≻ 0 a.s.).
//
// Sampling follows the script's granularity: a batch is built from chunks of `inner_batch` points
// (32 in training, 64 in evaluation), each chunk drawn from one component chosen with the mixture
// weights. Every point's component is returned with it, because the ground truth needs it.
//
// Ground truth ("component-wise Bures map", §1.7): a point x of source component k goes to
// A_k x + b_k, the Gaussian OT (Bures) map from source component k to target component k
// (ot/metrics/gaussian_w2.h). This is *not* the OT map between the two mixtures; it is what the
// paper's numbers are measured against, so it is reproduced here. It pushes each source component
// onto the matching target component, hence the source mixture onto the target mixture (same weights).
//
// Var(mixture) = trace of the analytic covariance Σ_k w_k (Σ_k + m_k m_kᵀ) − m̄ m̄ᵀ, m̄ = Σ_k w_k m_k
// (the L2-UVP normalizer of §1.7).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/random/generator.h"
#include "engine/tensor.h"
#include "ot/metrics/gaussian_w2.h"
#include "ot/samplers/gaussian.h"

namespace brenier::ot {

class GaussianMixture {
 public:
  // Weights must be positive and finite (they are normalized to sum 1); components share one dim.
  GaussianMixture(std::vector<Gaussian> components, std::vector<double> weights);

  int64_t dim() const { return components_.front().dim(); }
  int64_t num_components() const { return static_cast<int64_t>(components_.size()); }
  const Gaussian& component(int64_t k) const;
  const std::vector<Gaussian>& components() const { return components_; }
  const std::vector<double>& weights() const { return weights_; }  // normalized

  Tensor mean() const;  // f64 [D], Σ_k w_k m_k
  Tensor cov() const;   // f64 [D, D], the analytic covariance above
  double total_variance() const;  // trace(cov())

  struct Sample {
    Tensor points;      // [n, D] in the requested dtype (computed in f64)
    Tensor components;  // i64 [n]: the component each point was drawn from
  };
  // n points in chunks of inner_batch (the last chunk may be shorter), one component per chunk.
  // Draws the chunks' components first, then the standard normals [n, D].
  Sample sample(int64_t n, Generator& gen, int64_t inner_batch = 32, DType dtype = DType::F32) const;

 private:
  std::vector<Gaussian> components_;
  std::vector<double> weights_;
};

// Σ = G Gᵀ with G [dim, df] standard normal: Wishart(df, I), f64 [dim, dim]. df >= dim.
Tensor sample_wishart(int64_t dim, int64_t df, Generator& gen);

struct RandomMixtureOptions {
  std::vector<double> weights{0.3, 0.3, 0.4};  // §1.7
  double mean_low = 0.0, mean_high = 3.0;      // m_k ~ U(0, 3)^D (§1.7)
  int64_t extra_degrees_of_freedom = 5;        // df = D + 5 (§1.7)
};

// A mixture of §1.7's family. Draw order: for each component, its mean [D] then its G [D, D + 5].
GaussianMixture random_gaussian_mixture(int64_t dim, Generator& gen, const RandomMixtureOptions& options = {});

// The component-wise Bures map from `source` to `target` (same dim and component count).
class ComponentwiseBuresMap {
 public:
  ComponentwiseBuresMap(const GaussianMixture& source, const GaussianMixture& target);
  explicit ComponentwiseBuresMap(std::vector<AffineMap> maps) : maps_(std::move(maps)) {}

  // x [n, D] with components i64 [n] (as GaussianMixture::sample returns) → [n, D] in x's dtype.
  Tensor apply(const Tensor& x, const Tensor& components) const;
  // The map back (component k's inverse Bures map: target k → source k).
  ComponentwiseBuresMap inverse() const;
  const std::vector<AffineMap>& maps() const { return maps_; }

  // The best any map of x alone can do: E[T*(x) | x] = Σ_k p(k | x) (A_k x + b_k), p(k | x) the
  // posterior of component k under `source` (whose components this map was built from). Where the
  // source's components overlap, T*(x) is not a function of x, and this conditional mean is the
  // minimizer of E‖T̂(x) − T*(x)‖² over all maps T̂, so its L2-UVP is a floor for every solver.
  // x [n, D] → [n, D] in x's dtype.
  Tensor conditional_mean(const GaussianMixture& source, const Tensor& x) const;

 private:
  std::vector<AffineMap> maps_;
};

}  // namespace brenier::ot
