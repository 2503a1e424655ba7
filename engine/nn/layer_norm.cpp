// nn::LayerNorm construction and forward.
#include "engine/nn/layer_norm.h"

#include <cmath>

namespace brenier::nn {

LayerNorm::LayerNorm(int64_t normalized_size, double eps, bool affine, DType dtype)
    : size_(normalized_size), eps_(eps) {
  BRENIER_CHECK(normalized_size > 0, "LayerNorm: argument 'normalized_size' must be > 0, got {}", normalized_size);
  BRENIER_CHECK(std::isfinite(eps) && eps > 0, "LayerNorm: argument 'eps' must be > 0, got {}", eps);
  BRENIER_CHECK(is_floating(dtype), "LayerNorm: argument 'dtype' must be f32 or f64, got {}", dtype_name(dtype));
  if (affine) {
    weight = register_parameter("weight", Var(Tensor::ones({normalized_size}, dtype)));
    bias = register_parameter("bias", Var(Tensor::zeros({normalized_size}, dtype)));
  }
}

Var LayerNorm::forward(const Var& x) const {
  BRENIER_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == size_,
                "LayerNorm: argument 'x' must have last dim {}, got {}", size_,
                x.defined() ? x.data().str() : "an undefined Var");
  return layer_norm(x, weight, bias, eps_);
}

}  // namespace brenier::nn
