// Learning-rate schedulers (torch.optim.lr_scheduler): StepLR, ExponentialLR, CosineAnnealingLR, LinearLR
// (linear warm-up), and ReduceLROnPlateau. Each is constructed after the optimizer, sets the initial lr at
// construction (PyTorch's initial step), and updates every group's "lr" on step(). The optimizer must outlive it.
#pragma once
#include <cstdint>
#include <vector>

#include "nerve/optim/optimizer.h"

namespace nerve::optim {

/// What LRScheduler::state_dict() returns (PyTorch's scheduler state_dict, in memory; the hyper-parameters are
/// constructor arguments, as with a PyTorch scheduler rebuilt before load_state_dict).
struct LRSchedulerState {
  int64_t last_epoch = -1, step_count = 0;
  std::vector<double> base_lrs, last_lr;
};

/// Base of the epoch-indexed schedulers: step() advances last_epoch and sets each group's lr.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();
  /// The lrs set by the latest step (one per group).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// Where the schedule stands, to resume it later (together with the optimizer's state_dict):
  ///   auto s = sched.state_dict(); ...  sched2.load_state_dict(s);  // then sched2.step() continues the schedule
  LRSchedulerState state_dict() const { return {last_epoch_, step_count_, base_lrs_, last_lr_}; }
  /// Restores it; the optimizer's lrs come from the optimizer's own load_state_dict (as in PyTorch).
  void load_state_dict(const LRSchedulerState& state);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  /// PyTorch's chainable get_lr(): the new lrs from the groups' current lrs and last_epoch_.
  virtual std::vector<double> get_lr() = 0;
  /// Called at the end of each derived constructor: the initial step (last_epoch becomes 0).
  void initial_step() { step(); }
  std::vector<double> group_lrs() const;

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;

 private:
  std::vector<double> last_lr_;
};

/// lr * gamma every step_size epochs.  optim::StepLR sched(opt, 30, 0.1);
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr * gamma every epoch.  optim::ExponentialLR sched(opt, 0.95);
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() override;

 private:
  double gamma_;
};

/// eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2 (SGDR without restarts, Loshchilov & Hutter 2017).
///   optim::CosineAnnealingLR sched(opt, 100);
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

/// Multiplies the base lr by a factor moving linearly from start_factor to end_factor over total_iters steps,
/// then keeps end_factor: linear warm-up with start_factor < 1.
///   optim::LinearLR warmup(opt, 0.01, 1.0, 500);  // warm up over 500 steps
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3.0, double end_factor = 1.0, int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;

 private:
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

/// Linear warm-up over warmup_steps steps: lr/N, 2 lr/N, ..., lr (N = warmup_steps), then constant; that is
/// LinearLR(1/N, 1.0, N - 1).
///   optim::LinearWarmup warmup(opt, 1000);  // call warmup.step() after each opt.step()
class LinearWarmup : public LinearLR {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps);
};

struct ReduceLROnPlateauOptions {
  enum class Mode { min, max };
  enum class ThresholdMode { rel, abs };
  Mode mode = Mode::min;
  double factor = 0.1;    // new lr = max(lr * factor, min_lr)
  int64_t patience = 10;  // epochs without improvement before reducing
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::rel;
  int64_t cooldown = 0;  // epochs to wait after a reduction
  double min_lr = 0.0;
  double eps = 1e-8;  // reductions smaller than this are skipped
};

/// Reduces the lr by `factor` when a metric stops improving for `patience` epochs.
///   optim::ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 2});  sched.step(val_loss);
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  void step(double metric);
  std::vector<double> get_last_lr() const;
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  struct State {
    double best;
    int64_t num_bad_epochs, cooldown_counter, last_epoch;
  };
  /// Where the plateau detection stands (best metric, counters), to resume it later.
  State state_dict() const { return {best_, num_bad_epochs_, cooldown_counter_, last_epoch_}; }
  void load_state_dict(const State& s);

 private:
  bool is_better(double a, double best) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace nerve::optim
