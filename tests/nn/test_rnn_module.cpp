// Recurrent modules and Embedding beyond the goldens: PyTorch parameter names and init, error messages, layouts,
// the fast f32 kernels pinned to the exact f64 path, dropout, unbatched input, cells vs layers, carried state,
// autograd safety, and a tiny Embedding -> LSTM -> Linear model learning a repeating sequence.
#include <gtest/gtest.h>

#include <cmath>

#include <nerve/nerve.h>
#include <nerve/data/text.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/loss.h>
#include <nerve/nn/rnn.h>
#include <nerve/optim/adam.h>

#include "backend/cpu/rnn.h"
#include "ops/embedding_lookup.h"
#include "golden/golden_reader.h"

using namespace nerve;
using namespace nerve::nn;

namespace {

using nerve::testing::error_of;  // tests/golden/golden_reader.h

double max_diff(const Tensor& a, const Tensor& b) {
  return max(abs(a.to(DType::f64) - b.to(DType::f64))).item<double>();
}

}  // namespace

TEST(RnnModule, ParameterNamesShapesAndInit) {
  auto lstm = std::make_shared<LSTM>(RNNOptions{.input_size = 10, .hidden_size = 20, .num_layers = 2,
                                                .bidirectional = true});
  std::vector<std::string> names;
  for (auto& [n, p] : lstm->named_parameters()) names.push_back(n + " " + to_string(p.shape()));
  std::vector<std::string> want;
  for (std::string l : {"0", "1"})
    for (std::string sfx : {"", "_reverse"}) {
      std::string in = l == "0" ? "10" : "40";
      want.push_back("weight_ih_l" + l + sfx + " [80, " + in + "]");
      want.push_back("weight_hh_l" + l + sfx + " [80, 20]");
      want.push_back("bias_ih_l" + l + sfx + " [80]");
      want.push_back("bias_hh_l" + l + sfx + " [80]");
    }
  EXPECT_EQ(names, want);
  const double k = 1 / std::sqrt(20.0);
  for (const Tensor& p : lstm->parameters()) {
    EXPECT_LE(max(abs(p)).item<float>(), k);
    EXPECT_GT(max(abs(p)).item<float>(), 0.8 * k);  // uniform over the whole range, not a constant
  }
  auto gru = std::make_shared<GRU>(RNNOptions{.input_size = 3, .hidden_size = 5, .bias = false});
  ASSERT_EQ(gru->named_parameters().size(), 2u);
  EXPECT_EQ(gru->named_parameters()[0].second.shape(), (Shape{15, 3}));
  EXPECT_EQ(RNN(4, 6).named_parameters()[1].second.shape(), (Shape{6, 6}));
  EXPECT_EQ(LSTMCell(3, 4).weight_hh.shape(), (Shape{16, 4}));
  EXPECT_EQ(lstm->repr(), "LSTM(10, 20, num_layers=2, bidirectional=True)");
  Embedding emb(10, 3, {.padding_idx = -1});
  EXPECT_EQ(emb.options().padding_idx, 9);
  EXPECT_EQ(emb.weight.select(0, 9).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(emb.repr(), "Embedding(10, 3, padding_idx=9)");
}

TEST(RnnModule, ErrorMessages) {
  auto lstm = std::make_shared<LSTM>(4, 3, 2);
  Tensor x = zeros({5, 2, 4});
  EXPECT_EQ(error_of([&] { lstm->forward(x, LSTMState{zeros({1, 2, 3}), zeros({2, 2, 3})}); }),
            "LSTM: expected hidden state h0 of size [2, 2, 3] (num_layers * num_directions, batch, hidden_size), "
            "got [1, 2, 3] f32 for input [5, 2, 4] f32");
  EXPECT_EQ(error_of([&] { lstm->forward(x, LSTMState{zeros({2, 2, 3}), zeros({2, 3, 3})}); }),
            "LSTM: expected cell state c0 of size [2, 2, 3] (num_layers * num_directions, batch, hidden_size), "
            "got [2, 3, 3] f32 for input [5, 2, 4] f32");
  EXPECT_EQ(error_of([&] { lstm->forward(zeros({5, 2, 5})); }),
            "LSTM: input.size(-1) must be equal to input_size. Expected 4, got 5 (input [5, 2, 5] f32)");
  EXPECT_EQ(error_of([&] { lstm->forward(zeros({5, 2, 4}, DType::f64)); }),
            "LSTM: input dtype f64 != parameter dtype f32");
  auto gru = std::make_shared<GRU>(4, 3);
  EXPECT_EQ(error_of([&] { gru->forward(x, zeros({1, 3})); }),
            "GRU: expected hidden state h0 of size [1, 2, 3] (num_layers * num_directions, batch, hidden_size), "
            "got [1, 3] f32 for input [5, 2, 4] f32");
  LSTMCell cell(4, 3);
  EXPECT_EQ(error_of([&] { cell.forward(zeros({2, 4}), LSTMState{zeros({2, 4}), zeros({2, 3})}); }),
            "LSTMCell: expected hidden state of size [2, 3], got [2, 4] f32 for input [2, 4] f32");
  EXPECT_EQ(error_of([&] {
              rnn_layer(RnnMode::gru, zeros({3, 2, 4}), zeros({2, 5}), zeros({2, 5}), zeros({15, 4}),
                        zeros({15, 5}), Tensor(), Tensor());
            }),
            "GRU: only an LSTM has a cell state c0");
  EXPECT_EQ(error_of([&] { nn::LSTM(RNNOptions{.input_size = 4, .hidden_size = 0}); }),
            "LSTM: input_size and hidden_size must be positive, got 4 and 0");
  Embedding emb(10, 4);
  EXPECT_EQ(error_of([&] { emb.forward(from_vector<int64_t>({1, 2, 12, 3, 4, 5}, {2, 3})); }),
            "embedding: token id 12 is out of range for a vocabulary of size 10 (valid ids are 0..9; indices "
            "[2, 3] i64, weight [10, 4] f32)");
  EXPECT_EQ(error_of([&] { emb.forward(from_vector<int64_t>({-1})); }),
            "embedding: token id -1 is out of range for a vocabulary of size 10 (valid ids are 0..9; indices "
            "[1] i64, weight [10, 4] f32)");
  EXPECT_EQ(error_of([&] { emb.forward(zeros({2})); }),
            "embedding: indices must be an integer tensor (i64 or i32), got [2] f32");
}

// The fast f32 gate kernels (polynomial exp / rational tanh, AVX-512 clones) against the exact f64 path, on
// sizes that leave vector tails, for every cell, both directions and both layouts.
TEST(RnnModule, FastF32KernelsMatchF64Reference) {
  manual_seed(3);
  const int64_t seq = 9, in = 11, H = 37;
  // batch 35: whole 16x16 tiles in the backward's in-register transposes, and their edges
  for (int64_t batch : {5, 35})
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh, RnnMode::rnn_relu})
    for (bool bf : {false, true}) {
      const int64_t G = mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1;
      std::vector<Tensor> d64{randn(bf ? Shape{batch, seq, in} : Shape{seq, batch, in}, DType::f64),
                              randn({batch, H}, DType::f64),
                              mode == RnnMode::lstm ? randn({batch, H}, DType::f64) : Tensor(),
                              randn({G * H, in}, DType::f64) * 0.3,
                              randn({G * H, H}, DType::f64) * 0.3,
                              randn({G * H}, DType::f64),
                              randn({G * H}, DType::f64)};
      Tensor g64 = randn(bf ? Shape{batch, seq, H} : Shape{seq, batch, H}, DType::f64);
      std::vector<Tensor> outs[2], grads[2];
      for (int k = 0; k < 2; ++k) {
        std::vector<Tensor> a;
        for (const Tensor& t : d64)
          a.push_back(t.defined() ? t.to(k ? DType::f32 : DType::f64).detach().requires_grad_() : Tensor());
        RnnLayerOutput r = rnn_layer(mode, a[0], a[1], a[2], a[3], a[4], a[5], a[6], bf, /*reverse=*/bf);
        Tensor loss = sum(r.output * g64.to(r.output.dtype())) + sum(r.h_n);
        if (r.c_n.defined()) loss = loss + sum(r.c_n * 0.5);
        loss.backward();
        outs[k] = {r.output, r.h_n};
        if (r.c_n.defined()) outs[k].push_back(r.c_n);
        for (const Tensor& t : a)
          if (t.defined()) grads[k].push_back(t.grad());
      }
      for (size_t i = 0; i < outs[0].size(); ++i)
        EXPECT_LT(max_diff(outs[0][i], outs[1][i]), 4e-6 * std::max(1.0, max(abs(outs[0][i])).item<double>()))
            << "output " << i << " mode " << int(mode) << " max " << max(abs(outs[0][i])).item<double>();
      for (size_t i = 0; i < grads[0].size(); ++i)
        EXPECT_LT(max_diff(grads[0][i], grads[1][i]), 1e-5 * std::max(1.0, max(abs(grads[0][i])).item<double>()))
            << "grad " << i << " mode " << int(mode);
    }
}

// Threads split the batch (each runs its rows through all steps); uneven slices must give the one-thread result.
TEST(RnnModule, BatchSplitAcrossThreadsMatchesOneThread) {
  manual_seed(12);
  const int prev = get_num_threads();
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_relu})
    for (DType dt : {DType::f64, DType::f32}) {
      // big enough that the recurrence is worth two threads (B = 11: slices of 5 and 6 rows)
      const int64_t G = mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1, H = 128, B = 11;
      const double k = 1 / std::sqrt(double(H));
      std::vector<Tensor> in{randn({4, B, 5}, dt), randn({B, H}, dt),
                             mode == RnnMode::lstm ? randn({B, H}, dt) : Tensor(), randn({G * H, 5}, dt) * 0.4,
                             randn({G * H, H}, dt) * k, randn({G * H}, dt), Tensor()};
      std::vector<Tensor> res[2];
      for (int threads : {1, 3}) {
        set_num_threads(threads);
        std::vector<Tensor> a;
        for (const Tensor& t : in) a.push_back(t.defined() ? t.detach().clone().requires_grad_() : Tensor());
        RnnLayerOutput r = rnn_layer(mode, a[0], a[1], a[2], a[3], a[4], a[5], a[6], false, /*reverse=*/true);
        (sum(r.output * r.output) + sum(r.h_n)).backward();
        auto& out = res[threads == 1 ? 0 : 1];
        out = {r.output, r.h_n};
        for (const Tensor& t : a)
          if (t.defined()) out.push_back(t.grad());
      }
      for (size_t i = 0; i < res[0].size(); ++i)
        EXPECT_LE(max_diff(res[0][i], res[1][i]),
                  (dt == DType::f64 ? 1e-13 : 2e-6) * std::max(1.0, max(abs(res[0][i])).item<double>()))
            << int(mode) << " " << i;
    }
  set_num_threads(prev);
}

// An f32 LSTM over a long sequence on several threads (batch slices; an embedding-fed layer then keeps one
// per-token table per slice): outputs, final states and every gradient equal the one-thread result, for both
// directions, both layouts, given or zero initial states, and for an embedding-fed 2-layer bidirectional stack.
TEST(RnnModule, LongSequenceAcrossThreadsMatchesOneThread) {
  manual_seed(13);
  const int prev = get_num_threads();
  const int64_t H = 64, B = 8, seq = 40, D = 5;  // 8x256x64 per step: two slices of 4 rows
  auto close = [](const Tensor& a, const Tensor& b) {
    return max_diff(a, b) <= 2e-6 * std::max(1.0, max(abs(a)).item<double>());
  };
  for (bool reverse : {false, true})
    for (bool batch_first : {false, true})
      for (bool states : {false, true}) {
        const double k = 1 / std::sqrt(double(H));
        std::vector<Tensor> in{randn(batch_first ? Shape{B, seq, D} : Shape{seq, B, D}),
                               states ? randn({B, H}) : Tensor(), states ? randn({B, H}) : Tensor(),
                               randn({4 * H, D}) * 0.4, randn({4 * H, H}) * k, randn({4 * H}), randn({4 * H})};
        std::vector<Tensor> res[2];
        for (int threads : {1, 3}) {
          set_num_threads(threads);
          std::vector<Tensor> a;
          for (const Tensor& t : in) a.push_back(t.defined() ? t.detach().clone().requires_grad_() : Tensor());
          RnnLayerOutput r = rnn_layer(RnnMode::lstm, a[0], a[1], a[2], a[3], a[4], a[5], a[6], batch_first, reverse);
          (sum(r.output * r.output) + sum(r.h_n) + sum(r.c_n * r.c_n)).backward();
          auto& out = res[threads == 1 ? 0 : 1];
          out = {r.output, r.h_n, r.c_n};
          for (const Tensor& t : a)
            if (t.defined()) out.push_back(t.grad());
        }
        for (size_t i = 0; i < res[0].size(); ++i)
          EXPECT_TRUE(close(res[0][i], res[1][i]))
              << "reverse " << reverse << " batch_first " << batch_first << " states " << states << " tensor " << i
              << ": " << max_diff(res[0][i], res[1][i]);
      }
  // embedding-fed, 2 layers x 2 directions: the first layer projects the table, per-token sums per slice
  for (bool batch_first : {false, true}) {
    const int64_t V = 11;
    Tensor ids = randint(0, V, batch_first ? Shape{B, seq} : Shape{seq, B});
    std::vector<Tensor> res[2];
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      manual_seed(5);
      Embedding emb(V, D);
      LSTM lstm(RNNOptions{.input_size = D, .hidden_size = H, .num_layers = 2, .batch_first = batch_first,
                           .bidirectional = true});
      Tensor x = emb.forward(ids);
      ASSERT_TRUE(embedding_lookup_of(x).has_value());
      auto [y, st] = lstm.forward(x, std::nullopt);
      (sum(y * y) + sum(st.h) + sum(st.c)).backward();
      auto& out = res[threads - 1];
      out = {y, st.h, st.c, emb.weight.grad()};
      for (auto& [name, t] : lstm.named_parameters()) out.push_back(t.grad());
    }
    for (size_t i = 0; i < res[0].size(); ++i)
      EXPECT_TRUE(close(res[0][i], res[1][i])) << "embedding-fed, batch_first " << batch_first << " tensor " << i
                                               << ": " << max_diff(res[0][i], res[1][i]);
  }
  set_num_threads(prev);
}

TEST(RnnModule, FastActivationsMatchStd) {
  double e_exp = 0, e_sig = 0, e_tanh = 0, e_tanh_rel = 0;
  for (double v = -90; v <= 90; v += 0.00731) {
    float x = static_cast<float>(v);
    if (std::abs(x) < 80) e_exp = std::max(e_exp, std::abs(cpu::fast_exp(x) / std::exp(double(x)) - 1));
    e_sig = std::max(e_sig, std::abs(cpu::fast_sigmoid(x) - 1 / (1 + std::exp(-double(x)))));
    e_tanh = std::max(e_tanh, std::abs(cpu::fast_tanh(x) - std::tanh(double(x))));
    if (std::abs(x) < 1 && x != 0)
      e_tanh_rel = std::max(e_tanh_rel, std::abs(cpu::fast_tanh(x) / std::tanh(double(x)) - 1));
  }
  EXPECT_LT(e_exp, 4e-7);
  EXPECT_LT(e_sig, 2e-7);
  EXPECT_LT(e_tanh, 3e-7);
  EXPECT_LT(e_tanh_rel, 4e-7);
  EXPECT_EQ(cpu::fast_sigmoid(-200.f), 0.f + cpu::fast_sigmoid(-200.f));  // finite, no NaN
  EXPECT_FLOAT_EQ(cpu::fast_tanh(50.f), 1.f);
  EXPECT_FLOAT_EQ(cpu::fast_sigmoid(50.f), 1.f);
  EXPECT_LT(cpu::fast_sigmoid(-200.f), 1e-30f);
}

TEST(RnnModule, BatchFirstIsTransposedTimeMajor) {
  manual_seed(4);
  RNNOptions o{.input_size = 5, .hidden_size = 6, .num_layers = 2, .bidirectional = true};
  auto a = std::make_shared<GRU>(o);
  o.batch_first = true;
  auto b = std::make_shared<GRU>(o);
  b->load_state_dict(a->state_dict());
  Tensor x = randn({7, 3, 5}), h0 = randn({4, 3, 6});
  auto [ya, ha] = a->forward(x, h0);
  auto [yb, hb] = b->forward(x.transpose(0, 1).contiguous(), h0);
  EXPECT_LT(max_diff(ya, yb.transpose(0, 1)), 1e-6);
  EXPECT_LT(max_diff(ha, hb), 1e-6);
  EXPECT_EQ(yb.shape(), (Shape{3, 7, 12}));
  EXPECT_EQ(hb.shape(), (Shape{4, 3, 6}));
}

TEST(RnnModule, DropoutBetweenLayersOnlyInTraining) {
  manual_seed(5);
  RNNOptions o{.input_size = 4, .hidden_size = 8, .num_layers = 3, .dropout = 0.5};
  auto drop = std::make_shared<LSTM>(o);
  o.dropout = 0;
  auto plain = std::make_shared<LSTM>(o);
  plain->load_state_dict(drop->state_dict());
  Tensor x = randn({6, 2, 4});
  Tensor ref = plain->forward(x);
  drop->eval();
  EXPECT_EQ(max_diff(drop->forward(x), ref), 0.0);
  drop->train();
  manual_seed(1);
  Tensor t1 = drop->forward(x);
  manual_seed(1);
  Tensor t2 = drop->forward(x);
  EXPECT_GT(max_diff(t1, ref), 1e-3);
  EXPECT_EQ(max_diff(t1, t2), 0.0);  // the masks come from the seeded generator
}

TEST(RnnModule, UnbatchedInputAndCellsMatchLayers) {
  manual_seed(6);
  auto lstm = std::make_shared<LSTM>(3, 4);
  Tensor x = randn({5, 3});
  auto [y1, s1] = lstm->forward(x, std::nullopt);
  auto [y2, s2] = lstm->forward(x.unsqueeze(1), std::nullopt);
  EXPECT_EQ(y1.shape(), (Shape{5, 4}));
  EXPECT_EQ(s1.h.shape(), (Shape{1, 4}));
  EXPECT_LT(max_diff(y1, y2.squeeze(1)), 1e-7);
  // LSTMCell with the layer's weights, stepped 5 times, gives the layer's outputs
  auto cell = std::make_shared<LSTMCell>(3, 4);
  cell->load_state_dict({{"weight_ih", lstm->layer_weights(0, 0)[0]},
                         {"weight_hh", lstm->layer_weights(0, 0)[1]},
                         {"bias_ih", lstm->layer_weights(0, 0)[2]},
                         {"bias_hh", lstm->layer_weights(0, 0)[3]}});
  std::optional<LSTMState> st;
  for (int64_t t = 0; t < 5; ++t) {
    st = cell->forward(x.select(0, t), st);
    EXPECT_LT(max_diff(st->h, y1.select(0, t)), 1e-6) << t;
  }
  EXPECT_LT(max_diff(st->c, s1.c.squeeze(0)), 1e-6);
}

TEST(RnnModule, CarriedStateEqualsOneLongSequence) {
  manual_seed(7);
  auto lstm = std::make_shared<LSTM>(RNNOptions{.input_size = 3, .hidden_size = 5, .num_layers = 2,
                                                .batch_first = true});
  Tensor x = randn({2, 8, 3});
  auto [y, s] = lstm->forward(x, std::nullopt);
  auto [ya, sa] = lstm->forward(x.narrow(1, 0, 5), std::nullopt);
  auto [yb, sb] = lstm->forward(x.narrow(1, 5, 3), sa);
  EXPECT_LT(max_diff(cat({ya, yb}, 1), y), 1e-6);
  EXPECT_LT(max_diff(sb.h, s.h), 1e-6);
  EXPECT_LT(max_diff(sb.c, s.c), 1e-6);
}

TEST(RnnModule, AutogradSafety) {
  auto gru = std::make_shared<GRU>(2, 3);
  Tensor x = randn({4, 1, 2}).requires_grad_();
  auto [y, h] = gru->forward(x, Tensor());
  EXPECT_STREQ(y.grad_fn()->name(), "GruBackward");
  Tensor loss = sum(y);
  {
    NoGradGuard g;
    y.add_(ones_like(y));  // the node saved y: backward must refuse
  }
  EXPECT_NE(error_of([&] { loss.backward(); }).find("modified by an in-place operation"), std::string::npos);
  {
    NoGradGuard g;
    EXPECT_FALSE(gru->forward(x).requires_grad());
  }
  Tensor l2 = sum(gru->forward(x));
  l2.backward();
  EXPECT_NE(error_of([&] { l2.backward(); }).find("second time"), std::string::npos);
  // state-only use: no gradient reaches the output slot, the input still gets one
  x.set_grad(Tensor());
  sum(gru->forward(x, Tensor()).second).backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_GT(max(abs(x.grad())).item<float>(), 0.f);
}

// Embedding -> LSTM -> Linear learns "0 1 2 3 2 1" repeated: after the first two positions every next token is
// determined by the context (2 is followed by 3 or 1 depending on what came before), so loss -> 0 there.
TEST(RnnModule, TinyLanguageModelLearnsRepeatingSequence) {
  manual_seed(0);
  struct Model : Module {
    std::shared_ptr<Embedding> emb = register_module("emb", std::make_shared<Embedding>(4, 8));
    std::shared_ptr<LSTM> lstm = register_module(
        "lstm", std::make_shared<LSTM>(RNNOptions{.input_size = 8, .hidden_size = 16, .batch_first = true}));
    std::shared_ptr<Linear> fc = register_module("fc", std::make_shared<Linear>(16, 4));
    Tensor forward(const Tensor& ids) override { return fc->forward(lstm->forward(emb->forward(ids))); }
  };
  auto model = std::make_shared<Model>();
  const std::vector<int64_t> period{0, 1, 2, 3, 2, 1};
  const int64_t B = 8, T = 12;
  optim::Adam opt(model->parameters(), {.lr = 0.02});
  auto batch = [&](int64_t step) {
    std::vector<int64_t> xs, ys;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        int64_t o = (step * 5 + b * 7 + t) % 6;
        xs.push_back(period[o]);
        ys.push_back(period[(o + 1) % 6]);
      }
    return std::pair{from_vector(xs, {B, T}), from_vector(ys, {B, T})};
  };
  double loss_v = 0;
  for (int64_t step = 0; step < 150; ++step) {
    auto [x, y] = batch(step);
    Tensor logits = model->forward(x).narrow(1, 2, T - 2);
    Tensor loss = F::cross_entropy(logits.reshape({-1, 4}), y.narrow(1, 2, T - 2).reshape({-1}));
    opt.zero_grad();
    loss.backward();
    opt.step();
    loss_v = loss.item<float>();
  }
  EXPECT_LT(loss_v, 0.05);
  auto [x, y] = batch(1000);
  Tensor pred = argmax(model->forward(x).narrow(1, 2, T - 2), -1);
  EXPECT_EQ(pred.to_vector<int64_t>(), y.narrow(1, 2, T - 2).contiguous().to_vector<int64_t>());
}

// Long sequences run the recurrence on a transposed copy of W_hh (seq * batch >= 256); one step at a time does
// not: both must give the same outputs, final states and gradients.
TEST(RnnModule, TransposedRecurrentWeightMatchesStepwise) {
  manual_seed(11);
  const int64_t seq = 40, batch = 8, in = 6, H = 24;
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh}) {
    const int64_t G = mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1;
    const bool lstm = mode == RnnMode::lstm;
    Tensor x = randn({seq, batch, in}), h0 = randn({batch, H}), c0 = lstm ? randn({batch, H}) : Tensor();
    Tensor w_ih = (randn({G * H, in}) * 0.3).requires_grad_(), w_hh = (randn({G * H, H}) * 0.3).requires_grad_();
    Tensor b = randn({G * H}).requires_grad_();
    RnnLayerOutput full = rnn_layer(mode, x, h0, c0, w_ih, w_hh, b, Tensor());
    sum(full.output * full.output).backward();
    Tensor g_full = w_hh.grad().clone();
    w_ih.set_grad(Tensor()), w_hh.set_grad(Tensor()), b.set_grad(Tensor());
    Tensor h = h0, c = c0;
    std::vector<Tensor> outs;
    for (int64_t t = 0; t < seq; ++t) {
      RnnLayerOutput r = rnn_layer(mode, narrow(x, 0, t, 1), h, c, w_ih, w_hh, b, Tensor());
      outs.push_back(r.output);
      h = r.h_n, c = r.c_n;
    }
    Tensor stepped = cat(outs, 0);
    sum(stepped * stepped).backward();
    EXPECT_LT(max_diff(full.output, stepped), 1e-5) << int(mode);
    EXPECT_LT(max_diff(full.h_n, h), 1e-5) << int(mode);
    EXPECT_LT(max_diff(g_full, w_hh.grad()), 1e-3 * std::max(1.0, max(abs(g_full)).item<double>())) << int(mode);
  }
}

// An LSTM / GRU / RNN fed straight from an Embedding with a small vocabulary projects the table instead of every
// token and sends the gradient straight to the table: it must equal the unfused computation (the same lookup
// passed through a no-op that hides its origin) in outputs and in every gradient, with a padding row, both
// layouts, two layers (only the first can fuse) and both directions.
TEST(RnnModule, EmbeddingFedLayerEqualsUnfused) {
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh})
    for (bool batch_first : {false, true})
      for (int64_t pad : {int64_t{-1}, int64_t{2}}) {
        manual_seed(21);
        const int64_t V = 5, D = 6, H = 7, seq = 9, B = 4;  // 36 tokens >= 4 * V: fuses
        RNNOptions o{.input_size = D, .hidden_size = H, .num_layers = 2, .batch_first = batch_first,
                     .bidirectional = true, .dtype = DType::f64};
        EmbeddingOptions eo{.dtype = DType::f64};
        if (pad >= 0) eo.padding_idx = pad;
        Embedding emb_a(V, D, eo);
        std::shared_ptr<RNNBase> rnn_a, rnn_b;
        if (mode == RnnMode::lstm) rnn_a = std::make_shared<LSTM>(o), rnn_b = std::make_shared<LSTM>(o);
        if (mode == RnnMode::gru) rnn_a = std::make_shared<GRU>(o), rnn_b = std::make_shared<GRU>(o);
        if (mode == RnnMode::rnn_tanh) rnn_a = std::make_shared<RNN>(o), rnn_b = std::make_shared<RNN>(o);
        Embedding emb_b(V, D, eo);
        {
          NoGradGuard g;
          emb_b.weight.copy_(emb_a.weight);
          auto pa = rnn_a->parameters(), pb = rnn_b->parameters();
          for (size_t i = 0; i < pa.size(); ++i) pb[i].copy_(pa[i]);
        }
        Tensor ids = randint(0, V, batch_first ? Shape{B, seq} : Shape{seq, B});
        auto run = [&](RNNBase& rnn, Tensor x) {
          Tensor out, hn;
          if (auto* l = dynamic_cast<LSTM*>(&rnn)) {
            auto [y, st] = l->forward(x, std::nullopt);
            out = y, hn = st.h;
          } else if (auto* gr = dynamic_cast<GRU*>(&rnn)) {
            std::tie(out, hn) = gr->forward(x, Tensor());
          } else {
            std::tie(out, hn) = dynamic_cast<RNN&>(rnn).forward(x, Tensor());
          }
          Tensor w = arange(0, out.numel(), 1, DType::f64).reshape(out.shape()) * 0.01;
          (sum(out * w) + sum(hn * hn)).backward();
          return out;
        };
        EXPECT_TRUE(embedding_lookup_of(emb_a.forward(ids)).has_value());
        Tensor ya = run(*rnn_a, emb_a.forward(ids));                                  // fused
        Tensor yb = run(*rnn_b, emb_b.forward(ids) * 1.0);                           // unfused
        EXPECT_LT(max_diff(ya, yb), 1e-12) << int(mode) << batch_first << pad;
        EXPECT_LT(max_diff(emb_a.weight.grad(), emb_b.weight.grad()), 1e-11) << int(mode) << batch_first << pad;
        if (pad >= 0) {
          EXPECT_EQ(max(abs(emb_a.weight.grad().select(0, pad))).item<double>(), 0.0);
        }
        auto pa = rnn_a->named_parameters(), pb = rnn_b->named_parameters();
        for (size_t i = 0; i < pa.size(); ++i)
          EXPECT_LT(max_diff(pa[i].second.grad(), pb[i].second.grad()), 1e-11)
              << int(mode) << batch_first << pad << " " << pa[i].first;
      }
}

TEST(RnnModule, EmbeddingFedLayerGradcheck) {
  manual_seed(4);
  const int64_t V = 3, D = 2, H = 2;
  Tensor ids = from_vector<int64_t>({0, 2, 1, 1, 0, 2, 2, 0, 1, 0, 0, 2}, {6, 2});  // 12 tokens >= 4 * V
  std::vector<Tensor> in{randn({V, D}, DType::f64).requires_grad_(), (randn({8, D}, DType::f64) * 0.5).requires_grad_(),
                         (randn({8, H}, DType::f64) * 0.5).requires_grad_(), randn({8}, DType::f64).requires_grad_()};
  EXPECT_TRUE(embedding_lookup_of(embedding(ids, in[0])).has_value());  // the analytic gradient takes the fused path
  auto f = [&](const std::vector<Tensor>& a) {
    RnnLayerOutput r = rnn_layer(RnnMode::lstm, embedding(ids, a[0]), Tensor(), Tensor(), a[1], a[2], a[3], Tensor());
    return sum(r.output * r.output) + sum(r.c_n);
  };
  GradcheckResult res = gradcheck(f, in);
  EXPECT_TRUE(res.ok) << res.message;
}

// Truncated BPTT: in the pattern 0 0 0 1 0 0 0 2 the token after "0 0 0" is the one that did not come 4 steps
// before. Windows of 6 (shifting by 6 mod 8 over the pattern) often start after that token: starting every batch
// from zeros leaves those predictions a guess; carrying the (detached) state from batch to batch does not.
TEST(RnnModule, TruncatedBpttLearnsBeyondTheWindow) {
  std::vector<int64_t> pattern{0, 0, 0, 1, 0, 0, 0, 2}, toks;
  for (int r = 0; r < 64; ++r) toks.insert(toks.end(), pattern.begin(), pattern.end());
  auto train = [&](bool stateful) {
    manual_seed(5);
    Embedding emb(3, 4);
    LSTM lstm(RNNOptions{.input_size = 4, .hidden_size = 16, .batch_first = true});
    Linear fc(16, 3);
    std::vector<Tensor> params;
    for (Module* m : std::initializer_list<Module*>{&emb, &lstm, &fc})
      for (const Tensor& p : m->parameters()) params.push_back(p);
    optim::Adam opt(params, {.lr = 1e-2});
    data::StreamBatches sb(from_vector(toks, {static_cast<int64_t>(toks.size())}), 4, 6);
    double late = 0;
    int counted = 0;
    for (int epoch = 0; epoch < 80; ++epoch) {
      std::optional<LSTMState> st;
      for (int64_t i = 0; i < sb.size(); ++i) {
        data::Example e = sb.get(i);
        auto [out, s] = lstm.forward(emb.forward(e.data), stateful ? st : std::nullopt);
        Tensor loss = F::cross_entropy(fc.forward(out).reshape({-1, 3}), e.target.reshape({-1}));
        opt.zero_grad();
        loss.backward();
        opt.step();
        st = LSTMState{s.h.detach(), s.c.detach()};
        EXPECT_TRUE(st->h.is_leaf() && !st->h.requires_grad());  // the graph ends at the batch
        if (epoch == 79) late += loss.item<double>(), ++counted;
      }
    }
    return late / counted;
  };
  const double stateless = train(false), stateful = train(true);
  EXPECT_GT(stateless, 0.2);  // about 1 prediction in 6 stays a coin toss between 1 and 2 (ln 2)
  EXPECT_LT(stateful, 0.4 * stateless) << "stateful " << stateful << ", stateless " << stateless;
}
