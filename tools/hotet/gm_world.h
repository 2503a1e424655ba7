// The Gaussian-mixture world of HOTET's map-prediction experiment (spec/algorithms.md §1.7), shared by
// gm-predict (which trains and scores on it) and runtime (which times training on it): a reference ν, the
// training and test source mixtures, their component-wise Bures ground-truth maps, and the training batches
// the reference script draws (sources x and their images y = T*(x)).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/random/generator.h"
#include "engine/tensor.h"
#include "ot/samplers/gaussian_mixture.h"

namespace brenier::hotet_tool {

inline constexpr int64_t kTrainInnerBatch = 32;  // points per component draw in training (§1.7)

struct World {
  ot::GaussianMixture target;
  std::vector<ot::GaussianMixture> train, test;
  std::vector<ot::ComponentwiseBuresMap> train_truth, test_truth;
};

// Drawn from the (seed, dim) World stream: ν first, then the training sources, then the test sources.
World make_world(uint64_t seed, int64_t dim, int64_t train_sources, int64_t test_sources);

// [B, n, D] from B sets [n, D].
Tensor stack_sets(const std::vector<Tensor>& sets);

// Sources x and pushed targets y = T*(x) for the training sources `index`, `batch` points each.
std::pair<Tensor, Tensor> draw_pairs(const World& w, const std::vector<int64_t>& index, int64_t batch, Generator& gen);

}  // namespace brenier::hotet_tool
