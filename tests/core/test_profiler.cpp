// The profiler: off records nothing; on, each op, autograd node and user scope is counted once per call with
// self <= total, self times exclude recorded children, threads are merged, and one Profile records at a time.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <nerve/nerve.h>

using namespace nerve;

namespace {

const profiler::OpStats* find(const std::vector<profiler::OpStats>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

void spin_for(std::chrono::microseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

}  // namespace

TEST(Profiler, CountsOpsAndBackwardNodes) {
  Tensor a = randn({8, 4}).requires_grad_(), b = randn({4, 3}).requires_grad_();
  profiler::Profile prof;
  for (int i = 0; i < 3; ++i) {
    Tensor loss = sum(relu(matmul(a, b)) * 2.0);
    loss.backward();
  }
  prof.stop();
  auto rows = prof.key_averages();
  // mul: 3 forward + 3 in MulBackward (the gradient times the constant 2)
  for (auto [name, calls] : std::vector<std::pair<const char*, int>>{
           {"matmul", 3}, {"relu", 3}, {"mul", 6}, {"sum", 3}, {"backward", 3}, {"MulBackward", 3}, {"SumBackward", 3}}) {
    const profiler::OpStats* r = find(rows, name);
    ASSERT_NE(r, nullptr) << name << " missing from\n" << prof.table();
    EXPECT_EQ(r->calls, calls) << name;
    EXPECT_GE(r->total_us, r->self_us) << name;
    EXPECT_GE(r->self_us, 0.0) << name;
  }
  // every backward node ran inside backward(): its total covers theirs
  const profiler::OpStats* bw = find(rows, "backward");
  const profiler::OpStats* mb = find(rows, "MulBackward");
  EXPECT_GE(bw->total_us, mb->total_us);
  EXPECT_LE(bw->self_us, bw->total_us - mb->total_us + 1e-3);
  // sorted by self time
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1].self_us, rows[i].self_us);
}

TEST(Profiler, OffRecordsNothingAndStopEndsRecording) {
  Tensor x = randn({16});
  { Tensor y = exp(x); }  // no Profile: nothing to look at, and no crash
  profiler::Profile prof;
  Tensor y = exp(x);
  prof.stop();
  EXPECT_FALSE(prof.recording());
  Tensor z = exp(x);  // after stop: not counted
  auto rows = prof.key_averages();
  ASSERT_NE(find(rows, "exp"), nullptr);
  EXPECT_EQ(find(rows, "exp")->calls, 1);
  EXPECT_EQ(find(rows, "log"), nullptr);
}

TEST(Profiler, SelfTimeExcludesRecordedChildren) {
  profiler::Profile prof;
  {
    profiler::RecordFunction outer("outer");
    spin_for(std::chrono::microseconds(2000));
    {
      profiler::RecordFunction inner("inner");
      spin_for(std::chrono::microseconds(6000));
    }
  }
  prof.stop();
  auto rows = prof.key_averages();
  const profiler::OpStats* outer = find(rows, "outer");
  const profiler::OpStats* inner = find(rows, "inner");
  ASSERT_TRUE(outer && inner);
  EXPECT_NEAR(outer->total_us, outer->self_us + inner->total_us, 1.0);
  EXPECT_GE(inner->total_us, 6000.0);
  EXPECT_GE(outer->self_us, 2000.0);
  // (no comparison of the two self times: on a loaded machine a preempted 2 ms spin may outlast the 6 ms one)
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1].self_us, rows[i].self_us);  // sorted by self time
  EXPECT_LE(outer->total_us, prof.wall_us());
}

TEST(Profiler, MergesThreadsAndScopesStartedBeforeRecording) {
  std::unique_ptr<profiler::RecordFunction> early;
  early = std::make_unique<profiler::RecordFunction>("early");  // opened before any Profile records
  profiler::Profile prof;
  std::thread t([] {
    for (int i = 0; i < 5; ++i) profiler::RecordFunction rf("worker");
  });
  for (int i = 0; i < 7; ++i) profiler::RecordFunction rf("worker");
  t.join();
  early.reset();
  { profiler::RecordFunction unnamed(nullptr); }  // a null name: recorded as "(unnamed)", not a crash
  prof.stop();
  auto rows = prof.key_averages();
  ASSERT_NE(find(rows, "worker"), nullptr);
  EXPECT_EQ(find(rows, "worker")->calls, 12);
  EXPECT_EQ(find(rows, "early"), nullptr);
  ASSERT_NE(find(rows, "(unnamed)"), nullptr);
  EXPECT_EQ(find(rows, "(unnamed)")->calls, 1);
}

TEST(Profiler, OneAtATimeAndTable) {
  profiler::Profile first;
  EXPECT_THROW(profiler::Profile second, Error);
  Tensor a = randn({4, 4});
  Tensor b = add(a, a);
  first.stop();
  {
    profiler::Profile next;  // the first stopped: a new one may record; the first keeps its counts
    Tensor c = mul(a, a);
    next.stop();
    EXPECT_NE(find(next.key_averages(), "mul"), nullptr);
    EXPECT_EQ(find(next.key_averages(), "add"), nullptr);
  }
  EXPECT_EQ(find(first.key_averages(), "mul"), nullptr);
  std::string t = first.table(5);
  EXPECT_NE(t.find("Name"), std::string::npos) << t;
  EXPECT_NE(t.find("add"), std::string::npos) << t;
  EXPECT_NE(t.find("Self time total"), std::string::npos) << t;
}

TEST(Profiler, OptimizerStepAndModuleForward) {
  manual_seed(1);
  nn::Linear fc(4, 2);
  optim::Adam opt(fc.parameters(), optim::AdamOptions{.lr = 1e-3});
  profiler::Profile prof;
  Tensor loss = nn::functional::mse_loss(fc.forward(randn({3, 4})), zeros({3, 2}));
  loss.backward();
  opt.step();
  prof.stop();
  auto rows = prof.key_averages();
  for (const char* name : {"linear", "mse_loss", "MseLossBackward", "Optimizer.step", "AccumulateGrad"})
    EXPECT_NE(find(rows, name), nullptr) << name << " missing from\n" << prof.table();
}

TEST(Profiler, ChromeTrace) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/nerve_trace_test.json";
  {
    profiler::Profile plain;
    plain.stop();
    try {
      plain.export_chrome_trace(path);
      FAIL() << "expected an error without record_events";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("record_events"), std::string::npos) << e.what();
    }
  }
  profiler::Profile prof({.record_events = true});
  Tensor a = randn({8, 8});
  for (int i = 0; i < 4; ++i) {  // (before the thread starts: the main thread's row is 0)
    profiler::RecordFunction outer("outer");
    Tensor b = exp(a);
  }
  std::thread t([] {
    for (int i = 0; i < 3; ++i) profiler::RecordFunction rf("worker \"quoted\\\\ name\"");
  });
  t.join();
  prof.stop();
  prof.export_chrome_trace(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
  };
  int64_t calls = 0;
  for (const auto& r : prof.key_averages()) calls += r.calls;
  EXPECT_EQ(count("\"ph\": \"X\""), static_cast<size_t>(calls)) << text;
  EXPECT_EQ(count("{\"name\": \"outer\""), 4u);
  EXPECT_EQ(count("{\"name\": \"exp\""), 4u);
  EXPECT_EQ(count("{\"name\": \"worker \\\"quoted\\\\\\\\ name\\\"\""), 3u) << text;  // escaped
  EXPECT_EQ(count("\"tid\": 1"), 3u);  // the worker thread's row (the main thread registered first)
  EXPECT_EQ(text.rfind("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [", 0), 0u);
  EXPECT_EQ(text.substr(text.size() - 4), "\n]}\n");
  EXPECT_EQ(count("{"), count("}"));
  // an unwritable path: an error naming it
  EXPECT_THROW(prof.export_chrome_trace(dir + "/no/such/dir/t.json"), Error);
  std::remove(path.c_str());
}
