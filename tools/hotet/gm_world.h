// The Gaussian-mixture world of HOTET's map-prediction experiment (spec/algorithms.md §1.7), shared by
// gm-predict (which trains and scores on it) and runtime (which times training on it): a reference ν, the
// training and test source mixtures, their component-wise Bures ground-truth maps, and the training batches.
#pragma once
#include <cstdint>
#include <string>
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

// How a training batch's targets are drawn. Paired (the reference script, §1.7): y = T*(x), the ground
// truth's images of the batch's own sources. Independent: a fresh sample of ν per source, as an OT solver
// is meant to see its data. Pairing leaks the ground truth's coupling into MM-B: its batch matching σ
// (argmax_i ⟨x_i, y_j⟩ − ψ(x_i)) picks each y_j's own x_j once ψ is near ½‖x‖² and the dimension is high,
// σ is then a permutation and MM-B's loss and gradient vanish (exactly 0 at D = 64, docs/hotet.md).
enum class Targets { Paired, Independent };
// "paired" | "independent"; anything else throws naming --targets.
Targets parse_targets(const std::string& name);

// Sources x [B, n, D] for the training sources `index`, `batch` points each, and their targets y [B, n, D].
std::pair<Tensor, Tensor> draw_batches(const World& w, const std::vector<int64_t>& index, int64_t batch,
                                       Targets targets, Generator& gen);

}  // namespace brenier::hotet_tool
