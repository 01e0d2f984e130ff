// Dataset's default batch (stack of examples), TensorDataset's row-copy fast path, TransformDataset.
#include "nerve/data/dataset.h"

#include <cstring>

#include "nerve/autograd/grad_mode.h"
#include "nerve/ops/ops.h"

namespace nerve::data {

namespace {

void check_indices(const std::vector<int64_t>& indices, int64_t size, const char* who) {
  NERVE_CHECK(!indices.empty(), who, ": get_batch needs at least one index");
  for (size_t i = 0; i < indices.size(); ++i)
    NERVE_CHECK(indices[i] >= 0 && indices[i] < size, who, ": index ", indices[i], " (batch position ", i,
                ") is out of range for ", size, " examples");
}

// dst: (count) f32; src: (count) u8.
void u8_to_unit_float_row(float* dst, const uint8_t* src, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
}

// The rows `indices` of contiguous x (N, ...) as a new (B, ...) tensor, optionally u8 -> f32 / 255.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& indices, bool to_float) {
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(indices.size());
  int64_t row = x.size(0) ? x.numel() / x.size(0) : 0;
  bool convert = to_float && x.dtype() == DType::u8;
  Tensor out = empty(shape, convert ? DType::f32 : x.dtype());
  const auto* src = static_cast<const uint8_t*>(x.raw_data());
  if (convert) {
    float* dst = out.data<float>();
    for (size_t b = 0; b < indices.size(); ++b) u8_to_unit_float_row(dst + b * row, src + indices[b] * row, row);
  } else {
    size_t row_bytes = static_cast<size_t>(row) * itemsize(x.dtype());
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    for (size_t b = 0; b < indices.size(); ++b)
      std::memcpy(dst + b * row_bytes, src + static_cast<size_t>(indices[b]) * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace

Example Dataset::get_batch(const std::vector<int64_t>& indices) const {
  check_indices(indices, size(), "Dataset");
  std::vector<Tensor> data, target;
  for (size_t k = 0; k < indices.size(); ++k) {
    Example e = get(indices[k]);
    NERVE_CHECK(e.data.defined(), "Dataset: example ", indices[k], " has no data");
    NERVE_CHECK(e.target.defined() == (k == 0 ? e.target.defined() : !target.empty()), "Dataset: example ", indices[k],
                " has ", e.target.defined() ? "a" : "no", " target, unlike example ", indices[0]);
    data.push_back(e.data);
    if (e.target.defined()) target.push_back(e.target);
  }
  NoGradGuard no_grad;
  return {stack(data), target.empty() ? Tensor() : stack(target)};
}

Tensor u8_to_unit_float(const Tensor& x) {
  if (x.dtype() != DType::u8) return x;
  Tensor src = x.contiguous();
  Tensor out = empty(x.shape(), DType::f32);
  u8_to_unit_float_row(out.data<float>(), src.data<uint8_t>(), src.numel());
  return out;
}

TensorDataset::TensorDataset(Tensor x, Tensor y, TensorDatasetOptions options) : options_(options) {
  NERVE_CHECK(x.defined() && x.dim() >= 1, "TensorDataset: x must have at least one dim (the examples), got ",
              x.defined() ? to_string(x.shape()) : "an undefined tensor");
  size_ = x.size(0);
  if (y.defined())
    NERVE_CHECK(y.dim() >= 1 && y.size(0) == size_, "TensorDataset: x has ", size_, " rows (", to_string(x.shape()),
                " ", dtype_name(x.dtype()), ") but y has shape ", to_string(y.shape()), " ", dtype_name(y.dtype()),
                "; dim 0 must match");
  x_ = x.detach().contiguous();
  y_ = y.defined() ? y.detach().contiguous() : y;
}

Example TensorDataset::get(int64_t index) const {
  NERVE_CHECK(index >= 0 && index < size_, "TensorDataset: index ", index, " is out of range for ", size_, " examples");
  Tensor data = x_.select(0, index);
  if (options_.u8_to_float) data = u8_to_unit_float(data);
  return {data, y_.defined() ? y_.select(0, index) : Tensor()};
}

Example TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  check_indices(indices, size_, "TensorDataset");
  return {gather_rows(x_, indices, options_.u8_to_float), y_.defined() ? gather_rows(y_, indices, false) : Tensor()};
}

void TensorDataset::prefetch(const std::vector<int64_t>& indices) const {
  // one prefetch per cache line of each row: the rows of a shuffled batch are scattered over the whole set
  for (const Tensor* t : {&x_, &y_}) {
    if (!t->defined() || t->numel() == 0) continue;
    const size_t row_bytes = static_cast<size_t>(t->numel() / t->size(0)) * itemsize(t->dtype());
    const auto* base = static_cast<const char*>(t->raw_data());
    for (int64_t i : indices) {
      if (i < 0 || i >= size_) continue;
      for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(base + static_cast<size_t>(i) * row_bytes + off);
    }
  }
}

TransformDataset::TransformDataset(std::shared_ptr<const Dataset> base, Fn fn)
    : base_(std::move(base)), fn_(std::move(fn)) {
  NERVE_CHECK(base_ != nullptr && fn_, "TransformDataset: needs a dataset and a function");
}

}  // namespace nerve::data
