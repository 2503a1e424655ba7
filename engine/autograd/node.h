// Internal: the recorded node of a differentiable op and the data behind a Var.
// Users extend brenier through autograd::record() (var.h); only the engine reads these structs.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/autograd/var.h"

namespace brenier {

struct Node {
  const char* op = "";
  uint64_t seq = 0;  // per-thread creation number: descending seq is a valid backward order
  std::vector<Var> inputs;
  autograd::BackwardFn backward;
  bool released = false;  // severed by the end of an autograd::Tape scope
  std::weak_ptr<VarImpl> output;  // lets a Tape scope detach the output, which frees this node

  Node();
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
};

struct VarImpl {
  Tensor data;
  Tensor grad;                      // accumulated by backward() into leaves
  bool leaf_requires_grad = false;  // a parameter or input the user wants gradients for
  std::shared_ptr<Node> node;       // the op that produced this Var; null for leaves and constants
};

}  // namespace brenier
