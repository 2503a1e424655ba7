// HOTET's point-cloud transformer: encoder blocks, the stack, weighted mean pooling
// (see point_cloud_transformer.h).
#include "ot/layers/point_cloud_transformer.h"

#include <cmath>
#include <string>

#include "engine/nn/functional.h"
#include "engine/nn/init.h"
#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

std::string describe(const Var& v) { return v.defined() ? v.data().str() : "undefined"; }

// 1 where a point is real (weight > 0), 0 where it is padding: [B, n, 1], x's dtype.
Tensor real_points(const Var& weights) {
  const Tensor mask = gt(weights, Var(Tensor::scalar(0.0, weights.dtype(), weights.device())));
  return mask.reshape({weights.size(0), weights.size(1), 1});
}

Var zero_padding(const Var& x, const Var& weights) {
  return where(real_points(weights), x, Var(Tensor::scalar(0.0, x.dtype(), x.device())));
}

}  // namespace

Var weighted_mean_pool(const Var& h, const Var& weights) {
  const char* op = "weighted_mean_pool";
  BRENIER_CHECK(h.defined() && is_floating(h.dtype()) && h.dim() == 3,
                "{}: argument 'h' must be a floating [B, n, C] batch of per-point features, got {}", op, describe(h));
  check_point_weights(op, h, weights);
  const int64_t batch = h.size(0), width = h.size(2);
  return reshape(matmul(unsqueeze(weights, 1), zero_padding(h, weights)), {batch, width});  // [B, 1, n]·[B, n, C]
}

Var weighted_encoder_block(const Var& x, const Var& weights, const EncoderBlockWeights& w, int64_t num_heads,
                           bool norm_first, double layer_norm_eps) {
  const char* op = "weighted_encoder_block";
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 3,
                "{}: argument 'x' must be a floating [B, n, E] batch of point sets, got {}", op, describe(x));
  const int64_t e = x.size(2);
  BRENIER_CHECK(w.linear1_weight.defined() && w.linear1_weight.dim() == 2 && w.linear1_weight.size(1) == e,
                "{}: weight 'linear1_weight' must be [F, {}] (x is {}), got {}", op, e, describe(x),
                describe(w.linear1_weight));
  const int64_t f = w.linear1_weight.size(0);
  BRENIER_CHECK(w.linear2_weight.defined() && w.linear2_weight.dim() == 2 && w.linear2_weight.size(1) == f,
                "{}: weight 'linear2_weight' must be [C, {}] (linear1_weight is {}), got {}", op, f,
                describe(w.linear1_weight), describe(w.linear2_weight));
  const bool lift = w.linear2_weight.size(0) != e;
  auto check_norm = [&](const Var& v, const char* name) {
    BRENIER_CHECK(!v.defined() || (v.shape() == Shape{e} && v.dtype() == x.dtype()),
                  "{}: weight '{}' must be {} [{}] or undefined, got {}", op, name, dtype_name(x.dtype()), e,
                  describe(v));
  };
  check_norm(w.norm1_weight, "norm1_weight");
  check_norm(w.norm1_bias, "norm1_bias");
  check_norm(w.norm2_weight, "norm2_weight");
  check_norm(w.norm2_bias, "norm2_bias");
  BRENIER_CHECK(!(lift && !norm_first && (w.norm2_weight.defined() || w.norm2_bias.defined())),
                "{}: a post-LN lifting block (linear2_weight {} maps to a width other than {}) has no norm2; "
                "weights 'norm2_weight'/'norm2_bias' must be undefined",
                op, describe(w.linear2_weight), e);
  auto ln1 = [&](const Var& t) { return layer_norm(t, w.norm1_weight, w.norm1_bias, layer_norm_eps); };
  auto ln2 = [&](const Var& t) { return layer_norm(t, w.norm2_weight, w.norm2_bias, layer_norm_eps); };
  auto ffn = [&](const Var& t) {
    return nn::linear(relu(nn::linear(t, w.linear1_weight, w.linear1_bias)), w.linear2_weight, w.linear2_bias);
  };
  auto attention = [&](const Var& t) { return weighted_self_attention(t, weights, w.attention, num_heads); };
  if (norm_first) {
    const Var h = x + attention(ln1(x));
    return lift ? ffn(ln2(h)) : h + ffn(ln2(h));
  }
  const Var h = ln1(x + attention(x));
  return lift ? ffn(h) : ln2(h + ffn(h));
}

WeightedEncoderBlock::WeightedEncoderBlock(int64_t dim, int64_t num_heads, int64_t feedforward, int64_t out_dim,
                                           bool norm_first, double layer_norm_eps, Generator& gen, DType dtype)
    : num_heads_(num_heads), norm_first_(norm_first), eps_(layer_norm_eps) {
  const char* op = "WeightedEncoderBlock";
  BRENIER_CHECK(feedforward >= 1, "{}: argument 'feedforward' must be >= 1, got {}", op, feedforward);
  BRENIER_CHECK(out_dim >= 1, "{}: argument 'out_dim' must be >= 1, got {}", op, out_dim);
  BRENIER_CHECK(layer_norm_eps > 0, "{}: argument 'layer_norm_eps' must be > 0, got {}", op, layer_norm_eps);
  auto attn = register_module("self_attn", std::make_shared<WeightedMultiheadAttention>(dim, num_heads, gen, dtype));
  auto linear1 = register_module("linear1", std::make_shared<nn::Linear>(dim, feedforward, true, gen, dtype));
  auto linear2 = register_module("linear2", std::make_shared<nn::Linear>(feedforward, out_dim, true, gen, dtype));
  auto norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(dim, layer_norm_eps, true, dtype));
  weights_.attention = attn->weights();
  weights_.linear1_weight = linear1->weight;
  weights_.linear1_bias = linear1->bias;
  weights_.linear2_weight = linear2->weight;
  weights_.linear2_bias = linear2->bias;
  weights_.norm1_weight = norm1->weight;
  weights_.norm1_bias = norm1->bias;
  if (out_dim == dim || norm_first) {
    auto norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(dim, layer_norm_eps, true, dtype));
    weights_.norm2_weight = norm2->weight;
    weights_.norm2_bias = norm2->bias;
  }
}

PointCloudTransformer::PointCloudTransformer(const PointCloudTransformerConfig& config, Generator& gen, DType dtype)
    : config_(config), dtype_(dtype) {
  const char* op = "PointCloudTransformer";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  BRENIER_CHECK(config_.model_dim >= 0, "{}: config 'model_dim' must be >= 0 (0: the blocks work at width dim), got {}",
                op, config_.model_dim);
  const int64_t width = config_.model_dim > 0 ? config_.model_dim : config_.dim;
  if (config_.num_heads == 0) config_.num_heads = width;
  BRENIER_CHECK(config_.num_heads >= 1 && width % config_.num_heads == 0,
                "{}: config 'num_heads' must be 0 (= the blocks' width) or divide the blocks' width {}, got {}", op,
                width, config_.num_heads);
  BRENIER_CHECK(config_.context_dim >= 0, "{}: config 'context_dim' must be >= 0 (0: no lifting block), got {}", op,
                config_.context_dim);
  BRENIER_CHECK(config_.num_layers >= (config_.context_dim > 0 ? 1 : 0),
                "{}: config 'num_layers' must be >= {} (it counts the lifting block), got {}", op,
                config_.context_dim > 0 ? 1 : 0, config_.num_layers);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op, dtype_name(dtype));
  if (config_.model_dim > 0)
    input_proj_ = register_module("input_proj", std::make_shared<nn::Linear>(config_.dim, width, true, gen, dtype));
  const int64_t regular = config_.num_layers - (config_.context_dim > 0 ? 1 : 0);
  auto layers = register_module("layers", std::make_shared<nn::ModuleList>());
  for (int64_t l = 0; l < regular; ++l)
    blocks_.push_back(layers->push_back(std::make_shared<WeightedEncoderBlock>(
        width, config_.num_heads, config_.feedforward, width, config_.norm_first, config_.layer_norm_eps, gen,
        dtype)));
  if (config_.final_residual_norm && regular > 0)
    norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(width, config_.layer_norm_eps, true, dtype));
  if (config_.context_dim > 0)
    lift_ = register_module("lift", std::make_shared<WeightedEncoderBlock>(width, config_.num_heads,
                                                                           config_.feedforward, config_.context_dim,
                                                                           config_.norm_first,
                                                                           config_.layer_norm_eps, gen, dtype));
}

Var PointCloudTransformer::forward(const Var& x, const Var& weights) const {
  const char* op = "PointCloudTransformer";
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 3 && x.size(2) == config_.dim,
                "{}: argument 'x' must be a floating [B, n, {}] batch of point sets, got {}", op, config_.dim,
                describe(x));
  BRENIER_CHECK(x.dtype() == dtype_, "{}: argument 'x' must have the model's dtype {}, got {}", op,
                dtype_name(dtype_), describe(x));
  check_point_weights(op, x, weights);
  Var input = zero_padding(x, weights);
  if (input_proj_) input = input_proj_->forward(input);
  Var y = input;
  for (const auto& block : blocks_) y = block->forward(y, weights);
  if (norm_) y = norm_->forward(y + input);
  if (lift_) y = lift_->forward(y, weights);
  return y;
}

Var PointCloudTransformer::embed(const Var& x, const Var& weights) const {
  return weighted_mean_pool(forward(x, weights), weights);
}

}  // namespace brenier::ot
