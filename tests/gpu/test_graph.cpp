// CudaGraph (engine/cuda_graph.h): a captured forward + backward replays like eager steps with new inputs
// copied in; with eager Adam steps between replays, training equals eager training; replays allocate
// nothing; host reads and device draws inside a capture are refused clearly and leave the device usable.
#include <random>
#include <string>
#include <vector>

#include "engine/backend/device_memory.h"
#include "engine/backend/primitives.h"
#include "engine/cuda_graph.h"
#include "engine/nn/linear.h"
#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "gpu_support.h"
#include "tests/support/errors.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

const Device kGpu = Device::cuda(0);

struct Net {
  nn::Linear l1, l2;
  Net(Generator& gen) : l1(5, 16, true, gen, DType::F64), l2(16, 1, true, gen, DType::F64) {}
  std::vector<Var> params() {
    auto p = l1.parameters();
    for (const Var& v : l2.parameters()) p.push_back(v);
    return p;
  }
  Var loss(const Tensor& x) { return mean(square(l2.forward(tanh(l1.forward(Var(x)))) - 0.5)); }
};

// `count` host batches [64, 5] in f64.
std::vector<Tensor> batches(int count) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<Tensor> out;
  for (int k = 0; k < count; ++k) {
    std::vector<double> v(64 * 5);
    for (double& e : v) e = normal(rng);
    out.push_back(Tensor::from_vector(v, {64, 5}));
  }
  return out;
}

// Two nets with the same weights on the GPU.
void twin(Net& a, Net& b) {
  b.l1.load_state_dict(a.l1.state_dict());
  b.l2.load_state_dict(a.l2.state_dict());
  a.l1.to(kGpu), a.l2.to(kGpu), b.l1.to(kGpu), b.l2.to(kGpu);
}

}  // namespace

TEST_CASE("CudaGraph: a captured forward + backward replays like eager steps, inputs copied in" * gpu_only()) {
  Generator gen(5);
  Net eager(gen), graphed(gen);
  twin(eager, graphed);
  const std::vector<Tensor> xs = batches(6);

  Tensor x_static = xs[0].to(kGpu);
  for (int warm = 0; warm < 2; ++warm) {  // eager warm-up on the graphed net
    graphed.loss(x_static).backward();
    for (Var& p : graphed.params()) p.zero_grad();
  }
  Tensor loss_static;
  CudaGraph graph(kGpu);
  graph.capture([&] {
    Var l = graphed.loss(x_static);
    l.backward();
    loss_static = l.data();
  });
  CHECK(graph.captured());
  for (int k = 1; k < 6; ++k) {
    x_static.copy_from(xs[k]);
    graph.replay();
    for (Var& p : eager.params()) p.zero_grad();
    Var l = eager.loss(xs[k].to(kGpu));
    l.backward();
    close_to(l.data(), loss_static, tolerance_for(DType::F64), "loss, batch " + std::to_string(k));
    const auto pe = eager.params(), pg = graphed.params();
    for (size_t i = 0; i < pe.size(); ++i)
      close_to(pe[i].grad(), pg[i].grad(), tolerance_for(DType::F64), "grad " + std::to_string(i));
  }
}

TEST_CASE("CudaGraph: replays with eager Adam steps train like eager steps; replays allocate nothing" *
          gpu_only()) {
  Generator gen(6);
  Net eager(gen), graphed(gen);
  twin(eager, graphed);
  const optim::AdamOptions o{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0,
                             .bias_correction = true};
  optim::Adam opt_eager(eager.params(), o), opt_graphed(graphed.params(), o);
  const std::vector<Tensor> xs = batches(8);

  Tensor x_static = Tensor::zeros({64, 5}, DType::F64, kGpu);
  CudaGraph graph(kGpu);
  for (int k = 0; k < 8; ++k) {
    if (k < 2) {  // eager warm-up steps, the same as the eager twin's
      opt_graphed.zero_grad();
      graphed.loss(xs[k].to(kGpu)).backward();
    } else {
      if (k == 2) {
        opt_graphed.zero_grad();
        graph.capture([&] { graphed.loss(x_static).backward(); });
      }
      x_static.copy_from(xs[k]);
      graph.replay();
    }
    opt_graphed.step();
    opt_eager.zero_grad();
    eager.loss(xs[k].to(kGpu)).backward();
    opt_eager.step();
  }
  const auto pe = eager.params(), pg = graphed.params();
  for (size_t i = 0; i < pe.size(); ++i)
    close_to(pe[i].data(), pg[i].data(), tolerance_for(DType::F64), "parameter " + std::to_string(i));

  backend::synchronize(kGpu);
  const int64_t live = backend::device_live_bytes(kGpu);
  for (int r = 0; r < 10; ++r) graph.replay();
  backend::synchronize(kGpu);
  CHECK(backend::device_live_bytes(kGpu) == live);
}

TEST_CASE("CudaGraph: host reads and device draws inside a capture are refused; the device works after" *
          gpu_only()) {
  const Tensor a = Tensor::full({4, 4}, 2.0, DType::F32, kGpu);
  {
    CudaGraph graph(kGpu);
    const std::string err = error_of([&] { graph.capture([&] { (void)prim::reduce(prim::Reduce::Sum, a, {}, false).item(); }); });
    CHECK(err.find("CudaGraph::capture") != std::string::npos);
    CHECK(err.find("host") != std::string::npos);
    CHECK_FALSE(graph.captured());
  }
  {
    CudaGraph graph(kGpu);
    Generator gen(1);
    const std::string err = error_of([&] { graph.capture([&] { (void)gen.normal({3}, 0, 1, DType::F32, kGpu); }); });
    CHECK(err.find("CudaGraph") != std::string::npos);
    CHECK(err.find("copy_from") != std::string::npos);
  }
  CHECK(prim::reduce(prim::Reduce::Sum, a, {}, false).item() == 32.0);  // eager work runs as before
  CudaGraph graph(kGpu);
  CHECK(error_of([&] { graph.replay(); }).find("nothing captured") != std::string::npos);
  graph.capture([&] { (void)prim::binary(prim::Binary::Mul, a, a); });
  CHECK(error_of([&] { graph.capture([] {}); }).find("already captured") != std::string::npos);
}
