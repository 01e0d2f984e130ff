// Keras transformer layers: MultiHeadAttention (Keras's weights: query/key/value kernels (d, heads, key_dim),
// output kernel (heads, value_dim, d)), LayerNormalization, and TransformerBlock (the block of Keras's "Text
// classification with Transformer" example), all usable in keras::Sequential on (batch, T, d) inputs.
#pragma once
#include <optional>

#include "nerve/keras/layers.h"

namespace nerve::keras {

struct MultiHeadAttentionOptions {
  std::optional<int64_t> value_dim;  // default key_dim
  double dropout = 0.0;              // on the attention probabilities, while training
  bool use_bias = true;
  bool use_causal_mask = false;      // each position attends to itself and the ones before (forward(x) alone)
  std::optional<Shape> input_shape;  // (T, d) when first in a Sequential
};
/// Keras MultiHeadAttention(num_heads, key_dim). In a Sequential it is self-attention: forward(x) = call(x, x).
/// call(query, value, key, attention_mask): attention_mask bool (B, T, S) or broadcastable, true = attend (Keras).
///   keras::MultiHeadAttention(4, 16, {.use_causal_mask = true, .input_shape = Shape{32, 64}})
LayerPtr MultiHeadAttention(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions options = {});
/// Keras LayerNormalization over the last axis: gamma ones, beta zeros, epsilon 1e-3 (Keras's default).
LayerPtr LayerNormalization(double epsilon = 1e-3, std::optional<Shape> input_shape = std::nullopt);

struct TransformerBlockOptions {
  double rate = 0.1;  // dropout after the attention and after the feed-forward part
  bool causal = false;
  double epsilon = 1e-6;
  std::optional<Shape> input_shape;
};
/// x1 = LayerNorm(x + Dropout(MHA(x, x))), out = LayerNorm(x1 + Dropout(Dense(embed)(Dense(ff_dim, relu)(x1)))),
/// with MultiHeadAttention(num_heads, key_dim = embed_dim) as in Keras's example; embed_dim is the input's last dim.
///   keras::Sequential m({keras::TransformerBlock(2, 32, {.input_shape = Shape{16, 8}}), keras::Flatten(),
///                        keras::Dense(2, "softmax")});
LayerPtr TransformerBlock(int64_t num_heads, int64_t ff_dim, TransformerBlockOptions options = {});

class MultiHeadAttentionLayer : public Layer {
 public:
  MultiHeadAttentionLayer(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions options);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override { return call(x, x); }
  /// query (B, T, d), value (B, S, dv), key (B, S, dk) or undefined (= value) -> (B, T, d).
  Tensor call(const Tensor& query, const Tensor& value, const Tensor& key = Tensor(),
              const Tensor& attention_mask = Tensor());
  std::string type_name() const override { return "MultiHeadAttention"; }
  std::string keras_name() const override { return "multi_head_attention"; }

  Tensor query_kernel, query_bias, key_kernel, key_bias, value_kernel, value_bias, output_kernel, output_bias;

 private:
  int64_t heads_, key_dim_, value_dim_;
  MultiHeadAttentionOptions o_;
};

class LayerNormalizationLayer : public Layer {
 public:
  LayerNormalizationLayer(double epsilon, std::optional<Shape> input_shape);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNormalization"; }
  std::string keras_name() const override { return "layer_normalization"; }

  Tensor gamma, beta;

 private:
  double eps_;
};

class TransformerBlockLayer : public Layer {
 public:
  TransformerBlockLayer(int64_t num_heads, int64_t ff_dim, TransformerBlockOptions options);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "TransformerBlock"; }
  std::string keras_name() const override { return "transformer_block"; }

  std::shared_ptr<MultiHeadAttentionLayer> att;
  LayerPtr ffn1, ffn2, layernorm1, layernorm2, dropout1, dropout2;

 private:
  int64_t heads_, ff_dim_;
  TransformerBlockOptions o_;
};

}  // namespace nerve::keras
