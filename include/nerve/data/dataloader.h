// DataLoader: iterates a Dataset in batches (range-for), shuffled per epoch by a seeded Sampler, with the next
// batches assembled by one background thread while the current training step runs.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "nerve/data/dataset.h"
#include "nerve/data/sampler.h"

namespace nerve::data {

/// Options of DataLoader (PyTorch's DataLoader arguments).
struct DataLoaderOptions {
  int64_t batch_size = 32;
  /// Visit a new permutation every epoch (RandomSampler(seed)); ignored when `sampler` is set.
  bool shuffle = false;
  /// Drop the last batch when it is smaller than batch_size.
  bool drop_last = false;
  /// Shuffle seed. Unset: drawn once from the global generator when the loader is made, so
  /// nerve::manual_seed fixes shuffling too.
  std::optional<uint64_t> seed{};
  /// Assemble upcoming batches in a background thread (at most kPrefetchDepth ahead).
  bool prefetch = true;
  /// Custom index order (e.g. DistributedSampler); overrides shuffle.
  std::shared_ptr<const Sampler> sampler{};
};

/// Where a DataLoader is (torchdata's StatefulDataLoader state): the epoch in progress and how many of its batches
/// were handed out, plus the shuffle seed of the loader's own RandomSampler (unset with a custom sampler, which
/// keeps its own seed). Saved in training checkpoints (io::TrainingState::loader).
struct DataLoaderState {
  int64_t epoch = 0;
  int64_t batch = 0;
  std::optional<uint64_t> seed{};
};

namespace detail {
class EpochState;
}

/// Batches of a dataset. Each range-for over the loader is one epoch: epoch k (0, 1, ...) uses the sampler's
/// order for k, so shuffled epochs differ from each other but repeat exactly across runs with the same seed.
///   DataLoader loader(TensorDataset(x, y), {.batch_size = 64, .shuffle = true, .seed = 1});
///   for (int e = 0; e < 10; ++e) for (auto& batch : loader) step(batch.data, batch.target);
/// Breaking out of the loop, or an exception in the dataset (rethrown here), stops the worker cleanly.
class DataLoader {
 public:
  static constexpr int kPrefetchDepth = 2;

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  /// Takes a dataset by value (TensorDataset copies are cheap: they share the tensors).
  template <class D>
    requires std::is_base_of_v<Dataset, std::decay_t<D>>
  DataLoader(D&& dataset, DataLoaderOptions options = {})
      : DataLoader(std::make_shared<std::decay_t<D>>(std::forward<D>(dataset)), std::move(options)) {}

  /// End marker of the range-for.
  struct Sentinel {};

  /// Input iterator over one epoch's batches; move-only. Dereferencing gives the current batch.
  class Iterator {
   public:
    using value_type = Example;
    using difference_type = std::ptrdiff_t;
    explicit Iterator(std::unique_ptr<detail::EpochState> state);
    Iterator(Iterator&&) noexcept;
    Iterator& operator=(Iterator&&) noexcept;
    ~Iterator();
    Example& operator*() { return current_; }
    Example* operator->() { return &current_; }
    Iterator& operator++();
    bool operator==(Sentinel) const { return done_; }

   private:
    std::unique_ptr<detail::EpochState> state_;
    Example current_;
    bool done_ = true;
  };

  /// Starts the next epoch (and its prefetch thread) and returns its first batch.
  Iterator begin();
  Sentinel end() const { return {}; }

  /// Number of batches per epoch.
  int64_t size() const;
  /// Number of examples per epoch (after the sampler, before drop_last).
  int64_t num_samples() const;
  /// The epoch the next begin() will run; set it to resume training or to align ranks.
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t epoch) {
    epoch_ = epoch;
    skip_ = 0;
  }
  /// The position: inside an epoch, that epoch and the batches handed out so far (a checkpoint taken in the loop's
  /// body after batch k's step says k + 1); after it, the next epoch and 0.
  DataLoaderState state() const;
  /// Resumes at a position: the next begin() runs state.epoch from batch state.batch on, with the same order
  /// (the saved seed replaces the shuffle seed). A batch past the epoch's end throws nerve::Error.
  void load_state(const DataLoaderState& state);
  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Sampler> sampler_;
  DataLoaderOptions options_;
  std::optional<uint64_t> seed_;  // the RandomSampler's, when the loader made it
  int64_t epoch_ = 0;
  int64_t skip_ = 0;  // batches of the next epoch to skip (load_state)
  // the epoch in progress: batches handed out so far (shared with its EpochState) and how many it has
  std::shared_ptr<int64_t> handed_;
  int64_t running_batches_ = 0;
};

}  // namespace nerve::data
