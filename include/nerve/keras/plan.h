// A Sequential's execution plan: the layer list rewritten once, when layers are added or the model is compiled,
// into steps that are each one call: a layer's own forward, or a registered fused op covering several layers.
// Steps are plain data (which layers, which op, its parameters); run_plan() is the only code that interprets them.
#pragma once
#include <string>
#include <vector>

#include "nerve/keras/layers.h"

namespace nerve::keras {

/// One call of a plan: the layers [first, first + count) run as `op`.
struct PlanStep {
  enum class Op {
    layer,        // layers[first]->forward(x)
    linear,       // linear(x, W, b): a Dense whose activation is left out (to the fused loss) or "linear"
    linear_relu,  // linear_relu(x, W, b): Dense(relu)
    linear_u8,    // linear_u8(x, scale, offset, W, b, relu): uint8 x -> Rescaling -> Flatten... -> Dense
    identity,     // nothing: a final Activation layer whose function the fused loss applies
    // Conv2D(relu) -> MaxPooling2D as relu(max_pool2d(conv2d(x))): max pooling commutes with ReLU (values, and
    // gradients: the window's first maximum is the same element, or the gradient is 0 either way), which then
    // runs forward and backward on the 4x smaller pooled tensor
    conv_pool_relu,
  };
  Op op = Op::layer;
  size_t first = 0, count = 1;
  double scale = 1.0, offset = 0.0;  // linear_u8: the Rescaling's
  bool relu = false;                 // linear_u8: the Dense's ReLU, fused
  std::string activation;            // linear_u8: the Dense's other activation, applied after the op ("" none)
};
using Plan = std::vector<PlanStep>;

struct PlanOptions {
  bool u8_input = false;  // the model input is uint8 (raw images): Rescaling can fuse into the Dense after it
  bool logits = false;    // leave out the last layer's activation (a fused softmax/sigmoid loss applies it)
  bool fuse = true;       // false: every layer by its own forward (the reference the fused ops are tested against)
};

/// Rewrites a layer list into a plan. Reads only the layers' kinds and settings, not their weights, so it may
/// run before the layers are built.
///   Rescaling, Flatten, Dense(relu), Dense(softmax) with {.u8_input = true, .logits = true}:
///   linear_u8(rescaling, flatten, dense; relu) -> linear(dense_1)
Plan make_plan(const std::vector<LayerPtr>& layers, PlanOptions options);
/// Runs a plan made from `layers` on x.
Tensor run_plan(const Plan& plan, const std::vector<LayerPtr>& layers, const Tensor& x);
/// The steps with the layers' names: "linear_u8(rescaling, flatten, dense; relu) -> linear(dense_1)".
std::string describe(const Plan& plan, const std::vector<std::string>& layer_names);
/// The activation the last layer applies ("" if none): a Dense's or an Activation layer's.
std::string final_activation(const std::vector<LayerPtr>& layers);

}  // namespace nerve::keras
