// Dataset: indexed (data, target) examples with a batch fast path; TensorDataset over in-memory tensors and
// TransformDataset applying a function to every batch.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve::data {

/// One example, or a batch of them stacked along a new dim 0. `target` may be undefined (unlabelled data).
struct Example {
  Tensor data;
  Tensor target;
};

/// A map-style dataset (PyTorch's torch.utils.data.Dataset). get and get_batch are const and are called from the
/// DataLoader's worker thread, so they must not change shared state.
///   struct Squares : Dataset { int64_t size() const override { return 10; }
///     Example get(int64_t i) const override { return {full({1}, double(i)), full({1}, double(i * i))}; } };
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of examples.
  virtual int64_t size() const = 0;
  /// Example i, 0 <= i < size().
  virtual Example get(int64_t index) const = 0;
  /// The examples at `indices` stacked along a new dim 0 (data: (B, ...), target: (B, ...)). The default stacks
  /// get(i); datasets override it to copy rows directly.
  virtual Example get_batch(const std::vector<int64_t>& indices) const;
  /// A hint that these examples come next: a dataset in memory can start pulling them into the cache. The
  /// DataLoader calls it with the next batch's indices while the current batch trains. Default: nothing.
  virtual void prefetch(const std::vector<int64_t>& indices) const {}
};

/// Options of TensorDataset.
struct TensorDatasetOptions {
  /// Convert u8 data to f32 scaled by 1/255 when an example or batch is fetched; memory keeps the compact u8.
  bool u8_to_float = false;
};

/// Examples are the rows (dim 0) of x and y (PyTorch's TensorDataset). y may be undefined.
///   TensorDataset ds(images_u8, labels, {.u8_to_float = true});  // batches: (B, 28, 28) f32 in [0, 1], (B) i64
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor x, Tensor y, TensorDatasetOptions options = {});
  int64_t size() const override { return size_; }
  Example get(int64_t index) const override;
  Example get_batch(const std::vector<int64_t>& indices) const override;
  void prefetch(const std::vector<int64_t>& indices) const override;
  const Tensor& x() const { return x_; }
  const Tensor& y() const { return y_; }

 private:
  Tensor x_, y_;  // contiguous
  int64_t size_ = 0;
  TensorDatasetOptions options_;
};

/// Applies `fn` to every example and batch of `base` (e.g. normalization, flattening, augmentation).
///   TransformDataset ds(base, [](Example e) { e.data = e.data.flatten(1); return e; });
/// get(i) applies fn to the single example, get_batch to the whole batch, so fn must accept both shapes
/// (work on trailing dims, or flatten from dim 1 only in batches that you know are batches).
class TransformDataset : public Dataset {
 public:
  using Fn = std::function<Example(Example)>;
  TransformDataset(std::shared_ptr<const Dataset> base, Fn fn);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override { return fn_(base_->get(index)); }
  Example get_batch(const std::vector<int64_t>& indices) const override { return fn_(base_->get_batch(indices)); }
  void prefetch(const std::vector<int64_t>& indices) const override { base_->prefetch(indices); }

 private:
  std::shared_ptr<const Dataset> base_;
  Fn fn_;
};

/// u8 -> f32 scaled by 1/255 (pixels to [0, 1]); other dtypes are returned unchanged.
///   Tensor x = u8_to_unit_float(images);  // (N, 28, 28) f32
Tensor u8_to_unit_float(const Tensor& x);

}  // namespace nerve::data
