// Recurrent layers: the rnn_layer op (one autograd node per layer and direction, backward through time by
// cpu::rnn_backward), the LSTM / GRU / RNN modules stacking it over layers and directions, and the cells.
#include "nerve/nn/rnn.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "backend/cpu/gemm.h"
#include "backend/cpu/rnn.h"
#include "nn/embedding_lookup.h"
#include "nerve/nn/layers.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve::nn {

namespace {

cpu::RnnCell to_cell(RnnMode m) {
  switch (m) {
    case RnnMode::lstm: return cpu::RnnCell::lstm;
    case RnnMode::gru: return cpu::RnnCell::gru;
    case RnnMode::rnn_tanh: return cpu::RnnCell::rnn_tanh;
    case RnnMode::rnn_relu: return cpu::RnnCell::rnn_relu;
  }
  return cpu::RnnCell::lstm;
}

const char* mode_name(RnnMode m) { return m == RnnMode::lstm ? "LSTM" : m == RnnMode::gru ? "GRU" : "RNN"; }

template <class T>
const T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* mut_ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The backward of rnn_layer. Inputs: x, h0, c0, w_ih, w_hh, b_ih, b_hh; outputs: y, h_n (, c_n).
class RnnLayerBackward : public Node {
 public:
  RnnLayerBackward(RnnMode mode, const cpu::RnnDims& dims, const Tensor& x, const Tensor& h0, const Tensor& c0,
                   const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, Tensor gates, Tensor cells,
                   const std::optional<EmbeddingLookup>& lookup)
      : mode_(mode), dims_(dims), x_(x), h0_(h0), c0_(c0), w_ih_(w_ih), w_hh_(w_hh), y_(y, true),
        gates_(std::move(gates)), cells_(std::move(cells)) {
    if (lookup) {
      ids_ = lookup->ids;
      table_ = SavedTensor(lookup->weight);
      padding_idx_ = lookup->padding_idx;
    }
  }
  const char* name() const override {
    return mode_ == RnnMode::lstm ? "LstmBackward" : mode_ == RnnMode::gru ? "GruBackward" : "RnnBackward";
  }
  void release() override {
    for (SavedTensor* s : {&x_, &h0_, &c0_, &w_ih_, &w_hh_, &y_, &table_}) s->reset();
    gates_ = cells_ = ids_ = Tensor();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor x = x_.unpack(this), h0 = h0_.unpack(this), c0 = c0_.unpack(this);
    Tensor w_ih = w_ih_.unpack(this), w_hh = w_hh_.unpack(this), y = y_.unpack(this);
    const DType dt = w_ih.dtype();
    auto grad_in = [&](size_t i) {
      return i < grads.size() && grads[i].defined() ? grads[i].to(dt).contiguous() : Tensor();
    };
    Tensor dy = grad_in(0), dhn = grad_in(1), dcn = grad_in(2);
    auto need = [&](size_t i) { return i < next_edges.size() && next_edges[i].fn != nullptr; };
    const Shape state{dims_.batch, dims_.hidden};
    // input 0 is x, or the embedding table x was looked up from (then dE and dW_ih come from the per-token
    // sums of the gate gradients: two products with the table instead of two with every token)
    const bool table = ids_.defined();
    Tensor emb = table ? table_.unpack(this) : Tensor();
    Tensor dx = need(0) && !table ? empty(x.shape(), dt) : Tensor();
    Tensor dtable = table && (need(0) || need(3)) ? empty({emb.shape()[0], w_ih.shape()[0]}, dt) : Tensor();
    Tensor dh0 = need(1) ? empty(state, dt) : Tensor();
    Tensor dc0 = need(2) ? empty(state, dt) : Tensor();
    Tensor dw_ih = need(3) ? empty(w_ih.shape(), dt) : Tensor();
    Tensor demb = table && need(0) ? empty(emb.shape(), dt) : Tensor();
    Tensor dw_hh = need(4) ? empty(w_hh.shape(), dt) : Tensor();
    Tensor db_ih = need(5) ? empty({w_ih.shape()[0]}, dt) : Tensor();
    Tensor db_hh = need(6) ? empty({w_ih.shape()[0]}, dt) : Tensor();
    Tensor work = empty({cpu::rnn_backward_workspace(to_cell(mode_), dims_)}, dt);
    visit_floating(dt, name(), [&](auto tag) {
      using T = decltype(tag);
      cpu::RnnParams<T> p{w_ih.data<T>(), w_hh.data<T>(), nullptr, nullptr};
      cpu::RnnGrads<T> g{mut_ptr<T>(dx),    mut_ptr<T>(dh0),   mut_ptr<T>(dc0),  table ? nullptr : mut_ptr<T>(dw_ih),
                         mut_ptr<T>(dw_hh), mut_ptr<T>(db_ih), mut_ptr<T>(db_hh)};
      if (dtable.defined()) {
        g.dtable = dtable.data<T>();
        g.ids = ids_.data<int64_t>();
        g.vocab = emb.shape()[0];
      }
      cpu::rnn_backward<T>(to_cell(mode_), dims_, ptr<T>(x), p, ptr<T>(h0), ptr<T>(c0), y.data<T>(),
                           ptr<T>(gates_), ptr<T>(cells_), ptr<T>(dy), ptr<T>(dhn), ptr<T>(dcn), g,
                           work.data<T>());
      if (dtable.defined()) {
        const int64_t V = emb.shape()[0], D = emb.shape()[1], GH = w_ih.shape()[0];
        // dW_ih (G*H, D) = dtable^T E;  dE (V, D) = dtable W_ih, the padding row excluded
        if (dw_ih.defined())
          cpu::gemm(true, false, GH, D, V, T(1), dtable.data<T>(), GH, emb.data<T>(), D, T(0), dw_ih.data<T>(), D);
        if (demb.defined()) {
          cpu::gemm(false, false, V, D, GH, T(1), dtable.data<T>(), GH, w_ih.data<T>(), D, T(0), demb.data<T>(), D);
          if (padding_idx_ >= 0) std::fill(demb.data<T>() + padding_idx_ * D, demb.data<T>() + (padding_idx_ + 1) * D, T(0));
        }
      }
    });
    return {table ? demb : dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh};
  }

 private:
  RnnMode mode_;
  cpu::RnnDims dims_;
  SavedTensor x_, h0_, c0_, w_ih_, w_hh_, y_;
  Tensor gates_, cells_;  // internal activations, never seen by the user
  Tensor ids_;            // embedding-lookup input: the token ids (defined only then) and the table
  SavedTensor table_;
  int64_t padding_idx_ = -1;
};

void check_state_2d(const Tensor& s, const char* what, const char* op, int64_t batch, int64_t hidden, DType dt) {
  if (!s.defined()) return;
  NERVE_CHECK(s.dim() == 2 && s.shape()[0] == batch && s.shape()[1] == hidden, op, ": expected ", what,
              " of size [", batch, ", ", hidden, "], got ", detail::describe(s));
  NERVE_CHECK(s.dtype() == dt, op, ": ", what, " dtype ", dtype_name(s.dtype()), " != input dtype ", dtype_name(dt));
}

}  // namespace

RnnLayerOutput rnn_layer(RnnMode mode, const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in,
                         const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                         bool batch_first, bool reverse) {
  NERVE_RECORD_FUNCTION("rnn_layer");
  const char* op = mode_name(mode);
  const int64_t G = cpu::rnn_gate_count(to_cell(mode));
  NERVE_CHECK(x_in.dim() == 3, op, ": expected a 3-D input (seq, batch, feature)",
              batch_first ? " (batch_first: (batch, seq, feature))" : "", ", got ", detail::describe(x_in));
  const DType dt = x_in.dtype();
  NERVE_CHECK(is_floating(dt), op, ": expected a floating input (f32 or f64), got ", detail::describe(x_in));
  NERVE_CHECK(w_ih.dim() == 2 && w_ih.shape()[0] % G == 0 && w_ih.shape()[0] > 0, op, ": weight_ih must be (",
              G, "*hidden_size, input_size), got ", detail::describe(w_ih));
  const int64_t H = w_ih.shape()[0] / G, in = x_in.shape()[2];
  NERVE_CHECK(w_ih.shape()[1] == in, op, ": input.size(-1) must be equal to input_size. Expected ", w_ih.shape()[1],
              ", got ", in, " (input ", detail::describe(x_in), ", weight_ih ", detail::describe(w_ih), ")");
  NERVE_CHECK(w_hh.dim() == 2 && w_hh.shape()[0] == G * H && w_hh.shape()[1] == H, op, ": weight_hh must be [",
              G * H, ", ", H, "], got ", detail::describe(w_hh));
  for (const Tensor* b : {&b_ih, &b_hh})
    if (b->defined())
      NERVE_CHECK(b->dim() == 1 && b->shape()[0] == G * H && b->dtype() == dt, op, ": biases must be [", G * H,
                  "] ", dtype_name(dt), ", got ", detail::describe(*b));
  NERVE_CHECK(w_ih.dtype() == dt && w_hh.dtype() == dt, op, ": input dtype ", dtype_name(dt),
              " != weight dtype ", dtype_name(w_ih.dtype()), " (convert the input or build the layer with .dtype)");
  const int64_t seq = x_in.shape()[batch_first ? 1 : 0], batch = x_in.shape()[batch_first ? 0 : 1];
  NERVE_CHECK(seq > 0 && batch > 0, op, ": expected a non-empty sequence and batch, got ", detail::describe(x_in));
  check_state_2d(h0_in, "hidden state h0", op, batch, H, dt);
  NERVE_CHECK(mode == RnnMode::lstm || !c0_in.defined(), op, ": only an LSTM has a cell state c0");
  check_state_2d(c0_in, "cell state c0", op, batch, H, dt);

  Tensor x = x_in.contiguous(), w1 = w_ih.contiguous(), w2 = w_hh.contiguous();
  Tensor b1 = b_ih.defined() ? b_ih.contiguous() : b_ih, b2 = b_hh.defined() ? b_hh.contiguous() : b_hh;
  Tensor h0 = h0_in.defined() ? h0_in.contiguous() : h0_in, c0 = c0_in.defined() ? c0_in.contiguous() : c0_in;
  const cpu::RnnCell cell = to_cell(mode);
  const cpu::RnnDims dims{seq, batch, in, H, batch_first ? 1 : batch, batch_first ? seq : 1, reverse};
  const int64_t rows = seq * batch, W = cpu::rnn_saved_width(cell);
  RnnLayerOutput r;
  r.output = empty(batch_first ? Shape{batch, seq, H} : Shape{seq, batch, H}, dt);
  r.h_n = empty({batch, H}, dt);
  if (mode == RnnMode::lstm) r.c_n = empty({batch, H}, dt);
  Tensor gates = W ? empty({rows, W * H}, dt) : Tensor();
  Tensor cells = mode == RnnMode::lstm ? empty({rows, H}, dt) : Tensor();
  // x looked up from an embedding table much smaller than the batch of tokens (a character model): project the
  // table once, E W_ih^T (V, G*H), and gather its rows; the backward then works on the table as well
  // (tests/rnn: equal to the unfused op, outputs and every gradient)
  const bool grad = any_requires_grad({&x, &h0, &c0, &w1, &w2, &b1, &b2});
  std::optional<EmbeddingLookup> lookup = grad ? embedding_lookup_of(x_in) : std::nullopt;
  if (lookup && (lookup->weight.dtype() != dt || lookup->weight.shape()[0] * 4 > rows ||
                 lookup->ids.numel() != rows || !lookup->weight.is_contiguous()))
    lookup.reset();
  Tensor table = lookup ? empty({lookup->weight.shape()[0], G * H}, dt) : Tensor();
  visit_floating(dt, op, [&](auto tag) {
    using T = decltype(tag);
    cpu::RnnParams<T> p{w1.data<T>(), w2.data<T>(), ptr<T>(b1), ptr<T>(b2)};
    if (lookup) {
      const int64_t V = lookup->weight.shape()[0];
      cpu::gemm(false, true, V, G * H, in, T(1), lookup->weight.data<T>(), in, w1.data<T>(), in, T(0), table.data<T>(),
                G * H);
      p.table = table.data<T>();
      p.ids = lookup->ids.data<int64_t>();
      if (cell == cpu::RnnCell::lstm) {  // b_ih + b_hh into every row: the gate kernel reads the row in place
        T* t = table.data<T>();
        const T *bi = ptr<T>(b1), *bh = ptr<T>(b2);
        for (int64_t v = 0; v < V; ++v)
          for (int64_t j = 0; j < G * H; ++j) t[v * G * H + j] += (bi ? bi[j] : T(0)) + (bh ? bh[j] : T(0));
        p.table_has_bias = true;
      }
    }
    cpu::RnnForwardOut<T> out{r.output.data<T>(), mut_ptr<T>(gates), mut_ptr<T>(cells), r.h_n.data<T>(),
                              mut_ptr<T>(r.c_n)};
    cpu::rnn_forward<T>(cell, dims, x.data<T>(), p, ptr<T>(h0), ptr<T>(c0), out);
  });
  if (grad) {
    // an embedding-fed layer's backward never reads x (its products go through the table): not kept
    auto node = make_node<RnnLayerBackward>(mode, dims, lookup ? Tensor() : x, h0, c0, w1, w2, r.output, gates, cells,
                                            lookup);
    std::vector<Tensor*> outs{&r.output, &r.h_n};
    if (mode == RnnMode::lstm) outs.push_back(&r.c_n);
    set_history(node, std::vector<Tensor>{lookup ? lookup->weight : x, h0, c0, w1, w2, b1, b2}, outs);
  }
  return r;
}

// ------------------------------------------------------------------ LSTM / GRU / RNN

RNNBase::RNNBase(RnnMode mode, const RNNOptions& o) : mode_(mode), options_(o) {
  const char* op = mode_name(mode);
  NERVE_CHECK(o.input_size > 0 && o.hidden_size > 0, op, ": input_size and hidden_size must be positive, got ",
              o.input_size, " and ", o.hidden_size);
  NERVE_CHECK(o.num_layers >= 1, op, ": num_layers must be at least 1, got ", o.num_layers);
  NERVE_CHECK(o.dropout >= 0 && o.dropout <= 1, op, ": dropout must be in [0, 1], got ", o.dropout);
  NERVE_CHECK(is_floating(o.dtype), op, ": dtype must be f32 or f64, got ", dtype_name(o.dtype));
  const int64_t G = cpu::rnn_gate_count(to_cell(mode)), H = o.hidden_size, D = o.bidirectional ? 2 : 1;
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
              detail::describe(s), " for input ", detail::describe(x));
  NERVE_CHECK(s.dtype() == x.dtype(), type_name(), ": ", what, " dtype ", dtype_name(s.dtype()),
              " != input dtype ", dtype_name(x.dtype()));
}

RnnLayerOutput RNNBase::run(const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in) {
  const RNNOptions& o = options_;
  if (!x_in.defined()) [[unlikely]]
    nerve::detail::throw_undefined_arg(type_name().c_str(), "input");
  NERVE_CHECK(x_in.dim() == 2 || x_in.dim() == 3, type_name(), ": expected a 3-D input (",
              o.batch_first ? "batch, seq" : "seq, batch", ", feature) or 2-D unbatched (seq, feature), got ",
              detail::describe(x_in));
  NERVE_CHECK(x_in.shape().back() == o.input_size, type_name(), ": input.size(-1) must be equal to input_size. Expected ",
              o.input_size, ", got ", x_in.shape().back(), " (input ", detail::describe(x_in), ")");
  NERVE_CHECK(x_in.dtype() == o.dtype, type_name(), ": input dtype ", dtype_name(x_in.dtype()),
              " != parameter dtype ", dtype_name(o.dtype));
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
  if (o.dropout != 0) s += ", dropout=" + detail::str_cat(o.dropout);
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
  const int64_t G = cpu::rnn_gate_count(to_cell(mode)), H = o.hidden_size;
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
              detail::describe(x_in));
  NERVE_CHECK(x_in.shape().back() == o.input_size, type_name(), ": input.size(-1) must be equal to input_size. Expected ",
              o.input_size, ", got ", x_in.shape().back(), " (input ", detail::describe(x_in), ")");
  NERVE_CHECK(x_in.dtype() == o.dtype, type_name(), ": input dtype ", dtype_name(x_in.dtype()), " != parameter dtype ",
              dtype_name(o.dtype));
  const bool unbatched = x_in.dim() == 1;
  const int64_t batch = unbatched ? 1 : x_in.shape()[0];
  for (auto [s, what] : {std::pair{&h_in, "hidden state"}, std::pair{&c_in, "cell state"}}) {
    if (!s->defined()) continue;
    Shape want = unbatched ? Shape{o.hidden_size} : Shape{batch, o.hidden_size};
    NERVE_CHECK(s->shape() == want, type_name(), ": expected ", what, " of size ", to_string(want), ", got ",
                detail::describe(*s), " for input ", detail::describe(x_in));
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
