// Bad arguments to the differentiable ops: each class of mistake gives a brenier::Error whose
// message names the op, the argument, what was expected and what was given.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops/ops.h"

using namespace brenier;

namespace {
Var f32(Shape s) { return Var(Tensor::zeros(s, DType::F32)); }
Var f64(Shape s) { return Var(Tensor::zeros(s, DType::F64)); }
}  // namespace

TEST_CASE("op errors: wrong shapes") {
  CHECK_THROWS_WITH_AS(matmul(f32({2, 3}), f32({4, 5})), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(add(f32({2, 3}), f32({4})), doctest::Contains("add: arguments 'a' [2, 3] and 'b' [4] must broadcast"), Error);
  CHECK_THROWS_WITH_AS(reshape(f32({2, 3}), {4, 2}), doctest::Contains("cannot reshape"), Error);
  CHECK_THROWS_WITH_AS(dot(f32({3}), f32({4})), doctest::Contains("dot: arguments 'a' and 'b' must be 1-D of equal length"), Error);
  CHECK_THROWS_WITH_AS(split(f32({5}), {2, 2}), doctest::Contains("must sum to 5"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(f32({2, 3}), f32({4})), doctest::Contains("layer_norm: argument 'weight' must have shape [3]"), Error);
  CHECK_THROWS_WITH_AS(stack({f32({2}), f32({3})}), doctest::Contains("stack"), Error);
}

TEST_CASE("op errors: wrong dtypes") {
  CHECK_THROWS_WITH_AS(add(f32({2}), f64({2})), doctest::Contains("same dtype"), Error);
  CHECK_THROWS_WITH_AS(exp(Var(Tensor::arange(3))), doctest::Contains("must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(index_select(f32({3, 2}), 0, Tensor::zeros({2}, DType::F32)), doctest::Contains("index_select"), Error);
}

TEST_CASE("op errors: dims and indices out of range") {
  CHECK_THROWS_WITH_AS(sum(f32({2, 3}), {2}), doctest::Contains("sum: argument 'dims' must be in [-2, 1]"), Error);
  CHECK_THROWS_WITH_AS(softmax(f32({2, 3}), 5), doctest::Contains("softmax"), Error);
  CHECK_THROWS_WITH_AS(index_select(f32({3, 2}), 0, Tensor::from_vector<int64_t>({0, 3})), doctest::Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(topk(f32({2, 3}), 4, 1), doctest::Contains("topk"), Error);
  CHECK_THROWS_WITH_AS(sum(f32({2, 3}), {1, -1}), doctest::Contains("repeats"), Error);
}

TEST_CASE("op errors: empty tensors where the result is undefined") {
  CHECK_THROWS_WITH_AS(max(f32({0, 3})), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(mean(f32({0})), doctest::Contains("no elements"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(f32({2, 0}), 1), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(concat({}), doctest::Contains("concat: argument 'xs' is empty"), Error);
  CHECK(sum(f32({0, 3})).item() == 0.0);  // a sum of nothing is well defined
}

TEST_CASE("op errors: undefined arguments and NaN/Inf data") {
  CHECK_THROWS_WITH_AS(add(Var(), f32({2})), doctest::Contains("add: argument 'a' is an undefined Var"), Error);
  Tensor bad = Tensor::from_vector<float>({1.0f, NAN, 2.0f});
  CHECK_THROWS_WITH_AS(check_finite(bad, "train", "x"),
                       doctest::Contains("train: argument 'x' (f32[3] on cpu) holds a non-finite value"), Error);
  CHECK_NOTHROW(check_finite(Tensor::ones({3}), "train", "x"));
}
