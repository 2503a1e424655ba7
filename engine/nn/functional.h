// Functional layers: the weights are arguments, not members. Hypernetworks produce weights as
// Vars (possibly one set per distribution, batched along a leading dim), so every layer exists
// first as a function; the nn::Module classes own parameters and call these same functions.
#pragma once
#include <functional>
#include <string_view>
#include <vector>

#include "engine/ops/ops.h"

namespace brenier::nn {

// An element-wise nonlinearity. Any Var -> Var callable works (a lambda for leaky_relu's slope);
// activation("relu") looks the common ones up by name, for configs and command lines.
using Activation = std::function<Var(const Var&)>;
Activation activation(std::string_view name);  // identity relu leaky_relu celu softplus sigmoid tanh silu gelu

// y = x Wᵀ + b.
//  weight [out, in]   : x [..., in] (1-D or more) -> [..., out]; bias [out] or undefined.
//  weight [B, out, in]: x [B, n, in] (or [n, in], shared by all B) -> [B, n, out];
//                       bias [B, out] (one per batch entry), [out] (shared) or undefined.
Var linear(const Var& x, const Var& weight, const Var& bias = {});

// Linear layers in sequence with `act` between them (and after the last one too when
// `activate_last`). `biases` is empty (no biases) or has one entry per weight; an entry may be
// undefined.
Var mlp(const Var& x, const std::vector<Var>& weights, const std::vector<Var>& biases,
        const Activation& act, bool activate_last = false);

// Rows of `weight` [num, dim] picked by the i64 `indices` (any shape) -> indices.shape + [dim].
Var embedding(const Tensor& indices, const Var& weight);

}  // namespace brenier::nn
