// Graph construction: saved tensors with version checks, gradient edges, AccumulateGrad for leaves.
#include "nerve/autograd/node.h"

#include "autograd/accumulate_grad.h"
#include "nerve/autograd/grad_mode.h"

namespace nerve {

SavedTensor::SavedTensor(const Tensor& t, bool is_output) : t_(is_output ? t.detach() : t) {
  if (t.defined()) version_ = t.version();
}

Tensor SavedTensor::unpack(const Node* owner) const {
  NERVE_CHECK(!owner->released, owner->name(),
              ": trying to backward through the graph a second time (its saved tensors were freed); pass "
              "retain_graph=true to the first backward()");
  if (t_.defined())
    NERVE_CHECK(t_.version() == version_, "one of the tensors needed for gradient computation has been modified by an "
                                          "in-place operation: it is saved by ",
                owner->name(), " (output ", to_string(t_.shape()), " ", dtype_name(t_.dtype()), ") at version ",
                version_, " and is now at version ", t_.version());
  return t_;
}

void delete_node(Node* n) {
  thread_local std::vector<Node*>* queue = nullptr;
  if (queue) {
    queue->push_back(n);
    return;
  }
  std::vector<Node*> q{n};
  queue = &q;
  while (!q.empty()) {
    Node* x = q.back();
    q.pop_back();
    delete x;
  }
  queue = nullptr;
}

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = make_node<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

namespace {
void attach_outputs(const std::shared_ptr<Node>& node, const std::vector<Tensor*>& outputs) {
  node->num_outputs = static_cast<uint32_t>(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* o = outputs[i]->impl();
    o->requires_grad = true;
    o->grad_fn = node;
    o->output_nr = static_cast<uint32_t>(i);
  }
}
}  // namespace

void set_history(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
                 std::initializer_list<Tensor*> outputs) {
  node->next_edges.reserve(inputs.size());
  for (const Tensor* t : inputs) node->next_edges.push_back(gradient_edge(*t));
  attach_outputs(node, std::vector<Tensor*>(outputs));
}

void set_history(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, std::vector<Tensor*> outputs) {
  node->next_edges.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next_edges.push_back(gradient_edge(t));
  attach_outputs(node, outputs);
}

}  // namespace nerve
