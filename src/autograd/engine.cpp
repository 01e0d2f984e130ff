// The backward engine: an iterative dependency count over the graph (no recursion, so a chain of any
// length works), then Kahn's order from the root, accumulating gradients per node input.
#include <vector>

#include "autograd/accumulate_grad.h"
#include "nerve/autograd/hooks.h"
#include "backend/cpu/convert.h"
#include "backend/cpu/elementwise.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/core/profiler.h"

namespace nerve {

namespace {
// The engine sums the gradients that reach one input, which autograd guarantees to have that input's shape and
// dtype: out = a + b straight through the kernels (the engine sits below the ops layer). out may be a.
void add_grad_into(const Tensor& out, const Tensor& a, const Tensor& b) {
  NERVE_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype() && is_floating(a.dtype()),
               "backward: gradients of one input disagree: ", nerve::to_string(a.shape()), " ", a.dtype(), " and ",
               nerve::to_string(b.shape()), " ", b.dtype());
  NERVE_CHECK(out.is_meta() || !b.is_meta(), "backward: a meta gradient reaches a cpu tensor's gradient ",
              nerve::to_string(out.shape()));
  if (out.is_meta()) return;
  visit_floating(a.dtype(), "backward", [&](auto tag) {
    using T = decltype(tag);
    cpu::binary_kernel<T, T, T>(out, a, b, [](T x, T y) { return x + y; });
  });
  out.bump_version();
}

Tensor copy_of(const Tensor& g) {
  Tensor c = empty(g.shape(), g.dtype(), g.device());
  cpu::convert(c, g);
  return c;
}
}  // namespace

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grads) {
  Tensor& g = grads[0];
  if (!g.defined()) return {};
  NERVE_CHECK(g.shape() == leaf_->shape, "backward: gradient shape ", nerve::to_string(g.shape()), " != leaf shape ",
              nerve::to_string(leaf_->shape));
  if (!leaf_->grad) {
    // steal the buffer when nobody else holds it, else copy
    bool own = g.impl_ptr().use_count() == 1 && g.is_contiguous() && g.impl()->grad_fn == nullptr &&
               g.storage().use_count() == 1;
    leaf_->grad = own ? g.impl_ptr() : copy_of(g).impl_ptr();
    if (own && g.requires_grad()) leaf_->grad->requires_grad = false;
  } else {
    Tensor acc(leaf_->grad);
    add_grad_into(acc, acc, g);
  }
  if (leaf_->post_accumulate_hooks) {
    Tensor leaf(leaf_);
    auto hooks = leaf_->post_accumulate_hooks;  // a hook may remove itself (or others) while running
    for (size_t i = 0; i < hooks->hooks.size(); ++i) {
      PostAccumulateGradHook h = hooks->hooks[i].second;
      h(leaf);
    }
  }
  return {};
}

namespace {
// the callbacks queued during the backward running on this thread; null outside a backward
thread_local std::vector<std::function<void()>>* backward_callbacks = nullptr;
}  // namespace

void queue_backward_callback(std::function<void()> fn) {
  NERVE_CHECK(backward_callbacks != nullptr, "queue_backward_callback: no backward is running on this thread (call "
                                             "it from a hook, while backward() runs)");
  backward_callbacks->push_back(std::move(fn));
}

namespace {
void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined())
    slot = g;
  else {
    Tensor sum = empty(slot.shape(), slot.dtype(), slot.is_meta() || g.is_meta() ? Device::meta : Device::cpu);
    add_grad_into(sum, slot, g);
    slot = sum;
  }
}

// pass 2 of backward: runs nodes whose dependants have all delivered their gradients
void run_ready(std::vector<std::shared_ptr<Node>>& ready, bool retain_graph) {
  while (!ready.empty()) {
    std::shared_ptr<Node> n = std::move(ready.back());
    ready.pop_back();
    std::vector<Tensor> in = std::move(n->grad_buf_);
    n->grad_buf_.clear();
    in.resize(n->num_outputs);
    std::vector<Tensor> out;
    {
      profiler::RecordFunction rf(n->name());
      out = n->apply(in);
    }
    if (!retain_graph) {
      n->release();
      n->released = true;
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      Edge& e = n->next_edges[i];
      if (!e.fn) continue;
      Node* m = e.fn.get();
      if (i < out.size() && out[i].defined()) {
        if (m->grad_buf_.size() < m->num_outputs) m->grad_buf_.resize(m->num_outputs);
        accumulate(m->grad_buf_[e.input_nr], out[i]);
      }
      if (--m->deps_ == 0) ready.push_back(e.fn);
    }
  }
}
}  // namespace

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  NERVE_RECORD_FUNCTION("backward");
  check_defined("backward");
  NERVE_CHECK(requires_grad(), "backward: the tensor does not require grad and has no grad_fn (did you call it "
                               "inside a NoGradGuard, or on a tensor built from leaves without requires_grad?)");
  Tensor g = grad;
  if (!g.defined()) {
    NERVE_CHECK(numel() == 1, "backward: grad can be implicitly created only for scalar outputs; this tensor is ",
                nerve::to_string(shape()), ", pass an explicit gradient");
    g = empty(shape(), dtype(), device());  // one element: 1 written directly (the engine sits below the fill ops)
    if (!g.is_meta()) visit_floating(dtype(), "backward", [&](auto tag) { *g.data<decltype(tag)>() = 1; });
  }
  NERVE_CHECK(g.shape() == shape(), "backward: gradient shape ", nerve::to_string(g.shape()), " != tensor shape ",
              nerve::to_string(shape()));
  NoGradGuard no_grad;
  Edge root = gradient_edge(*this);
  // pass 1: count, for each node, how many edges point at it
  // (a node is first reached with deps_ == 0; afterwards deps_ >= 1 until pass 2 counts it down)
  std::vector<Node*> stack{root.fn.get()};
  std::vector<Node*> seen{root.fn.get()};  // to reset the scratch space if a node throws
  root.fn->deps_ = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Edge& e : n->next_edges) {
      if (!e.fn) continue;
      Node* m = e.fn.get();
      if (m->deps_ == 0) {
        stack.push_back(m);
        seen.push_back(m);
      }
      ++m->deps_;
    }
  }
  // pass 2: run nodes whose dependants have all delivered
  root.fn->grad_buf_.assign(root.fn->num_outputs, Tensor());
  root.fn->grad_buf_[root.input_nr] = g;
  std::vector<std::shared_ptr<Node>> ready{root.fn};
  std::vector<std::function<void()>> callbacks;
  struct Restore {  // a nested backward (from a hook) keeps its own queue
    std::vector<std::function<void()>>* prev;
    ~Restore() { backward_callbacks = prev; }
  } restore{backward_callbacks};
  backward_callbacks = &callbacks;
  try {
    run_ready(ready, retain_graph);
    for (size_t i = 0; i < callbacks.size(); ++i) {  // a callback may queue more
      std::function<void()> fn = std::move(callbacks[i]);
      fn();
    }
  } catch (...) {
    // a failed backward must not leave counts behind: nodes (a leaf's AccumulateGrad) are shared by later graphs
    for (Node* n : seen) {
      n->deps_ = 0;
      n->grad_buf_.clear();
    }
    throw;
  }
}

}  // namespace nerve
