// Embedding: a lookup table of vectors indexed by token id (PyTorch's nn.Embedding and F.embedding).
#pragma once
#include <memory>
#include <optional>

#include "nerve/nn/module.h"
#include "nerve/ops/sequence.h"

namespace nerve::nn {

/// Options of Embedding (PyTorch's keyword arguments; dtype: f32 or f64).
struct EmbeddingOptions {
  /// This row gets no gradient and starts at zero (negative values count from the end).
  std::optional<int64_t> padding_idx = std::nullopt;
  /// Rows used by a forward are first rescaled in place to norm <= max_norm (PyTorch's renorm).
  std::optional<double> max_norm = std::nullopt;
  double norm_type = 2.0;
  DType dtype = DType::f32;
};

using nerve::embedding;         // the op (nerve/ops/sequence.h)
using nerve::embedding_renorm_;

/// A table of num_embeddings vectors of size embedding_dim, initialized N(0, 1) (padding row zeroed).
///   auto emb = std::make_shared<nn::Embedding>(vocab, 128);
///   Tensor x = emb->forward(ids);  // ids (B, T) i64 -> (B, T, 128)
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, const EmbeddingOptions& options = {});
  /// A layer holding a copy of `embeddings` (V, D); freeze: the weight does not require grad.
  ///   auto emb = nn::Embedding::from_pretrained(vectors, /*freeze=*/true);
  static std::shared_ptr<Embedding> from_pretrained(const Tensor& embeddings, bool freeze = true,
                                                    const EmbeddingOptions& options = {});

  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  int64_t num_embeddings() const { return num_embeddings_; }
  int64_t embedding_dim() const { return embedding_dim_; }
  const EmbeddingOptions& options() const { return options_; }

  Tensor weight;  // (num_embeddings, embedding_dim)

 private:
  int64_t num_embeddings_, embedding_dim_;
  EmbeddingOptions options_;
};

}  // namespace nerve::nn
