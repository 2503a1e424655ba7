// NCTM layers (ot/layers/{condition_encoder,conditioning,residual_blocks,conditional_network}.h): the
// positional encoding against the paper's formula written out by hand, embedding lookups and their
// gradients, Fourier / scalar encodings, the hypernetwork's generated layer against a plain nn::linear
// with the same weights row by row, permutation equivariance over the batch, FiLM / concat at
// initialization, f64 first- and second-order gradchecks, and argument errors.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "engine/nn/functional.h"
#include "engine/ops/ops.h"
#include "ot/layers/condition_encoder.h"
#include "ot/layers/conditional_network.h"
#include "ot/layers/conditioning.h"
#include "ot/layers/residual_blocks.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> u = a.to(DType::F64).to_vector<double>(), v = b.to(DType::F64).to_vector<double>();
  REQUIRE(u.size() == v.size());
  double m = 0;
  for (size_t i = 0; i < u.size(); ++i) m = std::max(m, std::abs(u[i] - v[i]));
  return m;
}

Tensor classes(const std::vector<int64_t>& v, int64_t cols = 1) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size()) / cols, cols});
}

// The rows of `t` [n, k] in the order `perm`.
Tensor permute_rows(const Tensor& t, const std::vector<int64_t>& perm) {
  return index_select(Var(t), 0, Tensor::from_vector(perm)).data();
}

ConditionEncoderConfig mixed_config(ContinuousEncoding enc) {
  ConditionEncoderConfig c;
  c.num_classes = {3};
  c.num_continuous = 1;
  c.embedding_dim = 4;
  c.encoding = enc;
  c.encoding_dim = 6;
  c.hidden = {8};
  c.out_dim = 5;
  return c;
}

}  // namespace

TEST_CASE("ot: positional_encoding is the paper's PE(p, 2i) = sin(p / 10000^(2i/d)), cos for 2i+1") {
  const std::vector<double> p{0.0, 0.3, 1.7, 25.0};
  const int64_t dim = 8, half = dim / 2;
  const double scale = 3.0;
  const Tensor pe = positional_encoding(Var(Tensor::from_vector(p, {4})), dim, scale).data();
  REQUIRE(pe.shape() == Shape{4, dim});
  const std::vector<double> got = pe.to_vector<double>();
  for (size_t r = 0; r < p.size(); ++r)
    for (int64_t i = 0; i < half; ++i) {
      const double arg = scale * p[r] / std::pow(10000.0, 2.0 * static_cast<double>(i) / dim);
      // Layout [sin_0 … sin_{half-1}, cos_0 … cos_{half-1}] (condition_encoder.h).
      CHECK(got[r * dim + i] == doctest::Approx(std::sin(arg)).epsilon(1e-12));
      CHECK(got[r * dim + half + i] == doctest::Approx(std::cos(arg)).epsilon(1e-12));
    }
  CHECK(contains(error_of([] { positional_encoding(Var(Tensor::zeros({3}, DType::F64)), 5); }), "'dim' must be even"));
}

// The default encoding of s must be smooth on the scale of the training grid (spacing Δ = 1/8, `nctm
// gaussian`'s): a feature sin(ω s) or cos(ω s) with ωΔ ≤ 1 differs at a midpoint from the mean of its two
// grid neighbours by at most 1 − cos(ωΔ/2) ≤ (ωΔ)²/8 = 1/8, so the grid values pin it down in between. The
// old default (position_scale 100, ωΔ up to 12.5, above the grid's Nyquist limit π) misses this by up to
// ≈ 2: such features alias on the grid and let the network fit each training s apart (docs/nctm.md:
// unseen-s L2-UVP 2.4× the seen one).
TEST_CASE("ot: the default positional encoding of s has no frequency above the training grid's resolution") {
  const ConditionEncoderConfig defaults;
  const double spacing = 1.0 / 8.0;
  std::vector<double> grid, mid;
  for (int j = 0; j <= 8; ++j) grid.push_back(j * spacing);
  for (int j = 0; j < 8; ++j) mid.push_back((j + 0.5) * spacing);
  const int64_t dim = defaults.encoding_dim;
  const std::vector<double> on_grid =
      positional_encoding(Var(Tensor::from_vector(grid, {9})), dim, defaults.position_scale).data().to_vector<double>();
  const std::vector<double> at_mid =
      positional_encoding(Var(Tensor::from_vector(mid, {8})), dim, defaults.position_scale).data().to_vector<double>();
  double worst = 0;
  for (size_t j = 0; j < mid.size(); ++j)
    for (int64_t f = 0; f < dim; ++f) {
      const double neighbours = 0.5 * (on_grid[j * dim + f] + on_grid[(j + 1) * dim + f]);
      worst = std::max(worst, std::abs(at_mid[j * dim + f] - neighbours));
    }
  CHECK(worst <= 1.0 / 8.0);
  // The highest frequency (i = 0) is position_scale: one radian per grid step, as the paper's years.
  CHECK(defaults.position_scale * spacing == doctest::Approx(1.0));
}

TEST_CASE("ot: ConditionEncoder features are [embedding of the class, encoding of p] and embeddings get gradients") {
  Generator gen(3);
  for (ContinuousEncoding enc : {ContinuousEncoding::Positional, ContinuousEncoding::Scalar, ContinuousEncoding::Fourier}) {
    CAPTURE(name(enc));
    ConditionEncoderConfig cfg = mixed_config(enc);
    ConditionEncoder encoder(cfg, gen, DType::F64);
    Condition cond{classes({2, 0, 2}), Tensor::from_vector(std::vector<double>{0.1, 0.5, 0.9}, {3, 1})};
    const Tensor feats = encoder.features(cond).data();
    const int64_t enc_width = enc == ContinuousEncoding::Scalar ? 1 : 6;
    REQUIRE(feats.shape() == Shape{3, 4 + enc_width});
    CHECK(encoder.features_dim() == 4 + enc_width);
    // The embedding part is the table's row of each class.
    const auto params = encoder.named_parameters();
    Tensor table;
    for (const auto& [n, v] : params)
      if (n == "embedding0.weight") table = v.data();
    REQUIRE(table.defined());
    const Tensor emb = slice(Var(feats), 1, 0, 4).data();
    CHECK(max_abs_diff(emb, permute_rows(table, {2, 0, 2})) == 0.0);
    // The continuous part is the chosen encoding of p.
    const Tensor cont = slice(Var(feats), 1, 4, 4 + enc_width).data();
    const std::vector<double> c = cont.to_vector<double>();
    const double p1 = 0.5;
    if (enc == ContinuousEncoding::Scalar) CHECK(c[1] == p1);
    if (enc == ContinuousEncoding::Positional) CHECK(c[1 * 6 + 0] == doctest::Approx(std::sin(cfg.position_scale * p1)));
    if (enc == ContinuousEncoding::Fourier) {
      Tensor freq;
      for (const auto& [n, v] : encoder.named_buffers())
        if (n == "fourier_frequencies") freq = v.data();
      REQUIRE(freq.shape() == Shape{1, 3});
      const double b0 = freq.to_vector<double>()[0];
      CHECK(c[1 * 6 + 0] == doctest::Approx(std::sin(2 * std::numbers::pi * b0 * p1)));
      CHECK(c[1 * 6 + 3] == doctest::Approx(std::cos(2 * std::numbers::pi * b0 * p1)));
    }
    // Embedding lookup gradients: d sum(features[:, :4] * w) / d table row k = Σ_{rows with class k} w.
    const Var out = encoder.features(cond);
    const Var loss = sum(slice(out, 1, 0, 4));
    Var table_var;
    for (const auto& [n, v] : params)
      if (n == "embedding0.weight") table_var = v;
    const Tensor g = grad({loss}, {table_var})[0].data();
    const std::vector<double> gv = g.to_vector<double>();
    for (int64_t j = 0; j < 4; ++j) {
      CHECK(gv[0 * 4 + j] == 1.0);  // class 0 once
      CHECK(gv[1 * 4 + j] == 0.0);  // class 1 never
      CHECK(gv[2 * 4 + j] == 2.0);  // class 2 twice
    }
    CHECK(encoder.forward(cond).shape() == Shape{3, 5});
  }
}

TEST_CASE("ot: ConditionEncoder checks its config and its inputs") {
  Generator gen(1);
  ConditionEncoderConfig bad = mixed_config(ContinuousEncoding::Positional);
  bad.encoding_dim = 5;
  CHECK(contains(error_of([&] { ConditionEncoder(bad, gen); }), "'encoding_dim' must be even"));
  bad = mixed_config(ContinuousEncoding::Positional);
  bad.num_classes = {};
  bad.num_continuous = 0;
  CHECK(contains(error_of([&] { ConditionEncoder(bad, gen); }), "at least one variable"));
  bad = mixed_config(ContinuousEncoding::Positional);
  bad.num_classes = {0};
  CHECK(contains(error_of([&] { ConditionEncoder(bad, gen); }), "'num_classes'"));
  CHECK(contains(error_of([] { parse_continuous_encoding("sinus"); }), "positional, scalar, fourier"));

  ConditionEncoder enc(mixed_config(ContinuousEncoding::Positional), gen);
  const Tensor s = Tensor::zeros({2, 1});
  CHECK(contains(error_of([&] { enc.forward({classes({0, 3}), s}); }), "classes in [0, 3), got 3"));
  CHECK(contains(error_of([&] { enc.forward({classes({0, -1}), s}); }), "got -1"));
  CHECK(contains(error_of([&] { enc.forward({Tensor::zeros({2, 1}), s}); }), "'condition.discrete' must be an i64"));
  CHECK(contains(error_of([&] { enc.forward({classes({0, 1}), Tensor::zeros({3, 1})}); }),
                 "'condition.continuous' must be a floating tensor [n = 2, 1]"));
  CHECK(contains(error_of([&] { enc.forward({classes({0, 1}), {}}); }), "'condition.continuous'"));
}

TEST_CASE("ot: the hypernetwork's layer equals a plain linear layer with the generated weights, row by row") {
  Generator gen(7);
  ConditionedLinearConfig cfg;
  cfg.in_features = 5;
  cfg.out_features = 3;
  cfg.condition_dim = 4;
  cfg.hyper_hidden = {6};
  ConditionedLinear layer(cfg, gen, DType::F64);
  const int64_t n = 6;
  const Tensor h = gen.normal({n, 5}, 0, 1, DType::F64), c = gen.normal({n, 4}, 0, 1, DType::F64);
  const Tensor y = layer.forward(Var(h), Var(c)).data();
  REQUIRE(y.shape() == Shape{n, 3});
  const GeneratedLayer gl = layer.generate(Var(c));
  REQUIRE(gl.weight.shape() == Shape{n, 3, 5});
  REQUIRE(gl.bias.shape() == Shape{n, 3});
  for (int64_t i = 0; i < n; ++i) {
    const Var w = reshape(slice(gl.weight, 0, i, i + 1), {3, 5}), b = reshape(slice(gl.bias, 0, i, i + 1), {3});
    const Tensor plain = nn::linear(slice(Var(h), 0, i, i + 1), w, b).data();
    CHECK(max_abs_diff(plain, slice(Var(y), 0, i, i + 1).data()) < 1e-13);
  }
  // Different conditions give different layers (at initialization already).
  CHECK(max_abs_diff(slice(gl.weight, 0, 0, 1).data(), slice(gl.weight, 0, 1, 2).data()) > 1e-3);
  // Permuting the batch permutes the output: no row sees another row's condition.
  const std::vector<int64_t> perm{3, 0, 5, 1, 4, 2};
  const Tensor yp = layer.forward(Var(permute_rows(h, perm)), Var(permute_rows(c, perm))).data();
  CHECK(max_abs_diff(yp, permute_rows(y, perm)) < 1e-13);
  // The output layer's bias holds an orthogonal base layer: with the output weights zeroed the generated
  // W has orthonormal rows (3 ≤ 5) and b = 0 for every condition.
  for (const auto& [n, v] : layer.named_parameters())
    if (n == "hyper.layers.1.weight") {
      Var w = v;
      w.data().fill_(0.0);
    }
  const GeneratedLayer base = layer.generate(Var(c));
  const Var w0 = reshape(slice(base.weight, 0, 2, 3), {3, 5});
  const std::vector<double> eye{1, 0, 0, 0, 1, 0, 0, 0, 1};
  CHECK(max_abs_diff(matmul(w0, transpose(w0)).data(), Tensor::from_vector(eye, {3, 3})) < 1e-12);
  CHECK(max_abs_diff(base.bias.data(), Tensor::zeros({n, 3}, DType::F64)) == 0.0);
  CHECK(contains(error_of([&] { layer.forward(Var(h), Var(Tensor::zeros({n, 3}, DType::F64))); }),
                 "argument 'c' must be [n = 6, 4]"));
  CHECK(contains(error_of([&] { layer.forward(Var(Tensor::zeros({n, 4}, DType::F64)), Var(c)); }),
                 "argument 'h' must be [n, 5]"));
}

TEST_CASE("ot: FiLM starts as its plain layer and concat is a linear layer on [h, c]") {
  Generator gen(2);
  ConditionedLinearConfig cfg;
  cfg.in_features = 4;
  cfg.out_features = 3;
  cfg.condition_dim = 2;
  cfg.kind = ConditioningKind::Film;
  ConditionedLinear film(cfg, gen, DType::F64);
  const Tensor h = gen.normal({5, 4}, 0, 1, DType::F64), c = gen.normal({5, 2}, 0, 1, DType::F64);
  Var w, b;
  for (const auto& [n, v] : film.named_parameters()) {
    if (n == "linear.weight") w = v;
    if (n == "linear.bias") b = v;
  }
  CHECK(max_abs_diff(film.forward(Var(h), Var(c)).data(), nn::linear(Var(h), w, b).data()) < 1e-14);
  CHECK(contains(error_of([&] { film.generate(Var(c)); }), "only the hypernetwork generates layers"));

  cfg.kind = ConditioningKind::Concat;
  ConditionedLinear cat(cfg, gen, DType::F64);
  for (const auto& [n, v] : cat.named_parameters()) {
    if (n == "linear.weight") w = v;
    if (n == "linear.bias") b = v;
  }
  REQUIRE(w.shape() == Shape{3, 6});
  CHECK(max_abs_diff(cat.forward(Var(h), Var(c)).data(), nn::linear(concat({Var(h), Var(c)}, 1), w, b).data()) <
        1e-14);
  CHECK(contains(error_of([] { parse_conditioning("adain"); }), "hypernet, concat, film"));
}

TEST_CASE("ot: NCTM layers pass f64 first- and second-order gradchecks") {
  Generator gen(11);
  for (ConditioningKind kind : {ConditioningKind::Hypernetwork, ConditioningKind::Concat, ConditioningKind::Film}) {
    CAPTURE(name(kind));
    ConditionedLinearConfig cfg;
    cfg.in_features = 3;
    cfg.out_features = 2;
    cfg.condition_dim = 2;
    cfg.hyper_hidden = {4};
    cfg.kind = kind;
    ConditionedLinear layer(cfg, gen, DType::F64);
    const std::vector<Tensor> inputs{gen.normal({4, 3}, 0, 1, DType::F64), gen.normal({4, 2}, 0, 1, DType::F64)};
    auto f = [&](const std::vector<Var>& v) { return layer.forward(v[0], v[1]); };
    const auto r1 = autograd::gradcheck(f, inputs);
    CHECK_MESSAGE(r1.ok, r1.report);
    const auto r2 = autograd::gradgradcheck(f, inputs);
    CHECK_MESSAGE(r2.ok, r2.report);
  }
  // The continuous encodings and the whole network, first order in the inputs (x, c, p).
  ResidualBlocks blocks(3, 2, "silu", gen, DType::F64);
  {
    auto f = [&](const std::vector<Var>& v) { return blocks.forward(v[0]); };
    const auto r1 = autograd::gradcheck(f, {gen.normal({4, 3}, 0, 1, DType::F64)});
    CHECK_MESSAGE(r1.ok, r1.report);
    const auto r2 = autograd::gradgradcheck(f, {gen.normal({4, 3}, 0, 1, DType::F64)});
    CHECK_MESSAGE(r2.ok, r2.report);
  }
  {
    auto f = [](const std::vector<Var>& v) { return positional_encoding(v[0], 6, 2.0); };
    const auto r1 = autograd::gradcheck(f, {gen.uniform({5}, 0, 1, DType::F64)});
    CHECK_MESSAGE(r1.ok, r1.report);
  }
  ConditionalNetworkConfig net;
  net.in_dim = 2;
  net.out_dim = 2;
  net.width = 4;
  net.encoder_blocks = 1;
  net.decoder_blocks = 1;
  net.condition_dim = 3;
  net.hyper_hidden = {4};
  ConditionalNetwork network(net, gen, DType::F64);
  auto f = [&](const std::vector<Var>& v) { return network.forward(v[0], v[1]); };
  const auto r = autograd::gradcheck(f, {gen.normal({3, 2}, 0, 1, DType::F64), gen.normal({3, 3}, 0, 1, DType::F64)});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("ot: ResidualBlocks use orthogonal weights and zero biases, and check their input") {
  Generator gen(5);
  ResidualBlocks blocks(6, 2, "silu", gen, DType::F64);
  CHECK(blocks.num_blocks() == 2);
  int checked = 0;
  for (const auto& [n, v] : blocks.named_parameters()) {
    if (n.find("fc") == std::string::npos) continue;
    if (n.find("weight") != std::string::npos) {
      const Tensor wtw = matmul(transpose(v), v).data();
      Tensor eye = Tensor::zeros({6, 6}, DType::F64);
      std::vector<double> e(36, 0.0);
      for (int i = 0; i < 6; ++i) e[i * 7] = 1.0;
      CHECK(max_abs_diff(wtw, Tensor::from_vector(e, {6, 6})) < 1e-12);
      ++checked;
    } else {
      CHECK(max_abs_diff(v.data(), Tensor::zeros({6}, DType::F64)) == 0.0);
    }
  }
  CHECK(checked == 4);
  CHECK(contains(error_of([&] { blocks.forward(Var(Tensor::zeros({2, 5}, DType::F64))); }), "'h' must be [n, 6]"));
}
