// Learning-rate schedulers in PyTorch's chainable (recursive) form, so sequences match torch.optim.lr_scheduler
// step for step, including when another scheduler or the user also changes the lr.
#include "nerve/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nerve::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  // PyTorch: each group keeps the lr it had when the first scheduler was attached as "initial_lr"
  for (auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.options.emplace("initial_lr", g.lr()).first->second);
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> out;
  for (const auto& g : optimizer_.param_groups()) out.push_back(g.lr());
  return out;
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  std::vector<double> lrs = get_lr();
  auto& groups = optimizer_.param_groups();
  NERVE_CHECK(lrs.size() == groups.size(), "lr_scheduler: the optimizer has ", groups.size(),
              " parameter groups but the scheduler was built for ", lrs.size());
  for (size_t i = 0; i < groups.size(); ++i) groups[i].set_lr(lrs[i]);
  last_lr_ = lrs;
}

void LRScheduler::load_state_dict(const LRSchedulerState& st) {
  const size_t groups = optimizer_.param_groups().size();
  NERVE_CHECK(st.base_lrs.size() == groups && (st.last_lr.empty() || st.last_lr.size() == groups),
              "lr_scheduler.load_state_dict: the state has ", st.base_lrs.size(), " parameter groups, the optimizer ",
              groups);
  NERVE_CHECK(st.last_epoch >= -1 && st.step_count >= 0, "lr_scheduler.load_state_dict: invalid last_epoch ",
              st.last_epoch, " or step count ", st.step_count);
  last_epoch_ = st.last_epoch;
  step_count_ = st.step_count;
  base_lrs_ = st.base_lrs;
  last_lr_ = st.last_lr;
}

// ------------------------------------------------------------------ StepLR
StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  NERVE_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

// ------------------------------------------------------------------ ExponentialLR
ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

// ------------------------------------------------------------------ CosineAnnealingLR
CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  NERVE_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  const double T = static_cast<double>(T_max_), e = static_cast<double>(last_epoch_);
  for (size_t i = 0; i < lrs.size(); ++i) {
    if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0)
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(M_PI / T)) / 2;
    else
      lrs[i] = (1 + std::cos(M_PI * e / T)) / (1 + std::cos(M_PI * (e - 1) / T)) * (lrs[i] - eta_min_) + eta_min_;
  }
  return lrs;
}

// ------------------------------------------------------------------ LinearLR
LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  NERVE_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ", start_factor);
  NERVE_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
  NERVE_CHECK(total_iters >= 0, "LinearLR: total_iters must be >= 0, got ", total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr *= start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double f =
      1.0 + (end_factor_ - start_factor_) / (static_cast<double>(total_iters_) * start_factor_ +
                                             static_cast<double>(last_epoch_ - 1) * (end_factor_ - start_factor_));
  for (double& lr : lrs) lr *= f;
  return lrs;
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps)
    : LinearLR(optimizer, 1.0 / static_cast<double>(std::max<int64_t>(warmup_steps, 1)), 1.0,
               std::max<int64_t>(warmup_steps - 1, 0)) {}

// ------------------------------------------------------------------ ReduceLROnPlateau
ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& o)
    : optimizer_(optimizer), options_(o) {
  NERVE_CHECK(o.factor < 1.0, "ReduceLROnPlateau: factor should be < 1.0, got ", o.factor);
  NERVE_CHECK(o.patience >= 0 && o.cooldown >= 0, "ReduceLROnPlateau: patience and cooldown must be >= 0");
  const double inf = std::numeric_limits<double>::infinity();
  best_ = o.mode == ReduceLROnPlateauOptions::Mode::min ? inf : -inf;
}

void ReduceLROnPlateau::load_state_dict(const State& s) {
  NERVE_CHECK(s.num_bad_epochs >= 0 && s.cooldown_counter >= 0 && s.last_epoch >= 0,
              "ReduceLROnPlateau.load_state_dict: counters must be >= 0, got ", s.num_bad_epochs, ", ",
              s.cooldown_counter, ", ", s.last_epoch);
  best_ = s.best;
  num_bad_epochs_ = s.num_bad_epochs;
  cooldown_counter_ = s.cooldown_counter;
  last_epoch_ = s.last_epoch;
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  using M = ReduceLROnPlateauOptions::Mode;
  using TM = ReduceLROnPlateauOptions::ThresholdMode;
  const double th = options_.threshold;
  if (options_.mode == M::min) return options_.threshold_mode == TM::rel ? a < best * (1.0 - th) : a < best - th;
  return options_.threshold_mode == TM::rel ? a > best * (th + 1.0) : a > best + th;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    for (auto& g : optimizer_.param_groups()) {
      double old_lr = g.lr(), new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) g.set_lr(new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
}

std::vector<double> ReduceLROnPlateau::get_last_lr() const {
  std::vector<double> out;
  for (const auto& g : optimizer_.param_groups()) out.push_back(g.lr());
  return out;
}

}  // namespace nerve::optim
