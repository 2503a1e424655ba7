// Multi-head attention over weighted point sets (HOTET, spec/algorithms.md §1.3 "paper-only design";
// paper 001 App. B-C). An empirical distribution Σ_j w_j δ_{x_j} is a set of points with masses, so
// each key j enters the softmax with its mass:
//
//   attention(q_i, ·) = Σ_j softmax_j( q_i·k_j / √d_h + log w_j ) v_j      (per head, d_h = E / heads)
//
// which is the Nadaraya–Watson estimator with weights w_j (App. B-C). Two consequences the tests
// check: a point of weight 2w equals the same point listed twice with weight w each, and a point of
// weight 0 has no influence at all. That gives batching of sets of different sizes for free: pad
// every set to the longest one with weight-0 points ("masked"); their keys get a log-weight of
// -1e30, so exp underflows to exactly 0 (a finite value, not -inf, so no inf·0 = NaN can appear in
// any backward). Padded *queries* still see their set's real keys, so their rows stay finite; they
// are meaningless and callers ignore them (pooling gives them weight 0). Padded points must hold
// finite values (PointCloudTransformer zeroes them).
//
// Point clouds are batched as x [B, n, E] with weights w [B, n]: w ≥ 0 and Σ_j w_bj = 1 for each set.
// Heads are folded into the batch ([B·H, n, d_h]) and the log-weights become the engine's `attention` op's
// per-key bias, so on the host the [B·H, m, n] probabilities are never stored (engine/ops/ops.h).
// Parameter names follow torch.nn.MultiheadAttention (in_proj_weight/in_proj_bias, out_proj.*),
// the layer the reference implementation uses (spec §1.3).
#pragma once
#include <cstdint>

#include "engine/autograd/var.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::ot {

// Checks that `weights` is a floating [B, n] tensor matching x [B, n, ·] (same dtype) with entries
// ≥ 0 that sum to 1 per set (|Σ − 1| ≤ 1e-4 in f32, 1e-10 in f64). `op` names the caller.
void check_point_weights(const char* op, const Var& x, const Var& weights);

// log w_j where w_j > 0 and -1e30 (the mask value) where w_j = 0: [B, n]. Differentiable w.r.t.
// positive weights; masked entries get a zero gradient.
Var masked_log_weights(const Var& weights);

// The attention matrix of each head: softmax over keys of q_i·k_j/√d_h + log w_j.
//   q [B, m, E], k [B, n, E], key_weights [B, n] → [B, H, m, n]; rows sum to 1, masked keys are 0.
Var weighted_attention_probabilities(const Var& q, const Var& k, const Var& key_weights, int64_t num_heads);

// Heads concatenated back: q [B, m, E], k and v [B, n, E] → [B, m, E] (no projections).
Var weighted_attention(const Var& q, const Var& k, const Var& v, const Var& key_weights, int64_t num_heads);

// The projections of a multi-head attention layer (E = embed dim); biases may be undefined.
struct WeightedAttentionWeights {
  Var in_proj_weight;   // [3E, E]: rows 0..E−1 give q, E..2E−1 k, 2E..3E−1 v
  Var in_proj_bias;     // [3E]
  Var out_proj_weight;  // [E, E]
  Var out_proj_bias;    // [E]
};

// Self-attention of a weighted point set: x [B, n, E], weights [B, n] → [B, n, E]. Checks shapes and
// weights (check_point_weights) and that E is divisible by num_heads.
Var weighted_self_attention(const Var& x, const Var& weights, const WeightedAttentionWeights& w,
                            int64_t num_heads);

// The layer with its own parameters. Initialization is torch.nn.MultiheadAttention's (the
// reference's layer, spec §1.3): in_proj_weight Xavier-uniform, out_proj.weight U(±1/√E), biases 0.
class WeightedMultiheadAttention : public nn::Module {
 public:
  WeightedMultiheadAttention(int64_t embed_dim, int64_t num_heads, Generator& gen, DType dtype = DType::F32);
  Var forward(const Var& x, const Var& weights) const {
    return weighted_self_attention(x, weights, weights_, num_heads_);
  }
  Var operator()(const Var& x, const Var& weights) const { return forward(x, weights); }

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  const WeightedAttentionWeights& weights() const { return weights_; }

 private:
  int64_t embed_dim_, num_heads_;
  WeightedAttentionWeights weights_;
};

}  // namespace brenier::ot
