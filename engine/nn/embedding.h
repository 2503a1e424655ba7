// nn::Embedding: a table of `num` learned vectors of size `dim`, initialized N(0, 1); forward()
// looks up an i64 index tensor of any shape and returns indices.shape + [dim].
#pragma once
#include "engine/nn/functional.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator& gen = default_generator(), DType dtype = DType::F32);
  Var forward(const Tensor& indices) const { return embedding(indices, weight); }
  Var operator()(const Tensor& indices) const { return forward(indices); }

  Var weight;  // [num, dim]
};

}  // namespace brenier::nn
