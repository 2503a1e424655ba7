// Reverse-mode differentiation over the recorded nodes: grad() and Var::backward().
//
// Walk: collect the nodes reachable from the outputs, keep those that lead to a wanted input,
// visit them in descending creation number (a topological order), and call each backward closure
// with the gradient of its output. Under create_graph the closures record new nodes; otherwise
// they run with grad mode off.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd/node.h"
#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"

namespace brenier::autograd {
namespace {

using IsTarget = std::function<bool(const VarImpl*)>;
using GradMap = std::unordered_map<const VarImpl*, Var>;

Var accumulate(const Var& a, const Var& b) { return a.defined() ? add(a, b) : b; }

// Returns the gradient of every target reached (keyed by the target's VarImpl).
GradMap run_backward(const std::vector<Var>& outputs, const std::vector<Var>& seeds,
                     const IsTarget& is_target, bool create_graph, const char* caller) {
  // 1. Reachable nodes and the Var each one produced.
  std::unordered_map<const Node*, Var> produced;
  std::vector<const Node*> nodes;
  std::vector<Var> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    Var v = std::move(stack.back());
    stack.pop_back();
    const Node* n = v.impl()->node.get();
    if (n == nullptr || n->released || produced.count(n)) continue;
    produced.emplace(n, v);
    nodes.push_back(n);
    for (const Var& in : n->inputs)
      if (in.requires_grad()) stack.push_back(in);
  }
  std::sort(nodes.begin(), nodes.end(), [](const Node* a, const Node* b) { return a->seq < b->seq; });

  // 2. A node is needed when one of its inputs is a target or comes from a needed node.
  std::unordered_set<const Node*> needed;
  auto input_needed = [&](const Var& in) {
    if (!in.requires_grad()) return false;
    if (is_target(in.impl())) return true;
    const Node* p = in.impl()->node.get();
    return p != nullptr && !p->released && needed.count(p) > 0;
  };
  for (const Node* n : nodes)
    for (const Var& in : n->inputs)
      if (input_needed(in)) {
        needed.insert(n);
        break;
      }

  // 3. Seed and sweep.
  GradMap grads;
  for (size_t k = 0; k < outputs.size(); ++k)
    grads[outputs[k].impl()] = accumulate(grads[outputs[k].impl()], seeds[k]);

  std::optional<NoGradGuard> no_grad;
  if (!create_graph) no_grad.emplace();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Node* n = *it;
    if (!needed.count(n)) continue;
    const Var& out = produced.at(n);
    auto git = grads.find(out.impl());
    if (git == grads.end() || !git->second.defined()) continue;
    Var g = git->second;
    if (!is_target(out.impl())) grads.erase(git);  // no longer needed: free it early

    std::vector<bool> needs(n->inputs.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = input_needed(n->inputs[i]);
    std::vector<Var> in_grads = n->backward(BackwardArgs{g, out, n->inputs, needs});
    BRENIER_CHECK(in_grads.size() == n->inputs.size(),
                  "{}: backward of '{}' returned {} gradients for {} inputs (a bug in that op)",
                  caller, n->op, in_grads.size(), n->inputs.size());
    for (size_t i = 0; i < needs.size(); ++i) {
      if (!needs[i] || !in_grads[i].defined()) continue;
      const Var& in = n->inputs[i];
      BRENIER_CHECK(in_grads[i].shape() == in.shape() && in_grads[i].dtype() == in.dtype(),
                    "{}: backward of '{}' gave input {} a gradient {} for an input {} (a bug in that op)",
                    caller, n->op, i, in_grads[i].data().str(), in.data().str());
      Var& slot = grads[in.impl()];
      slot = accumulate(slot, in_grads[i]);
    }
  }
  return grads;
}

std::vector<Var> make_seeds(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
                            const char* caller) {
  BRENIER_CHECK(!outputs.empty(), "{}: argument 'outputs' is empty", caller);
  BRENIER_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
                "{}: argument 'grad_outputs' must be empty or hold one gradient per output ({}), got {}",
                caller, outputs.size(), grad_outputs.size());
  std::vector<Var> seeds;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Var& y = outputs[k];
    BRENIER_CHECK(y.defined(), "{}: output {} is undefined", caller, k);
    BRENIER_CHECK(!y.impl()->node || !y.impl()->node->released,
                  "{}: output {} was recorded inside an autograd::Tape scope that has ended, so its "
                  "graph is gone; compute the gradient inside the scope", caller, k);
    BRENIER_CHECK(y.requires_grad(), "{}: output {} ({}) does not require grad: it depends on no "
                  "leaf with requires_grad=true, or was computed under NoGradGuard", caller, k,
                  y.data().str());
    if (grad_outputs.empty()) {
      BRENIER_CHECK(y.numel() == 1, "{}: output {} has shape {}; pass grad_outputs for outputs "
                    "with more than one element", caller, k, shape_str(y.shape()));
      seeds.emplace_back(Tensor::ones(y.shape(), y.dtype(), y.device()));
    } else {
      const Var& s = grad_outputs[k];
      BRENIER_CHECK(s.defined() && s.shape() == y.shape() && s.dtype() == y.dtype(),
                    "{}: grad_outputs[{}] must be {} like output {}, got {}", caller, k,
                    y.data().str(), k, s.defined() ? s.data().str() : "undefined");
      seeds.push_back(s);
    }
  }
  return seeds;
}

}  // namespace

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, GradOptions options) {
  std::vector<Var> seeds = make_seeds(outputs, grad_outputs, "grad");
  std::unordered_set<const VarImpl*> targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    BRENIER_CHECK(inputs[i].defined(), "grad: input {} is undefined", i);
    BRENIER_CHECK(inputs[i].requires_grad(), "grad: input {} ({}) does not require grad; call "
                  "requires_grad_() on it before computing the outputs", i, inputs[i].data().str());
    targets.insert(inputs[i].impl());
  }
  GradMap grads = run_backward(
      outputs, seeds, [&](const VarImpl* v) { return targets.count(v) > 0; },
      options.create_graph, "grad");
  std::vector<Var> result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto it = grads.find(inputs[i].impl());
    if (it != grads.end() && it->second.defined()) {
      result.push_back(it->second);
    } else {
      BRENIER_CHECK(options.allow_unused, "grad: the outputs do not depend on input {} ({}); pass "
                    "{{.allow_unused = true}} to get an undefined gradient instead", i,
                    inputs[i].data().str());
      result.emplace_back();
    }
  }
  return result;
}

}  // namespace brenier::autograd

namespace brenier {

void Var::backward(const Tensor& grad_output) const {
  std::vector<Var> seeds = autograd::make_seeds(
      {*this}, grad_output.defined() ? std::vector<Var>{Var(grad_output)} : std::vector<Var>{},
      "backward");
  auto is_leaf_target = [](const VarImpl* v) { return v->leaf_requires_grad && !v->node; };
  autograd::GradMap grads = autograd::run_backward({*this}, seeds, is_leaf_target, false, "backward");
  for (auto& [impl, g] : grads) {
    if (!is_leaf_target(impl) || !g.defined()) continue;
    auto* leaf = const_cast<VarImpl*>(impl);
    leaf->grad = leaf->grad.defined() ? prim::binary(prim::Binary::Add, leaf->grad, g.data())
                                      : g.data();
  }
}

}  // namespace brenier
