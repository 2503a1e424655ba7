// Row loops of the fused attention (see attention_rows.h). Compiled with -fno-trapping-math
// (engine/backend/cpu/meson.build): without it GCC will not turn compare-and-select into vector code;
// nothing here raises or reads floating-point exception flags, so the values are the same.
#include "engine/backend/cpu/attention_rows.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace brenier::cpu {
namespace {

#define BRENIER_INLINE [[gnu::always_inline]] inline

// e^x for x ≤ 0 (see exp_nonpositive in the header), written to vectorize inside the callers' simd loops.
BRENIER_INLINE float exp_value(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln 2 split so n·kLn2Hi is exact
  constexpr float kRound = 12582912.0f;  // 1.5 · 2^23: adding it rounds to an integer (SSE2 has no round)
  constexpr float kLowest = -87.0f;
  const float xc = std::max(x, kLowest);  // NaN stays NaN
  const float shifted = xc * kLog2e + kRound;
  const float nf = shifted - kRound;  // round(x / ln 2), in [−126, 0]
  const float r = (xc - nf * kLn2Hi) - nf * kLn2Lo;
  float poly = 1.9875691500e-4f;
  poly = poly * r + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  poly = poly * r * r + r + 1.0f;
  // shifted's low mantissa bits hold n (two's complement for n < 0); 2^n is (n + 127) << 23.
  const int32_t exponent = ((std::bit_cast<int32_t>(shifted) - 0x4B400000) + 127) & 0xFF;
  return x < kLowest ? 0.0f : poly * std::bit_cast<float>(exponent << 23);
}
BRENIER_INLINE double exp_value(double x) { return std::exp(x); }

template <class T>
BRENIER_INLINE RowSums<T> softmax_numerators_impl(T* row, const T* bias, int64_t n) {
  // Pass 1: scores + bias and their max (NaN noticed separately: max ignores it).
  T best = bias ? row[0] + bias[0] : row[0];
  int nan = 0;
  if (bias) {
#pragma omp simd reduction(max : best) reduction(| : nan)
    for (int64_t j = 0; j < n; ++j) {
      const T s = row[j] + bias[j];
      row[j] = s;
      best = s > best ? s : best;
      nan |= s != s;
    }
  } else {
#pragma omp simd reduction(max : best) reduction(| : nan)
    for (int64_t j = 0; j < n; ++j) {
      best = row[j] > best ? row[j] : best;
      nan |= row[j] != row[j];
    }
  }
  const T shift = nan ? std::numeric_limits<T>::quiet_NaN() : best;
  // Pass 2: the numerators and their sum, in blocks whose partial sums (vectorized, in T) are added in
  // double: a mixed float/double reduction would not vectorize, and a long T sum would lose digits.
  constexpr int64_t kBlock = 256;
  double total = 0;
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    T part = 0;
#pragma omp simd reduction(+ : part)
    for (int64_t j = j0; j < j1; ++j) {
      const T p = exp_value(row[j] - shift);
      row[j] = p;
      part += p;
    }
    total += static_cast<double>(part);
  }
  return {shift, total};
}

template <class T>
BRENIER_INLINE void probabilities_row_impl(T* row, const T* bias, T lse, int64_t n) {
  if (bias) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) row[j] = exp_value(row[j] + bias[j] - lse);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) row[j] = exp_value(row[j] - lse);
  }
}

template <class T>
BRENIER_INLINE void score_gradient_row_impl(const T* p, T* ds, T row_dot, T* dbias, int64_t n) {
  if (dbias) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const T g = p[j] * (ds[j] - row_dot);
      ds[j] = g;
      dbias[j] += g;
    }
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - row_dot);
  }
}

template <class T>
BRENIER_INLINE NarrowRow<T> narrow_row_impl(T a, const T* k, const T* v, const T* bias, int64_t n) {
  // Pass 1: the max score (the scores a·k_j + b_j are recomputed below rather than stored).
  T best = a * k[0] + (bias ? bias[0] : T(0));
  int nan = 0;
#pragma omp simd reduction(max : best) reduction(| : nan)
  for (int64_t j = 0; j < n; ++j) {
    const T s = a * k[j] + (bias ? bias[j] : T(0));
    best = s > best ? s : best;
    nan |= s != s;
  }
  const T shift = nan ? std::numeric_limits<T>::quiet_NaN() : best;
  // Pass 2: numerators, their sum and their v-weighted sum, in blocks (see softmax_numerators_impl).
  constexpr int64_t kBlock = 256;
  double total = 0, weighted = 0;
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    T part = 0, part_v = 0;
#pragma omp simd reduction(+ : part, part_v)
    for (int64_t j = j0; j < j1; ++j) {
      const T p = exp_value(a * k[j] + (bias ? bias[j] : T(0)) - shift);
      part += p;
      part_v += p * v[j];
    }
    total += static_cast<double>(part);
    weighted += static_cast<double>(part_v);
  }
  return {static_cast<T>(weighted / total), static_cast<T>(static_cast<double>(shift) + std::log(total))};
}

template <class T>
BRENIER_INLINE T narrow_backward_row_impl(T a, T lse, T go, T row_dot, const T* k, const T* v, const T* bias, T* dk,
                                          T* dv, T* dbias, int64_t n) {
  T dq = 0;
#pragma omp simd reduction(+ : dq)
  for (int64_t j = 0; j < n; ++j) {
    const T p = exp_value(a * k[j] + (bias ? bias[j] : T(0)) - lse);
    const T ds = p * (go * v[j] - row_dot);
    dv[j] += p * go;
    dk[j] += a * ds;
    if (dbias) dbias[j] += ds;
    dq += ds * k[j];
  }
  return dq;
}

BRENIER_INLINE void exp_line(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = exp_value(x[i]);
}

// The f32 entry points twice: for AVX2 + FMA and for plain x86-64, picked once by CPU features.
struct RowKernels {
  RowSums<float> (*softmax)(float*, const float*, int64_t);
  NarrowRow<float> (*narrow)(float, const float*, const float*, const float*, int64_t);
  float (*narrow_backward)(float, float, float, float, const float*, const float*, const float*, float*, float*,
                           float*, int64_t);
  void (*probabilities)(float*, const float*, float, int64_t);
  void (*score_gradient)(const float*, float*, float, float*, int64_t);
  void (*exp)(float*, int64_t);
};

#define BRENIER_DEFINE_ROW_KERNELS(NS, TARGET)                                                               \
  namespace NS {                                                                                              \
  TARGET RowSums<float> softmax(float* r, const float* b, int64_t n) { return softmax_numerators_impl(r, b, n); } \
  TARGET void probabilities(float* r, const float* b, float l, int64_t n) { probabilities_row_impl(r, b, l, n); } \
  TARGET void score_gradient(const float* p, float* d, float rd, float* db, int64_t n) {                      \
    score_gradient_row_impl(p, d, rd, db, n);                                                                 \
  }                                                                                                           \
  TARGET void exp(float* x, int64_t n) { exp_line(x, n); }                                                    \
  TARGET NarrowRow<float> narrow(float a, const float* k, const float* v, const float* b, int64_t n) {          \
    return narrow_row_impl(a, k, v, b, n);                                                                    \
  }                                                                                                           \
  TARGET float narrow_backward(float a, float l, float go, float rd, const float* k, const float* v,           \
                               const float* b, float* dk, float* dv, float* db, int64_t n) {                  \
    return narrow_backward_row_impl(a, l, go, rd, k, v, b, dk, dv, db, n);                                    \
  }                                                                                                           \
  }
BRENIER_DEFINE_ROW_KERNELS(avx2, __attribute__((target("avx2,fma"))))
BRENIER_DEFINE_ROW_KERNELS(generic, )

const RowKernels& kernels() {
  static const RowKernels chosen =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
          ? RowKernels{avx2::softmax, avx2::narrow, avx2::narrow_backward, avx2::probabilities,
                       avx2::score_gradient, avx2::exp}
          : RowKernels{generic::softmax, generic::narrow, generic::narrow_backward, generic::probabilities,
                       generic::score_gradient, generic::exp};
  return chosen;
}

}  // namespace

RowSums<float> softmax_numerators(float* row, const float* bias, int64_t n) { return kernels().softmax(row, bias, n); }
RowSums<double> softmax_numerators(double* row, const double* bias, int64_t n) {
  return softmax_numerators_impl(row, bias, n);
}
void probabilities_row(float* row, const float* bias, float lse, int64_t n) {
  kernels().probabilities(row, bias, lse, n);
}
void probabilities_row(double* row, const double* bias, double lse, int64_t n) {
  probabilities_row_impl(row, bias, lse, n);
}
void score_gradient_row(const float* p, float* dscores, float row_dot, float* dbias, int64_t n) {
  kernels().score_gradient(p, dscores, row_dot, dbias, n);
}
void score_gradient_row(const double* p, double* dscores, double row_dot, double* dbias, int64_t n) {
  score_gradient_row_impl(p, dscores, row_dot, dbias, n);
}
void exp_nonpositive(float* x, int64_t n) { kernels().exp(x, n); }
NarrowRow<float> narrow_attention_row(float a, const float* k, const float* v, const float* bias, int64_t n) {
  return kernels().narrow(a, k, v, bias, n);
}
NarrowRow<double> narrow_attention_row(double a, const double* k, const double* v, const double* bias, int64_t n) {
  return narrow_row_impl(a, k, v, bias, n);
}
float narrow_attention_backward_row(float a, float lse, float go, float row_dot, const float* k, const float* v,
                                    const float* bias, float* dk, float* dv, float* dbias, int64_t n) {
  return kernels().narrow_backward(a, lse, go, row_dot, k, v, bias, dk, dv, dbias, n);
}
double narrow_attention_backward_row(double a, double lse, double go, double row_dot, const double* k,
                                     const double* v, const double* bias, double* dk, double* dv, double* dbias,
                                     int64_t n) {
  return narrow_backward_row_impl(a, lse, go, row_dot, k, v, bias, dk, dv, dbias, n);
}

}  // namespace brenier::cpu
