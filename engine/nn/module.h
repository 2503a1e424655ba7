// nn::Module: a named tree of parameters (leaf Vars with requires_grad), buffers (non-trainable
// state such as BatchNorm's running statistics) and child modules.
// It gives optimizers their parameter list, checkpoints their named tensors ("layers.0.weight",
// in registration order: each module's parameters, then its buffers, then its children, as in
// PyTorch) and converts a whole model's dtype/device. Subclasses register their parameters and
// buffers in the constructor and compute forward() with the functional layers (functional.h).
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

  // Every buffer of this module and its children, named and ordered like named_parameters().
  // Each is a constant Var handle (requires_grad false) whose data() is the buffer's tensor.
  std::vector<std::pair<std::string, Var>> named_buffers() const;

  // Copies of the parameter and buffer values (a snapshot: later training does not change it):
  // per module its parameters, then its buffers, then its children's entries, dotted names.
  NamedTensors state_dict() const;
  // Copies `state` into the parameters and buffers (converting f32/f64 if needed). Strict: every
  // parameter and buffer must be present with its exact shape (a floating tensor for a floating
  // one, i64 for an i64 buffer) and no other entry may appear; otherwise nothing is changed and
  // the Error lists all the missing, unexpected and wrong-shape entries.
  void load_state_dict(const NamedTensors& state);

  // Training mode (batch statistics in BatchNorm, dropout-like behaviour); propagates to children.
  void train(bool on = true);
  bool is_training() const { return training_; }

  // Converts every parameter in place (the Vars keep their identity, grads are cleared), and the
  // buffers: to(dtype) converts the floating ones (an i64 counter stays i64), to(device) all.
  void to(DType dtype);
  void to(Device device);

  // Makes `value` a leaf requiring grad (detaching it if it is an op's output) and returns the
  // stored handle; keep that handle as the member that forward() uses.
  Var register_parameter(const std::string& name, Var value);
  // Registers `value` (f32, f64 or i64) as non-trainable state: saved and loaded with the
  // parameters, converted by to(). Returns a constant Var handle sharing the module's entry; keep
  // it as the member forward() reads, and update it with handle.data().copy_from(...) (or by
  // assigning handle.data()), which the module then sees.
  Var register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void check_new_name(const std::string& name, const char* what) const;
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const;
  void collect_state(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const;

  std::vector<std::pair<std::string, Var>> params_;
  std::vector<std::pair<std::string, Var>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace brenier::nn
