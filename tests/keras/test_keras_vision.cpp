// Keras image layers (channels-last): summary shapes and parameter counts as Keras prints them, forward equal to
// nerve's NCHW ops on the permuted input, BatchNormalization's moving statistics, a CNN that learns a toy task.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>

#include <sstream>

#include <nerve/nerve.h>

using namespace nerve;

namespace {

keras::Sequential mnist_cnn() {
  return keras::Sequential({keras::Conv2D(32, {3, 3}, "relu", {.input_shape = Shape{28, 28, 1}}),
                            keras::MaxPooling2D({2, 2}), keras::Conv2D(64, {3, 3}, "relu"),
                            keras::MaxPooling2D({2, 2}), keras::Flatten(), keras::Dropout(0.5),
                            keras::Dense(10, "softmax")});
}

TEST(KerasVision, SummaryOfTheKerasMnistConvnet) {
  auto model = mnist_cnn();  // Keras's "Simple MNIST convnet" example: 34,826 parameters
  std::ostringstream os;
  model.summary(os);
  const std::string s = os.str();
  EXPECT_NE(s.find("conv2d (Conv2D)             (None, 26, 26, 32)        320"), std::string::npos) << s;
  EXPECT_NE(s.find("max_pooling2d (MaxPooling2D) (None, 13, 13, 32)"), std::string::npos) << s;
  EXPECT_NE(s.find("conv2d_1 (Conv2D)           (None, 11, 11, 64)        18496"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 5, 5, 64)"), std::string::npos) << s;
  EXPECT_NE(s.find("flatten (Flatten)           (None, 1600)              0"), std::string::npos) << s;
  EXPECT_NE(s.find("dense (Dense)               (None, 10)                16010"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 34,826"), std::string::npos) << s;
}

TEST(KerasVision, SummaryOfNormalizationAndPooling) {
  keras::Sequential model({keras::Reshape({8, 8, 1}, Shape{64}), keras::Conv2D(4, {3, 3}, "", {.padding = "same"}),
                           keras::BatchNormalization(), keras::AveragePooling2D({2, 2}), keras::GlobalAveragePooling2D(),
                           keras::Dense(2)});
  std::ostringstream os;
  model.summary(os);
  const std::string s = os.str();
  EXPECT_NE(s.find("reshape (Reshape)           (None, 8, 8, 1)           0"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 8, 8, 4)           40"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 8, 8, 4)           16"), std::string::npos) << s;  // gamma, beta, moving mean, variance
  EXPECT_NE(s.find("(None, 4, 4, 4)"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 4)                 0"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 66"), std::string::npos) << s;
  EXPECT_NE(s.find("Trainable params: 58"), std::string::npos) << s;
  EXPECT_NE(s.find("Non-trainable params: 8"), std::string::npos) << s;
}

TEST(KerasVision, LayersComputeTheNchwOps) {
  manual_seed(3);
  keras::Sequential model({keras::Conv2D(3, {3, 2}, "relu", {.strides = {2, 1}, .input_shape = Shape{7, 6, 2}}),
                           keras::MaxPooling2D({2, 2}, Shape{1, 1}), keras::AveragePooling2D({2, 2}),
                           keras::GlobalAveragePooling2D()});
  Tensor x = randn({4, 7, 6, 2});
  Tensor y = model.predict(x);
  auto sd = model.state_dict();
  Tensor w = sd[0].second, b = sd[1].second;
  Tensor want = relu(conv2d(permute(x, {0, 3, 1, 2}), w, b, {2, 1}));
  want = mean(avg_pool2d(max_pool2d(want, {2}, {1}), {2}), {2, 3});
  EXPECT_EQ(y.shape(), (Shape{4, 3}));
  EXPECT_LT(max(abs(y - want)).item<float>(), 1e-6f);
}

TEST(KerasVision, BatchNormalizationMovingStats) {
  manual_seed(4);
  keras::Sequential model({keras::BatchNormalization({.momentum = 0.9, .input_shape = Shape{3, 2, 5}})});
  Tensor x = randn({6, 3, 2, 5}) * 2.0 + 1.0;
  model.compile("sgd", "mse");
  model.fit(x, zeros({6, 3, 2, 5}), {.epochs = 1, .batch_size = 6, .verbose = 0, .shuffle = false});
  auto sd = model.state_dict();  // gamma, beta, moving_mean, moving_variance (the fit's one step moved gamma, beta)
  ASSERT_EQ(sd.size(), 4u);
  EXPECT_EQ(sd[2].first, "batch_normalization.moving_mean");
  Tensor want_mean = mean(x, {0, 1, 2}) * 0.1, want_var = var(x, {0, 1, 2}, 0) * 0.1 + 0.9;  // biased, as Keras
  EXPECT_LT(max(abs(sd[2].second - want_mean)).item<float>(), 1e-5f);
  EXPECT_LT(max(abs(sd[3].second - want_var)).item<float>(), 1e-5f);
  // inference uses the moving statistics
  Tensor y = model.predict(x);
  Tensor g = sd[0].second, bt = sd[1].second;
  Tensor want = (x - want_mean) / sqrt(want_var + 1e-3) * g + bt;
  EXPECT_LT(max(abs(y - want)).item<float>(), 1e-4f);
}

TEST(KerasVision, CnnLearnsBrightHalves) {
  // 8x8 images whose label is which half (top or bottom) is brighter
  manual_seed(5);
  const int64_t n = 256;
  Tensor y = randint(0, 2, {n});
  Tensor x = rand({n, 8, 8, 1}) * 0.5;
  Tensor top = reshape(y.to(DType::f32), {n, 1, 1, 1});
  Tensor rows = reshape(lt(arange(8), full({}, 4, DType::i64)).to(DType::f32), {1, 8, 1, 1});
  x = x + (top * rows + (1.0 - top) * (1.0 - rows)) * 0.5;
  keras::Sequential model({keras::Conv2D(4, {3, 3}, "relu", {.input_shape = Shape{8, 8, 1}}),
                           keras::BatchNormalization(), keras::MaxPooling2D({2, 2}), keras::Flatten(),
                           keras::Dense(2, "softmax")});
  model.compile(keras::Adam(0.01), "sparse_categorical_crossentropy", {"accuracy"});
  model.fit(x, y, {.epochs = 8, .batch_size = 32, .verbose = 0});
  EXPECT_GT(model.evaluate(x, y, 64, 0)["accuracy"], 0.95);
}

// padding "same" with strides: ceil(in / s) outputs; TensorFlow pads (out - 1) * s + k - in in total, the odd one
// at the bottom and right: for 6 wide, k 3, s 2 that is 0 before and 1 after; for 5 wide, 1 and 1
TEST(KerasVision, SamePaddingWithStrides) {
  manual_seed(2);
  for (auto [h, w, top, bottom, left, right] : {std::array<int64_t, 6>{6, 5, 0, 1, 1, 1}, {7, 8, 1, 1, 0, 1}}) {
    keras::Sequential m({keras::Conv2D(3, {3, 3}, "", {.strides = {2}, .padding = "same", .input_shape = Shape{h, w, 2}})});
    Tensor x = randn({2, h, w, 2});
    Tensor got = m.predict(x);
    EXPECT_EQ(got.shape(), (Shape{2, (h + 1) / 2, (w + 1) / 2, 3}));
    auto sd = m.state_dict();
    Tensor want = conv2d(pad(permute(x, {0, 3, 1, 2}), {left, right, top, bottom}), sd[0].second, sd[1].second, {2});
    EXPECT_LT(max(abs(got - permute(want, {0, 2, 3, 1}))).item<float>(), 1e-6f);
  }
}

TEST(KerasVision, Errors) {
  EXPECT_THROW(keras::Conv2D(8, {3, 3}, "", {.padding = "full"}), Error);
  EXPECT_THROW(keras::Sequential({keras::Conv2D(2, {3, 3}, "", {.input_shape = Shape{28, 28}})}), Error);
  EXPECT_THROW(keras::Sequential({keras::MaxPooling2D({5, 5}), keras::Flatten()}).build({4, 4, 1}), Error);
}

}  // namespace

// Conv2D(relu) -> MaxPooling2D runs as relu(max_pool2d(conv2d(x))), ReLU on the pooled tensor: the same bits as
// the layers one by one (max pooling commutes with ReLU), outputs and parameter gradients, also with NaN in the
// input and with overlapping windows; an AveragePooling2D or another activation keeps the layers apart.
namespace {
bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  return a.shape() == b.shape() && std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}
}  // namespace

TEST(KerasVision, ConvReluMaxPoolRunsAsOneStepWithTheSameBits) {
  auto make = [](bool fuse, bool overlap) {
    manual_seed(21);
    auto m = std::make_unique<keras::Sequential>(std::vector<keras::LayerPtr>{
        keras::Conv2D(6, {3, 3}, "relu", {.input_shape = Shape{9, 10, 2}}),
        overlap ? keras::MaxPooling2D({3, 3}, Shape{1, 2}) : keras::MaxPooling2D({2, 2}), keras::Flatten(),
        keras::Dense(3)});
    m->compile(keras::SGD(0.1), "mse");
    m->set_fusion(fuse);
    return m;
  };
  for (bool overlap : {false, true}) {
    manual_seed(4);
    Tensor x = randn({5, 9, 10, 2}), y = randn({5, 3});
    auto fused = make(true, overlap), plain = make(false, overlap);
    EXPECT_EQ(fused->describe_plan(DType::f32, true),
              "conv_pool_relu(conv2d, max_pooling2d) -> layer(flatten) -> layer(dense) -> mse");
    EXPECT_EQ(plain->describe_plan(DType::f32, true),
              "layer(conv2d) -> layer(max_pooling2d) -> layer(flatten) -> layer(dense) -> mse");
    Tensor nan_x = x.clone();
    nan_x.data<float>()[((0 * 9 + 4) * 10 + 4) * 2 + 1] = std::nanf("");
    for (const Tensor& in : {x, nan_x}) {
      const Tensor a = fused->predict(in), b = plain->predict(in);
      EXPECT_TRUE(same_bits(a, b)) << overlap;
    }
    EXPECT_TRUE(std::isnan(fused->predict(nan_x).to_vector<float>()[0])) << overlap;
    fused->fit(x, y, {.epochs = 1, .batch_size = 5, .verbose = 0, .shuffle = false});
    plain->fit(x, y, {.epochs = 1, .batch_size = 5, .verbose = 0, .shuffle = false});
    auto pf = fused->parameters(), pp = plain->parameters();
    ASSERT_EQ(pf.size(), 4u);
    for (size_t i = 0; i < pf.size(); ++i) {
      EXPECT_GT(max(abs(pf[i].grad())).item<double>(), 0.0) << i;
      EXPECT_TRUE(same_bits(pf[i].grad(), pp[i].grad())) << overlap << " " << i;
      EXPECT_TRUE(same_bits(pf[i], pp[i])) << overlap << " " << i;
    }
  }
  keras::Sequential avg({keras::Conv2D(2, {3, 3}, "relu", {.input_shape = Shape{6, 6, 1}}),
                         keras::AveragePooling2D({2, 2})});
  EXPECT_EQ(avg.describe_plan(DType::f32), "layer(conv2d) -> layer(average_pooling2d)");
  keras::Sequential tanh_conv({keras::Conv2D(2, {3, 3}, "tanh", {.input_shape = Shape{6, 6, 1}}),
                               keras::MaxPooling2D({2, 2})});
  EXPECT_EQ(tanh_conv.describe_plan(DType::f32), "layer(conv2d) -> layer(max_pooling2d)");
}
