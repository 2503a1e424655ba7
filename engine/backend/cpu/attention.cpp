// Fused scaled-dot-product attention on the host (prim::attention / prim::attention_backward).
// Unfused, attention writes and rereads a [G, m, n] score matrix several times per step: on HOTET's
// embedding ([32, 1024, 1024] scores, 128 MiB) the score product, softmax, its backward and the two
// products that touch the matrix were ~47 % of a training step, bound by memory traffic, not
// arithmetic. Here a tile of query rows at a time computes its scores into a buffer that stays in
// cache (GEMM), turns them into probabilities in place and multiplies by v (GEMM), FlashAttention's
// plan with whole key rows per tile (the sets here have at most a few thousand points). The backward
// recomputes each tile's probabilities from the saved log-normalizers instead of storing them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/attention_rows.h"
#include "engine/backend/cpu/gemm.h"
#include "engine/backend/cpu/loops.h"

namespace brenier::cpu {
namespace {

// Query rows per tile, so that a tile's [rows, n] buffer holds about `elements` values: 128 KiB of f32
// scores in the forward, two 256 KiB buffers in the backward, whose dk / dv updates (GEMMs with the tile's
// rows as inner dimension) want taller tiles (measured at n = 1024, d = 16: 32 rows 219 ms, 64 rows 169 ms
// for forward + backward of 32 heads; 128 and 256 rows no faster).
int64_t tile_rows(int64_t m, int64_t n, int64_t elements) {
  return std::clamp<int64_t>(elements / n, 1, std::max<int64_t>(m, 1));
}

// Width-1 heads (d = e = 1): row by row without GEMMs or buffers (attention_rows.h, narrow_*).
template <class T>
void narrow_forward(const T* q, const T* k, const T* v, const T* bias, T* out, T* lse, int64_t groups, int64_t m,
                    int64_t n, T scale) {
#pragma omp parallel for schedule(static) if (groups * m * n > kParallelThreshold)
  for (int64_t gi = 0; gi < groups * m; ++gi) {
    const int64_t g = gi / m;
    const NarrowRow<T> row = narrow_attention_row(scale * q[gi], k + g * n, v + g * n, bias ? bias + g * n : nullptr, n);
    out[gi] = row.out;
    lse[gi] = row.lse;
  }
}

template <class T>
void narrow_backward(const T* q, const T* k, const T* v, const T* bias, const T* out, const T* lse, const T* dout,
                     T* dq, T* dk, T* dv, T* dbias, int64_t groups, int64_t m, int64_t n, T scale) {
#pragma omp parallel for schedule(static) if (groups * m * n > kParallelThreshold)
  for (int64_t g = 0; g < groups; ++g) {
    T* dkg = dk + g * n;
    T* dvg = dv + g * n;
    T* dbg = dbias ? dbias + g * n : nullptr;
    std::fill(dkg, dkg + n, T(0));
    std::fill(dvg, dvg + n, T(0));
    if (dbg) std::fill(dbg, dbg + n, T(0));
    for (int64_t i = g * m; i < (g + 1) * m; ++i)
      dq[i] = scale * narrow_attention_backward_row(scale * q[i], lse[i], dout[i], dout[i] * out[i], k + g * n,
                                                    v + g * n, bias ? bias + g * n : nullptr, dkg, dvg, dbg, n);
  }
}

template <class T>
void forward(const T* q, const T* k, const T* v, const T* bias, T* out, T* lse, int64_t groups, int64_t m,
             int64_t n, int64_t d, int64_t e, T scale) {
  const int64_t rows = tile_rows(m, n, 32768), tiles = (m + rows - 1) / rows;
#pragma omp parallel if (groups * m * n * (d + e) > kParallelThreshold)
  {
    std::vector<T> scores(static_cast<size_t>(rows * n)), inverse_totals(static_cast<size_t>(rows));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < groups * tiles; ++t) {
      const int64_t g = t / tiles, i0 = (t % tiles) * rows, r = std::min(rows, m - i0);
      const T* kg = k + g * n * d;
      const T* bg = bias ? bias + g * n : nullptr;
      T* s = scores.data();
      gemm<T>(false, true, r, n, d, scale, q + (g * m + i0) * d, d, kg, d, T(0), s, n);
      for (int64_t i = 0; i < r; ++i) {
        const RowSums<T> sums = softmax_numerators(s + i * n, bg, n);
        lse[g * m + i0 + i] = static_cast<T>(static_cast<double>(sums.shift) + std::log(sums.total));
        inverse_totals[i] = static_cast<T>(1.0 / sums.total);
      }
      // out = numerators · v, each row then divided by its total (e values instead of n).
      T* o = out + (g * m + i0) * e;
      gemm<T>(false, false, r, e, n, T(1), s, n, v + g * n * e, e, T(0), o, e);
      for (int64_t i = 0; i < r; ++i)
        for (int64_t c = 0; c < e; ++c) o[i * e + c] *= inverse_totals[i];
    }
  }
}

// dS = P ∘ (dP − rowdot), dP = dO vᵀ, rowdot_i = dO_i · O_i; then dv += Pᵀ dO, dq = scale dS k,
// dk += scale dSᵀ q, dbias += Σ_i dS. Parallel over groups: each owns its dk, dv and dbias rows.
template <class T>
void backward(const T* q, const T* k, const T* v, const T* bias, const T* out, const T* lse, const T* dout, T* dq,
              T* dk, T* dv, T* dbias, int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e, T scale) {
  const int64_t rows = tile_rows(m, n, 65536);
#pragma omp parallel if (groups * m * n * (d + e) > kParallelThreshold)
  {
    std::vector<T> probs(static_cast<size_t>(rows * n)), dscores(static_cast<size_t>(rows * n));
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; ++g) {
      const T* kg = k + g * n * d;
      const T* vg = v + g * n * e;
      const T* bg = bias ? bias + g * n : nullptr;
      T* dkg = dk + g * n * d;
      T* dvg = dv + g * n * e;
      T* dbg = dbias ? dbias + g * n : nullptr;
      std::fill(dkg, dkg + n * d, T(0));
      std::fill(dvg, dvg + n * e, T(0));
      if (dbg) std::fill(dbg, dbg + n, T(0));
      for (int64_t i0 = 0; i0 < m; i0 += rows) {
        const int64_t r = std::min(rows, m - i0);
        const T* qt = q + (g * m + i0) * d;
        const T* dot = dout + (g * m + i0) * e;
        const T* ot = out + (g * m + i0) * e;
        T* p = probs.data();
        T* ds = dscores.data();
        gemm<T>(false, true, r, n, d, scale, qt, d, kg, d, T(0), p, n);
        gemm<T>(false, true, r, n, e, T(1), dot, e, vg, e, T(0), ds, n);
        for (int64_t i = 0; i < r; ++i) {
          probabilities_row(p + i * n, bg, lse[g * m + i0 + i], n);
          double row_dot = 0;
          for (int64_t c = 0; c < e; ++c) row_dot += static_cast<double>(dot[i * e + c]) * ot[i * e + c];
          score_gradient_row(p + i * n, ds + i * n, static_cast<T>(row_dot), dbg, n);
        }
        gemm<T>(true, false, n, e, r, T(1), p, n, dot, e, T(1), dvg, e);
        gemm<T>(false, false, r, d, n, scale, ds, n, kg, d, T(0), dq + (g * m + i0) * d, d);
        gemm<T>(true, false, n, d, r, scale, ds, n, qt, d, T(1), dkg, d);
      }
    }
  }
}

}  // namespace

std::vector<Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                              double scale) {
  const int64_t groups = q.size(0), m = q.size(1), n = k.size(1), d = q.size(2), e = v.size(2);
  Tensor out = Tensor::empty({groups, m, e}, q.dtype());
  Tensor lse = Tensor::empty({groups, m}, q.dtype());
  dispatch_floating(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* bias = key_bias.defined() ? key_bias.data<T>() : nullptr;
    if (d == 1 && e == 1)
      narrow_forward<T>(q.data<T>(), k.data<T>(), v.data<T>(), bias, out.data<T>(), lse.data<T>(), groups, m, n,
                        static_cast<T>(scale));
    else
      forward<T>(q.data<T>(), k.data<T>(), v.data<T>(), bias, out.data<T>(), lse.data<T>(), groups, m, n, d, e,
                 static_cast<T>(scale));
  });
  return {out, lse};
}

std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                                       const Tensor& out, const Tensor& lse, const Tensor& dout, double scale) {
  const int64_t groups = q.size(0), m = q.size(1), n = k.size(1), d = q.size(2), e = v.size(2);
  Tensor dq = Tensor::empty(q.shape(), q.dtype()), dk = Tensor::empty(k.shape(), q.dtype());
  Tensor dv = Tensor::empty(v.shape(), q.dtype());
  Tensor dbias = key_bias.defined() ? Tensor::empty(key_bias.shape(), q.dtype()) : Tensor();
  dispatch_floating(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* bias = key_bias.defined() ? key_bias.data<T>() : nullptr;
    T* db = key_bias.defined() ? dbias.data<T>() : nullptr;
    if (d == 1 && e == 1)
      narrow_backward<T>(q.data<T>(), k.data<T>(), v.data<T>(), bias, out.data<T>(), lse.data<T>(), dout.data<T>(),
                         dq.data<T>(), dk.data<T>(), dv.data<T>(), db, groups, m, n, static_cast<T>(scale));
    else
      backward<T>(q.data<T>(), k.data<T>(), v.data<T>(), bias, out.data<T>(), lse.data<T>(), dout.data<T>(),
                  dq.data<T>(), dk.data<T>(), dv.data<T>(), db, groups, m, n, d, e, static_cast<T>(scale));
  });
  return {dq, dk, dv, dbias};
}

}  // namespace brenier::cpu
