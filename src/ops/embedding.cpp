// The embedding op: the row gather with its scatter-add backward, and max_norm renormalization.
#include "nerve/ops/sequence.h"

#include <cmath>
#include <cstring>
#include <set>

#include "ops/embedding_lookup.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

namespace {

// Indices as a contiguous i64 tensor (i32 is widened), every id checked against the vocabulary size.
Tensor checked_ids(const Tensor& indices, const Tensor& weight, const char* op) {
  NERVE_CHECK(indices.dtype() == DType::i64 || indices.dtype() == DType::i32, op,
              ": indices must be an integer tensor (i64 or i32), got ", detail::describe(indices));
  Tensor ids = indices.dtype() == DType::i64 ? indices.contiguous() : indices.to(DType::i64).contiguous();
  if (ids.is_meta()) return ids;  // no values to check
  const int64_t* p = ids.data<int64_t>();
  const int64_t vocab = weight.shape()[0];
  for (int64_t i = 0, n = ids.numel(); i < n; ++i)
    NERVE_CHECK(p[i] >= 0 && p[i] < vocab, op, ": token id ", p[i], " is out of range for a vocabulary of size ",
                vocab, " (valid ids are 0..", vocab - 1, "; indices ", detail::describe(indices), ", weight ",
                detail::describe(weight), ")");
  return ids;
}

// d(weight) (V, D) = sum over positions i of e_{ids[i]} g[i], skipping the padding row.
class EmbeddingBackward : public Node {
 public:
  EmbeddingBackward(const Tensor& ids, const Tensor& weight, const Tensor& out, int64_t padding_idx)
      : ids_(ids), vocab_(weight.shape()[0]), padding_idx_(padding_idx), weight_(weight),
        weight_version_(weight.version()), out_version_(out.version()) {}
  const char* name() const override { return "EmbeddingBackward"; }
  void release() override {
    ids_.reset();
    weight_ = Tensor();
  }

  // The lookup that produced `out`, while neither the table nor the output changed since.
  std::optional<EmbeddingLookup> lookup(const Tensor& out) const {
    if (released || !weight_.defined() || weight_.version() != weight_version_ || out.version() != out_version_)
      return std::nullopt;
    return EmbeddingLookup{ids_.unpack(this), weight_, padding_idx_};
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor ids = ids_.unpack(this);
    Tensor g = grads[0].contiguous();
    const int64_t dim = g.shape().back(), n = ids.numel();
    Tensor gw = zeros({vocab_, dim}, g.dtype(), detail::result_device(g, ids));
    if (gw.is_meta()) return {gw};
    visit_floating(g.dtype(), "embedding", [&](auto tag) {
      using T = decltype(tag);
      const int64_t* ix = ids.data<int64_t>();
      const T* pg = g.data<T>();
      T* pw = gw.data<T>();
      for (int64_t i = 0; i < n; ++i) {
        if (ix[i] == padding_idx_) continue;
        T* row = pw + ix[i] * dim;
        const T* src = pg + i * dim;
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) row[j] += src[j];
      }
    });
    return {gw};
  }

 private:
  SavedTensor ids_;  // (n) i64, contiguous
  int64_t vocab_, padding_idx_;
  Tensor weight_;  // the table, for embedding_lookup_of (its gradient edge is next_edges[0])
  uint64_t weight_version_, out_version_;
};

int64_t wrap_padding(std::optional<int64_t> padding_idx, int64_t vocab, const char* op) {
  if (!padding_idx) return -1;
  int64_t p = *padding_idx;
  NERVE_CHECK(p >= -vocab && p < vocab, op, ": padding_idx ", p, " must be within num_embeddings ", vocab);
  return p < 0 ? p + vocab : p;
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  NERVE_RECORD_FUNCTION("embedding");
  detail::check_arg(indices, "embedding", "indices");
  detail::check_arg(weight, "embedding", "weight");
  NERVE_CHECK(weight.dim() == 2 && is_floating(weight.dtype()),
              "embedding: weight must be a 2-D floating tensor (num_embeddings, embedding_dim), got ",
              detail::describe(weight));
  const int64_t vocab = weight.shape()[0], dim = weight.shape()[1];
  const int64_t pad = wrap_padding(padding_idx, vocab, "embedding");
  Tensor ids = checked_ids(indices, weight, "embedding");
  Tensor w = weight.contiguous();
  Shape os = indices.shape();
  os.push_back(dim);
  Tensor out = empty(os, w.dtype(), detail::result_device(w, ids));
  if (out.is_meta()) {
    if (any_requires_grad({&w})) set_history(make_node<EmbeddingBackward>(ids, w, out, pad), {&w}, {&out});
    return out;
  }
  const size_t row_bytes = static_cast<size_t>(dim) * itemsize(w.dtype());
  const char* pw = static_cast<const char*>(w.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  const int64_t* ix = ids.data<int64_t>();
  for (int64_t i = 0, n = ids.numel(); i < n; ++i) std::memcpy(po + i * row_bytes, pw + ix[i] * row_bytes, row_bytes);
  if (any_requires_grad({&w})) set_history(make_node<EmbeddingBackward>(ids, w, out, pad), {&w}, {&out});
  return out;
}

std::optional<EmbeddingLookup> embedding_lookup_of(const Tensor& x) {
  if (!x.defined() || x.impl()->output_nr != 0) return std::nullopt;
  auto* node = dynamic_cast<const EmbeddingBackward*>(x.grad_fn().get());
  return node ? node->lookup(x) : std::nullopt;
}

void embedding_renorm_(Tensor& weight, const Tensor& indices, double max_norm, double norm_type) {
  NERVE_CHECK(weight.dim() == 2 && weight.is_contiguous() && is_floating(weight.dtype()),
              "embedding_renorm_: weight must be a contiguous 2-D floating tensor, got ", detail::describe(weight));
  NERVE_CHECK(max_norm > 0 && norm_type > 0, "embedding_renorm_: max_norm and norm_type must be positive, got ",
              max_norm, " and ", norm_type);
  Tensor ids = checked_ids(indices, weight, "embedding_renorm_");
  const int64_t* ix = ids.data<int64_t>();
  std::set<int64_t> rows(ix, ix + ids.numel());
  const int64_t dim = weight.shape()[1];
  visit_floating(weight.dtype(), "embedding_renorm_", [&](auto tag) {
    using T = decltype(tag);
    for (int64_t r : rows) {
      T* row = weight.data<T>() + r * dim;
      double norm = 0;
      for (int64_t j = 0; j < dim; ++j) norm += std::pow(std::abs(static_cast<double>(row[j])), norm_type);
      norm = std::pow(norm, 1.0 / norm_type);
      if (norm > max_norm) {
        T scale = static_cast<T>(max_norm / (norm + 1e-7));
        for (int64_t j = 0; j < dim; ++j) row[j] *= scale;
      }
    }
  });
  weight.bump_version();
}

}  // namespace nerve
