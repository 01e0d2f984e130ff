// Datasets, samplers and DataLoader: batch shapes, drop_last, seeded per-epoch shuffling, prefetch equivalence,
// bounded prefetch, early break, exceptions from the worker, u8 -> f32 conversion.
#include <gtest/gtest.h>
#include <nerve/core/rng.h>
#include <nerve/data/dataloader.h>
#include <nerve/ops/ops.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <optional>
#include <set>
#include <thread>

#include "data/test_util.h"

using namespace nerve;
using namespace nerve::data;
using nerve::test::error_of;

namespace {

// x: (n, 3) f32 with row i = [i, i + 0.5, -i]; y: (n) i64 = i.
TensorDataset make_dataset(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    x.insert(x.end(), {float(i), float(i) + 0.5f, -float(i)});
    y.push_back(i);
  }
  return TensorDataset(from_vector(x, {n, 3}), from_vector(y));
}

std::vector<std::vector<int64_t>> epoch_targets(DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (auto& batch : loader) out.push_back(batch.target.to_vector<int64_t>());
  return out;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& v) {
  std::vector<int64_t> f;
  for (auto& b : v) f.insert(f.end(), b.begin(), b.end());
  return f;
}

// Examples whose get() counts calls, optionally sleeps, and throws at index `bad`.
class ProbeDataset : public Dataset {
 public:
  ProbeDataset(int64_t n, int64_t bad = -1) : n_(n), bad_(bad) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    ++*calls;
    NERVE_CHECK(i != bad_, "ProbeDataset: example ", i, " is broken");
    return {full({2}, double(i)), scalar_tensor(double(i * i), DType::i64)};
  }
  std::shared_ptr<std::atomic<int64_t>> calls = std::make_shared<std::atomic<int64_t>>(0);

 private:
  int64_t n_, bad_;
};

}  // namespace

TEST(TensorDataset, GetAndBatchAgree) {
  TensorDataset ds = make_dataset(7);
  EXPECT_EQ(ds.size(), 7);
  Example e = ds.get(4);
  EXPECT_EQ(e.data.to_vector<float>(), (std::vector<float>{4, 4.5f, -4}));
  EXPECT_EQ(e.target.item<int64_t>(), 4);
  Example b = ds.get_batch({6, 0, 4, 4});
  EXPECT_EQ(b.data.shape(), (Shape{4, 3}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{6, 0, 4, 4}));
  EXPECT_EQ(b.data.select(0, 2).to_vector<float>(), e.data.to_vector<float>());
  std::string msg = error_of([&] { ds.get_batch({1, 7}); });
  EXPECT_NE(msg.find("TensorDataset: index 7 (batch position 1) is out of range for 7 examples"), std::string::npos)
      << msg;
  msg = error_of([&] { TensorDataset(zeros({5, 2}), zeros({4})); });
  EXPECT_NE(msg.find("x has 5 rows ([5, 2] f32) but y has shape [4] f32"), std::string::npos) << msg;
}

TEST(TensorDataset, KeepsU8AndConvertsBatches) {
  Tensor images = from_vector<uint8_t>({0, 51, 255, 102, 7, 8, 9, 10}, {4, 2});
  TensorDataset ds(images, arange(4), {.u8_to_float = true});
  EXPECT_EQ(ds.x().dtype(), DType::u8);  // memory stays compact
  Example b = ds.get_batch({0, 1});
  EXPECT_EQ(b.data.dtype(), DType::f32);
  EXPECT_EQ(b.data.to_vector<float>(), (std::vector<float>{0.f, 51 / 255.f, 1.f, 102 / 255.f}));
  EXPECT_EQ(ds.get(1).data.to_vector<float>(), (std::vector<float>{1.f, 102 / 255.f}));
  TensorDataset raw(images, arange(4));
  EXPECT_EQ(raw.get_batch({3}).data.dtype(), DType::u8);
  EXPECT_EQ(raw.get_batch({3}).data.to_vector<uint8_t>(), (std::vector<uint8_t>{9, 10}));
  EXPECT_EQ(u8_to_unit_float(images).to_vector<float>()[2], 1.f);
}

TEST(Dataset, DefaultBatchStacksAndTransform) {
  auto probe = std::make_shared<ProbeDataset>(5);
  Example b = probe->get_batch({3, 1});
  EXPECT_EQ(b.data.shape(), (Shape{2, 2}));
  EXPECT_EQ(b.data.to_vector<float>(), (std::vector<float>{3, 3, 1, 1}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{9, 1}));
  TransformDataset doubled(probe, [](Example e) {
    e.data = e.data * 2.0;
    return e;
  });
  EXPECT_EQ(doubled.get_batch({2}).data.to_vector<float>(), (std::vector<float>{4, 4}));
  EXPECT_EQ(doubled.get(4).data.to_vector<float>(), (std::vector<float>{8, 8}));
}

TEST(DataLoader, BatchShapesAndDropLast) {
  DataLoader loader(make_dataset(10), {.batch_size = 4});
  EXPECT_EQ(loader.size(), 3);
  std::vector<Shape> shapes;
  for (auto& batch : loader) {
    shapes.push_back(batch.data.shape());
    EXPECT_EQ(batch.target.size(0), batch.data.size(0));
  }
  EXPECT_EQ(shapes, (std::vector<Shape>{{4, 3}, {4, 3}, {2, 3}}));
  EXPECT_EQ(flat(epoch_targets(loader)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  DataLoader dropping(make_dataset(10), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(dropping.size(), 2);
  auto batches = epoch_targets(dropping);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1], (std::vector<int64_t>{4, 5, 6, 7}));

  DataLoader exact(make_dataset(8), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(epoch_targets(exact).size(), 2u);
  DataLoader tiny(make_dataset(3), {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(tiny.size(), 0);
  EXPECT_TRUE(epoch_targets(tiny).empty());
  EXPECT_NE(error_of([] { DataLoader(make_dataset(3), {.batch_size = 0}); }).find("batch_size must be >= 1"),
            std::string::npos);
}

TEST(DataLoader, ShuffleIsSeededAndDiffersPerEpoch) {
  DataLoader a(make_dataset(50), {.batch_size = 8, .shuffle = true, .seed = 123});
  DataLoader b(make_dataset(50), {.batch_size = 8, .shuffle = true, .seed = 123, .prefetch = false});
  DataLoader c(make_dataset(50), {.batch_size = 8, .shuffle = true, .seed = 124});
  std::set<std::vector<int64_t>> orders;
  for (int epoch = 0; epoch < 3; ++epoch) {
    auto ea = epoch_targets(a), eb = epoch_targets(b), ec = epoch_targets(c);
    EXPECT_EQ(ea, eb) << "same seed and epoch must give the same batches, prefetch or not";
    EXPECT_NE(flat(ea), flat(ec)) << "different seeds";
    std::vector<int64_t> sorted = flat(ea);
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(50);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all) << "each epoch visits every example once";
    orders.insert(flat(ea));
  }
  EXPECT_EQ(orders.size(), 3u) << "each epoch has its own order";
  EXPECT_EQ(a.epoch(), 3);
  a.set_epoch(1);  // resuming replays epoch 1
  DataLoader d(make_dataset(50), {.batch_size = 8, .shuffle = true, .seed = 123});
  d.set_epoch(1);
  EXPECT_EQ(epoch_targets(a), epoch_targets(d));
}

TEST(DataLoader, UnsetSeedFollowsManualSeed) {
  manual_seed(7);
  DataLoader a(make_dataset(30), {.batch_size = 30, .shuffle = true});
  manual_seed(7);
  DataLoader b(make_dataset(30), {.batch_size = 30, .shuffle = true});
  EXPECT_EQ(epoch_targets(a), epoch_targets(b));
}

TEST(DataLoader, PrefetchGivesIdenticalBatches) {
  Tensor images = randint(0, 256, {37, 4, 4}).to(DType::u8);
  TensorDataset ds(images, randint(0, 10, {37}), {.u8_to_float = true});
  DataLoader on(ds, {.batch_size = 5, .shuffle = true, .seed = 9, .prefetch = true});
  DataLoader off(ds, {.batch_size = 5, .shuffle = true, .seed = 9, .prefetch = false});
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<Example> x, y;
    for (auto& batch : on) x.push_back(batch);
    for (auto& batch : off) y.push_back(batch);
    ASSERT_EQ(x.size(), 8u);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].data.to_vector<float>(), y[i].data.to_vector<float>());
      EXPECT_EQ(x[i].target.to_vector<int64_t>(), y[i].target.to_vector<int64_t>());
    }
  }
}

TEST(DataLoader, PrefetchRunsAheadButStaysBounded) {
  auto ds = std::make_shared<ProbeDataset>(100);
  DataLoader loader(ds, {.batch_size = 1});
  int64_t seen = 0;
  for (auto& batch : loader) {
    (void)batch;
    ++seen;
    // the worker fills the queue (kPrefetchDepth batches) while this step "trains"
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (*ds->calls < seen + DataLoader::kPrefetchDepth && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(*ds->calls, seen + DataLoader::kPrefetchDepth) << "ahead by the queue depth";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(*ds->calls, seen + DataLoader::kPrefetchDepth) << "and no further";
    if (seen == 3) break;
  }
}

TEST(DataLoader, EarlyBreakAndLoaderDestructionDoNotHang) {
  auto ds = std::make_shared<ProbeDataset>(1000);
  {
    DataLoader loader(ds, {.batch_size = 2, .shuffle = true, .seed = 1});
    for (int epoch = 0; epoch < 3; ++epoch) {
      int n = 0;
      for (auto& batch : loader) {
        EXPECT_EQ(batch.data.size(0), 2);
        if (++n == 2) break;
      }
      EXPECT_EQ(n, 2);
    }
    EXPECT_LE(*ds->calls, 3 * 2 * (2 + DataLoader::kPrefetchDepth));
  }
  // an iterator outlives its loader: it holds the dataset and its own worker
  std::optional<DataLoader::Iterator> it;
  {
    DataLoader loader(ds, {.batch_size = 400});
    it.emplace(loader.begin());
  }
  int batches = 0;
  for (; *it != DataLoader::Sentinel{}; ++*it) ++batches;
  EXPECT_EQ(batches, 3);
}

TEST(DataLoader, WorkerExceptionIsRethrownInOrder) {
  for (bool prefetch : {true, false}) {
    auto ds = std::make_shared<ProbeDataset>(20, /*bad=*/13);
    DataLoader loader(ds, {.batch_size = 4, .prefetch = prefetch});
    std::vector<int64_t> got;
    std::string msg = error_of([&] {
      for (auto& batch : loader) got.push_back(batch.data.select(1, 0).to(DType::i64).to_vector<int64_t>()[0]);
    });
    EXPECT_NE(msg.find("ProbeDataset: example 13 is broken"), std::string::npos) << msg;
    EXPECT_EQ(got, (std::vector<int64_t>{0, 4, 8})) << "the batches before the failing one arrive first";
    // the next epoch fails again the same way, and does not hang
    auto drain = [&] {
      for (auto& b : loader) (void)b;
    };
    EXPECT_NE(error_of(drain).find("example 13"), std::string::npos);
  }
}

TEST(Sampler, SequentialRandomAndPermutation) {
  EXPECT_EQ(SequentialSampler().indices(4, 7), (std::vector<int64_t>{0, 1, 2, 3}));
  RandomSampler s(5);
  EXPECT_EQ(s.indices(100, 2), s.indices(100, 2));
  EXPECT_NE(s.indices(100, 2), s.indices(100, 3));
  EXPECT_EQ(s.indices(100, 2), seeded_permutation(100, 5, 2));
  // pinned: the order must not change with the compiler, the standard library or a refactoring
  EXPECT_EQ(seeded_permutation(10, 5, 2), (std::vector<int64_t>{0, 7, 9, 3, 1, 2, 4, 5, 8, 6}));
  EXPECT_TRUE(s.indices(0, 0).empty());
  EXPECT_EQ(s.indices(1, 0), (std::vector<int64_t>{0}));
  // roughly uniform: where element 0 lands over many epochs
  std::vector<int> where(10, 0);
  for (int e = 0; e < 5000; ++e) {
    auto p = s.indices(10, e);
    where[std::find(p.begin(), p.end(), 0) - p.begin()]++;
  }
  for (int c : where) EXPECT_NEAR(c, 500, 100);
}

TEST(Sampler, DistributedRanksPartitionTheData) {
  const int64_t n = 10, world = 3;
  std::vector<int64_t> all;
  for (int64_t r = 0; r < world; ++r) {
    DistributedSampler s(r, world, {.seed = 4});
    EXPECT_EQ(s.num_samples(n), 4);
    auto idx = s.indices(n, 0);
    EXPECT_EQ(idx.size(), 4u);
    EXPECT_NE(idx, s.indices(n, 1));
    all.insert(all.end(), idx.begin(), idx.end());
  }
  std::set<int64_t> covered(all.begin(), all.end());
  EXPECT_EQ(covered.size(), 10u) << "every example is seen; 2 are repeated as padding";
  std::vector<int64_t> dropped;
  for (int64_t r = 0; r < world; ++r) {
    auto idx = DistributedSampler(r, world, {.shuffle = false, .drop_last = true}).indices(n, 0);
    dropped.insert(dropped.end(), idx.begin(), idx.end());
  }
  std::sort(dropped.begin(), dropped.end());
  EXPECT_EQ(dropped, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  DataLoader loader(make_dataset(n), {.batch_size = 3, .sampler = std::make_shared<DistributedSampler>(1, world)});
  EXPECT_EQ(loader.num_samples(), 4);
  EXPECT_EQ(loader.size(), 2);
  EXPECT_EQ(flat(epoch_targets(loader)).size(), 4u);
  EXPECT_NE(error_of([] { DistributedSampler(3, 3); }).find("rank 3 and world size 3 are invalid"), std::string::npos);
}
