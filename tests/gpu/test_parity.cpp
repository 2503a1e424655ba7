// CPU vs CUDA parity over the op table (tests/engine/op_cases.cpp, the table the gradchecks use):
// every op's forward, first-order gradient (with create_graph) and second-order gradient, in f64
// and f32, computed once on each device and compared within atol + rtol * |ref| (gpu_support.h).
// Cases whose lambda captures CPU constants (masks, index tensors) get a device-aware twin here;
// a test checks each twin against its original on the CPU, so the twins cannot drift.
#include <map>
#include <set>
#include <random>

#include "engine/autograd/var.h"
#include "engine/ops/ops.h"
#include "gpu_support.h"
#include "../engine/op_cases.h"

using namespace brenier;
using namespace brenier::testing;

namespace {

using V = std::vector<Var>;
using DeviceFn = std::function<Var(const V&, Device)>;

Tensor idx(std::vector<int64_t> v, Shape s, Device d) { return Tensor::from_vector(v, s).to(d); }
Tensor mask_2x3(Device d) { return Tensor::from_vector<double>({1, 0, 1, 0, 0, 1}, {2, 3}).to(d); }

// The cases of op_cases.cpp that build CPU tensors inside their lambda, rewritten to build them on
// the inputs' device. Same math, same constants.
const std::map<std::string, DeviceFn>& device_twins() {
  static const std::map<std::string, DeviceFn> twins = {
      {"where", [](const V& x, Device d) { return where(mask_2x3(d), x[0], x[1]) * x[0]; }},
      {"masked_select", [](const V& x, Device d) { return masked_select(x[0] * x[0], mask_2x3(d)); }},
      {"masked_fill", [](const V& x, Device d) { return masked_fill(x[0] * x[0], mask_2x3(d), 3.0); }},
      {"index_select",
       [](const V& x, Device d) { return square(index_select(x[0], 0, idx({3, 0, 3}, {3}, d))); }},
      {"gather",
       [](const V& x, Device d) { return square(gather(x[0], 1, idx({0, 3, 3, 1, 2, 2}, {3, 2}, d))); }},
      {"scatter_add",
       [](const V& x, Device d) { return square(scatter_add(x[0], 0, idx({2, 0, 2, 2}, {2, 2}, d), x[1])); }},
  };
  return twins;
}

DeviceFn fn_for(const OpCase& c) {
  auto it = device_twins().find(c.name);
  if (it != device_twins().end()) return it->second;
  return [f = c.f](const V& x, Device) { return f(x); };
}

Tensor seeded(const Shape& s, uint64_t seed, DType t) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(numel(s)));
  for (double& x : v) x = normal(rng);
  return Tensor::from_vector(v, s).to(t);
}

// Forward value, first-order grads (d <w, f(x)> / dx_i, recorded) and second-order grads
// (d sum_i <v_i, g_i> / dx_j) of one case on one device; every result is brought to the CPU.
struct Derivatives {
  Tensor y;
  std::vector<Tensor> g, h;
};
Derivatives derivatives(const OpCase& c, const DeviceFn& f, DType t, Device d) {
  const std::vector<Tensor> in = case_inputs(c);
  V xs;
  for (const Tensor& x : in) xs.emplace_back(x.to(t).to(d), true);
  Var y = f(xs, d);
  Derivatives out;
  out.y = y.data().to(Device::cpu());
  const Tensor w = seeded(y.shape(), 11, y.dtype()).to(d);
  V g = autograd::grad({y}, xs, {Var(w)}, {.create_graph = true, .allow_unused = true});
  Var s;
  for (size_t i = 0; i < g.size(); ++i) {
    out.g.push_back(g[i].defined() ? g[i].data().to(Device::cpu()) : Tensor());
    if (!g[i].defined() || !g[i].requires_grad()) continue;  // linear in x_i: no second order
    Var term = sum(g[i] * Var(seeded(g[i].shape(), 23 + i, g[i].dtype()).to(d)));
    s = s.defined() ? s + term : term;
  }
  if (s.defined()) {
    V h = autograd::grad({s}, xs, {}, {.allow_unused = true});
    for (const Var& hi : h) out.h.push_back(hi.defined() ? hi.data().to(Device::cpu()) : Tensor());
  }
  CHECK_MESSAGE(y.device() == d, "case " << c.name << ": the result is on " << y.device().str());
  return out;
}

void check_case(const OpCase& c, DType t) {
  const DeviceFn f = fn_for(c);
  const Derivatives ref = derivatives(c, f, t, Device::cpu());
  const Derivatives got = derivatives(c, f, t, Device::cuda(0));
  const Tolerance tol = tolerance_for(t);
  const std::string where = c.name + " (" + dtype_name(t) + ")";
  close_to(ref.y, got.y, tol, where + " forward");
  REQUIRE(ref.g.size() == got.g.size());
  for (size_t i = 0; i < ref.g.size(); ++i) close_to(ref.g[i], got.g[i], tol, where + " grad of input " + std::to_string(i));
  REQUIRE(ref.h.size() == got.h.size());
  for (size_t i = 0; i < ref.h.size(); ++i)
    close_to(ref.h[i], got.h[i], tol, where + " second-order grad of input " + std::to_string(i));
}

}  // namespace

TEST_CASE("parity: the device twins compute what their op_cases originals compute (CPU)") {
  for (const OpCase& c : op_cases()) {
    auto it = device_twins().find(c.name);
    if (it == device_twins().end()) continue;
    CAPTURE(c.name);
    V xs;
    for (const Tensor& x : case_inputs(c)) xs.emplace_back(x);
    close_to(c.f(xs).data(), it->second(xs, Device::cpu()).data(), {0, 0}, c.name + " twin");
  }
  for (const auto& [name, fn] : device_twins()) {
    bool found = false;
    for (const OpCase& c : op_cases()) found = found || c.name == name;
    CHECK_MESSAGE(found, "device twin '" << name << "' has no case in op_cases.cpp");
  }
}

TEST_CASE("parity: the CPU references (f64 and f32, first and second order) exist for every case") {
  // Runs the harness on the CPU alone, so a case that cannot run in f32 or has no second order is
  // known here, not first discovered on the lent GPU.
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    for (DType t : {DType::F64, DType::F32}) {
      CAPTURE(dtype_name(t));
      const Derivatives d = derivatives(c, fn_for(c), t, Device::cpu());
      CHECK(d.y.defined());
      CHECK(d.g.size() == c.shapes.size());
    }
  }
}

TEST_CASE("parity: every op in the table, f64, forward + first + second order, CPU vs CUDA" * gpu_only()) {
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    try {
      check_case(c, DType::F64);
    } catch (const Error& e) {
      FAIL_CHECK("case '" << c.name << "' threw on CUDA: " << e.what()
                          << " (a CPU constant in the case? add a device twin in tests/gpu/test_parity.cpp;"
                             " a missing kernel? see test_gpu_primitives.cpp)");
    }
  }
}

TEST_CASE("parity: every op in the table, f32, forward + first + second order, CPU vs CUDA" * gpu_only()) {
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    try {
      check_case(c, DType::F32);
    } catch (const Error& e) {
      FAIL_CHECK("case '" << c.name << "' threw on CUDA: " << e.what());
    }
  }
}

TEST_CASE("parity: coverage: every differentiable op has a case the parity test runs") {
  std::set<std::string> cases;
  for (const OpCase& c : op_cases()) cases.insert(c.name);
  for (const char* op : differentiable_ops()) {
    CAPTURE(op);
    CHECK_MESSAGE(cases.count(op), "op '" << op << "' has no case in tests/engine/op_cases.cpp, so no GPU parity check");
  }
}
