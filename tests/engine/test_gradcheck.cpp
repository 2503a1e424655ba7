// First- and second-order finite-difference checks of every differentiable op (f64), driven by
// the op table, plus the coverage test that keeps the table complete.
#include <doctest/doctest.h>

#include <set>

#include "engine/autograd/gradcheck.h"
#include "engine/ops/ops.h"
#include "op_cases.h"

using namespace brenier;
using namespace brenier::testing;

TEST_CASE("gradcheck: every op in the table, first order (f64 central differences)") {
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    auto r = autograd::gradcheck(c.f, case_inputs(c), {.step = c.step, .atol = c.atol, .rtol = c.rtol});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("gradcheck: every op in the table, second order (finite differences of grad)") {
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    // Finite differences of a gradient lose one more order of precision: step and tolerances x10.
    auto r = autograd::gradgradcheck(c.f, case_inputs(c),
                                     {.step = c.step * 10, .atol = c.atol * 10, .rtol = c.rtol * 10});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("gradcheck: coverage: every differentiable op has a case, every case names an op") {
  std::set<std::string> cases, ops;
  for (const OpCase& c : op_cases()) cases.insert(c.name);
  for (const char* name : differentiable_ops()) ops.insert(name);
  for (const std::string& op : ops) {
    CAPTURE(op);
    CHECK_MESSAGE(cases.count(op), "no gradcheck case for op '" << op << "' in tests/engine/op_cases.cpp");
  }
  for (const std::string& c : cases) {
    CAPTURE(c);
    CHECK_MESSAGE(ops.count(c), "case '" << c << "' names no op in differentiable_ops()");
  }
}

TEST_CASE("gradcheck: the checker itself catches a wrong backward") {
  // An op whose recorded backward is deliberately wrong (2x instead of cos x) must fail.
  auto wrong_sin = [](const std::vector<Var>& x) {
    return autograd::record("wrong_sin", sin(x[0].detach()).data(), {x[0]},
                            [](const autograd::BackwardArgs& a) { return std::vector<Var>{a.grad * a.inputs[0] * 2.0}; });
  };
  auto r = autograd::gradcheck(wrong_sin, {Tensor::from_vector<double>({0.3, -1.2, 2.0})});
  CHECK_FALSE(r.ok);
  CHECK(r.report.find("analytic") != std::string::npos);
}
