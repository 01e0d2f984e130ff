// Tensor: a cheap handle (shared_ptr<TensorImpl>) over Storage + layout (shape, strides, offset) + autograd data.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nerve/core/device.h"
#include "nerve/core/dtype.h"
#include "nerve/core/shape.h"
#include "nerve/tensor/storage.h"

namespace nerve {

class Node;
class Tensor;
struct PostAccumulateGradHooks;  // nerve/autograd/hooks.h

namespace detail {
/// Throws nerve::Error: "fn: the tensor is undefined (...)".
[[noreturn]] void throw_undefined(const char* fn);
/// Throws nerve::Error: "fn: argument 'arg' is an undefined tensor (...)".
[[noreturn]] void throw_undefined_arg(const char* fn, const char* arg);
}  // namespace detail

/// The data behind a Tensor. Views share `storage`; autograd fields stay empty for plain tensors.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // the op that produced this tensor (null for leaves)
  uint32_t output_nr = 0;         // which output of grad_fn this is
  std::shared_ptr<TensorImpl> grad;
  std::weak_ptr<Node> grad_accumulator;  // cached AccumulateGrad node of a leaf
  std::shared_ptr<PostAccumulateGradHooks> post_accumulate_hooks;  // run after backward adds into grad (dist)
};

/// An n-dimensional array. Copying a Tensor shares its data; clone() and contiguous() copy.
///   Tensor x = randn({32, 784}); Tensor y = relu(matmul(x, w.t()) + b);   (randn: nerve/ops/random.h)
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  /// Throws nerve::Error naming `fn` when the tensor is undefined (one predictable branch).
  void check_defined(const char* fn) const {
    if (!impl_) [[unlikely]] detail::throw_undefined(fn);
  }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // --- layout (an undefined tensor throws nerve::Error naming the accessor)
  const Shape& shape() const { return checked("shape")->shape; }
  const Shape& sizes() const { return checked("sizes")->shape; }
  const Shape& strides() const { return checked("strides")->strides; }
  int64_t offset() const { return checked("offset")->offset; }
  int64_t dim() const { return static_cast<int64_t>(checked("dim")->shape.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return nerve::numel(checked("numel")->shape); }
  DType dtype() const { return checked("dtype")->dtype; }
  /// cpu, or meta (shapes and dtypes only: raw_data/data/item throw). Views share their base's device.
  Device device() const { return checked("device")->storage->device(); }
  bool is_meta() const { return device() == Device::meta; }
  bool is_contiguous() const;
  void* raw_data() const;  // first element (storage + offset); throws on a meta tensor
  template <class T> T* data() const {
    check_defined("data");
    NERVE_CHECK(dtype_of<T>() == dtype(), "data<", dtype_name(dtype_of<T>()), ">: tensor is ", dtype_name(dtype()));
    return static_cast<T*>(raw_data());
  }
  const std::shared_ptr<Storage>& storage() const { return checked("storage")->storage; }

  // --- values
  template <class T> T item() const;
  template <class T> std::vector<T> to_vector() const;
  std::string to_string() const;  // PyTorch-style printing

  // --- autograd
  bool requires_grad() const { return checked("requires_grad")->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return checked("is_leaf")->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked("grad_fn")->grad_fn; }
  /// The accumulated gradient; undefined until a backward() reaches this tensor (test with defined()).
  Tensor grad() const { return Tensor(checked("grad")->grad); }
  void set_grad(const Tensor& g) { checked("set_grad")->grad = g.impl_; }
  /// Computes gradients of this tensor w.r.t. the leaves. A non-scalar needs an explicit `grad`.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same data, no history
  uint64_t version() const { return checked("version")->storage->version(); }
  void bump_version() const { checked("bump_version")->storage->bump_version(); }

  // --- method forms of common ops (PyTorch names); see nerve/ops/ops.h
  Tensor reshape(const Shape& s) const;
  Tensor view(const Shape& s) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& s) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType d) const;
  /// A copy on device d (this tensor itself when it is there already). To meta: the same shape and dtype, no
  /// data; from meta to cpu throws (there are no values to copy), as PyTorch.
  Tensor to(Device d) const;

  Tensor sum(const Shape& dims = {}, bool keepdim = false) const;
  Tensor mean(const Shape& dims = {}, bool keepdim = false) const;
  Tensor var(const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor std(const Shape& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor norm(double p, const Shape& dims = {}, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  std::pair<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;  // (values, indices)
  std::pair<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;
  std::pair<Tensor, Tensor> topk(int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true) const;
  Tensor cumsum(int64_t dim) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor matmul(const Tensor& other) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor pow(double e) const;
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  Tensor tril(int64_t diagonal = 0) const;
  Tensor triu(int64_t diagonal = 0) const;
  Tensor masked_select(const Tensor& mask) const;

  // --- in place (bump the version counter; not differentiable)
  Tensor& add_(const Tensor& o, double alpha = 1.0);
  Tensor& sub_(const Tensor& o) {
    check_defined("sub_");
    return add_(o, -1.0);
  }
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(double s);
  Tensor& zero_();
  Tensor& fill_(double v);
  Tensor& copy_(const Tensor& src);
  Tensor& masked_fill_(const Tensor& mask, double v);

 private:
  TensorImpl* checked(const char* fn) const {
    check_defined(fn);
    return impl_.get();
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

namespace detail {
/// Throws nerve::Error naming the function and the argument when t is undefined.  check_arg(b, "add", "b")
inline void check_arg(const Tensor& t, const char* fn, const char* arg) {
  if (!t.defined()) [[unlikely]] throw_undefined_arg(fn, arg);
}
}  // namespace detail

// ---------------------------------------------------------------- creation
// On `device` (the thread's default device, cpu unless a DeviceGuard is open, when not given); the *_like forms
// on t's device. On meta nothing is allocated, filled or drawn from the generator.
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = default_device());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
/// A 0-d tensor.  scalar_tensor(2.0, DType::f64)
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = default_device());
/// [start, end) in steps; integer dtype when all arguments are integers (PyTorch rule; pass dtype to override).
Tensor arange(double end, DType dtype = DType::i64);
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::i64);
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);
Tensor eye(int64_t n, DType dtype = DType::f32);
/// Copies values into a new cpu tensor.  from_vector<float>({1, 2, 3, 4}, {2, 2})
template <class T> Tensor from_vector(const std::vector<T>& v, const Shape& shape);
template <class T> Tensor from_vector(const std::vector<T>& v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }
/// 1-D f32 tensor from a list.  tensor({1.f, 2.f, 3.f})
Tensor tensor(std::initializer_list<float> v);
/// 2-D f32 tensor from nested lists.  tensor({{1.f, 2.f}, {3.f, 4.f}})
Tensor tensor(std::initializer_list<std::initializer_list<float>> v);
/// Wraps existing memory without copying; `deleter` runs when the last view dies (empty: caller keeps ownership).
Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter = {});

}  // namespace nerve
