// An optimizer's state in a safetensors file, shared by training checkpoints and Keras model files: the
// per-parameter buffers as tensors "<prefix><index>.<buffer>", the groups (hyper-parameters) and step counts as JSON.
#pragma once
#include <string>

#include "nerve/nn/module.h"
#include "nerve/optim/optimizer.h"

namespace nerve::io::detail {

/// Appends the buffers to `tensors` and returns the JSON text of the rest ({"type", "param_groups", "steps"}).
std::string save_optimizer_state(const optim::Optimizer& opt, const std::string& prefix, nn::StateDict& tensors);
/// Restores `opt` (of the same type, over the same parameters) from what save_optimizer_state wrote; throws
/// nerve::Error naming `file`.
void load_optimizer_state(const std::string& file, const std::string& json, const std::string& prefix,
                          const nn::StateDict& tensors, optim::Optimizer& opt);

}  // namespace nerve::io::detail
