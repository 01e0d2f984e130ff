// A restricted unpickler: the subset of Python's pickle (protocols 2-4) that a PyTorch state dict uses, and
// nothing that can run code. Globals are limited to OrderedDict, the tensor rebuild functions and the storage
// types; any other class or opcode is refused with its name and byte offset.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve::io::detail {

/// A storage named by the pickle: its zip key, dtype and element count (a claim until the bytes are read).
struct LazyStorage {
  std::string key;
  DType dtype;
  int64_t numel;
  std::shared_ptr<Storage> loaded;  // set once read
};

/// A tensor view over a LazyStorage (torch._utils._rebuild_tensor_v2), bounds already checked against numel.
struct LazyTensor {
  std::shared_ptr<LazyStorage> storage;
  Shape shape, strides;
  int64_t offset = 0;
};

/// A Python value of the allowed subset. Containers are acyclic: once inserted into another value they are frozen.
struct PValue {
  enum class Kind : uint8_t { none, boolean, integer, floating, string, tuple, list, dict, global, storage, tensor };
  Kind kind = Kind::none;
  bool frozen = false;
  int depth = 0;
  int64_t i = 0;  // boolean, integer
  double f = 0;
  std::string s;                              // string; global: "module.name"
  std::vector<std::shared_ptr<PValue>> items;  // tuple, list; dict: key, value, key, value, ...
  std::shared_ptr<LazyStorage> storage;
  std::shared_ptr<LazyTensor> tensor;
};
using PRef = std::shared_ptr<PValue>;

/// Turns a persistent id (BINPERSID's tuple) into a storage value; throws if it is not one.
using PersistentLoad = std::function<PRef(const PValue& pid)>;

/// Runs the pickle in `bytes` and returns the value of STOP. `name` prefixes every error ("<file>: data.pkl").
PRef unpickle(std::span<const uint8_t> bytes, const std::string& name, const PersistentLoad& persistent_load);

/// The dtype of a torch storage class name ("torch.FloatStorage"); throws for one nerve lacks.
DType storage_dtype(const std::string& global, const std::string& name);

}  // namespace nerve::io::detail
