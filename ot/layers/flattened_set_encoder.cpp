// Meta OT's flattened-sample encoder (see flattened_set_encoder.h).
#include "ot/layers/flattened_set_encoder.h"

#include "engine/error.h"
#include "engine/nn/functional.h"
#include "engine/ops/ops.h"

namespace brenier::ot {

FlattenedSetEncoder::FlattenedSetEncoder(int64_t dim, int64_t points, int64_t out_dim, Generator& gen, DType dtype)
    : dim_(dim), points_(points), out_dim_(out_dim), dtype_(dtype) {
  BRENIER_CHECK(dim >= 1 && points >= 1 && out_dim >= 1,
                "FlattenedSetEncoder: arguments 'dim', 'points' and 'out_dim' must be >= 1, got {}, {}, {}", dim, points,
                out_dim);
  const int64_t flat = points * dim;
  net_ = register_module("net", std::make_shared<nn::MLP>(std::vector<int64_t>{flat, 2 * flat, out_dim},
                                                          nn::activation("celu"), false, true, gen, dtype));
}

Var FlattenedSetEncoder::forward(const Var& x) const {
  BRENIER_CHECK(x.defined() && x.dtype() == dtype_ && x.dim() == 3 && x.size(1) >= points_ && x.size(2) == dim_,
                "FlattenedSetEncoder: argument 'x' must be {} [B, n, {}] with n >= {} (the fixed sample size of the "
                "Meta OT baseline), got {}",
                dtype_name(dtype_), dim_, points_, x.defined() ? x.data().str() : "an undefined tensor");
  const Var first = x.size(1) == points_ ? x : slice(x, 1, 0, points_);
  return net_->forward(reshape(first, {x.size(0), points_ * dim_}));
}

}  // namespace brenier::ot
