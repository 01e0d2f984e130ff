// The Keras transformer layers: MultiHeadAttention against the attention written out with its kernels (Keras's
// layout), the causal mask, Keras's initialization bounds, LayerNormalization, and a TransformerBlock that trains
// inside keras::Sequential.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include <nerve/keras/transformer_layers.h>
#include <nerve/nerve.h>

using namespace nerve;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item<float>(); }

// softmax(q k^T / sqrt(key_dim) [masked]) v with q = x Wq + bq per head, as Keras's einsums compute it
Tensor written_out(keras::MultiHeadAttentionLayer& l, const Tensor& x, const Tensor& mask, bool causal) {
  auto proj = [&](const Tensor& kernel, const Tensor& bias) {  // (B, T, d) x (d, H, k) -> (B, H, T, k)
    Tensor y = matmul(unsqueeze(x, 1), permute(kernel, {1, 0, 2})) + unsqueeze(bias, 1);
    return y;
  };
  const Tensor q = proj(l.query_kernel, l.query_bias), k = proj(l.key_kernel, l.key_bias);
  const Tensor v = proj(l.value_kernel, l.value_bias);
  Tensor s = matmul(q, transpose(k, 2, 3)) * (1.0 / std::sqrt(double(q.shape()[3])));
  const int64_t T = x.shape()[1];
  if (causal) s = masked_fill(s, logical_not(gt(tril(ones({T, T})), zeros({}))), -INFINITY);
  if (mask.defined()) s = masked_fill(s, logical_not(unsqueeze(mask, 1)), -INFINITY);
  const Tensor o = matmul(softmax(s, -1), v);  // (B, H, T, vd)
  // sum over heads of o_h W_out[h]
  return sum(matmul(o, unsqueeze(l.output_kernel, 0)), {1}) + l.output_bias;
}

TEST(KerasTransformer, MultiHeadAttentionMatchesTheWrittenOutLayer) {
  manual_seed(1);
  for (bool causal : {false, true}) {
    auto layer = std::make_shared<keras::MultiHeadAttentionLayer>(
        2, 3, keras::MultiHeadAttentionOptions{.value_dim = 4, .use_causal_mask = causal});
    EXPECT_EQ(layer->build({5, 8}), (Shape{5, 8}));
    for (Tensor* b : {&layer->query_bias, &layer->key_bias, &layer->value_bias, &layer->output_bias})
      b->detach().copy_(randn(b->shape()));  // non-zero biases, so their layout matters
    const Tensor x = randn({3, 5, 8});
    Tensor mask = gt(uniform({3, 5, 5}, 0, 1), full({}, 0.3));
    mask.select(2, 0).fill_(1.0);
    EXPECT_LT(max_abs_diff(layer->forward(x), written_out(*layer, x, Tensor(), causal)), 1e-5);
    EXPECT_LT(max_abs_diff(layer->call(x, x, x, mask), written_out(*layer, x, mask, causal)), 1e-5);
  }
}

TEST(KerasTransformer, CausalMaskHidesTheFuture) {
  manual_seed(2);
  auto layer = keras::MultiHeadAttention(2, 4, {.use_causal_mask = true});
  layer->build({6, 8});
  Tensor x = randn({1, 6, 8});
  const Tensor a = layer->forward(x);
  Tensor y = x.clone();
  y.narrow(1, 4, 2).copy_(randn({1, 2, 8}));  // change positions 4 and 5
  const Tensor b = layer->forward(y);
  EXPECT_LT(max_abs_diff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)), 1e-6);
  EXPECT_GT(max_abs_diff(a.narrow(1, 4, 2), b.narrow(1, 4, 2)), 1e-3);
}

TEST(KerasTransformer, KerasInitialization) {
  manual_seed(3);
  auto layer = std::make_shared<keras::MultiHeadAttentionLayer>(4, 16, keras::MultiHeadAttentionOptions{});
  layer->build({10, 32});
  // glorot_uniform with Keras's fans for (d, H, k): fan_in = H d, fan_out = k d
  const double limit = std::sqrt(6.0 / (4 * 32 + 16 * 32));
  const double m = max(abs(layer->query_kernel)).item<float>();
  EXPECT_LE(m, limit);
  EXPECT_GT(m, 0.9 * limit);
  EXPECT_EQ(max(abs(layer->query_bias)).item<float>(), 0.f);
  auto ln = keras::LayerNormalization();
  ln->build({10, 32});
  const Tensor x = randn({2, 10, 32});
  EXPECT_LT(max_abs_diff((*ln)(x), layer_norm(x, {32}, Tensor(), Tensor(), 1e-3)), 1e-6);
}

TEST(KerasTransformer, TransformerBlockTrainsInSequential) {
  manual_seed(4);
  const int64_t n = 256, T = 6, d = 8;
  const Tensor x = randn({n, T, d});
  const Tensor y = gt(sum(x.select(2, 0), {1}), zeros({})).to(DType::i64);  // the sign of feature 0 summed over time
  keras::Sequential model({keras::TransformerBlock(2, 16, {.rate = 0.0, .input_shape = Shape{T, d}}), keras::Flatten(),
                           keras::Dense(2, "softmax")});
  model.build({T, d});
  // attention 3 (8 x 2 x 8 + 16) + 2 x 8 x 8 + 8, ffn 8 x 16 + 16 + 16 x 8 + 8, two norms 2 x 16, Dense 48 x 2 + 2
  EXPECT_EQ(model.num_parameters(), 568 + 280 + 32 + 98);
  std::ostringstream summary;
  model.summary(summary);
  EXPECT_NE(summary.str().find("transformer_block (TransformerBlock)"), std::string::npos) << summary.str();
  model.compile(keras::Adam(0.01), "sparse_categorical_crossentropy", {"accuracy"});
  auto h = model.fit(x, y, {.epochs = 15, .batch_size = 32, .verbose = 0});
  EXPECT_LT(h.history["loss"].back(), h.history["loss"].front());
  EXPECT_GE(h.history["accuracy"].back(), 0.9);
}

TEST(KerasTransformer, BadInput) {
  EXPECT_THROW(keras::MultiHeadAttention(0, 4), Error);
  auto layer = keras::MultiHeadAttention(2, 4);
  EXPECT_THROW(layer->build({8}), Error);
  layer->build({6, 8});
  try {
    layer->forward(randn({2, 6, 7}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 6, 7]"), std::string::npos) << e.what();
  }
}

}  // namespace
