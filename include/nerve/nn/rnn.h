// Recurrent layers: LSTM, GRU and RNN (PyTorch's nn.LSTM / nn.GRU / nn.RNN: same options, parameter names,
// layouts, gate order and initialization) and the single-step cells. Each layer and direction runs as one
// autograd node with a hand-written backward through time (see rnn_layer).
#pragma once
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nerve/nn/module.h"
#include "nerve/ops/sequence.h"

namespace nerve::nn {

// The op behind the layers, and its types (nerve/ops/sequence.h)
using nerve::RnnMode;
using nerve::RnnLayerOutput;
using nerve::rnn_layer;

enum class Nonlinearity : uint8_t { tanh, relu };

/// Options of LSTM, GRU and RNN (PyTorch's constructor arguments).
struct RNNOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  /// Input and output are (batch, seq, feature) instead of (seq, batch, feature); states are unaffected.
  bool batch_first = false;
  /// Dropout probability on the outputs of each layer except the last, in training mode.
  double dropout = 0.0;
  bool bidirectional = false;
  /// RNN only.
  Nonlinearity nonlinearity = Nonlinearity::tanh;
  DType dtype = DType::f32;
};

/// What LSTM, GRU and RNN share: parameters per layer and direction named as PyTorch's (weight_ih_l0 (G*H, in),
/// weight_hh_l0 (G*H, H), bias_ih_l0, bias_hh_l0, weight_ih_l0_reverse, ...), initialized U(-1/sqrt(H), 1/sqrt(H)),
/// and the stacking of layers and directions.
class RNNBase : public Module {
 public:
  /// The output only: (seq, batch, D*H), or (batch, seq, D*H) with batch_first (the Module interface).
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const RNNOptions& options() const { return options_; }
  RnnMode mode() const { return mode_; }
  /// w_ih, w_hh, b_ih, b_hh (biases undefined when bias=false) of layer `layer`, direction 0 or 1.
  std::array<Tensor, 4> layer_weights(int64_t layer, int64_t direction) const;

 protected:
  RNNBase(RnnMode mode, const RNNOptions& options);
  /// Runs every layer and direction. x: 2-D (unbatched) or 3-D; h0, c0: (L*D, batch, H) ((L*D, H) unbatched)
  /// or undefined. Returns output, h_n (L*D, batch, H) and, for LSTM, c_n.
  RnnLayerOutput run(const Tensor& x, const Tensor& h0, const Tensor& c0);

 private:
  void check_state(const Tensor& s, const char* what, const Tensor& x, int64_t batch, bool unbatched) const;

  RnnMode mode_;
  RNNOptions options_;
  std::vector<std::array<Tensor, 4>> weights_;  // index layer * D + direction
};

/// Hidden and cell state of an LSTM, each (num_layers * num_directions, batch, hidden_size).
struct LSTMState {
  Tensor h, c;
};

/// Long short-term memory (PyTorch's nn.LSTM).
///   auto lstm = std::make_shared<nn::LSTM>(nn::RNNOptions{.input_size = 128, .hidden_size = 256,
///                                                         .batch_first = true});
///   auto [out, state] = lstm->forward(x, std::nullopt);  // x (B, T, 128) -> out (B, T, 256), state.h (1, B, 256)
class LSTM : public RNNBase {
 public:
  explicit LSTM(const RNNOptions& options);
  LSTM(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);
  using RNNBase::forward;
  /// Output and final state; `state` is the initial (h0, c0), zeros when nullopt.
  std::pair<Tensor, LSTMState> forward(const Tensor& x, const std::optional<LSTMState>& state);
  std::string type_name() const override { return "LSTM"; }
};

/// Gated recurrent unit (PyTorch's nn.GRU).
///   auto gru = std::make_shared<nn::GRU>(16, 32);  auto [out, h_n] = gru->forward(x, Tensor());
class GRU : public RNNBase {
 public:
  explicit GRU(const RNNOptions& options);
  GRU(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);
  using RNNBase::forward;
  /// Output and final hidden state; h0 (L*D, batch, H) or undefined for zeros.
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& h0);
  std::string type_name() const override { return "GRU"; }
};

/// Elman RNN with tanh or relu (PyTorch's nn.RNN).
///   auto rnn = std::make_shared<nn::RNN>(nn::RNNOptions{.input_size = 8, .hidden_size = 16,
///                                                       .nonlinearity = nn::Nonlinearity::relu});
class RNN : public RNNBase {
 public:
  explicit RNN(const RNNOptions& options);
  RNN(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1);
  using RNNBase::forward;
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& h0);
  std::string type_name() const override { return "RNN"; }
};

// ---------------------------------------------------------------- single steps

/// Options of LSTMCell, GRUCell and RNNCell.
struct RNNCellOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  bool bias = true;
  Nonlinearity nonlinearity = Nonlinearity::tanh;  // RNNCell only
  DType dtype = DType::f32;
};

/// What the cells share: weight_ih (G*H, in), weight_hh (G*H, H), bias_ih, bias_hh (PyTorch's names).
class RNNCellBase : public Module {
 public:
  std::string extra_repr() const override;
  const RNNCellOptions& options() const { return options_; }
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNCellBase(RnnMode mode, const RNNCellOptions& options);
  /// One step: x (batch, in) or (in); h, c: (batch, H) or (H), or undefined for zeros.
  RnnLayerOutput step(const Tensor& x, const Tensor& h, const Tensor& c);

 private:
  RnnMode mode_;
  RNNCellOptions options_;
};

/// One LSTM step (PyTorch's nn.LSTMCell).  auto [h1, c1] = cell->forward(x, LSTMState{h0, c0});
class LSTMCell : public RNNCellBase {
 public:
  explicit LSTMCell(const RNNCellOptions& options);
  LSTMCell(int64_t input_size, int64_t hidden_size);
  /// The next hidden state only, from a zero state.
  Tensor forward(const Tensor& x) override { return forward(x, std::nullopt).h; }
  /// The next (h, c); state nullopt means zeros.
  LSTMState forward(const Tensor& x, const std::optional<LSTMState>& state);
  std::string type_name() const override { return "LSTMCell"; }
};

/// One GRU step (PyTorch's nn.GRUCell).  Tensor h1 = cell->forward(x, h0);
class GRUCell : public RNNCellBase {
 public:
  explicit GRUCell(const RNNCellOptions& options);
  GRUCell(int64_t input_size, int64_t hidden_size);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& h);
  std::string type_name() const override { return "GRUCell"; }
};

/// One Elman RNN step (PyTorch's nn.RNNCell).  Tensor h1 = cell->forward(x, h0);
class RNNCell : public RNNCellBase {
 public:
  explicit RNNCell(const RNNCellOptions& options);
  RNNCell(int64_t input_size, int64_t hidden_size);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& h);
  std::string type_name() const override { return "RNNCell"; }
};

}  // namespace nerve::nn
