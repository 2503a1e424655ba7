// A user's program: it links the installed brenier, adds its own differentiable op (softsign) and
// its own layer (a gated linear unit built on it), checks the op's gradients, and trains the layer
// to fit y = sin(3x) on [-1, 1]. Exit code 0 only if the fit succeeds.
//
// Build it like any pkg-config user would (see meson.build beside this file, or docs/extending.md).
#include <brenier/brenier.h>

#include <cstdio>

using namespace brenier;

// --- 1. A new op: softsign(x) = x / (1 + |x|), derivative 1 / (1 + |x|)^2 --------------------------
// The backward is written with differentiable ops, so gradients of gradients work too.
Var softsign(const Var& x) {
  Tensor value = (x.detach() / (abs(x.detach()) + 1.0)).data();
  return autograd::record("softsign", value, {x}, [](const autograd::BackwardArgs& a) {
    const Var& x = a.inputs[0];
    return std::vector<Var>{a.grad / square(abs(x) + 1.0)};
  });
}

// --- 2. A new layer: y = W2 (softsign(W x + b) * sigmoid(G x + c)) ----------------------------------
class GatedSoftsign : public nn::Module {
 public:
  GatedSoftsign(int64_t in, int64_t hidden, int64_t out, Generator& gen)
      : value_(register_module("value", std::make_shared<nn::Linear>(in, hidden, true, gen))),
        gate_(register_module("gate", std::make_shared<nn::Linear>(in, hidden, true, gen))),
        head_(register_module("head", std::make_shared<nn::Linear>(hidden, out, true, gen))) {}

  Var forward(const Var& x) const { return head_->forward(softsign(value_->forward(x)) * sigmoid(gate_->forward(x))); }

 private:
  std::shared_ptr<nn::Linear> value_, gate_, head_;
};

int main() {
  // The op's gradients, first and second order, against finite differences (f64).
  auto f = [](const std::vector<Var>& in) { return softsign(in[0]); };
  Tensor probe = Tensor::from_vector<double>({-2.0, -0.3, 0.4, 1.5});
  auto first = autograd::gradcheck(f, {probe});
  auto second = autograd::gradgradcheck(f, {probe});
  std::printf("softsign gradcheck: %s, gradgradcheck: %s\n", first.ok ? "ok" : first.report.c_str(),
              second.ok ? "ok" : second.report.c_str());
  if (!first.ok || !second.ok) return 1;

  Generator gen(42);
  GatedSoftsign model(1, 32, 1, gen);
  optim::Adam opt(model.parameters(), {.lr = 1e-2});
  Tensor x = gen.uniform({256, 1}, -1.0, 1.0);
  Var target = sin(Var(x) * 3.0);

  double loss_value = 0;
  profiler::start();  // where the training time goes (printed below)
  for (int step = 0; step <= 1500; ++step) {
    profiler::Region region("training step");
    autograd::Tape tape;  // frees this step's graph when the step ends
    Var loss = mean(square(model.forward(Var(x)) - target));
    opt.zero_grad();
    loss.backward();
    opt.step();
    loss_value = loss.item();
    if (step % 500 == 0) std::printf("step %4d  mse %.5f\n", step, loss_value);
  }
  profiler::stop();
  const profiler::Summary profile = profiler::summary();
  std::printf("%s", profiler::report(profile, 5).c_str());
  // sin(3x) has variance ~0.5 on [-1, 1]; a working fit gets the MSE two orders of magnitude lower.
  bool ok = loss_value < 5e-3 && !profile.ops.empty() && profile.regions.size() == 1 &&
            profile.regions[0].calls == 1501;
  std::printf("final mse %.5f: %s\n", loss_value, ok ? "fit ok" : "fit FAILED");
  return ok ? 0 : 1;
}
