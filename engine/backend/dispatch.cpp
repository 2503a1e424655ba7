// Routes each primitive to its backend after checking the arguments once, here: defined tensors,
// dtypes, one device for all tensor arguments, compatible shapes, dims in range, index values in
// range. Backends receive normalized arguments (wrapped dims, resolved slice bounds) and trust them.
// Every message names the op, the argument, what was expected and what was given.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "engine/backend/cpu/conv.h"
#include "engine/backend/cpu/cpu.h"
#ifdef BRENIER_WITH_CUDA
#include "engine/backend/cuda/conv.h"
#include "engine/backend/cuda/cuda.h"
#endif
#include "engine/backend/device_memory.h"
#include "engine/backend/primitives.h"
#include "engine/profiler.h"

namespace brenier::prim {
namespace {

#ifndef BRENIER_WITH_CUDA
[[noreturn]] void no_backend(const char* op, Device d) {
  throw Error(fmt::format("{}: device {} needs the CUDA backend, and this brenier was built without "
                          "it; reconfigure with -Dcuda=enabled on a machine with nvcc, or move the "
                          "tensors to 'cpu'",
                          op, d.str()));
}
#endif

// The one place a primitive picks its backend: cpu::fn(args...) for host tensors, cuda::fn(args...)
// for CUDA tensors in a CUDA build (all tensor arguments were checked to share one device, so the
// first one's device decides). The call is timed while the profiler records (engine/profiler.h).
#ifdef BRENIER_WITH_CUDA
#define BRENIER_ROUTE(op, first, fn, ...)  \
  const profiler::OpScope profile_scope_((op), (first)); \
  return (first).device().is_cpu() ? cpu::fn(__VA_ARGS__) : cuda::fn(__VA_ARGS__)
#else
#define BRENIER_ROUTE(op, first, fn, ...)                        \
  do {                                                           \
    const profiler::OpScope profile_scope_((op), (first));       \
    if ((first).device().is_cpu()) return cpu::fn(__VA_ARGS__);  \
    no_backend(op, (first).device());                            \
  } while (0)
#endif

using Named = std::pair<const char*, const Tensor*>;  // (argument name, tensor)

void require_floating(const Tensor& t, const char* op, const char* arg) {
  BRENIER_CHECK(is_floating(t.dtype()), "{}: argument '{}' must be f32 or f64, got {}", op, arg,
                t.str());
}
void require_i64(const Tensor& t, const char* op, const char* arg) {
  BRENIER_CHECK(t.dtype() == DType::I64, "{}: argument '{}' must be an i64 index tensor, got {}",
                op, arg, t.str());
}
// Every tensor defined, and all on the first one's device.
void require_defined_same_device(const char* op, std::initializer_list<Named> args) {
  for (const auto& [name, t] : args) check_defined(*t, op, name);
  const auto& [first_name, first] = *args.begin();
  for (const auto& [name, t] : args)
    BRENIER_CHECK(t->device() == first->device(),
                  "{}: argument '{}' must be on {} like '{}', got {}", op, name,
                  first->device().str(), first_name, t->str());
}
void require_same_dtype(const char* op, const Named& a, const Named& b) {
  BRENIER_CHECK(a.second->dtype() == b.second->dtype(),
                "{}: argument '{}' must have dtype {} like '{}', got {}", op, b.first,
                dtype_name(a.second->dtype()), a.first, b.second->str());
}
void require_rank_at_least(const Tensor& t, int64_t rank, const char* op, const char* arg) {
  BRENIER_CHECK(t.dim() >= rank, "{}: argument '{}' must have at least {} dim(s), got {}", op, arg,
                rank, t.str());
}
void require_shape_sizes(const Shape& s, const char* op, const char* arg) {
  for (int64_t d : s)
    BRENIER_CHECK(d >= 0, "{}: argument '{}' must have sizes >= 0, got {}", op, arg, shape_str(s));
}

// NumPy broadcast of two named shapes; the message names both arguments.
Shape broadcast_named(const char* op, const char* an, const Shape& a, const char* bn, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    BRENIER_CHECK(da == db || da == 1 || db == 1,
                  "{}: arguments '{}' {} and '{}' {} must broadcast (NumPy rules: equal sizes or "
                  "1, aligned from the right), got {} vs {} at dim {} of the result",
                  op, an, shape_str(a), bn, shape_str(b), da, db, i);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Every value of the i64 tensor `index` in [0, size); `what` says where size comes from.
void require_index_range(const Tensor& index, int64_t size, const char* op, const char* arg,
                         const std::string& what) {
  // A graph being captured cannot read the index on the host; its eager warm-up ran this check.
  if (backend::graph_capture_active(index.device())) return;
  const Tensor host = index.to(Device::cpu());
  const int64_t* p = host.data<int64_t>();
  for (int64_t i = 0, n = host.numel(); i < n; ++i)
    BRENIER_CHECK(p[i] >= 0 && p[i] < size,
                  "{}: argument '{}' must hold values in [0, {}) ({}), got {} at flat index {}", op,
                  arg, size, what, p[i], i);
}

// Python-style slice bounds: negative start/stop count from the end, then clamp to [0, size].
struct SliceRange {
  int64_t start, count;
};
SliceRange resolve_slice(int64_t size, int64_t start, int64_t stop, int64_t step, const char* op) {
  BRENIER_CHECK(step >= 1, "{}: argument 'step' must be >= 1, got {}", op, step);
  auto clamp_bound = [size](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + size : v, 0, size); };
  const int64_t lo = clamp_bound(start), hi = clamp_bound(stop);
  return {lo, hi > lo ? (hi - lo + step - 1) / step : 0};
}

bool is_floating_only(Binary op) {
  return op == Binary::Div || op == Binary::Pow || op == Binary::SiluBackward;
}

}  // namespace

const char* unary_name(Unary op) {
  switch (op) {
    case Unary::Neg: return "neg";
    case Unary::Exp: return "exp";
    case Unary::Log: return "log";
    case Unary::Sqrt: return "sqrt";
    case Unary::Abs: return "abs";
    case Unary::Sign: return "sign";
    case Unary::Square: return "square";
    case Unary::Reciprocal: return "reciprocal";
    case Unary::Relu: return "relu";
    case Unary::LeakyRelu: return "leaky_relu";
    case Unary::Celu: return "celu";
    case Unary::Softplus: return "softplus";
    case Unary::Sigmoid: return "sigmoid";
    case Unary::Tanh: return "tanh";
    case Unary::Silu: return "silu";
    case Unary::Gelu: return "gelu";
    case Unary::Sin: return "sin";
    case Unary::Cos: return "cos";
    case Unary::PowScalar: return "pow_scalar";
    case Unary::Step: return "step";
    case Unary::CeluGrad: return "celu_grad";
    case Unary::CeluGrad2: return "celu_grad2";
    case Unary::LeakyReluGrad: return "leaky_relu_grad";
    case Unary::GeluGrad: return "gelu_grad";
    case Unary::GeluGrad2: return "gelu_grad2";
    case Unary::SiluGrad: return "silu_grad";
    case Unary::SiluGrad2: return "silu_grad2";
    case Unary::Erf: return "erf";
  }
  return "unary";
}

const char* binary_name(Binary op) {
  switch (op) {
    case Binary::Add: return "add";
    case Binary::Sub: return "sub";
    case Binary::Mul: return "mul";
    case Binary::Div: return "div";
    case Binary::Pow: return "pow";
    case Binary::Maximum: return "maximum";
    case Binary::Minimum: return "minimum";
    case Binary::Eq: return "eq";
    case Binary::Ne: return "ne";
    case Binary::Lt: return "lt";
    case Binary::Le: return "le";
    case Binary::Gt: return "gt";
    case Binary::Ge: return "ge";
    case Binary::SiluBackward: return "silu_backward";
  }
  return "binary";
}

// --- element-wise ---------------------------------------------------------------------------

Tensor unary(Unary op, const Tensor& x, double p) {
  const char* name = unary_name(op);
  check_defined(x, name, "x");
  require_floating(x, name, "x");
  if (op == Unary::Celu || op == Unary::CeluGrad || op == Unary::CeluGrad2)
    BRENIER_CHECK(p != 0.0 && !std::isnan(p), "{}: argument 'p' (alpha) must be nonzero, got {}",
                  name, p);
  BRENIER_ROUTE(name, x, unary, op, x, p);
}

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  require_defined_same_device(name, {{"a", &a}, {"b", &b}});
  require_same_dtype(name, {"a", &a}, {"b", &b});
  if (is_floating_only(op)) require_floating(a, name, "a");
  broadcast_named(name, "a", a.shape(), "b", b.shape());
  BRENIER_ROUTE(name, a, binary, op, a, b);
}

Tensor binary_scalar(Binary op, const Tensor& a, double s) {
  const char* name = binary_name(op);
  check_defined(a, name, "a");
  if (is_floating_only(op)) require_floating(a, name, "a");
  if (a.dtype() == DType::I64)
    BRENIER_CHECK(std::trunc(s) == s && std::abs(s) < 9.2e18,
                  "{}: argument 's' must be an integer for an i64 tensor 'a' ({}), got {}", name,
                  a.str(), s);
  BRENIER_ROUTE(name, a, binary_scalar, op, a, s);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  require_defined_same_device("where", {{"cond", &cond}, {"a", &a}, {"b", &b}});
  require_same_dtype("where", {"a", &a}, {"b", &b});
  const Shape ab = broadcast_named("where", "a", a.shape(), "b", b.shape());
  broadcast_named("where", "cond", cond.shape(), "a and b", ab);
  BRENIER_ROUTE("where", a, where, cond, a, b);
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  check_defined(x, "clamp", "x");
  BRENIER_CHECK(!std::isnan(lo) && !std::isnan(hi) && lo <= hi,
                "clamp: arguments 'lo' and 'hi' must satisfy lo <= hi (±inf allowed), got lo={}, hi={}",
                lo, hi);
  BRENIER_ROUTE("clamp", x, clamp, x, lo, hi);
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(x, "cast", "x");
  BRENIER_ROUTE("cast", x, cast, x, dtype);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  check_defined(x, "broadcast_to", "x");
  require_shape_sizes(shape, "broadcast_to", "shape");
  const Shape& xs = x.shape();
  bool ok = xs.size() <= shape.size();
  for (size_t i = 0; ok && i < xs.size(); ++i) {
    const int64_t have = xs[xs.size() - 1 - i], want = shape[shape.size() - 1 - i];
    ok = have == want || have == 1;
  }
  BRENIER_CHECK(ok,
                "broadcast_to: argument 'x' ({}) cannot be broadcast to argument 'shape' {}: "
                "each dim of x, aligned from the right, must equal the target's or be 1",
                x.str(), shape_str(shape));
  BRENIER_ROUTE("broadcast_to", x, broadcast_to, x, shape);
}

// --- reductions -----------------------------------------------------------------------------

Tensor reduce(Reduce op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const char* name = op == Reduce::Sum ? "sum" : op == Reduce::Max ? "max" : "min";
  check_defined(x, name, "x");
  std::vector<int64_t> wrapped;
  if (x.dim() > 0) {
    for (int64_t d : dims) wrapped.push_back(wrap_dim(d, x.dim(), name, "dims"));
    std::sort(wrapped.begin(), wrapped.end());
    BRENIER_CHECK(std::adjacent_find(wrapped.begin(), wrapped.end()) == wrapped.end(),
                  "{}: argument 'dims' must name each dim once, got [{}] for {}", name,
                  fmt::join(dims, ", "), x.str());
    if (wrapped.empty())
      for (int64_t d = 0; d < x.dim(); ++d) wrapped.push_back(d);
  } else {
    for (int64_t d : dims) wrap_dim(d, 0, name, "dims");  // only -1 and 0 name a 0-d tensor
  }
  if (op != Reduce::Sum)
    for (int64_t d : wrapped)
      BRENIER_CHECK(x.size(d) > 0,
                    "{}: argument 'x' ({}) has size 0 along reduced dim {}; the {} of an empty "
                    "set is undefined (reduce over non-empty dims)",
                    name, x.str(), d, name);
  BRENIER_ROUTE(name, x, reduce, op, x, wrapped, keepdim);
}

Tensor argreduce(bool is_max, const Tensor& x, int64_t dim, bool keepdim) {
  const char* name = is_max ? "argmax" : "argmin";
  check_defined(x, name, "x");
  const int64_t d = wrap_dim(dim, x.dim(), name);
  if (x.dim() > 0)
    BRENIER_CHECK(x.size(d) > 0,
                  "{}: argument 'x' ({}) has size 0 along dim {}; there is no element to pick",
                  name, x.str(), d);
  BRENIER_ROUTE(name, x, argreduce, is_max, x, d, keepdim);
}

std::vector<Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  check_defined(x, "topk", "x");
  require_rank_at_least(x, 1, "topk", "x");
  const int64_t d = wrap_dim(dim, x.dim(), "topk");
  BRENIER_CHECK(k >= 0 && k <= x.size(d),
                "topk: argument 'k' must be in [0, {}] (the size of dim {} of 'x' {}), got {}",
                x.size(d), d, x.str(), k);
  BRENIER_ROUTE("topk", x, topk, x, k, d, largest);
}

Tensor bincount(const Tensor& index, int64_t minlength) {
  check_defined(index, "bincount", "index");
  require_i64(index, "bincount", "index");
  BRENIER_CHECK(index.dim() == 1, "bincount: argument 'index' must be 1-D, got {}", index.str());
  BRENIER_CHECK(minlength >= 0, "bincount: argument 'minlength' must be >= 0, got {}", minlength);
  const Tensor host = index.to(Device::cpu());
  const int64_t* p = host.data<int64_t>();
  for (int64_t i = 0; i < host.numel(); ++i)
    BRENIER_CHECK(p[i] >= 0, "bincount: argument 'index' must hold values >= 0, got {} at index {}",
                  p[i], i);
  BRENIER_ROUTE("bincount", index, bincount, index, minlength);
}

// --- linear algebra and normalization ---------------------------------------------------------

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  require_defined_same_device("matmul", {{"a", &a}, {"b", &b}});
  require_floating(a, "matmul", "a");
  require_same_dtype("matmul", {"a", &a}, {"b", &b});
  for (const auto& [name, t] : {Named{"a", &a}, Named{"b", &b}})
    BRENIER_CHECK(t->dim() == 2 || t->dim() == 3,
                  "matmul: argument '{}' must be 2-D [rows, cols] or 3-D [batch, rows, cols], got {}",
                  name, t->str());
  const int64_t ka = trans_a ? a.size(-2) : a.size(-1);
  const int64_t kb = trans_b ? b.size(-1) : b.size(-2);
  BRENIER_CHECK(ka == kb,
                "matmul: argument 'b' must have {} {} to match 'a' ({}{}), got {}{}", ka,
                trans_b ? "columns" : "rows", a.str(), trans_a ? ", transposed" : "", b.str(),
                trans_b ? ", transposed" : "");
  if (a.dim() == 3 && b.dim() == 3)
    BRENIER_CHECK(a.size(0) == b.size(0) || a.size(0) == 1 || b.size(0) == 1,
                  "matmul: arguments 'a' and 'b' must have equal batch sizes or one of them 1, "
                  "got {} and {}",
                  a.str(), b.str());
  BRENIER_ROUTE("matmul", a, matmul, a, b, trans_a, trans_b);
}

namespace {
// Kernel, stride and padding of the conv column primitives, and the output size they imply.
void require_conv_geometry(const Shape& image, int64_t kh, int64_t kw, int64_t stride, int64_t padding,
                           const char* op, const char* arg) {
  BRENIER_CHECK(kh >= 1 && kw >= 1, "{}: arguments 'kh' and 'kw' must be >= 1, got {} and {}", op, kh, kw);
  BRENIER_CHECK(stride >= 1, "{}: argument 'stride' must be >= 1, got {}", op, stride);
  BRENIER_CHECK(padding >= 0, "{}: argument 'padding' must be >= 0, got {}", op, padding);
  BRENIER_CHECK(image[2] + 2 * padding >= kh && image[3] + 2 * padding >= kw,
                "{}: argument '{}' {} padded by {} must be at least the {} x {} kernel in H and W", op, arg,
                shape_str(image), padding, kh, kw);
}
}  // namespace

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  check_defined(x, "im2col", "x");
  require_floating(x, "im2col", "x");
  BRENIER_CHECK(x.dim() == 4, "im2col: argument 'x' must be 4-D [N, C, H, W], got {}", x.str());
  require_conv_geometry(x.shape(), kh, kw, stride, padding, "im2col", "x");
  BRENIER_ROUTE("im2col", x, im2col, x, kh, kw, stride, padding);
}

Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride,
              int64_t padding) {
  check_defined(cols, "col2im", "cols");
  require_floating(cols, "col2im", "cols");
  BRENIER_CHECK(image_shape.size() == 4, "col2im: argument 'image_shape' must be 4-D [N, C, H, W], got {}",
                shape_str(image_shape));
  require_shape_sizes(image_shape, "col2im", "image_shape");
  require_conv_geometry(image_shape, kh, kw, stride, padding, "col2im", "image_shape");
  const int64_t ho = (image_shape[2] + 2 * padding - kh) / stride + 1;
  const int64_t wo = (image_shape[3] + 2 * padding - kw) / stride + 1;
  const Shape expected{image_shape[0], image_shape[1] * kh * kw, ho * wo};
  BRENIER_CHECK(cols.shape() == expected,
                "col2im: argument 'cols' must be [N, C*kh*kw, Ho*Wo] = {} for image {}, a {} x {} kernel, "
                "stride {}, padding {}; got {}",
                shape_str(expected), shape_str(image_shape), kh, kw, stride, padding, cols.str());
  BRENIER_ROUTE("col2im", cols, col2im, cols, image_shape, kh, kw, stride, padding);
}

Tensor softmax(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_defined(x, name, "x");
  require_floating(x, name, "x");
  const int64_t d = wrap_dim(dim, x.dim(), name);
  BRENIER_ROUTE(name, x, softmax, x, d, log);
}

Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t dim) {
  require_defined_same_device("softmax_backward", {{"y", &y}, {"g", &g}});
  require_floating(y, "softmax_backward", "y");
  require_same_dtype("softmax_backward", {"y", &y}, {"g", &g});
  BRENIER_CHECK(y.shape() == g.shape(), "softmax_backward: argument 'g' must have the shape of 'y' ({}), got {}",
                shape_str(y.shape()), g.str());
  const int64_t d = wrap_dim(dim, y.dim(), "softmax_backward");
  // The host loop takes lines along the last dim (attention scores), the CUDA kernel any dim; the
  // CPU's other dims run the formula as primitives.
  const profiler::OpScope profile_scope("softmax_backward", y);  // the composed fallback counts as one op
  if (y.device().is_cpu() && d == y.dim() - 1 && y.numel() > 0) return cpu::softmax_backward(y, g, d);
#ifdef BRENIER_WITH_CUDA
  if (y.device().is_cuda()) return cuda::softmax_backward(y, g, d);
#endif
  const Tensor dot = reduce(prim::Reduce::Sum, binary(Binary::Mul, g, y), {d}, true);
  return binary(Binary::Mul, y, binary(Binary::Sub, g, dot));
}

namespace {

// batch_norm's arguments: x [N, C, d...] floating; weight / bias [C] of x's dtype and device when defined.
void check_batch_norm(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_defined(x, op, "x");
  require_floating(x, op, "x");
  BRENIER_CHECK(x.dim() >= 2 && x.size(1) >= 1 && x.numel() / x.size(1) >= 1,
                "{}: argument 'x' must be [N, C] or [N, C, d...] with at least one channel and one value per "
                "channel, got {}", op, x.str());
  for (const auto& [name, t] : {Named{"weight", &weight}, Named{"bias", &bias}}) {
    if (!t->defined()) continue;
    BRENIER_CHECK(t->shape() == Shape{x.size(1)} && t->dtype() == x.dtype() && t->device() == x.device(),
                  "{}: argument '{}' must be {} [{}] on {} (one value per channel of 'x' {}), got {}", op, name,
                  dtype_name(x.dtype()), x.size(1), x.device().str(), x.str(), t->str());
  }
  BRENIER_CHECK(std::isfinite(eps) && eps > 0, "{}: argument 'eps' must be > 0, got {}", op, eps);
}

// [1, C, 1, ...]: a [C] statistic broadcast over x; and the dims batch_norm reduces over.
Shape channel_shape(const Tensor& x) {
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}
std::vector<int64_t> non_channel_dims(const Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

}  // namespace

// q [G, m, d], k [G, n, d], v [G, n, e], key_bias [G, n] or undefined, one device and floating dtype.
void check_attention_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& key_bias, double scale) {
  require_defined_same_device(op, {{"q", &q}, {"k", &k}, {"v", &v}});
  require_floating(q, op, "q");
  require_same_dtype(op, {"q", &q}, {"k", &k});
  require_same_dtype(op, {"q", &q}, {"v", &v});
  BRENIER_CHECK(q.dim() == 3 && q.size(2) >= 1, "{}: argument 'q' must be [G, m, d] with d >= 1, got {}", op,
                q.str());
  BRENIER_CHECK(k.dim() == 3 && k.size(0) == q.size(0) && k.size(1) >= 1 && k.size(2) == q.size(2),
                "{}: argument 'k' must be [{}, n, {}] with n >= 1 (q is {}), got {}", op, q.size(0), q.size(2),
                q.str(), k.str());
  BRENIER_CHECK(v.dim() == 3 && v.size(0) == k.size(0) && v.size(1) == k.size(1) && v.size(2) >= 1,
                "{}: argument 'v' must be [{}, {}, e] with e >= 1 (k is {}), got {}", op, k.size(0), k.size(1),
                k.str(), v.str());
  if (key_bias.defined()) {
    require_defined_same_device(op, {{"q", &q}, {"key_bias", &key_bias}});
    require_same_dtype(op, {"q", &q}, {"key_bias", &key_bias});
    BRENIER_CHECK(key_bias.shape() == Shape({k.size(0), k.size(1)}),
                  "{}: argument 'key_bias' must be [{}, {}] (one value per key of k {}) or undefined, got {}", op,
                  k.size(0), k.size(1), k.str(), key_bias.str());
  }
  BRENIER_CHECK(std::isfinite(scale), "{}: argument 'scale' must be finite, got {}", op, scale);
}

bool has_fused_attention(const Tensor& q, const Tensor& v) {
  if (q.device().is_cpu()) return true;
#ifdef BRENIER_WITH_CUDA
  if (q.device().is_cuda()) return backend::cuda_fused_attention() && cuda::attention_fits(q.size(-1), v.size(-1));
#endif
  return false;
}

namespace {
void require_fused_attention(const char* op, const Tensor& q, const Tensor& v) {
  BRENIER_CHECK(has_fused_attention(q, v),
                "{}: no fused kernel for q {} and v {} on this device (CUDA: off unless "
                "backend::set_cuda_fused_attention(true); head widths d, e up to 128); the attention op composes "
                "matmul and softmax there",
                op, q.str(), v.str());
}
}  // namespace

std::vector<Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                              double scale) {
  check_attention_arguments("attention", q, k, v, key_bias, scale);
  require_fused_attention("attention", q, v);
  BRENIER_ROUTE("attention", q, attention, q, k, v, key_bias, scale);
}

std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                                       const Tensor& out, const Tensor& lse, const Tensor& dout, double scale) {
  const char* op = "attention_backward";
  check_attention_arguments(op, q, k, v, key_bias, scale);
  require_fused_attention(op, q, v);
  require_defined_same_device(op, {{"q", &q}, {"out", &out}, {"lse", &lse}, {"dout", &dout}});
  const Shape out_shape{q.size(0), q.size(1), v.size(2)};
  BRENIER_CHECK(out.shape() == out_shape && dout.shape() == out_shape && out.dtype() == q.dtype() &&
                    dout.dtype() == q.dtype(),
                "{}: arguments 'out' and 'dout' must be {} {}, got {} and {}", op, dtype_name(q.dtype()),
                shape_str(out_shape), out.str(), dout.str());
  BRENIER_CHECK(lse.shape() == Shape({q.size(0), q.size(1)}) && lse.dtype() == q.dtype(),
                "{}: argument 'lse' must be {} [{}, {}] (the forward's second output), got {}", op,
                dtype_name(q.dtype()), q.size(0), q.size(1), lse.str());
  BRENIER_ROUTE(op, q, attention_backward, q, k, v, key_bias, out, lse, dout, scale);
}

std::vector<Tensor> batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_batch_norm("batch_norm_train", x, weight, bias, eps);
  const profiler::OpScope profile_scope("batch_norm_train", x);
  if (x.device().is_cpu()) return cpu::batch_norm_train(x, weight, bias, eps);
#ifdef BRENIER_WITH_CUDA
  if (x.dim() == 2) return cuda::batch_norm_train(x, weight, bias, eps);
#endif
  // Other devices and shapes: the same formulas as primitives.
  const Shape cs = channel_shape(x);
  const std::vector<int64_t> dims = non_channel_dims(x);
  const double inv_count = static_cast<double>(x.size(1)) / static_cast<double>(x.numel());
  const Tensor mean = binary_scalar(Binary::Mul, reduce(prim::Reduce::Sum, x, dims, true), inv_count);
  const Tensor centered = binary(Binary::Sub, x, mean);
  const Tensor var =
      binary_scalar(Binary::Mul, reduce(prim::Reduce::Sum, unary(Unary::Square, centered), dims, true), inv_count);
  Tensor scale = unary(Unary::Reciprocal, unary(Unary::Sqrt, binary_scalar(Binary::Add, var, eps)));
  if (weight.defined()) scale = binary(Binary::Mul, scale, weight.reshape(cs));
  Tensor y = binary(Binary::Mul, centered, scale);
  if (bias.defined()) y = binary(Binary::Add, y, bias.reshape(cs));
  return {y, mean.reshape({x.size(1)}), var.reshape({x.size(1)})};
}

std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var,
                                        const Tensor& weight, double eps) {
  const char* op = "batch_norm_backward";
  check_batch_norm(op, x, weight, Tensor(), eps);
  require_defined_same_device(op, {{"x", &x}, {"g", &g}, {"mean", &mean}, {"var", &var}});
  BRENIER_CHECK(g.shape() == x.shape() && g.dtype() == x.dtype(),
                "{}: argument 'g' must have the shape and dtype of 'x' ({}), got {}", op, x.str(), g.str());
  for (const auto& [name, t] : {Named{"mean", &mean}, Named{"var", &var}})
    BRENIER_CHECK(t->shape() == Shape{x.size(1)} && t->dtype() == x.dtype(),
                  "{}: argument '{}' must be {} [{}] (the forward's per-channel statistic), got {}", op, name,
                  dtype_name(x.dtype()), x.size(1), t->str());
  const profiler::OpScope profile_scope(op, x);
  if (x.device().is_cpu()) return cpu::batch_norm_backward(g, x, mean, var, weight, eps);
#ifdef BRENIER_WITH_CUDA
  if (x.dim() == 2) return cuda::batch_norm_backward(g, x, mean, var, weight, eps);
#endif
  const Shape cs = channel_shape(x);
  const std::vector<int64_t> dims = non_channel_dims(x);
  const double inv_count = static_cast<double>(x.size(1)) / static_cast<double>(x.numel());
  const Tensor inv = unary(Unary::Reciprocal, unary(Unary::Sqrt, binary_scalar(Binary::Add, var.reshape(cs), eps)));
  const Tensor xhat = binary(Binary::Mul, binary(Binary::Sub, x, mean.reshape(cs)), inv);
  const Tensor sum_g = reduce(prim::Reduce::Sum, g, dims, true);
  const Tensor sum_gx = reduce(prim::Reduce::Sum, binary(Binary::Mul, g, xhat), dims, true);
  const Tensor k = weight.defined() ? binary(Binary::Mul, inv, weight.reshape(cs)) : inv;
  const Tensor inner = binary(Binary::Sub, binary(Binary::Sub, g, binary_scalar(Binary::Mul, sum_g, inv_count)),
                              binary(Binary::Mul, xhat, binary_scalar(Binary::Mul, sum_gx, inv_count)));
  return {binary(Binary::Mul, k, inner), weight.defined() ? sum_gx.reshape({x.size(1)}) : Tensor(),
          sum_g.reshape({x.size(1)})};
}

Tensor layer_norm(const Tensor& x, double eps) {
  check_defined(x, "layer_norm", "x");
  require_floating(x, "layer_norm", "x");
  require_rank_at_least(x, 1, "layer_norm", "x");
  BRENIER_CHECK(eps >= 0 && std::isfinite(eps),
                "layer_norm: argument 'eps' must be finite and >= 0, got {}", eps);
  BRENIER_ROUTE("layer_norm", x, layer_norm, x, eps);
}

// --- shape ------------------------------------------------------------------------------------

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm) {
  check_defined(x, "permute", "x");
  BRENIER_CHECK(static_cast<int64_t>(perm.size()) == x.dim(),
                "permute: argument 'perm' must list {} dims for {}, got [{}]", x.dim(), x.str(),
                fmt::join(perm, ", "));
  std::vector<int64_t> wrapped;
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    const int64_t d = wrap_dim(p, x.dim(), "permute", "perm");
    BRENIER_CHECK(!seen[d], "permute: argument 'perm' must name each dim once, got [{}]",
                  fmt::join(perm, ", "));
    seen[d] = true;
    wrapped.push_back(d);
  }
  BRENIER_ROUTE("permute", x, permute, x, wrapped);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  check_defined(x, "slice", "x");
  require_rank_at_least(x, 1, "slice", "x");
  const int64_t d = wrap_dim(dim, x.dim(), "slice");
  const SliceRange r = resolve_slice(x.size(d), start, stop, step, "slice");
  BRENIER_ROUTE("slice", x, slice, x, d, r.start, r.count, step);
}

Tensor slice_scatter(const Tensor& src, const Shape& shape, int64_t dim, int64_t start,
                     int64_t stop, int64_t step) {
  check_defined(src, "slice_scatter", "src");
  require_shape_sizes(shape, "slice_scatter", "shape");
  BRENIER_CHECK(!shape.empty(), "slice_scatter: argument 'shape' must have at least 1 dim, got []");
  const int64_t d = wrap_dim(dim, static_cast<int64_t>(shape.size()), "slice_scatter");
  const SliceRange r = resolve_slice(shape[d], start, stop, step, "slice_scatter");
  Shape expected = shape;
  expected[d] = r.count;
  BRENIER_CHECK(src.shape() == expected,
                "slice_scatter: argument 'src' must have shape {} (slice [{}:{}:{}] of dim {} of "
                "{}), got {}",
                shape_str(expected), start, stop, step, d, shape_str(shape), src.str());
  BRENIER_ROUTE("slice_scatter", src, slice_scatter, src, shape, d, r.start, step);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  BRENIER_CHECK(!xs.empty(), "concat: argument 'xs' must hold at least one tensor, got none");
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string arg = fmt::format("xs[{}]", i);
    check_defined(xs[i], "concat", arg.c_str());
  }
  const Tensor& first = xs[0];
  require_rank_at_least(first, 1, "concat", "xs[0]");
  const int64_t d = wrap_dim(dim, first.dim(), "concat");
  for (size_t i = 1; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    BRENIER_CHECK(x.device() == first.device() && x.dtype() == first.dtype(),
                  "concat: argument 'xs[{}]' must have dtype {} on {} like 'xs[0]', got {}", i,
                  dtype_name(first.dtype()), first.device().str(), x.str());
    bool same = x.dim() == first.dim();
    for (int64_t k = 0; same && k < x.dim(); ++k) same = k == d || x.size(k) == first.size(k);
    BRENIER_CHECK(same,
                  "concat: argument 'xs[{}]' must match 'xs[0]' ({}) in every dim but {}, got {}",
                  i, first.str(), d, x.str());
  }
  BRENIER_ROUTE("concat", first, concat, xs, d);
}

// --- indexing ---------------------------------------------------------------------------------

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  require_defined_same_device("index_select", {{"x", &x}, {"index", &index}});
  require_i64(index, "index_select", "index");
  BRENIER_CHECK(index.dim() == 1, "index_select: argument 'index' must be 1-D, got {}", index.str());
  require_rank_at_least(x, 1, "index_select", "x");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  require_index_range(index, x.size(d), "index_select", "index",
                      fmt::format("the size of dim {} of 'x' {}", d, x.str()));
  BRENIER_ROUTE("index_select", x, index_select, x, d, index);
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  require_defined_same_device("index_add", {{"x", &x}, {"index", &index}, {"src", &src}});
  require_i64(index, "index_add", "index");
  require_same_dtype("index_add", {"x", &x}, {"src", &src});
  BRENIER_CHECK(index.dim() == 1, "index_add: argument 'index' must be 1-D, got {}", index.str());
  require_rank_at_least(x, 1, "index_add", "x");
  const int64_t d = wrap_dim(dim, x.dim(), "index_add");
  Shape expected = x.shape();
  expected[d] = index.numel();
  BRENIER_CHECK(src.shape() == expected,
                "index_add: argument 'src' must have shape {} ('x' {} with dim {} sized like "
                "'index'), got {}",
                shape_str(expected), x.str(), d, src.str());
  require_index_range(index, x.size(d), "index_add", "index",
                      fmt::format("the size of dim {} of 'x' {}", d, x.str()));
  BRENIER_ROUTE("index_add", x, index_add, x, d, index, src);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  require_defined_same_device("gather", {{"x", &x}, {"index", &index}});
  require_i64(index, "gather", "index");
  require_rank_at_least(x, 1, "gather", "x");
  BRENIER_CHECK(index.dim() == x.dim(), "gather: argument 'index' must have rank {} like 'x' ({}), got {}",
                x.dim(), x.str(), index.str());
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t k = 0; k < x.dim(); ++k)
    BRENIER_CHECK(k == d || index.size(k) <= x.size(k),
                  "gather: argument 'index' ({}) must not exceed 'x' ({}) in dim {} (any dim but {})",
                  index.str(), x.str(), k, d);
  require_index_range(index, x.size(d), "gather", "index",
                      fmt::format("the size of dim {} of 'x' {}", d, x.str()));
  BRENIER_ROUTE("gather", x, gather, x, d, index);
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  require_defined_same_device("scatter_add", {{"x", &x}, {"index", &index}, {"src", &src}});
  require_i64(index, "scatter_add", "index");
  require_same_dtype("scatter_add", {"x", &x}, {"src", &src});
  require_rank_at_least(x, 1, "scatter_add", "x");
  BRENIER_CHECK(index.dim() == x.dim() && src.dim() == x.dim(),
                "scatter_add: arguments 'index' and 'src' must have rank {} like 'x' ({}), got {} "
                "and {}",
                x.dim(), x.str(), index.str(), src.str());
  const int64_t d = wrap_dim(dim, x.dim(), "scatter_add");
  for (int64_t k = 0; k < x.dim(); ++k) {
    BRENIER_CHECK(index.size(k) <= src.size(k),
                  "scatter_add: argument 'index' ({}) must not exceed 'src' ({}) in dim {}",
                  index.str(), src.str(), k);
    BRENIER_CHECK(k == d || index.size(k) <= x.size(k),
                  "scatter_add: argument 'index' ({}) must not exceed 'x' ({}) in dim {} (any dim "
                  "but {})",
                  index.str(), x.str(), k, d);
  }
  require_index_range(index, x.size(d), "scatter_add", "index",
                      fmt::format("the size of dim {} of 'x' {}", d, x.str()));
  BRENIER_ROUTE("scatter_add", x, scatter_add, x, d, index, src);
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  check_defined(index, "one_hot", "index");
  require_i64(index, "one_hot", "index");
  BRENIER_CHECK(num_classes >= 1, "one_hot: argument 'num_classes' must be >= 1, got {}",
                num_classes);
  require_index_range(index, num_classes, "one_hot", "index", "'num_classes'");
  BRENIER_ROUTE("one_hot", index, one_hot, index, num_classes, dtype);
}

Tensor nonzero_flat(const Tensor& mask) {
  check_defined(mask, "nonzero_flat", "mask");
  BRENIER_ROUTE("nonzero_flat", mask, nonzero_flat, mask);
}

}  // namespace brenier::prim
