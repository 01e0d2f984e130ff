// Recurrent layers: the LSTM / GRU / RNN modules stacking the rnn_layer op (src/ops/rnn.cpp) over layers and
// directions, and the cells.
#include "nerve/nn/rnn.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "nerve/nn/layers.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve::nn {

// ------------------------------------------------------------------ LSTM / GRU / RNN

RNNBase::RNNBase(RnnMode mode, const RNNOptions& o) : mode_(mode), options_(o) {
  const char* op = rnn_mode_name(mode);
  NERVE_CHECK(o.input_size > 0 && o.hidden_size > 0, op, ": input_size and hidden_size must be positive, got ",
              o.input_size, " and ", o.hidden_size);
  NERVE_CHECK(o.num_layers >= 1, op, ": num_layers must be at least 1, got ", o.num_layers);
  NERVE_CHECK(o.dropout >= 0 && o.dropout <= 1, op, ": dropout must be in [0, 1], got ", o.dropout);
  NERVE_CHECK(is_floating(o.dtype), op, ": dtype must be f32 or f64, got ", dtype_name(o.dtype));
  const int64_t G = rnn_gate_count(mode), H = o.hidden_size, D = o.bidirectional ? 2 : 1;
  const double k = 1.0 / std::sqrt(static_cast<double>(H));  // PyTorch: U(-1/sqrt(H), 1/sqrt(H)) for all
  for (int64_t l = 0; l < o.num_layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t in = l == 0 ? o.input_size : H * D;
      const std::string sfx = "_l" + std::to_string(l) + (d ? "_reverse" : "");
      std::array<Tensor, 4> w;
      w[0] = register_parameter("weight_ih" + sfx, uniform({G * H, in}, -k, k, o.dtype));
      w[1] = register_parameter("weight_hh" + sfx, uniform({G * H, H}, -k, k, o.dtype));
      if (o.bias) {
        w[2] = register_parameter("bias_ih" + sfx, uniform({G * H}, -k, k, o.dtype));
        w[3] = register_parameter("bias_hh" + sfx, uniform({G * H}, -k, k, o.dtype));
      }
      weights_.push_back(w);
    }
}

std::array<Tensor, 4> RNNBase::layer_weights(int64_t layer, int64_t direction) const {
  const int64_t D = options_.bidirectional ? 2 : 1;
  NERVE_CHECK(layer >= 0 && layer < options_.num_layers && direction >= 0 && direction < D, type_name(),
              ": no layer ", layer, " direction ", direction, " (num_layers ", options_.num_layers,
              ", bidirectional ", options_.bidirectional, ")");
  return weights_[layer * D + direction];
}

void RNNBase::check_state(const Tensor& s, const char* what, const Tensor& x, int64_t batch, bool unbatched) const {
  if (!s.defined()) return;
  const int64_t LD = options_.num_layers * (options_.bidirectional ? 2 : 1);
  Shape want = unbatched ? Shape{LD, options_.hidden_size} : Shape{LD, batch, options_.hidden_size};
  NERVE_CHECK(s.shape() == want, type_name(), ": expected ", what, " of size ", to_string(want),
              " (num_layers * num_directions, ", unbatched ? "" : "batch, ", "hidden_size), got ",
              nerve::detail::describe(s), " for input ", nerve::detail::describe(x));
  NERVE_CHECK(s.dtype() == x.dtype(), type_name(), ": ", what, " dtype ", dtype_name(s.dtype()),
              " != input dtype ", dtype_name(x.dtype()));
}

RnnLayerOutput RNNBase::run(const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in) {
  const RNNOptions& o = options_;
  if (!x_in.defined()) [[unlikely]]
    nerve::detail::throw_undefined_arg(type_name().c_str(), "input");
  NERVE_CHECK(x_in.dim() == 2 || x_in.dim() == 3, type_name(), ": expected a 3-D input (",
              o.batch_first ? "batch, seq" : "seq, batch", ", feature) or 2-D unbatched (seq, feature), got ",
              nerve::detail::describe(x_in));
  NERVE_CHECK(x_in.shape().back() == o.input_size, type_name(), ": input.size(-1) must be equal to input_size. Expected ",
              o.input_size, ", got ", x_in.shape().back(), " (input ", nerve::detail::describe(x_in), ")");
  // the weights' dtype, not options_.dtype: Python's Module.double()/.to(dtype) convert the parameters in place
  const DType wd = layer_weights(0, 0)[0].dtype();
  NERVE_CHECK(x_in.dtype() == wd, type_name(), ": input dtype ", dtype_name(x_in.dtype()),
              " != parameter dtype ", dtype_name(wd));
  const bool unbatched = x_in.dim() == 2;
  Tensor x = unbatched ? x_in.unsqueeze(o.batch_first ? 0 : 1) : x_in;
  const int64_t batch = x.shape()[o.batch_first ? 0 : 1];
  check_state(h0_in, "hidden state h0", x_in, batch, unbatched);
  NERVE_CHECK(mode_ == RnnMode::lstm || !c0_in.defined(), type_name(), ": only an LSTM has a cell state");
  check_state(c0_in, "cell state c0", x_in, batch, unbatched);
  Tensor h0 = h0_in.defined() && unbatched ? h0_in.unsqueeze(1) : h0_in;
  Tensor c0 = c0_in.defined() && unbatched ? c0_in.unsqueeze(1) : c0_in;
  const int64_t D = o.bidirectional ? 2 : 1;
  std::vector<Tensor> hs, cs;
  Tensor layer_in = x;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    std::vector<Tensor> outs;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t idx = l * D + d;
      const auto& w = weights_[idx];
      RnnLayerOutput r = rnn_layer(mode_, layer_in, h0.defined() ? h0.select(0, idx) : Tensor(),
                                   c0.defined() ? c0.select(0, idx) : Tensor(), w[0], w[1], w[2], w[3],
                                   o.batch_first, d == 1);
      outs.push_back(r.output);
      hs.push_back(r.h_n);
      cs.push_back(r.c_n);
    }
    layer_in = D == 1 ? outs[0] : cat(outs, -1);
    if (o.dropout > 0 && l + 1 < o.num_layers) layer_in = F::dropout(layer_in, o.dropout, is_training());
  }
  RnnLayerOutput out;
  out.output = unbatched ? layer_in.squeeze(o.batch_first ? 0 : 1) : layer_in;
  out.h_n = hs.size() == 1 ? hs[0].unsqueeze(0) : stack(hs, 0);
  if (mode_ == RnnMode::lstm) out.c_n = cs.size() == 1 ? cs[0].unsqueeze(0) : stack(cs, 0);
  if (unbatched) {
    out.h_n = out.h_n.squeeze(1);
    if (out.c_n.defined()) out.c_n = out.c_n.squeeze(1);
  }
  return out;
}

Tensor RNNBase::forward(const Tensor& x) { return run(x, Tensor(), Tensor()).output; }

std::string RNNBase::extra_repr() const {
  const RNNOptions& o = options_;
  std::string s = std::to_string(o.input_size) + ", " + std::to_string(o.hidden_size);
  if (o.num_layers != 1) s += ", num_layers=" + std::to_string(o.num_layers);
  if (mode_ == RnnMode::rnn_relu) s += ", nonlinearity='relu'";
  if (!o.bias) s += ", bias=False";
  if (o.batch_first) s += ", batch_first=True";
  if (o.dropout != 0) s += ", dropout=" + nerve::detail::str_cat(o.dropout);
  if (o.bidirectional) s += ", bidirectional=True";
  return s;
}

LSTM::LSTM(const RNNOptions& options) : RNNBase(RnnMode::lstm, options) {}
LSTM::LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers)
    : LSTM(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}

std::pair<Tensor, LSTMState> LSTM::forward(const Tensor& x, const std::optional<LSTMState>& state) {
  RnnLayerOutput r = run(x, state ? state->h : Tensor(), state ? state->c : Tensor());
  return {r.output, LSTMState{r.h_n, r.c_n}};
}

GRU::GRU(const RNNOptions& options) : RNNBase(RnnMode::gru, options) {}
GRU::GRU(int64_t input_size, int64_t hidden_size, int64_t num_layers)
    : GRU(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}

std::pair<Tensor, Tensor> GRU::forward(const Tensor& x, const Tensor& h0) {
  RnnLayerOutput r = run(x, h0, Tensor());
  return {r.output, r.h_n};
}

RNN::RNN(const RNNOptions& options)
    : RNNBase(options.nonlinearity == Nonlinearity::relu ? RnnMode::rnn_relu : RnnMode::rnn_tanh, options) {}
RNN::RNN(int64_t input_size, int64_t hidden_size, int64_t num_layers)
    : RNN(RNNOptions{.input_size = input_size, .hidden_size = hidden_size, .num_layers = num_layers}) {}

std::pair<Tensor, Tensor> RNN::forward(const Tensor& x, const Tensor& h0) {
  RnnLayerOutput r = run(x, h0, Tensor());
  return {r.output, r.h_n};
}

// ------------------------------------------------------------------ cells: one step of rnn_layer

RNNCellBase::RNNCellBase(RnnMode mode, const RNNCellOptions& o) : mode_(mode), options_(o) {
  const char* op = mode == RnnMode::lstm ? "LSTMCell" : mode == RnnMode::gru ? "GRUCell" : "RNNCell";
  NERVE_CHECK(o.input_size > 0 && o.hidden_size > 0, op, ": input_size and hidden_size must be positive, got ",
              o.input_size, " and ", o.hidden_size);
  NERVE_CHECK(is_floating(o.dtype), op, ": dtype must be f32 or f64, got ", dtype_name(o.dtype));
  const int64_t G = rnn_gate_count(mode), H = o.hidden_size;
  const double k = 1.0 / std::sqrt(static_cast<double>(H));
  weight_ih = register_parameter("weight_ih", uniform({G * H, o.input_size}, -k, k, o.dtype));
  weight_hh = register_parameter("weight_hh", uniform({G * H, H}, -k, k, o.dtype));
  if (o.bias) {
    bias_ih = register_parameter("bias_ih", uniform({G * H}, -k, k, o.dtype));
    bias_hh = register_parameter("bias_hh", uniform({G * H}, -k, k, o.dtype));
  }
}

RnnLayerOutput RNNCellBase::step(const Tensor& x_in, const Tensor& h_in, const Tensor& c_in) {
  if (!x_in.defined()) [[unlikely]]
    nerve::detail::throw_undefined_arg(type_name().c_str(), "input");
  NERVE_RECORD_FUNCTION("rnn_cell");
  const RNNCellOptions& o = options_;
  NERVE_CHECK(x_in.dim() == 1 || x_in.dim() == 2, type_name(), ": expected input (batch, input_size) or (input_size), got ",
              nerve::detail::describe(x_in));
  NERVE_CHECK(x_in.shape().back() == o.input_size, type_name(), ": input.size(-1) must be equal to input_size. Expected ",
              o.input_size, ", got ", x_in.shape().back(), " (input ", nerve::detail::describe(x_in), ")");
  NERVE_CHECK(x_in.dtype() == weight_ih.dtype(), type_name(), ": input dtype ", dtype_name(x_in.dtype()),
              " != parameter dtype ", dtype_name(weight_ih.dtype()));
  const bool unbatched = x_in.dim() == 1;
  const int64_t batch = unbatched ? 1 : x_in.shape()[0];
  for (auto [s, what] : {std::pair{&h_in, "hidden state"}, std::pair{&c_in, "cell state"}}) {
    if (!s->defined()) continue;
    Shape want = unbatched ? Shape{o.hidden_size} : Shape{batch, o.hidden_size};
    NERVE_CHECK(s->shape() == want, type_name(), ": expected ", what, " of size ", to_string(want), ", got ",
                nerve::detail::describe(*s), " for input ", nerve::detail::describe(x_in));
  }
  Tensor x = unbatched ? x_in.reshape({1, 1, o.input_size}) : x_in.unsqueeze(0);
  Tensor h = h_in.defined() && unbatched ? h_in.unsqueeze(0) : h_in;
  Tensor c = c_in.defined() && unbatched ? c_in.unsqueeze(0) : c_in;
  RnnLayerOutput r = rnn_layer(mode_, x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
  if (unbatched) {
    r.h_n = r.h_n.squeeze(0);
    if (r.c_n.defined()) r.c_n = r.c_n.squeeze(0);
  }
  return r;
}

std::string RNNCellBase::extra_repr() const {
  std::string s = std::to_string(options_.input_size) + ", " + std::to_string(options_.hidden_size);
  if (!options_.bias) s += ", bias=False";
  if (mode_ == RnnMode::rnn_relu) s += ", nonlinearity='relu'";
  return s;
}

LSTMCell::LSTMCell(const RNNCellOptions& options) : RNNCellBase(RnnMode::lstm, options) {}
LSTMCell::LSTMCell(int64_t input_size, int64_t hidden_size)
    : LSTMCell(RNNCellOptions{.input_size = input_size, .hidden_size = hidden_size}) {}

LSTMState LSTMCell::forward(const Tensor& x, const std::optional<LSTMState>& state) {
  RnnLayerOutput r = step(x, state ? state->h : Tensor(), state ? state->c : Tensor());
  return {r.h_n, r.c_n};
}

GRUCell::GRUCell(const RNNCellOptions& options) : RNNCellBase(RnnMode::gru, options) {}
GRUCell::GRUCell(int64_t input_size, int64_t hidden_size)
    : GRUCell(RNNCellOptions{.input_size = input_size, .hidden_size = hidden_size}) {}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) { return step(x, h, Tensor()).h_n; }

RNNCell::RNNCell(const RNNCellOptions& options)
    : RNNCellBase(options.nonlinearity == Nonlinearity::relu ? RnnMode::rnn_relu : RnnMode::rnn_tanh, options) {}
RNNCell::RNNCell(int64_t input_size, int64_t hidden_size)
    : RNNCell(RNNCellOptions{.input_size = input_size, .hidden_size = hidden_size}) {}

Tensor RNNCell::forward(const Tensor& x, const Tensor& h) { return step(x, h, Tensor()).h_n; }

}  // namespace nerve::nn
