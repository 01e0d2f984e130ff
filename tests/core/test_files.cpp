// Safe file writes (src/core/file_util.cpp, used by the profiler's trace, write_idx, CharTokenizer::save and
// keras::CSVLogger): a regular file is replaced atomically with its permissions kept and no temporary file left;
// a symlink is followed; a FIFO or a device is written in place, never replaced; a socket or a folder is refused;
// and check_writable refuses an unwritable path up front.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nerve/nerve.h>

#include "core/file_util.h"
#include "golden/golden_reader.h"

namespace fs = std::filesystem;
using nerve::Error;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/nerve_files_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (auto& e : fs::directory_iterator(path)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
};

void write(const std::string& path, const std::string& text) {
  nerve::detail::write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                                   "test");
}

std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

using nerve::testing::error_of;

mode_t mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

}  // namespace

TEST(SafeWrite, RegularFileReplacedKeepingItsPermissionsAndNoTemporaryLeft) {
  TempDir d;
  const std::string p = d / "out.txt";
  write(p, "first");
  EXPECT_EQ(read(p), "first");
  mode_t um = ::umask(0);
  ::umask(um);
  EXPECT_EQ(mode_of(p) & 0777, 0666 & ~um);  // a new file: as a plain create
  ASSERT_EQ(::chmod(p.c_str(), 0640), 0);
  write(p, "second, longer");
  EXPECT_EQ(read(p), "second, longer");
  EXPECT_EQ(mode_of(p) & 07777, 0640u);
  EXPECT_EQ(d.entries(), std::vector<std::string>{"out.txt"});
}

TEST(SafeWrite, SymlinksAreFollowedAndKept) {
  TempDir d;
  fs::create_directory(d.path / "sub");
  const std::string target = d / "sub/real.txt", link = d / "link.txt", link2 = d / "link2.txt";
  write(target, "old");
  fs::create_symlink("sub/real.txt", link);  // relative, resolved from the link's folder
  fs::create_symlink("link.txt", link2);     // a chain
  write(link2, "new");
  EXPECT_TRUE(S_ISLNK(mode_of(link)));
  EXPECT_TRUE(S_ISLNK(mode_of(link2)));
  EXPECT_EQ(read(target), "new");
  const std::string dangling = d / "dangling.txt";
  fs::create_symlink("sub/created.txt", dangling);
  write(dangling, "made");
  EXPECT_TRUE(S_ISLNK(mode_of(dangling)));
  EXPECT_EQ(read(d / "sub/created.txt"), "made");
  EXPECT_EQ(d.entries(), (std::vector<std::string>{"dangling.txt", "link.txt", "link2.txt", "sub"}));
}

TEST(SafeWrite, FifoIsWrittenInPlaceOrRefusedWithoutAReader) {
  TempDir d;
  const std::string fifo = d / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string err = error_of([&] { write(fifo, "nobody reads"); });
  EXPECT_NE(err.find("a FIFO without a reader"), std::string::npos) << err;
  EXPECT_TRUE(S_ISFIFO(mode_of(fifo)));
  std::string got;
  int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // a reader is present before the write
  ASSERT_GE(rfd, 0);
  write(fifo, "through the pipe");
  char buf[64];
  ssize_t n = ::read(rfd, buf, sizeof buf);
  ::close(rfd);
  EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "through the pipe");
  EXPECT_TRUE(S_ISFIFO(mode_of(fifo)));
  EXPECT_EQ(d.entries(), std::vector<std::string>{"pipe"});
}

TEST(SafeWrite, DeviceIsWrittenInPlace) {
  TempDir d;
  const std::string dev = d / "null";
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "cannot make a device node here";
  try {
    write(dev, "discarded");
  } catch (const Error&) {  // EACCES where the file system is mounted nodev: then nothing may have been replaced
  }
  EXPECT_TRUE(S_ISCHR(mode_of(dev)));
  EXPECT_EQ(d.entries(), std::vector<std::string>{"null"});
}

TEST(SafeWrite, SocketAndFolderAreRefused) {
  TempDir d;
  const std::string sock = d / "sock";
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_NE(error_of([&] { write(sock, "x"); }), "");
  EXPECT_TRUE(S_ISSOCK(mode_of(sock)));
  EXPECT_NE(error_of([&] { nerve::check_writable(sock, "test"); }).find("is a socket"), std::string::npos);
  ::close(s);
  std::string err = error_of([&] { write(d.path.string(), "x"); });
  EXPECT_NE(err.find("is a directory"), std::string::npos) << err;
}

TEST(SafeWrite, ConcurrentWritersUseDistinctTemporaryFiles) {
  TempDir d;
  const std::string p = d / "shared.txt";
  std::vector<std::thread> ts;
  std::atomic<int> errors{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        try {
          write(p, std::string(1000, char('a' + t)));
        } catch (const Error&) {
          errors.fetch_add(1);
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::string s = read(p);
  ASSERT_EQ(s.size(), 1000u);
  EXPECT_EQ(s, std::string(1000, s[0]));  // one writer's whole content
  EXPECT_EQ(d.entries(), std::vector<std::string>{"shared.txt"});
}

TEST(SafeWrite, UnwritablePathsFailUpFront) {
  TempDir d;
  EXPECT_NO_THROW(nerve::check_writable(d / "new.csv", "test"));
  std::string err = error_of([&] { nerve::check_writable(d / "missing/new.csv", "--trace"); });
  EXPECT_NE(err.find("--trace: " + (d / "missing/new.csv") + ": the folder"), std::string::npos) << err;
  EXPECT_NE(error_of([&] { nerve::check_writable(d.path.string(), "x"); }).find("is a directory"), std::string::npos);
  EXPECT_NE(error_of([&] { nerve::check_writable("", "x"); }), "");
  // keras::CSVLogger refuses its path when it is made, before any training
  err = error_of([&] { (void)nerve::keras::CSVLogger(d / "missing/log.csv"); });
  EXPECT_NE(err.find("CSVLogger"), std::string::npos) << err;
  if (::geteuid() != 0) {  // root may write anywhere
    fs::create_directory(d.path / "ro");
    fs::permissions(d.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    err = error_of([&] { nerve::check_writable(d / "ro/x.csv", "test"); });
    EXPECT_NE(err.find("cannot create files in"), std::string::npos) << err;
    fs::permissions(d.path / "ro", fs::perms::owner_all);
  }
}

TEST(SafeWrite, ProfilerTraceToAFifoKeepsTheFifo) {
  TempDir d;
  const std::string fifo = d / "trace";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  nerve::profiler::Profile prof({.record_events = true});
  (void)(nerve::ones({4}) + 1.0);
  prof.stop();
  int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(rfd, 0);
  prof.export_chrome_trace(fifo);
  char buf[16];
  EXPECT_GT(::read(rfd, buf, sizeof buf), 0);
  ::close(rfd);
  EXPECT_TRUE(S_ISFIFO(mode_of(fifo)));
}
