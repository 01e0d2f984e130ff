// torchvision 0.14's ResNet, VGG and MobileNetV2 (torchvision/models/resnet.py, vgg.py, mobilenetv2.py): the same
// module tree, names, init and forward, written against nerve's nn modules.
#include "nerve/nn/models.h"

#include <algorithm>
#include <cmath>

#include "nerve/core/error.h"
#include "nerve/nn/init.h"

namespace nerve::models {

namespace {

using nn::Conv2d;
using nn::Conv2dOptions;
namespace init = nn::init;

void check_options(const ModelOptions& o, const char* model) {
  NERVE_CHECK(o.num_classes >= 1 && o.num_classes <= (int64_t{1} << 31), model,
              ": num_classes must be in [1, 2^31], got ", o.num_classes);
  NERVE_CHECK(o.in_channels >= 1 && o.in_channels <= (int64_t{1} << 20), model,
              ": in_channels must be in [1, 2^20], got ", o.in_channels);
  NERVE_CHECK(o.dropout < 1.0, model, ": dropout must be < 1 (or < 0 for the default), got ", o.dropout);
}

std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups = 1,
                             bool bias = false) {
  return std::make_shared<Conv2d>(Conv2dOptions{
      .in = in, .out = out, .kernel = k, .stride = stride, .padding = (k - 1) / 2, .groups = groups, .bias = bias});
}

// torchvision's loop over self.modules(): conv kaiming_normal_(fan_out, relu) [bias 0], BatchNorm 1 and 0,
// Linear N(0, 0.01) and bias 0 (linear_normal) or left as nn::Linear made it.
void init_weights(nn::Module& root, bool linear_normal) {
  for (auto& [name, m] : root.named_modules()) {
    if (auto* c = dynamic_cast<Conv2d*>(m)) {
      init::kaiming_normal_(c->weight, 0.0, init::FanMode::fan_out, init::Nonlinearity::relu);
      if (c->bias.defined()) init::zeros_(c->bias);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm*>(m)) {
      init::ones_(bn->weight);
      init::zeros_(bn->bias);
    } else if (auto* l = dynamic_cast<nn::Linear*>(m); l && linear_normal) {
      init::normal_(l->weight, 0.0, 0.01);
      init::zeros_(l->bias);
    }
  }
}

// torchvision's _make_divisible (from the TensorFlow MobileNet code): v rounded to a multiple of divisor,
// never below divisor nor under 90% of v.
int64_t make_divisible(double v, int64_t divisor) {
  int64_t n = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

// torchvision.ops.Conv2dNormActivation with BatchNorm2d and ReLU6: Sequential(conv, bn, relu6).
std::shared_ptr<nn::Sequential> conv_bn_relu6(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups = 1) {
  auto s = std::make_shared<nn::Sequential>();
  s->push_back(conv(in, out, k, stride, groups));
  s->push_back(std::make_shared<nn::BatchNorm2d>(out));
  s->push_back(std::make_shared<nn::ReLU6>());
  return s;
}

}  // namespace

// ---- ResNet ----

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> ds) {
  conv1 = register_module("conv1", conv(inplanes, planes, 3, stride));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  relu = register_module("relu", std::make_shared<nn::ReLU>());
  conv2 = register_module("conv2", conv(planes, planes, 3, 1));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  return relu->forward(out + (downsample ? downsample->forward(x) : x));
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> ds) {
  conv1 = register_module("conv1", conv(inplanes, planes, 1, 1));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(planes * expansion));
  relu = register_module("relu", std::make_shared<nn::ReLU>());
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = relu->forward(bn2->forward(conv2->forward(out)));
  out = bn3->forward(conv3->forward(out));
  return relu->forward(out + (downsample ? downsample->forward(x) : x));
}

ResNet::ResNet(bool bottleneck, const std::vector<int64_t>& layers, const ModelOptions& o) {
  check_options(o, "ResNet");
  NERVE_CHECK(layers.size() == 4, "ResNet: expected 4 stage lengths, got ", layers.size());
  for (int64_t n : layers) NERVE_CHECK(n >= 1 && n <= 1024, "ResNet: blocks per stage must be in [1, 1024], got ", n);
  if (o.small_input) {
    conv1 = register_module("conv1", conv(o.in_channels, 64, 3, 1));
  } else {
    conv1 = register_module("conv1", std::make_shared<Conv2d>(Conv2dOptions{
                                         .in = o.in_channels, .out = 64, .kernel = 7, .stride = 2, .padding = 3,
                                         .bias = false}));
  }
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(64));
  relu = register_module("relu", std::make_shared<nn::ReLU>());
  if (o.small_input)
    maxpool = register_module("maxpool", std::make_shared<nn::Identity>());
  else
    maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(
                                             nn::MaxPool2dOptions{.kernel = 3, .stride = nn::Size2(2), .padding = 1}));
  layer1 = register_module("layer1", make_layer(bottleneck, 64, layers[0], 1));
  layer2 = register_module("layer2", make_layer(bottleneck, 128, layers[1], 2));
  layer3 = register_module("layer3", make_layer(bottleneck, 256, layers[2], 2));
  layer4 = register_module("layer4", make_layer(bottleneck, 512, layers[3], 2));
  avgpool = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  fc = register_module("fc", std::make_shared<nn::Linear>(512 * (bottleneck ? 4 : 1), o.num_classes));
  init_weights(*this, false);
  if (o.zero_init_residual) {
    for (auto& [name, m] : named_modules()) {
      if (auto* b = dynamic_cast<Bottleneck*>(m)) init::zeros_(b->bn3->weight);
      if (auto* b = dynamic_cast<BasicBlock*>(m)) init::zeros_(b->bn2->weight);
    }
  }
}

std::shared_ptr<nn::Sequential> ResNet::make_layer(bool bottleneck, int64_t planes, int64_t blocks, int64_t stride) {
  const int64_t expansion = bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
  auto block = [&](int64_t in, int64_t s, std::shared_ptr<nn::Sequential> ds) -> std::shared_ptr<nn::Module> {
    if (bottleneck) return std::make_shared<Bottleneck>(in, planes, s, std::move(ds));
    return std::make_shared<BasicBlock>(in, planes, s, std::move(ds));
  };
  std::shared_ptr<nn::Sequential> downsample;
  if (stride != 1 || inplanes_ != planes * expansion) {
    downsample = std::make_shared<nn::Sequential>();
    downsample->push_back(conv(inplanes_, planes * expansion, 1, stride));
    downsample->push_back(std::make_shared<nn::BatchNorm2d>(planes * expansion));
  }
  auto seq = std::make_shared<nn::Sequential>();
  seq->push_back(block(inplanes_, stride, downsample));
  inplanes_ = planes * expansion;
  for (int64_t i = 1; i < blocks; ++i) seq->push_back(block(inplanes_, 1, nullptr));
  return seq;
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor h = maxpool->forward(relu->forward(bn1->forward(conv1->forward(x))));
  h = layer4->forward(layer3->forward(layer2->forward(layer1->forward(h))));
  return fc->forward(avgpool->forward(h).flatten(1));
}

std::shared_ptr<ResNet> resnet18(const ModelOptions& o) { return std::make_shared<ResNet>(false, std::vector<int64_t>{2, 2, 2, 2}, o); }
std::shared_ptr<ResNet> resnet34(const ModelOptions& o) { return std::make_shared<ResNet>(false, std::vector<int64_t>{3, 4, 6, 3}, o); }
std::shared_ptr<ResNet> resnet50(const ModelOptions& o) { return std::make_shared<ResNet>(true, std::vector<int64_t>{3, 4, 6, 3}, o); }

// ---- VGG ----

VGG::VGG(const std::vector<int64_t>& cfg, bool batch_norm, const ModelOptions& o) {
  check_options(o, "VGG");
  const double p = o.dropout < 0 ? 0.5 : o.dropout;
  features = register_module("features", std::make_shared<nn::Sequential>());
  int64_t in = o.in_channels;
  for (int64_t v : cfg) {
    if (v == 0) {
      features->push_back(std::make_shared<nn::MaxPool2d>(nn::MaxPool2dOptions{.kernel = 2, .stride = nn::Size2(2)}));
      continue;
    }
    features->push_back(conv(in, v, 3, 1, 1, true));
    if (batch_norm) features->push_back(std::make_shared<nn::BatchNorm2d>(v));
    features->push_back(std::make_shared<nn::ReLU>());
    in = v;
  }
  avgpool = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(7));
  classifier = register_module("classifier", std::make_shared<nn::Sequential>());
  classifier->push_back(std::make_shared<nn::Linear>(in * 7 * 7, 4096));
  classifier->push_back(std::make_shared<nn::ReLU>());
  classifier->push_back(std::make_shared<nn::Dropout>(p));
  classifier->push_back(std::make_shared<nn::Linear>(4096, 4096));
  classifier->push_back(std::make_shared<nn::ReLU>());
  classifier->push_back(std::make_shared<nn::Dropout>(p));
  classifier->push_back(std::make_shared<nn::Linear>(4096, o.num_classes));
  init_weights(*this, true);
}

Tensor VGG::forward(const Tensor& x) {
  return classifier->forward(avgpool->forward(features->forward(x)).flatten(1));
}

namespace {
const std::vector<int64_t> kVggA = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
const std::vector<int64_t> kVggD = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
}  // namespace

std::shared_ptr<VGG> vgg11(const ModelOptions& o) { return std::make_shared<VGG>(kVggA, false, o); }
std::shared_ptr<VGG> vgg16(const ModelOptions& o) { return std::make_shared<VGG>(kVggD, false, o); }
std::shared_ptr<VGG> vgg11_bn(const ModelOptions& o) { return std::make_shared<VGG>(kVggA, true, o); }
std::shared_ptr<VGG> vgg16_bn(const ModelOptions& o) { return std::make_shared<VGG>(kVggD, true, o); }

// ---- MobileNetV2 ----

InvertedResidual::InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio) {
  const int64_t hidden = inp * expand_ratio;
  use_res_connect_ = stride == 1 && inp == oup;
  conv = register_module("conv", std::make_shared<nn::Sequential>());
  if (expand_ratio != 1) conv->push_back(conv_bn_relu6(inp, hidden, 1, 1));
  conv->push_back(conv_bn_relu6(hidden, hidden, 3, stride, hidden));
  conv->push_back(models::conv(hidden, oup, 1, 1));
  conv->push_back(std::make_shared<nn::BatchNorm2d>(oup));
}

Tensor InvertedResidual::forward(const Tensor& x) {
  return use_res_connect_ ? x + conv->forward(x) : conv->forward(x);
}

MobileNetV2::MobileNetV2(const ModelOptions& o) {
  check_options(o, "MobileNetV2");
  const double p = o.dropout < 0 ? 0.2 : o.dropout;
  // t (expansion), c (channels), n (repeats), s (first stride)
  const int64_t setting[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2},  {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t input_channel = make_divisible(32.0, 8);
  const int64_t last_channel = make_divisible(1280.0, 8);
  features = register_module("features", std::make_shared<nn::Sequential>());
  features->push_back(conv_bn_relu6(o.in_channels, input_channel, 3, o.small_input ? 1 : 2));
  for (const auto& s : setting) {
    const int64_t out = make_divisible(static_cast<double>(s[1]), 8);
    for (int64_t i = 0; i < s[2]; ++i) {
      features->push_back(std::make_shared<InvertedResidual>(input_channel, out, i == 0 ? s[3] : 1, s[0]));
      input_channel = out;
    }
  }
  features->push_back(conv_bn_relu6(input_channel, last_channel, 1, 1));
  classifier = register_module("classifier", std::make_shared<nn::Sequential>());
  classifier->push_back(std::make_shared<nn::Dropout>(p));
  classifier->push_back(std::make_shared<nn::Linear>(last_channel, o.num_classes));
  init_weights(*this, true);
}

Tensor MobileNetV2::forward(const Tensor& x) {
  return classifier->forward(adaptive_avg_pool2d(features->forward(x), {1, 1}).flatten(1));
}

std::shared_ptr<MobileNetV2> mobilenet_v2(const ModelOptions& o) { return std::make_shared<MobileNetV2>(o); }

}  // namespace nerve::models
