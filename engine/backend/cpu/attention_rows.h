// The per-query-row loops of the fused attention (attention.cpp): softmax of a row of scores in
// place, the probabilities again from a saved log-normalizer, and the score gradient. f32 rows are
// vectorized with AVX2 + FMA where the CPU has them (chosen at first use; plain x86-64 otherwise) and
// exponentiate with exp_nonpositive below instead of libm's expf, a call per element (4-5 ns each here
// against 0.6 ns). f64 rows use std::exp (f64 is for gradchecks and reference runs).
#pragma once
#include <cstdint>

namespace brenier::cpu {

// The shift (the row's max, NaN if it holds one) and the sum of the numerators e^(s − shift).
template <class T>
struct RowSums {
  T shift;
  double total;
};
// row ← e^(row + bias − max) (bias may be null): softmax's numerators, in two passes. The probabilities
// are these / total and the log-normalizer is shift + log(total).
RowSums<float> softmax_numerators(float* row, const float* bias, int64_t n);
RowSums<double> softmax_numerators(double* row, const double* bias, int64_t n);
// row ← exp(row + bias − lse): the probabilities the forward produced.
void probabilities_row(float* row, const float* bias, float lse, int64_t n);
void probabilities_row(double* row, const double* bias, double lse, int64_t n);
// dscores ← p ∘ (dscores − row_dot) (softmax's backward for one row); dbias += the result (dbias may be null).
void score_gradient_row(const float* p, float* dscores, float row_dot, float* dbias, int64_t n);
void score_gradient_row(const double* p, double* dscores, double row_dot, double* dbias, int64_t n);

// Width-1 heads (d = e = 1: HOTET's reference embedding has one head per input dimension): whole query
// rows without GEMMs or score buffers. `a` is scale · q_i; k, v and bias (may be null) are the group's n keys.
// Forward: returns {out_i, lse_i}. Backward: adds row i's terms to dk, dv and dbias (may be null), returns
// Σ_j ds_j k_j (dq_i = scale times it); go = dout_i, row_dot = dout_i · out_i.
template <class T>
struct NarrowRow {
  T out, lse;
};
NarrowRow<float> narrow_attention_row(float a, const float* k, const float* v, const float* bias, int64_t n);
NarrowRow<double> narrow_attention_row(double a, const double* k, const double* v, const double* bias, int64_t n);
float narrow_attention_backward_row(float a, float lse, float go, float row_dot, const float* k, const float* v,
                                    const float* bias, float* dk, float* dv, float* dbias, int64_t n);
double narrow_attention_backward_row(double a, double lse, double go, double row_dot, const double* k,
                                     const double* v, const double* bias, double* dk, double* dv, double* dbias,
                                     int64_t n);

// e^x in place for x ≤ 0 (Cephes' expf scheme: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-7
// polynomial, relative error ≤ 1.4 ulp on [−87, 0], tested; 2^n from the exponent bits). Below −87
// (e^−87 ≈ 1.6e−38, the end of the f32 normal range) it gives exactly 0, which is what masked keys'
// −1e30 logits must give; NaN stays NaN.
void exp_nonpositive(float* x, int64_t n);

}  // namespace brenier::cpu
