// An optimizer's (and an LR scheduler's) state in a safetensors file, shared by training checkpoints and Keras model files: the
// per-parameter buffers as tensors "<prefix><index>.<buffer>", the groups (hyper-parameters) and step counts as JSON.
#pragma once
#include <string>

#include "nerve/nn/module.h"
#include "nerve/optim/lr_scheduler.h"
#include "nerve/optim/optimizer.h"

namespace nerve::io::detail {

/// Appends the buffers to `tensors` and returns the JSON text of the rest ({"type", "param_groups", "steps"}).
std::string save_optimizer_state(const optim::Optimizer& opt, const std::string& prefix, nn::StateDict& tensors);
/// Restores `opt` (of the same type, over the same parameters) from what save_optimizer_state wrote; throws
/// nerve::Error naming `file`.
void load_optimizer_state(const std::string& file, const std::string& json, const std::string& prefix,
                          const nn::StateDict& tensors, optim::Optimizer& opt);

/// An LR scheduler's state as JSON text, and back (throws nerve::Error naming `file`). Kept in this file with the
/// optimizer's so that one object file instantiates the JSON library for both (each costs ~300 KB of libnerve.a).
std::string save_scheduler_state(const optim::LRScheduler& sched);
void load_scheduler_state(const std::string& file, const std::string& json, optim::LRScheduler& sched);

}  // namespace nerve::io::detail
