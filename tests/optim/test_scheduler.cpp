// Learning-rate schedulers against torch.optim.lr_scheduler: the lr after construction and after each step.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/optim/optim.h>

#include <functional>

#include "golden/golden_reader.h"

using namespace nerve;
using nerve::testing::all_close;
using nerve::testing::error_of;

namespace {

// lrs of an SGD(lr=0.1) optimizer: after construction, then after each step
template <class Make>
Tensor lr_sequence(const Make& make, int steps) {
  Tensor p = zeros({1}).requires_grad_();
  optim::SGD opt(std::vector<Tensor>{p}, {.lr = 0.1});
  auto sched = make(opt);
  std::vector<double> lrs{opt.lr()};
  for (int i = 0; i < steps; ++i) {
    opt.step();
    sched->step();
    lrs.push_back(opt.lr());
    EXPECT_DOUBLE_EQ(sched->get_last_lr()[0], opt.lr());
  }
  return from_vector(lrs);
}

}  // namespace

TEST(Scheduler, MatchesPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  auto check = [&](const std::string& name, auto make, int steps = 12) {
    EXPECT_TRUE(all_close(lr_sequence(make, steps), G("sched." + name), 1e-16, 1e-13)) << name;
  };
  check("step", [](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 3, 0.5); });
  check("exp", [](optim::Optimizer& o) { return std::make_unique<optim::ExponentialLR>(o, 0.9); });
  check(
      "cos", [](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 5, 0.01); }, 16);
  check("linear", [](optim::Optimizer& o) { return std::make_unique<optim::LinearLR>(o, 0.25, 1.0, 4); });
  check("linear_default", [](optim::Optimizer& o) { return std::make_unique<optim::LinearLR>(o); });
  check("linear_decay", [](optim::Optimizer& o) { return std::make_unique<optim::LinearLR>(o, 1.0, 0.1, 6); });
}

TEST(Scheduler, ReduceLROnPlateauMatchesPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  std::vector<double> metrics = G("sched.plateau.metrics").to_vector<double>();
  auto run = [&](const optim::ReduceLROnPlateauOptions& o, double sign) {
    Tensor p = zeros({1}).requires_grad_();
    optim::SGD opt(std::vector<Tensor>{p}, {.lr = 0.1});
    optim::ReduceLROnPlateau sched(opt, o);
    std::vector<double> lrs{opt.lr()};
    for (double m : metrics) {
      sched.step(sign * m);
      lrs.push_back(sched.get_last_lr()[0]);
    }
    return from_vector(lrs);
  };
  using O = optim::ReduceLROnPlateauOptions;
  EXPECT_TRUE(all_close(
      run({.mode = O::Mode::min, .factor = 0.5, .patience = 1, .threshold = 0.1, .cooldown = 1, .min_lr = 0.01}, 1.0),
      G("sched.plateau_min"), 1e-16, 1e-13));
  EXPECT_TRUE(all_close(run({.mode = O::Mode::max,
                             .factor = 0.3,
                             .patience = 0,
                             .threshold = 0.005,
                             .threshold_mode = O::ThresholdMode::abs},
                            -1.0),
                        G("sched.plateau_max_abs"), 1e-16, 1e-13));
}

TEST(Scheduler, WarmupThenDecayAndErrors) {
  Tensor p = zeros({1}).requires_grad_();
  optim::Adam opt(std::vector<Tensor>{p}, {.lr = 1.0});
  optim::LinearLR warmup(opt, 0.1, 1.0, 9);  // 0.1, 0.2, ..., 1.0 over 9 steps
  for (int i = 0; i <= 9; ++i) {
    EXPECT_NEAR(opt.lr(), 0.1 * (i + 1), 1e-12) << i;
    warmup.step();
  }
  EXPECT_NEAR(opt.lr(), 1.0, 1e-12);
  EXPECT_EQ(warmup.base_lrs(), (std::vector<double>{1.0}));
  optim::CosineAnnealingLR after(opt, 10);  // a second scheduler starts from the group's initial_lr, as in PyTorch
  EXPECT_EQ(after.base_lrs(), (std::vector<double>{1.0}));
  Tensor q = zeros({1}).requires_grad_();
  optim::SGD sgd(std::vector<Tensor>{q}, {.lr = 0.5});
  optim::LinearWarmup lw(sgd, 4);  // 1/4, 2/4, 3/4 and 4/4 of 0.5, then constant
  std::vector<double> seen;
  for (int i = 0; i < 6; ++i, lw.step()) seen.push_back(sgd.lr());
  std::vector<double> want{0.125, 0.25, 0.375, 0.5, 0.5, 0.5};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(seen[i], want[i], 1e-15) << i;
  EXPECT_EQ(error_of([&] { optim::StepLR(opt, 0); }), "StepLR: step_size must be positive, got 0");
  EXPECT_EQ(error_of([&] { optim::ReduceLROnPlateau(opt, {.factor = 1.0}); }),
            "ReduceLROnPlateau: factor should be < 1.0, got 1");
}

// state_dict / load_state_dict: a schedule stopped after k steps and rebuilt on a restored optimizer continues
// with exactly the lrs the uninterrupted one takes.
TEST(Scheduler, StateDictResumesTheSchedule) {
  using Make = std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>;
  const std::vector<std::pair<const char*, Make>> makers = {
      {"step", [](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 3, 0.5); }},
      {"cos", [](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 7, 0.01); }},
      {"warmup", [](optim::Optimizer& o) { return std::make_unique<optim::LinearLR>(o, 0.1, 1.0, 6); }}};
  for (const auto& [name, make] : makers) {
    Tensor p = randn({3}).requires_grad_();
    optim::SGD full({p}, {.lr = 0.2});
    auto ref = make(full);
    std::vector<double> want;
    for (int i = 0; i < 12; ++i) {
      ref->step();
      want.push_back(full.lr());
    }
    // the same, interrupted after 5 steps
    optim::SGD a({p}, {.lr = 0.2});
    auto s1 = make(a);
    for (int i = 0; i < 5; ++i) s1->step();
    auto opt_state = a.state_dict();
    auto sched_state = s1->state_dict();
    optim::SGD b({p}, {.lr = 0.2});
    auto s2 = make(b);
    b.load_state_dict(opt_state);
    s2->load_state_dict(sched_state);
    EXPECT_EQ(s2->last_epoch(), 5) << name;
    for (int i = 5; i < 12; ++i) {
      s2->step();
      EXPECT_NEAR(b.lr(), want[i], 1e-15) << name << " step " << i;
    }
  }
  // ReduceLROnPlateau keeps its best metric and counters
  Tensor q = randn({2}).requires_grad_();
  optim::SGD o1({q}, {.lr = 1.0}), o2({q}, {.lr = 1.0});
  optim::ReduceLROnPlateau r1(o1, {.factor = 0.5, .patience = 1});
  for (double m : {1.0, 0.9, 0.95}) r1.step(m);
  optim::ReduceLROnPlateau r2(o2, {.factor = 0.5, .patience = 1});
  r2.load_state_dict(r1.state_dict());
  o2.load_state_dict(o1.state_dict());
  r1.step(0.95);
  r2.step(0.95);  // the second bad epoch in a row: both reduce now
  EXPECT_EQ(o1.lr(), 0.5);
  EXPECT_EQ(o2.lr(), 0.5);
  EXPECT_EQ(r2.best(), 0.9);
  EXPECT_NE(error_of([&] { r2.load_state_dict({0.0, -1, 0, 0}); }), "");
}
