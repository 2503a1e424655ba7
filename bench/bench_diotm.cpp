// The DIOTM training step (ot/solvers/diotm.h; issue 7's bench): one potential update with the HJB
// regularizer (a gradient of a gradient w.r.t. the potential's parameters, on 2 × 1024 interpolated
// points) and one map update of both boundary maps, batch 1024 per side, the spec's networks (§4.3:
// maps x + MLP 256×3, potential MLP 128×3 on [x, 128-d sinusoidal t], SiLU), f32, dims 2 and 64 —
// exactly the step `diotm gaussian` runs; plus the conv step of `diotm translate` (1×28×28 images,
// ConvUNetMap / ConvTimePotential with 16 base channels, batch 64). CPU rows always; CUDA rows when a
// device is usable.
//
// Reference: the same step in PyTorch, bench/torch_ref/diotm_step.py (our script; it mirrors
// DiotmSolver op by op), measured on this machine kind and stored in bench/torch_ref/diotm_cpu.json.
// No published DIOTM timing exists (the paper's code is not public), so the PyTorch side is ours;
// re-measure it in the same session when you can:
//   /usr/bin/python3 bench/torch_ref/diotm_step.py --out bench/torch_ref/diotm_cpu.json
//
// Usage: bench_diotm [--quick] [--reference FILE]   (default FILE: bench/torch_ref/diotm_cpu.json)
#include <fmt/core.h>

#include <cstring>
#include <memory>
#include <string>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/device_memory.h"
#include "engine/backend/primitives.h"
#include "ot/solvers/diotm.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

// Eight fixed host batches cycled by the sampler: the step's cost without the sampler's.
DiotmSolver::Sampler cycling_sampler(int64_t dim, Generator& gen, double shift) {
  auto batches = std::make_shared<std::vector<Tensor>>();
  for (int i = 0; i < 8; ++i) batches->push_back((Var(gen.normal({1024, dim})) + shift).data());
  auto next = std::make_shared<size_t>(0);
  return [batches, next](int64_t n) {
    const Tensor& b = (*batches)[(*next)++ % batches->size()];
    return n == b.shape()[0] ? b : prim::slice(b, 0, 0, n, 1);
  };
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string reference_path = "bench/torch_ref/diotm_cpu.json";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--reference") == 0 && i + 1 < argc) {
      reference_path = argv[++i];
    } else {
      std::fprintf(stderr, "bench_diotm: unknown argument '%s'; usage: bench_diotm [--quick] [--reference FILE]\n",
                   argv[i]);
      return 2;
    }
  }
  std::string described;
  const auto torch_ms = bench::read_torch_reference(reference_path, "diotm_step.py", described);
  std::printf("brenier DIOTM step on %s%s\n", bench::machine_name().c_str(),
              backend::cuda_available() ? " + CUDA device 0" : " (no CUDA device: CPU rows only)");
  std::printf("reference: %s\nspeedup > 1 means brenier is faster\n\n", described.c_str());
  std::printf("| %-34s | %10s | %9s | %10s | %7s |\n", "DIOTM step (batch 1024, HJB)", "brenier ms", "steps/s",
              "PyTorch ms", "speedup");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(12, '-').c_str(),
              std::string(11, '-').c_str(), std::string(12, '-').c_str(), std::string(9, '-').c_str());

  std::vector<Device> devices{Device::cpu()};
  if (backend::cuda_available()) devices.push_back(Device::cuda(0));
  Generator gen(7);
  for (Device device : devices) {
    // dim 784: the conv architecture of `diotm translate` on 28×28 images, batch 64 (no PyTorch row).
    for (int64_t dim : {2, 64, 784}) {
      const bool images = dim == 784;
      DiotmConfig config;
      config.dim = dim;
      config.batch = images ? 64 : 1024;
      config.device = device;
      if (images) {
        config.architecture = DiotmArchitecture::Conv;
        config.image = {1, 28, 28};
      }
      DiotmSolver solver(config);
      DiotmSolver::Sampler source = cycling_sampler(dim, gen, 0.0), target = cycling_sampler(dim, gen, 1.0);
      auto step = [&] {
        solver.step(source, target);
        backend::synchronize(device);  // CUDA is asynchronous: time the finished step
      };
      const bench::Timing t = bench::time_it(step, 3, quick ? 3 : 10, quick ? 0.3 : 2.0);
      const std::string key = fmt::format("{}/{}", device.is_cpu() ? "cpu" : "cuda", dim);
      const auto ref = torch_ms.find(key);
      const std::string name = images ? fmt::format("{}, 28x28 conv, batch 64", device.str())
                                      : fmt::format("{}, dim {}", device.str(), dim);
      if (ref == torch_ms.end())
        std::printf("| %-34s | %10.2f | %9.1f | %10s | %7s |\n", name.c_str(), t.median_ms, 1000.0 / t.median_ms,
                    "-", "-");
      else
        std::printf("| %-34s | %10.2f | %9.1f | %10.2f | %6.2fx |\n", name.c_str(), t.median_ms,
                    1000.0 / t.median_ms, ref->second, ref->second / t.median_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
