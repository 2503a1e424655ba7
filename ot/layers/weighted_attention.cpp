// Weighted multi-head attention over padded batches of point sets (see weighted_attention.h).
#include "ot/layers/weighted_attention.h"

#include <cmath>
#include <string>

#include "engine/nn/functional.h"
#include "engine/nn/init.h"
#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

// log-weight of a masked (weight-0) key: exp(-1e30 − max) underflows to exactly 0 in f32 and f64,
// while staying finite keeps every backward free of inf arithmetic.
constexpr double kMaskedLogWeight = -1e30;

std::string describe(const Var& v) { return v.defined() ? v.data().str() : "undefined"; }

Var scalar(double value, const Var& like) { return Var(Tensor::scalar(value, like.dtype(), like.device())); }

// [B, m, H·d] → [B·H, m, d]: heads folded into the batch so that one batched matmul serves all.
Var split_heads(const Var& t, int64_t heads) {
  const int64_t b = t.size(0), m = t.size(1), d = t.size(2) / heads;
  return reshape(permute(reshape(t, {b, m, heads, d}), {0, 2, 1, 3}), {b * heads, m, d});
}

// [B·H, m, d] → [B, m, H·d].
Var merge_heads(const Var& t, int64_t batch, int64_t heads) {
  const int64_t m = t.size(1), d = t.size(2);
  return reshape(permute(reshape(t, {batch, heads, m, d}), {0, 2, 1, 3}), {batch, m, heads * d});
}

void check_qk(const char* op, const Var& q, const Var& k, int64_t num_heads) {
  BRENIER_CHECK(q.defined() && is_floating(q.dtype()) && q.dim() == 3,
                "{}: argument 'q' must be a floating [B, m, E] batch of point sets, got {}", op, describe(q));
  BRENIER_CHECK(k.defined() && k.dtype() == q.dtype() && k.dim() == 3 && k.size(0) == q.size(0) &&
                    k.size(2) == q.size(2),
                "{}: argument 'k' must be {} [{}, n, {}] like 'q', got {}", op, dtype_name(q.dtype()), q.size(0),
                q.size(2), describe(k));
  BRENIER_CHECK(num_heads >= 1 && q.size(2) % num_heads == 0,
                "{}: argument 'num_heads' must be >= 1 and divide the embedding width {}, got {}", op, q.size(2),
                num_heads);
}

}  // namespace

void check_point_weights(const char* op, const Var& x, const Var& weights) {
  BRENIER_CHECK(x.defined() && x.dim() == 3, "{}: argument 'x' must be a [B, n, D] batch of point sets, got {}", op,
                describe(x));
  BRENIER_CHECK(weights.defined() && weights.dtype() == x.dtype() && weights.dim() == 2 &&
                    weights.size(0) == x.size(0) && weights.size(1) == x.size(1),
                "{}: argument 'weights' must be {} [{}, {}] (one weight per point of x {}), got {}", op,
                dtype_name(x.dtype()), x.size(0), x.size(1), describe(x), describe(weights));
  BRENIER_CHECK(x.size(0) >= 1 && x.size(1) >= 1, "{}: argument 'x' must hold at least one set of one point, got {}",
                op, describe(x));
  NoGradGuard no_grad;
  const Var w = weights.detach();
  const double smallest = min(w).item();
  BRENIER_CHECK(smallest >= 0, "{}: argument 'weights' must be >= 0 (0 marks a padded point), got a minimum of {}",
                op, smallest);
  const Var deviation = abs(sum(w, {1}) - 1.0);
  const double worst = max(deviation).item();
  const double tolerance = x.dtype() == DType::F64 ? 1e-10 : 1e-4;
  if (worst <= tolerance) return;
  const auto set = static_cast<int64_t>(argmax(deviation, 0).item());
  throw Error(fmt::format(
      "{}: argument 'weights' must sum to 1 over each set's points (within {}), but set {} sums to {}", op, tolerance,
      set, sum(slice(w, 0, set, set + 1)).item()));
}

Var masked_log_weights(const Var& weights) {
  const Tensor positive = gt(weights, scalar(0.0, weights));
  // log(1) on masked entries: never log(0), so no -inf and no inf gradient enters the graph.
  const Var safe = where(positive, weights, scalar(1.0, weights));
  return where(positive, log(safe), scalar(kMaskedLogWeight, weights));
}

namespace {

// q and k checked and split into heads folded into the batch ([B·H, ·, d]), each key's log-weight repeated
// per head ([B·H, n]: 3-D on purpose, the engine's broadcasting ops are far slower on 4-D tensors), and the
// 1/√d scale.
struct FoldedHeads {
  Var q, k, log_w;
  double scale;
};
FoldedHeads fold_heads(const Var& q, const Var& k, const Var& key_weights, int64_t num_heads) {
  const char* op = "weighted_attention";
  check_qk(op, q, k, num_heads);
  check_point_weights(op, k, key_weights);
  const int64_t batch = q.size(0), n = k.size(1);
  const Var log_w = reshape(
      broadcast_to(reshape(masked_log_weights(key_weights), {batch, 1, n}), {batch, num_heads, n}),
      {batch * num_heads, n});
  return {split_heads(q, num_heads), split_heads(k, num_heads), log_w,
          1.0 / std::sqrt(static_cast<double>(q.size(2) / num_heads))};
}

}  // namespace

Var weighted_attention_probabilities(const Var& q, const Var& k, const Var& key_weights, int64_t num_heads) {
  const FoldedHeads h = fold_heads(q, k, key_weights, num_heads);
  const Var probs = softmax(matmul(h.q, h.k, false, true) * h.scale + unsqueeze(h.log_w, 1), -1);  // [B·H, m, n]
  return reshape(probs, {q.size(0), num_heads, q.size(1), k.size(1)});
}

Var weighted_attention(const Var& q, const Var& k, const Var& v, const Var& key_weights, int64_t num_heads) {
  BRENIER_CHECK(v.defined() && k.defined() && v.shape() == k.shape() && v.dtype() == k.dtype(),
                "weighted_attention: argument 'v' must have the shape and dtype of 'k' ({}), got {}", describe(k),
                describe(v));
  const FoldedHeads h = fold_heads(q, k, key_weights, num_heads);
  // The engine's fused op: on the host the [B·H, m, n] probabilities are never stored.
  const Var heads = attention(h.q, h.k, split_heads(v, num_heads), h.log_w, h.scale);  // [B·H, m, d]
  return merge_heads(heads, q.size(0), num_heads);                                     // [B, m, E]
}

Var weighted_self_attention(const Var& x, const Var& weights, const WeightedAttentionWeights& w,
                            int64_t num_heads) {
  const char* op = "weighted_self_attention";
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 3,
                "{}: argument 'x' must be a floating [B, n, E] batch of point sets, got {}", op, describe(x));
  const int64_t e = x.size(2);
  auto check = [&](const Var& v, const char* name, const Shape& shape, bool optional) {
    BRENIER_CHECK((optional && !v.defined()) || (v.defined() && v.shape() == shape && v.dtype() == x.dtype()),
                  "{}: weight '{}' must be {} {}{} (x is {}), got {}", op, name, dtype_name(x.dtype()),
                  shape_str(shape), optional ? " or undefined" : "", describe(x), describe(v));
  };
  check(w.in_proj_weight, "in_proj_weight", {3 * e, e}, false);
  check(w.in_proj_bias, "in_proj_bias", {3 * e}, true);
  check(w.out_proj_weight, "out_proj_weight", {e, e}, false);
  check(w.out_proj_bias, "out_proj_bias", {e}, true);
  const std::vector<Var> qkv = split(nn::linear(x, w.in_proj_weight, w.in_proj_bias), {e, e, e}, 2);
  return nn::linear(weighted_attention(qkv[0], qkv[1], qkv[2], weights, num_heads), w.out_proj_weight,
                    w.out_proj_bias);
}

WeightedMultiheadAttention::WeightedMultiheadAttention(int64_t embed_dim, int64_t num_heads, Generator& gen,
                                                       DType dtype)
    : embed_dim_(embed_dim), num_heads_(num_heads) {
  const char* op = "WeightedMultiheadAttention";
  BRENIER_CHECK(embed_dim >= 1, "{}: argument 'embed_dim' must be >= 1, got {}", op, embed_dim);
  BRENIER_CHECK(num_heads >= 1 && embed_dim % num_heads == 0,
                "{}: argument 'num_heads' must be >= 1 and divide embed_dim {}, got {}", op, embed_dim, num_heads);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op, dtype_name(dtype));
  weights_.in_proj_weight = register_parameter("in_proj_weight", Var(Tensor::empty({3 * embed_dim, embed_dim}, dtype)));
  nn::init::xavier_uniform_(weights_.in_proj_weight, gen);
  weights_.in_proj_bias = register_parameter("in_proj_bias", Var(Tensor::zeros({3 * embed_dim}, dtype)));
  auto out_proj = register_module("out_proj", std::make_shared<nn::Linear>(embed_dim, embed_dim, true, gen, dtype));
  nn::init::zeros_(out_proj->bias);
  weights_.out_proj_weight = out_proj->weight;
  weights_.out_proj_bias = out_proj->bias;
}

}  // namespace brenier::ot
