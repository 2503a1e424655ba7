// Var accessors, recording of nodes, grad mode and Tape scopes.
#include <atomic>

#include "engine/autograd/node.h"
#include "engine/backend/primitives.h"

namespace brenier {
namespace {

std::atomic<int64_t> g_live_nodes{0};
thread_local uint64_t t_next_seq = 1;
thread_local bool t_grad_enabled = true;
thread_local int t_tape_depth = 0;
thread_local std::vector<std::weak_ptr<Node>> t_scoped_nodes;

const VarImpl& impl_of(const std::shared_ptr<VarImpl>& p, const char* what) {
  BRENIER_CHECK(p != nullptr, "{}: the Var is undefined", what);
  return *p;
}

}  // namespace

Node::Node() { ++g_live_nodes; }
Node::~Node() { --g_live_nodes; }

Var::Var(Tensor data, bool requires_grad) : impl_(std::make_shared<VarImpl>()) {
  check_defined(data, "Var", "data");
  BRENIER_CHECK(!requires_grad || is_floating(data.dtype()),
                "Var: only floating tensors can require grad, got {}", data.str());
  impl_->data = std::move(data);
  impl_->leaf_requires_grad = requires_grad;
}

const Tensor& Var::data() const { return impl_of(impl_, "Var::data").data; }
Tensor& Var::data() { return const_cast<VarImpl&>(impl_of(impl_, "Var::data")).data; }

bool Var::requires_grad() const {
  if (!impl_) return false;
  return impl_->leaf_requires_grad || (impl_->node && !impl_->node->released);
}
bool Var::is_leaf() const { return !impl_ || !impl_->node || impl_->node->released; }

Var& Var::requires_grad_(bool on) {
  impl_of(impl_, "Var::requires_grad_");
  BRENIER_CHECK(is_leaf(), "Var::requires_grad_: only leaves can change requires_grad; this Var "
                           "is the output of '{}' (use detach() first)", op_name());
  BRENIER_CHECK(!on || is_floating(dtype()), "Var::requires_grad_: only floating tensors can "
                                             "require grad, got {}", data().str());
  impl_->leaf_requires_grad = on;
  return *this;
}

const char* Var::op_name() const { return is_leaf() ? "leaf" : impl_->node->op; }

const Tensor& Var::grad() const { return impl_of(impl_, "Var::grad").grad; }
void Var::set_grad(Tensor g) {
  impl_of(impl_, "Var::set_grad");
  BRENIER_CHECK(!g.defined() || g.shape() == shape(),
                "Var::set_grad: argument 'g' must have shape {}, got {}", shape_str(shape()),
                shape_str(g.shape()));
  impl_->grad = std::move(g);
}
void Var::zero_grad() {
  if (impl_) impl_->grad = Tensor();
}

Var Var::detach() const { return Var(data(), false); }

namespace autograd {

bool grad_enabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

Var record(const char* op, Tensor result, std::vector<Var> inputs, BackwardFn backward) {
  bool any = false;
  if (t_grad_enabled)
    for (const Var& v : inputs) any = any || v.requires_grad();
  if (!any) return Var(std::move(result), false);
  BRENIER_CHECK(is_floating(result.dtype()), "{}: a differentiable op must return a floating "
                                             "tensor, got {}", op, result.str());
  auto node = std::make_shared<Node>();
  node->op = op;
  node->seq = t_next_seq++;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  if (t_tape_depth > 0) t_scoped_nodes.push_back(node);
  auto impl = std::make_shared<VarImpl>();
  impl->data = std::move(result);
  node->output = impl;
  impl->node = std::move(node);
  return Var(std::move(impl));
}

Tape::Tape() : mark_(t_scoped_nodes.size()) { ++t_tape_depth; }

Tape::~Tape() {
  for (size_t i = mark_; i < t_scoped_nodes.size(); ++i) {
    if (auto n = t_scoped_nodes[i].lock()) {
      n->released = true;
      n->inputs.clear();  // frees the saved tensors and everything upstream
      n->backward = nullptr;
      if (auto out = n->output.lock()) out->node.reset();  // the output becomes a constant
    }
  }
  t_scoped_nodes.resize(mark_);
  --t_tape_depth;
}

int64_t live_node_count() { return g_live_nodes.load(); }

}  // namespace autograd
}  // namespace brenier
