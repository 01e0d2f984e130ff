// Samplers and the seeded permutation (Fisher-Yates driven by core's SplitMix64 and its unbiased bounded integers),
// written out so the order is the same with every compiler and standard library.
#include "nerve/data/sampler.h"

#include <numeric>

#include "nerve/core/error.h"
#include "nerve/core/rng.h"

namespace nerve::data {

namespace {

void check_size(int64_t n) { NERVE_CHECK(n >= 0, "Sampler: dataset size must be >= 0, got ", n); }

}  // namespace

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  check_size(n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  SplitMix64 rng(mix64(seed ^ mix64(static_cast<uint64_t>(epoch) + 0x632BE59BD9B4E019ull)));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(static_cast<uint64_t>(i) + 1)]);
  return p;
}

std::vector<int64_t> SequentialSampler::indices(int64_t n, int64_t) const {
  check_size(n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  return p;
}

std::vector<int64_t> RandomSampler::indices(int64_t n, int64_t epoch) const {
  return seeded_permutation(n, seed_, epoch);
}

DistributedSampler::DistributedSampler(int64_t rank, int64_t world, DistributedSamplerOptions options)
    : rank_(rank), world_(world), options_(options) {
  NERVE_CHECK(world >= 1 && rank >= 0 && rank < world, "DistributedSampler: rank ", rank, " and world size ", world,
              " are invalid, expected world >= 1 and 0 <= rank < world");
}

int64_t DistributedSampler::num_samples(int64_t n) const {
  check_size(n);
  return options_.drop_last ? n / world_ : (n + world_ - 1) / world_;
}

std::vector<int64_t> DistributedSampler::indices(int64_t n, int64_t epoch) const {
  std::vector<int64_t> order =
      options_.shuffle ? seeded_permutation(n, options_.seed, epoch) : SequentialSampler().indices(n, epoch);
  int64_t per_rank = num_samples(n);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank));
  // position rank + k * world of the order, padded by wrapping around so all ranks get per_rank indices
  for (int64_t k = 0; k < per_rank; ++k) mine.push_back(order[static_cast<size_t>((rank_ + k * world_) % n)]);
  return mine;
}

}  // namespace nerve::data
