// Whole-file reads and safe writes (the data readers and writers, the profiler's trace export, CSVLogger).
#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>

#include "nerve/core/error.h"
#include "nerve/core/files.h"

namespace nerve::detail {

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// `path` with every symlink of its last component followed (a chain too; relative targets are relative to the
// link's folder); the target need not exist.
std::string follow_symlinks(const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  fs::path p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st{};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p.string();
    std::error_code ec;
    fs::path target = fs::read_symlink(p, ec);
    NERVE_CHECK(!ec, what, ": ", path, ": cannot read the symlink ", p.string(), " (", ec.message(), ")");
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  NERVE_CHECK(false, what, ": ", path, ": too many levels of symbolic links");
  return {};
}

std::string parent_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Writes all bytes to fd; false with errno set on failure.
bool write_all(int fd, std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// A FIFO or a device: written in place (a FIFO without a reader is an error rather than a wait).
void write_in_place(const std::string& path, const std::string& target, std::span<const uint8_t> bytes,
                    const char* what) {
  Fd f{::open(target.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)};
  NERVE_CHECK(f.fd >= 0, what, ": ", path, ": cannot open for writing (",
              errno == ENXIO ? "a FIFO without a reader, or a socket" : std::strerror(errno), ")");
  ::fcntl(f.fd, F_SETFL, ::fcntl(f.fd, F_GETFL) & ~O_NONBLOCK);
  NERVE_CHECK(write_all(f.fd, bytes), what, ": ", path, ": write failed (", std::strerror(errno), ")");
  NERVE_CHECK(::close(f.fd) == 0 || errno == EINTR, what, ": ", path, ": write failed (", std::strerror(errno), ")");
  f.fd = -1;
}

// Creates a new file with a unique name beside `target` (mode 0666 less the umask, as a plain create); its name in tmp.
int create_temporary(const std::string& target, std::string& tmp, const char* what, const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  const std::filesystem::path t = target;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%llu-%08llx", long(::getpid()),
                  static_cast<unsigned long long>(counter++), static_cast<unsigned long long>(rng() & 0xffffffffu));
    tmp = (t.parent_path() / ("." + t.filename().string() + suffix)).string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    NERVE_CHECK(errno == EEXIST, what, ": ", path, ": cannot create a temporary file in ", parent_of(target), " (",
                std::strerror(errno), ")");
  }
  NERVE_CHECK(false, what, ": ", path, ": cannot find a free temporary file name in ", parent_of(target));
  return -1;
}
}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, const char* what) {
  std::error_code ec;
  NERVE_CHECK(!std::filesystem::is_directory(path, ec), what, ": ", path, ": is a directory, expected a file");
  File f(std::fopen(path.c_str(), "rb"));
  NERVE_CHECK(f != nullptr, what, ": ", path, ": cannot open (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes;
  std::error_code size_ec;
  const uintmax_t size = std::filesystem::file_size(path, size_ec);
  if (!size_ec) bytes.reserve(static_cast<size_t>(size));  // (a FIFO or a device has no size: grown as read)
  uint8_t buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) bytes.insert(bytes.end(), buf, buf + n);
  NERVE_CHECK(!std::ferror(f.get()), what, ": ", path, ": read error after byte ", bytes.size(), " (",
              std::strerror(errno), ")");
  return bytes;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes, const char* what) {
  const std::string target = follow_symlinks(path, what);
  struct stat st{};
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists) {
    NERVE_CHECK(!S_ISDIR(st.st_mode), what, ": ", path, ": is a directory, expected a file");
    if (!S_ISREG(st.st_mode)) return write_in_place(path, target, bytes, what);
  }
  std::string tmp;
  Fd f{create_temporary(target, tmp, what, path)};
  auto fail = [&](const char* step, int err) {
    ::close(f.fd);
    f.fd = -1;
    ::unlink(tmp.c_str());
    NERVE_CHECK(false, what, ": ", path, ": ", step, " failed (", std::strerror(err), ")");
  };
  if (exists) {  // the replacement keeps the file's permissions (and its owner, where we may set it)
    if (::fchmod(f.fd, st.st_mode & 07777) != 0) fail("setting the permissions", errno);
    if (::fchown(f.fd, st.st_uid, st.st_gid) != 0) errno = 0;  // not permitted unless root: keep ours
  }
  if (!write_all(f.fd, bytes)) fail("write", errno);
  if (::fsync(f.fd) != 0) fail("fsync", errno);
  const int rc = ::close(f.fd);
  f.fd = -1;
  if (rc != 0 && errno != EINTR) {
    int err = errno;
    ::unlink(tmp.c_str());
    NERVE_CHECK(false, what, ": ", path, ": write failed (", std::strerror(err), ")");
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    NERVE_CHECK(false, what, ": ", path, ": cannot rename ", tmp, " into place (", std::strerror(err), ")");
  }
  // and the rename itself survives a power cut: fsync of the folder (best effort: some file systems refuse it)
  std::string dir = std::filesystem::path(target).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace nerve::detail

namespace nerve {

void check_writable(const std::string& path, const std::string& what_s) {
  const char* what = what_s.c_str();
  NERVE_CHECK(!path.empty(), what, ": the path is empty");
  const std::string target = detail::follow_symlinks(path, what);
  struct stat st{};
  if (::stat(target.c_str(), &st) == 0) {
    NERVE_CHECK(!S_ISDIR(st.st_mode), what, ": ", path, ": is a directory, expected a file");
    NERVE_CHECK(!S_ISSOCK(st.st_mode), what, ": ", path, ": is a socket, expected a file");
    NERVE_CHECK(::access(target.c_str(), W_OK) == 0, what, ": ", path, ": not writable (", std::strerror(errno), ")");
    if (!S_ISREG(st.st_mode)) return;  // a FIFO or a device: written in place
  }
  const std::string dir = detail::parent_of(target);
  struct stat ds{};
  NERVE_CHECK(::stat(dir.c_str(), &ds) == 0 && S_ISDIR(ds.st_mode), what, ": ", path, ": the folder ", dir,
              " does not exist");
  NERVE_CHECK(::access(dir.c_str(), W_OK | X_OK) == 0, what, ": ", path, ": cannot create files in ", dir, " (",
              std::strerror(errno), ")");
}

}  // namespace nerve
