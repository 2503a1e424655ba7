// The NCTM training step of issue 8 (batch 256, d = 8) in brenier: NctmSolver (ot/solvers/nctm.h) with the
// paper's hypernetwork conditioning (spec/algorithms.md §5.2), condition c = (one of 3 classes, s ∈ [0, 1])
// with positional encoding, width 64, decoders 8 (T) and 3 (f), AdamW. ../shared/bench/REFERENCE.md has no
// PyTorch figure for this step, so the table has no ratio column.
//
// Rows (median wall time of NctmSolver::train_step, a step including its snapshot for divergence recovery):
//   critic update   a warm-up step: T(x, c) forward without a graph, one AdamW update of f and its encoder;
//   map + critic    an alternating step with K_T = 1: one update of T on L_T, then one of f;
//   map update      the difference of the two (T's forward/backward through f, and its AdamW update);
//   K_T = 5 step    the alternating step at the tool's default K_T = 5 (§5.2: 4–6).
// GPU: NctmSolver places its modules on the CPU (it has no device option yet), so the GPU row is skipped with
// the reason either way; the CUDA backend itself is timed by bench_gpu.
// Usage: bench_nctm [--quick]
#include <cstring>
#include <string>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/device_memory.h"
#include "ot/solvers/nctm.h"

using namespace brenier;

namespace {

constexpr int64_t kBatch = 256, kDim = 8, kClasses = 3;

ot::NctmSolverConfig config(int64_t pretrain, int64_t warmup, int64_t map_steps) {
  ot::NctmSolverConfig c;
  c.dim = kDim;
  c.encoder.num_classes = {kClasses};
  c.encoder.num_continuous = 1;
  c.conditioning = ot::ConditioningKind::Hypernetwork;
  c.pretrain_steps = pretrain;
  c.warmup_steps = warmup;
  c.map_steps = map_steps;
  c.seed = 1;
  return c;
}

// A few pre-drawn batches (source N(0, I), target a shifted Gaussian), cycled so sampling is not timed.
struct Batches {
  std::vector<ot::NctmBatch> pool;
  size_t next = 0;
  explicit Batches(Generator& gen) {
    for (int i = 0; i < 4; ++i) {
      Tensor k = gen.randint({kBatch, 1}, 0, kClasses);
      Tensor s = gen.uniform({kBatch, 1}, 0.0, 1.0);
      Tensor x = gen.normal({kBatch, kDim});
      Tensor y = (Var(gen.normal({kBatch, kDim})) * 0.5 + 1.0).data();
      pool.push_back({x, y, {k, s}});
    }
  }
  ot::NctmSampler sampler() {
    return [this] { return pool[next++ % pool.size()]; };
  }
};

double median_step(ot::NctmSolver& solver, Batches& batches, bool quick) {
  const ot::NctmSampler sample = batches.sampler();
  return bench::time_it([&] { solver.train_step(sample); }, 2, quick ? 3 : 10, quick ? 0.5 : 3.0).median_ms;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("brenier NCTM training step (batch %lld, d = %lld, hypernet, width 64) on %s\n",
              static_cast<long long>(kBatch), static_cast<long long>(kDim), bench::machine_name().c_str());
  std::printf("no PyTorch reference figure exists for this step in ../shared/bench/REFERENCE.md\n\n");
  std::printf("| %-36s | %-6s | %-14s |\n", "step", "device", "median");
  std::printf("|%s|%s|%s|\n", std::string(38, '-').c_str(), std::string(8, '-').c_str(), std::string(16, '-').c_str());
  Generator gen(5);
  Batches batches(gen);
  // Every step of a solver with a huge warm-up is a critic update; with no pre-training / warm-up every step
  // is an alternating one.
  ot::NctmSolver critic_only(config(0, 1000000, 1));
  const double critic_ms = median_step(critic_only, batches, quick);
  ot::NctmSolver alternating(config(0, 0, 1));
  const double both_ms = median_step(alternating, batches, quick);
  ot::NctmSolver default_kt(config(0, 0, 5));
  const double kt5_ms = median_step(default_kt, batches, quick);
  std::printf("| %-36s | %-6s | %11.1f ms |\n", "critic update (warm-up step)", "cpu", critic_ms);
  std::printf("| %-36s | %-6s | %11.1f ms |\n", "map + critic (alternating, K_T = 1)", "cpu", both_ms);
  std::printf("| %-36s | %-6s | %11.1f ms |\n", "map update (difference)", "cpu", both_ms - critic_ms);
  std::printf("| %-36s | %-6s | %11.1f ms |\n", "alternating step, K_T = 5", "cpu", kt5_ms);
  if (backend::cuda_available())
    std::printf("\nGPU: skipped: a CUDA device is present, but NctmSolver has no device option yet (its modules "
                "live on the CPU); see docs/nctm.md\n");
  else
    std::printf("\nGPU: skipped: no CUDA device (or a build without -Dcuda=enabled)\n");
  return 0;
}
