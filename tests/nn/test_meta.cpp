// The meta device at model level: models built under a DeviceGuard(meta) hold no memory, run forward and backward
// for their shapes, count their parameters and print their summary, as PyTorch's meta device.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/rnn.h>

#include <fstream>
#include <sstream>

using namespace nerve;
using Layers = std::vector<std::shared_ptr<nn::Module>>;

namespace {

// resident memory of this process, in bytes (Linux)
int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * 4096;
}

}  // namespace

TEST(Meta, TensorsHoldNoData) {
  Tensor m = empty({1 << 20, 1 << 20}, DType::f32, Device::meta);  // 4 TiB if it were allocated
  EXPECT_TRUE(m.is_meta());
  EXPECT_EQ(m.device(), Device::meta);
  EXPECT_EQ(m.storage()->nbytes(), size_t{4} << 40);
  EXPECT_EQ(m.storage()->data(), nullptr);
  EXPECT_THROW(m.raw_data(), Error);
  EXPECT_THROW(m.data<float>(), Error);
  EXPECT_THROW(m.item<float>(), Error);
  EXPECT_THROW(m.to_vector<float>(), Error);
  EXPECT_THROW(m.to(Device::cpu), Error);  // no values to copy
  EXPECT_EQ(m.to_string(), "tensor(..., device='meta', size=[1048576, 1048576])");
  // views and in-place ops keep shapes only
  Tensor v = m.narrow(0, 0, 3).transpose(0, 1);
  EXPECT_TRUE(v.is_meta());
  EXPECT_EQ(v.shape(), (Shape{1 << 20, 3}));
  v.fill_(1.0);
  v.zero_();
  // a cpu tensor moved to meta keeps shape and dtype
  Tensor c = arange(6.0, DType::f64).reshape({2, 3});
  Tensor cm = c.to(Device::meta);
  EXPECT_TRUE(cm.is_meta());
  EXPECT_EQ(cm.shape(), c.shape());
  EXPECT_EQ(cm.dtype(), DType::f64);
  EXPECT_FALSE(c.is_meta());
  // a meta value cannot be written into a cpu tensor
  EXPECT_THROW(c.copy_(cm), Error);
  EXPECT_THROW(c.add_(cm), Error);
}

TEST(Meta, DeviceGuardSetsTheCreationDefaultOnly) {
  EXPECT_EQ(default_device(), Device::cpu);
  Tensor cpu_x = ones({2, 3});
  {
    DeviceGuard meta(Device::meta);
    EXPECT_EQ(default_device(), Device::meta);
    EXPECT_TRUE(zeros({2}).is_meta());
    EXPECT_TRUE(randn({2}).is_meta());
    EXPECT_FALSE(zeros({2}, DType::f32, Device::cpu).is_meta());
    EXPECT_FALSE(from_vector<float>({1, 2}).is_meta());  // values given: on cpu
    Tensor y = relu(cpu_x * 2.0) + 1.0;                 // ops follow their inputs, not the default
    EXPECT_FALSE(y.is_meta());
    EXPECT_EQ(y.to_vector<float>(), std::vector<float>(6, 3.f));
    {
      DeviceGuard cpu(Device::cpu);
      EXPECT_FALSE(zeros({2}).is_meta());
    }
    EXPECT_EQ(default_device(), Device::meta);
  }
  EXPECT_EQ(default_device(), Device::cpu);
}

TEST(Meta, RandomFunctionsDrawNothingOnMeta) {
  manual_seed(3);
  Tensor a = randn({4});
  manual_seed(3);
  {
    DeviceGuard meta(Device::meta);
    randn({1000});
    rand({1000});
    randint(0, 10, {1000});
  }
  Tensor b = randn({4});
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
}

TEST(Meta, MlpTrainsForShapesWithoutMemory) {
  const int64_t rss0 = rss_bytes();
  DeviceGuard meta(Device::meta);
  // 20000 x 20000 x 3 layers: 4.8 GB of f32 weights, none allocated
  auto model = std::make_shared<nn::Sequential>(Layers{
      std::make_shared<nn::Linear>(20000, 20000), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5),
      std::make_shared<nn::Linear>(20000, 20000), std::make_shared<nn::GELU>(), std::make_shared<nn::Linear>(20000, 10)});
  EXPECT_EQ(model->num_parameters(), 2 * (20000 * 20000 + 20000) + 20000 * 10 + 10);
  for (const Tensor& p : model->parameters()) EXPECT_TRUE(p.is_meta());
  Tensor x = randn({64, 20000});
  Tensor y = randint(0, 10, {64});
  Tensor logits = (*model)(x);
  EXPECT_TRUE(logits.is_meta());
  EXPECT_EQ(logits.shape(), (Shape{64, 10}));
  Tensor loss = nn::functional::cross_entropy(logits, y);
  EXPECT_TRUE(loss.is_meta());
  EXPECT_EQ(loss.shape(), Shape{});
  loss.backward();
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(p.grad().is_meta()) << name;
    EXPECT_EQ(p.grad().shape(), p.shape()) << name;
  }
  EXPECT_LT(rss_bytes() - rss0, int64_t{64} << 20);  // a few pages of bookkeeping, not gigabytes
}

TEST(Meta, CharLstmModelForShapes) {
  // the PyTorch reference program's model: Embedding -> LSTM -> Linear, cross-entropy over the vocabulary
  DeviceGuard meta(Device::meta);
  const int64_t V = 96, E = 64, H = 256, B = 32, T = 50;
  auto emb = std::make_shared<nn::Embedding>(V, E);
  auto lstm = std::make_shared<nn::LSTM>(nn::RNNOptions{.input_size = E, .hidden_size = H, .num_layers = 2,
                                                        .batch_first = true});
  auto head = std::make_shared<nn::Linear>(H, V);
  Tensor ids = randint(0, V, {B, T});
  auto [out, state] = lstm->forward((*emb)(ids), std::nullopt);
  EXPECT_EQ(out.shape(), (Shape{B, T, H}));
  EXPECT_TRUE(state.h.is_meta());
  EXPECT_EQ(state.h.shape(), (Shape{2, B, H}));
  EXPECT_EQ(state.c.shape(), (Shape{2, B, H}));
  Tensor logits = (*head)(out);
  EXPECT_EQ(logits.shape(), (Shape{B, T, V}));
  Tensor loss = nn::functional::cross_entropy(logits.reshape({-1, V}), randint(0, V, {B * T}));
  loss.backward();
  for (nn::Module* m : {static_cast<nn::Module*>(emb.get()), static_cast<nn::Module*>(lstm.get()),
                        static_cast<nn::Module*>(head.get())})
    for (const auto& [name, p] : m->named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name;
      EXPECT_TRUE(p.grad().is_meta()) << name;
      EXPECT_EQ(p.grad().shape(), p.shape()) << name;
    }
}

TEST(Meta, ShapeErrorsAreFoundOnMeta) {
  DeviceGuard meta(Device::meta);
  nn::Linear fc(784, 128);
  EXPECT_THROW(fc(randn({32, 785})), Error);  // the same message as on cpu, no data needed
  Tensor x = randn({32, 784});
  EXPECT_EQ(fc(x).shape(), (Shape{32, 128}));
}

TEST(Meta, KerasSummaryOfAMetaModel) {
  std::ostringstream cpu_summary, meta_summary;
  {
    keras::Sequential model({keras::Flatten(Shape{28, 28}), keras::Dense(128, "relu"), keras::Dense(10, "softmax")});
    model.build({28, 28});
    model.summary(cpu_summary);
  }
  {
    DeviceGuard meta(Device::meta);
    keras::Sequential model({keras::Flatten(Shape{28, 28}), keras::Dense(128, "relu"), keras::Dense(10, "softmax")});
    model.build({28, 28});
    for (const Tensor& p : model.parameters()) EXPECT_TRUE(p.is_meta());
    model.summary(meta_summary);
    Tensor out = model.forward(randn({5, 28, 28}));
    EXPECT_TRUE(out.is_meta());
    EXPECT_EQ(out.shape(), (Shape{5, 10}));
  }
  EXPECT_EQ(meta_summary.str(), cpu_summary.str());
  EXPECT_NE(meta_summary.str().find("101,770"), std::string::npos) << meta_summary.str();
}
