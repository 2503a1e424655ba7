// Step state of the semi-discrete solvers' checkpoints (see semi_discrete_progress.h).
#include "ot/solvers/semi_discrete_progress.h"

namespace brenier::ot {

void append_progress(std::vector<std::pair<std::string, Tensor>>& tensors, const SolverProgress& progress) {
  const AdaptiveBatches::State& mc = progress.monte_carlo;
  tensors.emplace_back("solver.steps", Tensor::scalar(static_cast<double>(progress.steps), DType::I64));
  tensors.emplace_back("solver.mc_batches", Tensor::scalar(static_cast<double>(mc.batches), DType::I64));
  // f64 holds the best ‖∇E‖ exactly; the stall count and the flag are small integers.
  tensors.emplace_back("solver.mc_progress",
                       Tensor::from_vector(std::vector<double>{static_cast<double>(mc.bad_steps),
                                                               mc.has_best ? 1.0 : 0.0, mc.best}));
  tensors.emplace_back("solver.generator",
                       Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(progress.generator_seed),
                                                                static_cast<int64_t>(progress.generator_offset)}));
}

SolverProgress read_progress(const io::Checkpoint& checkpoint, const char* op, const std::string& path) {
  for (const char* key : {"solver.steps", "solver.mc_batches", "solver.generator"})
    BRENIER_CHECK(checkpoint.tensors.count(key) == 1, "{}: '{}' lacks the entry '{}'", op, path, key);
  const std::vector<int64_t> generator = checkpoint.tensors.at("solver.generator").to_vector<int64_t>();
  BRENIER_CHECK(generator.size() == 2, "{}: '{}': entry 'solver.generator' must hold [seed, offset]", op, path);
  SolverProgress p;
  p.steps = static_cast<int64_t>(checkpoint.tensors.at("solver.steps").item());
  BRENIER_CHECK(p.steps >= 0, "{}: '{}': entry 'solver.steps' must be >= 0, got {}", op, path, p.steps);
  p.monte_carlo.batches = static_cast<int64_t>(checkpoint.tensors.at("solver.mc_batches").item());
  const auto mc = checkpoint.tensors.find("solver.mc_progress");
  if (mc != checkpoint.tensors.end()) {
    const std::vector<double> v = mc->second.to_vector<double>();
    BRENIER_CHECK(v.size() == 3, "{}: '{}': entry 'solver.mc_progress' must hold [bad_steps, has_best, best]", op,
                  path);
    p.monte_carlo.bad_steps = static_cast<int64_t>(v[0]);
    p.monte_carlo.has_best = v[1] != 0;
    p.monte_carlo.best = v[2];
  }
  p.generator_seed = static_cast<uint64_t>(generator[0]);
  p.generator_offset = static_cast<uint64_t>(generator[1]);
  return p;
}

}  // namespace brenier::ot
