// Recurrent kernels (no autograd): one layer and one direction of an LSTM, GRU or plain RNN over a whole
// sequence, forward and backward through time. The input projection of all steps is one GEMM, each step is
// one GEMM plus one fused gate kernel, and the weight gradients are one GEMM each over all steps.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/fast_math.h"

namespace nerve::cpu {

enum class RnnCell : uint8_t { lstm, gru, rnn_tanh, rnn_relu };

/// Gate blocks per cell in the weights: LSTM 4 (i, f, g, o), GRU 3 (r, z, n), plain RNN 1.
constexpr int64_t rnn_gate_count(RnnCell c) { return c == RnnCell::lstm ? 4 : c == RnnCell::gru ? 3 : 1; }
/// Width, in units of H, of the per-row activations the forward saves for backward:
/// LSTM i, f, g, o; GRU r, z, n and (W_hn h + b_hn); plain RNN none (its output is enough).
constexpr int64_t rnn_saved_width(RnnCell c) { return c == RnnCell::lstm || c == RnnCell::gru ? 4 : 0; }

/// Sizes and row layout. Every (rows, width) matrix below has one row per (t, b), rows = seq * batch:
///   row(t, b) = t * t_stride + b * b_stride
/// time-major (seq, batch, .): t_stride = batch, b_stride = 1; batch-first (batch, seq, .): t_stride = 1,
/// b_stride = seq. `reverse` runs t = seq-1 .. 0 (the backward direction of a bidirectional layer).
struct RnnDims {
  int64_t seq, batch, input, hidden;
  int64_t t_stride, b_stride;
  bool reverse;
};

template <class T>
struct RnnParams {
  const T* w_ih;  // (G*H, input)
  const T* w_hh;  // (G*H, H)
  const T* b_ih;  // (G*H) or null
  const T* b_hh;  // (G*H) or null
  // Input rows that are embedding lookups: the input projection is then the row ids[r] of table (V, G*H) =
  // E W_ih^T instead of a product per row (x and w_ih are not read for it).
  const T* table = nullptr;
  const int64_t* ids = nullptr;  // (rows), in x's row order
  // LSTM: the table rows already hold b_ih + b_hh; the gate kernel then reads each row's table row in place of
  // the bias (no copy of the looked-up rows: the step GEMM writes h W_hh^T alone)
  bool table_has_bias = false;
};

/// What the forward writes. y, gates and cells are kept for the backward.
template <class T>
struct RnnForwardOut {
  T* y;      // (rows, H): h_t of every step, the layer output
  T* gates;  // (rows, saved_width*H): saved activations; null for plain RNN
  T* cells;  // (rows, H): LSTM c_t; null otherwise
  T* hn;     // (B, H) final hidden state
  T* cn;     // (B, H) LSTM final cell state; null otherwise
};

/// Gradients the backward writes; any may be null when not needed.
template <class T>
struct RnnGrads {
  T* dx;     // (rows, input)
  T* dh0;    // (B, H)
  T* dc0;    // (B, H)
  T* dw_ih;  // (G*H, input)
  T* dw_hh;  // (G*H, H)
  T* db_ih;  // (G*H)
  T* db_hh;  // (G*H)
  // Embedding-lookup inputs: instead of dx and dw_ih, the gate gradients summed per token id,
  // dtable (vocab, G*H) = sum over rows r with ids[r] = v of dG[r]; the caller finishes dE and dW_ih from it.
  T* dtable = nullptr;
  const int64_t* ids = nullptr;
  int64_t vocab = 0;
};

/// Forward over the sequence. x: (rows, input); h0, c0: (B, H) or null for zeros.
template <class T>
void rnn_forward(RnnCell cell, const RnnDims& d, const T* x, const RnnParams<T>& p, const T* h0, const T* c0,
                 const RnnForwardOut<T>& out);

/// Elements of scratch memory rnn_backward needs.
int64_t rnn_backward_workspace(RnnCell cell, const RnnDims& d);

/// Backward through time. y, gates, cells: as written by rnn_forward for the same x, p, h0, c0.
/// dy: (rows, H) or null; dhn, dcn: (B, H) or null (null = zero gradient); work: rnn_backward_workspace elements.
template <class T>
void rnn_backward(RnnCell cell, const RnnDims& d, const T* x, const RnnParams<T>& p, const T* h0, const T* c0,
                  const T* y, const T* gates, const T* cells, const T* dy, const T* dhn, const T* dcn,
                  const RnnGrads<T>& g, T* work);

}  // namespace nerve::cpu
