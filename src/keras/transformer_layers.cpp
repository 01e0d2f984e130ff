// Keras transformer layers (keras/layers/attention/multi_head_attention.py, LayerNormalization, the TransformerBlock
// of Keras's text-classification example) on nerve's ops; the attention itself is the fused
// scaled_dot_product_attention.
#include "nerve/keras/transformer_layers.h"

#include <cmath>

#include "nerve/ops/attention.h"
#include "nerve/ops/ops.h"
#include "nerve/ops/random.h"

namespace nerve::keras {

namespace {

// Keras's glorot_uniform for a kernel of any rank: receptive field = prod(shape[:-2]), fan_in = shape[-2] * rf,
// fan_out = shape[-1] * rf (keras/initializers compute_fans).
Tensor glorot(const Shape& s) {
  int64_t rf = 1;
  for (size_t i = 0; i + 2 < s.size(); ++i) rf *= s[i];
  const double fan_in = double(s[s.size() - 2] * rf), fan_out = double(s.back() * rf);
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  return uniform(s, -limit, limit);
}

}  // namespace

// ------------------------------------------------------------------ MultiHeadAttention
MultiHeadAttentionLayer::MultiHeadAttentionLayer(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions o)
    : heads_(num_heads), key_dim_(key_dim), value_dim_(o.value_dim.value_or(key_dim)), o_(std::move(o)) {
  NERVE_CHECK(num_heads > 0 && key_dim > 0 && value_dim_ > 0 && num_heads <= (1 << 16) && key_dim <= (1 << 20) &&
                  value_dim_ <= (1 << 20),
              "MultiHeadAttention: num_heads, key_dim and value_dim must be positive, got ", num_heads, ", ", key_dim,
              ", ", value_dim_);
  NERVE_CHECK(o_.dropout >= 0 && o_.dropout < 1, "MultiHeadAttention: dropout must be in [0, 1), got ", o_.dropout);
  input_shape = o_.input_shape;
}

Shape MultiHeadAttentionLayer::build(const Shape& in) {
  NERVE_CHECK(in.size() == 2, "MultiHeadAttention: expected inputs (batch, T, d), so an input_shape (T, d), got ",
              to_string(in));
  if (built) return in;
  const int64_t d = in.back(), H = heads_;
  query_kernel = register_parameter("query_kernel", glorot({d, H, key_dim_}));
  key_kernel = register_parameter("key_kernel", glorot({d, H, key_dim_}));
  value_kernel = register_parameter("value_kernel", glorot({d, H, value_dim_}));
  output_kernel = register_parameter("output_kernel", glorot({H, value_dim_, d}));
  if (o_.use_bias) {
    query_bias = register_parameter("query_bias", zeros({H, key_dim_}));
    key_bias = register_parameter("key_bias", zeros({H, key_dim_}));
    value_bias = register_parameter("value_bias", zeros({H, value_dim_}));
    output_bias = register_parameter("output_bias", zeros({d}));
  }
  built = true;
  return in;
}

Tensor MultiHeadAttentionLayer::call(const Tensor& query, const Tensor& value, const Tensor& key,
                                     const Tensor& attention_mask) {
  const Tensor k_in = key.defined() ? key : value;
  NERVE_CHECK(built, "MultiHeadAttention: call build(input_shape) first (a Sequential does)");
  NERVE_CHECK(query.dim() == 3 && value.dim() == 3 && k_in.dim() == 3 && query.shape()[2] == query_kernel.shape()[0] &&
                  value.shape()[2] == value_kernel.shape()[0] && k_in.shape()[2] == key_kernel.shape()[0] &&
                  value.shape()[1] == k_in.shape()[1],
              "MultiHeadAttention: expected query (B, T, ", query_kernel.shape()[0], "), key and value (B, S, ",
              key_kernel.shape()[0], "), got query ", to_string(query.shape()), ", value ", to_string(value.shape()),
              ", key ", to_string(k_in.shape()));
  // x (B, T, d) @ kernel (d, H, k) + bias (H, k) -> (B, H, T, k)
  auto project = [&](const Tensor& x, const Tensor& kernel, const Tensor& bias) {
    const int64_t B = x.shape()[0], T = x.shape()[1], H = kernel.shape()[1], kd = kernel.shape()[2];
    Tensor y = matmul(x, reshape(kernel, {kernel.shape()[0], H * kd}));
    if (bias.defined()) y = y + reshape(bias, {H * kd});
    return transpose(reshape(y, {B, T, H, kd}), 1, 2);
  };
  const Tensor q = project(query, query_kernel, query_bias), k = project(k_in, key_kernel, key_bias);
  const Tensor v = project(value, value_kernel, value_bias);
  Tensor mask;
  if (attention_mask.defined()) {
    NERVE_CHECK(attention_mask.dtype() == DType::b8 && attention_mask.dim() == 3,
                "MultiHeadAttention: attention_mask must be bool (B, T, S), true = attend, got ",
                dtype_name(attention_mask.dtype()), " ", to_string(attention_mask.shape()));
    mask = unsqueeze(attention_mask, 1);
  }
  const Tensor o = scaled_dot_product_attention(q, k, v, mask, is_training() ? o_.dropout : 0.0, o_.use_causal_mask);
  const int64_t B = o.shape()[0], T = o.shape()[2], H = heads_;
  Tensor out = matmul(reshape(transpose(o, 1, 2), {B, T, H * value_dim_}),
                      reshape(output_kernel, {H * value_dim_, output_kernel.shape()[2]}));
  return output_bias.defined() ? out + output_bias : out;
}

// ------------------------------------------------------------------ LayerNormalization
LayerNormalizationLayer::LayerNormalizationLayer(double epsilon, std::optional<Shape> s) : eps_(epsilon) {
  NERVE_CHECK(epsilon >= 0, "LayerNormalization: epsilon must be >= 0, got ", epsilon);
  input_shape = std::move(s);
}

Shape LayerNormalizationLayer::build(const Shape& in) {
  NERVE_CHECK(!in.empty(), "LayerNormalization: needs an input with at least 1 dim besides the batch dim");
  if (built) return in;
  gamma = register_parameter("gamma", ones({in.back()}));
  beta = register_parameter("beta", zeros({in.back()}));
  built = true;
  return in;
}

Tensor LayerNormalizationLayer::forward(const Tensor& x) { return layer_norm(x, {gamma.shape()[0]}, gamma, beta, eps_); }

// ------------------------------------------------------------------ TransformerBlock
TransformerBlockLayer::TransformerBlockLayer(int64_t num_heads, int64_t ff_dim, TransformerBlockOptions o)
    : heads_(num_heads), ff_dim_(ff_dim), o_(std::move(o)) {
  NERVE_CHECK(num_heads > 0 && ff_dim > 0, "TransformerBlock: num_heads and ff_dim must be positive, got ", num_heads,
              " and ", ff_dim);
  NERVE_CHECK(o_.rate >= 0 && o_.rate < 1, "TransformerBlock: rate must be in [0, 1), got ", o_.rate);
  input_shape = o_.input_shape;
}

Shape TransformerBlockLayer::build(const Shape& in) {
  NERVE_CHECK(in.size() == 2, "TransformerBlock: expected inputs (batch, T, embed_dim), so an input_shape (T, "
              "embed_dim), got ", to_string(in));
  if (built) return in;
  const int64_t d = in.back();
  att = register_module("att", std::make_shared<MultiHeadAttentionLayer>(
                                   heads_, d, MultiHeadAttentionOptions{.use_causal_mask = o_.causal}));
  ffn1 = register_module("ffn1", Dense(ff_dim_, "relu"));
  ffn2 = register_module("ffn2", Dense(d));
  layernorm1 = register_module("layernorm1", LayerNormalization(o_.epsilon));
  layernorm2 = register_module("layernorm2", LayerNormalization(o_.epsilon));
  dropout1 = register_module("dropout1", Dropout(o_.rate));
  dropout2 = register_module("dropout2", Dropout(o_.rate));
  for (Layer* l : {static_cast<Layer*>(att.get()), layernorm1.get(), layernorm2.get(), dropout1.get(), dropout2.get()})
    l->build(in);
  ffn2->build(ffn1->build(in));
  train(is_training());  // the new children follow this layer's mode
  built = true;
  return in;
}

Tensor TransformerBlockLayer::forward(const Tensor& x) {
  const Tensor x1 = (*layernorm1)(x + (*dropout1)(att->call(x, x)));
  return (*layernorm2)(x1 + (*dropout2)((*ffn2)((*ffn1)(x1))));
}

// ------------------------------------------------------------------ factories
LayerPtr MultiHeadAttention(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions options) {
  return std::make_shared<MultiHeadAttentionLayer>(num_heads, key_dim, std::move(options));
}
LayerPtr LayerNormalization(double epsilon, std::optional<Shape> input_shape) {
  return std::make_shared<LayerNormalizationLayer>(epsilon, std::move(input_shape));
}
LayerPtr TransformerBlock(int64_t num_heads, int64_t ff_dim, TransformerBlockOptions options) {
  return std::make_shared<TransformerBlockLayer>(num_heads, ff_dim, std::move(options));
}

}  // namespace nerve::keras
