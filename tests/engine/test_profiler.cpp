// The op profiler (engine/profiler.h): it records each primitive once with its dtype, device and
// shape, ignores everything while stopped, counts a primitive called inside another only once,
// times regions inclusively, and reports them in a readable table.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "brenier.h"
#include "engine/backend/primitives.h"

using namespace brenier;

namespace {

const profiler::Entry* find(const std::vector<profiler::Entry>& rows, const std::string& name,
                            const std::string& detail = "") {
  auto it = std::find_if(rows.begin(), rows.end(), [&](const profiler::Entry& e) {
    return e.name == name && (detail.empty() || e.detail == detail);
  });
  return it == rows.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("profiler: counts primitives by op, dtype, device and shape while recording only") {
  Tensor a = Tensor::ones({8, 4}, DType::F32);
  Tensor b = Tensor::ones({4, 3}, DType::F32);
  prim::matmul(a, b);  // not recording yet: not counted
  profiler::start(/*by_shape=*/true);
  CHECK(profiler::active());
  for (int i = 0; i < 3; ++i) prim::matmul(a, b);
  prim::binary(prim::Binary::Add, a, a);
  prim::unary(prim::Unary::Exp, a.to(DType::F64));  // the cast is a primitive of its own
  profiler::stop();
  CHECK_FALSE(profiler::active());
  prim::matmul(a, b);  // stopped: not counted

  const profiler::Summary s = profiler::summary();
  const profiler::Entry* mm = find(s.ops, "matmul", "f32 cpu [8, 4]");
  REQUIRE(mm != nullptr);
  CHECK(mm->calls == 3);
  CHECK(mm->seconds > 0);
  REQUIRE(find(s.ops, "add") != nullptr);
  CHECK(find(s.ops, "add")->calls == 1);
  REQUIRE(find(s.ops, "exp", "f64 cpu [8, 4]") != nullptr);
  CHECK(find(s.ops, "cast") != nullptr);
  CHECK(s.op_calls == 3 + 1 + 1 + 1);
  CHECK(s.wall_seconds >= s.op_seconds);
  for (size_t i = 1; i < s.ops.size(); ++i) CHECK(s.ops[i - 1].seconds >= s.ops[i].seconds);

  // Without by_shape the detail is dtype and device only; start() clears the previous run.
  profiler::start();
  prim::matmul(a, b);
  profiler::stop();
  const profiler::Summary t = profiler::summary();
  REQUIRE(t.ops.size() == 1);
  CHECK(t.ops[0].detail == "f32 cpu");
  CHECK(t.ops[0].calls == 1);
}

TEST_CASE("profiler: a composed primitive counts once; regions nest and time inclusively") {
  // softmax_backward on a non-last dim is composed of mul, sum and sub primitives on the host:
  // those run inside its scope and must not be counted again.
  Tensor y = Tensor::ones({4, 5}, DType::F64);
  profiler::start();
  {
    profiler::Region outer("outer");
    {
      profiler::Region inner("inner");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    prim::softmax_backward(y, y, 0);
  }
  profiler::stop();
  const profiler::Summary s = profiler::summary();
  REQUIRE(s.ops.size() == 1);
  CHECK(s.ops[0].name == "softmax_backward");
  const profiler::Entry* outer = find(s.regions, "outer");
  const profiler::Entry* inner = find(s.regions, "inner");
  REQUIRE(outer != nullptr);
  REQUIRE(inner != nullptr);
  CHECK(inner->seconds >= 0.019);
  CHECK(outer->seconds >= inner->seconds);

  const std::string text = profiler::report(s, 10);
  CHECK(text.find("| softmax_backward | f64 cpu |") != std::string::npos);
  CHECK(text.find("| region |") != std::string::npos);
  CHECK(text.find("| outer | 1 |") != std::string::npos);
}

TEST_CASE("profiler: an optimizer step is recorded as adam_step; a throwing primitive leaves no trace") {
  Var w(Tensor::ones({3}, DType::F64), true);
  optim::Adam adam({w}, {.lr = 0.1});
  profiler::start();
  sum(square(w)).backward();
  adam.step();
  CHECK_THROWS(prim::matmul(Tensor::ones({2, 3}), Tensor::ones({2, 3})));  // shapes do not chain
  prim::binary(prim::Binary::Add, Tensor::ones({2}), Tensor::ones({2}));    // still counted after it
  profiler::stop();
  const profiler::Summary s = profiler::summary();
  REQUIRE(find(s.ops, "adam_step") != nullptr);
  CHECK(find(s.ops, "adam_step")->calls == 1);
  CHECK(find(s.ops, "matmul") == nullptr);  // rejected before it reached a backend
  CHECK(find(s.ops, "add", "f32 cpu") != nullptr);
}
