// Autograd hooks: a leaf's post-accumulate-grad hooks (run right after backward adds into leaf.grad(), as PyTorch's
// Tensor.register_post_accumulate_grad_hook) and callbacks run once at the end of the current backward
// (PyTorch's Engine::queue_callback). DistributedDataParallel starts each bucket's all-reduce from them.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve {

using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

/// The hooks of one leaf, in registration order, each with its handle.
struct PostAccumulateGradHooks {
  std::vector<std::pair<int64_t, PostAccumulateGradHook>> hooks;
  int64_t next_handle = 0;
};

/// Calls `hook(leaf)` each time a backward has added a gradient into leaf.grad() (leaf.grad() is then up to
/// date). Returns a handle for remove_post_accumulate_grad_hook. The leaf must require grad.
///   auto h = register_post_accumulate_grad_hook(w, [](const Tensor& w) { std::cout << w.grad(); });
int64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);
/// Removes a hook; an unknown handle is ignored.
void remove_post_accumulate_grad_hook(const Tensor& leaf, int64_t handle);

/// Runs `fn` once when the backward now running on this thread has finished all its nodes (before backward()
/// returns); it is dropped if that backward throws. Outside a backward it throws nerve::Error.
///   register_post_accumulate_grad_hook(w, [](const Tensor&) { queue_backward_callback([] { sync(); }); });
void queue_backward_callback(std::function<void()> fn);

}  // namespace nerve
