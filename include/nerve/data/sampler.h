// Samplers: the order in which a DataLoader visits dataset indices, one list per epoch. Shuffling is
// reproducible: the permutation depends only on (seed, epoch), never on the global generator or the platform.
#pragma once
#include <cstdint>
#include <vector>

namespace nerve::data {

/// Produces the index order of one epoch. Implementations are stateless (const), so one sampler can serve
/// several loaders and threads.
///   std::vector<int64_t> order = RandomSampler(42).indices(dataset.size(), epoch);
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The indices (each in [0, dataset_size)) to visit in `epoch`, in order.
  virtual std::vector<int64_t> indices(int64_t dataset_size, int64_t epoch) const = 0;
  /// How many indices indices() returns (for DataLoader::size() without building the list).
  virtual int64_t num_samples(int64_t dataset_size) const { return dataset_size; }
};

/// 0, 1, ..., n-1 every epoch.
class SequentialSampler : public Sampler {
 public:
  std::vector<int64_t> indices(int64_t dataset_size, int64_t epoch) const override;
};

/// A permutation of 0..n-1 drawn from (seed, epoch): the same for the same pair, different across epochs.
///   RandomSampler s(42); auto e0 = s.indices(n, 0), e1 = s.indices(n, 1);  // two different permutations
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed) : seed_(seed) {}
  std::vector<int64_t> indices(int64_t dataset_size, int64_t epoch) const override;
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
};

/// Options of DistributedSampler (PyTorch's torch.utils.data.DistributedSampler).
struct DistributedSamplerOptions {
  bool shuffle = true;
  uint64_t seed = 0;  // must be the same on every rank
  /// true: drop the tail so every rank gets n / world; false: repeat the first indices so every rank gets
  /// ceil(n / world).
  bool drop_last = false;
};

/// The share of rank `rank` among `world` processes: every rank builds the same (seed, epoch) permutation and
/// takes positions rank, rank + world, ... so the ranks see disjoint parts covering the dataset.
///   DistributedSampler s(rank, world, {.seed = 42});  // pass as DataLoaderOptions::sampler
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t rank, int64_t world, DistributedSamplerOptions options = {});
  std::vector<int64_t> indices(int64_t dataset_size, int64_t epoch) const override;
  int64_t num_samples(int64_t dataset_size) const override;

 private:
  int64_t rank_, world_;
  DistributedSamplerOptions options_;
};

/// The permutation of 0..n-1 RandomSampler uses: Fisher-Yates driven by a SplitMix64 stream of (seed, epoch),
/// identical on every platform and standard library.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace nerve::data
