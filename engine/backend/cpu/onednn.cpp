// oneDNN 2.6 fast path for f32 (see onednn.h). 2.6 builds each primitive from an op descriptor,
// e.g. matmul::primitive_desc(matmul::desc(src, weights, dst), engine). Building costs tens of
// microseconds, so built primitives are cached per thread under a key naming the op, shapes,
// strides and parameters; one global engine serves every thread, each thread has its own stream.
#include "engine/backend/cpu/onednn.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace brenier::cpu::onednn {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using prim::Binary;
using prim::Unary;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}
dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// A built primitive and, for layer norm, the descriptor of the statistics it may write.
struct Built {
  dnnl::primitive primitive;
  memory::desc stats;
};

// The cached primitive for `key`, built by `build` on first use. nullptr when oneDNN refuses to
// build it; the refusal is cached too, so the caller's loop takes over without retrying.
const Built* cached(const std::string& key, const std::function<Built()>& build) {
  // Keyed by shape, so a run with ever-changing shapes would grow it without bound; a cap that
  // clears it keeps memory flat at the price of rebuilding.
  constexpr size_t kMaxEntries = 4096;
  thread_local std::unordered_map<std::string, std::optional<Built>> cache;
  auto it = cache.find(key);
  if (it == cache.end()) {
    if (cache.size() >= kMaxEntries) cache.clear();
    std::optional<Built> built;
    try {
      built = build();
    } catch (const dnnl::error&) {
      built.reset();
    }
    it = cache.emplace(key, std::move(built)).first;
  }
  return it->second ? &*it->second : nullptr;
}

void execute(const Built& b, const std::unordered_map<int, memory>& args) {
  try {
    b.primitive.execute(cpu_stream(), args);
    cpu_stream().wait();
  } catch (const dnnl::error& e) {
    throw Error(fmt::format("oneDNN: executing a cached primitive failed: {}", e.what()));
  }
}

bool fits(const Shape& s) { return !s.empty() && s.size() <= DNNL_MAX_NDIMS && numel(s) > 0; }

memory::desc f32_desc(const Shape& dims, const std::vector<int64_t>& strides) {
  return memory::desc(memory::dims(dims.begin(), dims.end()), memory::data_type::f32,
                      memory::dims(strides.begin(), strides.end()));
}
memory::desc f32_desc(const Shape& dims) { return f32_desc(dims, contiguous_strides(dims)); }

memory wrap(const memory::desc& md, const Tensor& t) {
  // oneDNN takes a non-const handle even for inputs; it does not write them.
  return memory(md, cpu_engine(), const_cast<void*>(t.raw_data()));
}

struct EltwiseSpec {
  algorithm alg;
  float alpha = 0.f, beta = 0.f;
};

// The oneDNN eltwise computing `op`, if there is one. (Which of these are worth calling is the
// caller's choice: elementwise.cpp keeps cheap maps and log in its loops.)
std::optional<EltwiseSpec> eltwise_spec(Unary op, double p) {
  const float pf = static_cast<float>(p);
  switch (op) {
    case Unary::Neg: return EltwiseSpec{algorithm::eltwise_linear, -1.f, 0.f};
    case Unary::Exp: return EltwiseSpec{algorithm::eltwise_exp};
    case Unary::Log: return EltwiseSpec{algorithm::eltwise_log};
    case Unary::Sqrt: return EltwiseSpec{algorithm::eltwise_sqrt};
    case Unary::Abs: return EltwiseSpec{algorithm::eltwise_abs};
    case Unary::Square: return EltwiseSpec{algorithm::eltwise_square};
    case Unary::Reciprocal: return EltwiseSpec{algorithm::eltwise_pow, 1.f, -1.f};
    case Unary::Relu: return EltwiseSpec{algorithm::eltwise_relu, 0.f};
    case Unary::LeakyRelu: return EltwiseSpec{algorithm::eltwise_relu, pf};
    // oneDNN's elu is alpha (e^x - 1) for x <= 0, which equals celu only when alpha is 1.
    case Unary::Celu:
      if (p == 1.0) return EltwiseSpec{algorithm::eltwise_elu, 1.f};
      return std::nullopt;
    case Unary::Softplus: return EltwiseSpec{algorithm::eltwise_soft_relu};
    case Unary::Sigmoid: return EltwiseSpec{algorithm::eltwise_logistic};
    case Unary::Tanh: return EltwiseSpec{algorithm::eltwise_tanh};
    case Unary::Silu: return EltwiseSpec{algorithm::eltwise_swish, 1.f};
    case Unary::Gelu: return EltwiseSpec{algorithm::eltwise_gelu_erf};
    case Unary::PowScalar: return EltwiseSpec{algorithm::eltwise_pow, 1.f, pf};
    default: return std::nullopt;  // Sign, Sin, Cos, Erf and the derivative helpers
  }
}

// Runs an eltwise over x's elements as one flat run (eltwise ignores shape).
bool run_eltwise(const EltwiseSpec& spec, const Tensor& x, Tensor& y) {
  const Shape flat{x.numel()};
  if (!fits(flat)) return false;
  const std::string key = fmt::format("eltwise|{}|{}|{}|{}", static_cast<int>(spec.alg),
                                      spec.alpha, spec.beta, flat[0]);
  const Built* b = cached(key, [&] {
    auto pd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, spec.alg, f32_desc(flat),
                                    spec.alpha, spec.beta),
        cpu_engine());
    return Built{dnnl::eltwise_forward(pd), {}};
  });
  if (!b) return false;
  const memory::desc md = f32_desc(flat);
  execute(*b, {{DNNL_ARG_SRC, wrap(md, x)}, {DNNL_ARG_DST, wrap(md, y)}});
  return true;
}

// A flat f32 run of n ones: the diff_dst under which an eltwise backward yields op'(x) itself.
const float* ones(int64_t n) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.assign(static_cast<size_t>(n), 1.f);
  return buffer.data();
}

}  // namespace

bool unary(Unary op, double p, const Tensor& x, Tensor& y) {
  auto spec = eltwise_spec(op, p);
  if (!spec || !run_eltwise(*spec, x, y)) return false;
  // oneDNN 2.6's exp clamps its input first, so exp(NaN) comes out +inf: put the NaN back (a NaN
  // must never turn into a number). In place (x is y) the input is gone; such callers restore it.
  if (op == Unary::Exp && x.raw_data() != y.raw_data()) {
    const float* px = x.data<float>();
    float* py = y.data<float>();
    const int64_t n = x.numel();
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] != px[i] ? px[i] : py[i];
  }
  return true;
}

bool unary_derivative(Unary op, const Tensor& x, Tensor& y) {
  if (op != Unary::GeluGrad) return false;
  const EltwiseSpec spec{algorithm::eltwise_gelu_erf};
  const Shape flat{x.numel()};
  if (!fits(flat)) return false;
  const memory::desc md = f32_desc(flat);
  const std::string key = fmt::format("eltwise_bwd|{}|{}|{}", static_cast<int>(spec.alg), spec.alpha, flat[0]);
  const Built* b = cached(key, [&] {
    auto fwd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, spec.alg, md, spec.alpha, spec.beta),
        cpu_engine());
    auto pd = dnnl::eltwise_backward::primitive_desc(
        dnnl::eltwise_backward::desc(spec.alg, md, md, spec.alpha, spec.beta), cpu_engine(), fwd);
    return Built{dnnl::eltwise_backward(pd), {}};
  });
  if (!b) return false;
  const memory diff_dst(md, cpu_engine(), const_cast<float*>(ones(flat[0])));
  execute(*b, {{DNNL_ARG_SRC, wrap(md, x)}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, wrap(md, y)}});
  return true;
}

bool matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out) {
  if (!fits(out.shape())) return false;
  const bool batched = out.dim() == 3;
  const int64_t m = out.size(-2), n = out.size(-1);
  const int64_t k = trans_a ? a.size(-2) : a.size(-1);
  if (k == 0) return false;
  // Logical [rows, cols] (or [batch, rows, cols]); a transposed operand is stored as [cols, rows],
  // which is the same matrix read through swapped strides.
  auto operand = [&](const Tensor& t, bool trans, int64_t rows, int64_t cols) {
    Shape dims{rows, cols};
    std::vector<int64_t> strides = trans ? std::vector<int64_t>{1, rows} : std::vector<int64_t>{cols, 1};
    if (batched) {
      dims.insert(dims.begin(), t.dim() == 3 ? t.size(0) : 1);
      strides.insert(strides.begin(), rows * cols);
    }
    return std::pair{dims, strides};
  };
  const auto [a_dims, a_strides] = operand(a, trans_a, m, k);
  const auto [b_dims, b_strides] = operand(b, trans_b, k, n);
  const Shape& c_dims = out.shape();
  const std::string key = fmt::format("matmul|{}|{}|{}|{}|{}", shape_str(a_dims), shape_str(a_strides),
                                      shape_str(b_dims), shape_str(b_strides), shape_str(c_dims));
  const memory::desc a_md = f32_desc(a_dims, a_strides), b_md = f32_desc(b_dims, b_strides),
                     c_md = f32_desc(c_dims);
  const Built* built = cached(key, [&] {
    auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), cpu_engine());
    return Built{dnnl::matmul(pd), {}};
  });
  if (!built) return false;
  execute(*built, {{DNNL_ARG_SRC, wrap(a_md, a)}, {DNNL_ARG_WEIGHTS, wrap(b_md, b)},
                   {DNNL_ARG_DST, wrap(c_md, out)}});
  return true;
}

bool softmax(const Tensor& x, int64_t dim, bool log, Tensor& y) {
  Shape shape = x.shape();
  if (shape.empty()) shape = {1};
  if (!fits(shape)) return false;
  const std::string key = fmt::format("softmax|{}|{}|{}", log, dim, shape_str(shape));
  const memory::desc md = f32_desc(shape);
  const Built* b = cached(key, [&] {
    const auto prop = dnnl::prop_kind::forward_inference;
    const int axis = static_cast<int>(dim);
    if (log) {
      auto pd = dnnl::logsoftmax_forward::primitive_desc(
          dnnl::logsoftmax_forward::desc(prop, md, axis), cpu_engine());
      return Built{dnnl::logsoftmax_forward(pd), {}};
    }
    auto pd = dnnl::softmax_forward::primitive_desc(dnnl::softmax_forward::desc(prop, md, axis),
                                                    cpu_engine());
    return Built{dnnl::softmax_forward(pd), {}};
  });
  if (!b) return false;
  execute(*b, {{DNNL_ARG_SRC, wrap(md, x)}, {DNNL_ARG_DST, wrap(md, y)}});
  return true;
}

bool layer_norm(const Tensor& x, double eps, Tensor& y) {
  if (x.dim() < 1 || x.numel() == 0) return false;
  const int64_t cols = x.size(-1);
  const Shape shape{x.numel() / cols, cols};  // normalization only sees rows of the last dim
  const std::string key = fmt::format("layer_norm|{}|{}", eps, shape_str(shape));
  const memory::desc md = f32_desc(shape);
  const Built* b = cached(key, [&] {
    auto pd = dnnl::layer_normalization_forward::primitive_desc(
        dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, md,
                                                static_cast<float>(eps),
                                                dnnl::normalization_flags::none),
        cpu_engine());
    return Built{dnnl::layer_normalization_forward(pd), pd.mean_desc()};
  });
  if (!b) return false;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(md, x)}, {DNNL_ARG_DST, wrap(md, y)}};
  // Inference may still want somewhere to put the row statistics it computes.
  if (b->stats.get_size() > 0) {
    args.emplace(DNNL_ARG_MEAN, memory(b->stats, cpu_engine()));
    args.emplace(DNNL_ARG_VARIANCE, memory(b->stats, cpu_engine()));
  }
  execute(*b, args);
  return true;
}

}  // namespace brenier::cpu::onednn
