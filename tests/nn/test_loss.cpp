// Losses: PyTorch goldens (forward and input gradients for every reduction, ignore_index, weights,
// label_smoothing), gradcheck in f64, fused cross_entropy == log_softmax + nll, Keras losses, error messages.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/loss.h>

#include <cmath>
#include <functional>

#include "golden/golden_reader.h"

using namespace nerve;
using nerve::testing::all_close;
using nerve::testing::error_of;
using nn::Reduction;

namespace {

using LossFn = std::function<Tensor(const Tensor& x, Reduction r)>;
const std::vector<Reduction> kAll{Reduction::none, Reduction::mean, Reduction::sum};

// golden case `prefix`: input prefix.x; per reduction r, prefix.r.out and prefix.r.gx (upstream prefix.none.up)
void check_case(const std::string& prefix, const LossFn& fn, const std::vector<Reduction>& rs = kAll,
                double tol = 1e-11) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  for (Reduction r : rs) {
    std::string name = prefix + "." + nn::reduction_name(r);
    Tensor x = G(prefix + ".x").requires_grad_();
    Tensor out = fn(x, r);
    Tensor up = r == Reduction::none ? G(prefix + ".none.up") : ones({}, DType::f64);
    sum(out * up).backward();
    EXPECT_TRUE(all_close(out, G(name + ".out"), tol, tol)) << name;
    EXPECT_TRUE(all_close(x.grad(), G(name + ".gx"), tol, tol)) << name << " grad";
  }
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> in,
                      const std::string& what) {
  auto res = gradcheck(f, std::move(in));
  EXPECT_TRUE(res.ok) << what << ": " << res.message;
}

Tensor G(const std::string& name) { return nerve::golden::tensors_of("golden/nn_golden.txt")(name); }

}  // namespace

TEST(LossGolden, Regression) {
  Tensor t = G("reg.t");
  check_case("mse", [&](const Tensor& x, Reduction r) { return F::mse_loss(x, t, r); });
  check_case("l1", [&](const Tensor& x, Reduction r) { return F::l1_loss(x, t, r); });
  check_case("huber1", [&](const Tensor& x, Reduction r) { return F::huber_loss(x, t, r, 1.0); });
  check_case("huber05", [&](const Tensor& x, Reduction r) { return F::huber_loss(x, t, r, 0.5); });
}

TEST(LossGolden, Binary) {
  Tensor t = G("bce.t"), w = G("bce.w");
  check_case("bce", [&](const Tensor& x, Reduction r) { return F::binary_cross_entropy(x, t, {}, r); });
  check_case("bcew", [&](const Tensor& x, Reduction r) { return F::binary_cross_entropy(x, t, w, r); });
  // p = 0, 1, 1e-50: logs clamped at -100, gradient denominators at 1e-12, as PyTorch
  Tensor te = G("bce_edge.t");
  check_case("bce_edge", [&](const Tensor& x, Reduction r) { return F::binary_cross_entropy(x, te, {}, r); },
             {Reduction::none});
  check_case("bcel",
             [&](const Tensor& x, Reduction r) { return F::binary_cross_entropy_with_logits(x, G("bcel.t"), {}, r); });
  check_case("bcelw", [&](const Tensor& x, Reduction r) {
    return F::binary_cross_entropy_with_logits(x, G("bcel.t"), G("bcel.w"), r);
  });
  // pos_weight (one per class, broadcast over the rows), alone and with weight; the module form too
  check_case("bcelp", [&](const Tensor& x, Reduction r) {
    return F::binary_cross_entropy_with_logits(x, G("bcelp.t"), {}, r, G("bcelp.pw"));
  });
  check_case("bcelpw", [&](const Tensor& x, Reduction r) {
    return F::binary_cross_entropy_with_logits(x, G("bcelp.t"), G("bcel.w2"), r, G("bcelp.pw"));
  });
  // logits of exactly 0: the gradient is (1 - t) - (1 + (p - 1) t) / 2 there (x = 0, t = 1, p = 2: -1)
  check_case("bcelp0", [&](const Tensor& x, Reduction r) {
    return F::binary_cross_entropy_with_logits(x, G("bcelp0.t"), {}, r, G("bcelp0.pw"));
  });
  nn::BCEWithLogitsLoss mod(Tensor(), Reduction::mean, G("bcelp.pw"));
  EXPECT_TRUE(all_close(mod(G("bcelp.x"), G("bcelp.t")), G("bcelp.mean.out"), 1e-11, 1e-11));
  EXPECT_NE(error_of([&] { F::binary_cross_entropy_with_logits(G("bcelp.x"), G("bcelp.t"), {}, Reduction::mean,
                                                               ones({4}, DType::f64)); })
                .find("pos_weight [4] does not broadcast to input [4, 3]"),
            std::string::npos);
}

TEST(LossGolden, NllLoss) {
  Tensor y = G("cls.labels"), yi = G("cls.labels_ign"), w = G("cls.w");
  check_case("nll", [&](const Tensor& x, Reduction r) { return F::nll_loss(x, y, {.reduction = r}); });
  check_case("nll_ign_w",
             [&](const Tensor& x, Reduction r) { return F::nll_loss(x, yi, {.weight = w, .reduction = r}); });
  check_case("nll_ign1",
             [&](const Tensor& x, Reduction r) { return F::nll_loss(x, y, {.ignore_index = 1, .reduction = r}); });
  check_case("nll3", [&](const Tensor& x, Reduction r) { return F::nll_loss(x, G("ce3.labels"), {.reduction = r}); });
}

TEST(LossGolden, CrossEntropy) {
  Tensor y = G("cls.labels"), yi = G("cls.labels_ign"), w = G("cls.w");
  check_case("ce", [&](const Tensor& x, Reduction r) { return F::cross_entropy(x, y, {.reduction = r}); });
  check_case("ce_ign_w",
             [&](const Tensor& x, Reduction r) { return F::cross_entropy(x, yi, {.weight = w, .reduction = r}); });
  check_case("ce_ls", [&](const Tensor& x, Reduction r) {
    return F::cross_entropy(x, yi, {.reduction = r, .label_smoothing = 0.1});
  });
  check_case("ce_ls_w", [&](const Tensor& x, Reduction r) {
    return F::cross_entropy(x, yi, {.weight = w, .reduction = r, .label_smoothing = 0.2});
  });
  check_case("ce3", [&](const Tensor& x, Reduction r) {  // (N, C, d): class dim 1
    return F::cross_entropy(x, G("ce3.labels"), {.reduction = r, .label_smoothing = 0.1});
  });
  check_case("ce_prob", [&](const Tensor& x, Reduction r) {  // class-probability targets
    return F::cross_entropy(x, G("ce_prob.t"), {.reduction = r, .label_smoothing = 0.2});
  });
  check_case("ce_1d",
             [&](const Tensor& x, Reduction r) { return F::cross_entropy(x, y.select(0, 0), {.reduction = r}); },
             {Reduction::none, Reduction::mean});
}

TEST(LossGolden, CrossEntropyF32) {
  // the f32 kernel against the same PyTorch (f64) values
  Tensor yi = G("cls.labels_ign"), w = G("cls.w").to(DType::f32);
  for (Reduction r : kAll) {
    Tensor x = G("ce_ls_w.x").to(DType::f32).requires_grad_();
    Tensor out = F::cross_entropy(x, yi, {.weight = w, .reduction = r, .label_smoothing = 0.2});
    Tensor up = r == Reduction::none ? G("ce_ls_w.none.up").to(DType::f32) : ones({});
    sum(out * up).backward();
    std::string name = std::string("ce_ls_w.") + nn::reduction_name(r);
    EXPECT_TRUE(all_close(out, G(name + ".out"), 1e-5, 1e-5)) << name;
    EXPECT_TRUE(all_close(x.grad(), G(name + ".gx"), 1e-6, 1e-5)) << name;
  }
}

TEST(LossGolden, Keras) {
  check_case(
      "k_scce",
      [&](const Tensor& x, Reduction r) { return F::sparse_categorical_crossentropy(x, G("k.labels"), false, r); },
      {Reduction::none, Reduction::mean});
  check_case("k_cce",
             [&](const Tensor& x, Reduction r) { return F::categorical_crossentropy(x, G("k.onehot"), false, 0.0, r); },
             {Reduction::none, Reduction::mean});
  check_case("k_bce", [&](const Tensor& x, Reduction r) { return F::binary_crossentropy(x, G("k_bce.t"), false, r); },
             {Reduction::none, Reduction::mean});
  check_case("k_mse", [&](const Tensor& x, Reduction r) { return F::mean_squared_error(x, G("k_mse.t"), r); },
             {Reduction::none, Reduction::mean});
}

TEST(LossGradcheck, EveryLoss) {
  manual_seed(11);
  auto d = DType::f64;
  Tensor x = randn({3, 4}, d), t = randn({3, 4}, d);
  Tensor p = uniform({3, 4}, 0.05, 0.95, d), pt = rand({3, 4}, d), w4 = uniform({4}, 0.5, 1.5, d);
  for (Reduction r : kAll) {
    std::string rn = nn::reduction_name(r);
    expect_gradcheck([r](auto& in) { return F::mse_loss(in[0], in[1], r); }, {x, t}, "mse " + rn);
    expect_gradcheck([r](auto& in) { return F::l1_loss(in[0], in[1], r); }, {x, t}, "l1 " + rn);
    expect_gradcheck([r](auto& in) { return F::huber_loss(in[0], in[1], r, 0.7); }, {x, t}, "huber " + rn);
    expect_gradcheck([r, w4](auto& in) { return F::binary_cross_entropy(in[0], in[1], w4, r); }, {p, pt}, "bce " + rn);
    expect_gradcheck(
        [r, w4](auto& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], w4, r, in[2]); },
        {x, pt, (rand({x.size(-1)}, DType::f64) * 2 + 0.5)}, "bce_logits pos_weight " + rn);
    expect_gradcheck([r, w4](auto& in) { return F::binary_cross_entropy_with_logits(in[0], in[1], w4, r); }, {x, pt},
                     "bce_logits " + rn);
  }
  Tensor logits = randn({5, 4}, d), y = from_vector<int64_t>({0, 3, -100, 2, 3}, {5});
  Tensor logits3 = randn({2, 4, 3}, d), y3 = from_vector<int64_t>({0, 1, 3, 2, -100, 1}, {2, 3});
  for (Reduction r : kAll) {
    std::string rn = nn::reduction_name(r);
    expect_gradcheck([&](auto& in) { return F::cross_entropy(in[0], y, {.reduction = r}); }, {logits}, "ce " + rn);
    expect_gradcheck(
        [&](auto& in) { return F::cross_entropy(in[0], y, {.weight = w4, .reduction = r, .label_smoothing = 0.3}); },
        {logits}, "ce smoothing weight " + rn);
    expect_gradcheck([&](auto& in) { return F::cross_entropy(in[0], y3, {.reduction = r, .label_smoothing = 0.1}); },
                     {logits3}, "ce 3-d " + rn);
    expect_gradcheck([&](auto& in) { return F::cross_entropy(in[0], in[1], {.reduction = r, .label_smoothing = 0.1}); },
                     {logits, softmax(randn({5, 4}, d), 1)}, "ce probabilities " + rn);
    expect_gradcheck([&](auto& in) { return F::nll_loss(in[0], y, {.weight = w4, .reduction = r}); }, {logits},
                     "nll " + rn);
    expect_gradcheck([&](auto& in) { return F::nll_loss(in[0], y3, {.reduction = r}); }, {logits3}, "nll 3-d " + rn);
  }
  Tensor probs = uniform({5, 4}, 0.05, 1.0, d), labels = from_vector<int64_t>({0, 3, 1, 2, 3}, {5});
  Tensor onehot = one_hot(labels, 4).to(d);
  for (Reduction r : {Reduction::none, Reduction::mean}) {
    std::string rn = nn::reduction_name(r);
    expect_gradcheck([&](auto& in) { return F::sparse_categorical_crossentropy(in[0], labels, false, r); }, {probs},
                     "scce " + rn);
    expect_gradcheck([&](auto& in) { return F::sparse_categorical_crossentropy(in[0], labels, true, r); }, {logits},
                     "scce logits " + rn);
    expect_gradcheck([&](auto& in) { return F::categorical_crossentropy(in[0], onehot, false, 0.1, r); }, {probs},
                     "cce " + rn);
    expect_gradcheck([&](auto& in) { return F::categorical_crossentropy(in[0], onehot, true, 0.0, r); }, {logits},
                     "cce logits " + rn);
    expect_gradcheck([&](auto& in) { return F::binary_crossentropy(in[0], in[1], false, r); }, {p, pt}, "kbce " + rn);
    expect_gradcheck([&](auto& in) { return F::binary_crossentropy(in[0], in[1], true, r); }, {x, pt},
                     "kbce logits " + rn);
    expect_gradcheck([&](auto& in) { return F::mean_squared_error(in[0], in[1], r); }, {x, t}, "kmse " + rn);
  }
}

namespace {
// The unfused reference: (1 - eps) nll(log_softmax(x)) + eps / C * smoothing term (PyTorch's definition)
Tensor composite_ce(const Tensor& x, const Tensor& t, const Tensor& w, int64_t ignore, double eps, Reduction r) {
  Tensor logp = log_softmax(x, 1);
  Tensor nll = F::nll_loss(logp, t, {.weight = w, .ignore_index = ignore, .reduction = r});
  if (eps == 0) return nll;
  int64_t C = x.size(1);
  Tensor mask = ne(t, full(t.shape(), static_cast<double>(ignore), DType::i64)).to(x.dtype());
  Tensor smooth = -sum(w.defined() ? logp * w : logp, {1}) * mask;
  Tensor wt =
      w.defined() ? index_select(w, 0, where(mask > zeros({}, x.dtype()), t, zeros({}, DType::i64))) * mask : mask;
  Tensor red = r == Reduction::none ? smooth : r == Reduction::sum ? sum(smooth) : sum(smooth) / sum(wt);
  return nll * (1 - eps) + red * (eps / static_cast<double>(C));
}
}  // namespace

TEST(CrossEntropy, FusedEqualsComposite) {
  manual_seed(21);
  for (DType d : {DType::f64, DType::f32}) {
    double tol = d == DType::f64 ? 1e-12 : 2e-6;
    Tensor base = randn({7, 6}, d) * 3.0;
    Tensor t = from_vector<int64_t>({5, 0, 3, 3, 1, 5, 2}, {7});
    t.data<int64_t>()[4] = 3;
    for (int64_t ignore : {-100L, 3L})
      for (bool weighted : {false, true})
        for (double eps : {0.0, 0.15})
          for (Reduction r : kAll) {
            Tensor w = weighted ? uniform({6}, 0.5, 2.0, d) : Tensor();
            Tensor a = base.clone().requires_grad_(), b = base.clone().requires_grad_();
            Tensor fused =
                F::cross_entropy(a, t, {.weight = w, .ignore_index = ignore, .reduction = r, .label_smoothing = eps});
            Tensor ref = composite_ce(b, t, w, ignore, eps, r);
            Tensor up = randn(fused.shape(), d);
            sum(fused * up).backward();
            sum(ref * up).backward();
            std::string what = std::string(dtype_name(d)) + " ignore=" + std::to_string(ignore) +
                               " weighted=" + std::to_string(weighted) + " eps=" + std::to_string(eps) + " " +
                               nn::reduction_name(r);
            EXPECT_TRUE(all_close(fused, ref, tol, tol)) << what;
            EXPECT_TRUE(all_close(a.grad(), b.grad(), tol, tol)) << what;
            EXPECT_EQ(std::string(fused.grad_fn()->name()), "CrossEntropyLossBackward") << what;
          }
  }
}

TEST(KerasLoss, FiniteAtExtremeLogits) {
  Tensor logits = tensor({{1e4f, -1e4f, 0.f}, {-1e4f, 1e4f, -1e4f}}).requires_grad_();
  Tensor labels = from_vector<int64_t>({1, 0}, {2});  // the wrong classes: the largest possible loss
  Tensor probs = softmax(logits, 1);
  Tensor l = F::sparse_categorical_crossentropy(probs, labels);
  EXPECT_NEAR(l.item<float>(), -std::log(1e-7), 1e-3);  // clipped at eps = 1e-7, as Keras
  l.backward();
  for (float g : logits.grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(g));
  logits.set_grad(Tensor());
  Tensor lf = F::sparse_categorical_crossentropy_from_logits(logits, labels);
  EXPECT_FLOAT_EQ(lf.item<float>(), 2e4f);  // each row: lse - x[label] = 1e4 - (-1e4)
  lf.backward();
  auto g = logits.grad().to_vector<float>();
  for (float v : g) EXPECT_TRUE(std::isfinite(v));
  EXPECT_FLOAT_EQ(g[0], 0.5f);  // (p - onehot) / N
  EXPECT_FLOAT_EQ(g[1], -0.5f);
  Tensor onehot = one_hot(labels, 3).to(DType::f32);
  for (bool from_logits : {false, true}) {
    Tensor z = logits.detach().clone().requires_grad_();
    Tensor c = F::categorical_crossentropy(from_logits ? z : softmax(z, 1), onehot, from_logits);
    Tensor b = F::binary_crossentropy(from_logits ? z : sigmoid(z), full({2, 3}, 0.5), from_logits);
    (c + b).backward();
    EXPECT_TRUE(std::isfinite(c.item<float>()) && std::isfinite(b.item<float>()));
    for (float v : z.grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(KerasLoss, FromLogitsMatchesSoftmaxThenLoss) {
  // what a front end relies on when it fuses a final Softmax into the loss
  manual_seed(31);
  Tensor logits = randn({6, 5}, DType::f64), labels = from_vector<int64_t>({4, 0, 1, 1, 3, 2}, {6});
  Tensor a = F::sparse_categorical_crossentropy(softmax(logits, -1), labels);
  Tensor b = F::sparse_categorical_crossentropy_from_logits(logits, labels);
  EXPECT_TRUE(all_close(a, b, 1e-12, 1e-12));
  Tensor seq_logits = randn({2, 3, 5}, DType::f64), seq_labels = from_vector<int64_t>({0, 4, 2, 1, 1, 3}, {2, 3});
  Tensor c = F::sparse_categorical_crossentropy(softmax(seq_logits, -1), seq_labels, false, Reduction::none);
  Tensor e = F::sparse_categorical_crossentropy(seq_logits, seq_labels, true, Reduction::none);
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_TRUE(all_close(c, e, 1e-12, 1e-12));
}

TEST(LossModules, MatchFunctional) {
  manual_seed(41);
  Tensor x = randn({4, 3}), t = randn({4, 3}), y = from_vector<int64_t>({0, 2, 1, 1}, {4});
  Tensor p = sigmoid(x), pt = rand({4, 3});
  EXPECT_TRUE(all_close(nn::MSELoss()(x, t), F::mse_loss(x, t), 0, 0));
  EXPECT_TRUE(all_close(nn::L1Loss(Reduction::sum)(x, t), F::l1_loss(x, t, Reduction::sum), 0, 0));
  EXPECT_TRUE(all_close(nn::HuberLoss(Reduction::none, 0.5)(x, t), F::huber_loss(x, t, Reduction::none, 0.5), 0, 0));
  EXPECT_TRUE(all_close(nn::CrossEntropyLoss({.label_smoothing = 0.1})(x, y),
                        F::cross_entropy(x, y, {.label_smoothing = 0.1}), 0, 0));
  EXPECT_TRUE(all_close(nn::NLLLoss()(log_softmax(x, 1), y), F::cross_entropy(x, y), 1e-6, 0));
  EXPECT_TRUE(all_close(nn::BCELoss()(p, pt), F::binary_cross_entropy(p, pt), 0, 0));
  EXPECT_TRUE(all_close(nn::BCEWithLogitsLoss()(x, pt), F::binary_cross_entropy(p, pt), 1e-6, 1e-6));
  std::shared_ptr<nn::Loss> loss = std::make_shared<nn::CrossEntropyLoss>();
  EXPECT_EQ(loss->type_name(), "CrossEntropyLoss");
  EXPECT_TRUE(all_close((*loss)(x, y), F::cross_entropy(x, y), 0, 0));
}

TEST(LossErrors, Messages) {
  Tensor x = zeros({4, 5}), y = from_vector<int64_t>({0, 5, 1, 2}, {4});
  EXPECT_EQ(error_of([&] { F::cross_entropy(x, y); }),
            "cross_entropy: target 5 is out of bounds for 5 classes (input [4, 5] f32, target [4] i64); labels must "
            "be in [0, 5)");
  EXPECT_EQ(error_of([&] {
              F::nll_loss(x, from_vector<int64_t>({0, -3, 1, 2}, {4}));
            }),
            "nll_loss: target -3 is out of bounds for 5 classes (input [4, 5] f32, target [4] i64); labels must be in "
            "[0, 5)");
  EXPECT_EQ(error_of([&] {
              F::cross_entropy(x, zeros({4, 1}, DType::i64));
            }),
            "cross_entropy: target shape [4, 1] does not match input [4, 5]; expected class indices of shape [4] (the "
            "input's shape without the class dim 1), or class probabilities of shape [4, 5]");
  EXPECT_EQ(error_of([&] { F::cross_entropy(x, zeros({4}, DType::b8)); }),
            "cross_entropy: target must hold class indices (i64 or i32), got target [4] bool for input [4, 5] f32");
  EXPECT_EQ(error_of([&] {
              F::mse_loss(zeros({4, 1}), zeros({4}));
            }),
            "mse_loss: target shape [4] != input shape [4, 1] (input [4, 1] f32, target [4] f32); reshape the target "
            "to the input's shape");
  EXPECT_EQ(error_of([&] { F::binary_cross_entropy(zeros({4}), zeros({4}, DType::f64)); }),
            "binary_cross_entropy: target dtype f64 != input dtype f32 (input [4] f32, target [4] f64); convert with "
            "target.to(DType::f32)");
  EXPECT_EQ(error_of([&] {
              F::sparse_categorical_crossentropy(full({2, 3}, 0.3), from_vector<int64_t>({3, 0}, {2}));
            }),
            "sparse_categorical_crossentropy: target 3 is out of bounds for 3 classes (input [2, 3] f32, target [2] "
            "i64); labels must be in [0, 3)");
  EXPECT_NE(error_of([&] { F::cross_entropy(x, clamp(y, 0, 4), {.weight = ones({4})}); }), "");
  EXPECT_NE(error_of([&] {
              F::cross_entropy(x, from_vector<int64_t>({0, 1, 1, 2}, {4}), {.label_smoothing = 1.5});
            }),
            "");
  EXPECT_NE(error_of([&] { F::huber_loss(x, x, Reduction::mean, 0.0); }), "");
  // i32 labels are accepted
  EXPECT_TRUE(all_close(F::cross_entropy(x, from_vector<int32_t>({0, 4, 1, 2}, {4})),
                        F::cross_entropy(x, from_vector<int64_t>({0, 4, 1, 2}, {4})), 0, 0));
}

namespace {
bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.contiguous().to_vector<float>() == b.contiguous().to_vector<float>();
}

// f32 mean / sum of the pointwise losses are computed in one pass (no elementwise loss tensor): the value and the
// input and target gradients equal reduction of the elementwise loss, exactly, over several summation blocks
TEST(Loss, ReducedPointwiseLossesEqualTheElementwiseLossReduced) {
  manual_seed(21);
  Tensor x = rand({3, 7001}) * 0.98 + 0.01, t = rand({3, 7001});  // probabilities for BCE, any values otherwise
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&, Reduction)>>> losses = {
      {"mse", [](const Tensor& a, const Tensor& b, Reduction r) { return F::mse_loss(a, b, r); }},
      {"l1", [](const Tensor& a, const Tensor& b, Reduction r) { return F::l1_loss(a, b, r); }},
      {"huber", [](const Tensor& a, const Tensor& b, Reduction r) { return F::huber_loss(a, b, r, 0.3); }},
      {"bce", [](const Tensor& a, const Tensor& b, Reduction r) { return F::binary_cross_entropy(a, b, Tensor(), r); }},
      {"bce_logits",
       [](const Tensor& a, const Tensor& b, Reduction r) { return F::binary_cross_entropy_with_logits(a, b, Tensor(), r); }},
  };
  for (const auto& [name, f] : losses) {
    for (Reduction r : {Reduction::mean, Reduction::sum}) {
      Tensor xa = x.detach().requires_grad_(true), ta = t.detach().requires_grad_(true);
      Tensor xb = x.detach().requires_grad_(true), tb = t.detach().requires_grad_(true);
      Tensor fused = f(xa, ta, r);
      Tensor each = f(xb, tb, Reduction::none);
      Tensor reduced = r == Reduction::mean ? mean(each) : sum(each);
      EXPECT_EQ(fused.item<float>(), reduced.item<float>()) << name;
      fused.backward();
      reduced.backward();
      EXPECT_TRUE(same_values(xa.grad(), xb.grad())) << name;
      EXPECT_TRUE(same_values(ta.grad(), tb.grad())) << name;
    }
  }
}
}  // namespace
