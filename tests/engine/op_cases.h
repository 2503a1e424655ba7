// The op table: one case per differentiable op. test_gradcheck.cpp runs first- and second-order
// finite-difference checks over it, and a coverage test fails when an op in
// brenier::differentiable_ops() has no case here.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/var.h"

namespace brenier::testing {

enum class Domain { Any, Positive };

struct OpCase {
  std::string name;  // the name in differentiable_ops()
  std::vector<Shape> shapes;
  std::function<Var(const std::vector<Var>&)> f;
  Domain domain = Domain::Any;
  // Finite-difference settings; only cases that pass through f32 need others than the defaults.
  double step = 1e-6, atol = 1e-6, rtol = 1e-5;
};

const std::vector<OpCase>& op_cases();
// Deterministic f64 inputs for a case.
std::vector<Tensor> case_inputs(const OpCase& c, uint64_t seed = 7);

}  // namespace brenier::testing
