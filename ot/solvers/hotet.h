// HotetSolver: HOTET, "Hypernetwork-based OT" (arXiv 2504.17740, ISIT 2025; spec/algorithms.md §1).
// One model learns the OT maps of many source distributions μ_i to targets ν_i: an embedding turns a
// point set into a context vector, a hypernetwork turns the context into the weights of a convex
// potential (ICNN), and the potential's gradient is the map. Four trained modules (§1.2, §1.4):
//
//   E_x  point-cloud transformer embedding for ψ    (ot/layers/point_cloud_transformer.h, §1.3)
//   H    HyperDenseIcnn generating ψ   (∇ψ: μ_i → ν_i)  (ot/layers/hyper_icnn.h, §1.1–1.2)
//   E_y  embedding for ψ̄
//   H̄    HyperDenseIcnn generating ψ̄  (∇ψ̄: ν_i → μ_i, the inverse map)
//
// Everything is batched over the B distributions of a step: points x [B, n, D], y [B, m, D], contexts
// [B, c], generated weights with a leading B; there is no loop over distributions.
//
// Which points condition ψ̄ (`inverse_context`): the paper conditions both maps on μ_i ("we take μ_i as
// input to model both maps", §1.7) and so does the reference code's evaluation, but its training
// conditions ψ̄ on the target batch Y (§1.7, "train/eval inconsistency"). Default Source: both
// networks see the source sample in training and prediction, so a pair (μ_i, ν) with a shared target
// still gets its own inverse map. Target reproduces the reference's training.
//
// Methods (§1.4), losses averaged over the B distributions:
//   MM-B   one Adam step over all four modules on (L_XY(ψ) + L_YX(ψ̄)) / 2, each L the batch-conjugate
//          objective of ot/solvers/mmb.h computed per distribution: scores [B, m, n] by one batched
//          matmul, argmax over the last dim, gather (batched; no per-distribution loop).
//   MMv2   outer: Adam over (H, E_x) on L_ψ = mean ψ(X) − mean ψ(Ŷ), Ŷ = ∇ψ̄(Y) fixed; then K inner
//          Adam steps over (H̄, E_y) on L_ψ̄ = mean[ψ(∇ψ̄(Y')) − ⟨∇ψ̄(Y'), Y'⟩] with ψ's generated
//          weights frozen and a fresh target batch Y' each (second-order grads through
//          hyper_icnn_map with create_graph). K = 20 (HOTET configs, §1.4).
//   W2GN   the reference code's color-transfer loss (§1.4, "Color transfer loss"; not the paper's text):
//          one step over all four modules on
//            mean ψ(X) − mean ψ(Ŷ) + λ·mean_elements (∇ψ(∇ψ̄(Y)) − Y)² + ℓ1·(‖W‖₁ + ‖W̄‖₁),
//          Ŷ = ∇ψ̄(Y) held fixed in the first two terms, differentiable in the cycle term (second-order
//          grads through both generated maps); W, W̄ the generated ICNN weights; λ = 100, ℓ1 = 1e-10.
//          Adam betas (0.8, 0.99) on (H, E_x) and (0.4, 0.4) on (H̄, E_y), as the reference.
// Adam lr 1e-3 (default betas for MM-B and MMv2) on all four modules (§1.4, §1.6).
//
// Context models (`context_model`): Transformer (HOTET), Constant (no embedding, the paper's Table IV
// ablation: each hypernetwork gets a learned constant context [1, c] broadcast to every distribution, so
// one map is learned for all sources) and FlattenedSample (the Meta OT baseline of Table III, spec §3.3:
// an MLP on the first `meta_ot_points` points of the sample, flattened; ot/layers/flattened_set_encoder.h).
//
// Safety: a non-finite batch, loss or gradient throws brenier::Error naming the method and step; the
// modules and optimizer states are then as after the last good step.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/nn/module.h"
#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "ot/layers/hyper_icnn.h"
#include "ot/layers/point_cloud_transformer.h"

namespace brenier::ot {

enum class HotetMethod { MMB, MMv2, W2GN };
// "mmb" | "mmv2" | "w2gn"; anything else throws, listing the choices.
HotetMethod parse_hotet_method(std::string_view name);
const char* name(HotetMethod method);

enum class ContextFrom { Source, Target };

// What conditions the hypernetworks. Transformer: HOTET's embedding (§1.3). Constant: one learned context for
// every set (the no-embedding ablation, paper Table IV). FlattenedSample: the Meta OT baseline (§3.3).
// Points: the raw points as per-point features, no trained embedding — the reference configs'
// `emb_method: mlp` (its D = 64 runs, §1.11) with AfterHidden pooling (a DeepSets context: the hypernet's hidden
// layers run on each point, their mean is pooled), `emb_method: mean` with BeforeHypernet (the weighted mean point).
enum class ContextModel { Transformer, Constant, FlattenedSample, Points };
// "transformer" | "constant" | "meta-ot" | "points"; anything else throws, listing the choices.
ContextModel parse_context_model(std::string_view name);
const char* name(ContextModel model);
// Whether the context has per-point features (Transformer, Points), which HypernetPooling::AfterHidden needs.
bool has_point_features(ContextModel model);

// Where a set is pooled for the hypernetworks (hyper_icnn.h): BeforeHypernet pools the embedding into one
// context vector, then the whole hypernet MLP runs on it (paper §III-B); AfterHidden runs the hypernet's
// hidden layers on every point's embedding and pools their output (the reference code, spec §1.2).
// AfterHidden needs per-point features: the Transformer and Points contexts have them.
enum class HypernetPooling { BeforeHypernet, AfterHidden };
// "before" | "after-hidden"; anything else throws, listing the choices.
HypernetPooling parse_hypernet_pooling(std::string_view name);
const char* name(HypernetPooling pooling);

struct HotetSolverConfig {
  HotetMethod method = HotetMethod::MMB;
  int64_t dim = 2;
  // ICNN hidden sizes h_1..h_L; empty: w2bench_hidden(D) (the W2B runs, §1.1). The GM-prediction runs
  // use [64, 64, 32] ([64, 128, 128, 64] at D = 32), see gm_prediction_hidden().
  std::vector<int64_t> icnn_hidden;
  std::vector<int64_t> hyper_hidden;  // empty: [max(2D, 16)] × 3 (§1.2)
  double init_std = 0.01;             // hypernet init N(0, 0.01²) (§1.2)
  double strong_convexity = 1e-4;     // s (§1.1)
  // false (the reference code, §1.1): w_out is left free. With the ½‖x‖² residual a non-negative w_out
  // makes ∇ψ − x monotone, so no generated map could contract any direction (NOTES.md, "Numerics"),
  // while the GM-prediction ground truth contracts about half of them; measured at D = 2 (test
  // run, 1000 steps): unseen-test L2-UVP 43.9 % with true vs 31.9 % with false (identity 46.8 %).
  bool nonnegative_final_layer = false;
  // The embedding; its dim is set to `dim`. Defaults = the reference's Transformer_X (§1.3).
  PointCloudTransformerConfig embedding;
  ContextModel context_model = ContextModel::Transformer;
  HypernetPooling pooling = HypernetPooling::BeforeHypernet;  // the paper's text (§III-B); see the enum
  // Meta OT baseline (FlattenedSample): points per set it reads (every batch must hold at least this many;
  // the GM runs' smallest batch is 64, §1.6) and its context width (COND_IN_SIZE 32 in HOTET's configs, §1.3).
  int64_t meta_ot_points = 64;
  int64_t meta_ot_context_dim = 32;
  ContextFrom inverse_context = ContextFrom::Source;
  double lr = 1e-3;           // Adam, default betas, all four modules (§1.4, §1.6)
  int64_t inner_iters = 20;   // MMv2 inner steps on ψ̄ (HOTET configs, §1.4)
  double cycle_weight = 100;  // W2GN λ (reference color scripts, §1.4)
  double generated_l1 = 1e-10;  // W2GN ℓ1 on the generated weights (reference color scripts, §1.4)
  uint64_t seed = 0;          // initial weights
  DType dtype = DType::F32;
  // Where the modules, optimizer states and batches live. Weights are initialised on the host (the same
  // for a seed on every device), then moved; step() and pretrain() take host or device batches (checked,
  // then moved); predict() returns maps on this device and HotetMaps answer on their input's device.
  Device device = Device::cpu();
};

// The GM-prediction ICNN sizes of §1.1: [64, 64, 32], and [64, 128, 128, 64] at D = 32.
std::vector<int64_t> gm_prediction_hidden(int64_t dim);

struct HotetStepStats {
  int64_t step = 0;
  double loss = 0;            // MM-B: (L_XY + L_YX)/2; MMv2: L_ψ; W2GN: the whole loss
  double conjugate_loss = 0;  // MM-B: L_YX(ψ̄); MMv2: L_ψ̄ of the last inner step; W2GN: the cycle term
  double w2_estimate = 0;     // batch estimate of W2², averaged over distributions (mmb.h conventions)
  double grad_norm = 0;       // of the outer update
};

// The maps a trained solver predicts for some distributions: generated ICNN weights (no graph).
struct HotetMaps {
  DenseIcnnWeights forward, inverse;  // leading dim B
  double strong_convexity = 1e-4;
  // ∇ψ_b on x [B, n, D] (or [n, D] when B = 1) → same shape, `chunk_rows` points per set at a time,
  // computed on the weights' device and returned on x's.
  Tensor transport(const Tensor& x, int64_t chunk_rows = 1024) const;
  Tensor inverse_transport(const Tensor& y, int64_t chunk_rows = 1024) const;
};

class HotetSolver {
 public:
  explicit HotetSolver(HotetSolverConfig config);
  ~HotetSolver();

  // Identity pre-training (§1.5): Adam (lr 1e-3, weight decay 1e-10) on H and E_x with
  // MSE(∇ψ(X), X), X = `points` (the reference: ×3-scaled samples), until MSE < tolerance or
  // max_iters; then H̄ ← H, E_y ← E_x. Before the first step only. Returns the iterations run.
  // With the ½‖x‖² residual and the small init it usually stops at once.
  int64_t pretrain(const std::function<Tensor()>& points, double tolerance = 1e-3, int64_t max_iters = 5000);

  // One step on x [B, n, D] (sources) and y [B, m, D] (targets, row b paired with source b).
  // MMv2 calls `fresh_targets()` for each inner step ([B, m', D], the same distributions).
  HotetStepStats step(const Tensor& x, const Tensor& y, const std::function<Tensor()>& fresh_targets = {});

  // The maps for distributions given by their own samples: sources [B, n, D] (or [n, D]) with optional
  // weights [B, n] (≥ 0, Σ = 1 per set; undefined: uniform). inverse_context = Target needs `targets`.
  // The Meta OT context reads the first meta_ot_points points and refuses weights.
  HotetMaps predict(const Tensor& sources, const Tensor& weights = {}, const Tensor& targets = {}) const;

  // Checkpoint (safetensors, atomic): the four modules (or constant contexts), optimizer states,
  // step count. load() requires the same method, dim, sizes and embedding; all-or-nothing.
  void save(const std::string& path) const;
  void load(const std::string& path);

  const HotetSolverConfig& config() const { return config_; }  // sizes filled in
  int64_t steps_done() const { return steps_; }
  bool pretrained() const { return pretrained_; }
  int64_t context_dim() const;

 private:
  struct Modules;
  Var context(bool inverse, const Var& points, const Var& weights) const;
  // Per-point features [B, n, F] for AfterHidden pooling: the embedding's rows, or the points themselves.
  Var point_features(bool inverse, const Var& points, const Var& weights) const;
  // The generated ICNN weights of ψ (or ψ̄ when `inverse`) for the sets `points` [B, n, D], pooled as
  // config().pooling says.
  DenseIcnnWeights generated(bool inverse, const Var& points, const Var& weights) const;
  Tensor checked_batch(const Tensor& t, const char* which, int64_t step_number) const;
  double set_gradients(const Var& loss, const std::vector<Var>& params, int64_t step_number, const char* what);
  HotetStepStats step_mmb(const Tensor& x, const Tensor& y, int64_t step_number);
  HotetStepStats step_mmv2(const Tensor& x, const Tensor& y, const std::function<Tensor()>& fresh,
                           int64_t step_number);
  HotetStepStats step_w2gn(const Tensor& x, const Tensor& y, int64_t step_number);
  std::string signature() const;
  std::string context_signature() const;

  HotetSolverConfig config_;
  Generator gen_;
  std::unique_ptr<Modules> m_;
  std::unique_ptr<optim::Adam> adam_, adam_bar_;  // MM-B: adam_ over all; MMv2, W2GN: (H, E_x) and (H̄, E_y)
  int64_t steps_ = 0;
  bool pretrained_ = false;
};

}  // namespace brenier::ot
