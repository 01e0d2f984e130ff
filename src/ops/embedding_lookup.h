// The lookup behind an embedding() output. A consumer that multiplies the looked-up rows by a matrix can
// multiply the (small) vocabulary table instead of every token and route its gradient straight to the table:
// rnn_layer does this for its input projection when the vocabulary is much smaller than the batch of tokens.
#pragma once
#include <cstdint>
#include <optional>

#include "nerve/tensor/tensor.h"

namespace nerve {

struct EmbeddingLookup {
  Tensor ids;           // (n) i64 contiguous, in the output's row order
  Tensor weight;        // (V, D) the table (its gradient edge is the one embedding() recorded)
  int64_t padding_idx;  // -1 when none: that row gets no gradient
};

/// The lookup x came from, if x is exactly embedding(ids, weight)'s output with a recorded gradient and
/// neither it nor the table was modified in place since; nullopt otherwise.
std::optional<EmbeddingLookup> embedding_lookup_of(const Tensor& x);

}  // namespace nerve::nn
