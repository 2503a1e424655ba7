// HOTET's embedding module: a transformer over a weighted point set (an empirical distribution),
// pooled into one context vector per set that a hypernetwork turns into an ICNN (spec/algorithms.md
// §1.3; paper 001 §III-B and App. B). Points are the sequence; there is no positional encoding, so
// the per-point outputs are permutation-equivariant and the pooled embedding permutation-invariant.
//
//   regular block (post-LN, the reference's default):  h = LN1(x + Attn(x));  y = LN2(h + FFN(h))
//   regular block (pre-LN option):                      h = x + Attn(LN1(x));  y = h + FFN(LN2(h))
//   FFN(h) = W2 relu(W1 h + b1) + b2                    (ReLU, as torch's TransformerEncoderLayer)
//   Attn = weighted multi-head self-attention (weighted_attention.h): softmax over keys of
//          q·k/√d_h + log w_j, so weight-0 (padded) points are masked out exactly.
//
// The stack (PointCloudTransformerConfig): [optional Linear D → model_dim], regular blocks at width D
// (or model_dim), then the reference code's extra y ← LN(y + x) around them (§1.3), then — when a
// context width c is asked for — the paper's last block, whose MLP lifts D → c (§III-B):
// h = Attn sub-layer as above, y = W2 relu(W1 h + b1) + b2 with W2 [c, F]. Its FFN has no residual
// (widths differ) and, post-LN, no LN2 (the hypernetwork's first linear layer follows anyway). The
// reference code has that block commented out (§1.3), so context_dim = 0 (no lift, output width D)
// reproduces the code and context_dim > 0 the paper.
// Embedding = weighted mean pooling e = Σ_i w_i y_i (App. B, Eq. B.8); padded points are excluded.
//
// Small D: a LayerNorm over width 2 leaves every row one of two vectors β ± γ⊙(1, −1) (up to eps), so
// at D = 2 the reference's post-LN stack (and its final LN) passes about one bit per point to the
// pooling, and the embedding hardly depends on the distribution; at D = 3 rows lie on a circle.
// model_dim > 0 adds a Linear D → model_dim before the blocks (as Set Transformer-style encoders do;
// not in the reference), which removes that bottleneck. The default (0) reproduces the reference.
//
// Dropout: none. The reference runs torch's default p = 0.1, but leaves it on even when evaluating
// (§1.3, §1.11); a deterministic embedding is what the property tests (and reproducible runs) need.
// Parameter names follow torch (layers.{i}.self_attn.in_proj_weight, linear1/2, norm1/2), so the
// reference TransformerEncoder's tensors map name for name.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/autograd/var.h"
#include "engine/nn/layer_norm.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/nn/module_list.h"
#include "engine/random/generator.h"
#include "ot/layers/weighted_attention.h"

namespace brenier::ot {

// e = Σ_i w_i h_i: h [B, n, C], weights [B, n] (checked like attention weights) → [B, C].
// Padded (weight-0) rows are excluded, not just multiplied by 0: a non-finite padded row is ignored.
Var weighted_mean_pool(const Var& h, const Var& weights);

// One encoder block's weights (E = input width, F = feed-forward width, C = output width). A block
// with C = E is a regular block; C ≠ E makes it a lifting block (no FFN residual; post-LN it has no
// LN2, so norm2_* must be undefined). LayerNorm weights may be undefined (no affine).
struct EncoderBlockWeights {
  WeightedAttentionWeights attention;
  Var linear1_weight, linear1_bias;  // [F, E], [F]
  Var linear2_weight, linear2_bias;  // [C, F], [C]
  Var norm1_weight, norm1_bias;      // [E]
  Var norm2_weight, norm2_bias;      // [E] (pre-LN: normalizes the FFN input; post-LN: the output)
};

// x [B, n, E], weights [B, n] → [B, n, C]. norm_first selects pre-LN.
Var weighted_encoder_block(const Var& x, const Var& weights, const EncoderBlockWeights& w, int64_t num_heads,
                           bool norm_first = false, double layer_norm_eps = 1e-5);

// One block with its own parameters; initialization is torch's (nn.MultiheadAttention, nn.Linear
// U(±1/√fan_in), LayerNorm ones/zeros), as the reference builds them (§1.3).
class WeightedEncoderBlock : public nn::Module {
 public:
  WeightedEncoderBlock(int64_t dim, int64_t num_heads, int64_t feedforward, int64_t out_dim, bool norm_first,
                       double layer_norm_eps, Generator& gen, DType dtype = DType::F32);
  Var forward(const Var& x, const Var& weights) const {
    return weighted_encoder_block(x, weights, weights_, num_heads_, norm_first_, eps_);
  }
  Var operator()(const Var& x, const Var& weights) const { return forward(x, weights); }
  const EncoderBlockWeights& weights() const { return weights_; }

 private:
  int64_t num_heads_;
  bool norm_first_;
  double eps_;
  EncoderBlockWeights weights_;
};

struct PointCloudTransformerConfig {
  int64_t dim = 2;                   // D, the points' width
  int64_t model_dim = 0;             // 0: blocks work at width D (reference, §1.3); M > 0: a Linear D → M
                                     // first (not in the reference; see the note on small D above)
  int64_t num_heads = 0;             // 0: one head per channel of the blocks' width (head width 1), the
                                     // reference's nhead = D (§1.3)
  int64_t num_layers = 6;            // blocks in all, the lifting block included (§1.3: 6)
  int64_t feedforward = 64;          // FFN width, dim_feedforward (§1.3: 64)
  int64_t context_dim = 0;           // 0: no lifting block, output width D (reference code, §1.3);
                                     // c > 0: the last block lifts to c (paper §III-B)
  bool norm_first = false;           // false: post-LN, torch's default used by the reference (§1.3)
  bool final_residual_norm = true;   // y ← LN(y + x) around the width-D blocks (reference code, §1.3)
  double layer_norm_eps = 1e-5;      // torch's LayerNorm default (§1.3)
};

class PointCloudTransformer : public nn::Module {
 public:
  PointCloudTransformer(const PointCloudTransformerConfig& config, Generator& gen, DType dtype = DType::F32);

  // Per-point features: x [B, n, D], weights [B, n] (≥ 0, Σ = 1 per set, 0 = padding) → [B, n, out].
  // Padded points' coordinates are replaced by 0 first, so any finite or non-finite padding is ignored;
  // their output rows are meaningless.
  Var forward(const Var& x, const Var& weights) const;
  Var operator()(const Var& x, const Var& weights) const { return forward(x, weights); }
  // The context vectors: weighted_mean_pool(forward(x, w), w) → [B, out].
  Var embed(const Var& x, const Var& weights) const;

  int64_t output_dim() const {
    return config_.context_dim > 0 ? config_.context_dim : config_.model_dim > 0 ? config_.model_dim : config_.dim;
  }
  // num_heads is filled in (never 0).
  const PointCloudTransformerConfig& config() const { return config_; }

 private:
  PointCloudTransformerConfig config_;
  DType dtype_;
  std::shared_ptr<nn::Linear> input_proj_;                     // D → model_dim, or null
  std::vector<std::shared_ptr<WeightedEncoderBlock>> blocks_;  // width D (or model_dim)
  std::shared_ptr<nn::LayerNorm> norm_;                        // the extra residual LN, or null
  std::shared_ptr<WeightedEncoderBlock> lift_;                 // the lifting block, or null
};

}  // namespace brenier::ot
