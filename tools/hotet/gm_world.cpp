// The §1.7 Gaussian-mixture world (see gm_world.h).
#include "tools/hotet/gm_world.h"

#include "engine/ops/ops.h"
#include "tools/hotet/tool.h"

namespace brenier::hotet_tool {

World make_world(uint64_t seed, int64_t dim, int64_t train_sources, int64_t test_sources) {
  Generator gen = stream(seed, dim, Stream::World);
  World w{ot::random_gaussian_mixture(dim, gen), {}, {}, {}, {}};
  for (int64_t i = 0; i < train_sources; ++i) w.train.push_back(ot::random_gaussian_mixture(dim, gen));
  for (int64_t i = 0; i < test_sources; ++i) w.test.push_back(ot::random_gaussian_mixture(dim, gen));
  for (const auto& s : w.train) w.train_truth.emplace_back(s, w.target);
  for (const auto& s : w.test) w.test_truth.emplace_back(s, w.target);
  return w;
}

Tensor stack_sets(const std::vector<Tensor>& sets) {
  NoGradGuard no_grad;
  std::vector<Var> parts;
  for (const Tensor& t : sets) parts.push_back(Var(t));
  return stack(parts, 0).data();
}

Targets parse_targets(const std::string& name) {
  if (name == "paired") return Targets::Paired;
  if (name == "independent") return Targets::Independent;
  throw Error(fmt::format("--targets: must be paired or independent, got '{}'", name));
}

std::pair<Tensor, Tensor> draw_batches(const World& w, const std::vector<int64_t>& index, int64_t batch,
                                       Targets targets, Generator& gen) {
  std::vector<Tensor> xs, ys;
  for (int64_t i : index) {
    const ot::GaussianMixture::Sample s = w.train[i].sample(batch, gen, kTrainInnerBatch);
    xs.push_back(s.points);
    ys.push_back(targets == Targets::Paired ? w.train_truth[i].apply(s.points, s.components)
                                            : w.target.sample(batch, gen, kTrainInnerBatch).points);
  }
  return {stack_sets(xs), stack_sets(ys)};
}

}  // namespace brenier::hotet_tool
