// The op registry: every op of ops.h by name, with a uniform way to call it (tensors + named attributes) and what
// the tests need to know about it. The golden tests, the gradient checks and the coverage test read it; the model
// file, ONNX and Python work will too. The elementwise unary ops are registered from unary_ops.def.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve {

/// Named attributes of one call (dims, a slope, a mode), kept as the text tokens they are written in (the golden
/// file, a command line) and read typed.  Attrs a; a.set("dim", 1); a.i("dim") == 1
class Attrs {
 public:
  Attrs& set(const std::string& key, std::vector<std::string> values);
  Attrs& set(const std::string& key, double v);
  Attrs& set(const std::string& key, int64_t v);
  Attrs& set(const std::string& key, int v) { return set(key, int64_t(v)); }
  Attrs& set(const std::string& key, const std::string& v) { return set(key, std::vector<std::string>{v}); }
  Attrs& set(const std::string& key, const Shape& v);

  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  int64_t i(const std::string& key) const;
  int64_t i(const std::string& key, int64_t def) const { return has(key) ? i(key) : def; }
  double d(const std::string& key) const;
  double d(const std::string& key, double def) const { return has(key) ? d(key) : def; }
  std::optional<double> opt(const std::string& key) const;
  bool b(const std::string& key) const { return i(key, 0) != 0; }
  Shape shape(const std::string& key) const;
  Shape shape(const std::string& key, const Shape& def) const { return has(key) ? shape(key) : def; }
  std::string s(const std::string& key) const;
  const std::map<std::string, std::vector<std::string>>& items() const { return kv_; }

 private:
  const std::vector<std::string>& at(const std::string& key) const;
  std::map<std::string, std::vector<std::string>> kv_;
};

/// Where a gradient check samples an elementwise op's input.
enum class Domain { real, nonzero, positive };

/// The uniform call of one op; too few input tensors throw nerve::Error naming the op.
struct OpCall {
  using Fn = std::vector<Tensor> (*)(const std::vector<Tensor>& inputs, const Attrs& attrs);
  Fn fn = nullptr;
  const char* op = "";  // the op's name, for the message
  OpCall& operator=(Fn f) {
    fn = f;
    return *this;
  }
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs, const Attrs& attrs) const;
};

struct OpInfo {
  std::string name;   // the ops.h function
  std::string group;  // views, binary, unary, reduce, linalg, index, fused, vision
  bool differentiable = true;
  /// Calls the op: tensors in, outputs out (one, or several for chunk, split, max along a dim).
  using Fn = OpCall::Fn;
  OpCall call;
  // the elementwise unary ops of unary_ops.def
  bool from_table = false;                             // registered from unary_ops.def
  Domain domain = Domain::real;                        // where gradient checks sample x
  std::vector<std::pair<std::string, double>> params;  // parameter names and defaults
};

/// Every registered op, sorted by name.
const std::vector<OpInfo>& op_registry();
/// The op called `name`; throws nerve::Error naming it when there is none.
const OpInfo& find_op(const std::string& name);

}  // namespace nerve
