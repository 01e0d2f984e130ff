// MappedFile: open + fstat + mmap, with the file named in every error.
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nerve/core/error.h"

namespace nerve::io::detail {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, const char* what) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  NERVE_CHECK(fd >= 0, what, ": ", path, ": cannot open (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    NERVE_CHECK(false, what, ": ", path, ": cannot stat (", std::strerror(err), ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    NERVE_CHECK(false, what, ": ", path, ": ", S_ISDIR(st.st_mode) ? "is a directory, expected a file" : "not a regular file");
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ > 0) {
    void* p = ::mmap(nullptr, m->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    NERVE_CHECK(p != MAP_FAILED, what, ": ", path, ": cannot map ", m->size_, " bytes (", std::strerror(err), ")");
    m->data_ = static_cast<uint8_t*>(p);
  } else {
    ::close(fd);
  }
  return m;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace nerve::io::detail
