// The collectives under mpirun (2 and 3 processes, tests/CMakeLists.txt): each against values computed by hand
// from the rank formula below, for several dtypes and sizes, empty and non-contiguous tensors, blocking and not.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "nerve/dist/comm.h"
#include "nerve/ops/ops.h"

using namespace nerve;
using namespace nerve::dist;

namespace {
// rank r's value at flat index i: (r + 1) * (i % 7 + 1), small integers so every dtype holds the sums exactly
double value(int r, int64_t i) { return static_cast<double>((r + 1) * (i % 7 + 1)); }

Tensor rank_tensor(const Shape& shape, DType d, int r) {
  int64_t n = numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = value(r, i);
  return from_vector<double>(v, shape).to(d);
}

std::vector<double> values(const Tensor& t) { return t.contiguous().to(DType::f64).to_vector<double>(); }

double expected(ReduceOp op, int64_t i, int w) {
  double base = static_cast<double>(i % 7 + 1);
  switch (op) {
    case ReduceOp::sum: return base * w * (w + 1) / 2;
    case ReduceOp::average: return base * (w + 1) / 2.0;
    case ReduceOp::max: return base * w;
    case ReduceOp::min: return base;
  }
  return 0;
}

const std::vector<DType> kDtypes{DType::f32, DType::f64, DType::i64, DType::i32};
const std::vector<Shape> kShapes{{0}, {1}, {7}, {3, 5}, {1000}, {2, 0, 3}};
}  // namespace

TEST(DistCollectives, WorldFromMpirun) {
  ASSERT_TRUE(is_mpi());
  EXPECT_GE(world_size(), 2);
  EXPECT_GE(rank(), 0);
  EXPECT_LT(rank(), world_size());
  EXPECT_GE(local_rank(), 0);
}

TEST(DistCollectives, AllReduceEveryOpDtypeAndSize) {
  int w = world_size(), r = rank();
  for (DType d : kDtypes)
    for (const Shape& s : kShapes)
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average, ReduceOp::max, ReduceOp::min}) {
        if (op == ReduceOp::average && !is_floating(d)) continue;
        Tensor t = rank_tensor(s, d, r);
        all_reduce(t, op);
        auto got = values(t);
        ASSERT_EQ(t.shape(), s);
        for (int64_t i = 0; i < numel(s); ++i)
          ASSERT_DOUBLE_EQ(got[i], expected(op, i, w)) << dtype_name(d) << " " << to_string(s) << " op "
                                                         << to_string(op) << " at " << i;
      }
}

TEST(DistCollectives, AllReduceNonContiguousWritesTheViewOnly) {
  int w = world_size(), r = rank();
  for (DType d : {DType::f32, DType::f64, DType::i64}) {
    Tensor base = rank_tensor({4, 6}, d, r);
    Tensor view = base.t();                       // (6, 4), transposed
    Tensor strided = narrow(base, 1, 1, 3);       // columns 1..3 of every row
    ASSERT_FALSE(view.is_contiguous());
    ASSERT_FALSE(strided.is_contiguous());
    all_reduce(strided, ReduceOp::sum);
    auto got = values(base);
    for (int64_t i = 0; i < 24; ++i) {
      int64_t col = i % 6;
      double want = (col >= 1 && col <= 3) ? expected(ReduceOp::sum, i, w) : value(r, i);
      ASSERT_DOUBLE_EQ(got[i], want) << dtype_name(d) << " element " << i;
    }
    Tensor base2 = rank_tensor({4, 6}, d, r);
    all_reduce(base2.t(), ReduceOp::max);
    auto got2 = values(base2);
    for (int64_t i = 0; i < 24; ++i) ASSERT_DOUBLE_EQ(got2[i], expected(ReduceOp::max, i, w));
  }
}

TEST(DistCollectives, AllReduceAsyncManyInFlight) {
  int w = world_size(), r = rank();
  std::vector<Tensor> ts;
  std::vector<Work> works;
  for (int k = 0; k < 5; ++k) {
    ts.push_back(rank_tensor({100 + k}, DType::f32, r));
    works.push_back(all_reduce_async(ts.back(), ReduceOp::average));
  }
  EXPECT_FALSE(Work().test() == false);  // a default Work is complete
  for (int k = 4; k >= 0; --k) works[k].wait();  // any order of waiting
  for (int k = 0; k < 5; ++k) {
    EXPECT_TRUE(works[k].completed());
    auto got = values(ts[k]);
    for (int64_t i = 0; i < 100 + k; ++i) ASSERT_FLOAT_EQ(got[i], expected(ReduceOp::average, i, w));
  }
}

// ctest runs this binary twice with 2 ranks: as is (one machine: all_reduce through the shared-memory window) and
// with NERVE_DIST_SHM=0 (through MPI_Iallreduce)
bool shared_memory_path() {
  const char* v = std::getenv("NERVE_DIST_SHM");
  return !(v && std::string(v) == "0");
}

TEST(DistCollectives, AllReduceOnOneMachineCompletesBeforeReturning) {
  // from 64 KB up all_reduce_async reduces through the window before it returns; a smaller tensor stays in flight
  // through MPI (a small gradient bucket's all-reduce overlaps the rest of backward); MPI's is in flight until waited
  Tensor big = rank_tensor({20000}, DType::f32, rank()), small = rank_tensor({1000}, DType::f32, rank());
  Work wb = all_reduce_async(big, ReduceOp::sum);
  Work ws = all_reduce_async(small, ReduceOp::sum);
  EXPECT_EQ(wb.completed(), shared_memory_path());
  EXPECT_FALSE(ws.completed());
  wb.wait();
  ws.wait();
  auto got = values(big), got_small = values(small);
  for (int64_t i = 0; i < 20000; ++i) ASSERT_DOUBLE_EQ(got[i], expected(ReduceOp::sum, i, world_size()));
  for (int64_t i = 0; i < 1000; ++i) ASSERT_DOUBLE_EQ(got_small[i], expected(ReduceOp::sum, i, world_size()));
}

TEST(DistCollectives, SetSharedMemorySwitchesThePathOnEveryRank) {
  const bool before = shared_memory();
  EXPECT_EQ(before, shared_memory_path());
  for (bool on : {true, false}) {
    set_shared_memory(on);
    EXPECT_EQ(shared_memory(), on);  // every rank of this job runs on this machine
    Tensor big = rank_tensor({20000}, DType::f64, rank());
    Work w = all_reduce_async(big, ReduceOp::average);
    EXPECT_EQ(w.completed(), on);
    w.wait();
    auto got = values(big);
    for (int64_t i = 0; i < 20000; ++i) ASSERT_DOUBLE_EQ(got[i], expected(ReduceOp::average, i, world_size())) << on;
  }
  set_shared_memory(before);
}

TEST(DistCollectives, AllReduceBackToBackGrowingAndSmallDtypes) {
  // sizes across the window's growth (256 KB slots, then 512 KB, 4 MB, then tensors beyond 4 MB in 4 MB pieces),
  // uneven chunks, calls back to back with no barrier between them (the window's two halves alternate), and the
  // one-byte dtypes
  int w = world_size(), r = rank();
  for (int64_t n : {int64_t{5}, int64_t{65537}, int64_t{100003}, int64_t{1} << 20, (int64_t{1} << 21) + 3, int64_t{3}})
    for (int call = 0; call < 6; ++call) {
      DType d = call % 2 ? DType::f64 : DType::f32;
      Tensor t = rank_tensor({n}, d, r) * static_cast<double>(call + 1);
      ReduceOp op = call % 3 == 0 ? ReduceOp::sum : call % 3 == 1 ? ReduceOp::average : ReduceOp::max;
      all_reduce(t, op);
      auto got = values(t);
      for (int64_t i = 0; i < n; i += 997)
        ASSERT_DOUBLE_EQ(got[i], expected(op, i, w) * (call + 1)) << "n " << n << " call " << call << " at " << i;
      ASSERT_DOUBLE_EQ(got[n - 1], expected(op, n - 1, w) * (call + 1)) << "n " << n << " call " << call;
    }
  for (DType d : {DType::u8, DType::b8})
    for (ReduceOp op : {ReduceOp::max, ReduceOp::min}) {
      // u8: rank r holds r + 1 at even i, 0 at odd i; bool: true where (i + r) % 3 == 0
      std::vector<double> v(301);
      for (int64_t i = 0; i < 301; ++i) v[i] = d == DType::u8 ? (i % 2 ? 0 : r + 1) : ((i + r) % 3 == 0);
      Tensor t = from_vector<double>(v, {301}).to(d);
      all_reduce(t, op);
      auto got = values(t);
      for (int64_t i = 0; i < 301; ++i) {
        double want;
        if (d == DType::u8) {
          want = i % 2 ? 0 : (op == ReduceOp::max ? w : 1);
        } else {
          bool any = false, all = true;
          for (int k = 0; k < w; ++k) {
            any = any || (i + k) % 3 == 0;
            all = all && (i + k) % 3 == 0;
          }
          want = op == ReduceOp::max ? any : all;
        }
        ASSERT_DOUBLE_EQ(got[i], want) << dtype_name(d) << " " << to_string(op) << " at " << i;
      }
    }
}

TEST(DistCollectives, BroadcastFromEveryRoot) {
  int w = world_size(), r = rank();
  for (int root = 0; root < w; ++root)
    for (DType d : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::bf16})
      for (const Shape& s : kShapes) {
        Tensor t = rank_tensor(s, d, r);
        broadcast(t, root);
        auto got = values(t);
        for (int64_t i = 0; i < numel(s); ++i)
          ASSERT_DOUBLE_EQ(got[i], value(root, i)) << dtype_name(d) << " root " << root;
      }
  // a non-contiguous view, non-blocking
  Tensor base = rank_tensor({5, 4}, DType::f64, r);
  Work wk = broadcast_async(base.t(), w - 1);
  wk.wait();
  auto got = values(base);
  for (int64_t i = 0; i < 20; ++i) ASSERT_DOUBLE_EQ(got[i], value(w - 1, i));
}

TEST(DistCollectives, AllGatherStacksRanks) {
  int w = world_size(), r = rank();
  for (DType d : kDtypes)
    for (const Shape& s : kShapes) {
      Tensor out = all_gather(rank_tensor(s, d, r));
      Shape want = s;
      want.insert(want.begin(), w);
      ASSERT_EQ(out.shape(), want);
      auto got = values(out);
      int64_t n = numel(s);
      for (int q = 0; q < w; ++q)
        for (int64_t i = 0; i < n; ++i) ASSERT_DOUBLE_EQ(got[q * n + i], value(q, i)) << dtype_name(d);
    }
  // non-contiguous input: the gathered rows are the view's elements in order
  Tensor base = rank_tensor({3, 4}, DType::f32, r);
  Tensor out = all_gather(base.t());
  ASSERT_EQ(out.shape(), (Shape{w, 4, 3}));
  for (int q = 0; q < w; ++q) {
    auto want = values(rank_tensor({3, 4}, DType::f32, q).t());
    auto got = values(out.select(0, q));
    EXPECT_EQ(got, want);
  }
}

TEST(DistCollectives, ReduceScatterKeepsThisRanksRows) {
  int w = world_size(), r = rank();
  for (DType d : kDtypes)
    for (int64_t k : {0, 1, 3})
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::max}) {
        Shape s{w * k, 5};
        Tensor out = reduce_scatter(rank_tensor(s, d, r), op);
        ASSERT_EQ(out.shape(), (Shape{k, 5}));
        auto got = values(out);
        for (int64_t i = 0; i < k * 5; ++i)
          ASSERT_DOUBLE_EQ(got[i], expected(op, r * k * 5 + i, w)) << dtype_name(d) << " k " << k;
      }
  // average, from a non-contiguous input: (5, w*2) transposed to (w*2, 5)
  Tensor base = rank_tensor({5, w * 2}, DType::f64, r);
  Tensor out = reduce_scatter(base.t(), ReduceOp::average);
  auto all = values(rank_tensor({5, w * 2}, DType::f64, 0).t());
  auto got = values(out);
  for (int64_t i = 0; i < 10; ++i) ASSERT_DOUBLE_EQ(got[i], all[r * 10 + i] * (w + 1) / 2.0);
}

TEST(DistCollectives, BarrierBlockingAndNot) {
  barrier();
  Work b = barrier_async();
  b.wait();
  EXPECT_TRUE(b.completed());
}

TEST(DistCollectives, BadArgumentsSayWhatIsExpected) {
  auto msg = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([] { all_reduce(Tensor()); }).find("all_reduce: argument 't' is an undefined tensor"),
            std::string::npos);
  EXPECT_NE(msg([] { all_reduce(zeros({3}, DType::i64), ReduceOp::average); }).find("average needs a floating dtype"),
            std::string::npos);
  EXPECT_NE(msg([] { all_reduce(zeros({3}, DType::bf16)); }).find("sum of bf16 is not supported"), std::string::npos);
  EXPECT_NE(msg([] { broadcast(zeros({3}), world_size()); }).find("is not a rank of this world"), std::string::npos);
  EXPECT_NE(msg([] { reduce_scatter(zeros({world_size() + 1, 2})); }).find("divisible by the world size"),
            std::string::npos);
  EXPECT_NE(msg([] { all_reduce(zeros({3}, DType::f32, Device::meta)); }).find("meta tensor"), std::string::npos);
}
