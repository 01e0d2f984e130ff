// The execution plan of a keras::Sequential: one pass over the layer list that picks the fused ops
// (make_plan), and the loop that runs the steps (run_plan). See plan.h.
#include "nerve/keras/plan.h"

#include <optional>
#include <sstream>

#include "nerve/ops/ops.h"

namespace nerve::keras {

namespace {

template <class T>
const T* as(const LayerPtr& layer) {
  return dynamic_cast<const T*>(layer.get());
}

// One layer on its own: a Dense(relu) becomes linear_relu; the last layer drops its activation for the loss.
PlanStep single_step(const std::vector<LayerPtr>& layers, size_t i, const PlanOptions& o) {
  const bool last = i + 1 == layers.size();
  const DenseLayer* dense = as<DenseLayer>(layers[i]);
  PlanStep s{.first = i};
  if (o.logits && last && dense) s.op = PlanStep::Op::linear;
  else if (o.logits && last && as<ActivationLayer>(layers[i])) s.op = PlanStep::Op::identity;
  else if (o.fuse && dense && dense->activation() == "relu") s.op = PlanStep::Op::linear_relu;
  return s;
}

// uint8 x -> Rescaling -> Flatten... -> Dense as one linear_u8 (each thread scales the pixels it multiplies);
// nullopt when the layers from i on do not have that shape.
std::optional<PlanStep> rescaling_step(const std::vector<LayerPtr>& layers, size_t i, const PlanOptions& o) {
  const RescalingLayer* rescale = as<RescalingLayer>(layers[i]);
  if (!rescale) return std::nullopt;
  size_t j = i + 1;
  while (j < layers.size() && as<FlattenLayer>(layers[j])) ++j;
  const DenseLayer* dense = j < layers.size() ? as<DenseLayer>(layers[j]) : nullptr;
  if (!dense) return std::nullopt;
  const bool logits = o.logits && j + 1 == layers.size();
  PlanStep s{.op = PlanStep::Op::linear_u8, .first = i, .count = j - i + 1, .scale = rescale->scale(),
             .offset = rescale->offset()};
  s.relu = !logits && dense->activation() == "relu";
  if (!logits && !s.relu && dense->activation() != "linear") s.activation = dense->activation();
  return s;
}

// Conv2D(relu) -> MaxPooling2D as one step (PlanStep::Op::conv_pool_relu); nullopt for other layers. ReLU commutes
// with max pooling only where relu(NaN) is NaN, as nerve's (and torch's) relu is: a NaN wins its window both ways.
std::optional<PlanStep> conv_pool_step(const std::vector<LayerPtr>& layers, size_t i, const PlanOptions& o) {
  const Conv2DLayer* conv = as<Conv2DLayer>(layers[i]);
  const Pooling2DLayer* pool = i + 1 < layers.size() ? as<Pooling2DLayer>(layers[i + 1]) : nullptr;
  if (!o.fuse || !conv || conv->activation() != "relu" || !pool || !pool->is_max()) return std::nullopt;
  return PlanStep{.op = PlanStep::Op::conv_pool_relu, .first = i, .count = 2};
}

const DenseLayer& dense_of(const PlanStep& s, const std::vector<LayerPtr>& layers) {
  return static_cast<const DenseLayer&>(*layers[s.first + s.count - 1]);  // make_plan checked the type
}

const char* op_name(PlanStep::Op op) {
  switch (op) {
    case PlanStep::Op::layer: return "layer";
    case PlanStep::Op::linear: return "linear";
    case PlanStep::Op::linear_relu: return "linear_relu";
    case PlanStep::Op::linear_u8: return "linear_u8";
    case PlanStep::Op::identity: return "identity";
    case PlanStep::Op::conv_pool_relu: return "conv_pool_relu";
  }
  return "?";
}

}  // namespace

Plan make_plan(const std::vector<LayerPtr>& layers, PlanOptions o) {
  Plan plan;
  bool u8 = o.u8_input;  // the input of layer i is still uint8 (only Flatten keeps it so)
  for (size_t i = 0; i < layers.size();) {
    std::optional<PlanStep> fused = o.fuse && u8 ? rescaling_step(layers, i, o) : std::nullopt;
    if (!fused) fused = conv_pool_step(layers, i, o);
    PlanStep s = fused ? *fused : single_step(layers, i, o);
    u8 = u8 && !fused && as<FlattenLayer>(layers[i]);
    i += s.count;
    plan.push_back(std::move(s));
  }
  return plan;
}

namespace {
Tensor run_step(const PlanStep& s, const std::vector<LayerPtr>& layers, Tensor h) {
  switch (s.op) {
    case PlanStep::Op::layer: return layers[s.first]->forward(h);
    case PlanStep::Op::identity: return h;
    case PlanStep::Op::linear: return linear(h, dense_of(s, layers).weight(), dense_of(s, layers).bias());
    case PlanStep::Op::linear_relu: return linear_relu(h, dense_of(s, layers).weight(), dense_of(s, layers).bias());
    case PlanStep::Op::conv_pool_relu: {
      const auto& conv = static_cast<const Conv2DLayer&>(*layers[s.first]);  // conv_pool_step checked the types
      const auto& pool = static_cast<const Pooling2DLayer&>(*layers[s.first + 1]);
      const Tensor y = pool.is_max_2x2() ? conv.conv_relu_max_pool2x2_nchw(h) : relu(pool.pool_nchw(conv.conv_nchw(h)));
      return permute(y, {0, 2, 3, 1});  // back to channels-last
    }
    case PlanStep::Op::linear_u8: {
      for (size_t k = s.first + 1; k + 1 < s.first + s.count; ++k) h = layers[k]->forward(h);  // Flatten: views
      const DenseLayer& d = dense_of(s, layers);
      Tensor y = linear_u8(h, s.scale, s.offset, d.weight(), d.bias(), s.relu);
      return s.activation.empty() ? y : apply_activation(s.activation, y);
    }
  }
  return h;
}
}  // namespace

Tensor run_plan(const Plan& plan, const std::vector<LayerPtr>& layers, const Tensor& x) {
  nerve::detail::check_arg(x, "Sequential", "x");
  Tensor h = x;
  for (const PlanStep& s : plan) h = run_step(s, layers, std::move(h));
  return h;
}

std::string describe(const Plan& plan, const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t k = 0; k < plan.size(); ++k) {
    const PlanStep& s = plan[k];
    os << (k ? " -> " : "") << op_name(s.op) << "(";
    for (size_t i = s.first; i < s.first + s.count; ++i) os << (i > s.first ? ", " : "") << names.at(i);
    if (s.relu) os << "; relu";
    if (!s.activation.empty()) os << "; then " << s.activation;
    os << ")";
  }
  return os.str();
}

std::string final_activation(const std::vector<LayerPtr>& layers) {
  if (layers.empty()) return "";
  if (const DenseLayer* d = as<DenseLayer>(layers.back())) return d->activation();
  if (const ActivationLayer* a = as<ActivationLayer>(layers.back())) return a->activation();
  return "";
}

}  // namespace nerve::keras
