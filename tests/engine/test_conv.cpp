// Convolution ops and modules: conv2d, conv_transpose2d and conv2d_weight against direct f64 loops
// (the textbook sums, not im2col), the adjoint identity <conv2d(x), y> = <x, conv_transpose2d(y)>,
// batches large enough to be split into column chunks, f32 against f64, nn::Conv2d /
// nn::ConvTranspose2d names, shapes and PyTorch's init bounds, and argument errors.
// First- and second-order gradients are checked by the op table (op_cases.cpp, test_gradcheck.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine/nn/conv.h"
#include "engine/ops/ops.h"

using namespace brenier;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_vector(v, shape);
}

void check_close(const Tensor& got, const Tensor& expected, double tol) {
  REQUIRE(got.shape() == expected.shape());
  const std::vector<double> g = got.to_vector<double>(), e = expected.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - e[i]) / (1 + std::abs(e[i]));
    if (err > worst) worst = err, at = i;
  }
  INFO("worst relative error ", worst, " at flat index ", at);
  CHECK(worst <= tol);
}

// y[n, o, oy, ox] = b[o] + sum_{c, i, j} x[n, c, oy*s - p + i, ox*s - p + j] w[o, c, i, j].
Tensor direct_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t s, int64_t p) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t o = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t ho = (h + 2 * p - kh) / s + 1, wo = (wd + 2 * p - kw) / s + 1;
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> y(static_cast<size_t>(n * o * ho * wo), 0.0);
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double acc = b.defined() ? b.at({oc}) : 0.0;
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t iy = oy * s - p + i, ix = ox * s - p + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += xv[((in * c + ic) * h + iy) * wd + ix] * wv[((oc * c + ic) * kh + i) * kw + j];
              }
          y[((in * o + oc) * ho + oy) * wo + ox] = acc;
        }
  return Tensor::from_vector(y, {n, o, ho, wo});
}

// Scatter form: y[n, o, iy*s - p + i, ix*s - p + j] += x[n, c, iy, ix] w[c, o, i, j], plus b[o].
Tensor direct_conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t s, int64_t p, int64_t op) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t o = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t ho = (h - 1) * s - 2 * p + kh + op, wo = (wd - 1) * s - 2 * p + kw + op;
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> y(static_cast<size_t>(n * o * ho * wo), 0.0);
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oc = 0; oc < o; ++oc) {
      for (int64_t k = 0; k < ho * wo; ++k) y[(in * o + oc) * ho * wo + k] = b.defined() ? b.at({oc}) : 0.0;
      for (int64_t ic = 0; ic < c; ++ic)
        for (int64_t iy = 0; iy < h; ++iy)
          for (int64_t ix = 0; ix < wd; ++ix)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t oy = iy * s - p + i, ox = ix * s - p + j;
                if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
                y[((in * o + oc) * ho + oy) * wo + ox] +=
                    xv[((in * c + ic) * h + iy) * wd + ix] * wv[((ic * o + oc) * kh + i) * kw + j];
              }
    }
  return Tensor::from_vector(y, {n, o, ho, wo});
}

// dw[o, c, i, j] = sum_{n, oy, ox} g[n, o, oy, ox] x[n, c, oy*s - p + i, ox*s - p + j].
Tensor direct_conv2d_weight(const Tensor& x, const Tensor& g, int64_t kh, int64_t kw, int64_t s, int64_t p) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t o = g.size(1), ho = g.size(2), wo = g.size(3);
  const std::vector<double> xv = x.to_vector<double>(), gv = g.to_vector<double>();
  std::vector<double> dw(static_cast<size_t>(o * c * kh * kw), 0.0);
  for (int64_t oc = 0; oc < o; ++oc)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j) {
          double acc = 0;
          for (int64_t in = 0; in < n; ++in)
            for (int64_t oy = 0; oy < ho; ++oy)
              for (int64_t ox = 0; ox < wo; ++ox) {
                const int64_t iy = oy * s - p + i, ix = ox * s - p + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += gv[((in * o + oc) * ho + oy) * wo + ox] * xv[((in * c + ic) * h + iy) * wd + ix];
              }
          dw[((oc * c + ic) * kh + i) * kw + j] = acc;
        }
  return Tensor::from_vector(dw, {o, c, kh, kw});
}

double inner(const Tensor& a, const Tensor& b) {
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < av.size(); ++i) s += av[i] * bv[i];
  return s;
}

struct Geometry {
  Shape x, w;
  int64_t stride, padding;
};
// Odd and even sizes, non-square kernels and images, strides 1-3, paddings 0-2, 1x1 kernels.
const std::vector<Geometry> kGeometries = {
    {{2, 3, 7, 5}, {4, 3, 3, 3}, 2, 1}, {{1, 2, 6, 6}, {3, 2, 4, 4}, 2, 1}, {{3, 1, 5, 8}, {2, 1, 1, 1}, 1, 0},
    {{2, 3, 9, 9}, {2, 3, 5, 5}, 3, 2},  {{2, 2, 4, 7}, {3, 2, 3, 2}, 1, 1}, {{1, 4, 3, 3}, {5, 4, 3, 3}, 1, 2},
};

}  // namespace

TEST_CASE("conv2d: forward equals the direct sum (f64), with and without bias, several geometries") {
  uint64_t seed = 1;
  for (const Geometry& g : kGeometries) {
    CAPTURE(shape_str(g.x));
    CAPTURE(shape_str(g.w));
    CAPTURE(g.stride);
    CAPTURE(g.padding);
    const Tensor x = random_tensor(g.x, seed++), w = random_tensor(g.w, seed++), b = random_tensor({g.w[0]}, seed++);
    check_close(conv2d(Var(x), Var(w), {}, g.stride, g.padding).data(), direct_conv2d(x, w, {}, g.stride, g.padding),
                1e-13);
    check_close(conv2d(Var(x), Var(w), Var(b), g.stride, g.padding).data(),
                direct_conv2d(x, w, b, g.stride, g.padding), 1e-13);
  }
}

TEST_CASE("conv_transpose2d: forward equals the direct scatter sum (f64), output sizes with output_padding") {
  uint64_t seed = 100;
  for (const Geometry& g : kGeometries) {
    for (int64_t op = 0; op < g.stride; ++op) {
      CAPTURE(shape_str(g.x));
      CAPTURE(shape_str(g.w));
      CAPTURE(op);
      // Transposed layout: weight [in = C, out, kh, kw].
      const Shape ws{g.x[1], g.w[0], g.w[2], g.w[3]};
      const Tensor x = random_tensor(g.x, seed++), w = random_tensor(ws, seed++), b = random_tensor({ws[1]}, seed++);
      const Var y = conv_transpose2d(Var(x), Var(w), Var(b), g.stride, g.padding, op);
      CHECK(y.shape() == Shape{g.x[0], ws[1], (g.x[2] - 1) * g.stride - 2 * g.padding + ws[2] + op,
                               (g.x[3] - 1) * g.stride - 2 * g.padding + ws[3] + op});
      check_close(y.data(), direct_conv_transpose2d(x, w, b, g.stride, g.padding, op), 1e-13);
    }
  }
}

TEST_CASE("conv2d_weight: equals the direct sum and the weight gradient of conv2d") {
  uint64_t seed = 200;
  for (const Geometry& g : kGeometries) {
    CAPTURE(shape_str(g.x));
    CAPTURE(shape_str(g.w));
    const Tensor x = random_tensor(g.x, seed++), w = random_tensor(g.w, seed++);
    const Shape out = conv2d(Var(x), Var(w), {}, g.stride, g.padding).shape();
    const Tensor gout = random_tensor(out, seed++);
    const Var dw = conv2d_weight(Var(x), Var(gout), g.w[2], g.w[3], g.stride, g.padding);
    check_close(dw.data(), direct_conv2d_weight(x, gout, g.w[2], g.w[3], g.stride, g.padding), 1e-13);
    Var wv(w, true);
    auto grads = grad({conv2d(Var(x), wv, {}, g.stride, g.padding)}, {wv}, {Var(gout)});
    check_close(grads[0].data(), dw.data(), 1e-13);
  }
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d: <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>") {
  uint64_t seed = 300;
  for (const Geometry& g : kGeometries) {
    CAPTURE(shape_str(g.x));
    CAPTURE(shape_str(g.w));
    const Tensor x = random_tensor(g.x, seed++), w = random_tensor(g.w, seed++);
    const Var cx = conv2d(Var(x), Var(w), {}, g.stride, g.padding);
    const Tensor y = random_tensor(cx.shape(), seed++);
    // The rows conv2d's stride skipped come back as output padding (equal in H and W here, or
    // the geometry is skipped: the public op takes one output_padding).
    const int64_t rh = (g.x[2] + 2 * g.padding - g.w[2]) % g.stride, rw = (g.x[3] + 2 * g.padding - g.w[3]) % g.stride;
    if (rh != rw) continue;
    const Var ty = conv_transpose2d(Var(y), Var(w), {}, g.stride, g.padding, rh);
    REQUIRE(ty.shape() == x.shape());
    const double lhs = inner(cx.data(), y), rhs = inner(x, ty.data());
    CHECK(std::abs(lhs - rhs) <= 1e-12 * (1 + std::abs(lhs)));
  }
}

TEST_CASE("conv ops: batches split into column chunks give the direct results") {
  // 2 x [1, 1000, 1000] with a 3x3 kernel: 9M column entries per image, over the 8M-entry budget,
  // so every op runs one image per chunk (and conv2d / conv_transpose2d concatenate the chunks).
  const Tensor x = random_tensor({2, 1, 1000, 1000}, 400), w = random_tensor({1, 1, 3, 3}, 401);
  const Tensor y = conv2d(Var(x), Var(w), {}, 1, 1).data();
  check_close(y, direct_conv2d(x, w, {}, 1, 1), 1e-13);
  check_close(conv_transpose2d(Var(x), Var(w), {}, 1, 1).data(), direct_conv_transpose2d(x, w, {}, 1, 1, 0), 1e-13);
  check_close(conv2d_weight(Var(x), Var(y), 3, 3, 1, 1).data(), direct_conv2d_weight(x, y, 3, 3, 1, 1), 1e-12);
}

TEST_CASE("conv ops: f32 (oneDNN GEMMs) agrees with f64") {
  const Tensor x = random_tensor({4, 8, 16, 16}, 500), w = random_tensor({16, 8, 3, 3}, 501);
  const Tensor b = random_tensor({16}, 502);
  const Tensor ref = conv2d(Var(x), Var(w), Var(b), 2, 1).data();
  const Tensor got = conv2d(Var(x.to(DType::F32)), Var(w.to(DType::F32)), Var(b.to(DType::F32)), 2, 1).data();
  CHECK(got.dtype() == DType::F32);
  check_close(got, ref, 1e-5);
  const Tensor wt = random_tensor({8, 16, 4, 4}, 503);
  check_close(conv_transpose2d(Var(x.to(DType::F32)), Var(wt.to(DType::F32)), {}, 2, 1).data(),
              conv_transpose2d(Var(x), Var(wt), {}, 2, 1).data(), 1e-5);
}

TEST_CASE("nn::Conv2d and nn::ConvTranspose2d: names, shapes, PyTorch's default init bounds, forward") {
  Generator gen(3);
  nn::Conv2d conv(3, 8, 4, 2, 1, true, gen, DType::F64);
  auto names = conv.named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "weight");
  CHECK(names[1].first == "bias");
  CHECK(conv.weight.shape() == Shape{8, 3, 4, 4});
  CHECK(conv.bias.shape() == Shape{8});
  // kaiming_uniform_(a = sqrt 5): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in); bias the same bound.
  auto check_bound = [](const Tensor& t, double bound) {
    double lo = 0, hi = 0;
    for (double v : t.to_vector<double>()) lo = std::min(lo, v), hi = std::max(hi, v);
    CHECK(hi <= bound);
    CHECK(lo >= -bound);
    CHECK(hi > 0.8 * bound);  // filled, not zero: 384 uniform draws reach near the bound
    CHECK(lo < -0.8 * bound);
  };
  check_bound(conv.weight.data(), 1 / std::sqrt(3.0 * 16));
  const Tensor x = random_tensor({2, 3, 8, 8}, 600);
  const Var y = conv(Var(x));
  CHECK(y.shape() == Shape{2, 8, 4, 4});
  check_close(y.data(), direct_conv2d(x, conv.weight.data(), conv.bias.data(), 2, 1), 1e-13);

  nn::ConvTranspose2d deconv(8, 3, 4, 2, 1, 0, true, gen, DType::F64);
  CHECK(deconv.weight.shape() == Shape{8, 3, 4, 4});
  CHECK(deconv.named_parameters()[0].first == "weight");
  check_bound(deconv.weight.data(), 1 / std::sqrt(3.0 * 16));  // fan_in = weight.size(1) * k * k, as PyTorch
  CHECK(deconv(y).shape() == Shape{2, 3, 8, 8});  // inverts the Conv2d's shape change
  nn::Conv2d no_bias(2, 2, 3, 1, 1, false, gen);
  CHECK(no_bias.parameters().size() == 1);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias(Var(Tensor::ones({1, 2, 5, 5}))).shape() == Shape{1, 2, 5, 5});
}

TEST_CASE("conv ops: clear errors for wrong ranks, channel mismatches, empty outputs and bad arguments") {
  const Var x(Tensor::ones({2, 3, 5, 5}, DType::F64)), w(Tensor::ones({4, 3, 3, 3}, DType::F64));
  CHECK_THROWS_WITH_AS(conv2d(Var(Tensor::ones({3, 5, 5}, DType::F64)), w),
                       doctest::Contains("conv2d: argument 'x' must be 4-D [N, C, H, W], got f64[3, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Var(Tensor::ones({4, 3, 3}, DType::F64))),
                       doctest::Contains("argument 'weight' must be 4-D [out_channels, in_channels, kh, kw]"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Var(Tensor::ones({4, 2, 3, 3}, DType::F64))),
                       doctest::Contains("must have in_channels = 3 (dim 1 of 'x'"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Var(Tensor::ones({4, 3, 8, 3}, DType::F64)), {}, 1, 1),
                       doctest::Contains("the output height would be empty"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, {}, 0), doctest::Contains("'stride' must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, {}, 1, -1), doctest::Contains("'padding' must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Var(Tensor::ones({3}, DType::F64))),
                       doctest::Contains("argument 'bias' must be [4] (one per output channel)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Var(Tensor::ones({4, 3, 3, 3}, DType::F32))),
                       doctest::Contains("argument 'weight' must be f64 on cpu like 'x'"), Error);

  const Var wt(Tensor::ones({3, 2, 3, 3}, DType::F64));
  CHECK(conv_transpose2d(x, wt, {}, 2, 1, 1).shape() == Shape{2, 2, 10, 10});
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Var(Tensor::ones({2, 2, 3, 3}, DType::F64))),
                       doctest::Contains("must have in_channels = 3 (dim 1 of 'x'"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, wt, {}, 2, 1, 2),
                       doctest::Contains("'output_padding' must be in [0, stride = 2)"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(Var(Tensor::ones({1, 3, 1, 1}, DType::F64)), wt, {}, 1, 2),
                       doctest::Contains("the output height"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, wt, Var(Tensor::ones({3}, DType::F64))),
                       doctest::Contains("argument 'bias' must be [2]"), Error);

  CHECK_THROWS_WITH_AS(conv2d_weight(x, Var(Tensor::ones({2, 4, 4, 4}, DType::F64)), 3, 3, 1, 1),
                       doctest::Contains("argument 'grad_out' must be conv2d's output shape [N, O, Ho, Wo] = [2, 4, 5, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d_weight(x, Var(Tensor::ones({2, 4, 5, 5}, DType::F64)), 0, 3, 1, 1),
                       doctest::Contains("'kh' and 'kw' must be >= 1"), Error);

  CHECK_THROWS_WITH_AS(nn::Conv2d(3, 0, 3), doctest::Contains("'out_channels' must be > 0"), Error);
  CHECK_THROWS_WITH_AS(nn::ConvTranspose2d(3, 2, 3, 1, 0, 1), doctest::Contains("'output_padding' must be in [0, stride = 1)"),
                       Error);
}
