// Whole-file reads and atomic writes (the data readers and writers, the profiler's trace export).
#include "core/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "nerve/core/error.h"

namespace nerve::detail {

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;
}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, const char* what) {
  std::error_code ec;
  NERVE_CHECK(!std::filesystem::is_directory(path, ec), what, ": ", path, ": is a directory, expected a file");
  File f(std::fopen(path.c_str(), "rb"));
  NERVE_CHECK(f != nullptr, what, ": ", path, ": cannot open (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) bytes.insert(bytes.end(), buf, buf + n);
  NERVE_CHECK(!std::ferror(f.get()), what, ": ", path, ": read error after byte ", bytes.size(), " (",
              std::strerror(errno), ")");
  return bytes;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, const char* what) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    NERVE_CHECK(f != nullptr, what, ": ", path, ": cannot create temporary file ", tmp, " (", std::strerror(errno),
                ")");
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size();
    ok = std::fflush(f.get()) == 0 && ok;
    ok = ok && ::fsync(::fileno(f.get())) == 0;  // the data is on disk before the new name points to it
    int err = errno;
    if (!ok) {
      f.reset();
      std::remove(tmp.c_str());
      NERVE_CHECK(false, what, ": ", path, ": write failed (", std::strerror(err), ")");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    NERVE_CHECK(false, what, ": ", path, ": cannot rename ", tmp, " into place (", ec.message(), ")");
  }
  // and the rename itself survives a power cut: fsync of the folder (best effort: some file systems refuse it)
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace nerve::detail
