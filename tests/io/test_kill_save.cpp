// Saving is atomic: a process killed (SIGKILL) at random moments while it saves, 100 times, always leaves a file
// that loads and holds one complete version, never a mix or a torn write.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "io_test_util.h"
#include "nerve/io/safetensors.h"

namespace nerve {
namespace {

TEST(KillDuringSave, ThePreviousFileAlwaysLoads) {
  test::TempDir dir;
  const std::string path = dir / "ckpt.safetensors";
  // version v: every element equals v, 256 KB, so a save takes long enough to be interrupted inside
  auto version = [](int v) { return nn::StateDict{{"w", full({256, 256}, v)}, {"step", full({1}, v, DType::i64)}}; };
  io::save_safetensors(version(0), path);
  std::mt19937 rng(7);
  int interrupted_saves = 0;
  for (int round = 0; round < 100; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // the child saves new versions until it is killed; it never returns into gtest
      try {
        for (int v = 1;; v = v % 1000 + 1) io::save_safetensors(version(v), path);
      } catch (...) {
      }
      ::_exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 20000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    nn::StateDict sd = io::load_safetensors(path);  // throws on a torn file
    ASSERT_EQ(sd.size(), 2u);
    const float v = sd[0].second.to_vector<float>()[0];
    std::vector<float> w = sd[0].second.to_vector<float>();
    for (float x : w) ASSERT_EQ(x, v) << "round " << round << ": a file mixing two versions";
    ASSERT_EQ(sd[1].second.to_vector<int64_t>()[0], static_cast<int64_t>(v));
    // what a killed save leaves is its temporary file, never the real name
    for (auto& e : std::filesystem::directory_iterator(dir.path()))
      if (e.path().filename() != "ckpt.safetensors") {
        ++interrupted_saves;
        std::filesystem::remove(e.path());
      }
  }
  EXPECT_GT(interrupted_saves, 0);  // some kills did land inside a save
}

}  // namespace
}  // namespace nerve
