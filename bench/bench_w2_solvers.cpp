// Training steps per second of the W2 benchmark's solvers (ot/solvers/w2_solver.h) on this CPU:
// MM-B, MMv2 (one outer step + 15 inner conjugate steps, the notebooks' INNER_ITERS) and W2GN, each
// on the solvers' DenseICNN (hidden [max(2D,64), max(2D,64), max(D,32)], spec §2.1), batch 1024,
// dims 2, 16, 64 — exactly the step `w2bench` runs 5000 times per dimension.
//
// Reference: the same steps in PyTorch, bench/torch_ref/w2_solver_steps.py (our script; it mirrors
// W2Solver line by line), measured on this machine kind and stored in bench/torch_ref/cpu.json.
// ../shared/bench/REFERENCE.md has no figures for whole MMv2 or W2GN steps (its P1/P2 rows are in
// bench_cpu), so the PyTorch side was measured by us; re-measure it in the same session when you can:
//   /usr/bin/python3 bench/torch_ref/w2_solver_steps.py --out bench/torch_ref/cpu.json
//
// Usage: bench_w2_solvers [--quick] [--reference FILE] [--profile] [--only mmb/64]   (default FILE: bench/torch_ref/cpu.json,
//        relative to the current directory; rows without a reference print "-")
#include <fmt/core.h>

#include <string>

#include "bench/harness.h"
#include "bench/step_table.h"
#include "ot/solvers/w2_solver.h"

using namespace brenier;
using namespace brenier::ot;

int main(int argc, char** argv) {
  bool quick = false;
  std::string reference_path = "bench/torch_ref/cpu.json";
  if (!bench::parse_step_args(argc, argv, "bench_w2_solvers", quick, reference_path)) return 2;
  std::string described;
  const auto torch_ms = bench::read_torch_reference(reference_path, "w2_solver_steps.py", described);
  std::printf("brenier W2 solver steps on %s\n", bench::machine_name().c_str());
  std::printf("reference: %s\nspeedup > 1 means brenier is faster\n\n", described.c_str());
  bench::print_step_header("step (batch 1024)", 26);

  Generator gen(7);
  for (const char* method : {"mmb", "mmv2", "w2gn"}) {
    for (int64_t dim : {2, 16, 64}) {
      if (!bench::row_selected(fmt::format("{}/{}", method, dim))) continue;
      W2SolverConfig config;
      config.method = parse_w2_method(method);
      config.dim = dim;
      config.pretrain.enabled = false;  // timed: the training step only
      W2Solver solver(config);
      W2Solver::Sampler source = bench::cycling_sampler(dim, gen, 0.0);
      W2Solver::Sampler target = bench::cycling_sampler(dim, gen, 1.0);
      const bool slow = config.method == W2Method::MMv2;
      auto step = [&] { solver.step(source, target); };
      auto t = bench::time_it(step, slow ? 2 : 5, quick ? 3 : (slow ? 7 : 20), quick ? 0.3 : 2.0);
      const std::string label = fmt::format("{} step, dim {}", method, dim);
      bench::print_step_row(label, 26, t, torch_ms, fmt::format("{}/{}", method, dim));
      bench::profile_row(label, step);
    }
  }
  return 0;
}
