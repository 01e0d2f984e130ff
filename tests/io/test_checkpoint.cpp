// Training checkpoints: stopping after k steps, saving, and resuming in a new process with fresh objects gives the
// same bits as training straight through (model, Adam state, StepLR, the generator that draws batches and
// dropout masks); and mismatched checkpoints are refused.
#include <sys/wait.h>
#include <unistd.h>

#include "io_test_util.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/core/rng.h"
#include "nerve/data/dataset.h"
#include "nerve/io/checkpoint.h"
#include "nerve/nn/activation.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/loss.h"
#include "nerve/nn/sequential.h"
#include "nerve/ops/ops.h"
#include "nerve/optim/adam.h"
#include "nerve/optim/lr_scheduler.h"
#include "nerve/optim/sgd.h"

namespace nerve {
namespace {

using test::same_bits;

struct TrainRun {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::StepLR> sched;
  Tensor x, y;
  int64_t step = 0;

  TrainRun() {
    manual_seed(3);
    model = std::make_shared<nn::Sequential>();
    model->push_back(std::make_shared<nn::Linear>(4, 16));
    model->push_back(std::make_shared<nn::Dropout>(0.25));
    model->push_back(std::make_shared<nn::ReLU>());
    model->push_back(std::make_shared<nn::Linear>(16, 3));
    opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
    sched = std::make_unique<optim::StepLR>(*opt, 3, 0.5);
    x = randn({64, 4});
    y = randint(0, 3, {64});
  }
  // one step on a batch drawn from the global generator, dropout masks from it too
  void train(int steps) {
    for (int i = 0; i < steps; ++i, ++step) {
      Tensor idx = randint(0, 64, {8});
      Tensor loss = nn::F::cross_entropy((*model)(index_select(x, 0, idx)), index_select(y, 0, idx));
      opt->zero_grad();
      loss.backward();
      opt->step();
      if (step % 2 == 1) sched->step();
    }
  }
  io::TrainingState state() { return {.model = model.get(), .optimizer = opt.get(), .scheduler = sched.get(), .step = step}; }
};

TEST(Checkpoint, ResumeInANewProcessIsBitIdentical) {
  test::TempDir dir;
  TrainRun straight;
  straight.train(10);
  const std::vector<uint64_t> rng_straight = generator().get_state();

  TrainRun first;
  first.train(5);
  io::TrainingState st = first.state();
  st.extra = {{"epoch", "1"}};
  io::save_checkpoint(dir / "ckpt.safetensors", st);
  first.train(5);  // the process goes on after saving: it must not matter
  EXPECT_TRUE(same_bits(first.model->state_dict()[0].second, straight.model->state_dict()[0].second));

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // a new process: fresh objects, another seed, then the checkpoint
    int rc = 1;
    try {
      TrainRun resumed;
      manual_seed(12345);
      io::TrainingState rs = resumed.state();
      io::load_checkpoint(dir / "ckpt.safetensors", rs);
      resumed.step = rs.step;
      if (rs.step == 5 && rs.extra.at("epoch") == "1") {
        resumed.train(5);
        io::save_checkpoint(dir / "final.safetensors", resumed.state());
        rc = 0;
      }
    } catch (...) {
    }
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  TrainRun check;  // load the child's final state into fresh objects and compare with the straight run
  io::TrainingState cs = check.state();
  io::load_checkpoint(dir / "final.safetensors", cs);
  EXPECT_EQ(cs.step, 10);
  nn::StateDict a = straight.model->state_dict(), b = check.model->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i].second, b[i].second)) << a[i].first;
  auto sa = straight.opt->state_dict(), sb = check.opt->state_dict();
  for (auto& [index, s] : sa.state) {
    EXPECT_EQ(s.step, sb.state.at(index).step);
    for (auto& [k, t] : s.buffers) EXPECT_TRUE(same_bits(t, sb.state.at(index).buffers.at(k))) << index << k;
  }
  EXPECT_EQ(straight.opt->lr(), check.opt->lr());
  EXPECT_EQ(straight.sched->state_dict().last_epoch, check.sched->state_dict().last_epoch);
  EXPECT_EQ(generator().get_state(), rng_straight);  // the child's generator ended where the straight run's did
}

// A DataLoader's position in a checkpoint: stopped in the middle of an epoch and resumed by a new loader (another
// shuffle seed, prefetching or not), it hands out the batches the straight run does, in the same order.
TEST(Checkpoint, DataLoaderResumesMidEpoch) {
  test::TempDir dir;
  const Tensor x = arange(0, 37, 1, DType::i64);  // each batch's data are its sample indices
  auto sequence = [](data::DataLoader& loader, int64_t epochs, int64_t stop_after, auto&& at_stop) {
    std::vector<int64_t> seen;
    int64_t n = 0;
    for (int64_t e = loader.epoch(); e < epochs; ++e)
      for (auto& b : loader) {
        for (int64_t v : b.data.to_vector<int64_t>()) seen.push_back(v);
        if (++n == stop_after) {
          at_stop();
          return seen;
        }
      }
    return seen;
  };
  for (bool prefetch : {true, false}) {
    SCOPED_TRACE(prefetch);
    const data::DataLoaderOptions o{.batch_size = 5, .shuffle = true, .seed = 7, .prefetch = prefetch};  // 8 batches
    data::DataLoader straight(data::TensorDataset(x, x), o);
    const std::vector<int64_t> all = sequence(straight, 3, -1, [] {});
    ASSERT_EQ(all.size(), 3u * 37);

    data::DataLoader first(data::TensorDataset(x, x), o);
    std::vector<int64_t> got = sequence(first, 3, 11, [&] {  // 8 batches of epoch 0, then 3 of epoch 1
      const data::DataLoaderState st = first.state();
      EXPECT_EQ(st.epoch, 1);
      EXPECT_EQ(st.batch, 3);
      io::save_checkpoint(dir / "loader.st", {.loader = &first, .rng = false});
    });
    data::DataLoaderOptions other = o;
    other.seed = 99;
    data::DataLoader resumed(data::TensorDataset(x, x), other);
    io::TrainingState rs{.loader = &resumed, .rng = false};
    io::load_checkpoint(dir / "loader.st", rs);
    const std::vector<int64_t> rest = sequence(resumed, 3, -1, [] {});
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, all);
    EXPECT_EQ(resumed.state().epoch, 3);  // after the last epoch: the next one, from its start
    EXPECT_EQ(resumed.state().batch, 0);
  }
  data::DataLoader plain(data::TensorDataset(x, x), {.batch_size = 5});
  EXPECT_THROW(plain.load_state({.epoch = 0, .batch = 9}), Error);          // 8 batches per epoch
  EXPECT_THROW(plain.load_state({.epoch = 0, .batch = 1, .seed = 3}), Error);  // it does not shuffle
  io::TrainingState none{.loader = &plain, .rng = false};
  io::save_checkpoint(dir / "noloader.st", {.rng = false});
  EXPECT_THROW(io::load_checkpoint(dir / "noloader.st", none), Error);
}

TEST(Checkpoint, RefusesWhatDoesNotFit) {
  test::TempDir dir;
  TrainRun r;
  r.train(2);
  io::TrainingState st = r.state();
  st.scheduler = nullptr;
  io::save_checkpoint(dir / "c.safetensors", st);
  io::TrainingState with_sched = r.state();
  EXPECT_NE(test::error_of([&] { io::load_checkpoint(dir / "c.safetensors", with_sched); })
                .find(": the file has no scheduler state"),
            std::string::npos);
  io::TrainingState model_only{.model = r.model.get()};
  io::load_checkpoint(dir / "c.safetensors", model_only);  // the optimizer state in the file is skipped
  EXPECT_EQ(model_only.step, 2);
  auto model = std::make_shared<nn::Linear>(4, 16);
  optim::SGD sgd(model->parameters(), {.lr = 0.1});
  io::TrainingState other{.model = r.model.get(), .optimizer = &sgd};
  EXPECT_NE(test::error_of([&] { io::load_checkpoint(dir / "c.safetensors", other); })
                .find("load: " + (dir / "c.safetensors") + ": the optimizer is Adam, the one to restore is SGD"),
            std::string::npos);
  io::save_safetensors({{"w", ones({1})}}, dir / "plain.safetensors");
  EXPECT_NE(test::error_of([&] { io::load_checkpoint(dir / "plain.safetensors", st); }).find("not a nerve checkpoint"),
            std::string::npos);
}

}  // namespace
}  // namespace nerve
