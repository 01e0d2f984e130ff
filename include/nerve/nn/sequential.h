// nn::Sequential: an ordered chain of modules named "0", "1", ... (PyTorch's), so state_dict keys are
// "0.weight", "0.bias", "2.weight", ...
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "nerve/nn/module.h"

namespace nerve::nn {

/// Runs its layers in order.
///   auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
///       std::make_shared<nn::Linear>(784, 128), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(128, 10)});
///   auto fc = model->push_back(std::make_shared<nn::Linear>(10, 10));  // returns the typed pointer
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> layers);
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& layers);

  /// Appends a layer named by its position ("3").
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    append(std::to_string(layers_.size()), m);
    return m;
  }
  /// Appends a layer under an explicit name (PyTorch's OrderedDict form).
  template <class M>
  std::shared_ptr<M> push_back(const std::string& name, std::shared_ptr<M> m) {
    append(name, m);
    return m;
  }
  /// Keras spelling of push_back.
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return push_back(std::move(m));
  }

  size_t size() const { return layers_.size(); }
  bool empty() const { return layers_.empty(); }
  /// Layer i; negative i counts from the end (-1 is the last).
  std::shared_ptr<Module> at(int64_t i) const;
  std::shared_ptr<Module> operator[](int64_t i) const { return at(i); }
  const std::vector<std::shared_ptr<Module>>& layers() const { return layers_; }
  /// PyTorch's model[begin:end]: a new Sequential sharing layers [begin, end) (negatives count from the end).
  ///   Tensor logits = (*model->slice(0, -1))(x);  // everything but a final Softmax
  std::shared_ptr<Sequential> slice(int64_t begin, int64_t end) const;

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  void append(const std::string& name, std::shared_ptr<Module> m);
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace nerve::nn
