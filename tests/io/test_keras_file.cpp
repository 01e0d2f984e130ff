// keras::Sequential::save / keras::load_model: the loaded model predicts the same bits, and fit() goes on from
// it exactly as it goes on from the original (weights, Adam state, compile settings all restored).
#include "io_test_util.h"
#include "nerve/core/rng.h"
#include "nerve/io/safetensors.h"
#include "nerve/keras/model.h"
#include "nerve/ops/ops.h"

namespace nerve {
namespace {

using test::error_of;
using test::same_bits;

std::pair<Tensor, Tensor> blobs(int64_t n) {
  manual_seed(3);
  Tensor y = randint(0, 3, {n});
  Tensor centers = tensor({{0.f, 3.f}, {3.f, -2.f}, {-3.f, -2.f}});
  return {index_select(centers, 0, y) + randn({n, 2}) * 0.7, y};
}

keras::Sequential model() {
  return keras::Sequential({keras::Rescaling(0.5, 0.1, Shape{2}), keras::Dense(16, "relu"), keras::Dropout(0.2),
                            keras::Dense(8), keras::Activation("tanh"), keras::Flatten(), keras::Dense(3, "softmax")});
}

TEST(KerasFile, LoadedModelPredictsTheSameBitsAndFitsOnIdentically) {
  test::TempDir dir;
  auto [x, y] = blobs(128);
  manual_seed(1);
  keras::Sequential m = model();
  m.compile(keras::Adam(3e-3, 0.8), keras::LossSpec("sparse_categorical_crossentropy"), {"accuracy"});
  m.fit(x, y, {.epochs = 1, .batch_size = 16, .verbose = 0});
  m.save(dir / "m.nerve");

  std::shared_ptr<keras::Sequential> l = keras::load_model(dir / "m.nerve");
  EXPECT_EQ(l->layers().size(), 7u);
  EXPECT_EQ(l->input_shape(), Shape{2});
  EXPECT_EQ(l->loss().name, "sparse_categorical_crossentropy");
  EXPECT_EQ(l->metrics(), std::vector<std::string>{"accuracy"});
  EXPECT_EQ(l->optimizer().param_groups()[0].get("beta1"), 0.8);
  EXPECT_EQ(l->optimizer().lr(), 3e-3);
  EXPECT_TRUE(same_bits(m.predict(x), l->predict(x)));

  manual_seed(9);
  auto h1 = m.fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  manual_seed(9);
  auto h2 = l->fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  EXPECT_EQ(h1.history["loss"], h2.history["loss"]);
  nn::StateDict a = m.state_dict(), b = l->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i].second, b[i].second)) << a[i].first;
}

TEST(KerasFile, UncompiledModelAndErrors) {
  test::TempDir dir;
  keras::Sequential unbuilt({keras::Dense(3)});
  EXPECT_NE(error_of([&] { unbuilt.save(dir / "x.nerve"); }).find("build or fit the model before saving it"),
            std::string::npos);
  keras::Sequential m = model();  // built: its first layer has an input shape
  m.save(dir / "m.nerve");
  auto l = keras::load_model(dir / "m.nerve");
  EXPECT_FALSE(l->compiled());
  Tensor x = randn({4, 2});
  m.eval();
  l->eval();
  EXPECT_TRUE(same_bits(m(x), (*l)(x)));

  // a config whose Dense claims more units than the file's weight has is refused before anything is built
  io::SafetensorsFile f = io::read_safetensors(dir / "m.nerve");
  std::string& c = f.metadata.at("config");
  c.replace(c.find("\"units\":16"), 10, "\"units\":1000000000");
  io::save_safetensors(f.tensors, dir / "bad.nerve", f.metadata);
  EXPECT_NE(error_of([&] { keras::load_model(dir / "bad.nerve"); })
                .find("layer dense (Dense 1000000000) needs tensor 'model.dense.weight' of shape [1000000000, 2], the "
                      "file has [16, 2]"),
            std::string::npos);
  f.metadata.at("config") = "{\"layers\": [";
  io::save_safetensors(f.tensors, dir / "bad.nerve", f.metadata);
  EXPECT_NE(error_of([&] { keras::load_model(dir / "bad.nerve"); }).find("bad config ("), std::string::npos);
  io::save_safetensors({{"w", ones({1})}}, dir / "plain.safetensors");
  EXPECT_NE(error_of([&] { keras::load_model(dir / "plain.safetensors"); }).find("not a nerve Keras model file"),
            std::string::npos);
}

}  // namespace
}  // namespace nerve
