// 2-D convolution ops: conv2d, conv_transpose2d and conv2d_weight (conv2d's weight gradient).
//
// Values: im2col / col2im primitives plus the matmul primitive (oneDNN or loops on the CPU, cuBLAS on
// CUDA), one code path for f32 and f64 on every backend. The batch is processed in chunks so the
// column buffer [n, C*kh*kw, Ho*Wo] stays below kColumnBudget elements.
//
// Gradients: the three ops are each other's derivatives, so every backward is written in these same
// recorded ops and can be differentiated again (second order, and beyond):
//   y = conv2d(x, w):           dx = conv_transpose2d(g, w)    dw = conv2d_weight(x, g)
//   y = conv_transpose2d(x, w): dx = conv2d(g, w)              dw = conv2d_weight(g, x)
//   W = conv2d_weight(x, g):    dx = conv_transpose2d(g, G)    dg = conv2d(x, G)      (G = grad of W)
// conv_transpose2d inside a backward may need a different output padding along H and W (the rows
// and columns conv2d's stride skipped at the far edge), so the internal form takes both.
#include <algorithm>

#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;

namespace {

// Largest column buffer (elements) built at once: 8M elements = 32 MB in f32, 64 MB in f64. Big
// enough that each chunk's GEMM is large, small enough for a 512-image batch of 64x64 feature maps.
constexpr int64_t kColumnBudget = int64_t{1} << 23;

// Output length of a convolution along one dim (floor division, as PyTorch).
int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t padding) {
  return (in + 2 * padding - k) / stride + 1;
}

// Samples per chunk so that `per_sample` column elements times the chunk stay within budget.
int64_t chunk_size(int64_t batch, int64_t per_sample) {
  return std::clamp<int64_t>(kColumnBudget / std::max<int64_t>(per_sample, 1), 1, std::max<int64_t>(batch, 1));
}

// Applies `f` to consecutive batch chunks [start, stop) of tensors with a leading batch dim and
// concatenates the results along dim 0 (no copy when one chunk covers the batch).
template <class F>
Tensor over_batch_chunks(int64_t batch, int64_t chunk, F&& f) {
  if (chunk >= batch) return f(0, batch);
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < batch; start += chunk) parts.push_back(f(start, std::min(batch, start + chunk)));
  return prim::concat(parts, 0);
}
Tensor batch_slice(const Tensor& t, int64_t start, int64_t stop) {
  return start == 0 && stop == t.size(0) ? t : prim::slice(t, 0, start, stop, 1);
}

// --- values --------------------------------------------------------------------------------------

// x [N, C, H, W], w [O, C, kh, kw] -> [N, O, Ho, Wo].
Tensor conv2d_value(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding) {
  const int64_t n = x.size(0), o = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t ho = conv_out_size(x.size(2), kh, stride, padding), wo = conv_out_size(x.size(3), kw, stride, padding);
  if (n == 0) return Tensor::zeros({0, o, ho, wo}, x.dtype(), x.device());
  const Tensor w2 = w.reshape({o, -1});  // [O, C*kh*kw]
  Tensor y = over_batch_chunks(n, chunk_size(n, w2.size(1) * ho * wo), [&](int64_t a, int64_t b) {
    const Tensor cols = prim::im2col(batch_slice(x, a, b), kh, kw, stride, padding);  // [n, CKK, L]
    return prim::matmul(w2, cols);                                                    // [n, O, L]
  });
  return y.reshape({n, o, ho, wo});
}

// x [N, C, H, W], w [C, O, kh, kw] -> [N, O, (H-1)s - 2p + kh + oph, (W-1)s - 2p + kw + opw].
Tensor conv_transpose2d_value(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding, int64_t oph,
                              int64_t opw) {
  const int64_t n = x.size(0), c = x.size(1), o = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t hout = (x.size(2) - 1) * stride - 2 * padding + kh + oph;
  const int64_t wout = (x.size(3) - 1) * stride - 2 * padding + kw + opw;
  if (n == 0) return Tensor::zeros({0, o, hout, wout}, x.dtype(), x.device());
  const Tensor w2 = w.reshape({c, -1});  // [C, O*kh*kw]
  const int64_t hw = x.size(2) * x.size(3);
  return over_batch_chunks(n, chunk_size(n, w2.size(1) * hw), [&](int64_t a, int64_t b) {
    const Tensor x3 = batch_slice(x, a, b).reshape({b - a, c, hw});
    const Tensor cols = prim::matmul(w2, x3, true, false);  // [n, O*kh*kw, H*W]
    return prim::col2im(cols, {b - a, o, hout, wout}, kh, kw, stride, padding);
  });
}

// x [N, C, H, W], g [N, O, Ho, Wo] -> [O, C, kh, kw] = sum_n g_n cols(x_n)^T.
Tensor conv2d_weight_value(const Tensor& x, const Tensor& g, int64_t kh, int64_t kw, int64_t stride,
                           int64_t padding) {
  const int64_t n = x.size(0), c = x.size(1), o = g.size(1), l = g.size(2) * g.size(3);
  Tensor total = Tensor::zeros({o, c * kh * kw}, x.dtype(), x.device());
  const int64_t chunk = chunk_size(n, c * kh * kw * (l + o));  // the columns and the per-sample products
  for (int64_t a = 0; a < n; a += chunk) {
    const int64_t b = std::min(n, a + chunk);
    const Tensor cols = prim::im2col(batch_slice(x, a, b), kh, kw, stride, padding);  // [n, CKK, L]
    const Tensor g3 = batch_slice(g, a, b).reshape({b - a, o, l});
    const Tensor per_sample = prim::matmul(g3, cols, false, true);  // [n, O, CKK]
    total = prim::binary(prim::Binary::Add, total, prim::reduce(prim::Reduce::Sum, per_sample, {0}, false));
  }
  return total.reshape({o, c, kh, kw});
}

// --- recorded ops (arguments already checked) ------------------------------------------------------

Var conv2d_op(const Var& x, const Var& w, int64_t s, int64_t p);
Var conv_transpose2d_op(const Var& x, const Var& w, int64_t s, int64_t p, int64_t oph, int64_t opw);
Var conv2d_weight_op(const Var& x, const Var& g, int64_t kh, int64_t kw, int64_t s, int64_t p);

// The output padding that makes conv_transpose2d return x's size from conv2d's output: the input
// rows (columns) past the last window, which conv2d's stride skipped.
int64_t skipped(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) % s; }

Var conv2d_op(const Var& x, const Var& w, int64_t s, int64_t p) {
  return record("conv2d", conv2d_value(x.data(), w.data(), s, p), {x, w}, [s, p](const BackwardArgs& r) {
    const Var &x = r.inputs[0], &w = r.inputs[1], &g = r.grad;
    const int64_t kh = w.size(2), kw = w.size(3);
    Var dx, dw;
    if (r.needs[0])
      dx = conv_transpose2d_op(g, w, s, p, skipped(x.size(2), kh, s, p), skipped(x.size(3), kw, s, p));
    if (r.needs[1]) dw = conv2d_weight_op(x, g, kh, kw, s, p);
    return std::vector<Var>{dx, dw};
  });
}

Var conv_transpose2d_op(const Var& x, const Var& w, int64_t s, int64_t p, int64_t oph, int64_t opw) {
  return record("conv_transpose2d", conv_transpose2d_value(x.data(), w.data(), s, p, oph, opw), {x, w},
                [s, p](const BackwardArgs& r) {
                  const Var &x = r.inputs[0], &w = r.inputs[1], &g = r.grad;
                  Var dx, dw;
                  if (r.needs[0]) dx = conv2d_op(g, w, s, p);
                  if (r.needs[1]) dw = conv2d_weight_op(g, x, w.size(2), w.size(3), s, p);
                  return std::vector<Var>{dx, dw};
                });
}

Var conv2d_weight_op(const Var& x, const Var& g, int64_t kh, int64_t kw, int64_t s, int64_t p) {
  return record("conv2d_weight", conv2d_weight_value(x.data(), g.data(), kh, kw, s, p), {x, g},
                [kh, kw, s, p](const BackwardArgs& r) {
                  const Var &x = r.inputs[0], &g = r.inputs[1], &gw = r.grad;
                  Var dx, dg;
                  if (r.needs[0])
                    dx = conv_transpose2d_op(g, gw, s, p, skipped(x.size(2), kh, s, p), skipped(x.size(3), kw, s, p));
                  if (r.needs[1]) dg = conv2d_op(x, gw, s, p);
                  return std::vector<Var>{dx, dg};
                });
}

// --- argument checks -------------------------------------------------------------------------------

void check_4d(const Var& v, const char* op, const char* arg, const char* layout) {
  check_float_var(v, op, arg);
  BRENIER_CHECK(v.dim() == 4, "{}: argument '{}' must be 4-D {}, got {}", op, arg, layout, v.data().str());
}
void check_like(const Var& v, const Var& ref, const char* op, const char* arg, const char* ref_arg) {
  BRENIER_CHECK(v.dtype() == ref.dtype() && v.device() == ref.device(),
                "{}: argument '{}' must be {} on {} like '{}', got {}", op, arg, dtype_name(ref.dtype()),
                ref.device().str(), ref_arg, v.data().str());
}
void check_geometry(int64_t stride, int64_t padding, const char* op) {
  BRENIER_CHECK(stride >= 1, "{}: argument 'stride' must be >= 1, got {}", op, stride);
  BRENIER_CHECK(padding >= 0, "{}: argument 'padding' must be >= 0, got {}", op, padding);
}
void check_kernel(const Var& w, const char* op) {
  BRENIER_CHECK(w.size(2) >= 1 && w.size(3) >= 1, "{}: argument 'weight' must have a kernel of at least 1 x 1, got {}",
                op, w.data().str());
}
void check_bias(const Var& bias, const Var& x, int64_t channels, const char* op) {
  if (!bias.defined()) return;
  check_float_var(bias, op, "bias");
  check_like(bias, x, op, "bias", "x");
  BRENIER_CHECK(bias.shape() == Shape{channels}, "{}: argument 'bias' must be [{}] (one per output channel), got {}",
                op, channels, bias.data().str());
}
Var add_bias(const Var& y, const Var& bias) {
  return bias.defined() ? y + reshape(bias, {1, bias.size(0), 1, 1}) : y;
}

}  // namespace

Var conv2d(const Var& x, const Var& weight, const Var& bias, int64_t stride, int64_t padding) {
  check_4d(x, "conv2d", "x", "[N, C, H, W]");
  check_4d(weight, "conv2d", "weight", "[out_channels, in_channels, kh, kw]");
  check_like(weight, x, "conv2d", "weight", "x");
  check_geometry(stride, padding, "conv2d");
  check_kernel(weight, "conv2d");
  BRENIER_CHECK(weight.size(1) == x.size(1),
                "conv2d: argument 'weight' ({}) must have in_channels = {} (dim 1 of 'x' {}), got {}",
                weight.data().str(), x.size(1), x.data().str(), weight.size(1));
  for (int d : {2, 3})
    BRENIER_CHECK(x.size(d) + 2 * padding >= weight.size(d),
                  "conv2d: the output {} would be empty: 'x' ({}) padded by {} is {} < the kernel's {} ({}); "
                  "pad more or use a smaller kernel",
                  d == 2 ? "height" : "width", x.data().str(), padding, x.size(d) + 2 * padding, weight.size(d),
                  weight.data().str());
  check_bias(bias, x, weight.size(0), "conv2d");
  return add_bias(conv2d_op(x, weight, stride, padding), bias);
}

Var conv_transpose2d(const Var& x, const Var& weight, const Var& bias, int64_t stride, int64_t padding,
                     int64_t output_padding) {
  check_4d(x, "conv_transpose2d", "x", "[N, C, H, W]");
  check_4d(weight, "conv_transpose2d", "weight", "[in_channels, out_channels, kh, kw]");
  check_like(weight, x, "conv_transpose2d", "weight", "x");
  check_geometry(stride, padding, "conv_transpose2d");
  check_kernel(weight, "conv_transpose2d");
  BRENIER_CHECK(output_padding >= 0 && output_padding < stride,
                "conv_transpose2d: argument 'output_padding' must be in [0, stride = {}), got {}", stride,
                output_padding);
  BRENIER_CHECK(weight.size(0) == x.size(1),
                "conv_transpose2d: argument 'weight' ({}) must have in_channels = {} (dim 1 of 'x' {}) in dim 0, "
                "got {}",
                weight.data().str(), x.size(1), x.data().str(), weight.size(0));
  BRENIER_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "conv_transpose2d: argument 'x' must have H, W >= 1, got {}",
                x.data().str());
  for (int d : {2, 3}) {
    const int64_t out = (x.size(d) - 1) * stride - 2 * padding + weight.size(d) + output_padding;
    BRENIER_CHECK(out >= 1,
                  "conv_transpose2d: the output {} (x.size({}) - 1) * stride - 2 * padding + kernel + output_padding "
                  "= {} must be > 0, for 'x' {}, 'weight' {}, stride {}, padding {}",
                  d == 2 ? "height" : "width", d, out, x.data().str(), weight.data().str(), stride, padding);
  }
  check_bias(bias, x, weight.size(1), "conv_transpose2d");
  return add_bias(conv_transpose2d_op(x, weight, stride, padding, output_padding, output_padding), bias);
}

Var conv2d_weight(const Var& x, const Var& grad_out, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  check_4d(x, "conv2d_weight", "x", "[N, C, H, W]");
  check_4d(grad_out, "conv2d_weight", "grad_out", "[N, O, Ho, Wo]");
  check_like(grad_out, x, "conv2d_weight", "grad_out", "x");
  check_geometry(stride, padding, "conv2d_weight");
  BRENIER_CHECK(kh >= 1 && kw >= 1, "conv2d_weight: arguments 'kh' and 'kw' must be >= 1, got {} and {}", kh, kw);
  BRENIER_CHECK(x.size(2) + 2 * padding >= kh && x.size(3) + 2 * padding >= kw,
                "conv2d_weight: a {} x {} kernel does not fit 'x' ({}) padded by {}", kh, kw, x.data().str(), padding);
  const Shape expected{x.size(0), grad_out.size(1), conv_out_size(x.size(2), kh, stride, padding),
                       conv_out_size(x.size(3), kw, stride, padding)};
  BRENIER_CHECK(grad_out.shape() == expected,
                "conv2d_weight: argument 'grad_out' must be conv2d's output shape [N, O, Ho, Wo] = {} for 'x' {}, "
                "a {} x {} kernel, stride {}, padding {}; got {}",
                shape_str(expected), x.data().str(), kh, kw, stride, padding, grad_out.data().str());
  return conv2d_weight_op(x, grad_out, kh, kw, stride, padding);
}

}  // namespace brenier
