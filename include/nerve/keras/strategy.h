// keras::Strategy: how fit spreads training over processes (tf.distribute.Strategy). The interface lives here so
// fit can use it; nerve::dist::DataParallel (nerve/dist/strategy.h) implements it over MPI.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "nerve/nn/module.h"

namespace nerve::keras {

/// What fit asks of a distribution strategy. With one, fit gives each rank its shard of every epoch (batch_size
/// stays per rank), averages the epoch's metrics over the ranks, shows progress and runs file-writing callbacks
/// on rank 0 only.
///   model.fit(x, y, {.epochs = 5, .strategy = std::make_shared<dist::DataParallel>()});
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// Called by fit once the model is built, before the first step (e.g. broadcast weights, hook the gradients).
  virtual void begin(nn::Module& model) = 0;
  /// Called when fit ends (also when it throws).
  virtual void end(nn::Module& model) = 0;
  /// Sums `values` elementwise over the ranks, in place (the epoch's loss and metric sums).
  virtual void sum(std::vector<double>& values) = 0;
  /// Rank 0's value, on every rank (fit's shuffle seed).
  virtual uint64_t broadcast(uint64_t value) = 0;
};
using StrategyPtr = std::shared_ptr<Strategy>;

}  // namespace nerve::keras
