// NctmSolver on CUDA (issue 8's `nctm --device cuda`): identity pre-training, critic warm-up and alternating
// steps on a CUDA device give the CPU's losses and weights (f64; same seed, same batches, the noise z from the
// same Philox stream on the device) for each conditioning kind (hypernetwork, concat, FiLM; with the
// positional, Fourier and scalar encodings of the continuous variable, separate and shared encoders), with
// batches from the host or already on the device; maps and the critic answer on their input's device; a
// checkpoint written from the GPU resumes on the CPU and one from the CPU resumes on the GPU, alike.
#include <filesystem>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "gpu_support.h"
#include "ot/solvers/nctm.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

struct Variant {
  ot::ConditioningKind conditioning;
  ot::ContinuousEncoding encoding;
  bool shared_encoder;
};

// Two steps of each phase; noise with the weak cost, so z and Var_z run on the device too.
ot::NctmSolverConfig small_config(const Variant& v, Device device) {
  ot::NctmSolverConfig c;
  c.dim = 2;
  c.encoder.num_classes = {3};
  c.encoder.num_continuous = 1;
  c.encoder.encoding = v.encoding;
  c.encoder.embedding_dim = 4;
  c.encoder.encoding_dim = 8;
  c.encoder.hidden = {16};
  c.encoder.out_dim = 8;
  c.shared_encoder = v.shared_encoder;
  c.conditioning = v.conditioning;
  c.hyper_hidden = {16};
  c.width = 16;
  c.encoder_blocks = 1;
  c.map_decoder_blocks = 2;
  c.critic_decoder_blocks = 1;
  c.noise_dim = 2;
  c.noise_samples = 2;
  c.gamma = 0.5;
  c.map_steps = 2;
  c.map_lr = 1e-3;  // larger than §5.1's 1e-4 so that a few steps move the weights measurably
  c.critic_lr = 1e-3;
  c.pretrain_steps = 2;
  c.warmup_steps = 2;
  c.seed = 7;
  c.dtype = DType::F64;
  c.device = device;
  return c;
}

// Host batches of 16 (class k, s ∈ [0, 1], x ∼ N(0, I), y ∼ N(1, 0.5²)), seeded; `to` moves every
// second one to the device, so the solver sees both kinds.
struct Batches {
  Generator gen{11};
  Device to = Device::cpu();
  int calls = 0;
  ot::NctmBatch next() {
    ot::NctmBatch b{gen.normal({16, 2}, 0.0, 1.0, DType::F64), gen.normal({16, 2}, 1.0, 0.5, DType::F64),
                    {gen.randint({16, 1}, 0, 3), gen.uniform({16, 1}, 0.0, 1.0, DType::F64)}};
    if (++calls % 2 == 0 && !to.is_cpu()) {
      b.x = b.x.to(to);
      b.y = b.y.to(to);
      b.condition = {b.condition.discrete.to(to), b.condition.continuous.to(to)};
    }
    return b;
  }
  ot::NctmSampler sampler() {
    return [this] { return next(); };
  }
};

std::vector<Tensor> weights_on_host(const ot::NctmSolver& solver) {
  std::vector<Tensor> out;
  for (const nn::Module* m :
       {static_cast<const nn::Module*>(&solver.map_encoder()), static_cast<const nn::Module*>(&solver.critic_encoder()),
        static_cast<const nn::Module*>(&solver.map_network()), static_cast<const nn::Module*>(&solver.critic_network())})
    for (const auto& [name, t] : m->state_dict()) out.push_back(t.to(Device::cpu()));
  return out;
}

void same_weights(const ot::NctmSolver& cpu, const ot::NctmSolver& gpu, const std::string& what) {
  const std::vector<Tensor> ref = weights_on_host(cpu), got = weights_on_host(gpu);
  REQUIRE(ref.size() == got.size());
  for (size_t i = 0; i < ref.size(); ++i)
    close_to(ref[i], got[i], tolerance_for(DType::F64), what + ": weight " + std::to_string(i));
}

// The probe: 24 host points, their conditions and noise.
struct Probe {
  Tensor x, z;
  ot::Condition c;
  Probe() {
    Generator g(5);
    x = g.normal({24, 2}, 0.0, 1.0, DType::F64);
    z = g.normal({24, 2}, 0.0, 0.1, DType::F64);
    c = {g.randint({24, 1}, 0, 3), g.uniform({24, 1}, 0.0, 1.0, DType::F64)};
  }
};

}  // namespace

TEST_CASE("NctmSolver on CUDA: pre-training, warm-up and alternating steps match the CPU (f64)" * gpu_only()) {
  const Device cuda = Device::cuda(0);
  const Probe probe;
  for (const Variant& v : {Variant{ot::ConditioningKind::Hypernetwork, ot::ContinuousEncoding::Positional, false},
                           Variant{ot::ConditioningKind::Concat, ot::ContinuousEncoding::Fourier, false},
                           Variant{ot::ConditioningKind::Film, ot::ContinuousEncoding::Scalar, true}}) {
    CAPTURE(ot::name(v.conditioning));
    CAPTURE(ot::name(v.encoding));
    ot::NctmSolver cpu(small_config(v, Device::cpu())), gpu(small_config(v, cuda));
    same_weights(cpu, gpu, "initial");  // drawn on the host for the seed, then moved
    Batches cpu_batches, gpu_batches;
    gpu_batches.to = cuda;
    const ot::NctmSampler cpu_sample = cpu_batches.sampler(), gpu_sample = gpu_batches.sampler();
    for (int step = 0; step < 6; ++step) {
      const ot::NctmStepStats a = cpu.train_step(cpu_sample), b = gpu.train_step(gpu_sample);
      CAPTURE(ot::name(a.phase));
      CHECK(b.phase == a.phase);
      CHECK(b.map_loss == doctest::Approx(a.map_loss).epsilon(1e-8));
      CHECK(b.critic_loss == doctest::Approx(a.critic_loss).epsilon(1e-8));
      CHECK(b.cost == doctest::Approx(a.cost).epsilon(1e-8));
      CHECK(b.map_grad_norm == doctest::Approx(a.map_grad_norm).epsilon(1e-8));
      CHECK(b.critic_grad_norm == doctest::Approx(a.critic_grad_norm).epsilon(1e-8));
    }
    CHECK(gpu.next_phase() == ot::NctmPhase::Alternating);
    same_weights(cpu, gpu, "after 6 steps");

    // Maps and the critic answer on their input's device.
    const Tensor mapped = gpu.transport(probe.x, probe.c, probe.z);
    CHECK(mapped.device() == Device::cpu());
    close_to(cpu.transport(probe.x, probe.c, probe.z), mapped, tolerance_for(DType::F64), "transport");
    CHECK(gpu.transport(probe.x.to(cuda), probe.c, probe.z).device() == cuda);
    close_to(cpu.critic(probe.x, probe.c), gpu.critic(probe.x, probe.c), tolerance_for(DType::F64), "critic");
    CHECK(gpu.critic(probe.x.to(cuda), probe.c).device() == cuda);
    Generator noise_cpu(3), noise_gpu(3);  // z drawn on the device from the same stream
    close_to(cpu.transport(probe.x, probe.c, {}, &noise_cpu), gpu.transport(probe.x, probe.c, {}, &noise_gpu),
             tolerance_for(DType::F64), "transport with drawn z");

    // GPU checkpoint → CPU solver, CPU checkpoint → GPU solver: both continue like the CPU run.
    const auto gpu_path = std::filesystem::temp_directory_path() / "brenier_nctm_gpu_ck.safetensors";
    const auto cpu_path = std::filesystem::temp_directory_path() / "brenier_nctm_cpu_ck.safetensors";
    gpu.save(gpu_path.string());
    cpu.save(cpu_path.string());
    ot::NctmSolver back_on_cpu(small_config(v, Device::cpu())), back_on_gpu(small_config(v, cuda));
    back_on_cpu.load(gpu_path.string());
    back_on_gpu.load(cpu_path.string());
    std::filesystem::remove(gpu_path);
    std::filesystem::remove(cpu_path);
    CHECK(back_on_cpu.steps_done() == 6);
    CHECK(back_on_gpu.steps_done() == 6);
    close_to(cpu.transport(probe.x, probe.c, probe.z), back_on_cpu.transport(probe.x, probe.c, probe.z),
             tolerance_for(DType::F64), "transport after GPU -> CPU load");
    Batches more_a, more_b;  // one more alternating step each, same batches (Adam moments, noise offset resumed)
    more_b.to = cuda;
    const ot::NctmStepStats a = back_on_cpu.train_step(more_a.sampler());
    const ot::NctmStepStats b = back_on_gpu.train_step(more_b.sampler());
    CHECK(b.map_loss == doctest::Approx(a.map_loss).epsilon(1e-8));
    CHECK(b.critic_loss == doctest::Approx(a.critic_loss).epsilon(1e-8));
    same_weights(back_on_cpu, back_on_gpu, "resumed on the other device, one more step");
  }
}
