// Op-level profiler, like torch.profiler's CPU table: while a Profile records, every op (forward), autograd node
// (backward), optimizer step and user scope is timed; the summary gives calls, self time (without the ops it
// called) and total time per name. Off, a scope costs one relaxed atomic load.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nerve::profiler {

namespace detail {
struct Registry;
extern std::atomic<bool> g_recording;
}  // namespace detail

/// One row of a Profile's summary: how often `name` ran, and its time without (self) and with (total) the
/// recorded scopes it called, in microseconds.
struct OpStats {
  std::string name;
  int64_t calls = 0;
  double self_us = 0;
  double total_us = 0;
};

struct ProfileOptions {
  /// Also keep every scope's start and duration (24 bytes each), for export_chrome_trace.
  bool record_events = false;
};

/// Records from construction until stop() or destruction, on every thread; one Profile records at a time.
///   nerve::profiler::Profile prof;
///   for (int i = 0; i < 10; ++i) train_step();
///   prof.stop();  std::cout << prof.table(15);
class Profile {
 public:
  explicit Profile(const ProfileOptions& options = {});
  ~Profile();
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  void stop();
  bool recording() const { return recording_; }
  /// Wall time from construction to stop() (or to now while recording), in microseconds.
  double wall_us() const;
  /// One row per name, by self time, largest first.
  std::vector<OpStats> key_averages() const;
  /// The rows as a table (Name, Self %, Self, Total, Avg, Calls), at most row_limit rows (0: all), and the sum of
  /// the self times against the wall time.
  std::string table(size_t row_limit = 0) const;
  /// Writes the recorded scopes as a Chrome trace (JSON; chrome://tracing or ui.perfetto.dev): one complete event
  /// per scope, a row per thread, times from the Profile's start. Needs record_events. The file is replaced
  /// atomically.   Profile prof({.record_events = true}); ...; prof.stop(); prof.export_chrome_trace("t.json");
  void export_chrome_trace(const std::string& path) const;

 private:
  uint64_t generation_ = 0;
  bool recording_ = false;
  int64_t start_ns_ = 0, stop_ns_ = 0;
  std::shared_ptr<detail::Registry> registry_;
};

/// Times the enclosing block under `name` while a Profile records. `name` must stay valid until the Profile is
/// destroyed (a string literal).   { nerve::profiler::RecordFunction rf("data augmentation"); augment(batch); }
class RecordFunction {
 public:
  explicit RecordFunction(const char* name) {
    if (detail::g_recording.load(std::memory_order_relaxed)) start(name);
  }
  ~RecordFunction() {
    if (generation_ != 0) finish();
  }
  RecordFunction(const RecordFunction&) = delete;
  RecordFunction& operator=(const RecordFunction&) = delete;

 private:
  void start(const char* name);
  void finish();

  const char* name_ = nullptr;
  RecordFunction* parent_ = nullptr;
  uint64_t generation_ = 0;  // 0: not recording
  int64_t start_ns_ = 0;
  int64_t child_ns_ = 0;
};

}  // namespace nerve::profiler

/// Times the rest of the enclosing block under `name` (see nerve::profiler::RecordFunction).
#define NERVE_RECORD_FUNCTION(name) ::nerve::profiler::RecordFunction nerve_record_function_(name)
