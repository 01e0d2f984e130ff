// Finite-difference gradient checks (f64) of the rnn_layer op for every cell, direction, layout, with and
// without initial state and bias, when only some outputs are used; of whole stacked modules; of the cells and of
// the embedding op.
#include <gtest/gtest.h>

#include <nerve/nerve.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/rnn.h>

using namespace nerve;
using namespace nerve::nn;

namespace {

const DType f64 = DType::f64;

int64_t gates(RnnMode m) { return m == RnnMode::lstm ? 4 : m == RnnMode::gru ? 3 : 1; }
const char* name(RnnMode m) {
  return m == RnnMode::lstm ? "lstm" : m == RnnMode::gru ? "gru" : m == RnnMode::rnn_tanh ? "rnn_tanh" : "rnn_relu";
}

// Which outputs feed the checked objective.
enum class Use { all, output_only, state_only };

void check_layer(RnnMode mode, bool batch_first, bool reverse, bool init, bool bias, Use use) {
  SCOPED_TRACE(testing::Message() << name(mode) << " batch_first=" << batch_first << " reverse=" << reverse
                                  << " init=" << init << " bias=" << bias << " use=" << int(use));
  const int64_t seq = 3, batch = 2, in = 3, H = 2, G = gates(mode);
  std::vector<Tensor> inputs{randn(batch_first ? Shape{batch, seq, in} : Shape{seq, batch, in}, f64),
                             init ? randn({batch, H}, f64) : Tensor(),
                             init && mode == RnnMode::lstm ? randn({batch, H}, f64) : Tensor(),
                             randn({G * H, in}, f64) * 0.6,
                             randn({G * H, H}, f64) * 0.6,
                             bias ? randn({G * H}, f64) * 0.5 : Tensor(),
                             bias ? randn({G * H}, f64) * 0.5 : Tensor()};
  std::vector<Tensor> defined;
  std::vector<int> slot;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined()) defined.push_back(inputs[i]), slot.push_back(int(i));
  auto f = [&](const std::vector<Tensor>& in_) {
    std::vector<Tensor> a(7);
    for (size_t k = 0; k < in_.size(); ++k) a[slot[k]] = in_[k];
    RnnLayerOutput r = rnn_layer(mode, a[0], a[1], a[2], a[3], a[4], a[5], a[6], batch_first, reverse);
    std::vector<Tensor> parts;
    if (use != Use::state_only) parts.push_back(r.output.reshape({-1}));
    if (use != Use::output_only) {
      parts.push_back(r.h_n.reshape({-1}));
      if (r.c_n.defined()) parts.push_back(r.c_n.reshape({-1}));
    }
    return cat(parts, 0);
  };
  GradcheckResult res = gradcheck(f, defined);
  EXPECT_TRUE(res.ok) << res.message << " (max abs err " << res.max_abs_err << ")";
}

}  // namespace

TEST(RnnGradcheck, LayerOpAllConfigurations) {
  manual_seed(7);
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh, RnnMode::rnn_relu})
    for (bool batch_first : {false, true})
      for (bool reverse : {false, true})
        for (bool init : {false, true}) check_layer(mode, batch_first, reverse, init, /*bias=*/true, Use::all);
}

TEST(RnnGradcheck, LayerOpWithoutBiasAndPartialOutputs) {
  manual_seed(8);
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh, RnnMode::rnn_relu}) {
    check_layer(mode, false, false, true, /*bias=*/false, Use::all);
    check_layer(mode, true, true, true, true, Use::output_only);
    check_layer(mode, false, true, true, true, Use::state_only);
  }
}

TEST(RnnGradcheck, StackedBidirectionalModules) {
  manual_seed(9);
  RNNOptions o{.input_size = 2, .hidden_size = 2, .num_layers = 2, .batch_first = true, .bidirectional = true,
               .dtype = f64};
  auto lstm = std::make_shared<LSTM>(o);
  auto gru = std::make_shared<GRU>(o);
  o.nonlinearity = Nonlinearity::relu;
  auto rnn = std::make_shared<RNN>(o);
  Tensor x = randn({2, 3, 2}, f64), h0 = randn({4, 2, 2}, f64), c0 = randn({4, 2, 2}, f64);
  auto res = gradcheck(
      [&](const std::vector<Tensor>& in) {
        auto [y, st] = lstm->forward(in[0], LSTMState{in[1], in[2]});
        return cat({y.reshape({-1}), st.h.reshape({-1}), st.c.reshape({-1})}, 0);
      },
      {x, h0, c0});
  EXPECT_TRUE(res.ok) << "LSTM: " << res.message;
  for (RNNBase* m : std::initializer_list<RNNBase*>{gru.get(), rnn.get()}) {
    res = gradcheck(
        [&](const std::vector<Tensor>& in) {
          auto [y, h] = m == gru.get() ? gru->forward(in[0], in[1]) : rnn->forward(in[0], in[1]);
          return cat({y.reshape({-1}), h.reshape({-1})}, 0);
        },
        {x, h0});
    EXPECT_TRUE(res.ok) << m->type_name() << ": " << res.message;
  }
}

TEST(RnnGradcheck, Cells) {
  manual_seed(10);
  auto lstm = std::make_shared<LSTMCell>(RNNCellOptions{.input_size = 3, .hidden_size = 2, .dtype = f64});
  auto gru = std::make_shared<GRUCell>(RNNCellOptions{.input_size = 3, .hidden_size = 2, .dtype = f64});
  auto rnn = std::make_shared<RNNCell>(RNNCellOptions{.input_size = 3, .hidden_size = 2, .dtype = f64});
  Tensor x = randn({2, 3}, f64), h = randn({2, 2}, f64), c = randn({2, 2}, f64);
  auto res = gradcheck(
      [&](const std::vector<Tensor>& in) {
        LSTMState s = lstm->forward(in[0], LSTMState{in[1], in[2]});
        return cat({s.h, s.c}, 0);
      },
      {x, h, c});
  EXPECT_TRUE(res.ok) << "LSTMCell: " << res.message;
  res = gradcheck([&](const std::vector<Tensor>& in) { return gru->forward(in[0], in[1]); }, {x, h});
  EXPECT_TRUE(res.ok) << "GRUCell: " << res.message;
  res = gradcheck([&](const std::vector<Tensor>& in) { return rnn->forward(in[0], in[1]); }, {x, h});
  EXPECT_TRUE(res.ok) << "RNNCell: " << res.message;
}

TEST(RnnGradcheck, Embedding) {
  manual_seed(11);
  Tensor ids = from_vector<int64_t>({1, 3, 3, 0, 4, 1}, {2, 3});
  auto res = gradcheck([&](const std::vector<Tensor>& in) { return nn::embedding(ids, in[0]); }, {randn({5, 4}, f64)});
  EXPECT_TRUE(res.ok) << res.message;
  // padding_idx: by design (PyTorch's) the padding row gets no gradient although it is read, so it is checked
  // exactly instead: zero for the padding row, the sum of its rows for the repeated id
  Tensor w = randn({5, 2}, f64).requires_grad_();
  Tensor g = from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  sum(nn::embedding(ids, w, 3) * g).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{7, 8, 1 + 11, 2 + 12, 0, 0, 0, 0, 9, 10}));
}

// Frozen weights and no biases: only dx, dh0, dc0 are wanted (the backward then skips the dG^T it builds for
// the weight gradients); they must equal those of the run that also computes the weight gradients.
TEST(RnnGradcheck, FrozenWeightsGiveTheSameInputGradients) {
  manual_seed(9);
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh}) {
    const int64_t seq = 4, batch = 20, in = 5, H = 17, G = gates(mode);
    Tensor x = randn({batch, seq, in}), h0 = randn({batch, H}), w_ih = randn({G * H, in}) * 0.4,
           w_hh = randn({G * H, H}) * 0.4, gy = randn({batch, seq, H});
    Tensor grads[2][2];
    for (int train_w = 0; train_w < 2; ++train_w) {
      Tensor xv = x.detach().requires_grad_(), hv = h0.detach().requires_grad_();
      Tensor wi = train_w ? w_ih.detach().requires_grad_() : w_ih, wh = train_w ? w_hh.detach().requires_grad_() : w_hh;
      RnnLayerOutput r = rnn_layer(mode, xv, hv, {}, wi, wh, {}, {}, /*batch_first=*/true, /*reverse=*/false);
      sum(r.output * gy).backward();
      grads[train_w][0] = xv.grad();
      grads[train_w][1] = hv.grad();
    }
    for (int k = 0; k < 2; ++k)
      EXPECT_EQ(max(abs(grads[0][k] - grads[1][k])).item<float>(), 0.f) << name(mode) << " input " << k;
  }
}
