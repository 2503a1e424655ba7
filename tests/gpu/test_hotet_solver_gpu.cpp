// HotetSolver on CUDA (issue 5's `hotet --device cuda`): identity pre-training and a few MM-B and MMv2
// steps on a CUDA device predict the same maps as on the CPU (f64; same seed, same host batches), for
// the transformer, constant and Meta OT contexts; maps answer on their input's device; a checkpoint
// written from the GPU loads on the CPU and predicts alike.
#include <filesystem>
#include <string>

#include "engine/random/generator.h"
#include "gpu_support.h"
#include "ot/solvers/hotet.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

ot::HotetSolverConfig small_config(ot::HotetMethod method, ot::ContextModel context, Device device) {
  ot::HotetSolverConfig c;
  c.method = method;
  c.context_model = context;
  c.dim = 2;
  c.icnn_hidden = {16, 16};
  c.hyper_hidden = {8, 8};
  c.embedding.num_layers = 1;
  c.embedding.model_dim = 8;
  c.embedding.num_heads = 2;
  c.embedding.feedforward = 16;
  c.meta_ot_points = 16;
  c.inner_iters = 2;
  c.seed = 3;
  c.dtype = DType::F64;
  c.device = device;
  return c;
}

// B = 3 point sets of 32 points: shifted, scaled Gaussians (host, seeded: both solvers see the same).
struct Sets {
  Generator gen{11};
  Tensor draw(double shift, double scale) { return gen.normal({3, 32, 2}, shift, scale, DType::F64); }
};

}  // namespace

TEST_CASE("HotetSolver on CUDA: pre-training and MM-B / MMv2 steps predict the CPU's maps (f64)" * gpu_only()) {
  Generator eval_gen(5);
  const Tensor probe_sets = eval_gen.normal({3, 20, 2}, 0.0, 1.0, DType::F64);
  for (ot::HotetMethod method : {ot::HotetMethod::MMB, ot::HotetMethod::MMv2}) {
    for (ot::ContextModel context :
         {ot::ContextModel::Transformer, ot::ContextModel::Constant, ot::ContextModel::FlattenedSample}) {
      CAPTURE(ot::name(method));
      CAPTURE(ot::name(context));
      ot::HotetSolver cpu(small_config(method, context, Device::cpu()));
      ot::HotetSolver gpu(small_config(method, context, Device::cuda(0)));
      Sets pre_cpu, pre_gpu;
      cpu.pretrain([&] { return pre_cpu.draw(0.0, 3.0); }, 1e-12, 3);
      gpu.pretrain([&] { return pre_gpu.draw(0.0, 3.0); }, 1e-12, 3);
      Sets cpu_sets, gpu_sets;
      for (int step = 0; step < 3; ++step) {
        const Tensor xc = cpu_sets.draw(0.0, 1.0), yc = cpu_sets.draw(1.0, 2.0);
        const Tensor xg = gpu_sets.draw(0.0, 1.0), yg = gpu_sets.draw(1.0, 2.0);
        const ot::HotetStepStats a = cpu.step(xc, yc, [&] { return cpu_sets.draw(1.0, 2.0); });
        const ot::HotetStepStats b = gpu.step(xg, yg, [&] { return gpu_sets.draw(1.0, 2.0); });
        CHECK(b.loss == doctest::Approx(a.loss).epsilon(1e-8));
        CHECK(b.conjugate_loss == doctest::Approx(a.conjugate_loss).epsilon(1e-8));
      }
      const Tensor sources = cpu_sets.draw(0.0, 1.0);
      const ot::HotetMaps maps_cpu = cpu.predict(sources), maps_gpu = gpu.predict(sources);
      CHECK(maps_gpu.forward.final_layer.device() == Device::cuda(0));
      const Tensor mapped = maps_gpu.transport(probe_sets);
      CHECK(mapped.device() == Device::cpu());  // answers on its input's device
      close_to(maps_cpu.transport(probe_sets), mapped, tolerance_for(DType::F64), "forward map");
      close_to(maps_cpu.inverse_transport(probe_sets), maps_gpu.inverse_transport(probe_sets),
               tolerance_for(DType::F64), "inverse map");
      CHECK(maps_gpu.transport(probe_sets.to(Device::cuda(0))).device() == Device::cuda(0));

      // A checkpoint written from the GPU resumes on the CPU and predicts the same maps.
      const auto path = std::filesystem::temp_directory_path() / "brenier_hotet_gpu_ck.safetensors";
      gpu.save(path.string());
      ot::HotetSolver back(small_config(method, context, Device::cpu()));
      back.load(path.string());
      std::filesystem::remove(path);
      CHECK(back.steps_done() == 3);
      close_to(maps_cpu.transport(probe_sets), back.predict(sources).transport(probe_sets),
               tolerance_for(DType::F64), "forward map after load");
    }
  }
}
