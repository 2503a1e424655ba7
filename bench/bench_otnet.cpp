// Workload P4 of ../shared/bench/WORKLOADS.md on this CPU: one semi-discrete OT-Net step with n = 10,000
// targets in R¹⁰⁰, N = 20,000 fresh sources x ~ N(0, I), heights h = H_Φ(Y) with the Table A3 network
// (100→512→512→512→1, BatchNorm + ReLU), scores X·Yᵀ + h, argmax, counts / N, h.backward(w − ν), Adam —
// HeightNetworkSolver::step() (ot/solvers/height_network_solver.h), the step `otnet` runs. Also the
// assignment alone (assign_cells: chunked GEMM + argmax + counts) and H_Φ's forward + backward alone, so a
// reader sees where the time goes.
//
// Reference: PyTorch 1.13 CPU, 2 threads, tuned malloc, ../shared/bench/REFERENCE.md: P4 583 ms (580–586),
// its GEMM floor at 400 GFLOP/s 184 ms. The figure is copied here (REFERENCE.md is prose, not data);
// re-measure it in the same session when you can: /usr/bin/python3 ../shared/bench/ref/workloads.py
// --device cpu --tuned-malloc --only P4.
//
// With a usable CUDA device the same rows are timed there too, against REFERENCE.md's H100 figure (PyTorch
// 2.11 eager fp32, 4.99 ms). The sources are drawn on the host by the solver's Generator and copied over
// (8 MB per step), as `otnet --device cuda` does; PyTorch draws them on the GPU.
//
// Usage: bench_otnet [--quick]
#include <fmt/core.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/device_memory.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/height_network_solver.h"
#include "ot/solvers/semi_discrete_cells.h"

using namespace brenier;
using namespace brenier::ot;

namespace {
constexpr double kTorchCpuP4Ms = 583.0;  // REFERENCE.md, CPU table, P4 median of 3 runs
constexpr double kGemmFloorMs = 184.0;   // REFERENCE.md: 73.5 GFLOP at 400 GFLOP/s
constexpr double kTorchGpuP4Ms = 4.99;   // REFERENCE.md, GPU table (H100), P4 eager fp32

// The three rows on `device`; every timed call ends with a device synchronize (CUDA is asynchronous).
void time_rows(Device device, bool quick) {
  const int64_t n = 10000, N = 20000, dim = 100;
  Generator data_gen(44);
  const Tensor targets = data_gen.normal({n, dim}).to(device);

  HeightNetworkSolverConfig config;  // Table A3 widths, BN, full-batch targets (P4)
  config.tolerance = 1e-12;          // never "converged": every timed step updates H_Φ
  config.monte_carlo = {.batch_size = N, .initial_batches = 1, .patience = 1 << 30, .max_batches = 1};
  config.seed = 4;
  config.device = device;
  HeightNetworkSolver solver(targets, {}, config);
  const SourceSampler source = normal_sampler(dim, 0.0, 1.0, DType::F32, device);  // drawn where it is used

  const double min_seconds = quick ? 2.0 : 8.0;
  const int min_iters = quick ? 3 : 10;
  auto synced = [device](auto&& f) {
    return [device, f] {
      f();
      backend::synchronize(device);
    };
  };
  const bench::Timing step =
      bench::time_it(synced([&] { solver.step(source); }), 2, min_iters, min_seconds, 200);

  Generator x_gen(4444);
  const Tensor x = x_gen.normal({N, dim}).to(device);
  const Tensor h = solver.network().forward(Var(targets)).data();
  // As the solvers call it: their sampled batches are checked once before, so no finiteness scan here (on a
  // GPU each scan copies to the host; with the scans this row read 5.0 ms on an H200 while the profile's GEMM,
  // argmax and bincount of a step sum to about 1.7 ms).
  CellAssignmentOptions as_solvers;
  as_solvers.check_finite = false;
  const bench::Timing assign = bench::time_it(synced([&] { assign_cells(x, targets, h, as_solvers); }), 2, min_iters,
                                              min_seconds / 2, 200);
  const Tensor g = Tensor::full({n}, 1e-6).to(device);
  const bench::Timing network = bench::time_it(synced([&] {
                                                 solver.network().zero_grad();
                                                 Var hv = solver.network().forward(Var(targets));
                                                 hv.backward(g);
                                               }),
                                               2, min_iters, min_seconds / 2, 200);
  const double torch_ms = device.is_cpu() ? kTorchCpuP4Ms : kTorchGpuP4Ms;
  const std::string where = device.str();
  std::printf("| %-44s | %-6s | %10.2f | %10.2f | %9.2fx |\n", "P4 whole step (sample, H, assign, backward, Adam)",
              where.c_str(), step.median_ms, torch_ms, torch_ms / step.median_ms);
  std::printf("| %-44s | %-6s | %10.2f | %10s | %10s |\n", "  assign_cells (GEMM + argmax + counts)", where.c_str(),
              assign.median_ms, "-", "-");
  std::printf("| %-44s | %-6s | %10.2f | %10s | %10s |\n", "  H_Phi forward + backward (train mode)", where.c_str(),
              network.median_ms, "-", "-");
}
}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "bench_otnet: unknown argument '%s'; usage: bench_otnet [--quick]\n", argv[i]);
      return 2;
    }
  }
  std::printf("brenier OT-Net semi-discrete step (P4) on %s\n", bench::machine_name().c_str());
  std::printf("n = 10000 targets in R^100, N = 20000 sources, H = Table A3 (100-512-512-512-1, BN+ReLU), Adam\n\n");
  std::printf("| %-44s | %-6s | %10s | %10s | %10s |\n", "part", "device", "brenier ms", "PyTorch ms", "speedup");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(8, '-').c_str(),
              std::string(12, '-').c_str(), std::string(12, '-').c_str(), std::string(12, '-').c_str());
  time_rows(Device::cpu(), quick);
  if (backend::cuda_available()) time_rows(Device::cuda(0), quick);
  std::printf("\nmedians; speedup > 1 means brenier is faster.\n");
  std::printf("PyTorch: ../shared/bench/REFERENCE.md, CPU (torch 1.13, 2 threads, tuned malloc) P4 = %.0f ms, GEMM floor\n"
              "at 400 GFLOP/s = %.0f ms; GPU (H100, torch 2.11 eager fp32) P4 = %.2f ms. The CPU machine is shared:\n"
              "compare ratios, re-measure both together.\n",
              kTorchCpuP4Ms, kGemmFloorMs, kTorchGpuP4Ms);
  if (!backend::cuda_available()) std::printf("CUDA rows: skipped: no CUDA device (or a build without -Dcuda=enabled)\n");
  return 0;
}
