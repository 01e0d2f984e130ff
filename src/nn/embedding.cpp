// The Embedding module over the embedding op (nerve/ops/sequence.h).
#include "nerve/nn/embedding.h"

#include "ops/op_util.h"

namespace nerve::nn {

namespace {
int64_t wrap_padding(std::optional<int64_t> padding_idx, int64_t vocab, const char* op) {
  if (!padding_idx) return -1;
  int64_t p = *padding_idx;
  NERVE_CHECK(p >= -vocab && p < vocab, op, ": padding_idx ", p, " must be within num_embeddings ", vocab);
  return p < 0 ? p + vocab : p;
}
}  // namespace

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, const EmbeddingOptions& options)
    : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim), options_(options) {
  NERVE_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ",
              num_embeddings, " and ", embedding_dim);
  NERVE_CHECK(is_floating(options.dtype), "Embedding: dtype must be f32 or f64, got ", dtype_name(options.dtype));
  int64_t pad = wrap_padding(options.padding_idx, num_embeddings, "Embedding");
  if (options.padding_idx) options_.padding_idx = pad;
  Tensor w = randn({num_embeddings, embedding_dim}, options.dtype);  // PyTorch: normal_(0, 1)
  if (pad >= 0) w.select(0, pad).zero_();
  weight = register_parameter("weight", w);
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                                      const EmbeddingOptions& options) {
  NERVE_CHECK(embeddings.dim() == 2 && is_floating(embeddings.dtype()),
              "Embedding::from_pretrained: embeddings must be a 2-D floating tensor, got ", nerve::detail::describe(embeddings));
  EmbeddingOptions o = options;
  o.dtype = embeddings.dtype();
  auto m = std::make_shared<Embedding>(embeddings.shape()[0], embeddings.shape()[1], o);
  {
    NoGradGuard g;
    m->weight.copy_(embeddings);  // the given values, padding row included (as PyTorch)
  }
  m->weight.requires_grad_(!freeze);
  return m;
}

Tensor Embedding::forward(const Tensor& indices) {
  nerve::detail::check_arg(indices, "Embedding", "indices");
  if (options_.max_norm) {
    NoGradGuard g;
    embedding_renorm_(weight, indices, *options_.max_norm, options_.norm_type);
  }
  return embedding(indices, weight, options_.padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings_) + ", " + std::to_string(embedding_dim_);
  if (options_.padding_idx) s += ", padding_idx=" + std::to_string(*options_.padding_idx);
  if (options_.max_norm) s += ", max_norm=" + nerve::detail::str_cat(*options_.max_norm);
  return s;
}

}  // namespace nerve::nn
