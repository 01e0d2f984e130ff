// nn::Module: named parameters, buffers and submodules with dotted names (PyTorch's model), train/eval,
// state_dict. Layers and user models derive from it.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve::nn {

/// Ordered (name, tensor) pairs, as PyTorch's OrderedDict state_dict.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

/// Base class of every layer and model (tests/nn/test_doc_examples.cpp compiles this example):
///   struct Net : nn::Module {
///     std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(4, 2));
///     Tensor forward(const Tensor& x) override { return (*fc)(relu(x)); }
///   };
class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Single-input forward, used by Sequential and operator(). Modules with other signatures add their own.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  /// Class name as printed by summary and repr ("Linear").
  virtual std::string type_name() const { return "Module"; }
  /// Extra text inside the repr parentheses ("in_features=784, out_features=128").
  virtual std::string extra_repr() const { return ""; }
  std::string repr(int indent = 0) const;

  std::vector<Tensor> parameters(bool recurse = true) const;
  StateDict named_parameters(bool recurse = true) const;
  StateDict named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  /// This module and all below it, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules();

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// Sets every parameter's grad to undefined (set_to_none, PyTorch's default) or to zero.
  void zero_grad(bool set_to_none = true);
  int64_t num_parameters() const;

  /// Parameters then buffers, dotted names ("fc1.weight").
  StateDict state_dict() const;
  /// Copies values into the existing tensors (handles held elsewhere stay valid), converting dtypes. PyTorch's
  /// rules: strict, every key must be present and no other; shapes must match either way. One error lists the
  /// missing keys, the unexpected keys and the shape mismatches together, and then nothing has been copied.
  ///   model.load_state_dict(io::load_torch("model.pt"));
  void load_state_dict(const StateDict& sd, bool strict = true);
  /// Writes state_dict() to a safetensors file, atomically (tensors shared by two names are written twice).
  ///   model.save("model.safetensors");  other.load("model.safetensors");
  /// save and load live in the io layer (src/io/module_file.cpp), which owns the file formats.
  void save(const std::string& path) const;
  /// Reads a safetensors file (from save, or PyTorch's safetensors.torch.save_file) into this module with
  /// load_state_dict(..., strict).
  void load(const std::string& path, bool strict = true);

 protected:
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  /// Replaces the tensor behind a registered parameter or buffer name (e.g. Embedding::from_pretrained).
  void reset_tensor(const std::string& name, const Tensor& t);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool recurse, bool buffers, StateDict& out) const;

  StateDict params_;
  StateDict buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace nerve::nn
