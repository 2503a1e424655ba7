// End to end on CUDA: the bench ICNN's MMv2 inner loss (WORKLOADS.md P2), whose gradient w.r.t. the
// weights goes through the map grad g(y) (a double backward), matches the CPU in f64 and f32.
#include "engine/autograd/var.h"
#include "engine/ops/ops.h"
#include "gpu_support.h"
#include "ot/layers/icnn.h"

using namespace brenier;
using namespace brenier::testing;

TEST_CASE("icnn on CUDA: MMv2 loss and its weight gradients (double backward) match the CPU" * gpu_only()) {
  for (DType t : {DType::F64, DType::F32}) {
    CAPTURE(dtype_name(t));
    ot::IcnnConfig config;
    config.dim = 4;
    Generator gen(8);
    ot::Icnn f_cpu(config, gen, t), g_cpu(config, gen, t);
    ot::Icnn f_gpu(config, gen, t), g_gpu(config, gen, t);
    f_gpu.load_state_dict(f_cpu.state_dict());
    g_gpu.load_state_dict(g_cpu.state_dict());
    f_gpu.to(Device::cuda(0));
    g_gpu.to(Device::cuda(0));
    const Tensor y = gen.normal({64, 4}, 0, 1, t);
    auto run = [&](ot::Icnn& f, ot::Icnn& g, Device d) {
      Var yv(y.to(d), true);
      Var gy = g.map(yv, /*create_graph=*/true);
      Var loss = mean(sum(Var(y.to(d)) * gy, {1}) - f(gy));
      std::vector<Var> wrt = g.parameters();
      for (const Var& p : f.parameters()) wrt.push_back(p);
      std::vector<Var> grads = autograd::grad({loss}, wrt, {}, {.create_graph = false, .allow_unused = true});
      std::vector<Tensor> out = {loss.data().to(Device::cpu())};
      for (const Var& v : grads) out.push_back(v.defined() ? v.data().to(Device::cpu()) : Tensor());
      return out;
    };
    const auto ref = run(f_cpu, g_cpu, Device::cpu());
    const auto got = run(f_gpu, g_gpu, Device::cuda(0));
    REQUIRE(ref.size() == got.size());
    for (size_t i = 0; i < ref.size(); ++i)
      close_to(ref[i], got[i], tolerance_for(t), i == 0 ? std::string("loss") : "gradient " + std::to_string(i - 1));
  }
}
