// The rnn_layer op: one autograd node per layer and direction, backward through time by cpu::rnn_backward, and
// the Embedding-fed input projection through the (small) table. The modules are in src/nn/rnn.cpp.
#include "nerve/ops/sequence.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "backend/cpu/gemm.h"
#include "backend/cpu/rnn.h"
#include "ops/embedding_lookup.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

const char* rnn_mode_name(RnnMode m) { return m == RnnMode::lstm ? "LSTM" : m == RnnMode::gru ? "GRU" : "RNN"; }

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

const char* mode_name(RnnMode m) { return rnn_mode_name(m); }

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
    if (y.is_meta() || w_ih.is_meta() || (dy.defined() && dy.is_meta()) || (dhn.defined() && dhn.is_meta()) ||
        (dcn.defined() && dcn.is_meta())) {  // the meta device: shapes only
      auto m = [&](bool want, const Shape& s) { return want ? empty(s, dt, Device::meta) : Tensor(); };
      return {m(need(0), table ? emb.shape() : x.shape()), m(need(1), state), m(need(2), state),
              m(need(3), w_ih.shape()), m(need(4), w_hh.shape()), m(need(5), {w_ih.shape()[0]}),
              m(need(6), {w_ih.shape()[0]})};
    }
    Tensor dx = need(0) && !table ? empty(x.shape(), dt, Device::cpu) : Tensor();
    Tensor dtable = table && (need(0) || need(3)) ? empty({emb.shape()[0], w_ih.shape()[0]}, dt, Device::cpu) : Tensor();
    Tensor dh0 = need(1) ? empty(state, dt, Device::cpu) : Tensor();
    Tensor dc0 = need(2) ? empty(state, dt, Device::cpu) : Tensor();
    Tensor dw_ih = need(3) ? empty(w_ih.shape(), dt, Device::cpu) : Tensor();
    Tensor demb = table && need(0) ? empty(emb.shape(), dt, Device::cpu) : Tensor();
    Tensor dw_hh = need(4) ? empty(w_hh.shape(), dt, Device::cpu) : Tensor();
    Tensor db_ih = need(5) ? empty({w_ih.shape()[0]}, dt, Device::cpu) : Tensor();
    Tensor db_hh = need(6) ? empty({w_ih.shape()[0]}, dt, Device::cpu) : Tensor();
    Tensor work = empty({cpu::rnn_backward_workspace(to_cell(mode_), dims_)}, dt, Device::cpu);
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

int64_t rnn_gate_count(RnnMode mode) { return cpu::rnn_gate_count(to_cell(mode)); }

RnnLayerOutput rnn_layer(RnnMode mode, const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in,
                         const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                         bool batch_first, bool reverse) {
  NERVE_RECORD_FUNCTION("rnn_layer");
  const char* op = mode_name(mode);
  detail::check_arg(x_in, op, "input");
  detail::check_arg(w_ih, op, "weight_ih");
  detail::check_arg(w_hh, op, "weight_hh");
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
  bool meta = false;
  for (const Tensor* t : {&x, &h0, &c0, &w1, &w2, &b1, &b2}) meta = meta || (t->defined() && t->is_meta());
  if (meta) {  // the meta device: the outputs' shapes, and a backward that gives the gradients' shapes
    r.output = empty(batch_first ? Shape{batch, seq, H} : Shape{seq, batch, H}, dt, Device::meta);
    r.h_n = empty({batch, H}, dt, Device::meta);
    if (mode == RnnMode::lstm) r.c_n = empty({batch, H}, dt, Device::meta);
    if (any_requires_grad({&x, &h0, &c0, &w1, &w2, &b1, &b2})) {
      auto node = make_node<RnnLayerBackward>(mode, dims, x, h0, c0, w1, w2, r.output, Tensor(), Tensor(),
                                              std::nullopt);
      std::vector<Tensor*> outs{&r.output, &r.h_n};
      if (mode == RnnMode::lstm) outs.push_back(&r.c_n);
      set_history(node, std::vector<Tensor>{x, h0, c0, w1, w2, b1, b2}, outs);
    }
    return r;
  }
  r.output = empty(batch_first ? Shape{batch, seq, H} : Shape{seq, batch, H}, dt, Device::cpu);
  r.h_n = empty({batch, H}, dt, Device::cpu);
  if (mode == RnnMode::lstm) r.c_n = empty({batch, H}, dt, Device::cpu);
  Tensor gates = W ? empty({rows, W * H}, dt, Device::cpu) : Tensor();
  Tensor cells = mode == RnnMode::lstm ? empty({rows, H}, dt, Device::cpu) : Tensor();
  // x looked up from an embedding table much smaller than the batch of tokens (a character model): project the
  // table once, E W_ih^T (V, G*H), and gather its rows; the backward then works on the table as well
  // (tests/nn/test_rnn_*.cpp: equal to the unfused op, outputs and every gradient)
  const bool grad = any_requires_grad({&x, &h0, &c0, &w1, &w2, &b1, &b2});
  std::optional<EmbeddingLookup> lookup = grad ? embedding_lookup_of(x_in) : std::nullopt;
  if (lookup && (lookup->weight.dtype() != dt || lookup->weight.shape()[0] * 4 > rows ||
                 lookup->ids.numel() != rows || !lookup->weight.is_contiguous()))
    lookup.reset();
  Tensor table = lookup ? empty({lookup->weight.shape()[0], G * H}, dt, Device::cpu) : Tensor();
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

}  // namespace nerve
