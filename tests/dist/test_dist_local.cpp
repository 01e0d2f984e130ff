// nerve::dist without mpirun: a world of one where every collective is the identity and DDP and the Keras
// strategy change nothing; and the autograd hooks DDP hangs on (post-accumulate-grad hooks, end-of-backward
// callbacks). The multi-process tests are in tests/dist/mpi (run under mpirun, label mpi).
#include <gtest/gtest.h>

#include <vector>

#include "nerve/autograd/hooks.h"
#include "nerve/core/rng.h"
#include "nerve/dist/dist.h"
#include "nerve/keras/layers.h"
#include "nerve/keras/model.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/sequential.h"
#include "nerve/ops/loss.h"
#include "nerve/ops/ops.h"
#include "nerve/ops/random.h"
#include "nerve/optim/sgd.h"
#include "golden/golden_reader.h"

using namespace nerve;

namespace {
using nerve::testing::error_of;  // tests/golden/golden_reader.h
std::vector<double> values(const Tensor& t) { return t.contiguous().to(DType::f64).to_vector<double>(); }
}  // namespace

TEST(DistLocal, AWorldOfOne) {
  EXPECT_FALSE(dist::is_mpi());
  EXPECT_EQ(dist::world_size(), 1);
  EXPECT_EQ(dist::rank(), 0);
  EXPECT_EQ(dist::local_rank(), 0);
}

TEST(DistLocal, CollectivesAreTheIdentity) {
  for (DType d : {DType::f32, DType::f64, DType::i64}) {
    Tensor t = arange(0, 12, 1, d).reshape({3, 4});
    auto want = values(t);
    dist::all_reduce(t, dist::ReduceOp::sum);
    dist::all_reduce(t.t(), dist::ReduceOp::max);
    dist::broadcast(t, 0);
    EXPECT_EQ(values(t), want);
    Tensor g = dist::all_gather(t.t());
    EXPECT_EQ(g.shape(), (Shape{1, 4, 3}));
    EXPECT_EQ(values(g), values(t.t()));
    Tensor rs = dist::reduce_scatter(t, dist::ReduceOp::sum);
    EXPECT_EQ(values(rs), want);
    EXPECT_EQ(values(dist::all_gather(zeros({0}, d))).size(), 0u);
  }
  dist::Work w = dist::all_reduce_async(ones({2}), dist::ReduceOp::average);
  EXPECT_TRUE(w.test());
  w.wait();
  dist::barrier();
}

TEST(DistLocal, BadArguments) {
  EXPECT_NE(error_of([] { dist::all_reduce(zeros({2}, DType::i32), dist::ReduceOp::average); })
                .find("all_reduce: average needs a floating dtype, got i32"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::broadcast(zeros({2}), 1); }).find("broadcast: root 1 is not a rank of this world of 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::all_gather_async(zeros({2}), zeros({2})); })
                .find("all_gather: out must be a contiguous f32 tensor of shape [1, 2]"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::reduce_scatter(zeros({}, DType::f32)); }).find("first dim divisible"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::all_reduce(zeros({2}, DType::b8)); }).find("sum of bool is not supported"),
            std::string::npos);
  EXPECT_NE(error_of([] { dist::DistributedDataParallel(*std::make_shared<nn::Linear>(2, 2), {.bucket_cap_bytes = 0}); })
                .find("bucket_cap_bytes must be positive"),
            std::string::npos);
}

TEST(AutogradHooks, PostAccumulateSeesTheAccumulatedGrad) {
  Tensor w = tensor({1.f, 2.f}).requires_grad_();
  std::vector<std::vector<double>> seen;
  int64_t h = register_post_accumulate_grad_hook(w, [&](const Tensor& leaf) { seen.push_back(values(leaf.grad())); });
  (w * w).sum().backward();  // grad 2w = [2, 4]
  (w * 3.0).sum().backward();  // accumulates: [5, 7]
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::vector<double>{2, 4}));
  EXPECT_EQ(seen[1], (std::vector<double>{5, 7}));
  (w + w).sum().backward();  // w used twice: one accumulation, one call
  EXPECT_EQ(seen.size(), 3u);
  remove_post_accumulate_grad_hook(w, h);
  w.sum().backward();
  EXPECT_EQ(seen.size(), 3u);
  remove_post_accumulate_grad_hook(w, 12345);  // unknown: ignored
}

TEST(AutogradHooks, BackwardCallbackRunsAfterEveryHook) {
  Tensor a = tensor({1.f}).requires_grad_(), b = tensor({2.f}).requires_grad_();
  std::vector<std::string> order;
  bool queued = false;
  auto hook = [&](const char* name) {
    return [&, name](const Tensor&) {
      order.push_back(name);
      if (!queued) {
        queued = true;
        queue_backward_callback([&] { order.push_back("end"); });
      }
    };
  };
  register_post_accumulate_grad_hook(a, hook("a"));
  register_post_accumulate_grad_hook(b, hook("b"));
  (a * b).sum().backward();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order.back(), "end");
  EXPECT_NE(error_of([] { queue_backward_callback([] {}); }).find("no backward is running"), std::string::npos);
  EXPECT_NE(error_of([] { register_post_accumulate_grad_hook(tensor({1.f}), [](const Tensor&) {}); })
                .find("expected a leaf that requires grad"),
            std::string::npos);
}

TEST(DistLocal, DDPAndNoSyncChangeNothingAlone) {
  manual_seed(1);
  Tensor x = randn({8, 4}), y = randint(0, 3, {8});
  auto run = [&](bool wrap) {
    manual_seed(2);
    auto m = std::make_shared<nn::Linear>(4, 3);
    std::unique_ptr<dist::DistributedDataParallel> ddp;
    if (wrap) ddp = std::make_unique<dist::DistributedDataParallel>(*m);
    optim::SGD opt(m->parameters(), {.lr = 0.5});
    for (int s = 0; s < 3; ++s) {
      opt.zero_grad();
      if (ddp) {
        auto g = ddp->no_sync();
        cross_entropy((*m)(x), y, Tensor()).backward();
      } else {
        cross_entropy((*m)(x), y, Tensor()).backward();
      }
      cross_entropy((*m)(x), y, Tensor()).backward();
      opt.step();
    }
    if (ddp) {
      EXPECT_EQ(ddp->stats().syncs, 0);
    }
    return values(m->weight);
  };
  EXPECT_EQ(run(true), run(false));
}

TEST(DistLocal, FitWithTheStrategyAloneIsPlainFit) {
  manual_seed(3);
  Tensor x = randn({40, 6}), y = randint(0, 2, {40});
  auto fit = [&](bool strategy) {
    manual_seed(4);
    keras::Sequential m({keras::Dense(8, "relu"), keras::Dense(2, "softmax")});
    m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    keras::FitOptions o{.epochs = 2, .batch_size = 8, .verbose = 0};
    if (strategy) o.strategy = std::make_shared<dist::DataParallel>();
    auto h = m.fit(x, y, o);
    return std::make_pair(values(m.parameters()[0]), h.history["loss"]);
  };
  EXPECT_EQ(fit(true), fit(false));
}

TEST(DistLocal, SamplerIsThisRanksShare) {
  auto s = dist::sampler({.seed = 5});
  EXPECT_EQ(s->indices(10, 0), data::RandomSampler(5).indices(10, 0));  // a world of one: the whole permutation
}
