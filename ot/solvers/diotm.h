// DiotmSolver: DIOTM, neural OT through displacement interpolation with an HJB regularizer (Choi, Chen &
// Choi, ICLR 2025, arXiv 2410.03783; spec/algorithms.md §4). Three networks:
//   T→ (forward_map):  μ → ν, a residual MLP x + MLP(x)            (ot/layers/residual_mlp.h, §4.3)
//   T← (backward_map): ν → μ, the same architecture
//   Ṽ  (potential):    Ṽ(t, x), an MLP on [x, sinusoidal(t)]       (ot/layers/time_potential.h, §4.3)
// and the objective of ot/solvers/diotm_objective.h (§4.2). One step = K_V potential updates (maps fixed:
// minimize E Ṽ(t, x_t) − E Ṽ(t, y_t) + λR) then K_T map updates of both maps together (potential fixed:
// minimize L), each update on fresh batches and a fresh t ~ U[0, 1] per point (§4.2 "Algorithm").
//
// Safety: a non-finite batch, loss or gradient throws brenier::Error naming the step; the networks, the
// optimizer states and the time generator are then exactly as after the previous step.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "ot/layers/conv_unet_map.h"
#include "ot/layers/diotm_networks.h"
#include "ot/layers/time_embedding.h"
#include "ot/solvers/diotm_objective.h"

namespace brenier::ot {

// The networks: MLPs on points (§4.3; residual_mlp.h, time_potential.h) or convolutional networks on
// flat images (conv_unet_map.h, conv_time_potential.h; issue 7's `translate`).
enum class DiotmArchitecture { Mlp, Conv };

struct DiotmConfig {
  int64_t dim = 2;
  DiotmArchitecture architecture = DiotmArchitecture::Mlp;
  ImageShape image;            // Conv only: dim must be image.numel()
  int64_t conv_channels = 16;  // Conv only: base channels of both conv networks (ours, CPU-sized)
  double alpha = 0.5;  // cost α‖x − y‖² (§4.1); α = ½ makes the HJB residual ∂_t Ṽ + ½‖∇Ṽ‖² (§4.2)
  DiotmRegularizer regularizer = DiotmRegularizer::Hjb;  // §4.2; r1 / none: the paper's ablation
  HjbNorm hjb_norm = HjbNorm::Absolute;                   // §4.2 writes |·| (squared vs absolute unverified)
  // λ. Not in the spec (the paper's value is unknown; its Table 3 says HJB is insensitive to it): ours.
  // `diotm lambda` measures the sensitivity (docs/diotm.md).
  double reg_weight = 0.1;
  int64_t potential_steps = 1;  // K_V (§4.2: the authors' previous code uses K_v = 1)
  int64_t map_steps = 1;        // K_T (§4.2: K_T = 1)
  double map_lr = 1.6e-4;       // lr_g (§4.2)
  double potential_lr = 1e-4;   // lr_d (§4.2)
  double beta1 = 0.5, beta2 = 0.9;  // Adam β (§4.2)
  int64_t batch = 256;  // points per side per update; not in the spec (ours)
  std::vector<int64_t> map_hidden{256, 256, 256};       // ToyGenerator (§4.3)
  std::vector<int64_t> potential_hidden{128, 128, 128};  // ToyDiscriminator (§4.3)
  TimeEmbeddingConfig time;                             // 128-d sinusoidal, max_positions 1e4 (TOY3, §4.3)
  bool zero_init_maps = true;                           // TOY3's zero-initialized output: maps start at the identity (§4.3)
  uint64_t seed = 0;                                    // initial weights and the t draws
  DType dtype = DType::F32;
  // Where the networks, optimizer states, batches and t draws live (the t stream is the same Philox
  // stream on either device). Samplers may return host batches: they are checked there, then moved.
  Device device = Device::cpu();
};

struct DiotmStepStats {
  int64_t step = 0;            // steps done, this one included
  double objective = 0;        // L of the last map update (§4.2)
  double potential_loss = 0;   // E Ṽ(t, x_t) − E Ṽ(t, y_t) + λR of the last potential update
  double regularizer = 0;      // R of the last potential update (before λ); 0 for none
  double transport_cost = 0;   // E‖x − T→(x)‖² on the last map update's batch
  double map_grad_norm = 0;
  double potential_grad_norm = 0;
};

class DiotmSolver {
 public:
  using Sampler = std::function<Tensor(int64_t n)>;  // n fresh points [n, dim]

  // Throws naming the field for an invalid config.
  explicit DiotmSolver(DiotmConfig config);

  // One step (K_V potential updates, then K_T map updates), each update drawing config.batch points
  // from each sampler (converted to config.dtype).
  DiotmStepStats step(const Sampler& source, const Sampler& target);

  // T→(x), T←(y) [n, dim] in config.dtype on the input's device, chunk_rows rows at a time with no graph kept.
  Tensor transport(const Tensor& x, int64_t chunk_rows = 4096) const;
  Tensor inverse_transport(const Tensor& y, int64_t chunk_rows = 4096) const;
  // x_t = (1 − t)x + t·T→(x) for one time t ∈ [0, 1] (the forward trajectory, for figures).
  Tensor interpolate(const Tensor& x, double t) const;
  // Ṽ(t_i, x_i) [n] on x's device (no graph kept).
  Tensor potential_values(const Tensor& t, const Tensor& x) const;

  // Checkpoint (safetensors, atomic): three networks, both optimizer states, the step count and the t
  // generator's stream and position (so a loaded solver continues exactly as the saved one would).
  // load() requires a DIOTM checkpoint of the same dim and widths; all or nothing.
  void save(const std::string& path) const;
  void load(const std::string& path);

  const DiotmConfig& config() const { return config_; }
  int64_t steps_done() const { return steps_; }
  const DiotmMap& forward_map() const { return *forward_; }
  const DiotmMap& backward_map() const { return *backward_; }
  const DiotmPotential& potential() const { return *potential_; }

 private:
  Tensor draw(const Sampler& sampler, const char* which, int64_t step_number) const;
  TimePotentialFn potential_fn() const;
  void potential_update(const Sampler& source, const Sampler& target, int64_t step_number, DiotmStepStats& stats);
  void map_update(const Sampler& source, const Sampler& target, int64_t step_number, DiotmStepStats& stats);

  DiotmConfig config_;
  Generator init_gen_;  // initial weights
  Generator time_gen_;  // the t draws (its offset is checkpointed)
  std::unique_ptr<DiotmMap> forward_, backward_;
  std::unique_ptr<DiotmPotential> potential_;
  std::unique_ptr<optim::Adam> map_adam_, potential_adam_;
  int64_t steps_ = 0;
};

}  // namespace brenier::ot
