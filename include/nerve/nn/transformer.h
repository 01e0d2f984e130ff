// Transformer modules with PyTorch 1.13's names, arguments and state-dict keys: MultiheadAttention,
// TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer, RMSNorm;
// the functional attention, the sinusoidal position encoding and rotary embeddings.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nerve/nn/layers.h"
#include "nerve/nn/module.h"
#include "nerve/nn/vision.h"
#include "nerve/ops/attention.h"

namespace nerve::nn {

namespace functional {
/// The fused attention op (nerve/ops/attention.h): softmax(q k^T / sqrt(E) + mask) v, bool masks true = attend.
///   Tensor y = F::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true);
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                    bool is_causal = false);

/// The sinusoidal position encoding of "Attention Is All You Need" (PyTorch's tutorial): (max_len, d_model),
/// pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d)). d_model even.
///   Tensor pe = F::sinusoidal_position_encoding(512, 64);  x = x + narrow(pe, 0, 0, T);
Tensor sinusoidal_position_encoding(int64_t max_len, int64_t d_model, DType dtype = DType::f32);

/// The cos and sin tables (seq_len, head_dim) of rotary embeddings (Su et al., RoFormer 2021) in the rotate-half
/// layout of GPT-NeoX and LLaMA: angle[t, i] = t * base^(-2 (i mod d/2) / d). head_dim even.
///   auto [cos, sin] = F::rotary_cos_sin(T, 64);
std::pair<Tensor, Tensor> rotary_cos_sin(int64_t seq_len, int64_t head_dim, double base = 10000.0,
                                         DType dtype = DType::f32);

/// x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]); x: (..., T, d), cos and sin
/// broadcastable to it (usually (T, d) from rotary_cos_sin). A composition of ops (its gradient comes with them).
///   q = F::apply_rotary_emb(q, cos, sin);  // q: (B, H, T, d)
Tensor apply_rotary_emb(const Tensor& x, const Tensor& cos, const Tensor& sin);
}  // namespace functional

/// RMSNorm over the last dims (PyTorch 2.4's nn.RMSNorm): weight ones, named "weight"; eps nullopt = the dtype's.
///   nn::RMSNorm norm({512}, 1e-6);
class RMSNorm : public Module {
 public:
  explicit RMSNorm(const Shape& normalized_shape, std::optional<double> eps = std::nullopt,
                   bool elementwise_affine = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override { return rms_norm(x, shape_, weight, eps_); }
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;

  Tensor weight;

 private:
  Shape shape_;
  std::optional<double> eps_;
};

/// Output of MultiheadAttention: the attended values and, with need_weights, the attention weights (averaged over
/// heads unless average_attn_weights is false; undefined otherwise).
struct AttentionOutput {
  Tensor output, weights;
};

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  double dropout = 0.0;  // on the attention weights, in training mode
  bool bias = true;
  bool batch_first = false;
  DType dtype = DType::f32;
};

/// PyTorch's nn.MultiheadAttention (kdim = vdim = embed_dim): parameters in_proj_weight (3E, E), in_proj_bias (3E),
/// out_proj.weight (E, E), out_proj.bias (E), initialized as torch (xavier_uniform_, zeros). Inputs (L, N, E), or
/// (N, L, E) with batch_first, or unbatched (L, E). Masks follow torch's MultiheadAttention: attn_mask (L, S) or
/// (N * num_heads, L, S), bool True = NOT allowed, or float added; key_padding_mask (N, S), True = ignore (or float
/// added). Without need_weights the fused scaled_dot_product_attention runs (no L x S matrix); with it the weights
/// are materialized.
///   nn::MultiheadAttention mha({.embed_dim = 64, .num_heads = 8, .batch_first = true});
///   auto [y, w] = mha.forward(x, x, x, Tensor(), false);
class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& o);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool batch_first = false, DType dtype = DType::f32);
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                          const Tensor& attn_mask = Tensor(), bool average_attn_weights = true);
  /// Self-attention without masks or weights (for Sequential): forward(x, x, x, {}, false).output.
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;
  const MultiheadAttentionOptions& options() const { return options_; }

  Tensor in_proj_weight;  // (3E, E): the q, k, v projections stacked
  Tensor in_proj_bias;    // (3E) or undefined
  std::shared_ptr<Linear> out_proj;

 private:
  MultiheadAttentionOptions options_;
};

struct TransformerLayerOptions {
  int64_t d_model = 0;
  int64_t nhead = 1;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // relu or gelu
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  DType dtype = DType::f32;
};

/// PyTorch's nn.TransformerEncoderLayer: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
/// norm_first: x + sa(norm1(x)), then x + ff(norm2(x)); else norm1(x + sa(x)), then norm2(x + ff(x)).
///   nn::TransformerEncoderLayer layer({.d_model = 64, .nhead = 4, .dim_feedforward = 256, .batch_first = true});
class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerLayerOptions& o);
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor());
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }
  std::string type_name() const override { return "TransformerEncoderLayer"; }
  const TransformerLayerOptions& options() const { return options_; }

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor feed_forward(const Tensor& x);
  TransformerLayerOptions options_;
};

/// PyTorch's nn.TransformerDecoderLayer: self_attn, multihead_attn (over the memory), linear1, dropout, linear2,
/// norm1..3, dropout1..3.
///   nn::TransformerDecoderLayer layer({.d_model = 64, .nhead = 4});  y = layer.forward(tgt, memory, causal);
class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerLayerOptions& o);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  std::string type_name() const override { return "TransformerDecoderLayer"; }
  const TransformerLayerOptions& options() const { return options_; }

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  TransformerLayerOptions options_;
};

/// PyTorch's nn.TransformerEncoder: num_layers copies of `layer` (its options and its current weights, as torch's
/// deepcopy), state-dict keys layers.0.self_attn.in_proj_weight, ..., then norm.weight when a norm is given.
///   nn::TransformerEncoder enc(layer, 6, std::make_shared<nn::LayerNorm>(Shape{64}));
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayer& layer, int64_t num_layers,
                     std::shared_ptr<Module> norm = nullptr);
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = Tensor());
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }
  std::string type_name() const override { return "TransformerEncoder"; }

  std::vector<std::shared_ptr<TransformerEncoderLayer>> layers;
  std::shared_ptr<Module> norm;
};

/// The (size, size) float mask with -inf above the diagonal (torch's Transformer.generate_square_subsequent_mask).
Tensor generate_square_subsequent_mask(int64_t size, DType dtype = DType::f32);

/// PyTorch's nn.TransformerDecoder: num_layers copies of `layer` (deep copies, as torch), state-dict keys
/// layers.0.self_attn.in_proj_weight, ..., layers.0.multihead_attn...., then norm.weight when a norm is given.
///   nn::TransformerDecoder dec(layer, 6, std::make_shared<nn::LayerNorm>(Shape{64}));
///   y = dec.forward(tgt, memory, nn::generate_square_subsequent_mask(T));
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayer& layer, int64_t num_layers,
                     std::shared_ptr<Module> norm = nullptr);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = Tensor(),
                 const Tensor& memory_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  std::string type_name() const override { return "TransformerDecoder"; }

  std::vector<std::shared_ptr<TransformerDecoderLayer>> layers;
  std::shared_ptr<Module> norm;
};

/// Options of nn::Transformer, torch 1.13's defaults (the model of "Attention Is All You Need").
struct TransformerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // relu or gelu
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  DType dtype = DType::f32;
};

/// PyTorch 1.13's nn.Transformer: encoder (a TransformerEncoder with a final LayerNorm) and decoder (a
/// TransformerDecoder with a final LayerNorm); every parameter of more than one dim is xavier-uniform initialized as
/// torch's _reset_parameters. State-dict keys encoder.layers.N...., encoder.norm.*, decoder.layers.N....,
/// decoder.norm.*.
/// src (S, N, E) and tgt (T, N, E), or (N, S, E) and (N, T, E) with batch_first, or unbatched (S, E) and (T, E).
///   nn::Transformer model({.d_model = 64, .nhead = 4, .num_encoder_layers = 2, .num_decoder_layers = 2});
///   Tensor y = model.forward(src, tgt, {}, nn::Transformer::generate_square_subsequent_mask(tgt.size(0)));
class Transformer : public Module {
 public:
  explicit Transformer(const TransformerOptions& o = {});
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = Tensor(),
                 const Tensor& tgt_mask = Tensor(), const Tensor& memory_mask = Tensor(),
                 const Tensor& src_key_padding_mask = Tensor(), const Tensor& tgt_key_padding_mask = Tensor(),
                 const Tensor& memory_key_padding_mask = Tensor());
  std::string type_name() const override { return "Transformer"; }
  const TransformerOptions& options() const { return options_; }
  /// torch's static Transformer.generate_square_subsequent_mask: -inf above the diagonal, 0 elsewhere.
  static Tensor generate_square_subsequent_mask(int64_t size, DType dtype = DType::f32) {
    return nn::generate_square_subsequent_mask(size, dtype);
  }

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;

 private:
  TransformerOptions options_;
};

}  // namespace nerve::nn
