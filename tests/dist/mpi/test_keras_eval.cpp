// Keras evaluation under the data-parallel strategy: evaluate and fit's validation_data split the samples over the
// ranks (rank r: rows [n r / N, n (r + 1) / N)) and add sums and counts, so the result is the single-process one
// for a set whose size the rank count does not divide. Each rank poisons the rows outside its shard (NaN inputs,
// wrong labels): a rank that evaluated rows of another would change the result (NaN loss, other accuracy).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nerve/core/rng.h"
#include "nerve/dist/dist.h"
#include "nerve/keras/layers.h"
#include "nerve/keras/model.h"
#include "nerve/ops/ops.h"
#include "nerve/ops/random.h"

using namespace nerve;

namespace {
constexpr int64_t kVal = 101;  // prime: 2 and 3 ranks get shards of different sizes (50/51, 33/34/34)

std::unique_ptr<keras::Sequential> classifier() {
  manual_seed(17);  // the same weights on every rank
  auto m = std::make_unique<keras::Sequential>(
      std::vector<keras::LayerPtr>{keras::Dense(16, "relu"), keras::Dense(3, "softmax")});
  m->compile(keras::SGD(0.1), "sparse_categorical_crossentropy", {"accuracy"});
  m->build({10});
  return m;
}

// x, y with the rows outside this rank's shard poisoned
std::pair<Tensor, Tensor> poisoned(const Tensor& x, const Tensor& y) {
  const int64_t w = dist::world_size(), r = dist::rank(), n = x.shape()[0];
  const int64_t lo = n * r / w, hi = n * (r + 1) / w;
  Tensor xp = x.clone(), yp = y.clone();
  auto xv = xp.to_vector<float>();
  auto yv = yp.to_vector<int64_t>();
  const int64_t d = x.numel() / n;
  for (int64_t i = 0; i < n; ++i) {
    if (i >= lo && i < hi) continue;
    for (int64_t j = 0; j < d; ++j) xv[i * d + j] = NAN;
    yv[i] = (yv[i] + 1) % 3;
  }
  return {from_vector<float>(xv).reshape(x.shape()), from_vector<int64_t>(yv)};
}
}  // namespace

TEST(DistKeras, EvaluateShardsSamplesAndSumsCounts) {
  manual_seed(4);
  Tensor x = randn({kVal, 10}), y = randint(0, 3, {kVal});
  auto model = classifier();
  keras::Evaluation one = model->evaluate(x, y, 16, 0);  // this process alone, every sample
  auto [xp, yp] = poisoned(x, y);
  auto strategy = std::make_shared<dist::DataParallel>();
  for (int64_t batch : {16, 7, 200}) {
    keras::Evaluation ev = model->evaluate(xp, yp, {.batch_size = batch, .verbose = 0, .strategy = strategy});
    // accuracy: a count of hits over the count of samples, the same integers: exact
    EXPECT_EQ(ev["accuracy"], one["accuracy"]) << "batch " << batch << " rank " << dist::rank();
    // loss: per-batch f32 means times their sizes, summed in f64; the batches start at other rows, so the f32
    // means round differently: a few ulps of a loss ~1 (1e-7 each): bound 1e-6
    EXPECT_NEAR(ev.loss, one.loss, 1e-6) << "batch " << batch << " rank " << dist::rank();
  }
  // a rank passing a different number of samples is caught instead of giving a wrong average
  if (dist::world_size() > 1) {
    int64_t n = dist::rank() == 0 ? kVal - 1 : kVal;
    try {
      model->evaluate(narrow(x, 0, 0, n), narrow(y, 0, 0, n), {.verbose = 0, .strategy = strategy});
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("evaluate: the " + std::to_string(dist::world_size()) + " ranks passed "), std::string::npos) << e.what();
    }
  }
}

TEST(DistKeras, FitValidationDataIsShardedOverRanks) {
  manual_seed(5);
  const int64_t w = dist::world_size();
  Tensor x = randn({32 * w, 10}), y = randint(0, 3, {32 * w});
  Tensor xv = randn({kVal, 10}), yv = randint(0, 3, {kVal});
  auto [xp, yp] = poisoned(xv, yv);
  auto model = classifier();
  auto h = model->fit(x, y, {.epochs = 2, .batch_size = 8, .verbose = 0, .validation_data = std::make_pair(xp, yp),
                             .strategy = std::make_shared<dist::DataParallel>()});
  ASSERT_EQ(h.history["val_loss"].size(), 2u);
  // the last epoch's validation ran on the final weights (the same on every rank): one process evaluating the
  // clean set with them gives the same figures
  keras::Evaluation one = model->evaluate(xv, yv, 8, 0);
  EXPECT_EQ(h.history["val_accuracy"][1], one["accuracy"]);
  EXPECT_NEAR(h.history["val_loss"][1], one.loss, 1e-6);
  EXPECT_TRUE(std::isfinite(h.history["val_loss"][0]));
}
