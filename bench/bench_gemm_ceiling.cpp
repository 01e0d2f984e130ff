// The GEMM ceiling of one GPT training step (bench/gpt.sh's configuration: batch 32 x context 128 tokens, 4 layers
// of width 256, feed-forward 1024, the tied output head over the vocabulary): every Linear's forward, grad-input
// and grad-weight product, with the transposes nerve's linear issues (src/ops/linalg.cpp), timed four ways:
//   nerve    cpu::gemm as the step runs it: shape-only tiles of dnnl_sgemm on nerve's pool (thread-count
//            independent results)
//   sgemm    one dnnl_sgemm call threaded by oneDNN itself (OpenMP, `threads` threads)
//   matmul   oneDNN's matmul primitive (created once, strided memory as the step holds it), oneDNN-threaded
//   mm/tile  the matmul primitive on nerve's tiles (the same tiles as `nerve`, one thread per tile): what nerve
//            would get by swapping the library call while keeping its deterministic tiling
// Each row prints GFLOP/s and the share of the machine's FMA peak (bench/fma_peak.h, the figure bench_fma_peak
// prints); the last lines weight every shape by its count in the step: the whole step's GEMM time at each path's
// speed and the share of peak that the GEMMs alone reach. Results of every path are checked against each other.
//   bench_gemm_ceiling [threads=2] [reps=20] [vocab=114] [tokens=4096]
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/gemm.h"
#include "fma_peak.h"

using namespace nerve;
using Clock = std::chrono::steady_clock;

namespace {

int g_reps = 20;

// best of 3 means of g_reps calls, in seconds
double time_s(const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    auto t0 = Clock::now();
    for (int i = 0; i < g_reps; ++i) f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / g_reps);
  }
  return best;
}

struct Shape3 {
  std::string name;
  bool ta, tb;
  int64_t M, N, K;
  int count;  // how many times one training step runs it
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// oneDNN's matmul for C (M, N) = op(A) op(B) with row strides lda, ldb, ldc (no packing: the operands stay where the
// step holds them, as the weights change every step)
struct Matmul {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c;
  Matmul(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
    using dt = dnnl::memory::data_type;
    a = dnnl::memory::desc({M, K}, dt::f32, ta ? dnnl::memory::dims{1, lda} : dnnl::memory::dims{lda, 1});
    b = dnnl::memory::desc({K, N}, dt::f32, tb ? dnnl::memory::dims{1, ldb} : dnnl::memory::dims{ldb, 1});
    c = dnnl::memory::desc({M, N}, dt::f32, dnnl::memory::dims{ldc, 1});
    prim = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), engine()));
  }
  void run(const float* A, const float* B, float* C) {
    dnnl::stream s(engine());
    dnnl::memory ma(a, engine(), const_cast<float*>(A)), mb(b, engine(), const_cast<float*>(B)), mc(c, engine(), C);
    prim.execute(s, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    s.wait();
  }
};

// nerve's tiling of gemm_f32 (src/backend/cpu/gemm.cpp) for a plain product: up to 8 tiles of >= 2^19
// multiply-adds, split along the largest operand
struct Tiling {
  int64_t pm = 1, pn = 1;
};
Tiling nerve_tiling(int64_t M, int64_t N, int64_t K) {
  const int64_t work = std::max(M * N * K, 16 * std::max({M * K, K * N, M * N}));
  const int64_t tiles = std::min<int64_t>(8, work / (int64_t{1} << 19));
  const bool by_cols = K * N >= M * K && K * N >= M * N;
  Tiling t;
  for (int64_t f = tiles; f >= 1 && tiles > 1; --f) {
    if (tiles % f) continue;
    const int64_t a = by_cols ? tiles / f : f, b = tiles / a;
    if ((a == 1 || M / a >= 8) && (b == 1 || N / b >= 16)) {
      t.pm = a, t.pn = b;
      break;
    }
  }
  return t;
}
int64_t split_edge(int64_t n, int64_t parts, int64_t align, int64_t i) {
  return i >= parts ? n : std::min(n, (n * i / parts + align / 2) / align * align);
}

double max_rel_diff(const std::vector<float>& x, const std::vector<float>& y) {
  double m = 0, scale = 1e-30;
  for (size_t i = 0; i < x.size(); ++i) {
    m = std::max(m, double(std::fabs(x[i] - y[i])));
    scale = std::max(scale, double(std::fabs(y[i])));
  }
  return m / scale;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  g_reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  const int64_t V = argc > 3 ? std::atoll(argv[3]) : 114;  // the fortunes corpus's distinct bytes (char tokens)
  const int64_t Ntok = argc > 4 ? std::atoll(argv[4]) : 32 * 128;
  const int64_t C = 256, F = 1024, L = 4;
  set_num_threads(threads);
  const double peak = fma_peak::best_gflops(threads);

  // every Linear y = x W^T (+ b) of the step: forward NT (Ntok, out, in), grad-input NN (Ntok, in, out),
  // grad-weight TN (out, in, Ntok)
  std::vector<Shape3> shapes;
  auto linear = [&](const std::string& name, int64_t in, int64_t out, int count) {
    shapes.push_back({name + " fwd", false, true, Ntok, out, in, count});
    shapes.push_back({name + " dX", false, false, Ntok, in, out, count});
    shapes.push_back({name + " dW", true, false, out, in, Ntok, count});
  };
  linear("attn_qkv", C, 3 * C, int(L));
  linear("attn_proj", C, C, int(L));
  linear("mlp_fc", C, F, int(L));
  linear("mlp_proj", F, C, int(L));
  linear("head", C, V, 1);

  std::printf("# GEMMs of one GPT training step: %lld tokens, width %lld, ff %lld, %lld layers, vocab %lld; "
              "%d threads, FMA peak %.1f GFLOP/s; load %s\n",
              (long long)Ntok, (long long)C, (long long)F, (long long)L, (long long)V, threads, peak, [] {
                static char buf[64] = "?";
                if (FILE* f = std::fopen("/proc/loadavg", "r")) {
                  if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
                  std::fclose(f);
                  for (char* p = buf; *p; ++p)
                    if (*p == '\n') *p = 0;
                }
                return buf;
              }());
  std::printf("%-16s %2s %5s %5s %5s %5s | GFLOP/s (%% of peak): %-13s %-13s %-13s %-13s\n", "product", "op", "M",
              "N", "K", "tiles", "nerve", "sgemm", "matmul", "mm/tile");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  double t_nerve = 0, t_sgemm = 0, t_matmul = 0, t_tile = 0, t_best = 0, flops_step = 0;
  for (const Shape3& s : shapes) {
    const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N, ldc = s.N;
    std::vector<float> A(size_t(s.M * s.K)), B(size_t(s.K * s.N)), c0(size_t(s.M * s.N)), c1(c0), c2(c0), c3(c0);
    for (auto& x : A) x = u(rng);
    for (auto& x : B) x = u(rng);
    const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);

    omp_set_num_threads(1);  // nerve's path: the library single-threaded on each of nerve's threads
    const double tn = time_s([&] {
      cpu::gemm(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, c0.data(), ldc);
    });
    omp_set_num_threads(threads);
    const double ts = time_s([&] {
      dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f,
                 c1.data(), ldc);
    });
    Matmul mm(s.ta, s.tb, s.M, s.N, s.K, lda, ldb, ldc);
    const double tm = time_s([&] { mm.run(A.data(), B.data(), c2.data()); });
    omp_set_num_threads(1);
    // the matmul primitive on nerve's tiles, one primitive per tile shape, each tile on one of nerve's threads
    const Tiling tl = nerve_tiling(s.M, s.N, s.K);
    std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Matmul>> prims;
    for (int64_t i = 0; i < tl.pm; ++i)
      for (int64_t j = 0; j < tl.pn; ++j) {
        const int64_t mt = split_edge(s.M, tl.pm, 8, i + 1) - split_edge(s.M, tl.pm, 8, i);
        const int64_t nt = split_edge(s.N, tl.pn, 16, j + 1) - split_edge(s.N, tl.pn, 16, j);
        auto& p = prims[{mt, nt}];
        if (!p && mt > 0 && nt > 0) p = std::make_unique<Matmul>(s.ta, s.tb, mt, nt, s.K, lda, ldb, ldc);
      }
    const double tt = time_s([&] {
      parallel_chunks(tl.pm * tl.pn, [&](int64_t t) {
        thread_local bool single = [] {
          omp_set_num_threads(1);
          return true;
        }();
        (void)single;
        const int64_t i = t / tl.pn, j = t % tl.pn;
        const int64_t m0 = split_edge(s.M, tl.pm, 8, i), m1 = split_edge(s.M, tl.pm, 8, i + 1);
        const int64_t n0 = split_edge(s.N, tl.pn, 16, j), n1 = split_edge(s.N, tl.pn, 16, j + 1);
        if (m0 >= m1 || n0 >= n1) return;
        const float* a = s.ta ? A.data() + m0 : A.data() + m0 * lda;
        const float* b = s.tb ? B.data() + n0 * ldb : B.data() + n0;
        prims[{m1 - m0, n1 - n0}]->run(a, b, c3.data() + m0 * ldc + n0);
      });
    });
    const double d = std::max({max_rel_diff(c1, c0), max_rel_diff(c2, c0), max_rel_diff(c3, c0)});
    auto cell = [&](double t) {
      static char buf[4][32];
      static int k = 0;
      char* b = buf[k++ % 4];
      std::snprintf(b, 32, "%6.1f (%3.0f%%)", flops / t / 1e9, 100.0 * flops / t / 1e9 / peak);
      return b;
    };
    std::printf("%-16s %c%c %5lld %5lld %5lld %2lldx%-2lld | %s %s %s %s%s\n", s.name.c_str(), s.ta ? 'T' : 'N',
                s.tb ? 'T' : 'N', (long long)s.M, (long long)s.N, (long long)s.K, (long long)tl.pm,
                (long long)tl.pn, cell(tn), cell(ts), cell(tm), cell(tt), d > 1e-4 ? "  RESULTS DIFFER" : "");
    t_nerve += s.count * tn, t_sgemm += s.count * ts, t_matmul += s.count * tm, t_tile += s.count * tt;
    t_best += s.count * std::min({tn, ts, tm, tt});
    flops_step += s.count * flops;
  }
  std::printf("# one step's GEMMs: %.2f GFLOP (%.2f MFLOP per token)\n", flops_step / 1e9,
              flops_step / 1e6 / double(Ntok));
  auto total = [&](const char* name, double t) {
    std::printf("# %-28s %7.1f ms per step  %6.1f GFLOP/s  %5.1f%% of peak  %9.0f tokens/s if the step were "
                "only these GEMMs\n",
                name, 1e3 * t, flops_step / t / 1e9, 100.0 * flops_step / t / 1e9 / peak, double(Ntok) / t);
  };
  total("nerve (cpu::gemm)", t_nerve);
  total("sgemm, oneDNN-threaded", t_sgemm);
  total("matmul, oneDNN-threaded", t_matmul);
  total("matmul on nerve's tiles", t_tile);
  total("best path for each shape", t_best);
  return 0;
}
