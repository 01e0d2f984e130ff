// A small GPT (Radford et al. 2019, GPT-2's layout as in nanoGPT): token + learned position embeddings, pre-norm
// blocks (LayerNorm -> causal self-attention -> residual, LayerNorm -> MLP with GELU (tanh) -> residual), a final
// LayerNorm and an output layer tied to the token embedding. forward(ids) is the training pass; decode(ids, cache)
// appends each layer's keys and values to a KVCache, so a new token costs one row of attention.
//   gpt::GPT model({.vocab = 96});
//   Tensor logits = model.forward(ids);                 // ids (B, T) i64 -> (B, T, vocab)
//   gpt::KVCache cache;  model.decode(prompt, cache);   // then model.decode(next_token, cache) per token
#pragma once
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nerve/nerve.h>

namespace gpt {
using namespace nerve;

/// The model's size; the defaults are the benchmark configuration (bench/gpt.sh).
struct Config {
  int64_t vocab = 0;
  int64_t context = 128;  // longest sequence (learned positions)
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t width = 256;
  int64_t ff = 1024;      // hidden size of the MLP
  double dropout = 0.0;   // on the embeddings and on each residual branch (training only)
};

/// softmax(q k^T / sqrt(E) + mask) v through the fused nerve::scaled_dot_product_attention (FlashAttention-2 on the
/// CPU: the T x S matrix is never held), where with is_causal query i sees keys j <= i (then T == S).
/// q: (..., T, E), k: (..., S, E), v: (..., S, Ev) -> (..., T, Ev)
inline Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, bool is_causal) {
  const int64_t T = q.size(-2), S = k.size(-2);
  NERVE_CHECK(!is_causal || T == S, "attention: is_causal needs as many queries as keys, got T = ", T, ", S = ", S);
  return scaled_dot_product_attention(q, k, v, Tensor(), 0.0, is_causal);
}

/// Keys and values of the tokens decoded so far, per layer: (B, heads, context, head_dim) buffers filled up to len.
/// Without gradients, one new token goes through Block's one-pass attention over the cache unless one_pass is false
/// (the general op path, which the tests compare it with).
struct KVCache {
  std::vector<Tensor> k, v;
  int64_t len = 0;
  bool one_pass = true;
  void clear() { k.clear(), v.clear(), len = 0; }
};

/// One pre-norm transformer block. State-dict names follow GPT-2's: ln_1, attn_qkv (c_attn), attn_proj, ln_2,
/// mlp_fc, mlp_proj.
class Block : public nn::Module {
 public:
  explicit Block(const Config& c) : c_(c) {
    ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(Shape{c.width}));
    attn_qkv = register_module("attn_qkv", std::make_shared<nn::Linear>(c.width, 3 * c.width));
    attn_proj = register_module("attn_proj", std::make_shared<nn::Linear>(c.width, c.width));
    ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(Shape{c.width}));
    mlp_fc = register_module("mlp_fc", std::make_shared<nn::Linear>(c.width, c.ff));
    mlp_proj = register_module("mlp_proj", std::make_shared<nn::Linear>(c.ff, c.width));
  }
  std::string type_name() const override { return "Block"; }

  /// x: (B, T, C) -> (B, T, C). With a cache, this layer's keys and values are appended at cache->len (the caller
  /// advances len after the last layer) and attention sees every cached position.
  Tensor run(const Tensor& x, KVCache* cache, size_t layer) {
    const int64_t B = x.size(0), T = x.size(1), C = c_.width, H = c_.heads, D = C / H;
    if (cache && T == 1 && x.dtype() == DType::f32 && !x.is_meta() && cache->one_pass &&
        !grad_enabled())
      return decode_one(x, *cache, layer);
    std::vector<Tensor> qkv = chunk(attn_qkv->forward(ln_1->forward(x)), 3, -1);
    auto heads = [&](const Tensor& t) { return transpose(reshape(t, {B, T, H, D}), 1, 2); };  // (B, H, T, D)
    Tensor q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
    bool causal = T > 1;
    if (cache) {
      NERVE_CHECK(cache->len == 0 || T == 1, "gpt: decode feeds a prompt to an empty cache, then one token at a time;"
                  " got ", T, " tokens with ", cache->len, " cached");
      NERVE_CHECK(cache->len + T <= c_.context, "gpt: ", cache->len + T, " positions exceed the context of ",
                  c_.context);
      ensure_cache(*cache, layer, B, x.dtype());
      narrow(cache->k[layer], 2, cache->len, T).copy_(k);
      narrow(cache->v[layer], 2, cache->len, T).copy_(v);
      k = narrow(cache->k[layer], 2, 0, cache->len + T);
      v = narrow(cache->v[layer], 2, 0, cache->len + T);
    }
    Tensor y = reshape(transpose(attention(q, k, v, causal), 1, 2), {B, T, C});
    Tensor h = x + drop(attn_proj->forward(y));
    return h + drop(mlp_proj->forward(gelu(mlp_fc->forward(ln_2->forward(h)), "tanh")));
  }

  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<nn::Linear> attn_qkv, attn_proj, mlp_fc, mlp_proj;

 private:
  /// Allocates this layer's (B, H, context, D) key and value buffers on first use.
  void ensure_cache(KVCache& cache, size_t layer, int64_t B, DType dtype) {
    const int64_t H = c_.heads, D = c_.width / H;
    if (cache.k.size() <= layer) {
      cache.k.resize(layer + 1), cache.v.resize(layer + 1);
      cache.k[layer] = zeros({B, H, c_.context, D}, dtype);
      cache.v[layer] = zeros({B, H, c_.context, D}, dtype);
    }
  }
  /// One new token per sequence (generation, no gradients): the token's key and value are written straight from
  /// the qkv projection into the cache, and each head's single query attends over the len + 1 cached rows in one
  /// pass (scores, softmax, weighted sum of values) instead of going through the chunk / reshape / copy / tiled
  /// attention ops of the general path; the projections, norms and MLP are the same ops as run() uses.
  Tensor decode_one(const Tensor& x, KVCache& cache, size_t layer) {
    const int64_t B = x.size(0), C = c_.width, H = c_.heads, D = C / H, S = cache.len + 1, ctx = c_.context;
    NERVE_CHECK(cache.len + 1 <= ctx, "gpt: ", cache.len + 1, " positions exceed the context of ", ctx);
    ensure_cache(cache, layer, B, x.dtype());
    NERVE_CHECK(cache.k[layer].size(0) == B, "gpt: the cache holds ", cache.k[layer].size(0), " sequences, got ", B);
    const Tensor qkv = attn_qkv->forward(ln_1->forward(x)).contiguous();  // (B, 1, 3C)
    Tensor y = empty({B, 1, C}, DType::f32);
    const float* p = qkv.data<float>();
    float *kc = cache.k[layer].data<float>(), *vc = cache.v[layer].data<float>(), *out = y.data<float>();
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    std::vector<float> w(static_cast<size_t>(S));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const float* q = p + b * 3 * C + h * D;
        float* kh = kc + (b * H + h) * ctx * D;
        float* vh = vc + (b * H + h) * ctx * D;
        std::copy(q + C, q + C + D, kh + cache.len * D);          // this token's key
        std::copy(q + 2 * C, q + 2 * C + D, vh + cache.len * D);  // and value
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < S; ++j) {
          const float* kj = kh + j * D;
          float dot = 0.f;
#pragma omp simd reduction(+ : dot)
          for (int64_t d = 0; d < D; ++d) dot += q[d] * kj[d];
          w[j] = dot * scale;
          mx = std::max(mx, w[j]);
        }
        float total = 0.f;
        for (int64_t j = 0; j < S; ++j) total += (w[j] = std::exp(w[j] - mx));
        float* o = out + b * C + h * D;
        std::fill(o, o + D, 0.f);
        for (int64_t j = 0; j < S; ++j) {
          const float* vj = vh + j * D;
          const float wj = w[j] / total;
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) o[d] += wj * vj[d];
        }
      }
    Tensor h = x + drop(attn_proj->forward(y));
    return h + drop(mlp_proj->forward(gelu(mlp_fc->forward(ln_2->forward(h)), "tanh")));
  }
  Tensor drop(const Tensor& t) { return c_.dropout > 0 ? nn::F::dropout(t, c_.dropout, is_training()) : t; }
  Config c_;
};

/// The whole model: wte (vocab, C) also serves as the output layer's weight (one Tensor, one parameter).
class GPT : public nn::Module {
 public:
  explicit GPT(const Config& c) : c_(c) {
    NERVE_CHECK(c.vocab > 0 && c.context > 0 && c.layers > 0 && c.heads > 0 && c.width % c.heads == 0 && c.ff > 0,
                "gpt: bad config: vocab ", c.vocab, ", context ", c.context, ", layers ", c.layers, ", width ", c.width,
                " (must be a multiple of heads ", c.heads, "), ff ", c.ff);
    wte = register_module("wte", std::make_shared<nn::Embedding>(c.vocab, c.width));
    wpe = register_module("wpe", std::make_shared<nn::Embedding>(c.context, c.width));
    for (int64_t i = 0; i < c.layers; ++i)
      blocks.push_back(register_module("h" + std::to_string(i), std::make_shared<Block>(c)));
    ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(Shape{c.width}));
    init_weights();
  }
  std::string type_name() const override { return "GPT"; }
  const Config& config() const { return c_; }

  /// ids: (B, T) i64, T <= context -> logits (B, T, vocab)
  Tensor forward(const Tensor& ids) override { return run(ids, nullptr); }
  /// Like forward, but appends keys and values to the cache and places the tokens after the cached ones.
  Tensor decode(const Tensor& ids, KVCache& cache) {
    Tensor logits = run(ids, &cache);
    cache.len += ids.size(1);
    return logits;
  }

  std::shared_ptr<nn::Embedding> wte, wpe;
  std::vector<std::shared_ptr<Block>> blocks;
  std::shared_ptr<nn::LayerNorm> ln_f;

 private:
  Tensor run(const Tensor& ids, KVCache* cache) {
    NERVE_CHECK(ids.dim() == 2, "gpt: expected token ids (B, T), got ", to_string(ids.shape()));
    const int64_t T = ids.size(1), start = cache ? cache->len : 0;
    NERVE_CHECK(T >= 1 && start + T <= c_.context, "gpt: positions ", start, " to ", start + T - 1,
                " do not fit the context of ", c_.context);
    Tensor x = wte->forward(ids) + wpe->forward(arange(static_cast<double>(start), static_cast<double>(start + T)));
    if (c_.dropout > 0) x = nn::F::dropout(x, c_.dropout, is_training());
    for (size_t i = 0; i < blocks.size(); ++i) x = blocks[i]->run(x, cache, i);
    return linear(ln_f->forward(x), wte->weight);  // tied output layer: (B, T, vocab)
  }
  // GPT-2's initialization: weights N(0, 0.02), the residual projections N(0, 0.02 / sqrt(2 layers)), biases zero,
  // LayerNorms ones and zeros (their own default).
  void init_weights() {
    NoGradGuard no_grad;
    const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c_.layers));
    nn::init::normal_(wte->weight, 0.0, 0.02);
    nn::init::normal_(wpe->weight, 0.0, 0.02);
    for (auto& b : blocks) {
      for (auto* l : {b->attn_qkv.get(), b->attn_proj.get(), b->mlp_fc.get(), b->mlp_proj.get()}) {
        const bool residual = l == b->attn_proj.get() || l == b->mlp_proj.get();
        nn::init::normal_(l->weight, 0.0, residual ? proj_std : 0.02);
        nn::init::zeros_(l->bias);
      }
    }
  }
  Config c_;
};

}  // namespace gpt
