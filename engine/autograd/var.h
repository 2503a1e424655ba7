// Var: a Tensor that takes part in reverse-mode autodiff.
//
// The tape. Every differentiable op that sees an input requiring grad (and grad mode on) records a
// Node {op name, inputs, backward closure, creation number}. Creation numbers are per thread and
// increase, so sorting the reachable nodes by them gives a topological order (the tape order).
// A node lives while a Var refers to it, so a step's graph is freed with the step's Vars; a
// `autograd::Tape` scope additionally severs every node created inside it when it ends, so a Var
// kept past the step (a logged loss) does not pin the graph.
//
// Backward closures are written with Var ops. Under `create_graph` they record new nodes, so the
// gradients they return are differentiable again (grad of grad, to any order); without it they
// run under no-grad and cost what a first-order engine costs.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace brenier {

struct Node;
struct VarImpl;

class Var {
 public:
  Var() = default;
  // A constant (requires_grad=false) or a leaf (requires_grad=true) holding `data`.
  explicit Var(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const;
  Tensor& data();  // mutable: optimizers update leaves in place
  const Shape& shape() const { return data().shape(); }
  int64_t dim() const { return data().dim(); }
  int64_t size(int64_t d) const { return data().size(d); }
  int64_t numel() const { return data().numel(); }
  DType dtype() const { return data().dtype(); }
  Device device() const { return data().device(); }
  double item() const { return data().item(); }

  bool requires_grad() const;  // a leaf that asked for it, or the output of a recorded op
  bool is_leaf() const;        // not produced by a recorded op
  Var& requires_grad_(bool on = true);  // leaves only
  const char* op_name() const;          // recording op, or "leaf"

  // Gradient accumulated into a leaf by backward() (undefined before the first one).
  const Tensor& grad() const;
  void set_grad(Tensor g);
  void zero_grad();

  Var detach() const;  // same data, cut from the graph
  // Accumulates d(this)/d(leaf) into every reachable leaf's grad(). `this` must be a
  // one-element tensor unless `grad_output` is given.
  void backward(const Tensor& grad_output = {}) const;

  VarImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<VarImpl>& impl_ptr() const { return impl_; }
  explicit Var(std::shared_ptr<VarImpl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<VarImpl> impl_;
};

namespace autograd {

struct GradOptions {
  bool create_graph = false;  // record the backward pass, so the result can be differentiated
  bool allow_unused = false;  // an input the outputs do not depend on gets an undefined Var, not an error
};

// d(sum_k <outputs[k], grad_outputs[k]>)/d(inputs[i]). grad_outputs may be empty when every output
// has one element (then 1 is used). Inputs may be leaves or intermediate Vars.
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs = {}, GradOptions options = {});

// What a backward closure receives: the gradient of the op's output, the output itself, the op's
// inputs, and which inputs need a gradient (others may be left undefined).
struct BackwardArgs {
  const Var& grad;
  const Var& out;
  const std::vector<Var>& inputs;
  const std::vector<bool>& needs;
};
using BackwardFn = std::function<std::vector<Var>(const BackwardArgs&)>;

// Wraps `result` as the output of op `op`. Records a node when grad mode is on and an input
// requires grad; otherwise returns a constant. `backward` returns one gradient per input
// (an undefined Var for inputs that get none), each shaped like its input.
Var record(const char* op, Tensor result, std::vector<Var> inputs, BackwardFn backward);

bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Scope of one training step: nodes recorded inside it are released when it ends.
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

 private:
  size_t mark_;
};

// Nodes alive in this process (all threads); for memory tests.
int64_t live_node_count();

}  // namespace autograd

using autograd::grad;
using autograd::NoGradGuard;

}  // namespace brenier
