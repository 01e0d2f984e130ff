// keras::Sequential::save / keras::load_model: the loaded model predicts the same bits, and fit() goes on from
// it exactly as it goes on from the original (weights, Adam state, compile settings all restored).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "io/keras_file.h"
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

std::vector<keras::LayerPtr> layers() {
  return {keras::Rescaling(0.5, 0.1, Shape{2}), keras::Dense(16, "relu"), keras::Dropout(0.2),
          keras::Dense(8),  keras::Activation("tanh"), keras::Flatten(), keras::Dense(3, "softmax")};
}
keras::Sequential model() { return keras::Sequential(layers()); }

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
                .find("the config needs tensor 'model.dense.weight' of shape [1000000000, 2], the file has [16, 2]"),
            std::string::npos);
  f.metadata.at("config") = "{\"layers\": [";
  io::save_safetensors(f.tensors, dir / "bad.nerve", f.metadata);
  EXPECT_NE(error_of([&] { keras::load_model(dir / "bad.nerve"); }).find("bad config ("), std::string::npos);
  io::save_safetensors({{"w", ones({1})}}, dir / "plain.safetensors");
  EXPECT_NE(error_of([&] { keras::load_model(dir / "plain.safetensors"); }).find("not a nerve Keras model file"),
            std::string::npos);
}

// every layer class: config() rebuilds an equal layer, and a CNN with all of them survives the file bit for bit
TEST(KerasFile, VisionModelRoundTripsEveryLayerClass) {
  test::TempDir dir;
  manual_seed(5);
  Tensor x = rand({8, 12, 12}) * 255.0;
  Tensor y = randint(0, 4, {8});
  auto make = [] {
    return keras::Sequential({keras::Rescaling(1.0 / 255, 0.0, Shape{12, 12}), keras::Reshape({12, 12, 1}),
                              keras::Conv2D(6, {3, 3}, "relu", {.padding = "same"}),
                              keras::BatchNormalization({.momentum = 0.9, .epsilon = 1e-3}),
                              keras::MaxPooling2D({2, 2}), keras::Conv2D(8, {3, 3}, "", {.strides = {2, 1}, .use_bias = false}),
                              keras::AveragePooling2D({1, 2}, Shape{1, 1}), keras::GlobalAveragePooling2D(),
                              keras::Dropout(0.25), keras::Dense(4), keras::Activation("softmax")});
  };
  keras::Sequential m = make();
  m.compile(keras::Adam(1e-2), keras::LossSpec("sparse_categorical_crossentropy"), {"accuracy"});
  m.fit(x, y, {.epochs = 1, .batch_size = 4, .verbose = 0});
  m.save(dir / "cnn.nerve");
  auto l = keras::load_model(dir / "cnn.nerve");
  ASSERT_EQ(l->layers().size(), m.layers().size());
  for (size_t i = 0; i < m.layers().size(); ++i) {
    EXPECT_EQ(l->layers()[i]->type_name(), m.layers()[i]->type_name());
    EXPECT_EQ(l->layers()[i]->config().items(), m.layers()[i]->config().items()) << m.layers()[i]->type_name();
  }
  EXPECT_TRUE(same_bits(m.predict(x), l->predict(x)));  // the moving statistics came back too
  manual_seed(4);
  auto h1 = m.fit(x, y, {.epochs = 2, .batch_size = 4, .verbose = 0});
  manual_seed(4);
  auto h2 = l->fit(x, y, {.epochs = 2, .batch_size = 4, .verbose = 0});
  EXPECT_EQ(h1.history["loss"], h2.history["loss"]);

  // a config whose Conv2D claims 2^30 filters is refused by the shape pass on the meta device, before any memory
  io::SafetensorsFile f = io::read_safetensors(dir / "cnn.nerve");
  std::string& c = f.metadata.at("config");
  c.replace(c.find("\"filters\":6"), 11, "\"filters\":1073741824");
  io::save_safetensors(f.tensors, dir / "bad.nerve", f.metadata);
  EXPECT_NE(error_of([&] { keras::load_model(dir / "bad.nerve"); })
                .find("the config needs tensor 'model.conv2d.weight' of shape [1073741824, 1, 3, 3], the file has [6, 1, 3, 3]"),
            std::string::npos);
}

TEST(KerasFile, LayerConfigErrors) {
  EXPECT_NE(error_of([] { keras::layer_from_config("Dense3D", {}); }).find("unknown layer class 'Dense3D'"),
            std::string::npos);
  EXPECT_NE(error_of([] { keras::layer_from_config("Dense", Attrs().set("units", 4)); })
                .find("layer_from_config: Dense: attrs: missing attribute 'activation'"),
            std::string::npos);
  EXPECT_NE(error_of([] { keras::layer_from_config("Reshape", Attrs().set("target_shape", Shape{-2, 3})); }).find("Reshape"),
            std::string::npos);
  struct Custom : keras::Layer {
    Shape build(const Shape& s) override { built = true; return s; }
    Tensor forward(const Tensor& x) override { return x; }
    std::string type_name() const override { return "Custom"; }
    std::string keras_name() const override { return "custom"; }
  };
  test::TempDir dir;
  keras::Sequential m({keras::Dense(2, "", {.input_shape = Shape{3}}), std::make_shared<Custom>()});
  m.build(Shape{3});
  EXPECT_NE(error_of([&] { m.save(dir / "c.nerve"); }).find("layer Custom has no config(): it cannot be saved"),
            std::string::npos);
}

// input_shape dims that are not integers in 1..2^31 (a float past int64, found by fuzz_keras: converting it was
// undefined behaviour) are errors that show the shape
TEST(KerasFile, InputShapeDimsAreCheckedBeforeTheyAreConverted) {
  const nn::StateDict none;
  for (const char* dims : {"[77777777777777777772]", "[7.5e19]", "[2.5]", "[0]", "[-3]", "[18446744073709551615]",
                           "[2147483649]", "[]", "3"}) {
    const std::string config = std::string(R"({"name": "m", "input_shape": )") + dims +
                               R"(, "layers": [{"class": "Dense", "units": 4, "activation": "", "use_bias": true}],
                               "compile": null})";
    const std::string e = error_of([&] { io::detail::model_from_config(config, none, "f.nerve"); });
    EXPECT_NE(e.find("load_model: f.nerve: "), std::string::npos) << dims << ": " << e;
    EXPECT_NE(e.find("input_shape"), std::string::npos) << dims << ": " << e;
  }
}

}  // namespace
}  // namespace nerve

namespace nerve {
namespace {

TEST(KerasCallbacks, ModelCheckpointSavesEveryEpochOrTheBest) {
  test::TempDir dir;
  auto [x, y] = blobs(128);
  manual_seed(1);
  keras::Sequential m = model();
  m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  std::vector<double> val;
  auto record = keras::LambdaCallback({.on_epoch_end = [&](int, const keras::Logs& l) { val.push_back(l.at("val_loss")); }});
  m.fit(x, y, {.epochs = 4, .batch_size = 16, .verbose = 0, .validation_split = 0.25,
               .callbacks = {keras::ModelCheckpoint(dir / "every-{epoch}.nerve", {.save_best_only = false}),
                             keras::ModelCheckpoint(dir / "best.nerve", {.monitor = "val_loss", .save_best_only = true}),
                             record}});
  for (int e = 1; e <= 4; ++e) EXPECT_TRUE(std::filesystem::exists(dir / ("every-" + std::to_string(e) + ".nerve")));
  // best.nerve holds the epoch with the lowest val_loss: its weights are those of that epoch's file
  const size_t best = static_cast<size_t>(std::min_element(val.begin(), val.end()) - val.begin());
  auto b = keras::load_model(dir / "best.nerve");
  auto e = keras::load_model(dir / ("every-" + std::to_string(best + 1) + ".nerve"));
  EXPECT_TRUE(same_bits(b->predict(x), e->predict(x)));
  EXPECT_NE(error_of([&] {
              m.fit(x, y, {.epochs = 1, .verbose = 0,
                           .callbacks = {keras::ModelCheckpoint(dir / "b.nerve", {.save_best_only = true})}});
            }).find("ModelCheckpoint: monitored value 'val_loss' is not in the logs"),
            std::string::npos);
}

// A fit killed after its first epoch and started again in a new process with BackupAndRestore ends with the same
// bits as one that ran both epochs (shuffling, dropout masks and Adam's state all continue).
TEST(KerasCallbacks, BackupAndRestoreResumesAKilledFitBitForBit) {
  test::TempDir dir;
  auto [x, y] = blobs(96);
  auto fresh = [] {
    manual_seed(4);
    return std::make_shared<keras::Sequential>(layers());
  };
  auto compile = [](keras::Sequential& m) { m.compile(keras::Adam(5e-3), "sparse_categorical_crossentropy"); };
  auto straight = fresh();
  compile(*straight);
  manual_seed(21);
  straight->fit(x, y, {.epochs = 3, .batch_size = 16, .verbose = 0});

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // killed at the end of epoch 2, after the backup was written
    try {
      auto m = fresh();
      compile(*m);
      manual_seed(21);
      auto kill = keras::LambdaCallback({.on_epoch_end = [](int e, const keras::Logs&) {
        if (e == 1) ::_exit(0);
      }});
      m->fit(x, y, {.epochs = 3, .batch_size = 16, .verbose = 0,
                    .callbacks = {keras::BackupAndRestore(dir / "backup"), kill}});
    } catch (...) {
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(std::filesystem::exists(dir / "backup/backup.safetensors"));

  auto resumed = fresh();
  compile(*resumed);
  manual_seed(999);  // whatever the new process does before: the backup restores the generator
  auto h = resumed->fit(x, y, {.epochs = 3, .batch_size = 16, .verbose = 0,
                               .callbacks = {keras::BackupAndRestore(dir / "backup")}});
  EXPECT_EQ(h.epoch, std::vector<int>{2});  // only the third epoch ran
  nn::StateDict a = straight->state_dict(), b = resumed->state_dict();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i].second, b[i].second)) << a[i].first;
  EXPECT_FALSE(std::filesystem::exists(dir / "backup/backup.safetensors"));  // deleted at the end
}

}  // namespace
}  // namespace nerve
