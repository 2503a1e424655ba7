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
// Usage: bench_w2_solvers [--quick] [--reference FILE]   (default FILE: bench/torch_ref/cpu.json,
//        relative to the current directory; rows without a reference print "-")
#include <fmt/core.h>

#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/primitives.h"
#include "ot/solvers/w2_solver.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

// Eight fixed batches cycled by the sampler: the step's cost without the sampler's.
W2Solver::Sampler cycling_sampler(int64_t dim, Generator& gen, double shift) {
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
  std::string reference_path = "bench/torch_ref/cpu.json";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--reference") == 0 && i + 1 < argc) {
      reference_path = argv[++i];
    } else {
      std::fprintf(stderr, "bench_w2_solvers: unknown argument '%s'; usage: bench_w2_solvers [--quick] [--reference FILE]\n",
                   argv[i]);
      return 2;
    }
  }
  std::string described;
  const auto torch_ms = bench::read_torch_reference(reference_path, "w2_solver_steps.py", described);
  std::printf("brenier W2 solver steps on %s\n", bench::machine_name().c_str());
  std::printf("reference: %s\nspeedup > 1 means brenier is faster\n\n", described.c_str());
  std::printf("| %-26s | %10s | %9s | %10s | %7s |\n", "step (batch 1024)", "brenier ms", "steps/s", "PyTorch ms",
              "speedup");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(28, '-').c_str(), std::string(12, '-').c_str(),
              std::string(11, '-').c_str(), std::string(12, '-').c_str(), std::string(9, '-').c_str());

  Generator gen(7);
  for (const char* method : {"mmb", "mmv2", "w2gn"}) {
    for (int64_t dim : {2, 16, 64}) {
      W2SolverConfig config;
      config.method = parse_w2_method(method);
      config.dim = dim;
      config.pretrain.enabled = false;  // timed: the training step only
      W2Solver solver(config);
      W2Solver::Sampler source = cycling_sampler(dim, gen, 0.0), target = cycling_sampler(dim, gen, 1.0);
      const bool slow = config.method == W2Method::MMv2;
      auto t = bench::time_it([&] { solver.step(source, target); }, slow ? 2 : 5, quick ? 3 : (slow ? 7 : 20),
                              quick ? 0.3 : 2.0);
      const std::string key = fmt::format("{}/{}", method, dim);
      const auto ref = torch_ms.find(key);
      const std::string name = fmt::format("{} step, dim {}", method, dim);
      if (ref == torch_ms.end())
        std::printf("| %-26s | %10.2f | %9.1f | %10s | %7s |\n", name.c_str(), t.median_ms, 1000.0 / t.median_ms,
                    "-", "-");
      else
        std::printf("| %-26s | %10.2f | %9.1f | %10.2f | %6.2fx |\n", name.c_str(), t.median_ms,
                    1000.0 / t.median_ms, ref->second, ref->second / t.median_ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
