// What the step benchmarks (bench_w2_solvers, bench_diotm) share: their command line
// (`[--quick] [--reference FILE] [--profile] [--only TEXT]`), an op profile of a row's step (engine/profiler.h), a sampler that cycles eight fixed host batches (so a step's time
// excludes sampling), and a table row with the PyTorch reference and the speedup.
#pragma once
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/primitives.h"

namespace brenier::bench {

// Set by `--profile`: after each row, the row's step runs a few more times under the op profiler and
// its top ops are printed (where the time goes, for the "say where time goes" of issue 4).
inline bool g_profile_rows = false;
// Set by `--only TEXT`: rows whose key ("mmb/64", ...) does not contain TEXT are skipped.
inline std::string g_only_rows;
inline bool row_selected(const std::string& key) { return key.find(g_only_rows) != std::string::npos; }

// Parses `[--quick] [--reference FILE] [--profile] [--only TEXT]`; prints the usage of `program` and returns false on
// anything else.
inline bool parse_step_args(int argc, char** argv, const char* program, bool& quick, std::string& reference) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--profile") == 0) {
      g_profile_rows = true;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      g_only_rows = argv[++i];
    } else if (std::strcmp(argv[i], "--reference") == 0 && i + 1 < argc) {
      reference = argv[++i];
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'; usage: %s [--quick] [--reference FILE] [--profile] [--only TEXT]\n", program, argv[i],
                   program);
      return false;
    }
  }
  return true;
}

// With --profile: runs `step` `iters` times under the op profiler (by op and shape) and prints the top
// `rows` ops per step; otherwise does nothing.
inline void profile_row(const std::string& label, const std::function<void()>& step, int iters = 5, int rows = 25) {
  if (!g_profile_rows) return;
  profiler::start(true);
  {
    profiler::Region region(label);
    for (int i = 0; i < iters; ++i) step();
  }
  profiler::stop();
  std::printf("\nprofile of %s (%d steps):\n%s\n", label.c_str(), iters,
              profiler::report(profiler::summary(), rows).c_str());
}

// n rows of one of eight fixed [1024, dim] batches N(shift, I), cycled (n <= 1024).
inline std::function<Tensor(int64_t)> cycling_sampler(int64_t dim, Generator& gen, double shift) {
  auto batches = std::make_shared<std::vector<Tensor>>();
  for (int i = 0; i < 8; ++i) batches->push_back((Var(gen.normal({1024, dim})) + shift).data());
  auto next = std::make_shared<size_t>(0);
  return [batches, next](int64_t n) {
    const Tensor& b = (*batches)[(*next)++ % batches->size()];
    return n == b.shape()[0] ? b : prim::slice(b, 0, 0, n, 1);
  };
}

// The table's header (first column `what`, `width` characters wide) and one row per step.
inline void print_step_header(const char* what, int width) {
  std::printf("| %-*s | %10s | %9s | %10s | %7s |\n", width, what, "brenier ms", "steps/s", "PyTorch ms", "speedup");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(width + 2, '-').c_str(), std::string(12, '-').c_str(),
              std::string(11, '-').c_str(), std::string(12, '-').c_str(), std::string(9, '-').c_str());
}
inline void print_step_row(const std::string& name, int width, const Timing& t,
                           const std::map<std::string, double>& torch_ms, const std::string& key) {
  const auto ref = torch_ms.find(key);
  if (ref == torch_ms.end())
    std::printf("| %-*s | %10.2f | %9.1f | %10s | %7s |\n", width, name.c_str(), t.median_ms, 1000.0 / t.median_ms,
                "-", "-");
  else
    std::printf("| %-*s | %10.2f | %9.1f | %10.2f | %6.2fx |\n", width, name.c_str(), t.median_ms,
                1000.0 / t.median_ms, ref->second, ref->second / t.median_ms);
  std::fflush(stdout);
}

}  // namespace brenier::bench
