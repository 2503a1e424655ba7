// GPU benchmark for tools/gpu-check (never run by meson test): median step times of the bench
// workloads P1 (MM-B step) and P2 (MMv2 inner step, double backward) of ../shared/bench/WORKLOADS.md
// on the CPU and on CUDA, and cuBLAS GEMM throughput with TF32 off and on. Data are drawn once on
// the host and moved to the device before timing ("data already on the device"); the device is
// synchronized after every step. Prints a Markdown table (lines starting with '|').
// Deviation from WORKLOADS.md, stated: the data are single Gaussians, not 3-component mixtures
// (the step's cost does not depend on the distribution). The last column is the same step with its
// forward + backward replayed from a CudaGraph and Adam + the projection eager (-1: capture refused,
// with the reason printed above the table's row). Then attention forward + backward, fused vs composed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend/device_memory.h"
#include "engine/backend/primitives.h"
#include "engine/cuda_graph.h"
#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "ot/layers/icnn.h"

using namespace brenier;

namespace {

double median_ms(Device device, int warmup, int reps, const std::function<void()>& step) {
  for (int i = 0; i < warmup; ++i) step();
  backend::synchronize(device);
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    backend::synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// P1: loss = mean psi(x) + mean_j max_i(<x_i, y_j> - psi(x_i)); backward; Adam (lr 1e-3,
// WORKLOADS.md); clamp W, w >= 0.
// The step as a CUDA graph (engine/cuda_graph.h): forward + backward captured once after eager warm-up and
// replayed; the optimizer step and the projection stay eager (their scalars change per step). Returns -1 and
// prints why when the capture is refused.
double graphed_ms(Device device, int reps, const std::function<void()>& forward_backward,
                  const std::function<void()>& update, const std::function<void()>& zero_grad) {
  for (int i = 0; i < 3; ++i) {
    zero_grad();
    forward_backward();
    update();
  }
  zero_grad();
  CudaGraph graph(device);
  try {
    graph.capture(forward_backward);
  } catch (const Error& e) {
    std::printf("graph capture refused: %s\n", e.what());
    return -1;
  }
  return median_ms(device, 3, reps, [&] {
    graph.replay();
    update();
  });
}

double p1_ms(int64_t dim, Device device, int reps, bool graphed = false) {
  Generator gen(1);
  ot::IcnnConfig config;
  config.dim = dim;
  ot::Icnn psi(config, gen);
  psi.to(device);
  optim::AdamOptions adam;  // lr 1e-3 (WORKLOADS.md)
  optim::Adam opt(psi.parameters(), adam);
  const Tensor x = gen.normal({1024, dim}).to(device), y = gen.normal({1024, dim}).to(device);
  auto forward_backward = [&] {
    autograd::Tape tape;
    Var px = psi(Var(x));
    Var scores = matmul(Var(y), transpose(Var(x))) - reshape(px, {1, -1});
    Var loss = mean(px) + mean(max(scores, {1}));
    loss.backward();
  };
  auto update = [&] {
    opt.step();
    psi.convexify();
  };
  if (graphed) return graphed_ms(device, reps, forward_backward, update, [&] { opt.zero_grad(); });
  return median_ms(device, 3, reps, [&] {
    opt.zero_grad();
    forward_backward();
    update();
  });
}

// P2: loss = mean_j(<y_j, grad g(y_j)> - f(grad g(y_j))) with grad g in the graph; Adam on g.
double p2_ms(int64_t dim, Device device, int reps, bool graphed = false) {
  Generator gen(2);
  ot::IcnnConfig config;
  config.dim = dim;
  ot::Icnn f(config, gen), g(config, gen);
  f.to(device);
  g.to(device);
  optim::AdamOptions adam;  // lr 1e-3 (WORKLOADS.md)
  optim::Adam opt(g.parameters(), adam);
  const Tensor y = gen.normal({1024, dim}).to(device);
  auto forward_backward = [&] {
    autograd::Tape tape;
    Var yv(y, true);
    Var gy = g.map(yv, /*create_graph=*/true);
    Var loss = mean(sum(Var(y) * gy, {1}) - f(gy));
    loss.backward();
  };
  auto update = [&] {
    opt.step();
    g.convexify();
  };
  if (graphed) return graphed_ms(device, reps, forward_backward, update, [&] { opt.zero_grad(); });
  return median_ms(device, 3, reps, [&] {
    opt.zero_grad();
    forward_backward();
    update();
  });
}

// Attention forward + first-order backward at HOTET's shapes (q, k, v [groups, n, width], no bias): the fused
// op (kernels/attention.cu on CUDA) or the composition it replaces (cuBLAS + softmax, the [groups, n, n]
// probabilities written and reread).
double attention_ms(int64_t groups, int64_t n, int64_t width, bool fused, Device device, int reps) {
  Generator gen(4);
  const Tensor q = gen.normal({groups, n, width}).to(device), k = gen.normal({groups, n, width}).to(device);
  const Tensor v = gen.normal({groups, n, width}).to(device);
  const double scale = 1.0 / std::sqrt(static_cast<double>(width));
  const bool before = backend::cuda_fused_attention();
  backend::set_cuda_fused_attention(fused);  // the op composes when the kernel is off
  const double ms = median_ms(device, 3, reps, [&] {
    autograd::Tape tape;
    Var qv(q, true), kv(k, true), vv(v, true);
    sum(attention(qv, kv, vv, Var(), scale)).backward();
  });
  backend::set_cuda_fused_attention(before);
  return ms;
}

double gemm_tflops(int64_t n, DType t, bool tf32, Device device) {
  Generator gen(3);
  const Tensor a = gen.normal({n, n}, 0, 1, t).to(device), b = gen.normal({n, n}, 0, 1, t).to(device);
  backend::set_allow_tf32(tf32);
  const double ms = median_ms(device, 2, 10, [&] { prim::matmul(a, b); });
  backend::set_allow_tf32(false);
  return 2.0 * n * n * n / (ms * 1e-3) / 1e12;
}

}  // namespace

int main() {
  if (!backend::cuda_available()) {
    std::printf("SKIP: no usable CUDA device\n");
    return 77;
  }
  const Device gpu = Device::cuda(0);
  std::printf("| workload | cpu ms | cuda ms | speed-up | cuda graph ms |\n|---|---|---|---|---|\n");
  for (int64_t dim : {2, 16, 64}) {
    const double c = p1_ms(dim, Device::cpu(), 5), g = p1_ms(dim, gpu, 30), gg = p1_ms(dim, gpu, 30, true);
    std::printf("| P1 MM-B dim %ld | %.3f | %.3f | %.1fx | %.3f |\n", static_cast<long>(dim), c, g, c / g, gg);
  }
  for (int64_t dim : {2, 16, 64}) {
    const double c = p2_ms(dim, Device::cpu(), 5), g = p2_ms(dim, gpu, 30), gg = p2_ms(dim, gpu, 30, true);
    std::printf("| P2 MMv2 dim %ld | %.3f | %.3f | %.1fx | %.3f |\n", static_cast<long>(dim), c, g, c / g, gg);
  }
  std::printf("\n| attention fwd + bwd, groups x points x width | cpu fused ms | cuda composed ms | cuda fused ms |\n"
              "|---|---|---|---|\n");
  // gm-predict D = 2 (8 sets x 2 width-1 heads x 256 points); w2b D = 64 (64 width-1 heads x 1024); P3's heads.
  const int64_t shapes[][3] = {{16, 256, 1}, {64, 1024, 1}, {32, 1024, 16}, {32, 1024, 32}};
  for (const auto& s : shapes) {
    const double c = attention_ms(s[0], s[1], s[2], true, Device::cpu(), 3);
    const double composed = attention_ms(s[0], s[1], s[2], false, gpu, 20);
    const double fused = attention_ms(s[0], s[1], s[2], true, gpu, 20);
    std::printf("| %ld x %ld x %ld | %.3f | %.3f | %.3f |\n", static_cast<long>(s[0]), static_cast<long>(s[1]),
                static_cast<long>(s[2]), c, composed, fused);
  }
  std::printf("\n| GEMM 4096^3 | TFLOP/s |\n|---|---|\n");
  std::printf("| f32, TF32 off | %.1f |\n", gemm_tflops(4096, DType::F32, false, gpu));
  std::printf("| f32, TF32 on | %.1f |\n", gemm_tflops(4096, DType::F32, true, gpu));
  std::printf("| f64 | %.1f |\n", gemm_tflops(4096, DType::F64, false, gpu));
  std::printf("device cache: %.1f MB cached, %.1f MB live\n", backend::device_cached_bytes(gpu) / 1e6,
              backend::device_live_bytes(gpu) / 1e6);
  return 0;
}
