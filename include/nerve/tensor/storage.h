// Storage: refcounted, 64-byte aligned bytes, with the version counter shared by all views of it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "nerve/core/device.h"

namespace nerve {

/// A block of memory. Freed blocks go to a small cache so training steps reuse buffers.
class Storage {
 public:
  /// Allocates nbytes (uninitialized) from the caching allocator.
  explicit Storage(size_t nbytes);
  /// Wraps memory the caller owns; `deleter` (may be empty) runs when the last view dies.
  Storage(void* data, size_t nbytes, std::function<void(void*)> deleter);
  /// A meta storage: nbytes are counted, none are allocated (data() is null).
  static std::shared_ptr<Storage> meta(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  bool owned_ = true;
  std::function<void(void*)> deleter_;
  uint64_t version_ = 0;
  Device device_ = Device::cpu;
};

/// Bytes currently held in the allocator's cache, and a way to drop them.
size_t allocator_cached_bytes();
void allocator_empty_cache();

}  // namespace nerve
