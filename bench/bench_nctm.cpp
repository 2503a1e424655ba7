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
// CPU rows always; the same rows on CUDA device 0 when one is usable (NctmSolverConfig::device; the batches
// are moved there before timing, and each timed step ends with a device synchronize).
// Usage: bench_nctm [--quick]
#include <cstring>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/device_memory.h"
#include "ot/solvers/nctm.h"

using namespace brenier;

namespace {

constexpr int64_t kBatch = 256, kDim = 8, kClasses = 3;

ot::NctmSolverConfig config(int64_t pretrain, int64_t warmup, int64_t map_steps, Device device) {
  ot::NctmSolverConfig c;
  c.dim = kDim;
  c.encoder.num_classes = {kClasses};
  c.encoder.num_continuous = 1;
  c.conditioning = ot::ConditioningKind::Hypernetwork;
  c.pretrain_steps = pretrain;
  c.warmup_steps = warmup;
  c.map_steps = map_steps;
  c.seed = 1;
  c.device = device;
  return c;
}

// A few pre-drawn batches (source N(0, I), target a shifted Gaussian), cycled so sampling is not timed.
struct Batches {
  std::vector<ot::NctmBatch> pool;
  size_t next = 0;
  Batches(Generator& gen, Device device) {
    for (int i = 0; i < 4; ++i) {
      Tensor k = gen.randint({kBatch, 1}, 0, kClasses);
      Tensor s = gen.uniform({kBatch, 1}, 0.0, 1.0);
      Tensor x = gen.normal({kBatch, kDim});
      Tensor y = (Var(gen.normal({kBatch, kDim})) * 0.5 + 1.0).data();
      pool.push_back({x.to(device), y.to(device), {k.to(device), s.to(device)}});
    }
  }
  ot::NctmSampler sampler() {
    return [this] { return pool[next++ % pool.size()]; };
  }
};

double median_step(ot::NctmSolver& solver, Batches& batches, bool quick) {
  const ot::NctmSampler sample = batches.sampler();
  const Device device = solver.config().device;
  auto step = [&] {
    solver.train_step(sample);
    backend::synchronize(device);  // CUDA is asynchronous: time the finished step
  };
  return bench::time_it(step, 2, quick ? 3 : 10, quick ? 0.5 : 3.0).median_ms;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("brenier NCTM training step (batch %lld, d = %lld, hypernet, width 64) on %s\n",
              static_cast<long long>(kBatch), static_cast<long long>(kDim), bench::machine_name().c_str());
  std::printf("no PyTorch reference figure exists for this step in ../shared/bench/REFERENCE.md\n\n");
  std::printf("| %-36s | %-6s | %-14s |\n", "step", "device", "median");
  std::printf("|%s|%s|%s|\n", std::string(38, '-').c_str(), std::string(8, '-').c_str(), std::string(16, '-').c_str());
  std::vector<Device> devices{Device::cpu()};
  if (backend::cuda_available()) devices.push_back(Device::cuda(0));
  for (Device device : devices) {
    Generator gen(5);  // the same batches on every device
    Batches batches(gen, device);
    // Every step of a solver with a huge warm-up is a critic update; with no pre-training / warm-up every step
    // is an alternating one.
    ot::NctmSolver critic_only(config(0, 1000000, 1, device));
    const double critic_ms = median_step(critic_only, batches, quick);
    ot::NctmSolver alternating(config(0, 0, 1, device));
    const double both_ms = median_step(alternating, batches, quick);
    ot::NctmSolver default_kt(config(0, 0, 5, device));
    const double kt5_ms = median_step(default_kt, batches, quick);
    const std::string where = device.str();
    std::printf("| %-36s | %-6s | %11.1f ms |\n", "critic update (warm-up step)", where.c_str(), critic_ms);
    std::printf("| %-36s | %-6s | %11.1f ms |\n", "map + critic (alternating, K_T = 1)", where.c_str(), both_ms);
    std::printf("| %-36s | %-6s | %11.1f ms |\n", "map update (difference)", where.c_str(), both_ms - critic_ms);
    std::printf("| %-36s | %-6s | %11.1f ms |\n", "alternating step, K_T = 5", where.c_str(), kt5_ms);
  }
  if (!backend::cuda_available()) std::printf("\nCUDA rows: skipped: no CUDA device (or a build without -Dcuda=enabled)\n");
  return 0;
}
