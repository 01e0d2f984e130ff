// nn::generate and nn::sample_token: one step per new token with the LSTM state carried, greedy = argmax of a
// full re-run, top-k / temperature sampling statistics, streaming callback, stop token, errors.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include <nerve/nerve.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/generate.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/rnn.h>

using namespace nerve;
using namespace nerve::nn;

namespace {

struct TinyLM : Module {
  std::shared_ptr<Embedding> emb = register_module("emb", std::make_shared<Embedding>(7, 5));
  std::shared_ptr<LSTM> lstm = register_module(
      "lstm", std::make_shared<LSTM>(RNNOptions{.input_size = 5, .hidden_size = 6, .num_layers = 2,
                                                .batch_first = true}));
  std::shared_ptr<Linear> fc = register_module("fc", std::make_shared<Linear>(6, 7));
  std::pair<Tensor, LSTMState> forward(const Tensor& ids, const std::optional<LSTMState>& st) {
    auto [y, s] = lstm->forward(emb->forward(ids), st);
    return {fc->forward(y), s};
  }
};

}  // namespace

TEST(Generate, OneStepPerTokenAndGreedyMatchesFullRerun) {
  manual_seed(1);
  TinyLM m;
  std::optional<LSTMState> st;
  std::vector<int64_t> fed_lengths;
  auto step = [&](const Tensor& ids) {
    fed_lengths.push_back(ids.size(1));
    auto [logits, s] = m.forward(ids, st);
    st = s;
    return logits;
  };
  std::vector<int64_t> streamed;
  const std::vector<int64_t> prompt{3, 1, 4};
  std::vector<int64_t> out = generate(step, prompt, {.max_new_tokens = 6, .temperature = 0},
                                      [&](int64_t id) { streamed.push_back(id); });
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(streamed, out);
  EXPECT_EQ(fed_lengths, (std::vector<int64_t>{3, 1, 1, 1, 1, 1}));  // the prompt once, then one step per token
  // greedy: each token is the argmax of the model re-run from scratch on everything so far
  std::vector<int64_t> seq = prompt;
  NoGradGuard g;
  for (int64_t id : out) {
    auto [logits, s] = m.forward(from_vector(seq, {1, int64_t(seq.size())}), std::nullopt);
    EXPECT_EQ(argmax(logits.select(1, logits.size(1) - 1), -1).item<int64_t>(), id);
    seq.push_back(id);
  }
}

TEST(Generate, StopTokenAndSeeds) {
  int calls = 0;
  auto step = [&](const Tensor&) {
    ++calls;
    return from_vector<float>({0.f, 1.f, 5.f, 0.5f}, {1, 1, 4});
  };
  EXPECT_EQ(generate(step, {0}, {.max_new_tokens = 10, .temperature = 0, .stop_token = 2}),
            (std::vector<int64_t>{2}));
  EXPECT_EQ(calls, 1);
  auto a = generate(step, {0}, {.max_new_tokens = 50, .temperature = 2.0, .seed = 5});
  auto b = generate(step, {0}, {.max_new_tokens = 50, .temperature = 2.0, .seed = 5});
  auto c = generate(step, {0}, {.max_new_tokens = 50, .temperature = 2.0, .seed = 6});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_THROW(generate(step, {}, {}), Error);
}

TEST(Generate, SampleTokenDistribution) {
  std::mt19937_64 rng(3);
  Tensor logits = from_vector<float>({std::log(1.f), std::log(2.f), std::log(3.f), std::log(4.f)});
  std::map<int64_t, int> n;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++n[sample_token(logits, 1.0, 0, rng)];
  for (int64_t k = 0; k < 4; ++k) EXPECT_NEAR(n[k] / double(draws), (k + 1) / 10.0, 0.01) << k;
  // top-2 keeps ids 2 and 3 in ratio 3:4; temperature 0.5 squares the odds (9:16)
  n.clear();
  for (int i = 0; i < draws; ++i) ++n[sample_token(logits, 0.5, 2, rng)];
  EXPECT_EQ(n[0] + n[1], 0);
  EXPECT_NEAR(n[2] / double(draws), 9.0 / 25.0, 0.01);
  EXPECT_EQ(sample_token(logits, 0.0, 0, rng), 3);
  EXPECT_EQ(sample_token(logits, 1.0, 1, rng), 3);
  EXPECT_THROW(sample_token(zeros({2, 2}), 1.0, 0, rng), Error);
}

// top-p keeps the most likely tokens until their mass reaches p: probabilities .1 .2 .3 .4 and p = 0.6 keep ids 3 and 2
// (.4 + .3 >= .6) in ratio 4:3; p = 0.35 keeps id 3 alone; p <= 0 or > 1 is an error.
TEST(Generate, SampleTokenTopP) {
  std::mt19937_64 rng(5);
  Tensor logits = from_vector<float>({std::log(1.f), std::log(2.f), std::log(3.f), std::log(4.f)});
  std::map<int64_t, int> n;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++n[sample_token(logits, 1.0, 0, 0.6, rng)];
  EXPECT_EQ(n[0] + n[1], 0);
  EXPECT_NEAR(n[3] / double(draws), 4.0 / 7.0, 0.01);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sample_token(logits, 1.0, 0, 0.35, rng), 3);
  n.clear();
  for (int i = 0; i < draws; ++i) ++n[sample_token(logits, 1.0, 0, 1.0, rng)];
  EXPECT_NEAR(n[0] / double(draws), 0.1, 0.01);
  EXPECT_THROW(sample_token(logits, 1.0, 0, 0.0, rng), Error);
  EXPECT_THROW(sample_token(logits, 1.0, 0, 1.5, rng), Error);
}

// Logits that are not (1, T, V) or (1, V), or whose V changes between steps, are errors that say what came back.
TEST(Generate, LogitsOfTheWrongShapeAreErrors) {
  auto message = [](const StepFn& step) {
    try {
      generate(step, {1, 2}, {.max_new_tokens = 3, .seed = 1});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = message([](const Tensor&) { return zeros({2, 2, 5}); });  // a batch of 2
  EXPECT_NE(e.find("generate: the step function returned logits [2, 2, 5] f32 for ids [1, 2]; expected (1, T, V) or "
                   "(1, V)"),
            std::string::npos)
      << e;
  EXPECT_NE(message([](const Tensor&) { return zeros({5}); }).find("returned logits [5]"), std::string::npos);
  EXPECT_NE(message([](const Tensor&) { return zeros({1, 0}); }).find("returned logits [1, 0]"), std::string::npos);
  EXPECT_NE(message([](const Tensor&) { return Tensor(); }).find("undefined"), std::string::npos);
  int calls = 0;
  e = message([&](const Tensor& ids) { return zeros({1, ids.size(1), ++calls == 1 ? 5 : 7}); });
  EXPECT_NE(e.find("returned logits [1, 1, 7] f32 for ids [1, 1]; expected (1, T, V) or (1, V) with V = 5"),
            std::string::npos)
      << e;
  EXPECT_EQ(message([](const Tensor& ids) { return zeros({1, ids.size(1), 5}); }), "no error");
  EXPECT_EQ(message([](const Tensor&) { return zeros({1, 5}); }), "no error");
}

// Generation runs on the caller's thread count (two threads read a batch-1 product's weights about twice as fast),
// and the tokens and logits are the same bits on 1, 2, 3 and 4 threads: the products are split into tiles by their
// shape alone (backend/cpu/gemm.cpp). The LSTM's 512 x 128 recurrent weight is large enough to be split.
TEST(Generate, SameTokensAndLogitsOnAnyThreadCount) {
  struct LM : Module {
    std::shared_ptr<Embedding> emb = register_module("emb", std::make_shared<Embedding>(300, 32));
    std::shared_ptr<LSTM> lstm = register_module(
        "lstm", std::make_shared<LSTM>(RNNOptions{.input_size = 32, .hidden_size = 128, .batch_first = true}));
    std::shared_ptr<Linear> fc = register_module("fc", std::make_shared<Linear>(128, 300));
  };
  const int before = get_num_threads();
  std::vector<int64_t> first_tokens;
  std::vector<float> first_logits;
  for (int threads : {1, 2, 3, 4}) {
    set_num_threads(threads);
    manual_seed(11);
    LM m;
    std::optional<LSTMState> st;
    std::vector<float> logits_seen;
    auto step = [&](const Tensor& ids) {
      EXPECT_EQ(get_num_threads(), threads);
      auto [y, s] = m.lstm->forward(m.emb->forward(ids), st);
      st = s;
      Tensor logits = m.fc->forward(y);
      for (float v : logits.to_vector<float>()) logits_seen.push_back(v);
      return logits;
    };
    auto out = generate(step, {4, 8, 15}, {.max_new_tokens = 40, .temperature = 1.0, .seed = 16});
    EXPECT_EQ(get_num_threads(), threads);
    if (threads == 1) {
      first_tokens = out, first_logits = logits_seen;
      continue;
    }
    EXPECT_EQ(out, first_tokens) << threads << " threads";
    ASSERT_EQ(logits_seen.size(), first_logits.size());
    EXPECT_EQ(std::memcmp(logits_seen.data(), first_logits.data(), logits_seen.size() * sizeof(float)), 0)
        << threads << " threads";
  }
  set_num_threads(before);
}
