// Fused scaled-dot-product attention (prim::attention / prim::attention_backward; the host plan is
// engine/backend/cpu/attention.cpp). Composed from cuBLAS GEMMs and softmax, attention writes and rereads
// the [G, m, n] score matrix several times and launches ~10 kernels per call; here the scores live only
// in registers. One warp owns one query row (forward, dq) or one key row (dk, dv, dkey_bias): its lanes
// take 32 keys (queries) at a time, each lane computes one score, and the chunk's probabilities are
// broadcast across the warp with shuffles while every lane accumulates its own output channels
// (channel c in lane c % 32, slot c / 32). The forward keeps a running max and normalizer (online
// softmax); the backward recomputes probabilities from the saved log-normalizers, as FlashAttention does.
// Narrow heads (d, e <= kNarrow: HOTET's reference embedding has width 1) would leave most lanes idle in
// those shuffle loops, so there every lane keeps partial sums over its own keys (queries) for all channels,
// reduced across the warp once per row: two passes over the keys (max, then sums) instead of online softmax.
// Widths d and e up to kMaxAttentionWidth (launch.cuh); the attention op composes wider heads.
#include <type_traits>

#include "kernels/common.cuh"

namespace brenier::kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 4;
constexpr unsigned kAllLanes = 0xffffffffu;
constexpr int kMaxSlots = static_cast<int>(kMaxAttentionWidth / kWarp);
static_assert(kMaxAttentionWidth % kWarp == 0, "kMaxAttentionWidth: whole warps of channels");

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }
__device__ inline float log_of(float x) { return logf(x); }
__device__ inline double log_of(double x) { return log(x); }
// A NaN score makes the row's max NaN, so NaN queries give NaN rows as on the host.
template <class T>
__device__ inline T max_of(T a, T b) {
  return a > b || a != a ? a : b;
}

template <class T>
__device__ T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kAllLanes, v, offset);
  return v;
}
template <class T>
__device__ T warp_max(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = max_of(v, __shfl_xor_sync(kAllLanes, v, offset));
  return v;
}

template <class T>
__device__ T dot(const T* a, const T* b, int64_t len) {
  T s = 0;
  for (int64_t t = 0; t < len; ++t) s += a[t] * b[t];
  return s;
}

// Rows start .. start + 31 of `count`, those that exist.
__device__ inline int chunk_size(int64_t count, int64_t start) {
  return static_cast<int>(count - start < kWarp ? count - start : kWarp);
}

// acc[c] += Σ_{r < rows} w_r x[r, lane + 32 c] over the channels below `width`, where w_r is the value lane r
// holds in `w`: a chunk of up to 32 rows of x [rows, width], weighted by per-lane values, each lane
// accumulating its own channels.
template <class T, int S>
__device__ void accumulate_rows(T w, const T* x, int64_t width, int rows, T (&acc)[S]) {
  const int lane = threadIdx.x % kWarp;
  for (int r = 0; r < rows; ++r) {
    const T wr = __shfl_sync(kAllLanes, w, r);
    for (int c = 0; c < S; ++c) {
      const int64_t ch = lane + c * kWarp;
      if (ch < width) acc[c] += wr * x[r * width + ch];
    }
  }
}

// dst[lane + 32 c] = factor · acc[c] for the channels below `width`.
template <class T, int S>
__device__ void store_channels(const T (&acc)[S], T factor, T* dst, int64_t width) {
  const int lane = threadIdx.x % kWarp;
  for (int c = 0; c < S; ++c) {
    const int64_t ch = lane + c * kWarp;
    if (ch < width) dst[ch] = factor * acc[c];
  }
}

// The warps of a grid-stride loop over `rows` rows, kWarpsPerBlock per block.
#define BRENIER_WARP_ROWS(row, rows)                                                                    \
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp; row < (rows); \
       row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock)

// out[g, i] = Σ_j softmax_j(scale q_gi·k_gj + bias_gj) v_gj and lse[g, i], one warp per query row (g, i).
template <class T, int S>
__global__ void attention_forward_kernel(const T* q, const T* k, const T* v, const T* bias, T* out, T* lse,
                                         int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e, T scale) {
  const int lane = threadIdx.x % kWarp;
  BRENIER_WARP_ROWS(row, groups * m) {
    const int64_t g = row / m;
    const T* qi = q + row * d;
    const T* kg = k + g * n * d;
    const T* vg = v + g * n * e;
    const T* bg = bias ? bias + g * n : nullptr;
    T run_max = -INFINITY, norm = 0, acc[S];
    for (int c = 0; c < S; ++c) acc[c] = 0;
    for (int64_t j0 = 0; j0 < n; j0 += kWarp) {
      const int64_t j = j0 + lane;
      const T s = j < n ? scale * dot(qi, kg + j * d, d) + (bg ? bg[j] : T(0)) : T(-INFINITY);
      const T new_max = max_of(run_max, warp_max(s));
      // While every score so far is −∞ (keys masked with log 0) nothing has been accumulated; afterwards
      // rescale is 0 on the first finite chunk (run_max = −∞).
      const bool none_yet = new_max == T(-INFINITY);
      const T rescale = none_yet ? T(1) : exp_of(run_max - new_max);
      const T p = j < n && !none_yet ? exp_of(s - new_max) : T(0);
      norm = norm * rescale + warp_sum(p);
      for (int c = 0; c < S; ++c) acc[c] *= rescale;
      accumulate_rows(p, vg + j0 * e, e, chunk_size(n, j0), acc);
      run_max = new_max;
    }
    store_channels(acc, T(1) / norm, out + row * e, e);
    if (lane == 0) lse[row] = run_max + log_of(norm);
  }
}

// dq[g, i] = scale Σ_j ds_gij k_gj with ds = p (dout_gi·v_gj − δ_gi), δ_gi = dout_gi·out_gi (written to
// `delta` for the key-side kernel); one warp per query row.
template <class T, int S>
__global__ void attention_dq_kernel(const T* q, const T* k, const T* v, const T* bias, const T* out, const T* lse,
                                    const T* dout, T* dq, T* delta, int64_t groups, int64_t m, int64_t n, int64_t d,
                                    int64_t e, T scale) {
  const int lane = threadIdx.x % kWarp;
  BRENIER_WARP_ROWS(row, groups * m) {
    const int64_t g = row / m;
    const T* qi = q + row * d;
    const T* gi = dout + row * e;
    const T* kg = k + g * n * d;
    const T* vg = v + g * n * e;
    const T* bg = bias ? bias + g * n : nullptr;
    T part = 0;
    for (int64_t ch = lane; ch < e; ch += kWarp) part += gi[ch] * out[row * e + ch];
    const T delta_i = warp_sum(part), lse_i = lse[row];
    if (lane == 0) delta[row] = delta_i;
    T acc[S];
    for (int c = 0; c < S; ++c) acc[c] = 0;
    for (int64_t j0 = 0; j0 < n; j0 += kWarp) {
      const int64_t j = j0 + lane;
      T ds = 0;
      if (j < n) {
        const T p = exp_of(scale * dot(qi, kg + j * d, d) + (bg ? bg[j] : T(0)) - lse_i);
        ds = p * (dot(gi, vg + j * e, e) - delta_i);
      }
      accumulate_rows(ds, kg + j0 * d, d, chunk_size(n, j0), acc);
    }
    store_channels(acc, scale, dq + row * d, d);
  }
}

// dk[g, j] = scale Σ_i ds_gij q_gi, dv[g, j] = Σ_i p_gij dout_gi, dbias[g, j] = Σ_i ds_gij; one warp per
// key row (g, j), after attention_dq_kernel has written δ.
template <class T, int S>
__global__ void attention_dkv_kernel(const T* q, const T* k, const T* v, const T* bias, const T* lse,
                                     const T* dout, const T* delta, T* dk, T* dv, T* dbias, int64_t groups,
                                     int64_t m, int64_t n, int64_t d, int64_t e, T scale) {
  const int lane = threadIdx.x % kWarp;
  BRENIER_WARP_ROWS(key, groups * n) {
    const int64_t g = key / n;
    const T* kj = k + key * d;
    const T* vj = v + key * e;
    const T bj = bias ? bias[key] : T(0);
    const T* qg = q + g * m * d;
    const T* gg = dout + g * m * e;
    T acc_k[S], acc_v[S], bias_part = 0;
    for (int c = 0; c < S; ++c) acc_k[c] = acc_v[c] = 0;
    for (int64_t i0 = 0; i0 < m; i0 += kWarp) {
      const int64_t i = i0 + lane;
      T p = 0, ds = 0;
      if (i < m) {
        p = exp_of(scale * dot(qg + i * d, kj, d) + bj - lse[g * m + i]);
        ds = p * (dot(gg + i * e, vj, e) - delta[g * m + i]);
      }
      bias_part += ds;
      accumulate_rows(ds, qg + i0 * d, d, chunk_size(m, i0), acc_k);
      accumulate_rows(p, gg + i0 * e, e, chunk_size(m, i0), acc_v);
    }
    store_channels(acc_k, scale, dk + key * d, d);
    store_channels(acc_v, T(1), dv + key * e, e);
    const T bias_grad = warp_sum(bias_part);
    if (dbias && lane == 0) dbias[key] = bias_grad;
  }
}

// --- narrow heads ------------------------------------------------------------------------------
constexpr int kNarrow = 4;

// scale q_i·k_j + bias_j for d <= kNarrow, q already scaled (qs).
template <class T>
__device__ inline T narrow_score(const T* qs, const T* kj, int64_t d, T bias) {
  T s = bias;
  for (int t = 0; t < kNarrow; ++t)
    if (t < d) s += qs[t] * kj[t];
  return s;
}

template <class T>
__global__ void attention_forward_narrow_kernel(const T* q, const T* k, const T* v, const T* bias, T* out, T* lse,
                                                int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e,
                                                T scale) {
  const int lane = threadIdx.x % kWarp;
  BRENIER_WARP_ROWS(row, groups * m) {
    const int64_t g = row / m;
    const T* kg = k + g * n * d;
    const T* vg = v + g * n * e;
    const T* bg = bias ? bias + g * n : nullptr;
    T qs[kNarrow];
    for (int t = 0; t < kNarrow; ++t) qs[t] = t < d ? scale * q[row * d + t] : T(0);
    T row_max = -INFINITY;
    for (int64_t j = lane; j < n; j += kWarp)
      row_max = max_of(row_max, narrow_score(qs, kg + j * d, d, bg ? bg[j] : T(0)));
    row_max = warp_max(row_max);
    T norm = 0, acc[kNarrow];
    for (int c = 0; c < kNarrow; ++c) acc[c] = 0;
    if (row_max != T(-INFINITY)) {  // every key −∞: no probabilities (0 / 0, as the host)
      for (int64_t j = lane; j < n; j += kWarp) {
        const T p = exp_of(narrow_score(qs, kg + j * d, d, bg ? bg[j] : T(0)) - row_max);
        norm += p;
        for (int c = 0; c < kNarrow; ++c)
          if (c < e) acc[c] += p * vg[j * e + c];
      }
    }
    norm = warp_sum(norm);
    for (int c = 0; c < kNarrow; ++c) acc[c] = warp_sum(acc[c]);
    if (lane == 0) {
      for (int c = 0; c < kNarrow; ++c)
        if (c < e) out[row * e + c] = acc[c] / norm;
      lse[row] = row_max + log_of(norm);
    }
  }
}

template <class T>
__global__ void attention_dq_narrow_kernel(const T* q, const T* k, const T* v, const T* bias, const T* out,
                                           const T* lse, const T* dout, T* dq, T* delta, int64_t groups, int64_t m,
                                           int64_t n, int64_t d, int64_t e, T scale) {
  const int lane = threadIdx.x % kWarp;
  BRENIER_WARP_ROWS(row, groups * m) {
    const int64_t g = row / m;
    const T* kg = k + g * n * d;
    const T* vg = v + g * n * e;
    const T* bg = bias ? bias + g * n : nullptr;
    T qs[kNarrow], gi[kNarrow], delta_i = 0;
    for (int t = 0; t < kNarrow; ++t) {
      qs[t] = t < d ? scale * q[row * d + t] : T(0);
      gi[t] = t < e ? dout[row * e + t] : T(0);
      if (t < e) delta_i += gi[t] * out[row * e + t];
    }
    const T lse_i = lse[row];
    T acc[kNarrow];
    for (int t = 0; t < kNarrow; ++t) acc[t] = 0;
    for (int64_t j = lane; j < n; j += kWarp) {
      const T p = exp_of(narrow_score(qs, kg + j * d, d, bg ? bg[j] : T(0)) - lse_i);
      T dp = 0;
      for (int c = 0; c < kNarrow; ++c)
        if (c < e) dp += gi[c] * vg[j * e + c];
      const T ds = p * (dp - delta_i);
      for (int t = 0; t < kNarrow; ++t)
        if (t < d) acc[t] += ds * kg[j * d + t];
    }
    for (int t = 0; t < kNarrow; ++t) acc[t] = warp_sum(acc[t]);
    if (lane == 0) {
      for (int t = 0; t < kNarrow; ++t)
        if (t < d) dq[row * d + t] = scale * acc[t];
      delta[row] = delta_i;
    }
  }
}

template <class T>
__global__ void attention_dkv_narrow_kernel(const T* q, const T* k, const T* v, const T* bias, const T* lse,
                                            const T* dout, const T* delta, T* dk, T* dv, T* dbias, int64_t groups,
                                            int64_t m, int64_t n, int64_t d, int64_t e, T scale) {
  const int lane = threadIdx.x % kWarp;
  BRENIER_WARP_ROWS(key, groups * n) {
    const int64_t g = key / n;
    const T bj = bias ? bias[key] : T(0);
    T ks[kNarrow], vj[kNarrow];
    for (int t = 0; t < kNarrow; ++t) {
      ks[t] = t < d ? scale * k[key * d + t] : T(0);  // scale q·k = q·(scale k)
      vj[t] = t < e ? v[key * e + t] : T(0);
    }
    T acc_k[kNarrow], acc_v[kNarrow], bias_grad = 0;
    for (int t = 0; t < kNarrow; ++t) acc_k[t] = acc_v[t] = 0;
    for (int64_t i = lane; i < m; i += kWarp) {
      const int64_t row = g * m + i;
      const T p = exp_of(narrow_score(ks, q + row * d, d, bj) - lse[row]);
      T dp = 0;
      for (int c = 0; c < kNarrow; ++c)
        if (c < e) dp += dout[row * e + c] * vj[c];
      const T ds = p * (dp - delta[row]);
      bias_grad += ds;
      for (int t = 0; t < kNarrow; ++t) {
        if (t < d) acc_k[t] += ds * q[row * d + t];
        if (t < e) acc_v[t] += p * dout[row * e + t];
      }
    }
    for (int t = 0; t < kNarrow; ++t) {
      acc_k[t] = warp_sum(acc_k[t]);
      acc_v[t] = warp_sum(acc_v[t]);
    }
    bias_grad = warp_sum(bias_grad);
    if (lane == 0) {
      for (int t = 0; t < kNarrow; ++t) {
        if (t < d) dk[key * d + t] = scale * acc_k[t];
        if (t < e) dv[key * e + t] = acc_v[t];
      }
      if (dbias) dbias[key] = bias_grad;
    }
  }
}

#undef BRENIER_WARP_ROWS

unsigned blocks_for_rows(int64_t rows) {
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > 65535 * 8 ? 65535 * 8 : blocks);
}

// Calls f(std::integral_constant<int, S>{}) for the slots that hold `width` channels (1..kMaxSlots).
template <class F>
void with_slots(int64_t width, F&& f) {
  const int64_t slots = (width + kWarp - 1) / kWarp;
  if (slots <= 1) f(std::integral_constant<int, 1>{});
  else if (slots == 2) f(std::integral_constant<int, 2>{});
  else if (slots == 3) f(std::integral_constant<int, 3>{});
  else f(std::integral_constant<int, kMaxSlots>{});
}

}  // namespace

// Each launcher picks the kernel (narrow, or wide with the slots the widths need), then launches it once.
void attention_forward(DType dtype, const void* q, const void* k, const void* v, const void* key_bias, void* out,
                       void* lse, int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e, double scale,
                       cudaStream_t s) {
  if (groups * m == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    auto kernel = attention_forward_narrow_kernel<T>;
    if (d > kNarrow || e > kNarrow)
      with_slots(e, [&](auto slots) { kernel = attention_forward_kernel<T, decltype(slots)::value>; });
    kernel<<<blocks_for_rows(groups * m), kWarpsPerBlock * kWarp, 0, s>>>(
        static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<const T*>(key_bias),
        static_cast<T*>(out), static_cast<T*>(lse), groups, m, n, d, e, static_cast<T>(scale));
  });
  CUDA_CHECK_LAUNCH();
}

void attention_backward(DType dtype, const void* q, const void* k, const void* v, const void* key_bias,
                        const void* out, const void* lse, const void* dout, void* delta, void* dq, void* dk, void* dv,
                        void* dkey_bias, int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e, double scale,
                        cudaStream_t s) {
  if (groups * n == 0) return;
  const bool narrow = d <= kNarrow && e <= kNarrow;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    const T *tq = static_cast<const T*>(q), *tk = static_cast<const T*>(k), *tv = static_cast<const T*>(v);
    const T *tbias = static_cast<const T*>(key_bias), *tlse = static_cast<const T*>(lse);
    const T* tdout = static_cast<const T*>(dout);
    if (groups * m > 0) {  // dq, and δ for the key-side kernel
      auto dq_kernel = attention_dq_narrow_kernel<T>;
      if (!narrow) with_slots(d, [&](auto slots) { dq_kernel = attention_dq_kernel<T, decltype(slots)::value>; });
      dq_kernel<<<blocks_for_rows(groups * m), kWarpsPerBlock * kWarp, 0, s>>>(
          tq, tk, tv, tbias, static_cast<const T*>(out), tlse, tdout, static_cast<T*>(dq), static_cast<T*>(delta),
          groups, m, n, d, e, static_cast<T>(scale));
      CUDA_CHECK_LAUNCH();
    }
    auto dkv_kernel = attention_dkv_narrow_kernel<T>;
    if (!narrow)
      with_slots(d > e ? d : e, [&](auto slots) { dkv_kernel = attention_dkv_kernel<T, decltype(slots)::value>; });
    dkv_kernel<<<blocks_for_rows(groups * n), kWarpsPerBlock * kWarp, 0, s>>>(
        tq, tk, tv, tbias, tlse, tdout, static_cast<const T*>(delta), static_cast<T*>(dk), static_cast<T*>(dv),
        static_cast<T*>(dkey_bias), groups, m, n, d, e, static_cast<T>(scale));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
