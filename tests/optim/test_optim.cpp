// Optimizers: 5 steps on a tiny MLP against PyTorch (f64 and f32), param groups, zero_grad, state_dict round
// trip, errors, and gradient clipping against torch.nn.utils.clip_grad_norm_.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/activation.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/loss.h>
#include <nerve/nn/sequential.h>
#include <nerve/optim/optim.h>

#include <functional>
#include <memory>

#include "golden/golden_reader.h"

using namespace nerve;
using nerve::testing::all_close;
using nerve::testing::error_of;
using Params = std::vector<Tensor>;

namespace {

using MakeOpt = std::function<std::unique_ptr<optim::Optimizer>(Params)>;

// the optimizer configurations of make_nn_golden.py's OPT_CASES
const std::vector<std::pair<std::string, MakeOpt>>& cases() {
  static const std::vector<std::pair<std::string, MakeOpt>> c{
      {"sgd", [](Params p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1}); }},
      {"sgd_momentum",
       [](Params p) {
         return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1});
       }},
      {"sgd_nesterov_wd",
       [](Params p) {
         return std::make_unique<optim::SGD>(
             p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
       }},
      {"adam", [](Params p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.01}); }},
      {"adam_amsgrad_wd",
       [](Params p) {
         return std::make_unique<optim::Adam>(
             p, optim::AdamOptions{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1, .amsgrad = true});
       }},
      {"adamw",
       [](Params p) {
         return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.01, .weight_decay = 0.1});
       }},
      {"adamw_amsgrad",
       [](Params p) { return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 0.01, .amsgrad = true}); }},
      {"rmsprop", [](Params p) { return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.lr = 0.01}); }},
      {"rmsprop_centered",
       [](Params p) {
         return std::make_unique<optim::RMSprop>(
             p,
             optim::RMSpropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.5, .centered = true});
       }},
      {"adagrad", [](Params p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions{.lr = 0.1}); }},
      {"adagrad_decay_wd",
       [](Params p) {
         return std::make_unique<optim::Adagrad>(
             p,
             optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.1, .weight_decay = 0.1, .initial_accumulator_value = 0.1});
       }},
  };
  return c;
}

const char* kKeys[] = {"0.weight", "0.bias", "2.weight", "2.bias"};

std::shared_ptr<nn::Sequential> golden_mlp(DType d) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  auto m = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(3, 4, true, d), std::make_shared<nn::Tanh>(),
      std::make_shared<nn::Linear>(4, 2, true, d)});
  nn::StateDict sd;
  for (const char* k : kKeys) sd.emplace_back(k, G(std::string("opt.init.") + k));
  m->load_state_dict(sd);
  return m;
}

// 5 steps of zero_grad / mse loss / backward / step, each compared with PyTorch
void run_case(const std::string& tag, const std::string& name, const MakeOpt& make, DType d, double tol) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  auto model = golden_mlp(d);
  auto opt = make(model->parameters());
  Tensor x = G("opt.x", d), y = G("opt.y", d);
  for (int step = 0; step < 5; ++step) {
    std::string at = tag + "." + name + ".step" + std::to_string(step) + ".";
    opt->zero_grad();
    Tensor loss = F::mse_loss((*model)(x), y);
    loss.backward();
    EXPECT_TRUE(all_close(loss, G(tag + "." + name + ".loss" + std::to_string(step)), tol, tol)) << at;
    opt->step();
    for (auto& [k, p] : model->named_parameters()) EXPECT_TRUE(all_close(p, G(at + k), tol, tol)) << at + k;
  }
}

}  // namespace

TEST(OptimGolden, FiveStepsF64) {
  for (auto& [name, make] : cases()) run_case("opt", name, make, DType::f64, 1e-12);
}

TEST(OptimGolden, FiveStepsF32) {
  for (auto& [name, make] : cases())
    if (nerve::golden::tensors_of("golden/nn_golden.txt").has("opt32." + name + ".loss0"))
      run_case("opt32", name, make, DType::f32, 2e-6);
}

TEST(Optim, ParamGroupsUseTheirOwnOptions) {
  Tensor a = tensor({1.f, 2.f}).requires_grad_(), b = tensor({3.f}).requires_grad_();
  optim::SGD opt({{{a}, {{"lr", 0.1}}}, {{b}, {}}}, {.lr = 0.01});
  EXPECT_EQ(opt.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.01);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].get("momentum"), 0.0);
  (sum(a * a) + sum(b * b)).backward();  // grads 2a, 2b
  opt.step();
  EXPECT_TRUE(all_close(a, tensor({0.8f, 1.6f}), 1e-7, 0));
  EXPECT_TRUE(all_close(b, tensor({2.94f}), 1e-6, 0));
  opt.set_lr(0.5);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.5);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.5);
  Tensor c = zeros({2}).requires_grad_();
  opt.add_param_group({{c}, {{"momentum", 0.9}}});
  EXPECT_DOUBLE_EQ(opt.param_groups()[2].get("lr"), 0.01);  // from the defaults
  EXPECT_EQ(error_of([&] {
              opt.add_param_group({{a}, {}});
            }),
            "optimizer: some parameters appear in more than one parameter group (parameter 0 [2])");
  EXPECT_EQ(opt.param_groups().size(), 3u);
}

TEST(Optim, OptionsWrittenByNameApplyAtTheNextStep) {
  // the group's options map is the source of truth (as PyTorch's param_group dict): step() reads it every time
  Tensor a = tensor({1.f}).requires_grad_();
  optim::SGD opt(Params{a}, {.lr = 0.1});
  opt.param_groups()[0].options["lr"] = 0.5;
  opt.param_groups()[0].options["weight_decay"] = 1.0;
  sum(a * a).backward();  // grad 2a; with weight decay 2a + a
  opt.step();
  EXPECT_TRUE(all_close(a, tensor({-0.5f}), 1e-7, 0));
}

TEST(Optim, ZeroGradAndSkippedParams) {
  Tensor a = ones({3}).requires_grad_(), b = ones({2}).requires_grad_();
  optim::Adam opt(Params{a, b});
  sum(a * 2.0).backward();  // b gets no gradient
  uint64_t va = a.version(), vb = b.version();
  opt.step();
  EXPECT_GT(a.version(), va);  // updated in place
  EXPECT_EQ(b.version(), vb);  // skipped
  EXPECT_TRUE(all_close(b, ones({2}), 0, 0));
  EXPECT_EQ(opt.state(a).step, 1);
  EXPECT_TRUE(opt.state(b).buffers.empty());
  opt.zero_grad(false);
  EXPECT_TRUE(all_close(a.grad(), zeros({3}), 0, 0));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(Optim, StateDictRoundTrip) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  Tensor x = G("opt.x"), y = G("opt.y");
  auto train = [&](nn::Module& m, optim::Optimizer& opt, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      F::mse_loss(m(x), y).backward();
      opt.step();
    }
  };
  for (int kind = 0; kind < 3; ++kind) {
    auto make = [kind](Params p) -> std::unique_ptr<optim::Optimizer> {
      if (kind == 0) return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.05, .amsgrad = true});
      if (kind == 1) return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
      return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.momentum = 0.5, .centered = true});
    };
    auto a = golden_mlp(DType::f64);
    auto opt_a = make(a->parameters());
    train(*a, *opt_a, 3);
    nn::StateDict model_sd;
    for (auto& [k, v] : a->state_dict()) model_sd.emplace_back(k, v.clone());
    optim::OptimizerStateDict opt_sd = opt_a->state_dict();
    ASSERT_EQ(opt_sd.state.size(), 4u);
    EXPECT_EQ(opt_sd.state.at(0).step, 3);
    if (kind == 0) {
      EXPECT_EQ(opt_sd.state.at(2).buffers.size(), 3u);  // exp_avg, exp_avg_sq, max_exp_avg_sq
      EXPECT_EQ(opt_sd.state.at(2).buffers.at("exp_avg").shape(), (Shape{2, 4}));
    }
    train(*a, *opt_a, 2);
    auto b = golden_mlp(DType::f64);
    b->load_state_dict(model_sd);
    auto opt_b = make(b->parameters());
    opt_b->param_groups()[0].set_lr(123.0);  // overwritten by the load
    opt_b->load_state_dict(opt_sd);
    EXPECT_DOUBLE_EQ(opt_b->lr(), opt_a->lr());
    train(*b, *opt_b, 2);
    for (size_t i = 0; i < 4; ++i)
      EXPECT_TRUE(all_close(a->parameters()[i], b->parameters()[i], 0, 0)) << "kind " << kind << " param " << i;
  }
  auto m = golden_mlp(DType::f64);
  optim::SGD two({{{m->parameters()[0]}, {}}, {{m->parameters()[1]}, {}}});
  optim::SGD one(m->parameters());
  EXPECT_EQ(error_of([&] { one.load_state_dict(two.state_dict()); }),
            "SGD.load_state_dict: loaded state dict has 2 parameter groups, the optimizer has 1");
}

TEST(Optim, Errors) {
  Tensor p = zeros({2}).requires_grad_();
  EXPECT_EQ(error_of([&] { optim::SGD(Params{p}, {.lr = 0.1, .nesterov = true}); }),
            "SGD: Nesterov momentum requires a momentum and zero dampening (momentum=0, dampening=0)");
  EXPECT_EQ(error_of([&] { optim::Adam(Params{p}, {.lr = -1}); }),
            "Adam: invalid learning rate value: -1 (must be >= 0)");
  EXPECT_EQ(error_of([&] { optim::AdamW(Params{p}, {.beta2 = 1.0}); }),
            "AdamW: invalid beta2 value: 1 (must be in [0, 1))");
  EXPECT_EQ(error_of([&] {
              optim::SGD(Params{p, p});
            }),
            "optimizer: some parameters appear in more than one parameter group (parameter 1 [2])");
  EXPECT_EQ(error_of([&] { optim::SGD(Params{}); }), "optimizer: got an empty parameter list");
  Tensor nonleaf = p * 2.0;
  EXPECT_EQ(error_of([&] { optim::SGD(Params{nonleaf}); }),
            "optimizer: can't optimize a non-leaf tensor (parameter 0 [2]); pass the leaves, e.g. model->parameters()");
  EXPECT_EQ(error_of([&] {
              optim::SGD({{{p}, {{"betas", 0.9}}}});
            }),
            "optimizer: unknown option 'betas' in a parameter group");
  optim::SGD ok(Params{p});
  p.set_grad(zeros({3}));
  EXPECT_EQ(error_of([&] { ok.step(); }), "SGD.step: gradient [3] f32 does not match parameter [2] f32");
}

TEST(ClipGrad, MatchesPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  for (auto [tag, norm_type] : {std::pair<std::string, double>{"l2", 2.0}, {"inf", INFINITY}, {"l1", 1.0}}) {
    auto m = golden_mlp(DType::f64);
    F::mse_loss((*m)(G("opt.x")), G("opt.y") * 10.0).backward();
    double total = optim::clip_grad_norm_(m->parameters(), 0.5, norm_type);
    EXPECT_NEAR(total, G("clip." + tag + ".total").item<double>(), 1e-12 * total) << tag;
    for (auto& [k, p] : m->named_parameters())
      EXPECT_TRUE(all_close(p.grad(), G("clip." + tag + ".grad." + k), 1e-13, 1e-10)) << tag << " " << k;
  }
  Tensor p = zeros({4}).requires_grad_();
  p.set_grad(tensor({0.3f, -2.f, 5.f, -0.1f}));
  EXPECT_NEAR(optim::clip_grad_norm_({p}, 100.0), std::sqrt(0.09 + 4 + 25 + 0.01), 1e-5);
  EXPECT_TRUE(all_close(p.grad(), tensor({0.3f, -2.f, 5.f, -0.1f}), 0, 0));  // below max_norm: untouched
  optim::clip_grad_value_({p}, 1.0);
  EXPECT_TRUE(all_close(p.grad(), tensor({0.3f, -1.f, 1.f, -0.1f}), 0, 0));
  p.set_grad(tensor({INFINITY, 1.f, 0.f, 0.f}));
  EXPECT_NE(error_of([&] { optim::clip_grad_norm_({p}, 1.0, 2.0, true); }), "");
}

// step(closure): the closure runs with gradients on (even under NoGradGuard), the update equals the plain
// zero_grad / backward / step sequence, and the closure's loss is returned.
TEST(Optim, StepWithClosure) {
  manual_seed(2);
  Tensor x = randn({8, 3}), y = randn({8, 1});
  Tensor wa = randn({1, 3}).requires_grad_(), wb = wa.detach().clone().requires_grad_();
  optim::Adam a({wa}, {.lr = 0.1}), b({wb}, {.lr = 0.1});
  for (int i = 0; i < 3; ++i) {
    Tensor la;
    {
      NoGradGuard g;
      la = a.step([&] {
        a.zero_grad();
        Tensor l = mean((matmul(x, wa.t()) - y) * (matmul(x, wa.t()) - y));
        l.backward();
        return l;
      });
    }
    b.zero_grad();
    Tensor lb = mean((matmul(x, wb.t()) - y) * (matmul(x, wb.t()) - y));
    lb.backward();
    b.step();
    EXPECT_EQ(la.item<float>(), lb.item<float>());
    EXPECT_EQ(max(abs(wa - wb)).item<float>(), 0.0f);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_THROW(a.step(std::function<Tensor()>()), Error);
}
