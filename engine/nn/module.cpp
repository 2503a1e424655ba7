// nn::Module: parameter and buffer registration, traversal, state dicts, mode and dtype/device
// conversion.
#include "engine/nn/module.h"

#include <map>
#include <set>

namespace brenier::nn {

void Module::check_new_name(const std::string& name, const char* what) const {
  BRENIER_CHECK(!name.empty() && name.find('.') == std::string::npos,
                "{}: argument 'name' must be non-empty and contain no '.', got '{}'", what, name);
  for (const auto& [n, p] : params_)
    BRENIER_CHECK(n != name, "{}: argument 'name' '{}' is already a parameter of this module", what, name);
  for (const auto& [n, b] : buffers_)
    BRENIER_CHECK(n != name, "{}: argument 'name' '{}' is already a buffer of this module", what, name);
  for (const auto& [n, m] : children_)
    BRENIER_CHECK(n != name, "{}: argument 'name' '{}' is already a child module of this module", what, name);
}

Var Module::register_parameter(const std::string& name, Var value) {
  check_new_name(name, "register_parameter");
  BRENIER_CHECK(value.defined(), "register_parameter: argument 'value' for '{}' is an undefined Var", name);
  BRENIER_CHECK(is_floating(value.dtype()), "register_parameter: argument 'value' for '{}' must be f32 or f64, got {}",
                name, value.data().str());
  if (!value.is_leaf()) value = value.detach();  // a parameter starts a graph; it never continues one
  value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Var Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name, "register_buffer");
  BRENIER_CHECK(value.defined(), "register_buffer: argument 'value' for '{}' is an undefined tensor", name);
  BRENIER_CHECK(is_floating(value.dtype()) || value.dtype() == DType::I64,
                "register_buffer: argument 'value' for '{}' must be f32, f64 or i64, got {}", name, value.str());
  Var handle(std::move(value), false);  // a constant: buffers never receive gradients
  buffers_.emplace_back(name, handle);
  return handle;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "register_module");
  BRENIER_CHECK(module != nullptr, "register_module: argument 'module' for '{}' is null", name);
  BRENIER_CHECK(module.get() != this, "register_module: a module cannot be its own child ('{}')", name);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const {
  for (const auto& [name, b] : buffers_) out.emplace_back(prefix + name, b);
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

// PyTorch's state_dict order: a module's parameters, its buffers, then each child's entries.
void Module::collect_state(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, b] : buffers_) out.emplace_back(prefix + name, b);
  for (const auto& [name, child] : children_) child->collect_state(prefix + name + ".", out);
}

namespace {
// A child shared by two parents holds its tensors once (the first name wins), so an optimizer
// never steps the same tensor twice and a state dict never names it twice.
std::vector<std::pair<std::string, Var>> first_of_each(std::vector<std::pair<std::string, Var>> all) {
  std::vector<std::pair<std::string, Var>> unique;
  std::set<const VarImpl*> seen;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}
}  // namespace

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Var>> all;
  collect("", all);
  return first_of_each(std::move(all));
}

std::vector<std::pair<std::string, Var>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Var>> all;
  collect_buffers("", all);
  return first_of_each(std::move(all));
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Var& p : parameters()) n += p.numel();
  return n;
}

void Module::zero_grad() {
  for (Var& p : parameters()) p.zero_grad();
}

NamedTensors Module::state_dict() const {
  std::vector<std::pair<std::string, Var>> all;
  collect_state("", all);
  NamedTensors out;
  for (const auto& [name, v] : first_of_each(std::move(all))) out.emplace_back(name, v.data().clone());
  return out;
}

void Module::load_state_dict(const NamedTensors& state) {
  std::map<std::string, const Tensor*> given;
  std::vector<std::string> duplicate, unexpected, missing, wrong;
  for (const auto& [name, t] : state)
    if (!given.emplace(name, &t).second) duplicate.push_back(name);
  std::vector<std::pair<std::string, Var>> all;
  collect_state("", all);
  const auto params = first_of_each(std::move(all));  // parameters and buffers
  std::set<std::string> known;
  for (const auto& [name, p] : params) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
    } else if (!it->second->defined()) {
      wrong.push_back(fmt::format("'{}' expects {}, got an undefined tensor", name, shape_str(p.shape())));
    } else if (it->second->shape() != p.shape() ||
               // a floating entry takes any floating tensor (converted); an i64 buffer only i64
               (p.dtype() == DType::I64 ? it->second->dtype() != DType::I64 : !is_floating(it->second->dtype()))) {
      wrong.push_back(fmt::format("'{}' expects {} {}, got {}", name, dtype_name(p.dtype()),
                                  shape_str(p.shape()), it->second->str()));
    }
  }
  for (const auto& [name, t] : given)
    if (!known.count(name)) unexpected.push_back(name);
  if (!duplicate.empty() || !unexpected.empty() || !missing.empty() || !wrong.empty()) {
    std::string msg = "load_state_dict: argument 'state' does not match the module's parameters and buffers:";
    if (!missing.empty()) msg += fmt::format(" missing entries [{}];", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format(" unexpected entries [{}];", fmt::join(unexpected, ", "));
    if (!duplicate.empty()) msg += fmt::format(" repeated entries [{}];", fmt::join(duplicate, ", "));
    if (!wrong.empty()) msg += fmt::format(" wrong shape or dtype: {};", fmt::join(wrong, "; "));
    msg.pop_back();
    throw Error(msg);
  }
  // Checked everything first, so a bad state leaves the module untouched.
  for (auto [name, p] : params) p.data().copy_from(*given.at(name));
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(DType dtype) {
  BRENIER_CHECK(is_floating(dtype), "Module::to: argument 'dtype' must be f32 or f64, got {}", dtype_name(dtype));
  for (Var& p : parameters()) {
    if (p.dtype() == dtype) continue;
    p.data() = p.data().to(dtype);
    p.zero_grad();  // a grad of the old dtype would no longer match
  }
  // Buffer handles share their impl with the subclass's member, so it sees the new tensor.
  for (auto& [name, b] : named_buffers())
    if (is_floating(b.dtype()) && b.dtype() != dtype) b.data() = b.data().to(dtype);
}

void Module::to(Device device) {
  for (Var& p : parameters()) {
    if (p.device() == device) continue;
    p.data() = p.data().to(device);
    p.zero_grad();
  }
  for (auto& [name, b] : named_buffers())
    if (b.device() != device) b.data() = b.data().to(device);
}

}  // namespace brenier::nn
