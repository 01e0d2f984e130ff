// nerve::models against torchvision 0.14: state-dict keys, parameter counts (on the meta device), and logits of
// models whose parameters are filled by a formula of their state-dict key on both sides
// (tests/golden/make_models_golden.py wrote tests/golden/models_golden.txt).
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/io/torch.h>
#include <nerve/nn/models.h>

#include "golden/golden_reader.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace nerve;

namespace {

// tests/golden/models_golden.txt through the golden reader (tests/golden/golden_reader.h): `keys NAME ...`
// (the torchvision state-dict keys) and `t NAME f32 1 N ...` (flattened outputs).
const golden::Case& models_golden() { return golden::tensors_of("golden/models_golden.txt"); }

double frac(double x) { return x - std::floor(x); }

// The formula of make_models_golden.py's fill(), by state-dict key.
void fill_formula(nn::Module& m) {
  for (auto& [key, t] : m.state_dict()) {
    if (key.ends_with("num_batches_tracked")) continue;
    int64_t sum = 0;
    for (size_t j = 0; j < key.size(); ++j) sum += static_cast<int64_t>(j + 1) * static_cast<unsigned char>(key[j]);
    const double p = static_cast<double>(sum % 997) / 97.0;
    const int64_t n = t.numel();
    ASSERT_EQ(t.dtype(), DType::f32) << key;
    ASSERT_TRUE(t.is_contiguous()) << key;
    float* d = t.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      const double u = frac(0.6180339887498949 * static_cast<double>(i) + p) - 0.5;
      double v;
      if (key.ends_with("running_var"))
        v = 1 + u;
      else if (key.ends_with("running_mean"))
        v = 0.2 * u;
      else if (t.dim() == 1 && key.ends_with("weight"))
        v = 1 + 0.4 * u;
      else if (t.dim() == 1)
        v = 0.2 * u;
      else
        v = u * std::sqrt(24.0 / static_cast<double>(n / t.shape()[0]));
      d[i] = static_cast<float>(v);
    }
  }
}

Tensor make_input(int64_t c, int64_t batch = 2, int64_t hw = 32) {
  Tensor x = empty({batch, c, hw, hw});
  float* d = x.data<float>();
  int64_t i = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t h = 0; h < hw; ++h)
        for (int64_t w = 0; w < hw; ++w, ++i)
          d[i] = static_cast<float>(2 * (frac(0.7548776662466927 * static_cast<double>(i)) - 0.5) * (1 + b) +
                                    b * (h - (hw - 1) / 2.0) / 16);
  return x;
}

// |got - want| <= 1e-4 * max |want| (float32 through 50 layers; the golden is float32 too)
void expect_close(const Tensor& got, const std::string& name) {
  ASSERT_TRUE(models_golden().has(name)) << name;
  const std::vector<double>& want = models_golden().at(name).values;
  std::vector<float> g = got.contiguous().to_vector<float>();
  ASSERT_EQ(g.size(), want.size()) << name;
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - want[i]));
  EXPECT_LE(worst, 1e-4 * scale + 1e-6) << name << ": largest difference " << worst << " (scale " << scale << ")";
}

void expect_torchvision_keys(nn::Module& m, const std::string& name) {
  ASSERT_TRUE(models_golden().has_list(name, "keys")) << name;
  std::vector<std::string> want = models_golden().list(name, "keys").items, got;
  for (auto& [k, t] : m.state_dict()) got.push_back(k);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want) << name;
}

void check_eval(nn::Module& m, const std::string& name, int64_t channels) {
  expect_torchvision_keys(m, name);
  fill_formula(m);
  m.eval();
  NoGradGuard g;
  Tensor y = m(make_input(channels));
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  expect_close(y, name + "_eval");
}

}  // namespace

TEST(Models, ParameterCountsOnMeta) {
  DeviceGuard meta(Device::meta);
  EXPECT_EQ(models::resnet18()->num_parameters(), 11689512);
  EXPECT_EQ(models::resnet34()->num_parameters(), 21797672);
  EXPECT_EQ(models::resnet50()->num_parameters(), 25557032);
  EXPECT_EQ(models::vgg11()->num_parameters(), 132863336);
  EXPECT_EQ(models::vgg16()->num_parameters(), 138357544);
  EXPECT_EQ(models::vgg11_bn()->num_parameters(), 132868840);
  EXPECT_EQ(models::vgg16_bn()->num_parameters(), 138365992);
  EXPECT_EQ(models::mobilenet_v2()->num_parameters(), 3504872);
  // ImageNet shapes run on meta for nothing: (1, 3, 224, 224) -> (1, 1000)
  auto vgg = models::vgg16();
  EXPECT_TRUE(vgg->classifier->parameters()[0].is_meta());
  EXPECT_EQ((*vgg)(empty({1, 3, 224, 224})).shape(), (Shape{1, 1000}));
  EXPECT_EQ((*models::resnet50())(empty({2, 3, 224, 224})).shape(), (Shape{2, 1000}));
  EXPECT_EQ((*models::mobilenet_v2())(empty({2, 3, 224, 224})).shape(), (Shape{2, 1000}));
  // the small-input stem: 3x3 conv1, no max-pool (32x32 stays 32x32 until layer2)
  auto small = models::resnet18({.num_classes = 10, .in_channels = 1, .small_input = true});
  EXPECT_EQ(small->num_parameters(), 11689512 - 64 * 3 * 49 + 64 * 9 - 513 * 990);
  EXPECT_EQ(small->conv1->weight.shape(), (Shape{64, 1, 3, 3}));
  EXPECT_EQ(small->layer1->forward(small->conv1->forward(empty({1, 1, 28, 28}))).shape(), (Shape{1, 64, 28, 28}));
  EXPECT_EQ((*small)(empty({4, 1, 28, 28})).shape(), (Shape{4, 10}));
}

TEST(Models, TorchvisionKeys) {
  DeviceGuard meta(Device::meta);
  expect_torchvision_keys(*models::resnet50({.num_classes = 10}), "resnet50");
  expect_torchvision_keys(*models::mobilenet_v2({.num_classes = 10}), "mobilenet_v2");
  auto sd = models::resnet18()->state_dict();
  auto has = [&](const std::string& k) {
    return std::any_of(sd.begin(), sd.end(), [&](auto& p) { return p.first == k; });
  };
  EXPECT_TRUE(has("layer2.0.downsample.0.weight"));
  EXPECT_TRUE(has("layer2.0.downsample.1.running_mean"));
  EXPECT_FALSE(has("layer1.0.downsample.0.weight"));
  EXPECT_TRUE(has("fc.weight"));
  auto mb = models::mobilenet_v2()->state_dict();
  EXPECT_EQ(mb.front().first, "features.0.0.weight");
}

TEST(Models, ResNet18MatchesTorchvision) { check_eval(*models::resnet18({.num_classes = 10}), "resnet18", 3); }
TEST(Models, ResNet50MatchesTorchvision) { check_eval(*models::resnet50({.num_classes = 10}), "resnet50", 3); }
TEST(Models, MobileNetV2MatchesTorchvision) {
  check_eval(*models::mobilenet_v2({.num_classes = 10}), "mobilenet_v2", 3);
}
TEST(Models, Vgg11BnMatchesTorchvision) {
  auto m = models::vgg11_bn({.num_classes = 10});
  check_eval(*m, "vgg11_bn", 3);
  NoGradGuard g;
  expect_close(m->features->forward(make_input(3)), "vgg11_bn_features");
}
TEST(Models, SmallInputGrayResNet18MatchesTorchvision) {
  check_eval(*models::resnet18({.num_classes = 10, .in_channels = 1, .small_input = true}), "resnet18_small_gray", 1);
}

// A state dict written by torch.save from torchvision's own mobilenet_v2 (its first four feature blocks, seed 0):
// io::load_torch reads it, the keys fit nerve's model, and those blocks give torchvision's output.
TEST(Models, LoadsATorchvisionStateDict) {
  nn::StateDict sd = io::load_torch(NERVE_TEST_DATA_DIR "/golden/mobilenet_v2_head.pt");
  // features.0: conv + bn (5 entries) = 6; features.1: conv.0 (6), conv.1, conv.2 (bn) = 12; features.2 and .3:
  // conv.0 (6), conv.1 (6), conv.2, conv.3 (bn) = 18 each
  ASSERT_EQ(sd.size(), 54u);
  EXPECT_EQ(sd[0].first, "features.0.0.weight");
  auto m = models::mobilenet_v2({.num_classes = 10});
  m->load_state_dict(sd, /*strict=*/false);
  // the loaded values are the ones in the file, not the init's
  for (auto& [k, v] : m->state_dict()) {
    if (k == "features.2.conv.1.0.weight") {
      EXPECT_EQ(v.to_vector<float>(), std::find_if(sd.begin(), sd.end(), [&](auto& p) { return p.first == k; })
                                           ->second.to_vector<float>());
    }
  }
  m->eval();
  NoGradGuard g;
  Tensor h = make_input(3, 1, 16);
  for (int i = 0; i < 4; ++i) h = m->features->at(i)->forward(h);
  expect_close(h, "mobilenet_v2_head_saved");
  // strict loading of the partial dict names every missing key's count (and copies nothing)
  EXPECT_THROW(m->load_state_dict(sd), Error);
}

TEST(Models, ResNet18TrainModeBatchStatistics) {
  auto m = models::resnet18({.num_classes = 10, .small_input = true});
  fill_formula(*m);
  m->train();
  Tensor y = (*m)(make_input(3));
  expect_close(y, "resnet18_small_train");
  expect_close(m->bn1->running_mean, "resnet18_small_train_bn1_running_mean");
  auto block = std::dynamic_pointer_cast<models::BasicBlock>(m->layer4->at(1));
  ASSERT_TRUE(block);
  expect_close(block->bn2->running_var, "resnet18_small_train_layer4_1_bn2_running_var");
  // and it trains: the loss backpropagates into conv1
  nn::functional::cross_entropy(y, from_vector<int64_t>({3, 7}, {2})).backward();
  ASSERT_TRUE(m->conv1->weight.grad().defined());
  EXPECT_GT(m->conv1->weight.grad().abs().sum().item<float>(), 0.0f);
}

TEST(Models, Init) {
  manual_seed(0);
  auto m = models::resnet18({.num_classes = 10, .small_input = true, .zero_init_residual = true});
  // kaiming_normal_(fan_out, relu): std sqrt(2 / (64 * 9)) for layer1's convs
  Tensor w = m->layer1->named_parameters()[0].second;
  EXPECT_EQ(m->layer1->named_parameters()[0].first, "0.conv1.weight");
  const double sd = std::sqrt(2.0 / (64 * 9));
  EXPECT_NEAR(w.std().item<float>(), sd, 0.05 * sd);
  EXPECT_EQ(m->bn1->weight.sum().item<float>(), 64.0f);
  auto block = std::dynamic_pointer_cast<models::BasicBlock>(m->layer1->at(0));
  EXPECT_EQ(block->bn2->weight.abs().sum().item<float>(), 0.0f);  // zero_init_residual
  auto vgg_m = models::mobilenet_v2({.num_classes = 10});
  auto fc = std::dynamic_pointer_cast<nn::Linear>(vgg_m->classifier->at(1));
  ASSERT_TRUE(fc);
  EXPECT_NEAR(fc->weight.std().item<float>(), 0.01, 0.002);
  EXPECT_EQ(fc->bias.abs().sum().item<float>(), 0.0f);
}

TEST(Models, BadOptions) {
  DeviceGuard meta(Device::meta);
  try {
    models::resnet18({.num_classes = 0});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_classes must be in [1, 2^31], got 0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(models::vgg11({.in_channels = -1}), Error);
  EXPECT_THROW(models::mobilenet_v2({.in_channels = int64_t{1} << 40}), Error);
  EXPECT_THROW(models::mobilenet_v2({.dropout = 1.5}), Error);
  EXPECT_THROW(models::ResNet(false, {2, 2, 2}, {}), Error);
  EXPECT_THROW(models::ResNet(false, {2, 2, 0, 2}, {}), Error);
}

TEST(Models, ReLU6) {
  nn::ReLU6 r;
  Tensor x = from_vector<float>({-1.0f, 0.5f, 3.0f, 7.0f}, {4}).requires_grad_();
  Tensor y = r(x);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0.0f, 0.5f, 3.0f, 6.0f}));
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0.0f, 1.0f, 1.0f, 0.0f}));
  EXPECT_EQ(r.repr(), "ReLU6()");
}
