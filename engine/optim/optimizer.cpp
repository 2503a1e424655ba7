// optim::Optimizer: parameter bookkeeping, the step loop, projections and checkpoint state.
#include "engine/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

namespace brenier::optim {

Optimizer::Optimizer(const char* name, std::vector<Var> params, double lr, std::vector<std::string> buffer_names)
    : name_(name), params_(std::move(params)), buffer_names_(std::move(buffer_names)) {
  BRENIER_CHECK(!params_.empty(), "{}: argument 'params' must hold at least one parameter, got none", name_);
  std::set<const VarImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i];
    BRENIER_CHECK(p.defined(), "{}: argument 'params' entry {} is an undefined Var", name_, i);
    BRENIER_CHECK(is_floating(p.dtype()), "{}: argument 'params' entry {} must be f32 or f64, got {}", name_, i,
                  p.data().str());
    BRENIER_CHECK(p.is_leaf(), "{}: argument 'params' entry {} must be a leaf Var, got the output of '{}'", name_,
                  i, p.op_name());
    BRENIER_CHECK(seen.insert(p.impl()).second, "{}: argument 'params' holds entry {} twice", name_, i);
  }
  param_steps_.assign(params_.size(), 0);
  buffers_.resize(params_.size());
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  BRENIER_CHECK(std::isfinite(lr) && lr >= 0, "{}: argument 'lr' must be finite and >= 0, got {}", name_, lr);
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& g = params_[i].grad();
    if (!g.defined()) continue;
    ++param_steps_[i];
    update(i, g.to(params_[i].dtype()));
  }
  ++steps_;
  for (auto& project : projections_) project(params_);
}

void Optimizer::zero_grad() {
  for (Var& p : params_) p.zero_grad();
}

void Optimizer::add_projection(Projection projection) {
  BRENIER_CHECK(static_cast<bool>(projection), "{}::add_projection: argument 'projection' is empty", name_);
  projections_.push_back(std::move(projection));
}

void Optimizer::add_projection(const Var& param, ParamProjection projection) {
  BRENIER_CHECK(static_cast<bool>(projection), "{}::add_projection: argument 'projection' is empty", name_);
  auto it = std::find_if(params_.begin(), params_.end(),
                         [&](const Var& p) { return param.defined() && p.impl() == param.impl(); });
  BRENIER_CHECK(it != params_.end(), "{}::add_projection: argument 'param' ({}) is not one of the optimizer's {} "
                                     "parameters",
                name_, param.defined() ? param.data().str() : "an undefined Var", params_.size());
  const size_t i = static_cast<size_t>(it - params_.begin());
  projections_.push_back([i, f = std::move(projection)](std::vector<Var>& ps) { f(ps[i].data()); });
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  out.emplace_back("step", Tensor::scalar(static_cast<double>(steps_), DType::I64));
  out.emplace_back("lr", Tensor::scalar(lr_, DType::F64));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (param_steps_[i] == 0) continue;
    const std::string prefix = fmt::format("params.{}.", i);
    out.emplace_back(prefix + "step", Tensor::scalar(static_cast<double>(param_steps_[i]), DType::I64));
    for (const auto& [name, t] : buffers_[i])
      if (t.defined()) out.emplace_back(prefix + name, t.clone());
  }
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  const std::string op = fmt::format("{}::load_state", name_);
  std::optional<int64_t> steps;
  std::optional<double> lr;
  std::vector<int64_t> param_steps(params_.size(), 0);
  std::vector<std::map<std::string, Tensor>> buffers(params_.size());
  std::set<std::string> seen;
  for (const auto& [name, t] : state) {
    BRENIER_CHECK(seen.insert(name).second, "{}: argument 'state' repeats entry '{}'", op, name);
    BRENIER_CHECK(t.defined(), "{}: argument 'state' entry '{}' is an undefined tensor", op, name);
    if (name == "step" || name == "lr") {
      BRENIER_CHECK(t.numel() == 1, "{}: argument 'state' entry '{}' must be a scalar, got {}", op, name, t.str());
      if (name == "step") steps = static_cast<int64_t>(t.item());
      else lr = t.item();
      continue;
    }
    // "params.<i>.<buffer>"
    size_t i = 0, used = 0;
    std::string buffer;
    const std::string prefix = "params.";
    bool parsed = name.rfind(prefix, 0) == 0;
    if (parsed) {
      try {
        i = std::stoul(name.substr(prefix.size()), &used);
      } catch (const std::exception&) {
        parsed = false;
      }
    }
    size_t dot = prefix.size() + used;
    parsed = parsed && dot < name.size() && name[dot] == '.';
    if (parsed) buffer = name.substr(dot + 1);
    const bool known = parsed && i < params_.size() &&
                       (buffer == "step" || std::count(buffer_names_.begin(), buffer_names_.end(), buffer));
    BRENIER_CHECK(known, "{}: argument 'state' has unexpected entry '{}' (expected step, lr, or params.<i>.<b> "
                         "with i < {} and b one of step{}{})",
                  op, name, params_.size(), buffer_names_.empty() ? "" : ", ", fmt::join(buffer_names_, ", "));
    if (buffer == "step") {
      BRENIER_CHECK(t.numel() == 1, "{}: argument 'state' entry '{}' must be a scalar, got {}", op, name, t.str());
      param_steps[i] = static_cast<int64_t>(t.item());
      continue;
    }
    const Var& p = params_[i];
    BRENIER_CHECK(t.shape() == p.shape() && is_floating(t.dtype()),
                  "{}: argument 'state' entry '{}' must be a floating tensor of shape {} (like its parameter), got {}",
                  op, name, shape_str(p.shape()), t.str());
    buffers[i][buffer] = t.to(p.device()).to(p.dtype()).clone();  // a private copy
  }
  BRENIER_CHECK(steps && lr, "{}: argument 'state' must hold 'step' and 'lr'{}", op,
                !steps && !lr ? ", both are missing" : !steps ? ", 'step' is missing" : ", 'lr' is missing");
  for (size_t i = 0; i < params_.size(); ++i)
    BRENIER_CHECK(buffers[i].empty() || param_steps[i] > 0,
                  "{}: argument 'state' has buffers for parameter {} but no 'params.{}.step'", op, i, i);
  set_lr(*lr);
  steps_ = *steps;
  param_steps_ = std::move(param_steps);
  buffers_ = std::move(buffers);
}

}  // namespace brenier::optim
