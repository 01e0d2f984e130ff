// The Keras model file's config reader, separate so the fuzzer can reach it (tests/fuzz/fuzz_keras.cpp).
#pragma once
#include <memory>
#include <string>

#include "nerve/keras/model.h"

namespace nerve::io::detail {

/// Builds (and compiles, when the config says so) the model a config describes, checking every shape against the
/// tensors of the file before anything is allocated; loads the weights. `file` names the file in errors.
std::shared_ptr<keras::Sequential> model_from_config(const std::string& config, const nn::StateDict& tensors,
                                                     const std::string& file);

}  // namespace nerve::io::detail
