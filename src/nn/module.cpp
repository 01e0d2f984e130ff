// nn::Module bookkeeping: registration, dotted names, train/eval, state_dict load/save.
#include "nerve/nn/module.h"

#include <map>
#include <set>
#include <sstream>

#include "nerve/autograd/grad.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/ops/ops.h"

namespace nerve::nn {

Tensor Module::forward(const Tensor&) {
  NERVE_CHECK(false, type_name(), ": this module has no single-input forward(x); call its own forward");
  return {};
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  NERVE_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": bad parameter name '", name, "'");
  for (auto& [n, p] : params_) NERVE_CHECK(n != name, type_name(), ": parameter '", name, "' already registered");
  if (t.defined()) t.requires_grad_(requires_grad);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  for (auto& [n, b] : buffers_) NERVE_CHECK(n != name, type_name(), ": buffer '", name, "' already registered");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::reset_tensor(const std::string& name, const Tensor& t) {
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, p] : *list)
      if (n == name) {
        p = t;
        return;
      }
  NERVE_CHECK(false, type_name(), ": no parameter or buffer named '", name, "'");
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  NERVE_CHECK(m != nullptr, type_name(), ": submodule '", name, "' is null");
  for (auto& [n, c] : children_) NERVE_CHECK(n != name, type_name(), ": submodule '", name, "' already registered");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool recurse, bool buffers, StateDict& out) const {
  for (const auto& [n, t] : buffers ? buffers_ : params_)
    if (t.defined()) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", true, buffers, out);
}

StateDict Module::named_parameters(bool recurse) const {
  StateDict out;
  collect("", recurse, false, out);
  // a parameter shared by two submodules is listed once
  std::set<TensorImpl*> seen;
  StateDict uniq;
  for (auto& p : out)
    if (seen.insert(p.second.impl()).second) uniq.push_back(p);
  return uniq;
}

StateDict Module::named_buffers(bool recurse) const {
  StateDict out;
  collect("", recurse, true, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (size_t i = 0; i < out.size(); ++i) {
    auto [prefix, m] = out[i];
    for (auto& [n, c] : m->children_) out.emplace_back(prefix.empty() ? n : prefix + "." + n, c.get());
  }
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad(bool set_to_none) { nerve::zero_grad(parameters(), set_to_none); }

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

StateDict Module::state_dict() const {
  StateDict out;
  collect("", true, false, out);
  collect("", true, true, out);
  return out;
}

void Module::load_state_dict(const StateDict& sd, bool strict) {
  // PyTorch's rules: with strict, every key of the module must be in sd and nothing else; a shape mismatch is an
  // error either way. All problems are listed in one error, and nothing is copied unless everything fits.
  std::map<std::string, const Tensor*> given;
  for (auto& [n, v] : sd) {
    NERVE_CHECK(v.defined(), "load_state_dict: key '", n, "' holds an undefined tensor");
    NERVE_CHECK(given.emplace(n, &v).second, "load_state_dict: key '", n, "' appears twice in the state dict");
  }
  auto describe = [](const Tensor& t) { return to_string(t.shape()) + " " + dtype_name(t.dtype()); };
  StateDict mine = state_dict();
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  std::string missing, mismatched, unexpected;
  std::set<std::string> used;
  for (auto& [name, t] : mine) {
    auto it = given.find(name);
    if (it == given.end()) {
      if (strict) missing += (missing.empty() ? "'" : ", '") + name + "' (" + describe(t) + ")";
      continue;
    }
    used.insert(name);
    if (it->second->shape() != t.shape())
      mismatched += (mismatched.empty() ? "'" : ", '") + name + "' (state dict " + to_string(it->second->shape()) +
                    ", model " + to_string(t.shape()) + ")";
    else
      copies.emplace_back(t, it->second);
  }
  if (strict)
    for (auto& [n, v] : sd)
      if (!used.count(n)) unexpected += (unexpected.empty() ? "'" : ", '") + n + "' (" + describe(v) + ")";
  std::string msg;
  for (auto [what, list] : {std::pair{"missing keys: ", &missing}, std::pair{"unexpected keys: ", &unexpected},
                            std::pair{"size mismatches: ", &mismatched}})
    if (!list->empty()) msg += (msg.empty() ? "" : "; ") + std::string(what) + *list;
  NERVE_CHECK(msg.empty(), "load_state_dict: ", type_name(), ": ", msg);
  NoGradGuard g;
  for (auto& [dst, src] : copies) dst.copy_(*src);
}

std::string Module::repr(int indent) const {
  std::ostringstream os;
  os << type_name() << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (auto& [n, c] : children_)
      os << std::string(indent + 2, ' ') << "(" << n << "): " << c->repr(indent + 2) << "\n";
    os << std::string(indent, ' ');
  }
  os << ")";
  return os.str();
}

}  // namespace nerve::nn
