// Tensor handle basics: layout queries, raw data, autograd flags. (Element access, printing and the method forms
// are written with ops: src/ops/tensor_methods.cpp.)
#include "nerve/tensor/tensor.h"

#include <cmath>
#include <cstdio>
#include <sstream>


namespace nerve {

namespace detail {
void throw_undefined(const char* fn) {
  throw Error(str_cat(fn, ": expected a defined tensor, got an undefined one (a default-constructed Tensor, or the "
                          "grad() of a tensor that no backward() has reached yet)"));
}
void throw_undefined_arg(const char* fn, const char* arg) {
  throw Error(str_cat(fn, ": argument '", arg, "' is an undefined tensor, expected a defined one (a default-constructed "
                          "Tensor, or the grad() of a tensor that no backward() has reached yet)"));
}
}  // namespace detail

int64_t Tensor::size(int64_t d) const {
  check_defined("size");
  return impl_->shape[wrap_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  check_defined("is_contiguous");
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  check_defined("raw_data");
  NERVE_CHECK(impl_->storage->device() != Device::meta,
              "a meta tensor has no data (shape ", nerve::to_string(shape()), ", ", dtype_name(dtype()),
              "): an op read values that the meta device does not have");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(itemsize(impl_->dtype));
}

Tensor& Tensor::requires_grad_(bool on) {
  check_defined("requires_grad_");
  NERVE_CHECK(is_leaf() || on, "requires_grad_: cannot turn off requires_grad on a non-leaf tensor; use detach()");
  NERVE_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors can require grad, got ",
              dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

}  // namespace nerve
