// Identity pre-training of a DenseICNN potential: fit ∇ψ(x) ≈ x before OT training, so every solver of
// the W2 benchmark starts from the identity map rather than from a random gradient field
// (spec/algorithms.md §1.5 and §2.3; Wasserstein2Benchmark src/tools.py `train_identity_map`).
//
// Each iteration draws X = scale · N(0, I) [batch, D], takes one Adam step on
// MSE(∇ψ(X), X) = mean over all batch·D coordinates of (∇ψ(X) − X)² (a second-order loss: the map is
// differentiated w.r.t. the weights), clamps the convex weights ≥ 0 when the solver is convex, and
// stops as soon as the MSE of that iteration (computed before its step, as upstream) is below the
// tolerance, or after max_iters iterations.
#pragma once
#include <cstdint>

#include "engine/random/generator.h"
#include "ot/layers/dense_icnn.h"

namespace brenier::ot {

struct IdentityPretrainConfig {
  bool enabled = true;          // the notebooks always pre-train (spec §2.3 "Common")
  double scale = 3.0;           // X ~ 3·N(0, I): upstream's `blow=3` (spec §1.5, §2.3)
  int64_t batch = 1024;         // spec §1.5 / §2.3
  double lr = 1e-3;             // Adam lr (spec §2.3; HOTET's MMv2 script uses 1e-4, §1.5)
  double weight_decay = 1e-10;  // Adam L2 decay, upstream's value (spec §1.5, §2.3)
  double tolerance = 1e-3;      // stop at MSE < 1e-3 (spec §1.5, §2.3)
  int64_t max_iters = 5000;     // spec §1.5, §2.3
};

struct IdentityPretrainResult {
  double mse = 0;          // MSE of the last iteration (before its step)
  int64_t iterations = 0;  // iterations run
  bool converged = false;  // mse < tolerance
};

// Pre-trains `net` in place, drawing X from `gen` on the net's device. `convexify`: clamp the convex
// weights after every step (MMv2, W2GN). Throws brenier::Error when the loss is not finite (naming the iteration); the
// weights are then as after the previous iteration.
IdentityPretrainResult pretrain_identity(DenseIcnn& net, const IdentityPretrainConfig& config, Generator& gen,
                                         bool convexify);

}  // namespace brenier::ot
