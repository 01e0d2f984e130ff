// Stateful (truncated-BPTT) data-parallel training, as examples/char_lstm --stateful runs it under mpirun: each of N
// ranks takes its shard of the job's N x B streams (StreamBatches::shard) and carries the LSTM state of its own rows;
// after a few steps (across a pass boundary, where the state restarts from zeros) the weights equal those of one
// process training all N x B streams with a batch of N x B (every rank trains that reference itself and compares).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "nerve/core/rng.h"
#include "nerve/data/text.h"
#include "nerve/dist/dist.h"
#include "nerve/nn/embedding.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/rnn.h"
#include "nerve/ops/loss.h"
#include "nerve/ops/ops.h"
#include "nerve/ops/random.h"
#include "nerve/optim/adam.h"

using namespace nerve;

namespace {
constexpr int64_t kVocab = 11, kHidden = 16, kPerRank = 3, kSeq = 5, kSteps = 5;

struct CharModel : nn::Module {
  explicit CharModel(DType d) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(kVocab, 8, nn::EmbeddingOptions{.dtype = d}));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::RNNOptions{
                                       .input_size = 8, .hidden_size = kHidden, .batch_first = true, .dtype = d}));
    fc = register_module("fc", std::make_shared<nn::Linear>(kHidden, kVocab, true, d));
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc;
};

// kSteps Adam steps over the batches of `sb` in order, the state carried (detached) between batches and reset to
// zeros at the start of each pass, as the example does
void train(CharModel& m, const data::StreamBatches& sb, DType d) {
  optim::Adam opt(m.parameters(), {.lr = 2e-3});
  std::optional<nn::LSTMState> state;
  for (int64_t i = 0; i < kSteps; ++i) {
    if (i % sb.size() == 0)
      state = nn::LSTMState{zeros({1, sb.batch(), kHidden}, d), zeros({1, sb.batch(), kHidden}, d)};
    data::Example e = sb.get(i % sb.size());
    auto [out, st] = m.lstm->forward(m.embed->forward(e.data), state);
    Tensor logits = m.fc->forward(out);
    Tensor loss = cross_entropy(logits.reshape({-1, kVocab}), e.target.reshape({-1}), Tensor());
    opt.zero_grad();
    loss.backward();
    opt.step();
    state = nn::LSTMState{st.h.detach(), st.c.detach()};
  }
}

double max_abs_diff(nn::Module& a, nn::Module& b) {
  auto pa = a.parameters(), pb = b.parameters();
  double m = 0;
  for (size_t i = 0; i < pa.size(); ++i) m = std::max(m, (pa[i] - pb[i]).abs().max().to(DType::f64).item<double>());
  return m;
}

void stateful_equivalence(DType d, double tol) {
  const int w = dist::world_size(), r = dist::rank();
  manual_seed(21);
  // streams of 16 tokens: 3 batches of 5 per pass, so 5 steps cross one pass boundary (state reset)
  Tensor tokens = randint(0, kVocab, {w * kPerRank * 16 + 2});
  data::StreamBatches job(tokens, w * kPerRank, kSeq);
  ASSERT_EQ(job.size(), 3);
  manual_seed(300 + r);  // different initial weights per rank: the wrap broadcasts rank 0's
  CharModel model(d);
  manual_seed(300);
  CharModel reference(d);
  dist::DistributedDataParallel ddp(model);
  train(model, job.shard(r, w), d);
  train(reference, job, d);  // one process, batch N x B, no communication
  double diff = max_abs_diff(model, reference);
  if (r == 0)
    std::printf("[ stateful ] %s, %d ranks x batch %ld vs 1 x %ld: max |w_ddp - w_one| = %.3g (bound %.3g)\n",
                dtype_name(d), w, long(kPerRank), long(w * kPerRank), diff, tol);
  EXPECT_LE(diff, tol) << dtype_name(d) << " rank " << r << " of " << w;
  EXPECT_EQ(ddp.stats().syncs, kSteps);
  // a wrong shard is caught: training rank 0's rows on every rank moves the weights away from the reference
  if (w > 1) {
    manual_seed(300);
    CharModel wrong(d);
    train(wrong, job.shard(0, w), d);
    EXPECT_GT(max_abs_diff(wrong, reference), 1e3 * tol);
  }
}
}  // namespace

TEST(DistStateful, ShardedStreamsMatchOneProcessF64) {
  // f64: the sides differ in the order of summing per-token gradients (N means of B x T against one mean of
  // N x B x T) and in GEMM blocking for B against N x B rows: a few ulps (1e-16 relative) per step; Adam divides by
  // sqrt(v) + 1e-8, so a gradient perturbation of relative size e moves a step by at most lr * e (2e-19) unless
  // the gradient is below ~1e-8; 5 steps stay far below 1e-12
  stateful_equivalence(DType::f64, 1e-12);
}
