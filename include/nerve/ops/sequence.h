// Sequence ops: the embedding lookup and the recurrent layer op (LSTM, GRU, Elman RNN over a whole sequence as
// one autograd node). The nn modules (nerve/nn/embedding.h, nerve/nn/rnn.h) are built on them.
#pragma once
#include <cstdint>
#include <optional>

#include "nerve/tensor/tensor.h"

namespace nerve {

/// The embedding op: out[..., :] = weight[indices[...], :]. indices: i64 or i32 of any shape; weight: (V, D)
/// floating; out: (*indices.shape, D). The backward scatter-adds rows of the gradient into a dense (V, D)
/// gradient; the padding_idx row gets none.
///   Tensor e = embedding(ids, weight);  // ids (32, 64) -> (32, 64, 128)
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx = std::nullopt);

/// Rescales, in place and without recording gradients, the rows of weight that `indices` uses so that their
/// p-norm is at most max_norm (PyTorch's embedding_renorm_).
void embedding_renorm_(Tensor& weight, const Tensor& indices, double max_norm, double norm_type = 2.0);

/// The cell: LSTM (gates i, f, g, o), GRU (r, z, n), or Elman RNN with tanh or relu.
enum class RnnMode : uint8_t { lstm, gru, rnn_tanh, rnn_relu };

/// Gates per step: 4 (LSTM), 3 (GRU), 1 (RNN); and the layer's name for messages ("LSTM", "GRU", "RNN").
int64_t rnn_gate_count(RnnMode mode);
const char* rnn_mode_name(RnnMode mode);

/// Outputs of one layer and direction: output (seq, batch, H) (batch-first: (batch, seq, H)), the final hidden
/// state h_n (batch, H) and, for LSTM, the final cell state c_n (batch, H).
struct RnnLayerOutput {
  Tensor output, h_n, c_n;
};

/// The op behind the recurrent layers: one layer, one direction over a whole sequence, recorded as a single
/// autograd node (input projection of all steps in one GEMM, one GEMM + one fused gate kernel per step,
/// backward through time in the same way). G = 4 (LSTM), 3 (GRU) or 1 (RNN).
///   x: (seq, batch, in), or (batch, seq, in) with batch_first; h0, c0: (batch, H) or undefined for zeros
///   (c0 only for LSTM); w_ih: (G*H, in); w_hh: (G*H, H); b_ih, b_hh: (G*H) or undefined.
///   reverse: run from the last step to the first (the second direction of a bidirectional layer).
///   auto r = rnn_layer(RnnMode::lstm, x, {}, {}, w_ih, w_hh, b_ih, b_hh);  // r.output, r.h_n, r.c_n
RnnLayerOutput rnn_layer(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                         const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, bool batch_first = false,
                         bool reverse = false);

}  // namespace nerve
