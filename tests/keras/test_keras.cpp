// keras::Sequential: summary, fitting synthetic data, determinism, validation, callbacks, bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nerve/nerve.h>

using namespace nerve;

namespace {

// Three Gaussian blobs in 2-D, labels 0..2.
std::pair<Tensor, Tensor> blobs(int64_t n, uint64_t seed) {
  manual_seed(seed);
  Tensor y = randint(0, 3, {n});
  Tensor centers = tensor({{0.f, 3.f}, {3.f, -2.f}, {-3.f, -2.f}});
  Tensor x = index_select(centers, 0, y) + randn({n, 2}) * 0.7;
  return {x, y};
}

keras::Sequential mlp() {
  return keras::Sequential({keras::Dense(16, "relu", {.input_shape = Shape{2}}), keras::Dense(3, "softmax")});
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no nerve::Error thrown";
  return "";
}

}  // namespace

TEST(Keras, SummaryOfTheMnistModel) {
  keras::Sequential model({keras::Flatten(Shape{28, 28}), keras::Dense(128, "relu"), keras::Dense(10, "softmax")});
  std::ostringstream os;
  model.summary(os);
  std::string s = os.str();
  EXPECT_NE(s.find("flatten (Flatten)           (None, 784)               0"), std::string::npos) << s;
  EXPECT_NE(s.find("dense (Dense)               (None, 128)               100480"), std::string::npos) << s;
  EXPECT_NE(s.find("dense_1 (Dense)             (None, 10)                1290"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 101,770"), std::string::npos) << s;
  EXPECT_EQ(model.num_parameters(), 101770);
  auto sd = model.state_dict();
  ASSERT_EQ(sd.size(), 4u);
  EXPECT_EQ(sd[0].first, "dense.weight");
  EXPECT_EQ(sd[0].second.shape(), (Shape{128, 784}));
}

TEST(Keras, DenseUsesGlorotUniformAndZeroBias) {
  manual_seed(0);
  keras::Sequential model({keras::Dense(200, "", {.input_shape = Shape{300}})});
  Tensor w = model.state_dict()[0].second, b = model.state_dict()[1].second;
  double limit = std::sqrt(6.0 / (300 + 200));
  EXPECT_LE(max(abs(w)).item<float>(), limit);
  EXPECT_GT(max(abs(w)).item<float>(), 0.95 * limit);
  EXPECT_NEAR(var(w).item<float>(), limit * limit / 3, 0.05 * limit * limit / 3);  // U(-l, l) variance
  EXPECT_EQ(max(abs(b)).item<float>(), 0.0f);
}

TEST(Keras, FitLearnsBlobsAndReportsHistory) {
  auto [x, y] = blobs(600, 1);
  auto model = mlp();
  model.compile(keras::Adam(0.01), "sparse_categorical_crossentropy", {"accuracy"});
  auto h = model.fit(x, y, {.epochs = 5, .batch_size = 32, .verbose = 0, .validation_split = 0.2});
  ASSERT_EQ(h.history["loss"].size(), 5u);
  ASSERT_EQ(h.history["val_accuracy"].size(), 5u);
  EXPECT_LT(h.history["loss"].back(), h.history["loss"].front());
  auto ev = model.evaluate(x, y, 32, 0);
  EXPECT_GT(ev["accuracy"], 0.95);
  Tensor p = model.predict(narrow(x, 0, 0, 7));
  EXPECT_EQ(p.shape(), (Shape{7, 3}));
  EXPECT_NEAR(sum(p, {1}).to_vector<float>()[3], 1.0f, 1e-5);  // softmax probabilities
  // evaluate's accuracy and loss equal the ones computed from predict by hand (an untrained model: mixed rows)
  auto fresh = mlp();
  fresh.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  auto ev2 = fresh.evaluate(x, y, 64, 0);
  Tensor probs = fresh.predict(x);
  const double acc = mean(eq(argmax(probs, 1), y).to(DType::f64)).item<double>();
  EXPECT_GT(acc, 0.0);
  EXPECT_LT(acc, 0.95);
  EXPECT_NEAR(ev2["accuracy"], acc, 1e-12);
  const double nll = -mean(log(gather(probs, 1, y.unsqueeze(1)))).item<double>();
  EXPECT_NEAR(ev2.loss, nll, 1e-5);
}

TEST(Keras, SameSeedSameResult) {
  auto run = [] {
    auto [x, y] = blobs(200, 3);
    manual_seed(7);
    auto model = mlp();
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    return model.fit(x, y, {.epochs = 2, .verbose = 0}).history["loss"];
  };
  EXPECT_EQ(run(), run());
}

TEST(Keras, OtherLossesAndOptimizers) {
  auto [x, y] = blobs(300, 2);
  for (const char* opt : {"sgd", "rmsprop", "adamw", "adagrad"}) {
    auto model = mlp();
    model.compile(opt, "categorical_crossentropy", {"accuracy"});
    Tensor y1 = one_hot(y, 3).to(DType::f32);
    auto h = model.fit(x, y1, {.epochs = 3, .verbose = 0});
    EXPECT_LT(h.history["loss"].back(), h.history["loss"].front()) << opt;
  }
  keras::Sequential reg({keras::Dense(1, "", {.input_shape = Shape{2}})});
  reg.compile(keras::SGD(0.05), "mse", {"mae"});
  Tensor target = sum(x, {1}, true) * 0.5 + 1.0;
  auto h = reg.fit(x, target, {.epochs = 20, .verbose = 0});
  EXPECT_LT(h.history["loss"].back(), 1e-2);
}

TEST(Keras, SoftmaxOutputStaysFiniteAtExtremeLogits) {
  keras::Sequential model({keras::Dense(3, "softmax", {.input_shape = Shape{2}})});
  model.compile(keras::SGD(0.1), "sparse_categorical_crossentropy", {"accuracy"});
  Tensor x = tensor({{1e4f, -1e4f}, {-1e4f, 1e4f}});
  Tensor y = from_vector<int64_t>({2, 0});
  auto h = model.fit(x, y, {.epochs = 1, .batch_size = 2, .verbose = 0});
  EXPECT_TRUE(std::isfinite(h.history["loss"][0]));
}

TEST(Keras, Callbacks) {
  auto [x, y] = blobs(200, 4);
  auto model = mlp();
  model.compile(keras::Adam(1e-9), "sparse_categorical_crossentropy", {"accuracy"});  // cannot improve
  int epochs_seen = 0;
  std::string csv = ::testing::TempDir() + "/nerve_keras_log.csv";
  auto h = model.fit(x, y,
                     {.epochs = 20, .verbose = 0, .validation_split = 0.25,
                      .callbacks = {keras::EarlyStopping({.monitor = "val_loss", .min_delta = 1e-3, .patience = 1}),
                                    keras::LambdaCallback({.on_epoch_end = [&](int, const keras::Logs&) { ++epochs_seen; }}),
                                    keras::CSVLogger(csv)}});
  EXPECT_EQ(epochs_seen, 2);  // epoch 1 sets the best, epoch 2 does not improve: patience 1 reached (Keras's rule)
  EXPECT_EQ(h.history["loss"].size(), 2u);
  std::ifstream f(csv);
  std::string header, line;
  std::getline(f, header);
  EXPECT_EQ(header.rfind("epoch,accuracy,loss,lr,val_accuracy,val_loss", 0), 0u) << header;
  int rows = 0;
  while (std::getline(f, line)) ++rows;
  EXPECT_EQ(rows, 2);

  auto m2 = mlp();
  m2.compile(keras::SGD(0.1), "sparse_categorical_crossentropy");
  m2.fit(x, y, {.epochs = 4, .verbose = 0, .validation_split = 0.25,
                .callbacks = {keras::ReduceLROnPlateau({.monitor = "val_loss", .factor = 0.5, .patience = 1,
                                                        .min_delta = 10.0})}});
  EXPECT_NEAR(m2.optimizer().lr(), 0.1 * 0.5 * 0.5 * 0.5, 1e-12);  // epoch 1 sets the best; no later one beats it by 10
}

TEST(Keras, BadInputIsAClearError) {
  auto [x, y] = blobs(64, 5);
  auto model = mlp();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  std::string e = expect_error([&] { model.fit(x, narrow(y, 0, 0, 63), {.verbose = 0}); });
  EXPECT_NE(e.find("fit: x has 64 samples but y has 63"), std::string::npos) << e;
  Tensor bad = y.clone();
  bad.data<int64_t>()[5] = 3;
  e = expect_error([&] { model.fit(x, bad, {.verbose = 0}); });
  EXPECT_NE(e.find("3"), std::string::npos) << e;
  EXPECT_NE(e.find("class"), std::string::npos) << e;
  e = expect_error([&] { model.fit(zeros({64, 5}), y, {.verbose = 0}); });
  EXPECT_NE(e.find("expects inputs of shape (None, 2)"), std::string::npos) << e;
  auto reg = mlp();
  reg.compile("sgd", "mse");
  e = expect_error([&] { reg.fit(x, zeros({64, 2}), {.verbose = 0}); });
  EXPECT_NE(e.find("target shape [32, 2] does not match the model output shape [32, 3]"), std::string::npos) << e;
  e = expect_error([&] { model.compile("adamx", "mse"); });
  EXPECT_NE(e.find("unknown optimizer 'adamx'"), std::string::npos) << e;
  e = expect_error([&] { keras::Dense(4, "relux"); });
  EXPECT_NE(e.find("unknown activation 'relux'"), std::string::npos) << e;
}

TEST(Keras, EmptyDataAndFloatLabelsAreClearErrors) {
  auto [x, y] = blobs(64, 5);
  auto model = mlp();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  Tensor x0 = narrow(x, 0, 0, 0), y0 = narrow(y, 0, 0, 0);
  std::string e = expect_error([&] { model.fit(x0, y0, {.verbose = 0}); });
  EXPECT_NE(e.find("fit: x has 0 samples"), std::string::npos) << e;
  e = expect_error([&] { model.evaluate(x0, y0, 32, 0); });
  EXPECT_NE(e.find("evaluate: x has 0 samples"), std::string::npos) << e;
  e = expect_error([&] { model.predict(x0); });
  EXPECT_NE(e.find("predict: x has 0 samples"), std::string::npos) << e;
  e = expect_error([&] { model.fit(x, y, {.verbose = 0, .validation_data = std::make_pair(x0, y0)}); });
  EXPECT_NE(e.find("fit (validation_data): x has 0 samples"), std::string::npos) << e;
  // float labels: the dtype is named, by fit (fused softmax + cross-entropy) and by the functional losses
  e = expect_error([&] { model.fit(x, y.to(DType::f32), {.verbose = 0}); });
  EXPECT_NE(e.find("y_true must hold integer class indices (i64, i32 or u8), got f32 [32]"), std::string::npos) << e;
  e = expect_error([&] { (void)F::cross_entropy(randn({8, 3}), zeros({8})); });
  EXPECT_NE(e.find("cross_entropy: target is [8] f32: class indices must be an integer tensor (i64), not f32"),
            std::string::npos)
      << e;
  EXPECT_NO_THROW((void)F::cross_entropy(randn({8, 3}), softmax(randn({8, 3}), 1)));  // probabilities still work
}

TEST(Keras, ProgressBarPrintsOneLinePerEpochWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  keras::ProgressBar bar(100, 1, /*tty=*/0, f);
  for (int i = 1; i <= 100; ++i) bar.update(i, {{"loss", 0.5}});
  bar.finish({{"loss", 0.25}, {"accuracy", 0.75}});
  std::rewind(f);
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string s(buf, n);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1) << s;
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(s.rfind("100/100 [==============================] - ", 0), 0u) << s;
  EXPECT_NE(s.find(" - loss: 0.2500 - accuracy: 0.7500\n"), std::string::npos) << s;
}

// Rescaling on raw uint8 images is one fused pass; it equals the cast, multiply and add, on every thread count
// and on sizes that split unevenly.
TEST(Keras, RescalingOfBytesEqualsTheComposite) {
  const int prev = get_num_threads();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {1, 17, 784, 40000}) {
      Tensor x = randint(0, 256, {n}, DType::u8).reshape({n, 1});
      for (double offset : {0.0, -1.0}) {
        auto layer = keras::Rescaling(1.0 / 127.5, offset);
        Tensor y = layer->forward(x);
        Tensor want = x.to(DType::f32) * (1.0 / 127.5) + offset;
        ASSERT_EQ(y.dtype(), DType::f32);
        ASSERT_EQ(y.shape(), x.shape());
        EXPECT_LE(max(abs(y - want)).item<double>(), 1e-6) << threads << " " << n << " " << offset;
      }
    }
    // floats go through the composite (and keep their gradient)
    Tensor f = randn({3, 4}).requires_grad_();
    Tensor y = keras::Rescaling(2.0, 1.0)->forward(f);
    sum(y).backward();
    EXPECT_LE(max(abs(f.grad() - 2.0)).item<double>(), 0.0);
  }
  set_num_threads(prev);
}

// uint8 images into Rescaling -> Flatten -> Dense run as one fused op (linear_u8); the model trains and predicts
// as the same model fed the images as floats (the unfused path), with the last layer fused too
// (Rescaling -> Flatten -> Dense(softmax): the logits path), on 1 and 2 threads.
TEST(Keras, RescalingFusedIntoDenseTrainsAsTheUnfusedModel) {
  const int prev = get_num_threads();
  for (int threads : {1, 2})
    for (bool deep : {true, false}) {
      set_num_threads(threads);
      manual_seed(5);
      Tensor x = randint(0, 256, {96, 6, 7}, DType::u8), y = randint(0, 3, {96});
      auto make = [&] {
        manual_seed(77);
        std::vector<keras::LayerPtr> layers{keras::Rescaling(1.0 / 255, -0.5, Shape{6, 7}), keras::Flatten()};
        if (deep) layers.push_back(keras::Dense(16, "relu"));
        layers.push_back(keras::Dense(3, "softmax"));
        auto m = std::make_unique<keras::Sequential>(layers);
        m->compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
        return m;
      };
      auto fused = make(), plain = make();
      auto hf = fused->fit(x, y, {.epochs = 3, .batch_size = 16, .verbose = 0, .shuffle = false});
      auto hp = plain->fit(x.to(DType::f32), y, {.epochs = 3, .batch_size = 16, .verbose = 0, .shuffle = false});
      for (size_t e = 0; e < 3; ++e)
        EXPECT_NEAR(hf.history["loss"][e], hp.history["loss"][e], 1e-5) << threads << " " << deep << " " << e;
      Tensor pf = fused->predict(x), pp = plain->predict(x.to(DType::f32));
      EXPECT_LE(max(abs(pf - pp)).item<double>(), 1e-5) << threads << " " << deep;
      EXPECT_LE(max(abs(sum(pf, {1}) - 1.0)).item<double>(), 1e-5);  // predict applies the softmax
    }
  set_num_threads(prev);
}

namespace {

// The Keras MNIST model's layers on small images.
std::vector<keras::LayerPtr> image_mlp(double offset, const Shape& image) {
  return {keras::Rescaling(1.0 / 255, offset, image), keras::Flatten(), keras::Dense(16, "relu"),
          keras::Dense(3, "softmax")};
}

}  // namespace

// The plan the model is rewritten into, once: the fused ops it calls and the layers each one covers.
TEST(Keras, PlanOfTheMnistModelNamesItsFusedOps) {
  keras::Sequential model(image_mlp(0.0, {28, 28}));
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  EXPECT_EQ(model.describe_plan(DType::u8, true),
            "linear_u8(rescaling, flatten, dense; relu) -> linear(dense_1) -> cross_entropy");
  EXPECT_EQ(model.describe_plan(DType::u8), "linear_u8(rescaling, flatten, dense; relu) -> layer(dense_1)");
  EXPECT_EQ(model.describe_plan(DType::f32, true),
            "layer(rescaling) -> layer(flatten) -> linear_relu(dense) -> linear(dense_1) -> cross_entropy");

  keras::Plan plan = keras::make_plan(model.layers(), {.u8_input = true, .logits = true});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].op, keras::PlanStep::Op::linear_u8);
  EXPECT_EQ(plan[0].first, 0u);
  EXPECT_EQ(plan[0].count, 3u);
  EXPECT_EQ(plan[0].scale, 1.0 / 255);
  EXPECT_EQ(plan[0].offset, 0.0);
  EXPECT_TRUE(plan[0].relu);
  EXPECT_EQ(plan[1].op, keras::PlanStep::Op::linear);
  EXPECT_EQ(plan[1].first, 3u);
  EXPECT_EQ(plan[1].count, 1u);

  // a Dense activation with no fused form runs after linear_u8; the outputs equal the unfused model's
  keras::Sequential sig({keras::Rescaling(0.5, 1.0, Shape{3, 2}), keras::Flatten(), keras::Dense(4, "sigmoid")});
  EXPECT_EQ(sig.describe_plan(DType::u8), "linear_u8(rescaling, flatten, dense; then sigmoid)");
  Tensor x = randint(0, 256, {5, 3, 2}, DType::u8);
  Tensor fused = sig.predict(x);
  sig.set_fusion(false);
  EXPECT_LE(max(abs(fused - sig.predict(x))).item<double>(), 1e-6);
}

// The fused plan against the same model with fusion off (every layer by its own forward, the loss on the
// softmax output): the same outputs, loss and parameter gradients, for uint8 and float inputs.
TEST(Keras, FusedPlanGivesTheUnfusedOutputsAndGradients) {
  manual_seed(5);
  Tensor x8 = randint(0, 256, {64, 6, 7}, DType::u8), y = randint(0, 3, {64});
  for (Tensor x : {x8, x8.to(DType::f32)}) {
    auto make = [&](bool fuse) {
      manual_seed(77);
      auto m = std::make_unique<keras::Sequential>(image_mlp(-0.5, {6, 7}));
      m->compile(keras::SGD(0.1), "sparse_categorical_crossentropy", {"accuracy"});
      m->set_fusion(fuse);
      return m;
    };
    auto fused = make(true), plain = make(false);
    EXPECT_EQ(plain->describe_plan(x.dtype(), true),
              "layer(rescaling) -> layer(flatten) -> layer(dense) -> layer(dense_1) -> "
              "sparse_categorical_crossentropy");
    const std::string dt = dtype_name(x.dtype());
    EXPECT_LE(max(abs(fused->predict(x) - plain->predict(x))).item<double>(), 1e-6) << dt;
    // one full-batch step; the gradients stay on the parameters after it
    auto hf = fused->fit(x, y, {.epochs = 1, .batch_size = 64, .verbose = 0, .shuffle = false});
    auto hp = plain->fit(x, y, {.epochs = 1, .batch_size = 64, .verbose = 0, .shuffle = false});
    EXPECT_NEAR(hf.history["loss"][0], hp.history["loss"][0], 1e-6) << dt;
    auto pf = fused->parameters(), pp = plain->parameters();
    ASSERT_EQ(pf.size(), 4u);
    for (size_t i = 0; i < pf.size(); ++i) {
      EXPECT_GT(max(abs(pf[i].grad())).item<double>(), 0.0) << dt << " " << i;
      EXPECT_LE(max(abs(pf[i].grad() - pp[i].grad())).item<double>(), 1e-5) << dt << " " << i;
    }
  }
}

// Layers that match no fusion pattern run one call each, exactly as with fusion off.
TEST(Keras, UnmatchedLayersRunUnfused) {
  // a Dropout between Flatten and Dense breaks Rescaling -> Flatten -> Dense; tanh and linear Dense have no fused op
  manual_seed(3);
  keras::Sequential model({keras::Rescaling(1.0 / 255, 0.0, Shape{4, 4}), keras::Flatten(), keras::Dropout(0.5),
                           keras::Dense(5, "tanh"), keras::Dense(2)});
  model.compile("sgd", "mse");
  EXPECT_EQ(model.describe_plan(DType::u8, true),
            "layer(rescaling) -> layer(flatten) -> layer(dropout) -> layer(dense) -> layer(dense_1) -> mse");
  Tensor x = randint(0, 256, {8, 4, 4}, DType::u8);
  Tensor a = model.predict(x);
  model.set_fusion(false);
  EXPECT_EQ(max(abs(a - model.predict(x))).item<double>(), 0.0);

  // a final Activation(softmax) is left to the loss (nothing to call); a sigmoid Dense is a plain layer call
  keras::Sequential act({keras::Dense(4, "sigmoid", {.input_shape = Shape{2}}), keras::Activation("softmax")});
  act.compile("sgd", "sparse_categorical_crossentropy");
  EXPECT_EQ(act.describe_plan(DType::f32, true), "layer(dense) -> identity(activation) -> cross_entropy");
  EXPECT_EQ(act.describe_plan(DType::f32), "layer(dense) -> layer(activation)");
}
