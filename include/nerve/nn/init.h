// nn::init: in-place parameter initializers with PyTorch's names and formulas (torch.nn.init), drawn from the
// global seeded generator. Each fills its argument under a NoGradGuard and returns it.
#pragma once
#include <cstdint>
#include <utility>

#include "nerve/tensor/tensor.h"

namespace nerve::nn::init {

enum class FanMode { fan_in, fan_out };
enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu, selu };

/// PyTorch's recommended gain; `param` is the leaky_relu negative slope.
///   double g = nn::init::calculate_gain(nn::init::Nonlinearity::relu);  // sqrt(2)
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
/// (fan_in, fan_out) of a weight with at least 2 dims: (out, in, *receptive field).
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

/// Fills t with U(a, b).  nn::init::uniform_(w, -0.1, 0.1);
Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0);
/// Fills t with N(mean, std^2).  nn::init::normal_(w, 0.0, 0.02);
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0);
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);
/// Glorot: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).
///   nn::init::xavier_uniform_(fc->weight);
Tensor xavier_uniform_(const Tensor& t, double gain = 1.0);
/// Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& t, double gain = 1.0);
/// He: U(-b, b), b = sqrt(3) * gain(nonlinearity, a) / sqrt(fan) (He et al. 2015).
///   nn::init::kaiming_uniform_(w, std::sqrt(5.0));  // nn::Linear's default
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
/// He normal: N(0, std^2), std = gain(nonlinearity, a) / sqrt(fan).
Tensor kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                       Nonlinearity nonlinearity = Nonlinearity::leaky_relu);

}  // namespace nerve::nn::init
