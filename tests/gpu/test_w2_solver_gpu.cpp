// W2Solver on CUDA (issue 3's `w2bench --device cuda`): identity pre-training and a few steps of each
// method on a CUDA device end with the same networks as on the CPU (f64; same seed, same host-drawn
// batches), a checkpoint written from the GPU loads on the CPU and maps alike, and transport answers
// on its input's device. The benchmark's own potentials (T* of the target sampler) on CUDA vs the CPU.
#include <filesystem>
#include <optional>
#include <string>

#include "engine/random/generator.h"
#include "gpu_support.h"
#include "ot/benchmarks/w2bench.h"
#include "ot/solvers/w2_solver.h"
#include "tests/support/shared_data.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

ot::W2SolverConfig small_config(ot::W2Method method, Device device) {
  ot::W2SolverConfig config;
  config.method = method;
  config.dim = 3;
  config.hidden = {16, 16, 8};
  config.batch = 64;
  config.inner_iters = 3;
  config.pretrain.max_iters = 20;
  config.dtype = DType::F64;
  config.device = device;
  return config;
}

// Source N(0, I); target an anisotropic, shifted Gaussian. Host batches from a seeded stream, so both
// solvers see the same numbers.
struct Pair {
  Generator gen{21};
  Tensor source(int64_t n) { return gen.normal({n, 3}, 0.0, 1.0, DType::F64); }
  Tensor target(int64_t n) {
    const std::vector<double> scale{2.0, 0.5, 1.0}, shift{1.0, -1.0, 0.5};
    Tensor z = gen.normal({n, 3}, 0.0, 1.0, DType::F64);
    std::vector<double> v = z.to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * scale[i % 3] + shift[i % 3];
    return Tensor::from_vector(v, {n, 3});
  }
};

std::vector<Tensor> weights_on_host(ot::W2Solver& solver) {
  std::vector<Tensor> out;
  for (const auto& [name, t] : solver.potential().state_dict()) out.push_back(t.to(Device::cpu()));
  for (const auto& [name, t] : solver.inverse_potential().state_dict()) out.push_back(t.to(Device::cpu()));
  return out;
}

}  // namespace

TEST_CASE("W2Solver on CUDA: pre-training and steps of every method match the CPU (f64)" * gpu_only()) {
  for (ot::W2Method method : {ot::W2Method::MMB, ot::W2Method::MM, ot::W2Method::MMv2, ot::W2Method::W2GN}) {
    CAPTURE(ot::name(method));
    ot::W2Solver cpu(small_config(method, Device::cpu())), gpu(small_config(method, Device::cuda(0)));
    cpu.pretrain();
    gpu.pretrain();
    Pair pair_cpu, pair_gpu;
    for (int step = 0; step < 4; ++step) {
      const ot::W2StepStats a = cpu.step([&](int64_t n) { return pair_cpu.source(n); },
                                         [&](int64_t n) { return pair_cpu.target(n); });
      const ot::W2StepStats b = gpu.step([&](int64_t n) { return pair_gpu.source(n); },
                                         [&](int64_t n) { return pair_gpu.target(n); });
      CHECK(b.loss == doctest::Approx(a.loss).epsilon(1e-8));
    }
    const std::vector<Tensor> ref = weights_on_host(cpu), got = weights_on_host(gpu);
    REQUIRE(ref.size() == got.size());
    for (size_t i = 0; i < ref.size(); ++i)
      close_to(ref[i], got[i], tolerance_for(DType::F64), "weight " + std::to_string(i));

    // transport answers on its input's device, with the same numbers.
    Generator gen(5);
    const Tensor x = gen.normal({100, 3}, 0.0, 1.0, DType::F64);
    const Tensor on_host = gpu.transport(x);
    CHECK(on_host.device() == Device::cpu());
    close_to(cpu.transport(x), on_host, tolerance_for(DType::F64), "transport");
    CHECK(gpu.inverse_transport(x.to(Device::cuda(0))).device() == Device::cuda(0));

    // A checkpoint written from the GPU resumes on the CPU.
    const auto path = std::filesystem::temp_directory_path() / "brenier_w2_gpu_ck.safetensors";
    gpu.save(path.string());
    ot::W2Solver back(small_config(method, Device::cpu()));
    back.load(path.string());
    std::filesystem::remove(path);
    CHECK(back.steps_done() == 4);
    close_to(cpu.transport(x), back.transport(x), tolerance_for(DType::F64), "transport after load");
  }
}

TEST_CASE("W2Benchmark on CUDA: ψ and T* match the CPU's and answer on the input's device" * gpu_only()) {
  const std::optional<std::string> shared = shared_dir();
  if (!shared) {
    MESSAGE("shared data folder not found (set BRENIER_SHARED); skipped");
    return;
  }
  for (int64_t dim : {2, 16}) {  // the dims tools/gpu-check packs
    CAPTURE(dim);
    const ot::W2Benchmark cpu = ot::load_w2bench(dim, *shared, DType::F64);
    ot::W2Benchmark gpu = ot::load_w2bench(dim, *shared, DType::F64);
    gpu.to(Device::cuda(0));
    CHECK(gpu.device() == Device::cuda(0));
    Generator gen(7);
    const Tensor x = cpu.sample_source(5000, gen);  // more than kChunkRows: the chunked path too
    const Tensor mapped = gpu.map(x);
    CHECK(mapped.device() == Device::cpu());
    close_to(cpu.map(x), mapped, tolerance_for(DType::F64), "T*(x)");
    close_to(cpu.psi(x), gpu.psi(x), tolerance_for(DType::F64), "psi(x)");
    CHECK(gpu.map(x.to(Device::cuda(0))).device() == Device::cuda(0));
  }
}
