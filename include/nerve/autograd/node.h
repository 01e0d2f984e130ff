// Autograd graph nodes: a Node is the backward of one op; edges point at the nodes of its inputs.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve {

class Node;

/// Where a gradient flows: input `input_nr` of node `fn` (fn null: the input needs no grad).
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
};

/// The backward of one op. apply() receives one gradient per output of the op (undefined when none
/// flowed) and returns one gradient per next_edges entry (undefined when the input needs none).
class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grads) = 0;
  /// Frees saved tensors once backward has run (unless retain_graph).
  virtual void release() {}

  std::vector<Edge> next_edges;
  uint32_t num_outputs = 1;
  bool released = false;
  // engine scratch space
  int32_t deps_ = 0;
  std::vector<Tensor> grad_buf_;
};

/// Deletes a node without recursion: nodes freed while deleting are queued, so a 10,000-op chain
/// is torn down iteratively. Every node is created through make_node, which installs this deleter.
void delete_node(Node* n);
template <class T, class... Args>
std::shared_ptr<T> make_node(Args&&... args) {
  return std::shared_ptr<T>(new T(std::forward<Args>(args)...), [](T* p) { delete_node(p); });
}

/// A tensor saved for backward, with the version it had; unpack() throws if it was modified in place since.
class SavedTensor {
 public:
  SavedTensor() = default;
  /// `is_output`: the tensor is the op's own output; only its data is kept (no reference cycle).
  SavedTensor(const Tensor& t, bool is_output = false);
  Tensor unpack(const Node* owner) const;
  void reset() { t_ = Tensor(); }
  bool defined() const { return t_.defined(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
};

/// True when grad mode is on and any input requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
/// The edge a gradient for `t` should follow (its grad_fn, its AccumulateGrad node, or none).
Edge gradient_edge(const Tensor& t);
/// Connects `node` to the inputs and makes `outputs` its results.
void set_history(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
                 std::initializer_list<Tensor*> outputs);
void set_history(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs, std::vector<Tensor*> outputs);

}  // namespace nerve
