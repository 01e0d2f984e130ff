// The thread pool: every chunk runs exactly once, on the owning thread when all are idle, exceptions reach the
// caller, nested and concurrent calls run inline, resizing works; and the GEMM's tiled split equals the
// reference loop on every path (row tiles, column tiles, transposed column tiles, 2-D grids).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <string>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <nerve/nerve.h>

#include "threads_guard.h"

#include "backend/cpu/convert.h"
#include "backend/cpu/gemm.h"

using namespace nerve;

namespace {
using nerve::testing::ThreadsGuard;
}  // namespace

TEST(Parallel, EveryChunkRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadsGuard g(threads);
    for (int64_t chunks : {1, 2, 3, 7, 64, 1000, 70000}) {
      std::vector<std::atomic<int>> hits(chunks);
      parallel_chunks(chunks, [&](int64_t i) { hits[i].fetch_add(1); });
      for (int64_t i = 0; i < chunks; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << chunks << " " << i;
    }
  }
}

TEST(Parallel, ForCoversTheRangeInOrderedDisjointPieces) {
  ThreadsGuard g(3);
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{5}, kParallelGrain - 1, kParallelGrain * 2, kParallelGrain * 7 + 3})
    for (int64_t grain : {int64_t{1}, int64_t{100}, kParallelGrain}) {
      std::vector<std::atomic<int>> hits(n);
      std::mutex mu;
      std::vector<std::pair<int64_t, int64_t>> pieces;
      parallel_for(n, grain, [&](int64_t b, int64_t e) {
        EXPECT_LT(b, e);
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        std::lock_guard<std::mutex> lock(mu);
        pieces.emplace_back(b, e);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << n << " " << grain;
      EXPECT_LE(pieces.size(), 3u);
      if (grain >= kChunkAlign) {  // the same element takes the same kernel path at any thread count
        for (auto [b, e] : pieces) {
          EXPECT_TRUE(b % kChunkAlign == 0 && (e == n || e % kChunkAlign == 0)) << b << " " << e;
        }
      }
      if (n > 0 && n < grain) {
        EXPECT_EQ(pieces.size(), 1u);  // below the grain: inline, one piece
      }
    }
}

TEST(Parallel, WorkersTakePartAndTheCallerNeverWaitsForAnUnclaimedChunk) {
  ThreadsGuard g(2);
  const auto caller = std::this_thread::get_id();
  for (int rep = 0; rep < 20; ++rep) {
    // The caller's chunk 0 waits until chunk 1 has started: only a worker can start it (the caller is busy), so
    // this finishes only if the worker takes part. Which thread runs which chunk when both are free is not
    // fixed (an idle worker owns chunk 1, a descheduled one loses it to the caller), so only this is asserted.
    std::atomic<bool> started{false}, timed_out{false};
    std::atomic<int> on_caller{0};
    parallel_chunks(2, [&](int64_t i) {
      if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
      if (i == 1) {
        started = true;
        return;
      }
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!started && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      if (!started) timed_out = true;
    });
    ASSERT_FALSE(timed_out) << "chunk 1 never started while the caller was busy";
    EXPECT_LE(on_caller.load(), 1);
  }
  // a single thread runs everything inline, in order
  set_num_threads(1);
  std::vector<int64_t> order;
  parallel_chunks(5, [&](int64_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Parallel, ExceptionsReachTheCallerAfterAllChunks) {
  ThreadsGuard g(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(parallel_chunks(8,
                               [&](int64_t i) {
                                 ran.fetch_add(1);
                                 if (i == 5) throw std::runtime_error("chunk 5");
                               }),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 8);
  // the pool still works afterwards
  std::atomic<int> after{0};
  parallel_chunks(4, [&](int64_t) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 4);
}

TEST(Parallel, NestedCallsRunInline) {
  ThreadsGuard g(2);
  std::atomic<int> inner{0};
  parallel_chunks(4, [&](int64_t) {
    EXPECT_TRUE(detail::in_parallel_region());
    parallel_for(kParallelGrain * 8, 1, [&](int64_t b, int64_t e) {
      EXPECT_EQ(b, 0);
      EXPECT_EQ(e, kParallelGrain * 8);  // one inline piece
      inner.fetch_add(1);
    });
  });
  EXPECT_EQ(inner.load(), 4);
  EXPECT_FALSE(detail::in_parallel_region());
}

TEST(Parallel, ConcurrentCallersBothFinish) {
  ThreadsGuard g(2);
  std::atomic<int64_t> total{0};
  auto job = [&] {
    for (int rep = 0; rep < 300; ++rep) parallel_chunks(6, [&](int64_t i) { total.fetch_add(i + 1); });
  };
  std::thread a(job), b(job);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 300 * 21);
}

TEST(Parallel, ResizeAndBadCount) {
  ThreadsGuard g(4);
  EXPECT_EQ(get_num_threads(), 4);
  std::set<std::thread::id> ids;
  std::mutex mu;
  for (int rep = 0; rep < 50; ++rep)
    parallel_chunks(4, [&](int64_t) {
      volatile double s = 0;
      for (int k = 0; k < 5000; ++k) s = s + k;
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
  EXPECT_LE(ids.size(), 4u);
  set_num_threads(1);
  ids.clear();
  parallel_chunks(4, [&](int64_t) {
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_THROW(set_num_threads(0), Error);
  EXPECT_THROW(set_num_threads(-3), Error);
  try {
    set_num_threads(100000);
    ADD_FAILURE() << "set_num_threads(100000) accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("set_num_threads: expected n in [1, 256], got 100000"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(get_num_threads(), 1);  // unchanged by the refused calls
}

// Every tiling path of cpu::gemm and cpu::gemm_bias against the reference loop: shapes large enough to split, all transposes,
// alpha/beta, strided leading dimensions, 1..4 threads.
TEST(Parallel, GemmTilesEqualTheReference) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  struct Case {
    int64_t M, N, K;
  };
  // row tiles (C largest), column tiles of a weight (B largest; transposed goes through C^T), GEMV, square
  const Case cases[] = {{32, 128, 784}, {784, 128, 32}, {128, 784, 32}, {1, 512, 1024}, {3, 300, 900},
                        {256, 256, 256}, {2048, 96, 256}, {200, 40, 300}};
  for (int threads : {1, 2, 3, 4}) {
    ThreadsGuard g(threads);
    for (const Case& c : cases)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
          const int64_t lda = (ta ? c.M : c.K) + 3, ldb = (tb ? c.K : c.N) + 5, ldc = c.N + 2;
          std::vector<float> A((ta ? c.K : c.M) * lda), B((tb ? c.N : c.K) * ldb), C(c.M * ldc), R;
          for (float& x : A) x = u(rng);
          for (float& x : B) x = u(rng);
          for (float& x : C) x = u(rng);
          R = C;
          const float alpha = 0.75f, beta = threads % 2 ? 0.f : 0.5f;
          cpu::gemm(ta, tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          cpu::gemm_reference(ta, tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, R.data(), ldc);
          double worst = 0;
          for (int64_t i = 0; i < c.M; ++i)
            for (int64_t j = 0; j < ldc; ++j) {
              const double d = std::abs(double(C[i * ldc + j]) - R[i * ldc + j]);
              if (j >= c.N) {
                ASSERT_EQ(d, 0.0) << "wrote past N in the ldc padding";
              }
              worst = std::max(worst, d);
            }
          EXPECT_LT(worst, 2e-4 * std::sqrt(double(c.K))) << threads << " threads, " << c.M << "x" << c.N << "x"
                                                          << c.K << " ta=" << ta << " tb=" << tb;
          // the same product with a bias row added by each tile
          std::vector<float> bias(c.N), CB(C.size(), 7.f), RB(C.size(), 7.f);
          for (float& x : bias) x = u(rng);
          cpu::gemm_bias(ta, tb, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, bias.data(), CB.data(), ldc);
          for (int64_t i = 0; i < c.M; ++i) std::copy(bias.begin(), bias.end(), RB.begin() + i * ldc);
          cpu::gemm_reference(ta, tb, c.M, c.N, c.K, 1.f, A.data(), lda, B.data(), ldb, 1.f, RB.data(), ldc);
          double worst_b = 0;
          for (size_t q = 0; q < CB.size(); ++q) worst_b = std::max(worst_b, std::abs(double(CB[q]) - RB[q]));
          EXPECT_LT(worst_b, 2e-4 * std::sqrt(double(c.K))) << "gemm_bias " << threads << " threads, " << c.M << "x"
                                                           << c.N << "x" << c.K << " ta=" << ta << " tb=" << tb;
        }
  }
}

// The transposed uint8 conversion (A^T for the library's NN product) against a plain loop: whole 16x16 tiles,
// edges in both dims, and a leading dimension wider than the row.
TEST(Parallel, TransposedU8ConversionEqualsTheLoop) {
  std::mt19937 rng(5);
  for (auto [rows, cols, lds] : {std::array<int64_t, 3>{1, 1, 1}, {16, 16, 16}, {17, 65, 70}, {32, 784, 784},
                                 {45, 99, 100}, {64, 130, 131}, {5, 40, 40}}) {
    std::vector<uint8_t> src(rows * lds);
    for (auto& b : src) b = uint8_t(rng());
    std::vector<float> dst(rows * cols, -1.f);
    cpu::u8_to_f32_affine_transposed_serial(src.data(), rows, cols, lds, dst.data(), 0.5f, -3.f);
    int bad = 0;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) bad += dst[j * rows + i] != float(src[i * lds + j]) * 0.5f - 3.f;
    EXPECT_EQ(bad, 0) << rows << "x" << cols << " lds " << lds;
  }
}

// gemm_ex's extras against the reference loop on the same tiling paths: uint8 operands (A or B, each tile
// converting its own copy), the ReLU epilogue (NaN kept, as torch.relu), and A read through a ReLU mask with the
// row sums of the masked op(A) (a first layer's bias gradient).
TEST(Parallel, GemmExtrasEqualTheReference) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  std::uniform_int_distribution<int> byte(0, 255);
  struct Case {
    int64_t M, N, K;
  };
  // (32 and 45 rows, B transposed: a uint8 A goes to the library as A^T)
  const Case cases[] = {{32, 128, 784}, {128, 784, 32}, {1, 512, 1024}, {3, 300, 900}, {200, 40, 300}, {45, 70, 99}};
  const float scale = 1.f / 255, offset = -0.25f;
  for (int threads : {1, 2, 3}) {
    ThreadsGuard g(threads);
    for (const Case& c : cases)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
          const int64_t lda = (ta ? c.M : c.K) + 3, ldb = (tb ? c.K : c.N) + 5, ldc = c.N + 2;
          const int64_t na = (ta ? c.K : c.M) * lda, nb = (tb ? c.N : c.K) * ldb;
          std::vector<uint8_t> Au(na), Bu(nb);
          std::vector<float> A(na), B(nb), Af(na), Bf(nb), mask(na), bias(c.N);
          for (int64_t i = 0; i < na; ++i) {
            Au[i] = uint8_t(byte(rng)), Af[i] = Au[i] * scale + offset, A[i] = u(rng);
            mask[i] = i % 3 == 0 ? 0.f : u(rng);  // zeros, negatives and positives
          }
          for (int64_t i = 0; i < nb; ++i) Bu[i] = uint8_t(byte(rng)), Bf[i] = Bu[i] * scale + offset, B[i] = u(rng);
          for (float& x : bias) x = u(rng);
          const std::string what = std::to_string(threads) + " threads, " + std::to_string(c.M) + "x" +
                                   std::to_string(c.N) + "x" + std::to_string(c.K) + " ta=" + std::to_string(ta) +
                                   " tb=" + std::to_string(tb);
          auto worst = [&](const std::vector<float>& X, const std::vector<float>& Y) {
            double w = 0;
            for (size_t q = 0; q < X.size(); ++q) {
              if (std::isnan(X[q]) != std::isnan(Y[q])) return 1e30;
              if (!std::isnan(X[q])) w = std::max(w, std::abs(double(X[q]) - Y[q]));
            }
            return w;
          };
          const double tol = 2e-4 * std::sqrt(double(c.K));
          // uint8 A (the same conversion the tag lets a later call skip) and uint8 B, with bias and ReLU
          const cpu::U8Operand ua{Au.data(), scale, offset, cpu::new_u8_operand_tag()}, ub{Bu.data(), scale, offset};
          std::vector<float> C(c.M * ldc, 3.f), R(c.M * ldc, 3.f);
          for (int rep = 0; rep < 2; ++rep) {  // rep 1: the tagged conversion is reused
            cpu::gemm_ex(ta, tb, c.M, c.N, c.K, 1.f, nullptr, lda, B.data(), ldb, 0.f, C.data(), ldc,
                         {.bias = bias.data(), .relu = true, .a_u8 = &ua});
            for (int64_t i = 0; i < c.M; ++i) std::copy(bias.begin(), bias.end(), R.begin() + i * ldc);
            cpu::gemm_reference(ta, tb, c.M, c.N, c.K, 1.f, Af.data(), lda, B.data(), ldb, 1.f, R.data(), ldc);
            for (int64_t i = 0; i < c.M; ++i)
              for (int64_t j = 0; j < c.N; ++j) R[i * ldc + j] = std::max(R[i * ldc + j], 0.f);
            EXPECT_LT(worst(C, R), tol) << "u8 A, bias, relu, rep " << rep << ", " << what;
          }
          // then the same tagged operand as B of a product that needs it untransposed (a layer's dW = g^T x)
          std::vector<float> G(c.M * c.N), D(c.N * c.K), RD(c.N * c.K);
          for (float& x : G) x = u(rng);
          if (!ta) {
            cpu::gemm_ex(true, false, c.N, c.K, c.M, 1.f, G.data(), c.N, nullptr, lda, 0.f, D.data(), c.K,
                         {.b_u8 = &ua});
            cpu::gemm_reference(true, false, c.N, c.K, c.M, 1.f, G.data(), c.N, Af.data(), lda, 0.f, RD.data(), c.K);
            EXPECT_LT(worst(D, RD), 2e-4 * std::sqrt(double(c.M))) << "tagged u8 A reused as B, " << what;
          }
          std::fill(C.begin(), C.end(), 3.f), std::fill(R.begin(), R.end(), 3.f);
          cpu::gemm_ex(ta, tb, c.M, c.N, c.K, 0.5f, A.data(), lda, nullptr, ldb, 0.25f, C.data(), ldc, {.b_u8 = &ub});
          cpu::gemm_reference(ta, tb, c.M, c.N, c.K, 0.5f, A.data(), lda, Bf.data(), ldb, 0.25f, R.data(), ldc);
          EXPECT_LT(worst(C, R), tol) << "u8 B, " << what;
          // A through a ReLU mask, with the row sums of the masked op(A)
          std::vector<float> Am(na), sums(c.M, 9.f), rsums(c.M, 0.f);
          for (int64_t i = 0; i < na; ++i) Am[i] = mask[i] > 0.f ? A[i] : 0.f;
          for (int64_t i = 0; i < c.M; ++i)
            for (int64_t k = 0; k < c.K; ++k) rsums[i] += ta ? Am[k * lda + i] : Am[i * lda + k];
          std::fill(C.begin(), C.end(), 3.f), std::fill(R.begin(), R.end(), 3.f);
          cpu::gemm_ex(ta, tb, c.M, c.N, c.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), ldc,
                       {.a_relu_mask = mask.data(), .a_row_sums = sums.data()});
          cpu::gemm_reference(ta, tb, c.M, c.N, c.K, 1.f, Am.data(), lda, B.data(), ldb, 0.f, R.data(), ldc);
          EXPECT_LT(worst(C, R), tol) << "masked A, " << what;
          EXPECT_LT(worst(sums, rsums), 1e-4 * std::sqrt(double(c.K))) << "row sums, " << what;
        }
  }
  // the ReLU epilogue keeps NaN (torch.relu(nan) is nan) and zeroes negatives, on the C^T path and the plain one
  for (int tb = 0; tb < 2; ++tb) {
    std::vector<float> A{1.f, 0.f, 0.f, 1.f}, B{-2.f, 3.f, 4.f, -5.f}, bias{NAN, 0.f}, C(4);
    cpu::gemm_ex(false, tb, 2, 2, 2, 1.f, A.data(), 2, B.data(), 2, 0.f, C.data(), 2,
                 {.bias = bias.data(), .relu = true});
    EXPECT_TRUE(std::isnan(C[0]) && std::isnan(C[2])) << tb;
    EXPECT_GT(C[1], 0.f) << tb;
    EXPECT_EQ(C[3], 0.f) << tb;
  }
}
