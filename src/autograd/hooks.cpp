// Registration of a leaf's post-accumulate-grad hooks (run by AccumulateGrad::apply in engine.cpp).
#include "nerve/autograd/hooks.h"

#include <algorithm>

#include "nerve/core/error.h"

namespace nerve {

int64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  detail::check_arg(leaf, "register_post_accumulate_grad_hook", "leaf");
  NERVE_CHECK(leaf.requires_grad() && leaf.is_leaf(), "register_post_accumulate_grad_hook: expected a leaf that "
              "requires grad (a parameter), got a tensor with requires_grad=", leaf.requires_grad(),
              leaf.is_leaf() ? "" : " produced by an op");
  NERVE_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook: the hook is empty");
  auto& h = leaf.impl()->post_accumulate_hooks;
  if (!h) h = std::make_shared<PostAccumulateGradHooks>();
  int64_t id = h->next_handle++;
  h->hooks.emplace_back(id, std::move(hook));
  return id;
}

void remove_post_accumulate_grad_hook(const Tensor& leaf, int64_t handle) {
  detail::check_arg(leaf, "remove_post_accumulate_grad_hook", "leaf");
  auto& h = leaf.impl()->post_accumulate_hooks;
  if (!h) return;
  std::erase_if(h->hooks, [&](const auto& p) { return p.first == handle; });
  if (h->hooks.empty()) h.reset();
}

}  // namespace nerve
