// nn::Module: a named tree of parameters (leaf Vars with requires_grad) and child modules.
// It gives optimizers their parameter list, checkpoints their named tensors ("layers.0.weight",
// in registration order) and converts a whole model's dtype/device. Subclasses register their
// parameters in the constructor and compute forward() with the functional layers (functional.h).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd/var.h"

namespace brenier::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // A module owns its parameters; copying one would silently share them.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its children, depth first in registration order, with
  // dotted names ("layers.0.weight").
  std::vector<std::pair<std::string, Var>> named_parameters() const;
  std::vector<Var> parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  int64_t num_parameters() const;  // total element count
  void zero_grad();

  // Copies of the parameter values, named as in named_parameters() (a snapshot: later training
  // does not change it).
  NamedTensors state_dict() const;
  // Copies `state` into the parameters (converting dtype if needed). Strict: every parameter
  // must be present with its exact shape and no other entry may appear; otherwise nothing is
  // changed and the Error lists all the missing, unexpected and wrong-shape entries.
  void load_state_dict(const NamedTensors& state);

  // Training mode (dropout-like behaviour); propagates to children.
  void train(bool on = true);
  bool is_training() const { return training_; }

  // Converts every parameter in place (the Vars keep their identity, grads are cleared).
  void to(DType dtype);
  void to(Device device);

  // Makes `value` a leaf requiring grad (detaching it if it is an op's output) and returns the
  // stored handle; keep that handle as the member that forward() uses.
  Var register_parameter(const std::string& name, Var value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void check_new_name(const std::string& name, const char* what) const;
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const;

  std::vector<std::pair<std::string, Var>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace brenier::nn
