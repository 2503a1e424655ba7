// CUDA device plumbing: what a CUDA build says without a GPU (runs everywhere), and with one:
// host <-> device copies, the caching allocator's reuse, fill, device-mismatch errors that name the
// argument, and a whole training step (MLP forward, backward, Adam) matching the CPU.
#include <cstring>
#include <random>

#include "engine/backend/primitives.h"
#include "engine/nn/linear.h"
#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "gpu_support.h"

using namespace brenier;
using namespace brenier::testing;

TEST_CASE("device: this binary is a CUDA build; without a GPU, CUDA tensors are a clear error") {
  CHECK(backend::built_with_cuda());
  if (!has_gpu()) {
    CHECK(backend::cuda_device_count() == 0);
    CHECK_THROWS_WITH_AS(Tensor::empty({2}, DType::F32, Device::cuda()),
                         doctest::Contains("no CUDA device is usable"), Error);
  }
  CHECK_FALSE(backend::allow_tf32());  // off by default (device_memory.h)
}

TEST_CASE("device: copies round-trip bit for bit, in every dtype" * gpu_only()) {
  const Tensor f = Tensor::from_vector<float>({1.5f, -2.25f, 3e-38f, NAN}, {2, 2});
  const Tensor d = Tensor::from_vector<double>({1e300, -0.0, 1.0 / 3.0}, {3});
  const Tensor i = Tensor::from_vector<int64_t>({INT64_MIN, -1, 0, INT64_MAX}, {4});
  for (const Tensor& t : {f, d, i}) {
    const Tensor g = t.to(Device::cuda(0));
    CHECK(g.device() == Device::cuda(0));
    const Tensor back = g.to(Device::cpu());
    CHECK(std::memcmp(back.raw_data(), t.raw_data(), t.nbytes()) == 0);
    const Tensor c = g.clone();  // device-to-device
    CHECK(std::memcmp(c.to(Device::cpu()).raw_data(), t.raw_data(), t.nbytes()) == 0);
  }
}

TEST_CASE("device: fill, zeros, full and arange on the device" * gpu_only()) {
  const Device g = Device::cuda(0);
  CHECK(Tensor::zeros({3, 5}, DType::F64, g).to_vector<double>() == std::vector<double>(15, 0.0));
  CHECK(Tensor::full({4}, -2.5, DType::F32, g).to_vector<double>() == std::vector<double>(4, -2.5));
  CHECK(Tensor::full({2}, -0.0, DType::F64, g).to_vector<double>()[0] == 0.0);
  CHECK(Tensor::full({3}, 7, DType::I64, g).to_vector<int64_t>() == std::vector<int64_t>{7, 7, 7});
  CHECK(Tensor::arange(4, DType::I64, g).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});
}

TEST_CASE("device: the caching allocator reuses freed blocks instead of calling cudaMalloc" * gpu_only()) {
  const Device g = Device::cuda(0);
  backend::synchronize(g);
  const int64_t live0 = backend::device_live_bytes(g);
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1000}, DType::F32, g);
    first = t.raw_data();
    CHECK(backend::device_live_bytes(g) >= live0 + 4000);
  }
  CHECK(backend::device_cached_bytes(g) >= 4000);
  Tensor again = Tensor::empty({1000}, DType::F32, g);
  CHECK(again.raw_data() == first);  // the same block, from the free list
  backend::device_release_cache();
  CHECK(backend::device_cached_bytes(g) == 0);
}

TEST_CASE("device: mixing CPU and CUDA tensors names the argument; a bad index is refused" * gpu_only()) {
  const Tensor a = Tensor::ones({2, 3}, DType::F32, Device::cuda(0));
  const Tensor b = Tensor::ones({2, 3}, DType::F32);
  CHECK_THROWS_WITH_AS(prim::binary(prim::Binary::Add, a, b), doctest::Contains("argument 'b' must be on cuda:0"), Error);
  CHECK_THROWS_WITH_AS(prim::matmul(b, a, false, true), doctest::Contains("argument 'b' must be on cpu"), Error);
  const Tensor idx = Tensor::from_vector<int64_t>({0, 1});
  CHECK_THROWS_WITH_AS(prim::index_select(a, 0, idx), doctest::Contains("argument 'index' must be on cuda:0"), Error);
  const Tensor bad = Tensor::from_vector<int64_t>({0, 5}).to(Device::cuda(0));
  CHECK_THROWS_WITH_AS(prim::index_select(a, 0, bad), doctest::Contains("must hold values in [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(Tensor::empty({2}, DType::F32, Device::cuda(backend::cuda_device_count())),
                       doctest::Contains("out of range"), Error);
}

TEST_CASE("device: an MLP training step (forward, backward, Adam) on CUDA matches the CPU" * gpu_only()) {
  for (DType t : {DType::F64, DType::F32}) {
    CAPTURE(dtype_name(t));
    Generator gen(5);
    nn::Linear l1_cpu(5, 16, true, gen, t), l2_cpu(16, 1, true, gen, t);
    nn::Linear l1_gpu(5, 16, true, gen, t), l2_gpu(16, 1, true, gen, t);
    // Same initial weights on both sides (initialized on the CPU, then copied).
    l1_gpu.load_state_dict(l1_cpu.state_dict());
    l2_gpu.load_state_dict(l2_cpu.state_dict());
    l1_gpu.to(Device::cuda(0));
    l2_gpu.to(Device::cuda(0));
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    std::vector<double> xv(64 * 5);
    for (double& v : xv) v = normal(rng);
    const Tensor x = Tensor::from_vector(xv, {64, 5}).to(t);
    auto params = [](nn::Linear& a, nn::Linear& b) {
      auto p = a.parameters();
      for (const Var& v : b.parameters()) p.push_back(v);
      return p;
    };
    const optim::AdamOptions adam{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0, .bias_correction = true};
    optim::Adam opt_cpu(params(l1_cpu, l2_cpu), adam), opt_gpu(params(l1_gpu, l2_gpu), adam);
    for (int step = 0; step < 5; ++step) {
      auto loss_of = [](nn::Linear& a, nn::Linear& b, const Tensor& in) {
        Var h = tanh(a.forward(Var(in)));
        return mean(square(b.forward(h) - 0.5));
      };
      Var lc = loss_of(l1_cpu, l2_cpu, x), lg = loss_of(l1_gpu, l2_gpu, x.to(Device::cuda(0)));
      close_to(lc.data(), lg.data(), tolerance_for(t), "loss at step " + std::to_string(step));
      opt_cpu.zero_grad();
      opt_gpu.zero_grad();
      lc.backward();
      lg.backward();
      opt_cpu.step();
      opt_gpu.step();
    }
    const auto pc = params(l1_cpu, l2_cpu), pg = params(l1_gpu, l2_gpu);
    for (size_t i = 0; i < pc.size(); ++i) {
      CHECK(pg[i].device() == Device::cuda(0));
      close_to(pc[i].data(), pg[i].data(), tolerance_for(t), "parameter " + std::to_string(i) + " after 5 steps");
    }
  }
}
