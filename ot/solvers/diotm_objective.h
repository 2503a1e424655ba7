// The pieces of DIOTM's max–min objective (Choi, Chen & Choi, "Improving Neural Optimal Transport via
// Displacement Interpolation", ICLR 2025; spec/algorithms.md §4.2, a derivation: the paper's text and
// code are not available) as pure functions of a potential and batches, so tests can check each one.
//
// Cost c(x, y) = α‖x − y‖². Boundary maps T→: μ → ν and T←: ν → μ; per point a time t ∈ [0, 1] and
//   x_t = (1 − t)·x + t·T→(x),     y_t = (1 − t)·T←(y) + t·y
//   L = E[ α t ‖x − T→(x)‖² − Ṽ(t, x_t) ] + E[ α (1 − t) ‖y − T←(y)‖² + Ṽ(t, y_t) ]
// The maps minimize L; the potential maximizes L − λR, i.e. minimizes E Ṽ(t, x_t) − E Ṽ(t, y_t) + λR
// with the maps fixed. At t = 1 the x-side plus Ṽ(1, y) is OTM/NOT's semi-dual for T→; at t = 0 the
// y-side minus Ṽ(0, x) is the semi-dual for T← with the potential −Ṽ(0, ·) on μ's side.
//
// The optimal Ṽ satisfies ∇_z Ṽ(t, x_t) = 2α (T→(x) − x) (the velocity times 2α), hence the HJB equation
//   ∂_t Ṽ + ‖∇_z Ṽ‖² / (4α) = c(t)
// (c(t) is the gauge Ṽ + c(t), which L does not see; a network absorbs it, so the residual is driven to 0).
#pragma once
#include <functional>
#include <string_view>

#include "engine/autograd/var.h"

namespace brenier::ot {

// Ṽ(t, z): t [n], z [n, D] -> [n]. Row i may depend only on (t_i, z_i) (no coupling across the batch), so
// the gradient of sum Ṽ w.r.t. t and z is the per-point ∂_t Ṽ and ∇_z Ṽ.
using TimePotentialFn = std::function<Var(const Var& t, const Var& z)>;

// x_t = (1 − t)·x + t·mapped (x, mapped [n, D], t [n]); backward_interpolant: (1 − t)·mapped_back + t·y.
Var forward_interpolant(const Var& x, const Var& mapped, const Var& t);
Var backward_interpolant(const Var& mapped_back, const Var& y, const Var& t);

// L above on one batch (sample means; x-side and y-side may have different sizes). Differentiable in
// everything that is (the maps' outputs and the potential's parameters). Throws naming the argument on
// shape mismatches or alpha <= 0.
Var diotm_objective(const TimePotentialFn& potential, const Var& x, const Var& forward_mapped, const Var& t_x,
                    const Var& y, const Var& backward_mapped, const Var& t_y, double alpha);

// Per-point HJB residual r_i = ∂_t Ṽ(t_i, z_i) + ‖∇_z Ṽ(t_i, z_i)‖² / (4α) [n]. t and z are taken as
// constants (fresh leaves); ∂_t and ∇_z come from autodiff with create_graph, so r is differentiable
// w.r.t. the potential's parameters (the regularizer's gradient is a gradient of a gradient).
Var hjb_residual(const TimePotentialFn& potential, const Tensor& t, const Tensor& z, double alpha);

// The potential's regularizer R (spec §4.2; "none" and "r1" are the paper's ablation):
//   hjb:  mean |r_i|  (absolute, the spec's form)  or mean r_i²  (squared; the paper's choice is unverified)
//   r1:   mean ½‖∇_z Ṽ(t_i, z_i)‖²  (OTM's R1 gradient penalty, §4.4, moved to the interpolated points)
//   none: no regularizer
enum class DiotmRegularizer { Hjb, R1, None };
enum class HjbNorm { Absolute, Squared };
DiotmRegularizer parse_diotm_regularizer(std::string_view name);  // "hjb" | "r1" | "none"
const char* name(DiotmRegularizer regularizer);
HjbNorm parse_hjb_norm(std::string_view name);  // "abs" | "squared"
const char* name(HjbNorm norm);

// R on the points z [n, D] at times t [n]; None gives an undefined Var (nothing to add).
Var diotm_regularizer(DiotmRegularizer regularizer, HjbNorm norm, const TimePotentialFn& potential, const Tensor& t,
                      const Tensor& z, double alpha);

}  // namespace brenier::ot
