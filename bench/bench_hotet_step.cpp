// Workload P3 of ../shared/bench/WORKLOADS.md, the HOTET training step, in brenier, against the PyTorch
// figures of ../shared/bench/REFERENCE.md (CPU: PyTorch 1.13, 2 threads, tuned malloc; same machine kind).
//
// The model is the reference script's (ref/workloads.py setup_p3), written with brenier's modules and ops:
//   8 distributions × 1024 points; Linear dim → d_model (64 for dim 8, 128 for dim 64); 2 pre-LN blocks
//   (4-head self-attention, GELU MLP 4×); LayerNorm; mean pooling; Linear → context 128; two hypernetworks
//   128 → 256 → #ICNN parameters (scaled by 1/√fan_in, ReLU on the W's) generating a bench ICNN per
//   distribution for each side; batched evaluation (batched matmuls); symmetric MM-B against a fixed
//   reference batch; Adam (lr 1e-3) on everything.
// This is a timing harness, not HOTET's model (ot/solvers/hotet.h uses the W2 benchmark's DenseICNN and the
// reference code's post-LN transformer); it exists so the step is compared op for op with PyTorch.
// With a usable CUDA device the same step is timed there too (modules, Adam and batches on the device),
// against REFERENCE.md's H100 figures (PyTorch 2.11 eager fp32: 9.44 / 9.63 ms).
// Usage: bench_hotet_step [--quick]
#include <cmath>
#include <cstring>
#include <vector>
#include <tuple>
#include <string>

#include "bench/harness.h"
#include "brenier.h"
#include "engine/backend/device_memory.h"

using namespace brenier;

namespace {

// Pre-LN transformer block: x + MHSA(LN(x)); x + MLP(LN(x)) (ref/workloads.py Block).
struct Block : nn::Module {
  int64_t heads;
  std::shared_ptr<nn::LayerNorm> ln1, ln2;
  std::shared_ptr<nn::Linear> qkv, proj, fc1, fc2;
  Block(int64_t d, int64_t h, Generator& gen) : heads(h) {
    ln1 = register_module("ln1", std::make_shared<nn::LayerNorm>(d));
    qkv = register_module("qkv", std::make_shared<nn::Linear>(d, 3 * d, true, gen));
    proj = register_module("proj", std::make_shared<nn::Linear>(d, d, true, gen));
    ln2 = register_module("ln2", std::make_shared<nn::LayerNorm>(d));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(d, 4 * d, true, gen));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(4 * d, d, true, gen));
  }
  Var forward(const Var& x) const {
    const int64_t b = x.size(0), l = x.size(1), d = x.size(2), dh = d / heads;
    // [3, B·h, L, dh]: the engine's matmul batches over one leading dim.
    Var qkv_all = reshape(permute(reshape((*qkv)((*ln1)(x)), {b, l, 3, heads, dh}), {2, 0, 3, 1, 4}),
                          {3, b * heads, l, dh});
    Var q = squeeze(slice(qkv_all, 0, 0, 1), 0), k = squeeze(slice(qkv_all, 0, 1, 2), 0),
        v = squeeze(slice(qkv_all, 0, 2, 3), 0);
    // The fused attention op (the reference calls F.scaled_dot_product_attention where PyTorch has it).
    Var att = attention(q, k, v, Var(), 1.0 / std::sqrt(static_cast<double>(dh)));
    Var a = reshape(transpose(reshape(att, {b, heads, l, dh}), 1, 2), {b, l, d});
    Var h = x + (*proj)(a);
    return h + (*fc2)(gelu((*fc1)((*ln2)(h))));
  }
};

// [K, N, dim] → [K, 128] (ref/workloads.py SetEmbedder).
struct SetEmbedder : nn::Module {
  std::shared_ptr<nn::Linear> lift, out;
  std::vector<std::shared_ptr<Block>> blocks;
  std::shared_ptr<nn::LayerNorm> ln;
  SetEmbedder(int64_t dim, int64_t d_model, Generator& gen) {
    lift = register_module("lift", std::make_shared<nn::Linear>(dim, d_model, true, gen));
    for (int i = 0; i < 2; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), std::make_shared<Block>(d_model, 4, gen)));
    ln = register_module("ln", std::make_shared<nn::LayerNorm>(d_model));
    out = register_module("out", std::make_shared<nn::Linear>(d_model, 128, true, gen));
  }
  Var forward(const Var& x) const {
    Var h = (*lift)(x);
    for (const auto& b : blocks) h = b->forward(h);
    return (*out)(mean((*ln)(h), {1}));
  }
};

// Context → flat bench-ICNN parameters → batched ICNN (ref/workloads.py HyperICNN).
struct HyperIcnn : nn::Module {
  struct Entry {
    std::string name;
    Shape shape;
    double fan_in;
    bool nonneg;
  };
  std::vector<Entry> spec;
  int64_t n_params = 0, n_layers = 0;
  std::shared_ptr<nn::MLP> net;
  HyperIcnn(int64_t dim, const std::vector<int64_t>& hidden, Generator& gen) {
    std::vector<int64_t> sizes = hidden;
    sizes.push_back(1);
    for (size_t i = 0; i < sizes.size(); ++i) {
      spec.push_back({"A", {dim, sizes[i]}, static_cast<double>(dim), false});
      spec.push_back({"b", {sizes[i]}, static_cast<double>(dim), false});
      if (i > 0) spec.push_back({"W", {sizes[i - 1], sizes[i]}, static_cast<double>(sizes[i - 1]), true});
    }
    for (const Entry& e : spec) n_params += numel(e.shape);
    n_layers = static_cast<int64_t>(sizes.size());
    net = register_module("net", std::make_shared<nn::MLP>(std::vector<int64_t>{128, 256, n_params},
                                                           nn::activation("relu"), false, true, gen));
  }
  // ψ_k(x_k) for every k: context [K, 128], x [K, B, dim] → [K, B].
  Var evaluate(const Var& context, const Var& x) const {
    const Var flat = net->forward(context);
    const int64_t k = context.size(0);
    std::vector<Var> p;
    int64_t off = 0;
    for (const Entry& e : spec) {
      const int64_t n = numel(e.shape);
      Shape shape{k};
      shape.insert(shape.end(), e.shape.begin(), e.shape.end());
      Var t = reshape(slice(flat, 1, off, off + n), shape) * (1.0 / std::sqrt(e.fan_in));
      p.push_back(e.nonneg ? relu(t) : t);
      off += n;
    }
    // p = A0, b0, A1, b1, W1, A2, b2, W2, ...
    Var z = celu(matmul(x, p[0]) + unsqueeze(p[1], 1));
    size_t at = 2;
    for (int64_t i = 1; i < n_layers; ++i) {
      Var pre = matmul(x, p[at]) + unsqueeze(p[at + 1], 1) + matmul(z, p[at + 2]);
      at += 3;
      z = i < n_layers - 1 ? celu(pre) : pre;
    }
    return squeeze(z, 2) + 0.5 * sum(square(x), {2});
  }
};

Tensor mixture_sets(int64_t sets, int64_t n, int64_t dim, Generator& gen) {
  Var means(gen.normal({sets, 1, dim}, 0.0, 4.0));
  return (Var(gen.normal({sets, n, dim})) + means).data();
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("brenier P3 (HOTET step) on %s\n", bench::machine_name().c_str());
  std::printf("reference: ../shared/bench/REFERENCE.md: CPU PyTorch 1.13 eager, tuned malloc (same machine kind); "
              "GPU PyTorch 2.11 eager fp32 on an H100\n\n");
  std::printf("| %-22s | %-6s | %-14s | %-12s | %-8s |\n", "workload", "device", "brenier median", "PyTorch",
              "speedup");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(24, '-').c_str(), std::string(8, '-').c_str(),
              std::string(16, '-').c_str(), std::string(14, '-').c_str(), std::string(10, '-').c_str());
  std::vector<Device> devices{Device::cpu()};
  if (backend::cuda_available()) devices.push_back(Device::cuda(0));
  for (Device device : devices) {
    for (auto [dim, torch_cpu_ms, torch_gpu_ms] :
         std::vector<std::tuple<int64_t, double, double>>{{8, 372.0, 9.44}, {64, 625.0, 9.63}}) {
      Generator gen(3);  // the same weights and batches on every device
      const int64_t d_model = dim <= 8 ? 64 : 128;
      const std::vector<int64_t> hidden =
          dim <= 8 ? std::vector<int64_t>{64, 64, 32} : std::vector<int64_t>{128, 128, 64};
      SetEmbedder emb(dim, d_model, gen);
      HyperIcnn fwd(dim, hidden, gen), inv(dim, hidden, gen);
      emb.to(device);
      fwd.to(device);
      inv.to(device);
      std::vector<Var> params = emb.parameters();
      for (const Var& p : fwd.parameters()) params.push_back(p);
      for (const Var& p : inv.parameters()) params.push_back(p);
      optim::Adam adam(params, {.lr = 1e-3});
      std::vector<Tensor> pool;
      for (int i = 0; i < 4; ++i) pool.push_back(mixture_sets(8, 1024, dim, gen).to(device));
      const Var ref(mixture_sets(1, 1024, dim, gen).to(device));
      int k = 0;
      auto step = [&] {
        {
          autograd::Tape tape;
          const Var x(pool[k++ % 4]);
          const Var c = emb.forward(x);
          const Var r = broadcast_to(ref, {8, 1024, dim});
          const Var psi_r = fwd.evaluate(c, r), phi_x = inv.evaluate(c, x);
          const Var s = matmul(x, r, false, true);  // [K, N_x, N_r]
          const Var loss_psi = mean(psi_r, {1}) + mean(max(s - unsqueeze(psi_r, 1), {2}), {1});
          const Var loss_phi = mean(phi_x, {1}) + mean(max(s - unsqueeze(phi_x, 2), {1}), {1});
          const Var loss = mean(loss_psi + loss_phi);
          adam.zero_grad();
          loss.backward();
          adam.step();
        }
        backend::synchronize(device);  // CUDA is asynchronous: time the finished step
      };
      const bench::Timing t = bench::time_it(step, 2, quick ? 3 : 10, quick ? 0.5 : 5.0);
      const double torch_ms = device.is_cpu() ? torch_cpu_ms : torch_gpu_ms;
      std::printf("| P3 HOTET step, dim %-3lld | %-6s | %11.2f ms | %9.2f ms | %6.2fx |\n", static_cast<long long>(dim),
                  device.str().c_str(), t.median_ms, torch_ms, torch_ms / t.median_ms);
    }
  }
  if (!backend::cuda_available()) std::printf("\nCUDA rows: skipped: no CUDA device (or a build without -Dcuda=enabled)\n");
  return 0;
}
