// nn::Linear construction and default initialization.
#include "engine/nn/linear.h"

#include <cmath>

#include "engine/nn/init.h"

namespace brenier::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen, DType dtype) {
  BRENIER_CHECK(in_features > 0 && out_features > 0,
                "Linear: arguments 'in_features' and 'out_features' must be > 0, got {} and {}",
                in_features, out_features);
  BRENIER_CHECK(is_floating(dtype), "Linear: argument 'dtype' must be f32 or f64, got {}", dtype_name(dtype));
  weight = register_parameter("weight", Var(Tensor::empty({out_features, in_features}, dtype)));
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (with_bias) {
    bias = register_parameter("bias", Var(Tensor::empty({out_features}, dtype)));
    double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    init::uniform_(bias, gen, -bound, bound);
  }
}

}  // namespace brenier::nn
