// HOTET layers: weighted attention and encoder blocks against plain-loop references written from the
// paper's kernel-estimator formula (App. B-C), exact masking of padded points, the set properties
// (permutation invariance, weight-2 point = duplicated point, padding invariance), the batched ICNN
// against the W2 benchmark's DenseICNN per set, the hypernetwork's layout, batching and identity start,
// convexity of generated potentials (PSD Hessians, with a non-convex negative control), f64 first- and
// second-order gradchecks, and argument errors.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "engine/ops/ops.h"
#include "ot/layers/dense_icnn.h"
#include "ot/layers/hyper_icnn.h"
#include "ot/layers/point_cloud_transformer.h"
#include "ot/layers/weighted_attention.h"
#include "tests/ot/reference.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

using Vec = std::vector<double>;

Var f64(const Vec& v, const Shape& s) { return Var(Tensor::from_vector(v, s)); }
Vec values(const Var& v) { return v.data().to_vector<double>(); }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

double max_abs_diff(const Vec& a, const Vec& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

bool all_finite(const Vec& v) {
  return std::all_of(v.begin(), v.end(), [](double t) { return std::isfinite(t); });
}

// ---- plain-loop references (one set, row-major host vectors) --------------------------------------

// y = x Wᵀ + b for rows x [n, in], W [out, in].
Vec ref_linear(const Vec& x, int64_t n, int64_t in, const Vec& w, const Vec& b, int64_t out) {
  Vec y(n * out);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[o];
      for (int64_t k = 0; k < in; ++k) s += x[i * in + k] * w[o * in + k];
      y[i * out + o] = s;
    }
  return y;
}

Vec ref_layer_norm(const Vec& x, int64_t n, int64_t e, const Vec& gamma, const Vec& beta, double eps = 1e-5) {
  Vec y(n * e);
  for (int64_t i = 0; i < n; ++i) {
    double mu = 0, var = 0;
    for (int64_t k = 0; k < e; ++k) mu += x[i * e + k] / e;
    for (int64_t k = 0; k < e; ++k) var += (x[i * e + k] - mu) * (x[i * e + k] - mu) / e;
    for (int64_t k = 0; k < e; ++k) y[i * e + k] = (x[i * e + k] - mu) / std::sqrt(var + eps) * gamma[k] + beta[k];
  }
  return y;
}

// Weighted self-attention of one set as the paper's Nadaraya–Watson estimator (App. B-C):
// out_i = Σ_j w_j exp(s_ij) v_j / Σ_l w_l exp(s_il), s_ij = q_i·k_j/√d per head; no log trick, no mask.
Vec ref_attention(const Vec& x, const Vec& w, int64_t n, int64_t e, int64_t heads, const Vec& in_w, const Vec& in_b,
                  const Vec& out_w, const Vec& out_b) {
  const Vec qkv = ref_linear(x, n, e, in_w, in_b, 3 * e);
  const int64_t d = e / heads;
  Vec cat(n * e, 0.0);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < n; ++i) {
      Vec a(n);
      double smax = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < d; ++k) s += qkv[i * 3 * e + h * d + k] * qkv[j * 3 * e + e + h * d + k];
        a[j] = s / std::sqrt(static_cast<double>(d));
        smax = std::max(smax, a[j]);
      }
      double z = 0;
      for (int64_t j = 0; j < n; ++j) z += (a[j] = w[j] * std::exp(a[j] - smax));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < d; ++k) cat[i * e + h * d + k] += a[j] / z * qkv[j * 3 * e + 2 * e + h * d + k];
    }
  return ref_linear(cat, n, e, out_w, out_b, e);
}

struct BlockValues {  // host copies of one encoder block's weights
  Vec in_w, in_b, out_w, out_b, l1_w, l1_b, l2_w, l2_b, n1_w, n1_b, n2_w, n2_b;
  int64_t f = 0, c = 0;
};

BlockValues host(const EncoderBlockWeights& w) {
  BlockValues b{values(w.attention.in_proj_weight), values(w.attention.in_proj_bias),
                values(w.attention.out_proj_weight), values(w.attention.out_proj_bias), values(w.linear1_weight),
                values(w.linear1_bias), values(w.linear2_weight), values(w.linear2_bias), values(w.norm1_weight),
                values(w.norm1_bias), {}, {}, w.linear1_weight.size(0), w.linear2_weight.size(0)};
  if (w.norm2_weight.defined()) b.n2_w = values(w.norm2_weight), b.n2_b = values(w.norm2_bias);
  return b;
}

// One encoder block on one set (real points only), post-LN or pre-LN, regular or lifting.
Vec ref_block(const Vec& x, const Vec& w, int64_t n, int64_t e, int64_t heads, const BlockValues& p, bool pre_ln) {
  auto attn = [&](const Vec& t) { return ref_attention(t, w, n, e, heads, p.in_w, p.in_b, p.out_w, p.out_b); };
  auto ffn = [&](const Vec& t) {
    Vec hidden = ref_linear(t, n, e, p.l1_w, p.l1_b, p.f);
    for (double& v : hidden) v = std::max(v, 0.0);
    return ref_linear(hidden, n, p.f, p.l2_w, p.l2_b, p.c);
  };
  auto plus = [](Vec a, const Vec& b) {
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    return a;
  };
  const bool lift = p.c != e;
  if (pre_ln) {
    const Vec h = plus(x, attn(ref_layer_norm(x, n, e, p.n1_w, p.n1_b)));
    const Vec f = ffn(ref_layer_norm(h, n, e, p.n2_w, p.n2_b));
    return lift ? f : plus(h, f);
  }
  const Vec h = ref_layer_norm(plus(x, attn(x)), n, e, p.n1_w, p.n1_b);
  return lift ? ffn(h) : ref_layer_norm(plus(h, ffn(h)), n, e, p.n2_w, p.n2_b);
}

// Rows [0, rows) of set b of a [B, n, C] tensor.
Vec set_rows(const Var& t, int64_t b, int64_t rows) {
  const Vec all = values(t);
  const int64_t n = t.size(1), c = t.size(2);
  return Vec(all.begin() + b * n * c, all.begin() + b * n * c + rows * c);
}

// Randomizes every parameter of a module (torch's inits give LayerNorm 1/0 and zero biases, which would
// leave terms of the formulas untested).
void randomize(nn::Module& m, uint64_t seed, double std = 0.5) {
  Generator gen(seed);
  for (Var& p : m.parameters()) {
    Var q = p;
    q.data().copy_from(gen.normal(p.shape(), 0.0, std, p.dtype()));
  }
}

// A padded batch of two sets for the attention tests: set 0 has 3 real points and 2 padded ones (with
// large, finite garbage coordinates), set 1 has 5 points of unequal weights.
struct PaddedBatch {
  Var x, w;
  std::vector<int64_t> sizes{3, 5};
};
PaddedBatch padded_batch(int64_t e, uint64_t seed) {
  Generator gen(seed);
  Vec x = gen.normal({2, 5, e}, 0.0, 1.0, DType::F64).to_vector<double>();
  for (int64_t j = 3; j < 5; ++j)
    for (int64_t k = 0; k < e; ++k) x[j * e + k] = 1e3 * (k + 1);
  Vec w{0.5, 0.3, 0.2, 0.0, 0.0, 0.1, 0.3, 0.15, 0.25, 0.2};
  return {f64(x, {2, 5, e}), f64(w, {2, 5})};
}

PointCloudTransformerConfig small_transformer(int64_t dim, int64_t context_dim, bool pre_ln) {
  PointCloudTransformerConfig c;
  c.dim = dim;
  c.num_layers = 3;
  c.feedforward = 8;
  c.context_dim = context_dim;
  c.norm_first = pre_ln;
  return c;
}

}  // namespace

TEST_CASE("hotet: weighted attention equals the weighted kernel estimator and masks padding exactly") {
  const int64_t e = 4, heads = 2;
  Generator gen(1);
  WeightedMultiheadAttention attn(e, heads, gen, DType::F64);
  randomize(attn, 2);
  const PaddedBatch batch = padded_batch(e, 3);
  const Var y = attn(batch.x, batch.w);
  REQUIRE(y.shape() == Shape{2, 5, e});
  CHECK(all_finite(values(y)));  // padded query rows too
  const WeightedAttentionWeights& p = attn.weights();
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t n = batch.sizes[b];
    const Vec x = set_rows(batch.x, b, n);
    const Vec all_w = values(batch.w);
    const Vec w(all_w.begin() + b * 5, all_w.begin() + b * 5 + n);
    const Vec expected = ref_attention(x, w, n, e, heads, values(p.in_proj_weight), values(p.in_proj_bias),
                                       values(p.out_proj_weight), values(p.out_proj_bias));
    CHECK(max_abs_diff(set_rows(y, b, n), expected) < 1e-12);
  }
  // The attention matrix: masked keys get exactly 0, every row (padded queries included) sums to 1.
  const std::vector<Var> qkv = split(nn::linear(batch.x, p.in_proj_weight, p.in_proj_bias), {e, e, e}, 2);
  const Vec probs = values(weighted_attention_probabilities(qkv[0], qkv[1], batch.w, heads));  // [2, H, 5, 5]
  CHECK(all_finite(probs));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < 5; ++i) {
      double row = 0;
      for (int64_t j = 0; j < 5; ++j) row += probs[((0 * heads + h) * 5 + i) * 5 + j];
      CHECK(row == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(probs[((0 * heads + h) * 5 + i) * 5 + 3] == 0.0);
      CHECK(probs[((0 * heads + h) * 5 + i) * 5 + 4] == 0.0);
    }
  // In f32 too: exactly 0, no NaN.
  const Var probs32 = weighted_attention_probabilities(cast(qkv[0], DType::F32), cast(qkv[1], DType::F32),
                                                       cast(batch.w, DType::F32), heads);
  const std::vector<float> p32 = probs32.data().to_vector<float>();
  CHECK(std::all_of(p32.begin(), p32.end(), [](float t) { return std::isfinite(t); }));
  CHECK(p32[3] == 0.0f);
  CHECK(p32[4] == 0.0f);
}

TEST_CASE("hotet: encoder blocks (post-LN, pre-LN, lifting) match the loop reference on padded sets") {
  const int64_t e = 4, heads = 2;
  const PaddedBatch batch = padded_batch(e, 5);
  for (bool pre_ln : {false, true})
    for (int64_t out : {e, int64_t{6}}) {
      CAPTURE(pre_ln);
      CAPTURE(out);
      Generator gen(7);
      WeightedEncoderBlock block(e, heads, /*feedforward=*/5, out, pre_ln, 1e-5, gen, DType::F64);
      randomize(block, 8);
      const Var y = block(batch.x, batch.w);
      REQUIRE(y.shape() == Shape{2, 5, out});
      CHECK(all_finite(values(y)));
      const BlockValues p = host(block.weights());
      for (int64_t b = 0; b < 2; ++b) {
        const int64_t n = batch.sizes[b];
        const Vec all_w = values(batch.w);
        const Vec w(all_w.begin() + b * 5, all_w.begin() + b * 5 + n);
        CHECK(max_abs_diff(set_rows(y, b, n), ref_block(set_rows(batch.x, b, n), w, n, e, heads, p, pre_ln)) < 1e-11);
      }
    }
  // Post-LN lifting blocks have no norm2; pre-LN ones normalize the FFN input with it.
  Generator gen(9);
  CHECK(!WeightedEncoderBlock(e, heads, 5, 6, false, 1e-5, gen, DType::F64).weights().norm2_weight.defined());
  CHECK(WeightedEncoderBlock(e, heads, 5, 6, true, 1e-5, gen, DType::F64).weights().norm2_weight.defined());
}

TEST_CASE("hotet: a point of weight 2w equals the point listed twice with weight w (attention and embedding)") {
  // D = 3: at D = 2 a LayerNorm leaves each row one of two values ±γ + β, so the embedding barely
  // depends on the weights and the control below could not tell the cases apart.
  const int64_t d = 3;
  Generator gen(11);
  const Vec pts = gen.normal({4, d}, 0.0, 1.0, DType::F64).to_vector<double>();
  Vec dup = pts;
  dup.insert(dup.end(), pts.begin(), pts.begin() + d);  // point 0 again, at the end
  const Var x4 = f64(pts, {1, 4, d}), x5 = f64(dup, {1, 5, d});
  const Var w4 = f64({0.4, 0.2, 0.3, 0.1}, {1, 4}), w5 = f64({0.2, 0.2, 0.3, 0.1, 0.2}, {1, 5});

  WeightedMultiheadAttention attn(d, d, gen, DType::F64);
  randomize(attn, 12);
  const Var a4 = attn(x4, w4), a5 = attn(x5, w5);
  CHECK(max_abs_diff(set_rows(a4, 0, 4), set_rows(a5, 0, 4)) < 1e-13);
  const Vec a5_values = values(a5);
  CHECK(max_abs_diff(set_rows(a5, 0, 1), Vec(a5_values.begin() + 4 * d, a5_values.end())) < 1e-13);
  // Without the weights (uniform), the duplicate does change the result: the check above can fail.
  const Var a5_uniform = attn(x5, f64(Vec(5, 0.2), {1, 5}));
  CHECK(max_abs_diff(set_rows(a4, 0, 4), set_rows(a5_uniform, 0, 4)) > 1e-3);

  for (bool pre_ln : {false, true}) {
    CAPTURE(pre_ln);
    Generator model_gen(13);
    PointCloudTransformer net(small_transformer(d, 6, pre_ln), model_gen, DType::F64);
    randomize(net, 14);
    const Vec e4 = values(net.embed(x4, w4)), e5 = values(net.embed(x5, w5));
    CHECK(max_abs_diff(e4, e5) < 1e-12);
    // Control: far above the 1e-12 of the equality above (measured ≈ 1e-3).
    CHECK(max_abs_diff(e4, values(net.embed(x5, f64(Vec(5, 0.2), {1, 5})))) > 1e-6);
    // Pooling alone: Σ w_i h_i.
    const Var h4 = f64({1, 2, 3, 4, 5, 6, 7, 8}, {1, 4, 2}), h5 = f64({1, 2, 3, 4, 5, 6, 7, 8, 1, 2}, {1, 5, 2});
    CHECK(max_abs_diff(values(weighted_mean_pool(h4, w4)), {0.4 + 0.6 + 1.5 + 0.7, 0.8 + 0.8 + 1.8 + 0.8}) < 1e-15);
    CHECK(max_abs_diff(values(weighted_mean_pool(h4, w4)), values(weighted_mean_pool(h5, w5))) < 1e-15);
  }
}

TEST_CASE("hotet: the embedding is permutation invariant and the per-point features equivariant") {
  const int64_t d = 3, n = 7;
  Generator gen(21);
  PointCloudTransformer net(small_transformer(d, 5, false), gen, DType::F64);
  randomize(net, 22);
  const Vec pts = gen.normal({n, d}, 0.0, 1.0, DType::F64).to_vector<double>();
  Vec w = gen.uniform({n}, 0.5, 1.5, DType::F64).to_vector<double>();
  double total = 0;
  for (double v : w) total += v;
  for (double& v : w) v /= total;
  const std::vector<int64_t> perm{4, 0, 6, 2, 5, 1, 3};
  Vec pts_p(n * d), w_p(n);
  for (int64_t i = 0; i < n; ++i) {
    w_p[i] = w[perm[i]];
    for (int64_t k = 0; k < d; ++k) pts_p[i * d + k] = pts[perm[i] * d + k];
  }
  const Var x = f64(pts, {1, n, d}), xp = f64(pts_p, {1, n, d}), wv = f64(w, {1, n}), wp = f64(w_p, {1, n});
  CHECK(max_abs_diff(values(net.embed(x, wv)), values(net.embed(xp, wp))) < 1e-12);
  const Vec h = values(net(x, wv)), hp = values(net(xp, wp));
  const int64_t c = net.output_dim();
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) worst = std::max(worst, std::abs(hp[i * c + k] - h[perm[i] * c + k]));
  CHECK(worst < 1e-12);
  // Only the points were permuted, not their weights: a different distribution, a different embedding.
  CHECK(max_abs_diff(values(net.embed(x, wv)), values(net.embed(xp, wv))) > 1e-4);
}

TEST_CASE("hotet: a batch of padded sets embeds each set as it would alone, whatever the padding holds") {
  const int64_t d = 2, n_max = 6;
  const std::vector<int64_t> sizes{3, 6, 1};
  for (bool pre_ln : {false, true})
    for (int64_t context : {int64_t{0}, int64_t{4}}) {
      CAPTURE(pre_ln);
      CAPTURE(context);
      Generator gen(31);
      PointCloudTransformerConfig config = small_transformer(d, context, pre_ln);
      config.model_dim = context > 0 ? 6 : 0;  // with a lift, also the input projection
      PointCloudTransformer net(config, gen, DType::F64);
      randomize(net, 32);
      Vec xs(sizes.size() * n_max * d, NAN), ws(sizes.size() * n_max, 0.0);  // padding: NaN coordinates
      std::vector<Var> alone;
      for (size_t b = 0; b < sizes.size(); ++b) {
        const int64_t n = sizes[b];
        const Vec pts = gen.normal({n, d}, 0.0, 2.0, DType::F64).to_vector<double>();
        const Vec w = gen.uniform({n}, 0.2, 1.0, DType::F64).to_vector<double>();
        double total = 0;
        for (double v : w) total += v;
        for (int64_t i = 0; i < n; ++i) {
          ws[b * n_max + i] = w[i] / total;
          for (int64_t k = 0; k < d; ++k) xs[(b * n_max + i) * d + k] = pts[i * d + k];
        }
        alone.push_back(net.embed(f64(pts, {1, n, d}), f64(Vec(ws.begin() + b * n_max, ws.begin() + b * n_max + n),
                                                            {1, n})));
      }
      const Var batched = net.embed(f64(xs, {3, n_max, d}), f64(ws, {3, n_max}));
      REQUIRE(batched.shape() == Shape{3, net.output_dim()});
      const Vec all = values(batched);
      CHECK(all_finite(all));
      for (size_t b = 0; b < sizes.size(); ++b) {
        const Vec row(all.begin() + b * net.output_dim(), all.begin() + (b + 1) * net.output_dim());
        CHECK(max_abs_diff(row, values(alone[b])) < 1e-12);
      }
    }
  // f32, the default dtype: a set padded with NaN points embeds like the set alone, no NaN anywhere.
  Generator gen(33);
  PointCloudTransformer net(small_transformer(d, 4, false), gen);
  const Tensor pts = gen.normal({1, 2, d});
  const std::vector<float> p = pts.to_vector<float>();
  const std::vector<float> padded{p[0], p[1], NAN, NAN, p[2], p[3]};
  const Var e_padded = net.embed(Var(Tensor::from_vector(padded, {1, 3, d})),
                                 Var(Tensor::from_vector(std::vector<float>{0.25f, 0.0f, 0.75f}, {1, 3})));
  const Var e_alone = net.embed(Var(pts), Var(Tensor::from_vector(std::vector<float>{0.25f, 0.75f}, {1, 2})));
  CHECK(all_finite(values(e_padded)));
  CHECK(max_abs_diff(values(e_padded), values(e_alone)) < 1e-5);
}

TEST_CASE("hotet: at D = 2 the reference stack's rows collapse to two values; model_dim lifts that") {
  // A LayerNorm over width 2 maps each row to β ± γ⊙(1, −1) (up to eps), so the reference layout
  // (model_dim 0) passes about one bit per point; a Linear D → model_dim first keeps the rows distinct.
  const int64_t d = 2, n = 16;
  Generator gen(35);
  const Var x(gen.normal({1, n, d}, 0.0, 1.0, DType::F64));
  const Var w(Tensor::full({1, n}, 1.0 / n, DType::F64));
  auto distinct_rows = [](const Var& y) {
    const Vec v = values(y);
    const int64_t rows = y.size(1), c = y.size(2);
    std::vector<Vec> seen;
    for (int64_t i = 0; i < rows; ++i) {
      const Vec row(v.begin() + i * c, v.begin() + (i + 1) * c);
      if (std::none_of(seen.begin(), seen.end(), [&](const Vec& s) { return max_abs_diff(s, row) < 1e-3; }))
        seen.push_back(row);
    }
    return seen.size();
  };
  PointCloudTransformerConfig config = small_transformer(d, 0, false);
  PointCloudTransformer reference(config, gen, DType::F64);
  randomize(reference, 36);
  CHECK(distinct_rows(reference(x, w)) <= 2);
  config.model_dim = 8;
  PointCloudTransformer lifted(config, gen, DType::F64);
  randomize(lifted, 37);
  REQUIRE(lifted.output_dim() == 8);
  CHECK(lifted.config().num_heads == 8);
  CHECK(distinct_rows(lifted(x, w)) == static_cast<size_t>(n));
}

TEST_CASE("hotet: the batched ICNN equals the W2 benchmark's DenseICNN plus ½‖x‖², set by set") {
  const HyperIcnnLayout layout{2, {5, 4, 3}, 2};
  const int64_t batch = 3, n = 6, d = 2;
  const double s = 1e-4;
  Generator gen(41);
  const DenseIcnnWeights w = split_icnn_parameters(Var(gen.normal({batch, layout.num_parameters()}, 0.0, 0.5,
                                                                   DType::F64)), layout);
  const Var x = Var(gen.normal({batch, n, d}, 0.0, 1.5, DType::F64));
  const Vec psi = values(hyper_icnn_potential(x, w, s));
  const Vec map = values(hyper_icnn_map(x, w, s, false));
  auto slice_b = [](const Var& v, int64_t b) { return squeeze(slice(v, 0, b, b + 1), 0); };
  for (int64_t b = 0; b < batch; ++b) {
    DenseIcnnWeights one;
    for (size_t k = 0; k < w.quadratic.size(); ++k) {
      one.quadratic.push_back(slice_b(w.quadratic[k], b));
      one.linear.push_back(slice_b(w.linear[k], b));
      one.bias.push_back(slice_b(w.bias[k], b));
    }
    for (const Var& u : w.convex) one.convex.push_back(slice_b(u, b));
    one.final_layer = slice_b(w.final_layer, b);
    const Var xb = slice_b(x, b);
    const Vec half_sq = values(0.5 * sum(square(xb), {1}));
    const Vec expected = values(dense_icnn_potential(xb, one, s));
    const Vec expected_map = values(dense_icnn_map(xb, one, s, false) + xb);
    for (int64_t i = 0; i < n; ++i) CHECK(psi[b * n + i] == doctest::Approx(expected[i] + half_sq[i]).epsilon(1e-12));
    CHECK(max_abs_diff(Vec(map.begin() + b * n * d, map.begin() + (b + 1) * n * d), expected_map) < 1e-12);
  }
}

TEST_CASE("hotet: the hypernetwork's parameter layout follows the reference order and sizes") {
  // §1.1: D = 64, hidden [128, 128, 64], rank 1 → 65,920 generated scalars per ICNN.
  CHECK(HyperIcnnLayout{64, {128, 128, 64}, 1}.num_parameters() == 65920);
  // Order: (A_k, W_k, b_k) per layer, then U_k, then w_out; each a row-major view of its slice.
  const HyperIcnnLayout layout{2, {3, 2}, 1};
  const int64_t p = layout.num_parameters();
  REQUIRE(p == (2 * 3 + 3 * 2 + 3) + (2 * 2 + 2 * 2 + 2) + 2 * 3 + 2);
  Vec flat(2 * p);
  for (int64_t i = 0; i < 2 * p; ++i) flat[i] = static_cast<double>(i);
  const DenseIcnnWeights w = split_icnn_parameters(f64(flat, {2, p}), layout);
  CHECK(w.quadratic[0].shape() == Shape{2, 2, 1, 3});
  CHECK(values(w.quadratic[0])[0] == 0);
  CHECK(values(w.linear[0])[0] == 6);
  CHECK(values(w.bias[0])[0] == 12);
  CHECK(values(w.quadratic[1])[0] == 15);
  CHECK(values(w.linear[1])[0] == 19);
  CHECK(values(w.bias[1])[0] == 23);
  CHECK(w.convex[0].shape() == Shape{2, 2, 3});
  CHECK(values(w.convex[0])[1] == 26);  // U_1[0, 1]
  CHECK(w.final_layer.shape() == Shape{2, 1, 2});
  CHECK(values(w.final_layer) == Vec{31, 32, 31.0 + p, 32.0 + p});  // second set starts at row 1 of flat

  Generator gen(42);
  HyperDenseIcnnConfig config;
  config.dim = 3;
  config.context_dim = 5;
  HyperDenseIcnn net(config, gen, DType::F64);
  CHECK(net.config().icnn_hidden == std::vector<int64_t>{64, 64, 32});  // w2bench_hidden(3), §1.1
  CHECK(net.config().hyper_hidden == std::vector<int64_t>{16, 16, 16});  // [max(2D, 16)] × 3, §1.2
  // Init §1.2: every weight ~ N(0, 0.01²), biases 0.
  for (const auto& [name, param] : net.named_parameters()) {
    const Vec v = values(param);
    if (contains(name, "bias")) {
      CHECK(std::all_of(v.begin(), v.end(), [](double t) { return t == 0.0; }));
    } else {
      double sq = 0;
      for (double t : v) sq += t * t;
      CAPTURE(name);
      CHECK(std::sqrt(sq / v.size()) == doctest::Approx(0.01).epsilon(0.15));
    }
  }
}

TEST_CASE("hotet: generating for B distributions at once equals generating for each alone") {
  Generator gen(51);
  HyperDenseIcnnConfig config;
  config.dim = 2;
  config.context_dim = 4;
  config.icnn_hidden = {8, 6, 4};
  config.init_std = 0.3;  // weights of order 1, so that a mix-up between sets would show
  HyperDenseIcnn net(config, gen, DType::F64);
  const int64_t batch = 3, n = 5;
  const Var contexts(gen.normal({batch, 4}, 0.0, 1.0, DType::F64));
  const Var x(gen.normal({batch, n, 2}, 0.0, 1.0, DType::F64));
  const DenseIcnnWeights all = net.generate(contexts);
  const Vec psi = values(net.potential(x, all)), map = values(net.map(x, all));
  double spread = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const DenseIcnnWeights one = net.generate(slice(contexts, 0, b, b + 1));
    const Var xb = slice(x, 0, b, b + 1);
    const Vec psi_b = values(net.potential(xb, one)), map_b = values(net.map(xb, one));
    CHECK(max_abs_diff(Vec(psi.begin() + b * n, psi.begin() + (b + 1) * n), psi_b) < 1e-12);
    CHECK(max_abs_diff(Vec(map.begin() + b * n * 2, map.begin() + (b + 1) * n * 2), map_b) < 1e-12);
    // The sets' potentials differ: set 0's weights on set b's points give other values.
    const Vec psi_0 = values(net.potential(xb, net.generate(slice(contexts, 0, 0, 1))));
    spread = std::max(spread, max_abs_diff(psi_b, psi_0));
  }
  CHECK(spread > 1e-2);
}

TEST_CASE("hotet: pooling after the hypernet's hidden layers is the reference's mean of per-point outputs") {
  // The reference (§1.2) runs the whole hypernet on every point's embedding and averages the outputs:
  // θ = mean_i H(e_i). generate_from_points pools after the hidden layers instead; by linearity of the
  // output layer it must equal the (weighted) mean of H applied to each point alone.
  Generator gen(53);
  HyperDenseIcnnConfig config;
  config.dim = 2;
  config.context_dim = 3;
  config.icnn_hidden = {6, 4};
  config.hyper_hidden = {7, 5};
  config.init_std = 0.4;  // order-1 hidden activations, so that pooling before the ReLUs would differ
  HyperDenseIcnn net(config, gen, DType::F64);
  const int64_t batch = 2, n = 4;
  const Var features(gen.normal({batch, n, 3}, 0.0, 1.0, DType::F64));
  const Vec w = {0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.5, 0.0};  // set 1's last point is padding
  const Var weights = f64(w, {batch, n});
  const Vec pooled = values(net.flat_parameters_from_points(features, weights));
  const int64_t p = net.layout().num_parameters();
  REQUIRE(static_cast<int64_t>(pooled.size()) == batch * p);
  // Reference: each point alone through the whole hypernet, then the weighted mean.
  const Vec per_point = values(net.flat_parameters(reshape(features, {batch * n, 3})));  // [B·n, P]
  Vec reference(batch * p, 0.0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < p; ++k) reference[b * p + k] += w[b * n + i] * per_point[(b * n + i) * p + k];
  CHECK(max_abs_diff(pooled, reference) < 1e-12);
  // Negative control: pooling the embedding first (generate's order) gives other parameters.
  const Vec before = values(net.flat_parameters(weighted_mean_pool(features, weights)));
  CHECK(max_abs_diff(pooled, before) > 1e-3);

  // A padded point is excluded even when its features are not finite; point order does not matter.
  Vec f = features.data().to_vector<double>();
  for (int64_t c = 0; c < 3; ++c) f[(1 * n + 3) * 3 + c] = std::nan("");
  const Vec with_nan = values(net.flat_parameters_from_points(f64(f, {batch, n, 3}), weights));
  CHECK(max_abs_diff(with_nan, pooled) < 1e-12);
  Vec f_perm = features.data().to_vector<double>(), w_perm = w;
  for (int64_t c = 0; c < 3; ++c) std::swap(f_perm[0 * 3 + c], f_perm[2 * 3 + c]);  // set 0: points 0 ↔ 2
  std::swap(w_perm[0], w_perm[2]);
  const Vec permuted = values(net.flat_parameters_from_points(f64(f_perm, {batch, n, 3}), f64(w_perm, {batch, n})));
  CHECK(max_abs_diff(permuted, pooled) < 1e-12);

  // The generated weights are the split of those parameters with the convex layers ReLU'd, as generate's.
  const DenseIcnnWeights from_points = net.generate_from_points(features, weights);
  CHECK(values(from_points.convex[0]) == values(relu(split_icnn_parameters(
                                             net.flat_parameters_from_points(features, weights), net.layout())
                                                         .convex[0])));
  CHECK(contains(error_of([&] { net.generate_from_points(reshape(features, {batch * n, 3}), weights); }),
                 "HyperDenseIcnn: argument 'features' must be f64 [B, n, 3] (one embedding row per point)"));
}

TEST_CASE("hotet: at initialization every generated map is the identity up to a bound from the weights") {
  // Embedding → context → ICNN, the whole HOTET pipeline at its §1.2 init, on §1.5's pre-training data
  // x ~ N(0, 3²). With every generated weight |θ| ≤ ε, points |x|∞ ≤ X and celu' ∈ (0, 1]:
  //   |∂q_k/∂x_i| ≤ 2 r D X ε² + ε = g,  G_1 = g,  G_{k+1} = h_k ε G_k + g,
  //   |∇(w_out·z_L)|∞ ≤ h_L ε G_L,
  // and ∇ψ(x) − (1 + s)x is exactly that last gradient. So the check is |∇ψ(x) − (1 + s)x|∞ ≤ that bound,
  // and the bound itself must be tiny (a missing ½‖x‖² residual would leave an error of order |x|).
  const int64_t d = 2, batch = 3, n = 64;
  Generator gen(61);
  PointCloudTransformer embedder(small_transformer(d, 8, false), gen, DType::F64);
  HyperDenseIcnnConfig config;
  config.dim = d;
  config.context_dim = embedder.output_dim();
  HyperDenseIcnn hyper(config, gen, DType::F64);
  const Var x(gen.normal({batch, n, d}, 0.0, 3.0, DType::F64));
  const Var w(Tensor::full({batch, n}, 1.0 / n, DType::F64));
  const DenseIcnnWeights theta = hyper.generate(embedder.embed(x, w));
  double eps = 0;
  for (const Var& t : theta.all())
    for (double v : values(t)) eps = std::max(eps, std::abs(v));
  const Vec xs = values(x);
  double big_x = 0;
  for (double v : xs) big_x = std::max(big_x, std::abs(v));
  const std::vector<int64_t>& h = hyper.config().icnn_hidden;
  const double g = 2.0 * 1 * d * big_x * eps * eps + eps;
  double grad_bound = g;
  for (size_t k = 1; k < h.size(); ++k) grad_bound = h[k - 1] * eps * grad_bound + g;
  const double bound = h.back() * eps * grad_bound;
  MESSAGE("generated |θ|max = ", eps, ", bound on |∇ψ(x) − (1+s)x|∞ = ", bound);

  const Vec map = values(hyper.map(x, theta));
  const double s = config.strong_convexity;
  double worst = 0, mse = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    worst = std::max(worst, std::abs(map[i] - (1 + s) * xs[i]));
    mse += (map[i] - xs[i]) * (map[i] - xs[i]) / xs.size();
  }
  CHECK(worst <= bound * (1 + 1e-9) + 1e-13);
  CHECK(bound < 1e-6);
  CHECK(mse < 1e-3);  // §1.5's pre-training stop criterion is met at step 0
}

TEST_CASE("hotet: generated potentials are convex at random points for random contexts") {
  // With U_k, w_out ≥ 0 (ReLU) ψ − ((1+s)/2)‖x‖² is convex, so λ_min(∇²ψ) ≥ 1 + s. Weights of order 1
  // (init_std 0.3) make the network part's curvature large. Negative control: the same potentials with
  // w_out negated are far from convex, so the eigenvalue check can fail.
  struct OneSet {  // ∇ψ for one generated ICNN on [n, D] points, as ot_test::hessians wants
    const HyperDenseIcnn& net;
    DenseIcnnWeights w;
    Var map(const Var& x, bool create_graph) const {
      return reshape(net.map(reshape(x, {1, x.size(0), x.size(1)}), w, create_graph), x.shape());
    }
  };
  const int64_t d = 3;
  Generator gen(71);
  HyperDenseIcnnConfig config;
  config.dim = d;
  config.context_dim = 4;
  config.icnn_hidden = {8, 8, 4};
  config.init_std = 0.3;
  HyperDenseIcnn net(config, gen, DType::F64);
  double smallest = INFINITY, largest = -INFINITY, smallest_flipped = INFINITY;
  for (int c = 0; c < 4; ++c) {
    const Var context(gen.normal({1, 4}, 0.0, 2.0, DType::F64));
    const OneSet one{net, net.generate(context)};
    OneSet flipped = one;
    flipped.w.final_layer = -one.w.final_layer;
    const Tensor points = gen.normal({10, d}, 0.0, 2.0, DType::F64);
    for (const Vec& hess : ot_test::hessians(one, points)) {
      const double lo = ot_test::min_eigenvalue(hess, d);
      smallest = std::min(smallest, lo);
      largest = std::max(largest, lo);
    }
    for (const Vec& hess : ot_test::hessians(flipped, points))
      smallest_flipped = std::min(smallest_flipped, ot_test::min_eigenvalue(hess, d));
  }
  MESSAGE("λ_min(∇²ψ) over points in [", smallest, ", ", largest, "]; with w_out negated down to ",
          smallest_flipped);
  CHECK(smallest >= 1 + config.strong_convexity - 1e-9);
  CHECK(largest > 1.5);  // the network part does contribute curvature
  CHECK(smallest_flipped < 0);

  // The reference code's variant leaves w_out free (negative entries survive), U_k still ReLU'd.
  config.nonnegative_final_layer = false;
  Generator gen2(72);
  HyperDenseIcnn free_final(config, gen2, DType::F64);
  const DenseIcnnWeights theta = free_final.generate(Var(gen2.normal({4, 4}, 0.0, 2.0, DType::F64)));
  CHECK(min(theta.final_layer).item() < 0);
  CHECK(min(theta.convex[0]).item() >= 0);
  CHECK(min(theta.convex[1]).item() >= 0);
}

TEST_CASE("hotet: f64 gradchecks of weighted attention, encoder blocks and the generated ICNN (1st and 2nd order)") {
  Generator gen(81);
  const PaddedBatch batch = padded_batch(4, 82);
  // Smaller padded coordinates here: finite differences need the padded rows' outputs to be O(1).
  const Var x_small = Var(gen.normal({2, 5, 4}, 0.0, 1.0, DType::F64));
  const Var w = batch.w;
  auto ok = [](const autograd::GradcheckResult& r) {
    if (!r.ok) MESSAGE(r.report);
    return r.ok;
  };
  {
    const std::vector<Tensor> inputs{x_small.data(), gen.normal({12, 4}, 0.0, 0.5, DType::F64),
                                     gen.normal({12}, 0.0, 0.5, DType::F64), gen.normal({4, 4}, 0.0, 0.5, DType::F64),
                                     gen.normal({4}, 0.0, 0.5, DType::F64)};
    auto f = [&](const std::vector<Var>& v) { return weighted_self_attention(v[0], w, {v[1], v[2], v[3], v[4]}, 2); };
    CHECK(ok(autograd::gradcheck(f, inputs)));
    CHECK(ok(autograd::gradgradcheck(f, inputs)));
  }
  for (bool pre_ln : {false, true})
    for (int64_t out : {int64_t{4}, int64_t{3}}) {
      CAPTURE(pre_ln);
      CAPTURE(out);
      const bool has_norm2 = out == 4 || pre_ln;
      std::vector<Tensor> inputs{x_small.data()};
      for (const Shape& s : std::vector<Shape>{{12, 4}, {12}, {4, 4}, {4}, {3, 4}, {3}, {out, 3}, {out}, {4}, {4}})
        inputs.push_back(gen.normal(s, 0.0, 0.5, DType::F64));
      if (has_norm2)
        for (int i = 0; i < 2; ++i) inputs.push_back(gen.normal({4}, 0.0, 0.5, DType::F64));
      auto f = [&](const std::vector<Var>& v) {
        EncoderBlockWeights b{{v[1], v[2], v[3], v[4]}, v[5], v[6], v[7], v[8], v[9], v[10], {}, {}};
        if (has_norm2) b.norm2_weight = v[11], b.norm2_bias = v[12];
        return weighted_encoder_block(v[0], w, b, 2, pre_ln);
      };
      CHECK(ok(autograd::gradcheck(f, inputs)));
      CHECK(ok(autograd::gradgradcheck(f, inputs)));
    }
  {
    // ψ and ∇ψ w.r.t. x and every generated tensor; the map's first order is ψ's second.
    const HyperIcnnLayout layout{2, {3, 2}, 1};
    const DenseIcnnWeights split =
        split_icnn_parameters(Var(gen.normal({2, layout.num_parameters()}, 0.0, 0.7, DType::F64)), layout);
    std::vector<Tensor> inputs{gen.normal({2, 3, 2}, 0.0, 1.0, DType::F64)};
    for (const Var* t : {&split.quadratic[0], &split.linear[0], &split.bias[0], &split.quadratic[1], &split.linear[1],
                         &split.bias[1], &split.convex[0], &split.final_layer})
      inputs.push_back(t->data().clone());
    auto weights = [](const std::vector<Var>& v) {
      return DenseIcnnWeights{{v[1], v[4]}, {v[2], v[5]}, {v[3], v[6]}, {v[7]}, v[8]};
    };
    auto psi = [&](const std::vector<Var>& v) { return hyper_icnn_potential(v[0], weights(v), 1e-4); };
    auto map = [&](const std::vector<Var>& v) { return hyper_icnn_map(v[0], weights(v), 1e-4, true); };
    CHECK(ok(autograd::gradcheck(psi, inputs)));
    CHECK(ok(autograd::gradgradcheck(psi, inputs)));
    CHECK(ok(autograd::gradcheck(map, inputs)));
    CHECK(ok(autograd::gradgradcheck(map, inputs)));
  }
}

TEST_CASE("hotet: bad inputs are refused with messages naming the argument") {
  Generator gen(91);
  PointCloudTransformer net(small_transformer(2, 0, false), gen, DType::F64);
  const Var x(gen.normal({2, 3, 2}, 0.0, 1.0, DType::F64));
  const Var w = f64({0.5, 0.5, 0.0, 0.2, 0.3, 0.5}, {2, 3});
  CHECK(net.embed(x, w).shape() == Shape{2, 2});
  CHECK(contains(error_of([&] { net.embed(x, f64({0.5, 0.4, 0.0, 0.2, 0.3, 0.5}, {2, 3})); }),
                 "PointCloudTransformer: argument 'weights' must sum to 1 over each set's points (within 1e-10), "
                 "but set 0 sums to 0.9"));
  CHECK(contains(error_of([&] { net.embed(x, f64({1.5, -0.5, 0.0, 0.2, 0.3, 0.5}, {2, 3})); }),
                 "argument 'weights' must be >= 0 (0 marks a padded point), got a minimum of -0.5"));
  CHECK(contains(error_of([&] { net.embed(x, f64({0.5, 0.5, NAN, 0.2, 0.3, 0.5}, {2, 3})); }), "argument 'weights'"));
  CHECK(contains(error_of([&] { net.embed(x, f64({0.5, 0.5, 0.2, 0.3}, {2, 2})); }),
                 "argument 'weights' must be f64 [2, 3] (one weight per point of x f64[2, 3, 2] on cpu), got "
                 "f64[2, 2]"));
  CHECK(contains(error_of([&] { net.embed(Var(gen.normal({2, 3, 4}, 0.0, 1.0, DType::F64)), w); }),
                 "PointCloudTransformer: argument 'x' must be a floating [B, n, 2] batch of point sets, got "
                 "f64[2, 3, 4]"));
  CHECK(contains(error_of([&] { net.embed(Var(gen.normal({3, 2}, 0.0, 1.0, DType::F64)), w); }),
                 "argument 'x' must be a floating [B, n, 2]"));
  CHECK(contains(error_of([&] { net.embed(cast(x, DType::F32), cast(w, DType::F32)); }),
                 "argument 'x' must have the model's dtype f64, got f32[2, 3, 2]"));
  CHECK(contains(error_of([&] { WeightedMultiheadAttention(4, 3, gen, DType::F64); }),
                 "'num_heads' must be >= 1 and divide embed_dim 4, got 3"));
  CHECK(contains(error_of([&] { weighted_mean_pool(Var(gen.normal({2, 4, 5}, 0.0, 1.0, DType::F64)), w); }),
                 "weighted_mean_pool: argument 'weights' must be f64 [2, 4]"));
  PointCloudTransformerConfig bad_heads = small_transformer(3, 0, false);
  bad_heads.num_heads = 2;
  CHECK(contains(error_of([&] { PointCloudTransformer(bad_heads, gen); }),
                 "config 'num_heads' must be 0 (= the blocks' width) or divide the blocks' width 3, got 2"));

  HyperDenseIcnnConfig config;
  config.dim = 2;
  config.context_dim = 3;
  config.icnn_hidden = {4, 3};
  HyperDenseIcnn hyper(config, gen, DType::F64);
  CHECK(contains(error_of([&] { hyper.generate(Var(gen.normal({2, 4}, 0.0, 1.0, DType::F64))); }),
                 "HyperDenseIcnn: argument 'context' must be f64 [B, 3] (one context vector per distribution), got "
                 "f64[2, 4]"));
  const DenseIcnnWeights theta = hyper.generate(Var(gen.normal({2, 3}, 0.0, 1.0, DType::F64)));
  CHECK(contains(error_of([&] { hyper.potential(Var(gen.normal({2, 5, 3}, 0.0, 1.0, DType::F64)), theta); }),
                 "hyper_icnn_potential: weight 'quadratic[0]' must be f64 [2, 3, rank, h_1]"));
  CHECK(contains(error_of([&] { hyper.potential(Var(gen.normal({3, 5, 2}, 0.0, 1.0, DType::F64)), theta); }),
                 "hyper_icnn_potential: weight 'quadratic[0]' must be f64 [3, 2, rank, h_1]"));
  CHECK(contains(error_of([&] { hyper.potential(Var(gen.normal({5, 2}, 0.0, 1.0, DType::F64)), theta); }),
                 "hyper_icnn_potential: argument 'x' must be a floating [B, n, D] batch"));
  DenseIcnnWeights broken = theta;
  broken.convex[0] = Var(gen.normal({2, 4, 3}, 0.0, 1.0, DType::F64));
  CHECK(contains(error_of([&] { hyper.potential(Var(gen.normal({2, 5, 2}, 0.0, 1.0, DType::F64)), broken); }),
                 "weight 'convex[0]' must be f64 [2, 3, 4], got f64[2, 4, 3]"));
  const Var wrong_flat(gen.normal({2, 7}, 0.0, 1.0, DType::F64));
  CHECK(contains(error_of([&] { split_icnn_parameters(wrong_flat, hyper.layout()); }),
                 "split_icnn_parameters: argument 'flat' must be a floating [B, 50] tensor"));
  CHECK(contains(error_of([&] {
                   NoGradGuard no_grad;
                   hyper.map(Var(gen.normal({2, 5, 2}, 0.0, 1.0, DType::F64)), theta);
                 }),
                 "hyper_icnn_map: grad mode must be on"));
}
