// DataLoader: one epoch = one EpochState holding the index order and, with prefetch, a worker thread that fills
// a bounded queue (kPrefetchDepth batches) ahead of the consumer. Errors travel through the queue and are
// rethrown in order; destroying the state stops and joins the worker.
#include "nerve/data/dataloader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "nerve/autograd/grad_mode.h"
#include "nerve/core/rng.h"
#include "nerve/core/profiler.h"

namespace nerve::data {

namespace detail {

class EpochState {
 public:
  EpochState(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> order, int64_t batch_size,
             int64_t num_batches, int64_t first_batch, std::shared_ptr<int64_t> handed, bool prefetch)
      : dataset_(std::move(dataset)),
        order_(std::move(order)),
        batch_size_(batch_size),
        num_batches_(num_batches),
        next_(first_batch),
        first_(first_batch),
        handed_(std::move(handed)),
        prefetch_(prefetch) {
    *handed_ = first_batch;
    if (prefetch_ && num_batches_ > 0) worker_ = std::thread([this] { worker_loop(); });
  }

  ~EpochState() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  EpochState(const EpochState&) = delete;
  EpochState& operator=(const EpochState&) = delete;

  /// The next batch, nullopt after the last; rethrows what the dataset threw for this batch.
  std::optional<Example> next() {
    if (next_ >= num_batches_) return std::nullopt;
    if (!prefetch_) {
      Example e = make_batch(next_++);
      *handed_ = next_;
      if (next_ < num_batches_) dataset_->prefetch(indices_of(next_));  // cache-level prefetch, no thread
      return e;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || worker_done_; });
    if (!queue_.empty()) {
      Example e = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      cv_.notify_all();
      *handed_ = ++next_;
      return e;
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return std::nullopt;
  }

 private:
  std::vector<int64_t> indices_of(int64_t b) const {
    auto first = order_.begin() + b * batch_size_;
    auto last = order_.begin() + std::min<int64_t>((b + 1) * batch_size_, static_cast<int64_t>(order_.size()));
    return std::vector<int64_t>(first, last);
  }

  Example make_batch(int64_t b) const {
    NoGradGuard no_grad;  // data loading never records a graph (grad mode is per thread)
    return dataset_->get_batch(indices_of(b));
  }

  void worker_loop() {
    for (int64_t b = first_; b < num_batches_; ++b) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || queue_.size() < DataLoader::kPrefetchDepth; });
        if (stop_) return;
      }
      std::optional<Example> batch;
      std::exception_ptr error;
      try {
        batch = make_batch(b);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (batch) queue_.push_back(std::move(*batch));
        error_ = error;
        worker_done_ = error != nullptr || b + 1 == num_batches_;
      }
      cv_.notify_all();
      if (error) return;
    }
  }

  std::shared_ptr<const Dataset> dataset_;
  std::vector<int64_t> order_;
  int64_t batch_size_, num_batches_;
  int64_t next_ = 0;   // the next batch to hand to the consumer
  int64_t first_ = 0;  // the first batch of this epoch to load (a resumed epoch skips the ones before)
  std::shared_ptr<int64_t> handed_;  // the loader's view of next_ (DataLoader::state)
  bool prefetch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Example> queue_;
  std::exception_ptr error_;
  bool worker_done_ = false, stop_ = false;
  std::thread worker_;  // last: started after every other member exists
};

}  // namespace detail

DataLoader::Iterator::Iterator(std::unique_ptr<detail::EpochState> state) : state_(std::move(state)) {
  done_ = false;
  ++*this;
}
DataLoader::Iterator::Iterator(Iterator&& o) noexcept
    : state_(std::move(o.state_)), current_(std::move(o.current_)), done_(std::exchange(o.done_, true)) {}
DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&& o) noexcept {
  state_ = std::move(o.state_);
  current_ = std::move(o.current_);
  done_ = std::exchange(o.done_, true);
  return *this;
}
DataLoader::Iterator::~Iterator() = default;

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  NERVE_RECORD_FUNCTION("DataLoader.next");
  NERVE_CHECK(!done_ && state_, "DataLoader: iterator incremented past the end");
  std::optional<Example> e = state_->next();
  if (e) {
    current_ = std::move(*e);
  } else {
    current_ = {};
    done_ = true;
    state_.reset();  // joins the worker now rather than when the loop variable dies
  }
  return *this;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  NERVE_CHECK(dataset_ != nullptr, "DataLoader: dataset is null");
  NERVE_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", options_.batch_size);
  if (options_.sampler)
    sampler_ = options_.sampler;
  else if (options_.shuffle)
    sampler_ = std::make_shared<RandomSampler>(*(seed_ = options_.seed ? *options_.seed : generator()()));
  else
    sampler_ = std::make_shared<SequentialSampler>();
}

int64_t DataLoader::num_samples() const { return sampler_->num_samples(dataset_->size()); }

int64_t DataLoader::size() const {
  int64_t n = num_samples(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

DataLoader::Iterator DataLoader::begin() {
  std::vector<int64_t> order = sampler_->indices(dataset_->size(), epoch_++);
  int64_t n = static_cast<int64_t>(order.size()), bs = options_.batch_size;
  int64_t batches = options_.drop_last ? n / bs : (n + bs - 1) / bs;
  NERVE_CHECK(skip_ <= batches, "DataLoader: cannot resume at batch ", skip_, " of an epoch of ", batches, " batches");
  handed_ = std::make_shared<int64_t>(0);
  running_batches_ = batches;
  const int64_t first = std::exchange(skip_, 0);
  return Iterator(std::make_unique<detail::EpochState>(dataset_, std::move(order), bs, batches, first, handed_,
                                                       options_.prefetch));
}

DataLoaderState DataLoader::state() const {
  if (handed_ && *handed_ < running_batches_) return {epoch_ - 1, *handed_, seed_};  // inside an epoch
  return {epoch_, skip_, seed_};
}

void DataLoader::load_state(const DataLoaderState& s) {
  NERVE_CHECK(s.epoch >= 0 && s.batch >= 0 && s.batch <= size(), "DataLoader: cannot resume at epoch ", s.epoch,
              ", batch ", s.batch, " (an epoch has ", size(), " batches)");
  NERVE_CHECK(!s.seed || !options_.sampler, "DataLoader: the state has a shuffle seed, but this loader uses a custom "
              "sampler");
  NERVE_CHECK(s.seed.has_value() == seed_.has_value(), "DataLoader: the state ", s.seed ? "has" : "has no",
              " shuffle seed, but this loader ", seed_ ? "shuffles" : "does not shuffle");
  if (s.seed && *s.seed != *seed_) sampler_ = std::make_shared<RandomSampler>(*(seed_ = s.seed));
  epoch_ = s.epoch;
  skip_ = s.batch;
  handed_.reset();
}

}  // namespace nerve::data
