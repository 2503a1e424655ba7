// DiotmSolver on CUDA: a few steps (HJB regularizer, i.e. gradients of gradients w.r.t. the potential's
// parameters; and R1) end with the same three networks as on the CPU (f64; same seed, same host-drawn
// batches, the t draws from the same Philox stream on the device), and the maps answer on their
// input's device.
#include "engine/random/generator.h"
#include "gpu_support.h"
#include "ot/solvers/diotm.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

ot::DiotmConfig small_config(ot::DiotmRegularizer regularizer, Device device) {
  ot::DiotmConfig c;
  c.dim = 3;
  c.map_hidden = {16, 16};
  c.potential_hidden = {16, 16};
  c.time.dim = 8;
  c.batch = 48;
  c.seed = 4;
  c.regularizer = regularizer;
  c.dtype = DType::F64;
  c.device = device;
  return c;
}

std::vector<Tensor> weights_on_host(const ot::DiotmSolver& solver) {
  std::vector<Tensor> out;
  for (const nn::Module* m : {static_cast<const nn::Module*>(&solver.forward_map()),
                              static_cast<const nn::Module*>(&solver.backward_map()),
                              static_cast<const nn::Module*>(&solver.potential())})
    for (const auto& [name, t] : m->state_dict()) out.push_back(t.to(Device::cpu()));
  return out;
}

}  // namespace

TEST_CASE("DiotmSolver on CUDA: steps with HJB and R1 match the CPU (f64)" * gpu_only()) {
  for (ot::DiotmRegularizer reg : {ot::DiotmRegularizer::Hjb, ot::DiotmRegularizer::R1}) {
    CAPTURE(ot::name(reg));
    ot::DiotmSolver cpu(small_config(reg, Device::cpu())), gpu(small_config(reg, Device::cuda(0)));
    Generator data_cpu(9), data_gpu(9);
    for (int step = 0; step < 3; ++step) {
      const ot::DiotmStepStats a = cpu.step([&](int64_t n) { return data_cpu.normal({n, 3}, 0.0, 1.0, DType::F64); },
                                            [&](int64_t n) { return data_cpu.normal({n, 3}, 2.0, 0.5, DType::F64); });
      const ot::DiotmStepStats b = gpu.step([&](int64_t n) { return data_gpu.normal({n, 3}, 0.0, 1.0, DType::F64); },
                                            [&](int64_t n) { return data_gpu.normal({n, 3}, 2.0, 0.5, DType::F64); });
      CHECK(b.objective == doctest::Approx(a.objective).epsilon(1e-8));
      CHECK(b.regularizer == doctest::Approx(a.regularizer).epsilon(1e-8));
    }
    const std::vector<Tensor> ref = weights_on_host(cpu), got = weights_on_host(gpu);
    REQUIRE(ref.size() == got.size());
    for (size_t i = 0; i < ref.size(); ++i)
      close_to(ref[i], got[i], tolerance_for(DType::F64), "weight " + std::to_string(i));
    Generator gen(5);
    const Tensor x = gen.normal({50, 3}, 0.0, 1.0, DType::F64);
    const Tensor mapped = gpu.transport(x);
    CHECK(mapped.device() == Device::cpu());
    close_to(cpu.transport(x), mapped, tolerance_for(DType::F64), "transport");
    CHECK(gpu.inverse_transport(x.to(Device::cuda(0))).device() == Device::cuda(0));
  }
}
