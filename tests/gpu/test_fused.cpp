// The CUDA-only pieces that have a CPU counterpart elsewhere: Philox draws on the device against
// brenier::Generator's CPU stream for the same (seed, offset), and the fused Adam/AdamW kernel
// against optim::Adam / optim::AdamW stepping the same parameter with the same gradients.
#include <random>

#include "engine/backend/cuda/adam.h"
#include "engine/backend/cuda/random.h"
#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "gpu_support.h"

using namespace brenier;
using namespace brenier::testing;

TEST_CASE("fused: Philox uniform on CUDA is the CPU stream bit for bit; normal within ulps" * gpu_only()) {
  for (DType t : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(t));
    for (uint64_t offset : {uint64_t{0}, uint64_t{12345}, (uint64_t{1} << 32) - 3}) {
      Generator cpu(42);
      cpu.set_state(42, offset);
      const Tensor ref_u = cpu.uniform({1000, 3}, -1.5, 2.0, t);
      Tensor u = Tensor::empty({1000, 3}, t, Device::cuda(0));
      cuda::philox_uniform(u, 42, offset, -1.5, 2.0);
      close_to(ref_u, u, {0, 0}, "uniform");
      cpu.set_state(42, offset);
      const Tensor ref_n = cpu.normal({1000, 3}, 0.5, 2.0, t);
      Tensor z = Tensor::empty({1000, 3}, t, Device::cuda(0));
      cuda::philox_normal(z, 42, offset, 0.5, 2.0);
      // A few ulp of log/cos/sqrt, times |z| <= ~9 sigma.
      close_to(ref_n, z, t == DType::F64 ? Tolerance{1e-13, 1e-13} : Tolerance{1e-5, 1e-5}, "normal");
    }
  }
}

TEST_CASE("fused: Generator draws on a CUDA device continue the same stream as on the CPU" * gpu_only()) {
  for (DType t : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(t));
    Generator cpu(7), gpu(7);
    // Alternate sizes and kinds: the offsets must advance identically on both devices.
    close_to(cpu.uniform({333}, -2.0, 3.0, t), gpu.uniform({333}, -2.0, 3.0, t, Device::cuda(0)), {0, 0}, "uniform");
    close_to(cpu.normal({64, 5}, 1.0, 0.5, t), gpu.normal({64, 5}, 1.0, 0.5, t, Device::cuda(0)),
             t == DType::F64 ? Tolerance{1e-13, 1e-13} : Tolerance{1e-5, 1e-5}, "normal");
    close_to(cpu.uniform({7}, 0.0, 1.0, t), gpu.uniform({7}, 0.0, 1.0, t, Device::cuda(0)), {0, 0}, "uniform after");
    CHECK(cpu.offset() == gpu.offset());
  }
}

TEST_CASE("fused: the Adam kernel matches optim::Adam and optim::AdamW over several steps" * gpu_only()) {
  for (DType t : {DType::F64, DType::F32}) {
    for (bool decoupled : {false, true}) {
      CAPTURE(dtype_name(t));
      CAPTURE(decoupled);
      std::mt19937_64 rng(9);
      std::normal_distribution<double> normal;
      auto random = [&](int64_t n) {
        std::vector<double> v(static_cast<size_t>(n));
        for (double& x : v) x = normal(rng);
        return Tensor::from_vector(v, {n}).to(t);
      };
      const int64_t n = 3000;  // above oneDNN's f32 eltwise threshold on the CPU side
      const Tensor p0 = random(n);
      Var p_cpu(p0.clone(), true);
      std::unique_ptr<optim::Adam> opt;
      if (decoupled)
        opt = std::make_unique<optim::AdamW>(std::vector<Var>{p_cpu},
                                             optim::AdamWOptions{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1, .bias_correction = true});
      else
        opt = std::make_unique<optim::Adam>(std::vector<Var>{p_cpu}, optim::AdamOptions{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1, .bias_correction = true});
      Tensor p = p0.to(Device::cuda(0));
      Tensor m = Tensor::zeros({n}, t, Device::cuda(0)), v = Tensor::zeros({n}, t, Device::cuda(0));
      for (int64_t step = 1; step <= 4; ++step) {
        const Tensor g = random(n);
        p_cpu.set_grad(g);
        opt->step();
        cuda::adam_step(p, g.to(Device::cuda(0)), m, v,
                        {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1,
                         .decoupled = decoupled, .bias_correction = true, .step = step});
      }
      close_to(p_cpu.data(), p, t == DType::F64 ? Tolerance{1e-14, 1e-12} : Tolerance{1e-6, 1e-5}, "parameter after 4 steps");
    }
  }
}

TEST_CASE("fused: optim::Adam on CUDA parameters (the fused path) matches it on the CPU" * gpu_only()) {
  for (DType t : {DType::F64, DType::F32}) {
    CAPTURE(dtype_name(t));
    Generator gen(3);
    const Tensor p0 = gen.normal({2000}, 0, 1, t);
    Var p_cpu(p0.clone(), true), p_gpu(p0.to(Device::cuda(0)), true);
    const optim::AdamWOptions o{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.05,
                                .bias_correction = true};
    optim::AdamW cpu({p_cpu}, o), gpu({p_gpu}, o);
    for (int step = 0; step < 3; ++step) {
      const Tensor g = gen.normal({2000}, 0, 1, t);
      p_cpu.set_grad(g);
      p_gpu.set_grad(g.to(Device::cuda(0)));
      cpu.step();
      gpu.step();
    }
    close_to(p_cpu.data(), p_gpu.data(), t == DType::F64 ? Tolerance{1e-14, 1e-12} : Tolerance{1e-6, 1e-5},
             "parameter after 3 AdamW steps");
  }
}

TEST_CASE("fused: the Adam kernel refuses mismatched buffers, naming them" * gpu_only()) {
  Tensor p = Tensor::zeros({4}, DType::F32, Device::cuda(0));
  Tensor m = Tensor::zeros({4}, DType::F32, Device::cuda(0)), v = Tensor::zeros({5}, DType::F32, Device::cuda(0));
  CHECK_THROWS_WITH_AS(cuda::adam_step(p, m, m, v, {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                                    .weight_decay = 0, .decoupled = false,
                                                    .bias_correction = true, .step = 1}),
                       doctest::Contains("argument 'exp_avg_sq' must match 'param'"), Error);
}
