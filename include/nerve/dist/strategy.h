// dist::DataParallel, the Keras strategy over MPI (fit's FitOptions::strategy), and dist::sampler, the
// DataLoader's share of the data for this rank.
#pragma once
#include <memory>

#include "nerve/data/sampler.h"
#include "nerve/dist/ddp.h"
#include "nerve/keras/strategy.h"

namespace nerve::dist {

/// Data-parallel fit: DistributedDataParallel on the model for the length of fit. Under mpirun -np N each rank
/// trains on its shard with the per-rank batch size (global batch N x batch_size); alone it changes nothing.
///   model.fit(x, y, {.epochs = 5, .batch_size = 32, .strategy = std::make_shared<dist::DataParallel>()});
class DataParallel : public keras::Strategy {
 public:
  explicit DataParallel(DDPOptions options = {}) : options_(options) {}
  int rank() const override { return dist::rank(); }
  int world_size() const override { return dist::world_size(); }
  void begin(nn::Module& model) override;
  void end(nn::Module& model) override;
  void sum(std::vector<double>& values) override;
  uint64_t broadcast(uint64_t value) override;
  /// The gradient synchronization times of the last fit (zeros in a world of one).
  const DDPStats& stats() const { return stats_; }

 private:
  DDPOptions options_;
  std::unique_ptr<DistributedDataParallel> ddp_;
  DDPStats stats_;
};

/// This rank's DistributedSampler (every rank draws the same seeded permutation and takes its positions); set the
/// epoch on the DataLoader (DataLoader::set_epoch, or each range-for) so the shuffle changes per epoch.
///   DataLoader loader(ds, {.batch_size = 32, .sampler = dist::sampler({.seed = 42})});
std::shared_ptr<data::DistributedSampler> sampler(data::DistributedSamplerOptions options = {});

}  // namespace nerve::dist
