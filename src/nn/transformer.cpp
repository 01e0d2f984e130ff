// Transformer modules (PyTorch 1.13's torch/nn/modules/activation.py MultiheadAttention and transformer.py, the
// same parameters, masks and state-dict keys), RMSNorm, and the position helpers.
#include "nerve/nn/transformer.h"

#include <cmath>
#include <limits>

#include "nerve/autograd/grad_mode.h"
#include "nerve/core/error.h"
#include "nerve/nn/init.h"
#include "nerve/nn/sequential.h"
#include "nerve/ops/ops.h"

namespace nerve::nn {

namespace functional {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal) {
  return nerve::scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal);
}

Tensor sinusoidal_position_encoding(int64_t max_len, int64_t d_model, DType dtype) {
  NERVE_CHECK(max_len >= 0 && max_len <= (int64_t{1} << 24) && d_model > 0 && d_model % 2 == 0 &&
                  d_model <= (int64_t{1} << 16),
              "sinusoidal_position_encoding: expected 0 <= max_len <= 2^24 and an even d_model in [2, 65536], got "
              "max_len ", max_len, ", d_model ", d_model);
  std::vector<double> pe(static_cast<size_t>(max_len * d_model));
  for (int64_t i = 0; i < d_model / 2; ++i) {
    const double div = std::exp(double(2 * i) * (-std::log(10000.0) / double(d_model)));
    for (int64_t p = 0; p < max_len; ++p) {
      pe[p * d_model + 2 * i] = std::sin(double(p) * div);
      pe[p * d_model + 2 * i + 1] = std::cos(double(p) * div);
    }
  }
  return from_vector(pe, {max_len, d_model}).to(dtype);
}

std::pair<Tensor, Tensor> rotary_cos_sin(int64_t seq_len, int64_t head_dim, double base, DType dtype) {
  NERVE_CHECK(seq_len >= 0 && seq_len <= (int64_t{1} << 24) && head_dim > 0 && head_dim % 2 == 0 &&
                  head_dim <= (int64_t{1} << 16) && base > 0,
              "rotary_cos_sin: expected 0 <= seq_len <= 2^24, an even head_dim in [2, 65536] and base > 0, got "
              "seq_len ", seq_len, ", head_dim ", head_dim, ", base ", base);
  const int64_t half = head_dim / 2;
  std::vector<double> c(static_cast<size_t>(seq_len * head_dim)), s(c.size());
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq = 1.0 / std::pow(base, double(2 * i) / double(head_dim));
    for (int64_t t = 0; t < seq_len; ++t) {
      const double a = double(t) * inv_freq;
      c[t * head_dim + i] = c[t * head_dim + half + i] = std::cos(a);
      s[t * head_dim + i] = s[t * head_dim + half + i] = std::sin(a);
    }
  }
  return {from_vector(c, {seq_len, head_dim}).to(dtype), from_vector(s, {seq_len, head_dim}).to(dtype)};
}

Tensor apply_rotary_emb(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  nerve::detail::check_arg(x, "apply_rotary_emb", "x");
  nerve::detail::check_arg(cos, "apply_rotary_emb", "cos");
  nerve::detail::check_arg(sin, "apply_rotary_emb", "sin");
  NERVE_CHECK(x.dim() >= 1 && x.shape().back() % 2 == 0, "apply_rotary_emb: x must end in an even dim, got ",
              to_string(x.shape()));
  const int64_t d = x.dim() - 1, half = x.shape().back() / 2;
  const Tensor rotated = cat({neg(narrow(x, d, half, half)), narrow(x, d, 0, half)}, d);
  return x * cos + rotated * sin;
}

}  // namespace functional

Tensor generate_square_subsequent_mask(int64_t size, DType dtype) {
  NERVE_CHECK(size >= 0 && size <= (int64_t{1} << 15), "generate_square_subsequent_mask: size must be in [0, 32768], got ",
              size);
  std::vector<double> m(static_cast<size_t>(size * size), 0.0);
  for (int64_t i = 0; i < size; ++i)
    for (int64_t j = i + 1; j < size; ++j) m[i * size + j] = -std::numeric_limits<double>::infinity();
  return from_vector(m, {size, size}).to(dtype);
}

// ---------------------------------------------------------------- RMSNorm
RMSNorm::RMSNorm(const Shape& normalized_shape, std::optional<double> eps, bool elementwise_affine, DType dtype)
    : shape_(normalized_shape), eps_(eps) {
  if (elementwise_affine) weight = register_parameter("weight", ones(normalized_shape, dtype));
}

std::string RMSNorm::extra_repr() const {
  std::string s = to_string(shape_);
  if (eps_) s += ", eps=" + std::to_string(*eps_);
  return s + ", elementwise_affine=" + (weight.defined() ? "True" : "False");
}

// ---------------------------------------------------------------- MultiheadAttention
MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout, bool bias,
                                       bool batch_first, DType dtype)
    : MultiheadAttention(MultiheadAttentionOptions{embed_dim, num_heads, dropout, bias, batch_first, dtype}) {}

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& o) : options_(o) {
  NERVE_CHECK(o.embed_dim > 0 && o.num_heads > 0, "MultiheadAttention: embed_dim and num_heads must be positive, got ",
              o.embed_dim, " and ", o.num_heads);
  NERVE_CHECK(o.embed_dim % o.num_heads == 0, "MultiheadAttention: embed_dim ", o.embed_dim,
              " must be divisible by num_heads ", o.num_heads);
  NERVE_CHECK(o.dropout >= 0 && o.dropout <= 1, "MultiheadAttention: dropout must be in [0, 1], got ", o.dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * o.embed_dim, o.embed_dim}, o.dtype));
  init::xavier_uniform_(in_proj_weight);
  if (o.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * o.embed_dim}, o.dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(o.embed_dim, o.embed_dim, o.bias, o.dtype));
  if (o.bias) {
    NoGradGuard no_grad;
    out_proj->bias.zero_();
  }
}

std::string MultiheadAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(options_.embed_dim) + ", num_heads=" + std::to_string(options_.num_heads) +
         ", dropout=" + std::to_string(options_.dropout) + ", batch_first=" + (options_.batch_first ? "True" : "False");
}

Tensor MultiheadAttention::forward(const Tensor& x) { return forward(x, x, x, Tensor(), false).output; }

namespace {

// a torch mask (bool True = masked, or float added) as an additive float mask
Tensor additive(const Tensor& m, DType dtype) {
  if (m.dtype() != DType::b8) return m.dtype() == dtype ? m : to_dtype(m, dtype);
  return masked_fill(zeros(m.shape(), dtype), m, -std::numeric_limits<double>::infinity());
}

// attn_mask (L, S) or (N * H, L, S) and key_padding_mask (N, S) in torch's convention, merged into one mask for
// scaled_dot_product_attention (bool true = attend, or float added) broadcastable to (N, H, L, S)
Tensor merge_masks(const Tensor& attn_mask, const Tensor& kpm, int64_t N, int64_t H, int64_t L, int64_t S,
                   bool batched, DType dtype) {
  Tensor am, kp;
  if (attn_mask.defined()) {
    const Shape& s = attn_mask.shape();
    const bool ok2 = s == Shape{L, S}, ok3 = s == Shape{N * H, L, S};
    NERVE_CHECK(ok2 || ok3, "MultiheadAttention: attn_mask must be (L, S) = ", to_string(Shape{L, S}),
                " or (N * num_heads, L, S) = ", to_string(Shape{N * H, L, S}), ", got ", to_string(s));
    NERVE_CHECK(attn_mask.dtype() == DType::b8 || is_floating(attn_mask.dtype()),
                "MultiheadAttention: attn_mask must be bool or floating, got ", dtype_name(attn_mask.dtype()));
    am = ok3 ? reshape(attn_mask, {N, H, L, S}) : attn_mask;
  }
  if (kpm.defined()) {
    const Shape want = batched ? Shape{N, S} : Shape{S};
    NERVE_CHECK(kpm.shape() == want, "MultiheadAttention: key_padding_mask must be ", batched ? "(N, S) = " : "(S) = ",
                to_string(want), ", got ", to_string(kpm.shape()));
    NERVE_CHECK(kpm.dtype() == DType::b8 || is_floating(kpm.dtype()),
                "MultiheadAttention: key_padding_mask must be bool or floating, got ", dtype_name(kpm.dtype()));
    kp = reshape(kpm, {N, 1, 1, S});
  }
  if (!am.defined() && !kp.defined()) return Tensor();
  const bool all_bool = (!am.defined() || am.dtype() == DType::b8) && (!kp.defined() || kp.dtype() == DType::b8);
  if (all_bool) return logical_not(am.defined() && kp.defined() ? logical_or(am, kp) : am.defined() ? am : kp);
  if (!am.defined()) return additive(kp, dtype);
  if (!kp.defined()) return additive(am, dtype);
  return additive(am, dtype) + additive(kp, dtype);
}

}  // namespace

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, bool need_weights,
                                            const Tensor& attn_mask, bool average_attn_weights) {
  nerve::detail::check_arg(query, "MultiheadAttention", "query");
  nerve::detail::check_arg(key, "MultiheadAttention", "key");
  nerve::detail::check_arg(value, "MultiheadAttention", "value");
  const int64_t E = options_.embed_dim, H = options_.num_heads, hd = E / H;
  NERVE_CHECK((query.dim() == 2 || query.dim() == 3) && key.dim() == query.dim() && value.dim() == query.dim(),
              "MultiheadAttention: expected query, key and value all 3-D (batched) or all 2-D (unbatched), got "
              "query ", to_string(query.shape()), ", key ", to_string(key.shape()), ", value ",
              to_string(value.shape()));
  const bool batched = query.dim() == 3;
  // everything as (N, L, E)
  auto to_nle = [&](const Tensor& t) {
    if (!batched) return unsqueeze(t, 0);
    return options_.batch_first ? t : transpose(t, 0, 1);
  };
  const Tensor q = to_nle(query), k = to_nle(key), v = to_nle(value);
  NERVE_CHECK(q.shape()[2] == E && k.shape()[2] == E && v.shape()[2] == E, "MultiheadAttention: query, key and value "
              "must end in embed_dim ", E, ", got query ", to_string(query.shape()), ", key ", to_string(key.shape()),
              ", value ", to_string(value.shape()));
  NERVE_CHECK(k.shape() == v.shape() && k.shape()[0] == q.shape()[0],
              "MultiheadAttention: key and value must have the same shape and the batch of query, got query ",
              to_string(query.shape()), ", key ", to_string(key.shape()), ", value ", to_string(value.shape()));
  const int64_t N = q.shape()[0], L = q.shape()[1], S = k.shape()[1];
  const Tensor b = in_proj_bias;
  auto project = [&](const Tensor& x, int64_t i, int64_t len) {  // (N, len, E) -> (N, H, len, hd)
    const Tensor y = linear(x, narrow(in_proj_weight, 0, i * E, E), b.defined() ? narrow(b, 0, i * E, E) : Tensor());
    return transpose(reshape(y, {N, len, H, hd}), 1, 2);
  };
  const Tensor qh = project(q, 0, L), kh = project(k, 1, S), vh = project(v, 2, S);
  const Tensor mask = merge_masks(attn_mask, key_padding_mask, N, H, L, S, batched, q.dtype());
  const double p = is_training() ? options_.dropout : 0.0;
  Tensor heads, weights;  // heads: (N, H, L, hd)
  if (need_weights) {  // torch's explicit path: the weights are returned, so they exist anyway
    Tensor s = matmul(qh, transpose(kh, 2, 3)) * (1.0 / std::sqrt(double(hd)));
    if (mask.defined())
      s = mask.dtype() == DType::b8 ? masked_fill(s, logical_not(mask), -std::numeric_limits<double>::infinity())
                                    : s + mask;
    weights = functional::dropout(softmax(s, -1), p, p > 0);
    heads = matmul(weights, vh);
    if (average_attn_weights) weights = mean(weights, {1});
    if (!batched) weights = squeeze(weights, 0);
  } else {
    heads = nerve::scaled_dot_product_attention(qh, kh, vh, mask, p, false);
  }
  Tensor out = (*out_proj)(reshape(transpose(heads, 1, 2), {N, L, E}));
  if (!batched) out = squeeze(out, 0);
  else if (!options_.batch_first) out = transpose(out, 0, 1);
  return {out, weights};
}

// ---------------------------------------------------------------- encoder and decoder layers
namespace {

Tensor activate(const std::string& activation, const Tensor& x) {
  return activation == "relu" ? relu(x) : gelu(x);
}

void check_layer_options(const TransformerLayerOptions& o, const char* layer) {
  NERVE_CHECK(o.activation == "relu" || o.activation == "gelu", layer, ": activation must be relu or gelu, got '",
              o.activation, "'");
  NERVE_CHECK(o.d_model > 0 && o.dim_feedforward > 0, layer, ": d_model and dim_feedforward must be positive, got ",
              o.d_model, " and ", o.dim_feedforward);
}

MultiheadAttentionOptions attn_options(const TransformerLayerOptions& o) {
  return {.embed_dim = o.d_model, .num_heads = o.nhead, .dropout = o.dropout, .bias = true,
          .batch_first = o.batch_first, .dtype = o.dtype};
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& o) : options_(o) {
  check_layer_options(o, "TransformerEncoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(attn_options(o)));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, true, o.dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, true, o.dtype));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerEncoderLayer::feed_forward(const Tensor& x) {
  return (*dropout2)((*linear2)((*dropout)(activate(options_.activation, (*linear1)(x)))));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask,
                                        const Tensor& src_key_padding_mask) {
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(self_attn->forward(x, x, x, src_key_padding_mask, false, src_mask).output);
  };
  Tensor x = src;
  if (options_.norm_first) {
    x = x + sa((*norm1)(x));
    return x + feed_forward((*norm2)(x));
  }
  x = (*norm1)(x + sa(x));
  return (*norm2)(x + feed_forward(x));
}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& o) : options_(o) {
  check_layer_options(o, "TransformerDecoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(attn_options(o)));
  multihead_attn = register_module("multihead_attn", std::make_shared<MultiheadAttention>(attn_options(o)));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, true, o.dtype));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, true, o.dtype));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                        const Tensor& memory_key_padding_mask) {
  nerve::detail::check_arg(memory, "TransformerDecoderLayer", "memory");
  auto sa = [&](const Tensor& x) {
    return (*dropout1)(self_attn->forward(x, x, x, tgt_key_padding_mask, false, tgt_mask).output);
  };
  auto mha = [&](const Tensor& x) {
    return (*dropout2)(multihead_attn->forward(x, memory, memory, memory_key_padding_mask, false, memory_mask).output);
  };
  auto ff = [&](const Tensor& x) {
    return (*dropout3)((*linear2)((*dropout)(activate(options_.activation, (*linear1)(x)))));
  };
  Tensor x = tgt;
  if (options_.norm_first) {
    x = x + sa((*norm1)(x));
    x = x + mha((*norm2)(x));
    return x + ff((*norm3)(x));
  }
  x = (*norm1)(x + sa(x));
  x = (*norm2)(x + mha(x));
  return (*norm3)(x + ff(x));
}

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, int64_t num_layers,
                                       std::shared_ptr<Module> norm_module) {
  NERVE_CHECK(num_layers >= 0 && num_layers <= 4096, "TransformerEncoder: num_layers must be in [0, 4096], got ",
              num_layers);
  auto list = register_module("layers", std::make_shared<Sequential>());
  for (int64_t i = 0; i < num_layers; ++i) {
    auto copy = std::make_shared<TransformerEncoderLayer>(layer.options());
    copy->load_state_dict(layer.state_dict());  // torch deep-copies the layer: every copy starts with its weights
    copy->train(layer.is_training());
    layers.push_back(list->push_back(copy));
  }
  if (norm_module) norm = register_module("norm", std::move(norm_module));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
  Tensor x = src;
  for (const auto& l : layers) x = l->forward(x, mask, src_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& layer, int64_t num_layers,
                                       std::shared_ptr<Module> norm_module) {
  NERVE_CHECK(num_layers >= 0 && num_layers <= 4096, "TransformerDecoder: num_layers must be in [0, 4096], got ",
              num_layers);
  auto list = register_module("layers", std::make_shared<Sequential>());
  for (int64_t i = 0; i < num_layers; ++i) {
    auto copy = std::make_shared<TransformerDecoderLayer>(layer.options());
    copy->load_state_dict(layer.state_dict());  // torch deep-copies the layer: every copy starts with its weights
    copy->train(layer.is_training());
    layers.push_back(list->push_back(copy));
  }
  if (norm_module) norm = register_module("norm", std::move(norm_module));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                   const Tensor& memory_key_padding_mask) {
  nerve::detail::check_arg(tgt, "TransformerDecoder", "tgt");
  nerve::detail::check_arg(memory, "TransformerDecoder", "memory");
  Tensor x = tgt;
  for (const auto& l : layers)
    x = l->forward(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask);
  return norm ? norm->forward(x) : x;
}

// ---------------------------------------------------------------- Transformer
namespace {

TransformerLayerOptions layer_options(const TransformerOptions& o) {
  return {.d_model = o.d_model, .nhead = o.nhead, .dim_feedforward = o.dim_feedforward, .dropout = o.dropout,
          .activation = o.activation, .layer_norm_eps = o.layer_norm_eps, .batch_first = o.batch_first,
          .norm_first = o.norm_first, .dtype = o.dtype};
}

}  // namespace

Transformer::Transformer(const TransformerOptions& o) : options_(o) {
  NERVE_CHECK(o.num_encoder_layers >= 0 && o.num_encoder_layers <= 4096 && o.num_decoder_layers >= 0 &&
                  o.num_decoder_layers <= 4096,
              "Transformer: num_encoder_layers and num_decoder_layers must be in [0, 4096], got ",
              o.num_encoder_layers, " and ", o.num_decoder_layers);
  const TransformerLayerOptions lo = layer_options(o);
  {
    const TransformerEncoderLayer layer(lo);
    encoder = register_module(
        "encoder", std::make_shared<TransformerEncoder>(
                       layer, o.num_encoder_layers,
                       std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype)));
  }
  {
    const TransformerDecoderLayer layer(lo);
    decoder = register_module(
        "decoder", std::make_shared<TransformerDecoder>(
                       layer, o.num_decoder_layers,
                       std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.dtype)));
  }
  // torch's Transformer._reset_parameters: xavier_uniform_ on every parameter of more than one dim
  for (const auto& [name, p] : named_parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_key_padding_mask,
                            const Tensor& tgt_key_padding_mask, const Tensor& memory_key_padding_mask) {
  nerve::detail::check_arg(src, "Transformer", "src");
  nerve::detail::check_arg(tgt, "Transformer", "tgt");
  NERVE_CHECK((src.dim() == 2 || src.dim() == 3) && tgt.dim() == src.dim(),
              "Transformer: src and tgt must both be batched (3 dims) or both unbatched (2 dims), got ",
              to_string(src.shape()), " and ", to_string(tgt.shape()));
  if (src.dim() == 3) {
    const int bd = options_.batch_first ? 0 : 1;
    NERVE_CHECK(src.size(bd) == tgt.size(bd), "Transformer: the batch number of src and tgt must be equal, got ",
                to_string(src.shape()), " and ", to_string(tgt.shape()),
                options_.batch_first ? " (batch_first: dim 0)" : " (dim 1)");
  }
  NERVE_CHECK(src.shape().back() == options_.d_model && tgt.shape().back() == options_.d_model,
              "Transformer: the feature number of src and tgt must be equal to d_model ", options_.d_model, ", got ",
              to_string(src.shape()), " and ", to_string(tgt.shape()));
  const Tensor memory = encoder->forward(src, src_mask, src_key_padding_mask);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask);
}

}  // namespace nerve::nn
