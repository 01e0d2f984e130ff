// nerve::models: torchvision 0.14's image classifiers, with its module names (state-dict keys equal torchvision's:
// conv1.weight, layer1.0.downsample.0.weight, features.1.conv.0.0.weight, classifier.6.bias, ...), its
// initialization and its parameter counts: resnet18/34/50, vgg11/16 (with and without batch norm), mobilenet_v2.
//   auto net = models::resnet18({.num_classes = 10, .in_channels = 1, .small_input = true});   // 28x28 images
//   net->load_state_dict(io::load_torch("resnet18.pt"));   // a torchvision state dict (default options)
// small_input is the usual CIFAR stem: ResNet's conv1 becomes 3x3 stride 1 and its max-pool an Identity;
// MobileNetV2's first conv gets stride 1. Parameter names and counts (for a given num_classes and in_channels)
// change only through conv1's kernel size.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "nerve/nn/activation.h"
#include "nerve/nn/layers.h"
#include "nerve/nn/module.h"
#include "nerve/nn/sequential.h"
#include "nerve/nn/vision.h"

namespace nerve::models {

struct ModelOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;    // 1 for grayscale images (Fashion-MNIST)
  bool small_input = false;   // 28-32 pixel images: see the top of this file
  double dropout = -1;        // classifier dropout; < 0: torchvision's default (VGG 0.5, MobileNetV2 0.2)
  bool zero_init_residual = false;  // ResNet: each block's last BatchNorm weight starts at zero (torchvision's flag)
};

/// ResNet's two-conv block (resnet18/34): relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x)).
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> downsample);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Sequential> downsample;  // null when the shapes already match
};

/// ResNet's 1x1-3x3-1x1 block (resnet50, torchvision's "v1.5": the stride sits on the 3x3 conv).
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<nn::Sequential> downsample);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Sequential> downsample;
};

/// torchvision's ResNet: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc. Conv weights kaiming_normal_
/// (fan_out, relu), BatchNorm weight 1 and bias 0, fc as nn::Linear.
class ResNet : public nn::Module {
 public:
  /// bottleneck: Bottleneck blocks (resnet50) instead of BasicBlock; layers: blocks per stage ({2, 2, 2, 2}).
  ResNet(bool bottleneck, const std::vector<int64_t>& layers, const ModelOptions& o);
  Tensor forward(const Tensor& x) override;  // (N, in_channels, H, W) -> (N, num_classes)
  std::string type_name() const override { return "ResNet"; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::ReLU> relu;
  std::shared_ptr<nn::Module> maxpool;  // MaxPool2d(3, 2, 1), or Identity with small_input
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<nn::Linear> fc;

 private:
  std::shared_ptr<nn::Sequential> make_layer(bool bottleneck, int64_t planes, int64_t blocks, int64_t stride);
  int64_t inplanes_ = 64;
};

/// torchvision's VGG: features (convs 3x3 padding 1, [BatchNorm2d], ReLU, MaxPool2d(2)), avgpool to 7x7,
/// classifier Linear(25088, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, num_classes).
/// Conv weights kaiming_normal_(fan_out, relu) and bias 0, Linear weights N(0, 0.01) and bias 0.
class VGG : public nn::Module {
 public:
  /// cfg: channels per conv, 0 for a max-pool (torchvision's "M").
  VGG(const std::vector<int64_t>& cfg, bool batch_norm, const ModelOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "VGG"; }

  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<nn::Sequential> classifier;
};

/// MobileNetV2's inverted residual: [1x1 expand conv-BN-ReLU6], 3x3 depthwise conv-BN-ReLU6, 1x1 conv, BN, and
/// the input added back when stride is 1 and the channels match. Submodule "conv" as torchvision.
class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InvertedResidual"; }

  std::shared_ptr<nn::Sequential> conv;

 private:
  bool use_res_connect_;
};

/// torchvision's MobileNetV2 (width 1.0): features (Conv2dNormActivation stem, 17 inverted residuals, 1x1 conv
/// to 1280), global average pool, classifier Dropout(0.2), Linear(1280, num_classes). Conv weights
/// kaiming_normal_(fan_out) and bias 0, BatchNorm 1 and 0, Linear N(0, 0.01) and bias 0.
class MobileNetV2 : public nn::Module {
 public:
  explicit MobileNetV2(const ModelOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MobileNetV2"; }

  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Sequential> classifier;
};

/// Parameter counts with the default options: resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032;
/// vgg11 132,863,336; vgg16 138,357,544; vgg11_bn 132,868,840; vgg16_bn 138,365,992; mobilenet_v2 3,504,872.
/// Build under DeviceGuard(Device::meta) to count or print a model without allocating it.
std::shared_ptr<ResNet> resnet18(const ModelOptions& o = {});
std::shared_ptr<ResNet> resnet34(const ModelOptions& o = {});
std::shared_ptr<ResNet> resnet50(const ModelOptions& o = {});
std::shared_ptr<VGG> vgg11(const ModelOptions& o = {});
std::shared_ptr<VGG> vgg16(const ModelOptions& o = {});
std::shared_ptr<VGG> vgg11_bn(const ModelOptions& o = {});
std::shared_ptr<VGG> vgg16_bn(const ModelOptions& o = {});
std::shared_ptr<MobileNetV2> mobilenet_v2(const ModelOptions& o = {});

}  // namespace nerve::models
