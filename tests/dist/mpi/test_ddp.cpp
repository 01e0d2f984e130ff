// DistributedDataParallel and the Keras strategy under mpirun: N ranks with batch 32 each reach the same weights
// as one process with batch 32 N (every rank also trains that single-process reference itself, without
// communication, and compares); no_sync; the wrap-time broadcast; mismatched models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <unistd.h>

#include "nerve/core/rng.h"
#include "nerve/dist/dist.h"
#include "nerve/keras/callbacks.h"
#include "nerve/keras/layers.h"
#include "nerve/keras/model.h"
#include "nerve/nn/activation.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/sequential.h"
#include "nerve/ops/loss.h"
#include "nerve/ops/ops.h"
#include "nerve/ops/random.h"
#include "nerve/optim/sgd.h"

using namespace nerve;

namespace {
constexpr int64_t kPerRank = 32, kSteps = 10;

std::shared_ptr<nn::Sequential> mlp(DType d, int64_t hidden = 32) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(20, hidden, true, d), std::make_shared<nn::Tanh>(),
      std::make_shared<nn::Linear>(hidden, 5, true, d)});
}

double max_abs_diff(nn::Module& a, nn::Module& b) {
  auto pa = a.parameters(), pb = b.parameters();
  double m = 0;
  for (size_t i = 0; i < pa.size(); ++i) m = std::max(m, (pa[i] - pb[i]).abs().max().to(DType::f64).item<double>());
  return m;
}

// trains `model` for kSteps SGD steps on rows [step * global + lo, + n) of (x, y)
void train(nn::Module& model, const Tensor& x, const Tensor& y, int64_t global, int64_t lo, int64_t n,
           int64_t micro = 1, dist::DistributedDataParallel* ddp = nullptr) {
  optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  for (int64_t s = 0; s < kSteps; ++s) {
    opt.zero_grad();
    int64_t m = n / micro;
    for (int64_t k = 0; k < micro; ++k) {  // gradient accumulation over micro-batches, synchronized on the last
      Tensor xb = narrow(x, 0, s * global + lo + k * m, m), yb = narrow(y, 0, s * global + lo + k * m, m);
      Tensor loss = cross_entropy(model.forward(xb), yb, Tensor()) * (1.0 / micro);
      if (ddp && k + 1 < micro) {
        auto guard = ddp->no_sync();
        loss.backward();
      } else {
        loss.backward();
      }
    }
    opt.step();
  }
}

void equivalence(DType d, double tol, dist::DDPOptions o, int64_t micro = 1) {
  int w = dist::world_size(), r = dist::rank();
  int64_t global = kPerRank * w;
  manual_seed(7);
  Tensor x = randn({global * kSteps, 20}, d), y = randint(0, 5, {global * kSteps});
  manual_seed(100 + r);  // different initial weights on every rank: the wrap broadcasts rank 0's
  auto model = mlp(d);
  manual_seed(100);
  auto reference = mlp(d);  // rank 0's initial weights
  dist::DistributedDataParallel ddp(*model, o);
  EXPECT_EQ(max_abs_diff(*model, *reference), 0.0) << "the wrap did not broadcast rank 0's parameters";
  train(*model, x, y, global, r * kPerRank, kPerRank, micro, &ddp);
  train(*reference, x, y, global, 0, global);  // one process, batch 32 N, no communication
  double diff = max_abs_diff(*model, *reference);
  EXPECT_LE(diff, tol) << dtype_name(d) << " rank " << r << " of " << w;
  if (r == 0) std::printf("[ equivalence ] %s, %d ranks: max |w_ddp - w_one| = %.3g (bound %.3g)\n", dtype_name(d), w, diff, tol);
  EXPECT_EQ(ddp.stats().syncs, kSteps);
  // and every rank holds the same weights, bit for bit
  for (const Tensor& p : model->parameters()) {
    Tensor all = dist::all_gather(p);
    for (int q = 1; q < w; ++q) ASSERT_EQ(all.select(0, q).to(DType::f64).contiguous().to_vector<double>(),
                                            all.select(0, 0).to(DType::f64).contiguous().to_vector<double>());
  }
}
}  // namespace

TEST(DistDDP, SameWeightsAsOneProcessF64) {
  // f64: the two sides differ only in the order of summing per-sample gradients (a batch of 64 against two means
  // of 32 averaged), a few ulps per step; 10 steps stay far below 1e-12
  equivalence(DType::f64, 1e-12, {});
}

TEST(DistDDP, SameWeightsAsOneProcessF32) {
  // f32: the same reordering costs a few ulps of f32 (6e-8 relative) per gradient; with lr 0.1, momentum 0.9
  // (a step sums at most 1/(1-0.9) = 10 gradients) and 10 steps, weights of size ~1 move by at most
  // 10 * 10 * 0.1 * |g| * few ulps ~ 1e-6 for |g| <= 1: bound 5e-6 (measured: 3e-8)
  equivalence(DType::f32, 5e-6, {});
}

TEST(DistDDP, SmallBucketsNoOverlapAndNoSync) {
  // many buckets (1 KB), all started after backward, and gradient accumulation over 2 micro-batches
  equivalence(DType::f64, 1e-12, {.bucket_cap_bytes = 1024});
  equivalence(DType::f64, 1e-12, {.bucket_cap_bytes = 1024, .overlap = false});
  equivalence(DType::f64, 1e-12, {}, 2);
}

TEST(DistDDP, OwnBucketsReduceInPlace) {
  // own_bucket_bytes 256: the two weights (2560 and 640 bytes) are all-reduced in place in their gradients, each in
  // a bucket of its own; the biases share flat buckets between them
  auto model = mlp(DType::f32);
  dist::DistributedDataParallel ddp(*model, {.own_bucket_bytes = 256});
  ASSERT_EQ(ddp.num_buckets(), 4);
  EXPECT_EQ(ddp.bucket_parameters(0), std::vector<std::string>{"2.bias"});
  EXPECT_EQ(ddp.bucket_parameters(1), std::vector<std::string>{"2.weight"});
  EXPECT_EQ(ddp.bucket_parameters(2), std::vector<std::string>{"0.bias"});
  EXPECT_EQ(ddp.bucket_parameters(3), std::vector<std::string>{"0.weight"});
  for (int64_t b = 0; b < 4; ++b) EXPECT_EQ(ddp.bucket_in_place(b), b % 2 == 1) << b;
  dist::DistributedDataParallel shared(*model, {.own_bucket_bytes = 0});
  EXPECT_EQ(shared.num_buckets(), 1);
  EXPECT_FALSE(shared.bucket_in_place(0));
  // the same weights as one process, with overlap, without, and with gradient accumulation
  equivalence(DType::f64, 1e-12, {.own_bucket_bytes = 256});
  equivalence(DType::f64, 1e-12, {.overlap = false, .own_bucket_bytes = 256});
  equivalence(DType::f64, 1e-12, {.own_bucket_bytes = 256}, 2);
}

TEST(DistDDP, OwnBucketsGiveTheSameGradientsBitForBit) {
  // 2 ranks: an element's sum is a + b whichever way the buckets are cut, so the averaged gradients are identical;
  // a parameter unused on every rank's backward gets zeros in its own bucket as in a shared one
  int r = dist::rank();
  manual_seed(9);
  Tensor x = randn({8, 20}), y = randint(0, 5, {8});
  std::vector<std::vector<float>> grads[2];
  for (int own : {0, 1}) {
    struct WithUnused : nn::Module {
      WithUnused() {
        a = register_module("a", std::make_shared<nn::Linear>(20, 32));
        b = register_module("b", std::make_shared<nn::Linear>(32, 5));
        extra = register_module("extra", std::make_shared<nn::Linear>(20, 4));  // never used in forward
      }
      Tensor forward(const Tensor& x) override { return b->forward(tanh(a->forward(x))); }
      std::shared_ptr<nn::Linear> a, b, extra;
    };
    manual_seed(5);
    WithUnused model;
    dist::DistributedDataParallel ddp(model, {.own_bucket_bytes = own ? 256 : 0});
    EXPECT_EQ(ddp.num_buckets(), own ? 6 : 1);
    Tensor xb = narrow(x, 0, 4 * (r % 2), 4), yb = narrow(y, 0, 4 * (r % 2), 4);
    cross_entropy(model.forward(xb), yb, Tensor()).backward();
    for (const Tensor& p : model.parameters()) {
      ASSERT_TRUE(p.grad().defined());
      grads[own].push_back(p.grad().contiguous().to_vector<float>());
    }
    EXPECT_EQ(model.extra->weight.grad().abs().max().item<float>(), 0.0f);
  }
  if (dist::world_size() == 2) {
    EXPECT_EQ(grads[0], grads[1]);
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i)
    for (size_t j = 0; j < grads[0][i].size(); ++j) ASSERT_NEAR(grads[0][i][j], grads[1][i][j], 1e-6);
}

TEST(DistDDP, OverlapStartsBucketsDuringBackward) {
  // 4 parameters, 4 buckets (a 128-byte cap): with overlap every bucket's all-reduce starts from a gradient hook, while
  // backward still runs (the first one before the other gradients exist); without, all start after backward
  for (bool overlap : {true, false}) {
    manual_seed(5);
    auto model = mlp(DType::f32);
    dist::DistributedDataParallel ddp(*model, {.bucket_cap_bytes = 128, .overlap = overlap});
    ASSERT_EQ(ddp.num_buckets(), 4);
    Tensor x = randn({8, 20}), y = randint(0, 5, {8});
    for (int s = 0; s < 3; ++s) cross_entropy(model->forward(x), y, Tensor()).backward();
    EXPECT_EQ(ddp.stats().buckets_in_backward, overlap ? 12 : 0);
    EXPECT_EQ(ddp.stats().buckets_after_backward, overlap ? 0 : 12);
  }
}

TEST(DistDDP, BucketsFollowTheCap) {
  auto model = mlp(DType::f32);
  dist::DistributedDataParallel one(*model);
  EXPECT_EQ(one.num_buckets(), 1);
  EXPECT_EQ(one.bucket_parameters(0).front(), "2.bias");  // backward reaches the last layer first
  dist::DistributedDataParallel many(*model, {.bucket_cap_bytes = 4 * 32});
  EXPECT_EQ(many.num_buckets(), 4);  // every parameter is over 128 bytes
}

TEST(DistDDP, MismatchedModelsFailAtWrapOnEveryRank) {
  int w = dist::world_size();
  auto model = mlp(DType::f32, dist::rank() == w - 1 ? 33 : 32);  // the last rank has a wider hidden layer
  try {
    dist::DistributedDataParallel ddp(*model);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("the models differ across ranks: rank " + std::to_string(w - 1) + " has parameter 0 ('0.weight') "
                     "[33, 20] f32 where rank 0 has [32, 20] f32"),
              std::string::npos)
        << m;
  }
  // a missing parameter
  auto nobias = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(20, 5, dist::rank() != w - 1)});
  try {
    dist::DistributedDataParallel ddp(*nobias);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(w - 1) + " has parameter 1 ('0.bias') no such parameter "
                                         "where rank 0 has [5] f32"),
              std::string::npos)
        << e.what();
  }
}

TEST(DistKeras, FitDataParallelMatchesOneProcess) {
  int w = dist::world_size();
  manual_seed(3);
  Tensor x = randn({64 * w, 10}), y = randint(0, 3, {64 * w});
  auto make = [] {
    manual_seed(11);
    auto m = std::make_unique<keras::Sequential>(
        std::vector<keras::LayerPtr>{keras::Dense(16, "relu"), keras::Dense(3, "softmax")});
    m->compile(keras::SGD(0.1), "sparse_categorical_crossentropy", {"accuracy"});
    m->build({10});
    return m;
  };
  auto dp = make(), one = make();
  auto strategy = std::make_shared<dist::DataParallel>();
  // shuffle off: rank r takes samples r, r + N, ..., so step s of the N ranks covers the 16 N samples of step s of
  // one process with batch 16 N
  // a CSVLogger on every rank: rank 0's alone writes (files are rank 0's business)
  std::string csv = "/tmp/nerve_dist_test_" + std::to_string(getppid()) + "_rank" + std::to_string(dist::rank()) + ".csv";
  std::filesystem::remove(csv);
  auto h = dp->fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0, .shuffle = false,
                          .callbacks = {keras::CSVLogger(csv)}, .strategy = strategy});
  EXPECT_EQ(std::filesystem::exists(csv), dist::rank() == 0);
  std::filesystem::remove(csv);
  auto h1 = one->fit(x, y, {.epochs = 2, .batch_size = 16 * w, .verbose = 0, .shuffle = false});
  EXPECT_LE(max_abs_diff(*dp, *one), 2e-5);
  for (int e = 0; e < 2; ++e) {  // the logged loss and accuracy are over all ranks' samples
    EXPECT_NEAR(h.history["loss"][e], h1.history["loss"][e], 1e-5);
    EXPECT_NEAR(h.history["accuracy"][e], h1.history["accuracy"][e], 1e-9);
  }
  EXPECT_EQ(strategy->stats().syncs, 2 * 4);
}

TEST(DistKeras, BackupAndRestoreResumesEveryRank) {
  // a data-parallel fit stopped by an error after epoch 1 and started again with BackupAndRestore ends where 2
  // epochs straight end: every rank restores rank 0's backup (weights, Adam, generator, shuffle seed)
  manual_seed(3);
  Tensor x = randn({48 * dist::world_size(), 10}), y = randint(0, 3, {48 * dist::world_size()});
  auto make = [] {
    manual_seed(12);
    auto m = std::make_unique<keras::Sequential>(
        std::vector<keras::LayerPtr>{keras::Dense(16, "relu"), keras::Dense(3, "softmax")});
    m->compile("adam", "sparse_categorical_crossentropy");
    return m;
  };
  std::string dir = "/tmp/nerve_dist_backup_" + std::to_string(getppid());
  std::filesystem::remove_all(dir);
  dist::barrier();
  auto strategy = std::make_shared<dist::DataParallel>();
  auto straight = make();
  straight->fit(x, y, {.epochs = 2, .batch_size = 8, .verbose = 0, .strategy = strategy});
  auto stopped = make();
  auto fail = keras::LambdaCallback({.on_epoch_end = [](int e, const keras::Logs&) {
    if (e == 0) throw Error("planted stop after epoch 1");
  }});
  EXPECT_THROW(stopped->fit(x, y, {.epochs = 2, .batch_size = 8, .verbose = 0,
                                   .callbacks = {keras::BackupAndRestore(dir), fail}, .strategy = strategy}),
               Error);
  dist::barrier();  // rank 0's backup is written before any rank reads it
  auto resumed = make();
  resumed->fit(x, y, {.epochs = 2, .batch_size = 8, .verbose = 0, .callbacks = {keras::BackupAndRestore(dir)},
                      .strategy = strategy});
  EXPECT_EQ(max_abs_diff(*resumed, *straight), 0.0);
  dist::barrier();
  std::filesystem::remove_all(dir);
}
