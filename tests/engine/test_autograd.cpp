// The tape: accumulation into leaves, no_grad, detach, scoped release, memory over many steps,
// and the error paths of grad().
#include <doctest/doctest.h>

#include "engine/backend/allocator.h"
#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"

using namespace brenier;

TEST_CASE("autograd: backward accumulates into leaves; zero_grad clears") {
  Var w(Tensor::from_vector<double>({1, 2, 3}), true);
  Var y = sum(w * w);
  y.backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  sum(w * 3.0).backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("autograd: a Var used twice gets the sum of both paths") {
  Var x(Tensor::scalar(3.0, DType::F64), true);
  Var y = x * x + x;  // dy/dx = 2x + 1
  CHECK(grad({y}, {x})[0].item() == 7.0);
}

TEST_CASE("autograd: no_grad and detach record nothing") {
  Var x(Tensor::from_vector<double>({1, 2}), true);
  {
    NoGradGuard ng;
    Var y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
  }
  Var z = x.detach() * 2.0;
  CHECK_FALSE(z.requires_grad());
  CHECK(z.is_leaf());
}

TEST_CASE("autograd: grad() w.r.t. an intermediate Var") {
  Var x(Tensor::scalar(2.0, DType::F64), true);
  Var h = x * x;
  Var y = h * 3.0 + h * h;  // dy/dh = 3 + 2h = 11
  CHECK(grad({y}, {h})[0].item() == 11.0);
}

TEST_CASE("autograd: without create_graph the gradient is a constant") {
  Var x(Tensor::scalar(2.0, DType::F64), true);
  Var g = grad({x * x * x}, {x})[0];
  CHECK_FALSE(g.requires_grad());
  Var g2 = grad({x * x * x}, {x}, {}, {.create_graph = true})[0];
  CHECK(g2.requires_grad());
}

TEST_CASE("autograd: error paths name the problem") {
  Var x(Tensor::from_vector<double>({1, 2}), true);
  Var c(Tensor::from_vector<double>({1, 2}));
  CHECK_THROWS_WITH_AS(grad({x * 2.0}, {x}), doctest::Contains("pass grad_outputs"), Error);
  CHECK_THROWS_WITH_AS(grad({sum(c)}, {x}), doctest::Contains("does not require grad"), Error);
  Var y(Tensor::scalar(1.0, DType::F64), true);
  CHECK_THROWS_WITH_AS(grad({sum(x)}, {y}), doctest::Contains("allow_unused"), Error);
  CHECK_FALSE(grad({sum(x)}, {y}, {}, {.allow_unused = true})[0].defined());
  CHECK_THROWS_WITH_AS(Var(Tensor::arange(3), true), doctest::Contains("floating"), Error);
  CHECK_THROWS_WITH_AS((x * 2.0).requires_grad_(false), doctest::Contains("only leaves"), Error);
}

TEST_CASE("autograd: a Tape scope releases its graph, even if a Var outlives it") {
  Var w(Tensor::from_vector<double>({1, 2, 3}), true);
  int64_t before = autograd::live_node_count();
  Var kept;
  {
    autograd::Tape tape;
    kept = sum(exp(w * 2.0));
    CHECK(autograd::live_node_count() > before);
    kept.backward();
  }
  CHECK(autograd::live_node_count() == before);
  CHECK_FALSE(kept.requires_grad());  // its graph is gone; the value stays
  CHECK(kept.item() > 0);
}

TEST_CASE("autograd: 10,000 training steps do not grow memory") {
  Var w(Tensor::zeros({64, 32}), true), x(Tensor::ones({128, 64}));
  auto step = [&] {
    autograd::Tape tape;
    Var loss = mean(square(tanh(matmul(x, w)) - 0.5));
    loss.backward();
    NoGradGuard ng;
    w.data().copy_from(prim::binary(prim::Binary::Sub, w.data(),
                                     prim::binary_scalar(prim::Binary::Mul, w.grad(), 0.01)));
    w.zero_grad();
  };
  for (int i = 0; i < 100; ++i) step();  // warm the allocator's cache
  int64_t nodes = autograd::live_node_count();
  int64_t bytes = backend::host_live_bytes();
  for (int i = 0; i < 10000; ++i) step();
  CHECK(autograd::live_node_count() == nodes);
  CHECK(backend::host_live_bytes() == bytes);
}
