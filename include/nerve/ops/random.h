// Random tensors, from the global seeded generator (nerve/core/rng.h: manual_seed). On the default device (see
// nerve/core/device.h); on meta nothing is drawn.
#pragma once
#include "nerve/tensor/tensor.h"

namespace nerve {

/// Uniform [0,1), standard normal, integers in [low, high), uniform [low, high).  randn({32, 784})
Tensor rand(const Shape& shape, DType dtype = DType::f32);
Tensor randn(const Shape& shape, DType dtype = DType::f32);
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::i64);
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32);

}  // namespace nerve
