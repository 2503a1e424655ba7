// Semi-discrete OT on CUDA (issue 6: `otnet --device cuda`): the cell assignment — scores by cuBLAS on
// augmented operands, running argmax / top-k across target chunks, cell counts — against the CPU (f64:
// the same argmax, top-k and counts, scores within rounding; f32: the GPU's winner scores within rounding
// of the CPU's best), and a few steps of both solvers (free heights, H_Φ) on CUDA vs the CPU with the same
// seed: the sources are drawn on the host by the solvers' own Generator, so both sides see the same points.
// A height network trained on the GPU saves a checkpoint the CPU loads and maps with alike.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "gpu_support.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/height_network_solver.h"
#include "ot/solvers/semi_discrete_cells.h"
#include "ot/solvers/semi_discrete_solver.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

const Device kGpu = Device::cuda(0);

struct Problem {
  Tensor sources, targets, heights;  // host
};

Problem random_problem(int64_t num_sources, int64_t num_targets, int64_t dim, DType dtype, uint64_t seed) {
  Generator gen(seed);
  return {gen.normal({num_sources, dim}, 0.0, 1.0, dtype), gen.normal({num_targets, dim}, 0.0, 1.0, dtype),
          gen.normal({num_targets}, 0.0, 0.3, dtype)};
}

}  // namespace

TEST_CASE("assign_cells on CUDA: argmax, counts and top-k equal the CPU's in f64, chunked or not" * gpu_only()) {
  for (int64_t dim : {2, 5, 64}) {
    CAPTURE(dim);
    const Problem p = random_problem(3000, 700, dim, DType::F64, 31 + dim);
    ot::CellAssignmentOptions whole, chunked, with_topk;
    chunked.target_chunk = 97;  // ragged last chunk: the running argmax crosses chunk borders
    chunked.source_chunk = 128;
    with_topk.top_k = 4;
    with_topk.target_chunk = 150;
    for (const ot::CellAssignmentOptions& options : {whole, chunked, with_topk}) {
      CAPTURE(options.target_chunk);
      CAPTURE(options.top_k);
      const ot::CellAssignment cpu = ot::assign_cells(p.sources, p.targets, p.heights, options);
      const ot::CellAssignment gpu =
          ot::assign_cells(p.sources.to(kGpu), p.targets.to(kGpu), p.heights.to(kGpu), options);
      CHECK(gpu.argmax.device() == kGpu);
      CHECK(gpu.argmax.to_vector<int64_t>() == cpu.argmax.to_vector<int64_t>());
      CHECK(gpu.counts.to_vector<int64_t>() == cpu.counts.to_vector<int64_t>());
      close_to(cpu.max_score, gpu.max_score, tolerance_for(DType::F64), "max_score");
      if (options.top_k > 0) {
        CHECK(gpu.topk_indices.to_vector<int64_t>() == cpu.topk_indices.to_vector<int64_t>());
        close_to(cpu.topk_scores, gpu.topk_scores, tolerance_for(DType::F64), "topk_scores");
      }
    }
  }
}

TEST_CASE("assign_cells on CUDA in f32: every winner is a best target up to rounding" * gpu_only()) {
  // cuBLAS and oneDNN (or the CPU's fused small-d kernel) round the scores differently, so near-ties may
  // go either way in f32; what must hold is that the GPU's winner scores within rounding of the best,
  // scored independently in f64 on the host, and that the counts add up.
  const int64_t n_src = 4000, n_tgt = 500, dim = 16;
  const Problem p = random_problem(n_src, n_tgt, dim, DType::F32, 77);
  const ot::CellAssignment gpu = ot::assign_cells(p.sources.to(kGpu), p.targets.to(kGpu), p.heights.to(kGpu));
  const std::vector<float> x = p.sources.to_vector<float>(), y = p.targets.to_vector<float>(),
                           h = p.heights.to_vector<float>();
  const std::vector<int64_t> winner = gpu.argmax.to_vector<int64_t>(), counts = gpu.counts.to_vector<int64_t>();
  int64_t total = 0, off = 0;
  for (int64_t c : counts) total += c;
  CHECK(total == n_src);
  for (int64_t s = 0; s < n_src; ++s) {
    double best = -1e300, at_winner = 0;
    for (int64_t t = 0; t < n_tgt; ++t) {
      double score = h[t];
      for (int64_t c = 0; c < dim; ++c) score += double(x[s * dim + c]) * y[t * dim + c];
      best = std::max(best, score);
      if (t == winner[s]) at_winner = score;
    }
    if (best - at_winner > 1e-4) ++off;  // f32 scores of size ~5 carry ~1e-6 rounding per term
  }
  CHECK(off == 0);
}

TEST_CASE("FreeHeightSolver on CUDA: steps match the CPU's (f64), transport answers on the device" * gpu_only()) {
  Generator gen(5);
  const Tensor targets = gen.normal({200, 3}, 0.0, 1.0, DType::F64);
  auto config = [](Device device) {
    ot::FreeHeightSolverConfig c;
    c.dtype = DType::F64;
    c.device = device;
    c.seed = 11;
    c.monte_carlo.batch_size = 2000;
    c.monte_carlo.initial_batches = 2;
    return c;
  };
  ot::FreeHeightSolver cpu(targets, {}, config(Device::cpu())), gpu(targets, {}, config(kGpu));
  const ot::SourceSampler source = ot::normal_sampler(3, 0.0, 1.0, DType::F64);
  for (int step = 0; step < 6; ++step) {
    CAPTURE(step);
    const ot::SemiDiscreteStepStats a = cpu.step(source), b = gpu.step(source);
    CHECK(b.grad_norm == doctest::Approx(a.grad_norm).epsilon(1e-9));
    CHECK(b.empty_cells == a.empty_cells);
  }
  CHECK(gpu.heights().device() == kGpu);
  close_to(cpu.heights(), gpu.heights(), tolerance_for(DType::F64), "heights after 6 steps");
  const Tensor x = gen.normal({500, 3}, 0.0, 1.0, DType::F64);
  const Tensor mapped = gpu.transport(x.to(kGpu));
  close_to(cpu.transport(x), mapped, tolerance_for(DType::F64), "T(x)");
}

TEST_CASE("HeightNetworkSolver on CUDA: steps match the CPU's (f64); a GPU checkpoint loads on the CPU" *
          gpu_only()) {
  Generator gen(6);
  const Tensor train = gen.normal({120, 2}, 0.0, 1.0, DType::F64), held_out = gen.normal({30, 2}, 0.0, 1.0, DType::F64);
  auto config = [](Device device) {
    ot::HeightNetworkSolverConfig c;
    c.hidden = {32, 32};
    c.dtype = DType::F64;
    c.device = device;
    c.seed = 12;
    c.monte_carlo.batch_size = 2000;
    c.monte_carlo.initial_batches = 2;
    return c;
  };
  ot::HeightNetworkSolver cpu(train, {}, config(Device::cpu())), gpu(train, {}, config(kGpu));
  const ot::SourceSampler source = ot::normal_sampler(2, 0.0, 1.0, DType::F64);
  for (int step = 0; step < 5; ++step) {
    CAPTURE(step);
    const ot::SemiDiscreteStepStats a = cpu.step(source), b = gpu.step(source);
    CHECK(b.grad_norm == doctest::Approx(a.grad_norm).epsilon(1e-9));
  }
  cpu.freeze_statistics();
  gpu.freeze_statistics();
  const Tensor predicted = gpu.predict_heights(held_out.to(kGpu));
  CHECK(predicted.device() == kGpu);
  close_to(cpu.predict_heights(held_out), predicted, tolerance_for(DType::F64), "H_Φ on held-out targets");

  const std::string path =
      (std::filesystem::temp_directory_path() / "brenier_test_height_network_gpu.safetensors").string();
  gpu.save(path);
  ot::HeightNetworkSolver reloaded(train, {}, config(Device::cpu()));
  reloaded.load(path);
  std::remove(path.c_str());
  close_to(cpu.predict_heights(held_out), reloaded.predict_heights(held_out), tolerance_for(DType::F64),
           "CPU solver loaded from the GPU checkpoint");
  const Tensor x = gen.normal({400, 2}, 0.0, 1.0, DType::F64);
  close_to(cpu.transport(x, held_out), gpu.transport(x.to(kGpu), held_out.to(kGpu)), tolerance_for(DType::F64),
           "T(x) over held-out targets");
}

TEST_CASE("source samplers draw on the GPU when asked: same stream as on the CPU, and a solver step takes them" *
          gpu_only()) {
  for (DType t : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(t));
    Generator cpu_gen(31), gpu_gen(31);
    const Tensor a = ot::normal_sampler(7, 0.5, 2.0, t)(cpu_gen, 300);
    const Tensor b = ot::normal_sampler(7, 0.5, 2.0, t, kGpu)(gpu_gen, 300);
    CHECK(b.device() == kGpu);
    close_to(a, b, tolerance_for(t), "normal_sampler");
    const Tensor c = ot::uniform_cube_sampler(3, -1.0, 2.0, t)(cpu_gen, 200);
    const Tensor d = ot::uniform_cube_sampler(3, -1.0, 2.0, t, kGpu)(gpu_gen, 200);
    CHECK(d.device() == kGpu);
    close_to(c, d, Tolerance{0, 0}, "uniform_cube_sampler (bit for bit)");
  }
  // A height-network step with device-side sources (what bench_otnet's P4 row times).
  Generator data(5);
  ot::HeightNetworkSolverConfig config;
  config.hidden = {16, 16};
  config.monte_carlo = {.batch_size = 256, .initial_batches = 1, .patience = 1 << 30, .max_batches = 1};
  config.device = kGpu;
  ot::HeightNetworkSolver solver(data.normal({20, 3}), {}, config);
  const ot::SemiDiscreteStepStats stats = solver.step(ot::normal_sampler(3, 0.0, 1.0, DType::F32, kGpu));
  CHECK(std::isfinite(stats.grad_norm));
  CHECK(stats.mc_samples == 256);
}
