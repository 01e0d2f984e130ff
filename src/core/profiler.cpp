// The profiler: each thread keeps its own counters per scope name (a short list keyed by the name's pointer, behind
// uncontended mutex), registered with the recording Profile; the summary merges them by name. Self time is a
// scope's time minus that of the recorded scopes it called (a per-thread chain of the open scopes).
#include "nerve/core/profiler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>

#include "core/file_util.h"
#include "nerve/core/error.h"

namespace nerve::profiler {

namespace detail {
std::atomic<bool> g_recording{false};

struct Counters {
  int64_t calls = 0, self_ns = 0, total_ns = 0;
};

struct Event {
  const char* name;
  int64_t start_ns, dur_ns;
};

struct ThreadBuffer {
  std::mutex mu;
  std::vector<std::pair<const char*, Counters>> by_name;  // a few dozen names: a linear search is fine
  std::vector<Event> events;                              // with record_events
  bool record_events = false;
  int index = 0;  // the thread's row in a trace
};

// The buffers of one recording, shared by the Profile (which reads them) and the threads (which fill them).
struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<ThreadBuffer>> buffers;
  bool record_events = false;
};
}  // namespace detail

namespace {
using detail::Counters;
using detail::Event;
using detail::Registry;
using detail::ThreadBuffer;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct State {
  std::mutex mu;
  uint64_t last_generation = 0;
  bool active = false;
  std::shared_ptr<Registry> registry;  // of the recording Profile
};

State& state() {
  static State* s = new State;  // never destroyed: threads may finish a scope during static destruction
  return *s;
}

std::atomic<uint64_t> g_generation{0};  // of the recording Profile; checked when a scope ends

thread_local RecordFunction* t_open = nullptr;  // innermost open scope on this thread
thread_local std::shared_ptr<ThreadBuffer> t_buffer;
thread_local uint64_t t_buffer_generation = 0;

// This thread's buffer in the recording of `generation`; null if that recording has stopped.
ThreadBuffer* buffer_for(uint64_t generation) {
  if (t_buffer_generation == generation) return t_buffer.get();
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.active || s.last_generation != generation) return nullptr;
  auto b = std::make_shared<ThreadBuffer>();
  b->record_events = s.registry->record_events;
  {
    std::lock_guard<std::mutex> reg_lock(s.registry->mu);
    b->index = static_cast<int>(s.registry->buffers.size());
    s.registry->buffers.push_back(b);
  }
  t_buffer = std::move(b);
  t_buffer_generation = generation;
  return t_buffer.get();
}

std::string format_time(double us) {
  char buf[32];
  if (us >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3fs", us / 1e6);
  else if (us >= 1e3)
    std::snprintf(buf, sizeof buf, "%.3fms", us / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3fus", us);
  return buf;
}

}  // namespace

void RecordFunction::start(const char* name) {
  uint64_t g = g_generation.load(std::memory_order_acquire);
  if (g == 0) return;
  name_ = name ? name : "(unnamed)";
  parent_ = t_open;
  t_open = this;
  generation_ = g;
  start_ns_ = now_ns();
}

void RecordFunction::finish() {
  int64_t total = now_ns() - start_ns_;
  t_open = parent_;  // scopes end in reverse order of their start on a thread (RAII)
  if (parent_) parent_->child_ns_ += total;
  if (!detail::g_recording.load(std::memory_order_relaxed) ||
      g_generation.load(std::memory_order_relaxed) != generation_)
    return;
  ThreadBuffer* b = buffer_for(generation_);
  if (!b) return;
  std::lock_guard<std::mutex> lock(b->mu);
  auto it = std::find_if(b->by_name.begin(), b->by_name.end(), [&](const auto& e) { return e.first == name_; });
  if (it == b->by_name.end()) it = b->by_name.insert(it, {name_, Counters{}});
  Counters& c = it->second;
  c.calls += 1;
  c.self_ns += total - child_ns_;
  c.total_ns += total;
  if (b->record_events) b->events.push_back({name_, start_ns_, total});
}

Profile::Profile(const ProfileOptions& options) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  NERVE_CHECK(!s.active, "profiler: another Profile is already recording (one at a time; stop() it first)");
  generation_ = ++s.last_generation;
  s.active = true;
  s.registry = std::make_shared<Registry>();
  s.registry->record_events = options.record_events;
  registry_ = s.registry;
  g_generation.store(generation_, std::memory_order_release);
  detail::g_recording.store(true, std::memory_order_release);
  recording_ = true;
  start_ns_ = now_ns();
}

Profile::~Profile() { stop(); }

void Profile::stop() {
  if (!recording_) return;
  stop_ns_ = now_ns();
  recording_ = false;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  detail::g_recording.store(false, std::memory_order_release);
  s.active = false;
  s.registry.reset();
}

double Profile::wall_us() const { return ((recording_ ? now_ns() : stop_ns_) - start_ns_) / 1e3; }

std::vector<OpStats> Profile::key_averages() const {
  std::vector<OpStats> rows;  // merged by name: the same literal may have several addresses
  std::lock_guard<std::mutex> lock(registry_->mu);
  for (const auto& b : registry_->buffers) {
    std::lock_guard<std::mutex> buffer_lock(b->mu);
    for (const auto& entry : b->by_name) {  // (no structured binding: clang 14 cannot capture one in a lambda)
      const char* name = entry.first;
      const Counters& c = entry.second;
      auto it = std::find_if(rows.begin(), rows.end(), [&](const OpStats& r) { return r.name == name; });
      if (it == rows.end()) it = rows.insert(it, OpStats{name});
      it->calls += c.calls;
      it->self_us += c.self_ns / 1e3;
      it->total_us += c.total_ns / 1e3;
    }
  }
  for (size_t i = 1; i < rows.size(); ++i)  // by self time, largest first (insertion sort: few rows)
    for (size_t j = i; j > 0 && rows[j].self_us > rows[j - 1].self_us; --j) std::swap(rows[j], rows[j - 1]);
  return rows;
}

std::string Profile::table(size_t row_limit) const {
  std::vector<OpStats> rows = key_averages();
  double self_sum = 0;
  for (const OpStats& r : rows) self_sum += r.self_us;
  if (row_limit > 0 && rows.size() > row_limit) rows.resize(row_limit);
  size_t w = 4;
  for (const OpStats& r : rows) w = std::max(w, r.name.size());
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %7s  %12s  %12s  %12s  %8s\n", int(w), "Name", "Self %", "Self", "Total",
                "Avg", "Calls");
  out += line;
  out += std::string(w + 63, '-') + "\n";
  for (const OpStats& r : rows) {
    std::snprintf(line, sizeof line, "%-*s  %6.2f%%  %12s  %12s  %12s  %8lld\n", int(w), r.name.c_str(),
                  self_sum > 0 ? 100.0 * r.self_us / self_sum : 0.0, format_time(r.self_us).c_str(),
                  format_time(r.total_us).c_str(), format_time(r.calls ? r.total_us / r.calls : 0.0).c_str(),
                  static_cast<long long>(r.calls));
    out += line;
  }
  double wall = wall_us();
  std::snprintf(line, sizeof line, "Self time total: %s of %s wall time (%.1f%%; the rest outside recorded scopes)\n",
                format_time(self_sum).c_str(), format_time(wall).c_str(), wall > 0 ? 100.0 * self_sum / wall : 0.0);
  out += line;
  return out;
}

namespace {
// s as a JSON string body: quotes, backslashes and control characters escaped
void append_json_string(std::string& out, const char* s) {
  for (; *s; ++s) {
    const unsigned char ch = static_cast<unsigned char>(*s);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
}
}  // namespace

void Profile::export_chrome_trace(const std::string& path) const {
  NERVE_CHECK(registry_->record_events, "profiler: export_chrome_trace(", path,
              ") needs the events: construct the Profile with {.record_events = true}");
  std::string out = "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [";
  bool first = true;
  char num[96];
  std::lock_guard<std::mutex> lock(registry_->mu);
  for (const auto& b : registry_->buffers) {
    std::lock_guard<std::mutex> buffer_lock(b->mu);
    for (const Event& e : b->events) {
      out += first ? "\n{\"name\": \"" : ",\n{\"name\": \"";
      first = false;
      append_json_string(out, e.name);
      std::snprintf(num, sizeof num, "\", \"ph\": \"X\", \"pid\": 0, \"tid\": %d, \"ts\": %.3f, \"dur\": %.3f}", b->index,
                    (e.start_ns - start_ns_) / 1e3, e.dur_ns / 1e3);
      out += num;
    }
  }
  out += "\n]}\n";
  nerve::detail::write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size()),
                                   "profiler: export_chrome_trace");
}

}  // namespace nerve::profiler
