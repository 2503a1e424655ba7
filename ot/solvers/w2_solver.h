// W2Solver: the continuous Wasserstein-2 benchmark's neural OT solvers on DenseICNN potentials
// (Korotin et al., "Do Neural Optimal Transport Solvers Work?", NeurIPS 2021; spec/algorithms.md §1.4,
// §2.3). Two potentials: ψ (the forward potential, ∇ψ: μ → ν) and ψ̄ (the conjugate potential, ∇ψ̄:
// ν → μ, the inverse map). One step of each method, as in the benchmark's notebooks:
//
//   MM-B  (batch conjugate)  one Adam over ψ and ψ̄; loss (L_XY(ψ) + L_YX(ψ̄)) / 2 (mmb_objective);
//                            no clamp.
//   MM    (minimax)          outer: ψ's Adam on L_ψ = mean ψ(X) − mean ψ(Ŷ), Ŷ = ∇ψ̄(Y) fixed;
//                            then K inner steps of ψ̄'s Adam on L_ψ̄ = mean[ψ(∇ψ̄(Y')) − ⟨∇ψ̄(Y'), Y'⟩],
//                            each on a fresh target batch Y', ψ frozen; no clamp.
//   MMv2                     MM with the convex weights of ψ (and ψ̄) clamped ≥ 0 after each of their steps.
//   W2GN  (cycle)            one Adam over ψ and ψ̄; L_ψ + λ·(cycle terms) (w2gn_loss); clamp both.
//
// Losses are in ot/solvers/w2_losses.h (MM, MMv2, W2GN) and ot/solvers/mmb.h (MM-B); identity
// pre-training in ot/solvers/pretrain.h. The reversed variants (MM:R, W2:R) are open work.
//
// Safety: a non-finite batch, loss or gradient throws brenier::Error naming the method and the step,
// and the networks and optimizer states are then exactly as after the previous step (MM/MMv2 restore
// a snapshot taken at the start of the step, since their step updates several times).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "ot/layers/dense_icnn.h"
#include "ot/solvers/pretrain.h"

namespace brenier::ot {

enum class W2Method { MMB, MM, MMv2, W2GN };

// "mmb" | "mm" | "mmv2" | "w2gn" (case-sensitive); anything else throws, listing the choices.
W2Method parse_w2_method(std::string_view name);
// The parse key: "mmb", "mm", "mmv2", "w2gn".
const char* name(W2Method method);
// MMv2 and W2GN keep both potentials convex by clamping after every step (spec §2.3 table).
bool is_convex(W2Method method);

struct W2SolverConfig {
  W2Method method = W2Method::W2GN;
  int64_t dim = 2;
  std::vector<int64_t> hidden;     // empty: w2bench_hidden(dim) = [max(2D,64), max(2D,64), max(D,32)] (§2.1)
  int64_t rank = 1;                // ConvexQuadratic rank of the solvers' DenseICNN (§2.1)
  double strong_convexity = 1e-4;  // s of (s/2)‖x‖² in the solvers' DenseICNN (§2.1; benchmark potentials: 1e-2)
  double init_std = 0.1;           // DenseICNN init N(0, 0.1²) (§2.1)
  double lr = 1e-3;                // Adam, default betas, no decay, for every network (§2.3 "Common")
  // Anneal every optimizer's lr along a half cosine to 0 over `iters` steps (optim::WarmupCosine, no
  // warm-up). Off in the references (constant lr, §2.3); on, the last iterates average out Adam's step
  // noise (gaussian_ot uses it).
  bool cosine_decay = false;
  int64_t batch = 1024;            // §2.3 "Common"
  // train() steps: 5001 in HOTET's W2B single-map runs (§1.6); the benchmark notebooks run 50,001 (MM,
  // MMv2), 100,001 (MM-B) and 250,001 (W2GN) (§2.3).
  int64_t iters = 5000;
  // MM/MMv2 inner steps of ψ̄ per step: 15 in the W2 benchmark notebooks (MM_test_hd_benchmark.ipynb,
  // INNER_ITERS = 15; §2.3); HOTET's configs use 20 (§1.4).
  int64_t inner_iters = 15;
  // W2GN cycle weight λ; unset: λ = dim (notebook LAMBDA = DIM; §2.3).
  std::optional<double> cycle_weight;
  IdentityPretrainConfig pretrain;  // §1.5 / §2.3; convexifies during it iff the method is convex
  uint64_t seed = 0;                // initial weights and pre-training batches (notebooks: seed 0, §2.3)
  DType dtype = DType::F32;         // f32, the fast type everywhere (ARCHITECTURE.md §4; the notebooks' torch default)
  // Where the networks, optimizer states and training batches live. Batches are drawn by the samplers
  // (usually on the host), checked there, then moved; transport() answers on its input's device.
  Device device = Device::cpu();
  int64_t max_score_elements = int64_t{1} << 22;  // MM-B score-matrix chunk (see mmb_objective)
};

struct W2StepStats {
  int64_t step = 0;            // steps done, this one included
  // The ψ update's objective: MM-B (L_XY(ψ) + L_YX(ψ̄))/2; MM/MMv2 L_ψ; W2GN L_ψ + λ·cycle.
  double loss = 0;
  double conjugate_loss = 0;   // MM/MMv2: L_ψ̄ of the last inner step; MM-B: L_YX(ψ̄); W2GN: 0
  double cycle = 0;            // W2GN: the cycle terms before λ; others 0
  double w2_estimate = 0;      // batch estimate of W2² (w2_losses.h / mmb.h conventions)
  double grad_norm = 0;        // gradient norm of the ψ update (MM-B / W2GN: both networks)
};

class W2Solver {
 public:
  using Sampler = std::function<Tensor(int64_t n)>;  // n fresh points [n, dim]

  explicit W2Solver(W2SolverConfig config);

  // Identity pre-training of ψ (config.pretrain), then ψ̄ ← ψ (the notebooks' D_conj.load_state_dict).
  // Only before the first step: throws once the solver has stepped.
  IdentityPretrainResult pretrain();
  bool pretrained() const { return pretrained_; }

  // One step of config.method on config.batch points from each sampler (MM/MMv2 draw inner_iters more
  // target batches). Batches are converted to config.dtype.
  W2StepStats step(const Sampler& source, const Sampler& target);
  // Pre-trains first when config.pretrain.enabled, nothing has been stepped and pretrain() has not run;
  // then config.iters steps; `on_step` sees every step's stats.
  void train(const Sampler& source, const Sampler& target,
             const std::function<void(const W2StepStats&)>& on_step = {});

  // ∇ψ(x) (μ → ν) and ∇ψ̄(y) (ν → μ), [n, dim] in config.dtype on x's device, `chunk_rows` rows at a
  // time with no graph kept (the notebooks' push_nograd uses chunks of 1024, §2.1).
  Tensor transport(const Tensor& x, int64_t chunk_rows = 1024) const;
  Tensor inverse_transport(const Tensor& y, int64_t chunk_rows = 1024) const;

  // Checkpoint (safetensors, atomic): both networks, the optimizer state(s), the step count and the
  // pre-training flag. load() requires a W2Solver checkpoint of the same method, dim, hidden sizes and
  // rank, and is all-or-nothing.
  void save(const std::string& path) const;
  void load(const std::string& path);

  const W2SolverConfig& config() const { return config_; }  // hidden and cycle_weight filled in
  int64_t steps_done() const { return steps_; }
  DenseIcnn& potential() { return *psi_; }
  DenseIcnn& inverse_potential() { return *psi_bar_; }
  const DenseIcnn& potential() const { return *psi_; }
  const DenseIcnn& inverse_potential() const { return *psi_bar_; }

 private:
  Tensor draw(const Sampler& sampler, const char* which, int64_t step_number) const;
  W2StepStats step_mmb(const Tensor& x, const Tensor& y, int64_t step_number);
  W2StepStats step_mm(const Tensor& x, const Tensor& y, const Sampler& target, int64_t step_number);
  W2StepStats step_w2gn(const Tensor& x, const Tensor& y, int64_t step_number);
  // Sets the grads of `params` to d loss / d params; returns their joint norm (throws when not finite).
  double set_gradients(const Var& loss, const std::vector<Var>& params, int64_t step_number, const char* what);
  Tensor map_in_chunks(const DenseIcnn& net, const Tensor& points, int64_t chunk_rows, const char* op) const;

  W2SolverConfig config_;
  Generator gen_;
  std::unique_ptr<DenseIcnn> psi_, psi_bar_;
  // MM-B, W2GN: adam_ over both networks. MM, MMv2: adam_ over ψ, adam_bar_ over ψ̄.
  std::unique_ptr<optim::Adam> adam_, adam_bar_;
  int64_t steps_ = 0;
  bool pretrained_ = false;
};

}  // namespace brenier::ot
