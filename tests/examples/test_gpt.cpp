// examples/gpt's model (examples/gpt/gpt.h): KV-cache decoding gives the logits of a full re-run, causality, the
// composed attention against a direct computation, weight tying, GPT-2's initialization, and errors.
#include <gtest/gtest.h>

#include <cmath>

#include <nerve/nerve.h>

#include "../../examples/gpt/gpt.h"

using namespace nerve;

namespace {

gpt::Config tiny() { return {.vocab = 11, .context = 16, .layers = 2, .heads = 2, .width = 8, .ff = 16}; }

Tensor random_ids(int64_t B, int64_t T, int64_t vocab) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < B * T; ++i) v.push_back((i * 7 + 3 + i * i) % vocab);
  return from_vector(v, {B, T});
}

void expect_close(const Tensor& a, const Tensor& b, double tol) {
  ASSERT_EQ(a.shape(), b.shape());
  std::vector<float> x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], tol) << "element " << i;
}

}  // namespace

// A prompt fills the cache at once, then one token per call: each step's logits equal the full context's row.
TEST(GptModel, KvCacheDecodeEqualsFullRecompute) {
  manual_seed(1);
  gpt::GPT model(tiny());
  model.eval();
  NoGradGuard no_grad;
  const int64_t B = 2, T = 12, P = 5;
  Tensor ids = random_ids(B, T, 11);
  Tensor full = model.forward(ids);  // (B, T, V)
  gpt::KVCache cache;
  Tensor first = model.decode(narrow(ids, 1, 0, P), cache);
  expect_close(first, narrow(full, 1, 0, P), 1e-5);
  for (int64_t t = P; t < T; ++t) {
    Tensor step = model.decode(narrow(ids, 1, t, 1), cache);  // (B, 1, V)
    expect_close(step, narrow(full, 1, t, 1), 1e-5);
  }
  EXPECT_EQ(cache.len, T);
  ASSERT_EQ(cache.k.size(), 2u);
  EXPECT_EQ(cache.k[0].shape(), (Shape{B, 2, 16, 4}));
}

// Generation's one-token path (no gradients: the query attends over the cache in one pass, the key and value written
// in place) gives the logits of the general op path (KVCache::one_pass false), from an empty cache on, batch of 3.
TEST(GptModel, OneTokenDecodePathEqualsGeneralPath) {
  manual_seed(4);
  gpt::GPT model({.vocab = 11, .context = 16, .layers = 2, .heads = 4, .width = 16, .ff = 24});
  model.eval();
  NoGradGuard no_grad;
  const int64_t B = 3, T = 16;
  Tensor ids = random_ids(B, T, 11);
  gpt::KVCache fast, general;
  general.one_pass = false;
  for (int64_t t = 0; t < T; ++t) {
    Tensor a = model.decode(narrow(ids, 1, t, 1), fast), b = model.decode(narrow(ids, 1, t, 1), general);
    expect_close(a, b, 1e-5);
  }
  EXPECT_EQ(fast.len, T);
  expect_close(fast.k[1], general.k[1], 1e-6);
  expect_close(fast.v[0], general.v[0], 1e-6);
  EXPECT_THROW(model.decode(narrow(ids, 1, 0, 1), fast), Error);  // the context is full
}

// Changing a later token leaves the logits of earlier positions alone (the causal mask), and changes its own.
TEST(GptModel, Causal) {
  manual_seed(2);
  gpt::GPT model(tiny());
  NoGradGuard no_grad;
  Tensor ids = random_ids(1, 10, 11);
  std::vector<int64_t> v = ids.to_vector<int64_t>();
  v[7] = (v[7] + 1) % 11;
  Tensor a = model.forward(ids), b = model.forward(from_vector(v, {1, 10}));
  expect_close(narrow(a, 1, 0, 7), narrow(b, 1, 0, 7), 1e-6);
  EXPECT_GT(max(abs(narrow(a, 1, 7, 1) - narrow(b, 1, 7, 1))).item<float>(), 1e-4);
}

// The composed attention equals softmax(q k^T / sqrt(E)) v computed row by row, with and without the causal mask.
TEST(GptModel, AttentionMatchesDirectComputation) {
  manual_seed(3);
  const int64_t T = 5, E = 3;
  Tensor q = randn({1, 1, T, E}, DType::f64), k = randn({1, 1, T, E}, DType::f64), v = randn({1, 1, T, 2}, DType::f64);
  std::vector<double> Q = q.to_vector<double>(), K = k.to_vector<double>(), V = v.to_vector<double>();
  for (bool causal : {false, true}) {
    std::vector<double> out = gpt::attention(q, k, v, causal).contiguous().to_vector<double>();
    for (int64_t i = 0; i < T; ++i) {
      const int64_t last = causal ? i : T - 1;
      std::vector<double> w;
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j <= last; ++j) {
        double s = 0;
        for (int64_t e = 0; e < E; ++e) s += Q[i * E + e] * K[j * E + e];
        w.push_back(s / std::sqrt(double(E)));
        mx = std::max(mx, w.back());
      }
      for (double& x : w) z += (x = std::exp(x - mx));
      for (int64_t c = 0; c < 2; ++c) {
        double want = 0;
        for (int64_t j = 0; j <= last; ++j) want += w[j] / z * V[j * 2 + c];
        EXPECT_NEAR(out[i * 2 + c], want, 1e-12) << "causal " << causal << " row " << i;
      }
    }
  }
  EXPECT_THROW(gpt::attention(q, narrow(k, 2, 0, 3), narrow(v, 2, 0, 3), true), Error);
}

// The output layer is the token embedding: one parameter, which gets the gradient of both uses.
TEST(GptModel, TiedOutputLayerAndParameterCount) {
  gpt::Config c = tiny();
  gpt::GPT model(c);
  const int64_t C = c.width, per_block = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * c.ff + c.ff) + (c.ff * C + C);
  EXPECT_EQ(model.num_parameters(), c.vocab * C + c.context * C + c.layers * per_block + 2 * C);
  for (const auto& [name, p] : model.named_parameters()) EXPECT_EQ(name.find("lm_head"), std::string::npos);
  Tensor ids = random_ids(1, 6, 11);
  // a token that never appears in the input still gets a gradient through the output layer
  std::vector<int64_t> seen = ids.to_vector<int64_t>();
  int64_t unseen = 0;
  while (std::find(seen.begin(), seen.end(), unseen) != seen.end()) ++unseen;
  nn::F::cross_entropy(model.forward(ids).reshape({-1, 11}), random_ids(1, 6, 11).reshape({-1})).backward();
  Tensor g = model.wte->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(sum(abs(select(g, 0, unseen))).item<float>(), 0.0f);
}

// GPT-2's initialization: N(0, 0.02) weights, N(0, 0.02 / sqrt(2 layers)) residual projections, zero biases.
TEST(GptModel, Gpt2Initialization) {
  manual_seed(4);
  gpt::GPT model({.vocab = 64, .context = 64, .layers = 8, .heads = 4, .width = 128, .ff = 512});
  auto stdev = [](const Tensor& t) { return nerve::std(t).item<float>(); };
  EXPECT_NEAR(stdev(model.wte->weight), 0.02, 0.002);
  EXPECT_NEAR(stdev(model.blocks[0]->mlp_fc->weight), 0.02, 0.001);
  EXPECT_NEAR(stdev(model.blocks[3]->attn_proj->weight), 0.02 / 4.0, 0.0005);
  EXPECT_NEAR(stdev(model.blocks[7]->mlp_proj->weight), 0.02 / 4.0, 0.0005);
  EXPECT_EQ(max(abs(model.blocks[2]->attn_qkv->bias)).item<float>(), 0.0f);
}

TEST(GptModel, Errors) {
  gpt::GPT model(tiny());
  NoGradGuard no_grad;
  gpt::KVCache cache;
  model.decode(random_ids(1, 15, 11), cache);
  model.decode(random_ids(1, 1, 11), cache);  // 16 = the context
  EXPECT_THROW(model.decode(random_ids(1, 1, 11), cache), Error);
  gpt::KVCache c2;
  model.decode(random_ids(1, 3, 11), c2);
  EXPECT_THROW(model.decode(random_ids(1, 2, 11), c2), Error);  // a second prompt into a filled cache
  EXPECT_THROW(model.forward(random_ids(1, 17, 11)), Error);
  EXPECT_THROW(gpt::GPT({.vocab = 11, .heads = 3, .width = 8}), Error);
}
