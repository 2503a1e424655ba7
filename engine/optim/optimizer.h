// optim::Optimizer: the shared part of every optimizer. It holds the parameters (leaf Vars), their
// per-parameter step counts and state buffers (momentum, Adam moments), the learning rate, and
// projection hooks that run after every step (e.g. clamping an ICNN's weights to be >= 0, which
// keeps the potential convex). A subclass only writes update() for one parameter.
//
// step() updates each parameter with a defined grad, in place (the Var's storage is overwritten,
// so a Module holding the same Var sees the new values), under NoGradGuard; parameters whose grad
// is undefined are skipped and their step count does not advance.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd/var.h"

namespace brenier::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// Runs on all parameters after every step.
using Projection = std::function<void(std::vector<Var>&)>;
// Runs on one parameter's data after every step.
using ParamProjection = std::function<void(Tensor&)>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();
  void zero_grad();  // makes every parameter's grad undefined

  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t step_count() const { return steps_; }  // calls of step() so far
  const std::vector<Var>& params() const { return params_; }

  // Projections run in the order added, after every step.
  void add_projection(Projection projection);
  void add_projection(const Var& param, ParamProjection projection);  // `param` must be one of params()

  // Checkpointable state, as named tensors (copies): "step" and "lr" (scalars), and per parameter
  // i "params.<i>.step" (its own step count) and "params.<i>.<buffer>" (e.g. exp_avg), present
  // once that parameter has been stepped.
  NamedTensors state() const;
  // Restores what state() returned. Strict: unknown names, wrong shapes or a missing "step" /
  // "lr" are errors and leave the optimizer unchanged; a parameter without entries starts fresh.
  void load_state(const NamedTensors& state);

 protected:
  // `name` prefixes error messages; `buffer_names` are the per-parameter buffers update() keeps.
  Optimizer(const char* name, std::vector<Var> params, double lr, std::vector<std::string> buffer_names);
  // Updates params()[i] (its data, in place) from `grad` (already in the parameter's dtype).
  // param_step(i) has already been advanced to count this step.
  virtual void update(size_t i, const Tensor& grad) = 0;

  int64_t param_step(size_t i) const { return param_steps_[i]; }
  // A per-parameter buffer; undefined until update() first assigns it.
  Tensor& buffer(size_t i, const std::string& name) { return buffers_[i][name]; }
  // Writes `value` into params()[i]'s storage.
  void assign(size_t i, const Var& value) { params_[i].data().copy_from(value.data()); }
  const char* name() const { return name_; }

 private:
  const char* name_;
  std::vector<Var> params_;
  double lr_ = 0;
  int64_t steps_ = 0;
  std::vector<int64_t> param_steps_;
  std::vector<std::string> buffer_names_;
  std::vector<std::map<std::string, Tensor>> buffers_;
  std::vector<Projection> projections_;
};

}  // namespace brenier::optim
