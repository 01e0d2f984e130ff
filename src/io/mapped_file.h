// A read-only view of a whole file through mmap (private, copy-on-write), shared by the tensors that point into it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace nerve::io::detail {

/// The bytes of `path`, mapped MAP_PRIVATE with write permission: tensors over the mapping may be modified in
/// place (the pages are then copied by the kernel, the file never changes). Keep it alive with a shared_ptr
/// as long as a tensor points into it. Throws "<what>: <path>: ..." for a missing file, a directory, a FIFO.
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path, const char* what);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nerve::io::detail
