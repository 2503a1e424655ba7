// Every backend primitive (engine/backend/primitives.h) on CUDA against the CPU backend, in each
// dtype the CPU serves, on shapes that take each kernel's branches (broadcast and flat element-wise
// paths, block and thread reductions, long softmax lines, batched and transposed GEMMs, repeated
// scatter indices). The enumerations are walked until unary_name/binary_name stop naming an op, so
// a new Unary or Binary without a GPU path fails here: this is the coverage test of the kernels.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "engine/backend/device_memory.h"
#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"
#include "engine/profiler.h"
#include "gpu_support.h"

using namespace brenier;
using namespace brenier::testing;
using prim::Binary;
using prim::Reduce;
using prim::Unary;

namespace {

const Device kGpu = Device::cuda(0);

Tensor random_tensor(const Shape& shape, uint64_t seed, DType t, double lo = -2.0, double hi = 2.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (double& x : v) x = t == DType::I64 ? std::round(dist(rng) * 3) : dist(rng);
  return Tensor::from_vector(v, shape).to(t);
}
Tensor on_gpu(const Tensor& t) { return t.to(kGpu); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s); }

// Exact for i64 and data movement; the dtype's tolerance for floating math.
Tolerance tol_for(DType t) { return t == DType::I64 ? Tolerance{0, 0} : tolerance_for(t); }

void same(const Tensor& cpu, const Tensor& gpu, const std::string& what) {
  CHECK_MESSAGE(gpu.device() == kGpu, what << ": result is on " << gpu.device().str());
  close_to(cpu, gpu, tol_for(cpu.dtype()), what);
}

const DType kFloating[] = {DType::F32, DType::F64};
const DType kAll[] = {DType::F32, DType::F64, DType::I64};

}  // namespace

TEST_CASE("gpu primitives: every unary op, f32 and f64, including overflow and domain edges" * gpu_only()) {
  const std::vector<double> values = {-30, -3, -1, -0.5, 0, 0.25, 0.5, 1, 2.5, 30, 1e-3, -1e-3};
  int count = 0;
  for (int i = 0; std::strcmp(prim::unary_name(static_cast<Unary>(i)), "unary") != 0; ++i, ++count) {
    const Unary op = static_cast<Unary>(i);
    for (DType t : kFloating) {
      const Tensor x = Tensor::from_vector(values, {3, 4}).to(t);
      const std::string what = std::string(prim::unary_name(op)) + " " + dtype_name(t);
      try {
        same(prim::unary(op, x, 0.7), prim::unary(op, on_gpu(x), 0.7), what);
      } catch (const Error& e) {
        FAIL_CHECK(what << " has no working GPU path: " << e.what());
      }
    }
  }
  CHECK(count >= 25);
}

TEST_CASE("gpu primitives: every binary op, broadcast and flat, scalar forms, all dtypes" * gpu_only()) {
  int count = 0;
  for (int i = 0; std::strcmp(prim::binary_name(static_cast<Binary>(i)), "binary") != 0; ++i, ++count) {
    const Binary op = static_cast<Binary>(i);
    for (DType t : kAll) {
      const double lo = op == Binary::Pow ? 0.5 : -2.0;
      const std::string what = std::string(prim::binary_name(op)) + " " + dtype_name(t);
      if (t == DType::I64 && (op == Binary::Div || op == Binary::Pow || op == Binary::SiluBackward)) {
        // Floating-only ops: both backends refuse i64 (dispatch, before any kernel).
        const Tensor c = random_tensor({5, 7}, 3, t, lo);
        CHECK_THROWS_AS(prim::binary(op, c, c), Error);
        CHECK_THROWS_AS(prim::binary(op, on_gpu(c), on_gpu(c)), Error);
        continue;
      }
      try {
        const Tensor a = random_tensor({2, 1, 3}, 1, t, lo), b = random_tensor({4, 3}, 2, t, lo);
        same(prim::binary(op, a, b), prim::binary(op, on_gpu(a), on_gpu(b)), what + " broadcast");
        const Tensor c = random_tensor({5, 7}, 3, t, lo), d = random_tensor({5, 7}, 4, t, lo);
        same(prim::binary(op, c, d), prim::binary(op, on_gpu(c), on_gpu(d)), what + " flat");
        same(prim::binary(op, c, c), prim::binary(op, on_gpu(c), on_gpu(c)), what + " equal operands");
        const double s = t == DType::I64 ? 2.0 : 1.5;
        same(prim::binary_scalar(op, c, s), prim::binary_scalar(op, on_gpu(c), s), what + " scalar");
      } catch (const Error& e) {
        FAIL_CHECK(what << " has no working GPU path: " << e.what());
      }
    }
  }
  CHECK(count >= 13);
}

TEST_CASE("gpu primitives: where, clamp, cast, broadcast_to" * gpu_only()) {
  for (DType t : kAll) {
    CAPTURE(dtype_name(t));
    const Tensor cond = random_tensor({3, 1}, 5, DType::F32).to(DType::I64);  // some zeros
    const Tensor a = random_tensor({3, 4}, 6, t), b = random_tensor({4}, 7, t);
    same(prim::where(cond, a, b), prim::where(on_gpu(cond), on_gpu(a), on_gpu(b)), "where");
    same(prim::clamp(a, -0.5, 1.25), prim::clamp(on_gpu(a), -0.5, 1.25), "clamp");
    same(prim::clamp(a, -INFINITY, 0.5), prim::clamp(on_gpu(a), -INFINITY, 0.5), "clamp to -inf");
    for (DType to : kAll) same(prim::cast(a, to), prim::cast(on_gpu(a), to), std::string("cast to ") + dtype_name(to));
    same(prim::broadcast_to(b, {2, 3, 4}), prim::broadcast_to(on_gpu(b), {2, 3, 4}), "broadcast_to");
    const Tensor s = random_tensor({}, 8, t);
    same(prim::broadcast_to(s, {5}), prim::broadcast_to(on_gpu(s), {5}), "broadcast_to from 0-d");
  }
}

TEST_CASE("gpu primitives: reductions (thread and block paths), argmax/argmin, topk, bincount" * gpu_only()) {
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {1, 2}};
  for (DType t : kAll) {
    CAPTURE(dtype_name(t));
    for (const Shape& shape : {Shape{3, 4, 5}, Shape{2, 130, 70}}) {  // the second takes the block path
      const Tensor x = random_tensor(shape, 9, t);
      for (Reduce op : {Reduce::Sum, Reduce::Max, Reduce::Min})
        for (const auto& dims : dim_sets)
          for (bool keep : {false, true}) {
            const std::string what = "reduce " + std::to_string(static_cast<int>(op)) + " over " +
                                     std::to_string(dims.size()) + " dims of " + shape_str(shape);
            same(prim::reduce(op, x, dims, keep), prim::reduce(op, on_gpu(x), dims, keep), what);
          }
      for (int64_t d = 0; d < 3; ++d)
        for (bool is_max : {true, false}) {
          same(prim::argreduce(is_max, x, d, false), prim::argreduce(is_max, on_gpu(x), d, false), "argreduce");
          same(prim::argreduce(is_max, x, d, true), prim::argreduce(is_max, on_gpu(x), d, true), "argreduce keepdim");
        }
      for (bool largest : {true, false}) {
        if (t == DType::I64) continue;  // ties among small integers: order is defined, values checked below
        const auto r = prim::topk(x, 3, 1, largest), g = prim::topk(on_gpu(x), 3, 1, largest);
        same(r[0], g[0], "topk values");
        same(r[1], g[1], "topk indices");
      }
    }
    const Tensor z = random_tensor({0, 3}, 1, t);
    same(prim::reduce(Reduce::Sum, z, {0}, false), prim::reduce(Reduce::Sum, on_gpu(z), {0}, false), "sum of empty");
  }
  // Ties: the lower index first, on both backends.
  const Tensor ties = i64({3, 1, 3, 2, 3, 1}, {6});
  same(prim::topk(ties, 4, 0, true)[1], prim::topk(on_gpu(ties), 4, 0, true)[1], "topk ties");
  same(prim::argreduce(true, ties, 0, false), prim::argreduce(true, on_gpu(ties), 0, false), "argmax ties");
  const Tensor nan = Tensor::from_vector<double>({1, NAN, 3, NAN}, {4});
  same(prim::reduce(Reduce::Max, nan, {}, false), prim::reduce(Reduce::Max, on_gpu(nan), {}, false), "max NaN");
  same(prim::argreduce(true, nan, 0, false), prim::argreduce(true, on_gpu(nan), 0, false), "argmax NaN");
  // Long contiguous lines take the block-per-line argmax path: ties and NaNs spread over its threads.
  {
    const int64_t n = 3000;
    std::vector<double> v(4 * n);
    for (int64_t i = 0; i < n; ++i) {
      v[i] = std::sin(0.37 * i);                          // line 0: one maximum, somewhere
      v[n + i] = 2.0;                                     // line 1: all tied: index 0
      v[2 * n + i] = i == 2999 || i == 700 || i == 1500;  // line 2: three tied maxima: 700
      v[3 * n + i] = i == 2500 || i == 900 ? NAN : 1.0;   // line 3: two NaNs: the first, 900
    }
    const Tensor lines = Tensor::from_vector<double>(v, {4, n});
    for (DType t : kFloating)
      for (bool is_max : {true, false}) {
        const Tensor x = prim::cast(lines, t);
        same(prim::argreduce(is_max, x, 1, false), prim::argreduce(is_max, on_gpu(x), 1, false), "argreduce long lines");
      }
    CHECK(prim::argreduce(true, on_gpu(lines), 1, false).to(Device::cpu()).data<int64_t>()[2] == 700);
  }
  const Tensor idx = i64({0, 4, 4, 2, 0, 4}, {6});
  same(prim::bincount(idx, 0), prim::bincount(on_gpu(idx), 0), "bincount");
  same(prim::bincount(idx, 9), prim::bincount(on_gpu(idx), 9), "bincount minlength");
}

TEST_CASE("gpu primitives: matmul through cuBLAS: 2-D, batched, broadcast, transposes; TF32 off by default" * gpu_only()) {
  CHECK_FALSE(backend::allow_tf32());
  for (DType t : kFloating) {
    CAPTURE(dtype_name(t));
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const Shape as = ta ? Shape{17, 33} : Shape{33, 17}, bs = tb ? Shape{9, 17} : Shape{17, 9};
        const Tensor a = random_tensor(as, 10, t), b = random_tensor(bs, 11, t);
        same(prim::matmul(a, b, ta, tb), prim::matmul(on_gpu(a), on_gpu(b), ta, tb), "2-D");
        const Shape a3 = {4, as[0], as[1]}, b3 = {4, bs[0], bs[1]}, b1 = {1, bs[0], bs[1]};
        const Tensor ab = random_tensor(a3, 12, t), bb = random_tensor(b3, 13, t), bone = random_tensor(b1, 14, t);
        same(prim::matmul(ab, bb, ta, tb), prim::matmul(on_gpu(ab), on_gpu(bb), ta, tb), "batched");
        same(prim::matmul(ab, b, ta, tb), prim::matmul(on_gpu(ab), on_gpu(b), ta, tb), "3-D x 2-D");
        same(prim::matmul(a, bb, ta, tb), prim::matmul(on_gpu(a), on_gpu(bb), ta, tb), "2-D x 3-D");
        same(prim::matmul(ab, bone, ta, tb), prim::matmul(on_gpu(ab), on_gpu(bone), ta, tb), "batch 1");
      }
    const Tensor e = random_tensor({3, 0}, 1, t), f = random_tensor({0, 4}, 1, t);
    same(prim::matmul(e, f), prim::matmul(on_gpu(e), on_gpu(f)), "k = 0 gives zeros");
  }
  // With TF32 allowed, f32 products of 256-long dot products stay within TF32's ~1e-3 relative.
  const Tensor a = random_tensor({64, 256}, 15, DType::F32), b = random_tensor({256, 64}, 16, DType::F32);
  backend::set_allow_tf32(true);
  const Tensor g = prim::matmul(on_gpu(a), on_gpu(b));
  backend::set_allow_tf32(false);
  close_to(prim::matmul(a, b), g, {5e-2, 1e-2}, "TF32 matmul");
  same(prim::matmul(a, b), prim::matmul(on_gpu(a), on_gpu(b)), "after TF32 is turned off again");
}

TEST_CASE("gpu primitives: im2col and col2im (convolution columns): strides, padding, overlaps" * gpu_only()) {
  struct Geometry {
    Shape image;
    int64_t kh, kw, stride, padding;
  };
  // Overlapping windows (col2im sums several entries per pixel), skipped edge rows, and one image
  // large enough for many blocks.
  const Geometry geometries[] = {{{2, 3, 7, 6}, 3, 3, 2, 1}, {{1, 2, 5, 9}, 4, 2, 3, 2}, {{3, 1, 4, 4}, 1, 1, 1, 0},
                                 {{2, 8, 64, 64}, 4, 4, 2, 1}};
  for (DType t : kFloating)
    for (const Geometry& g : geometries) {
      const std::string what = shape_str(g.image) + " kernel " + std::to_string(g.kh) + "x" + std::to_string(g.kw) +
                               " stride " + std::to_string(g.stride) + " padding " + std::to_string(g.padding) + " " +
                               dtype_name(t);
      const Tensor x = random_tensor(g.image, 30, t);
      const Tensor cols = prim::im2col(x, g.kh, g.kw, g.stride, g.padding);
      same(cols, prim::im2col(on_gpu(x), g.kh, g.kw, g.stride, g.padding), "im2col " + what);
      const Tensor c = random_tensor(cols.shape(), 31, t);
      same(prim::col2im(c, g.image, g.kh, g.kw, g.stride, g.padding),
           prim::col2im(on_gpu(c), g.image, g.kh, g.kw, g.stride, g.padding), "col2im " + what);
    }
}

TEST_CASE("gpu primitives: softmax, log_softmax, softmax_backward (any dim, long lines), layer_norm" * gpu_only()) {
  for (DType t : kFloating) {
    CAPTURE(dtype_name(t));
    for (const Shape& shape : {Shape{3, 4, 5}, Shape{2, 1000}, Shape{7}}) {
      const Tensor x = random_tensor(shape, 17, t, -20, 20), g = random_tensor(shape, 18, t);
      for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
        const std::string where = " dim " + std::to_string(d) + " of " + shape_str(shape);
        for (bool log : {false, true})
          same(prim::softmax(x, d, log), prim::softmax(on_gpu(x), d, log),
               std::string(log ? "log_softmax" : "softmax") + where);
        const Tensor y = prim::softmax(x, d, false);
        same(prim::softmax_backward(y, g, d), prim::softmax_backward(on_gpu(y), on_gpu(g), d), "softmax_backward" + where);
      }
      same(prim::layer_norm(x, 1e-5), prim::layer_norm(on_gpu(x), 1e-5), "layer_norm " + shape_str(shape));
    }
  }
}

// Turns the fused CUDA attention kernel on or off for a scope (backend::set_cuda_fused_attention).
struct FusedAttentionScope {
  bool before = backend::cuda_fused_attention();
  explicit FusedAttentionScope(bool on) { backend::set_cuda_fused_attention(on); }
  ~FusedAttentionScope() { backend::set_cuda_fused_attention(before); }
};

TEST_CASE("gpu primitives: fused attention and its backward (key and query chunks, widths 1 to 128, masks)" *
          gpu_only()) {
  const FusedAttentionScope fused(true);
  struct Case {
    int64_t groups, m, n, d, e;
    bool bias;
  };
  // Narrow heads (d, e <= 4: a lane per key) of width 1 over several 32-key chunks with masked keys (−1e30 and
  // −∞), at the narrow limit, and with a single key; wider heads (a lane per channel) across the 32-channel
  // slots, up to the widest the kernel takes, and just past the narrow limit.
  const Case cases[] = {{3, 37, 70, 1, 1, true},    {2, 40, 50, 4, 4, true},   {2, 1, 1, 3, 2, false},
                        {2, 5, 33, 16, 40, false},  {2, 9, 31, 33, 64, true},  {1, 64, 65, 128, 128, true},
                        {2, 6, 40, 5, 1, true}};
  for (DType t : kFloating) {
    for (const Case& c : cases) {
      const std::string what = std::string(dtype_name(t)) + " G " + std::to_string(c.groups) + " m " +
                               std::to_string(c.m) + " n " + std::to_string(c.n) + " d " + std::to_string(c.d) +
                               " e " + std::to_string(c.e);
      CAPTURE(what);
      const Tensor q = random_tensor({c.groups, c.m, c.d}, 31, t), k = random_tensor({c.groups, c.n, c.d}, 32, t);
      const Tensor v = random_tensor({c.groups, c.n, c.e}, 33, t);
      Tensor bias;
      if (c.bias) {
        std::vector<double> b = random_tensor({c.groups, c.n}, 34, DType::F64).to_vector<double>();
        for (size_t i = 0; i < b.size(); i += 5) b[i] = -1e30;  // masked keys (HOTET's padding)
        // Group 0 starts with keys of weight 0 (bias log 0 = −∞) past the first 32-key chunk.
        for (int64_t j = 0; j < std::min<int64_t>(c.n - 1, 40); ++j) b[static_cast<size_t>(j)] = -INFINITY;
        bias = Tensor::from_vector(b, {c.groups, c.n}).to(t);
      }
      const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
      const std::vector<Tensor> cpu = prim::attention(q, k, v, bias, scale);
      const std::vector<Tensor> gpu =
          prim::attention(on_gpu(q), on_gpu(k), on_gpu(v), bias.defined() ? on_gpu(bias) : Tensor(), scale);
      same(cpu[0], gpu[0], "attention out " + what);
      same(cpu[1], gpu[1], "attention lse " + what);
      const Tensor dout = random_tensor(cpu[0].shape(), 35, t);
      const std::vector<Tensor> cpu_grads = prim::attention_backward(q, k, v, bias, cpu[0], cpu[1], dout, scale);
      const std::vector<Tensor> gpu_grads =
          prim::attention_backward(on_gpu(q), on_gpu(k), on_gpu(v), bias.defined() ? on_gpu(bias) : Tensor(),
                                   on_gpu(cpu[0]), on_gpu(cpu[1]), on_gpu(dout), scale);
      const char* names[] = {"dq", "dk", "dv", "dkey_bias"};
      for (size_t i = 0; i < 3; ++i) same(cpu_grads[i], gpu_grads[i], std::string(names[i]) + " " + what);
      CHECK(gpu_grads[3].defined() == c.bias);
      if (c.bias) same(cpu_grads[3], gpu_grads[3], "dkey_bias " + what);
    }
  }
  // Wider heads have no kernel, nor has any head with the kernel switched off: the primitive says so, and the
  // op composes matmul and softmax instead.
  const Tensor q = random_tensor({1, 4, 129}, 36, DType::F64), v = random_tensor({1, 3, 2}, 37, DType::F64);
  const Tensor k = random_tensor({1, 3, 129}, 38, DType::F64);
  CHECK(prim::has_fused_attention(q, v));
  CHECK_FALSE(prim::has_fused_attention(on_gpu(q), on_gpu(v)));
  CHECK_THROWS_AS(prim::attention(on_gpu(q), on_gpu(k), on_gpu(v), Tensor(), 0.1), Error);
  same(attention(Var(q), Var(k), Var(v), Var(), 0.1).data(),
       attention(Var(on_gpu(q)), Var(on_gpu(k)), Var(on_gpu(v)), Var(), 0.1).data(), "composed attention, d = 129");
  const Tensor narrow_q = random_tensor({2, 5, 1}, 39, DType::F32), narrow_v = random_tensor({2, 6, 1}, 40, DType::F32);
  CHECK(prim::has_fused_attention(on_gpu(narrow_q), on_gpu(narrow_v)));
  const FusedAttentionScope off(false);
  CHECK_FALSE(prim::has_fused_attention(on_gpu(narrow_q), on_gpu(narrow_v)));
}

TEST_CASE("gpu primitives: batch_norm_train / batch_norm_backward (fused on both for [N, C], composed on CUDA else)" *
          gpu_only()) {
  for (DType t : kFloating) {
    CAPTURE(dtype_name(t));
    // [N, C]: the CUDA kernels (row slices, a partial warp of channels at C = 33); [N, C, d...]: composed.
    for (const Shape& shape : {Shape{300, 70}, Shape{2000, 33}, Shape{1, 5}, Shape{6, 5, 4, 3}}) {
      const Tensor x = random_tensor(shape, 21, t, -3, 5), g = random_tensor(shape, 22, t);
      const Tensor w = random_tensor({shape[1]}, 23, t), b = random_tensor({shape[1]}, 24, t);
      for (bool affine : {true, false}) {
        const std::string what = shape_str(shape) + (affine ? " affine" : " plain");
        const Tensor wc = affine ? w : Tensor(), bc = affine ? b : Tensor();
        const Tensor wg = affine ? on_gpu(w) : Tensor(), bg = affine ? on_gpu(b) : Tensor();
        std::vector<Tensor> cpu = prim::batch_norm_train(x, wc, bc, 1e-5);
        std::vector<Tensor> gpu = prim::batch_norm_train(on_gpu(x), wg, bg, 1e-5);
        for (size_t i = 0; i < 3; ++i) same(cpu[i], gpu[i], "batch_norm_train output " + std::to_string(i) + " " + what);
        std::vector<Tensor> dc = prim::batch_norm_backward(g, x, cpu[1], cpu[2], wc, 1e-5);
        std::vector<Tensor> dg = prim::batch_norm_backward(on_gpu(g), on_gpu(x), gpu[1], gpu[2], wg, 1e-5);
        for (size_t i = 0; i < 3; ++i) {
          CHECK(dc[i].defined() == dg[i].defined());
          if (dc[i].defined()) same(dc[i], dg[i], "batch_norm_backward output " + std::to_string(i) + " " + what);
        }
      }
    }
  }
}

TEST_CASE("gpu primitives: the profiler times CUDA primitives on their device" * gpu_only()) {
  const Tensor a = on_gpu(random_tensor({64, 32}, 25, DType::F32));
  profiler::start();
  prim::matmul(a, a, false, true);
  profiler::stop();
  const profiler::Summary s = profiler::summary();
  REQUIRE(s.ops.size() == 1);
  CHECK(s.ops[0].name == "matmul");
  CHECK(s.ops[0].detail == "f32 cuda:0");
  CHECK(s.ops[0].seconds > 0);
}

TEST_CASE("gpu primitives: permute, slice, slice_scatter, concat" * gpu_only()) {
  for (DType t : kAll) {
    CAPTURE(dtype_name(t));
    const Tensor x = random_tensor({2, 3, 4, 5}, 18, t);
    same(prim::permute(x, {3, 1, 0, 2}), prim::permute(on_gpu(x), {3, 1, 0, 2}), "permute");
    same(prim::slice(x, 2, 1, 4, 2), prim::slice(on_gpu(x), 2, 1, 4, 2), "slice step 2");
    same(prim::slice(x, -1, -3, 100, 1), prim::slice(on_gpu(x), -1, -3, 100, 1), "slice negative start");
    const Tensor src = random_tensor({2, 3, 2, 5}, 19, t);
    same(prim::slice_scatter(src, {2, 3, 4, 5}, 2, 0, 4, 2), prim::slice_scatter(on_gpu(src), {2, 3, 4, 5}, 2, 0, 4, 2),
         "slice_scatter");
    const Tensor a = random_tensor({2, 3}, 20, t), b = random_tensor({2, 1}, 21, t), e = random_tensor({2, 0}, 22, t);
    same(prim::concat({a, b, e, a}, 1), prim::concat({on_gpu(a), on_gpu(b), on_gpu(e), on_gpu(a)}, 1), "concat dim 1");
    same(prim::concat({a, a}, 0), prim::concat({on_gpu(a), on_gpu(a)}, 0), "concat dim 0");
  }
}

TEST_CASE("gpu primitives: index_select, index_add, gather, scatter_add, one_hot, nonzero_flat" * gpu_only()) {
  for (DType t : kAll) {
    CAPTURE(dtype_name(t));
    const Tensor x = random_tensor({4, 3, 2}, 23, t);
    const Tensor rows = i64({3, 0, 3, 1, 3}, {5});
    same(prim::index_select(x, 0, rows), prim::index_select(on_gpu(x), 0, on_gpu(rows)), "index_select dim 0");
    const Tensor cols = i64({2, 0, 2}, {3});
    same(prim::index_select(x, 1, cols), prim::index_select(on_gpu(x), 1, on_gpu(cols)), "index_select dim 1");
    const Tensor src = random_tensor({5, 3, 2}, 24, t);
    same(prim::index_add(x, 0, rows, src), prim::index_add(on_gpu(x), 0, on_gpu(rows), on_gpu(src)),
         "index_add (repeated rows)");
    const Tensor gi = i64({0, 2, 2, 1, 0, 0, 1, 1, 2, 2, 0, 1}, {2, 3, 2});
    same(prim::gather(x, 1, gi), prim::gather(on_gpu(x), 1, on_gpu(gi)), "gather dim 1");
    const Tensor gs = i64({3, 3, 0, 1}, {2, 1, 2});
    same(prim::gather(x, 0, gs), prim::gather(on_gpu(x), 0, on_gpu(gs)), "gather, smaller index");
    const Tensor ssrc = random_tensor({2, 3, 2}, 25, t);
    same(prim::scatter_add(x, 1, gi, ssrc), prim::scatter_add(on_gpu(x), 1, on_gpu(gi), on_gpu(ssrc)),
         "scatter_add (repeated)");
    same(prim::one_hot(rows, 6, t), prim::one_hot(on_gpu(rows), 6, t), "one_hot");
    const Tensor mask = prim::binary_scalar(Binary::Gt, x, 0.0);
    same(prim::nonzero_flat(mask), prim::nonzero_flat(on_gpu(mask)), "nonzero_flat");
  }
}

TEST_CASE("gpu primitives: a tensor with more than 8 unmergeable dims is refused clearly" * gpu_only()) {
  const Tensor x = on_gpu(random_tensor({2, 2, 2, 2, 2, 2, 2, 2, 2}, 1, DType::F32));
  std::vector<int64_t> perm = {8, 7, 6, 5, 4, 3, 2, 1, 0};
  CHECK_THROWS_WITH_AS(prim::permute(x, perm), doctest::Contains("at most 8"), Error);
}
