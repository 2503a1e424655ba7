// nn::Embedding construction.
#include "engine/nn/embedding.h"

#include "engine/nn/init.h"

namespace brenier::nn {

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, DType dtype) {
  BRENIER_CHECK(num > 0 && dim > 0, "Embedding: arguments 'num' and 'dim' must be > 0, got {} and {}", num, dim);
  BRENIER_CHECK(is_floating(dtype), "Embedding: argument 'dtype' must be f32 or f64, got {}", dtype_name(dtype));
  weight = register_parameter("weight", Var(Tensor::empty({num, dim}, dtype)));
  init::normal_(weight, gen);
}

}  // namespace brenier::nn
