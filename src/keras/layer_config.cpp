// Keras's get_config / from_config for every layer of layers.h: the attributes that rebuild a layer, in one place.
// Model files (io/keras_file.cpp) write them and rebuild the model from them.
#include <functional>
#include <map>

#include "nerve/core/error.h"
#include "nerve/keras/layers.h"

namespace nerve::keras {

Attrs Layer::config() const {
  NERVE_CHECK(false, "layer ", type_name(), " has no config(): it cannot be saved in a model file");
  return {};
}

Attrs DenseLayer::config() const {
  return Attrs().set("units", units_).set("activation", act_).set("use_bias", int64_t{bias_on_});
}
Attrs FlattenLayer::config() const { return {}; }
Attrs DropoutLayer::config() const { return Attrs().set("rate", rate_); }
Attrs ActivationLayer::config() const { return Attrs().set("activation", act_); }
Attrs RescalingLayer::config() const { return Attrs().set("scale", scale_).set("offset", offset_); }
Attrs Conv2DLayer::config() const {
  return Attrs()
      .set("filters", filters_)
      .set("kernel_size", kernel_)
      .set("activation", act_)
      .set("strides", o_.strides)
      .set("padding", o_.padding)
      .set("use_bias", int64_t{o_.use_bias});
}
Attrs Pooling2DLayer::config() const { return Attrs().set("pool_size", pool_).set("strides", strides_); }
Attrs GlobalAveragePooling2DLayer::config() const { return {}; }
Attrs BatchNormalizationLayer::config() const {
  return Attrs().set("momentum", o_.momentum).set("epsilon", o_.epsilon);
}
Attrs ReshapeLayer::config() const { return Attrs().set("target_shape", target_); }

LayerPtr layer_from_config(const std::string& cls, const Attrs& c) {
  using Make = std::function<LayerPtr(const Attrs&)>;
  static const std::map<std::string, Make> makers{
      {"Dense", [](const Attrs& a) { return Dense(a.i("units"), a.s("activation"), {.use_bias = a.b("use_bias")}); }},
      {"Flatten", [](const Attrs&) { return Flatten(); }},
      {"Dropout", [](const Attrs& a) { return Dropout(a.d("rate")); }},
      {"Activation", [](const Attrs& a) { return Activation(a.s("activation")); }},
      {"Rescaling", [](const Attrs& a) { return Rescaling(a.d("scale"), a.d("offset", 0.0)); }},
      {"Conv2D",
       [](const Attrs& a) {
         return Conv2D(a.i("filters"), a.shape("kernel_size"), a.s("activation"),
                       {.strides = a.shape("strides", {1}), .padding = a.s("padding"), .use_bias = a.b("use_bias")});
       }},
      {"MaxPooling2D", [](const Attrs& a) { return MaxPooling2D(a.shape("pool_size"), a.shape("strides")); }},
      {"AveragePooling2D", [](const Attrs& a) { return AveragePooling2D(a.shape("pool_size"), a.shape("strides")); }},
      {"GlobalAveragePooling2D", [](const Attrs&) { return GlobalAveragePooling2D(); }},
      {"BatchNormalization",
       [](const Attrs& a) { return BatchNormalization({.momentum = a.d("momentum"), .epsilon = a.d("epsilon")}); }},
      {"Reshape", [](const Attrs& a) { return Reshape(a.shape("target_shape")); }},
  };
  auto it = makers.find(cls);
  NERVE_CHECK(it != makers.end(), "layer_from_config: unknown layer class '", cls, "'");
  try {
    return it->second(c);
  } catch (const Error& e) {
    throw Error(detail::str_cat("layer_from_config: ", cls, ": ", e.what()));
  }
}

}  // namespace nerve::keras
