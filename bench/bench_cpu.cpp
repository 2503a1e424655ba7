// CPU benchmarks of the engine core against the reference figures in ../shared/bench/REFERENCE.md
// (PyTorch 1.13 CPU and oneDNN, 2 threads, on this project's machine kind):
//   - f32 matmul 1024³ and 4096³ (GFLOP/s; reference: oneDNN 2.6 sgemm, 2 threads: 403 and 351)
//   - P1, one MM-B training step of the bench ICNN (WORKLOADS.md): batch 1024, dims 2, 16, 64:
//     forward, batch-conjugate loss, backward, Adam, clamp (reference: PyTorch, tuned malloc).
//   - P2, one MMv2 inner step (WORKLOADS.md): loss −mean_j(⟨y_j, ∇g(y_j)⟩ − f(∇g(y_j))) with ∇g kept
//     in the graph (double backward), Adam on g; dims 2, 16, 64.
// Usage: bench_cpu [--quick]   (quick: fewer repetitions, smaller matmul only)
#include <cstring>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/primitives.h"
#include "ot/layers/icnn.h"
#include "ot/solvers/mmb.h"

using namespace brenier;

namespace {

void row(const char* workload, double ours, const char* unit, double reference, const char* ref_name,
         bool higher_is_better) {
  double speedup = higher_is_better ? ours / reference : reference / ours;
  std::printf("| %-34s | %10.3f %-7s | %10.3f | %-32s | %5.2fx |\n", workload, ours, unit, reference, ref_name, speedup);
}

// A fixed 3-component Gaussian mixture (as ref/workloads.py make_mixture: spread 4, cov A Aᵀ/D + 0.25 I).
Tensor mixture_batch(int64_t n, int64_t dim, Generator& gen) {
  Tensor means = gen.normal({3, dim}, 0.0, 4.0);
  Tensor comp = gen.randint({n}, 0, 3);
  Var z(gen.normal({n, dim}));
  Var a(gen.normal({3, dim, dim}, 0.0, 1.0 / std::sqrt(static_cast<double>(dim))));
  Var picked = index_select(a, 0, comp);  // [n, D, D]
  Var x = squeeze(matmul(picked, unsqueeze(z, 2)), 2) + index_select(Var(means), 0, comp) + z * 0.5;
  return x.data();
}

// The bench ICNN of WORKLOADS.md: default hidden sizes for dim, s = 1.
ot::IcnnConfig bench_icnn(int64_t dim) {
  ot::IcnnConfig config;
  config.dim = dim;
  config.quadratic = 1.0;
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("brenier CPU benchmarks on %s\n", bench::machine_name().c_str());
  std::printf("reference: ../shared/bench/REFERENCE.md (same machine kind); speedup > 1 means brenier is faster\n\n");
  std::printf("| %-34s | %-18s | %-10s | %-32s | %-6s |\n", "workload", "brenier (median)", "reference", "reference is", "speedup");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(20, '-').c_str(),
              std::string(12, '-').c_str(), std::string(34, '-').c_str(), std::string(8, '-').c_str());

  Generator gen(1);
  for (int64_t n : quick ? std::vector<int64_t>{1024} : std::vector<int64_t>{1024, 4096}) {
    Tensor a = gen.normal({n, n}), b = gen.normal({n, n});
    auto t = bench::time_it([&] { prim::matmul(a, b); }, 2, quick ? 3 : 5, quick ? 0.3 : 2.0);
    double gflops = 2.0 * n * n * n / (t.median_ms * 1e6);
    row(fmt::format("matmul f32 {}x{}x{}", n, n, n).c_str(), gflops, "GFLOP/s", n == 1024 ? 403.0 : 351.0,
        "oneDNN 2.6 sgemm, 2 threads", true);
  }

  const std::vector<std::pair<int64_t, double>> p1 = {{2, 2.66}, {16, 4.45}, {64, 5.44}};
  for (auto [dim, torch_ms] : p1) {
    ot::Icnn psi(bench_icnn(dim), gen);
    optim::Adam adam(psi.parameters(), {.lr = 1e-3});
    for (const Var& w : psi.convex_weights()) adam.add_projection(w, optim::clamp_min_projection(0.0));
    std::vector<Tensor> xs, ys;
    for (int i = 0; i < 8; ++i) {
      xs.push_back(mixture_batch(1024, dim, gen));
      ys.push_back(mixture_batch(1024, dim, gen));
    }
    int k = 0;
    auto step = [&] {
      autograd::Tape tape;
      const Tensor &x = xs[k % 8], &y = ys[k % 8];
      ++k;
      Var loss = ot::mmb_objective(psi(Var(x)), x, y).loss;
      adam.zero_grad();
      loss.backward();
      adam.step();
    };
    auto t = bench::time_it(step, 5, quick ? 5 : 20, quick ? 0.3 : 2.0);
    row(fmt::format("P1 MM-B step, dim {}", dim).c_str(), t.median_ms, "ms", torch_ms,
        "PyTorch 1.13 CPU, tuned malloc", false);
  }

  const std::vector<std::pair<int64_t, double>> p2 = {{2, 3.84}, {16, 9.32}, {64, 9.09}};
  for (auto [dim, torch_ms] : p2) {
    ot::Icnn f(bench_icnn(dim), gen), g(bench_icnn(dim), gen);
    for (Var p : f.parameters()) p.requires_grad_(false);  // inner step: only g is trained
    optim::Adam adam(g.parameters(), {.lr = 1e-3});
    for (const Var& w : g.convex_weights()) adam.add_projection(w, optim::clamp_min_projection(0.0));
    std::vector<Tensor> ys;
    for (int i = 0; i < 8; ++i) ys.push_back(mixture_batch(1024, dim, gen));
    int k = 0;
    auto step = [&] {
      autograd::Tape tape;
      Var y(ys[k++ % 8], true);
      Var grad_g = g.map(y, /*create_graph=*/true);
      Var loss = -mean(sum(y * grad_g, {1}) - f(grad_g));
      adam.zero_grad();
      loss.backward();
      adam.step();
    };
    auto t = bench::time_it(step, 5, quick ? 5 : 20, quick ? 0.3 : 2.0);
    row(fmt::format("P2 MMv2 inner step, dim {}", dim).c_str(), t.median_ms, "ms", torch_ms,
        "PyTorch 1.13 CPU, tuned malloc", false);
  }
  return 0;
}
