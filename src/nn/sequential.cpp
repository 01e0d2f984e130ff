// nn::Sequential: layers in order, named by position.
#include "nerve/nn/sequential.h"

#include <algorithm>

namespace nerve::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> layers) {
  for (const auto& m : layers) push_back(m);
}

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& layers) {
  for (const auto& m : layers) push_back(m);
}

void Sequential::append(const std::string& name, std::shared_ptr<Module> m) {
  NERVE_CHECK(m != nullptr, "Sequential: layer ", layers_.size(), " ('", name, "') is null");
  register_module(name, m);
  layers_.push_back(std::move(m));
}

std::shared_ptr<Module> Sequential::at(int64_t i) const {
  int64_t n = static_cast<int64_t>(layers_.size());
  NERVE_CHECK(i >= -n && i < n, "Sequential: index ", i, " is out of range for ", n, " layers");
  return layers_[static_cast<size_t>(i < 0 ? i + n : i)];
}

std::shared_ptr<Sequential> Sequential::slice(int64_t begin, int64_t end) const {
  int64_t n = static_cast<int64_t>(layers_.size());
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  auto out = std::make_shared<Sequential>();
  for (int64_t i = clampi(begin); i < clampi(end); ++i) out->push_back(layers_[static_cast<size_t>(i)]);
  out->train(is_training());
  return out;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& m : layers_) y = m->forward(y);
  return y;
}

}  // namespace nerve::nn
