// The DIOTM training step (ot/solvers/diotm.h; issue 7's bench): one potential update with the HJB
// regularizer (a gradient of a gradient w.r.t. the potential's parameters, on 2 × 1024 interpolated
// points) and one map update of both boundary maps, batch 1024 per side, the spec's networks (§4.3:
// maps x + MLP 256×3, potential MLP 128×3 on [x, 128-d sinusoidal t], SiLU), f32, dims 2 and 64 —
// exactly the step `diotm gaussian` runs; plus the conv step of `diotm translate` (1×28×28 images,
// ConvUNetMap / ConvTimePotential with 8 base channels, batch 64). CPU rows always; CUDA rows when a
// device is usable.
//
// Reference: the same step in PyTorch, bench/torch_ref/diotm_step.py (our script; it mirrors
// DiotmSolver op by op), measured on this machine kind and stored in bench/torch_ref/diotm_cpu.json.
// No published DIOTM timing exists (the paper's code is not public), so the PyTorch side is ours;
// re-measure it in the same session when you can:
//   /usr/bin/python3 bench/torch_ref/diotm_step.py --out bench/torch_ref/diotm_cpu.json
//
// Usage: bench_diotm [--quick] [--reference FILE] [--profile] [--only cpu/64]   (default FILE: bench/torch_ref/diotm_cpu.json)
#include <fmt/core.h>

#include <string>
#include <vector>

#include "bench/harness.h"
#include "bench/step_table.h"
#include "engine/backend/device_memory.h"
#include "ot/solvers/diotm.h"

using namespace brenier;
using namespace brenier::ot;

int main(int argc, char** argv) {
  bool quick = false;
  std::string reference_path = "bench/torch_ref/diotm_cpu.json";
  if (!bench::parse_step_args(argc, argv, "bench_diotm", quick, reference_path)) return 2;
  std::string described;
  const auto torch_ms = bench::read_torch_reference(reference_path, "diotm_step.py", described);
  std::printf("brenier DIOTM step on %s%s\n", bench::machine_name().c_str(),
              backend::cuda_available() ? " + CUDA device 0" : " (no CUDA device: CPU rows only)");
  std::printf("reference: %s\nspeedup > 1 means brenier is faster\n\n", described.c_str());
  bench::print_step_header("DIOTM step (batch 1024, HJB)", 34);

  std::vector<Device> devices{Device::cpu()};
  if (backend::cuda_available()) devices.push_back(Device::cuda(0));
  Generator gen(7);
  for (Device device : devices) {
    // dim 784: the conv architecture of `diotm translate` on 28×28 images, batch 64 (no PyTorch row).
    for (int64_t dim : {2, 64, 784}) {
      const bool images = dim == 784;
      const std::string key = fmt::format("{}/{}", device.is_cpu() ? "cpu" : "cuda", dim);
      if (!bench::row_selected(key)) continue;
      DiotmConfig config;
      config.dim = dim;
      config.batch = images ? 64 : 1024;
      config.device = device;
      if (images) {
        config.architecture = DiotmArchitecture::Conv;
        config.image = {1, 28, 28};
        config.conv_channels = 8;  // translate's default
      }
      DiotmSolver solver(config);
      DiotmSolver::Sampler source = bench::cycling_sampler(dim, gen, 0.0);
      DiotmSolver::Sampler target = bench::cycling_sampler(dim, gen, 1.0);
      auto step = [&] {
        solver.step(source, target);
        backend::synchronize(device);  // CUDA is asynchronous: time the finished step
      };
      const bench::Timing t = bench::time_it(step, 3, quick ? 3 : 10, quick ? 0.3 : 2.0);
      const std::string name = images ? fmt::format("{}, 28x28 conv, batch 64", device.str())
                                      : fmt::format("{}, dim {}", device.str(), dim);
      bench::print_step_row(name, 34, t, torch_ms, key);
      bench::profile_row(name, step);
    }
  }
  return 0;
}
