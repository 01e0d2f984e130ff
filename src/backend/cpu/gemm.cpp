// GEMM: f32 through oneDNN's dnnl_sgemm (chosen by bench/gemm_libs.sh), f64 through a simple blocked loop
// (f64 is only used for exact gradient checks on tiny tensors).
#include "backend/cpu/gemm.h"

#include <dnnl.h>
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/cpu/convert.h"
#include "nerve/core/error.h"
#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {
// multiply-adds per tile below which a GEMM is not split further (a pool round trip costs ~1 us)
constexpr int64_t kMinTileMacs = int64_t{1} << 19;
// Tiles per product at most. The tiles depend on the product's shape only, never on the thread count: the GEMM
// library's result for an element depends on the tile it is computed in (its blocking of the rows of a call), so
// a tiling that followed the thread count would change results with it. Threads take the tiles as chunks.
constexpr int64_t kMaxTiles = 8;

// The GEMM library runs on the thread that calls it: nerve splits the product into tiles on its own pool.
void gemm_library_single_threaded() {
  thread_local bool done = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)done;
}

// bias (N) or null: C = alpha op(A) op(B) + bias in every row (beta is then ignored)
void sgemm_tile(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias = nullptr) {
  gemm_library_single_threaded();
  if (bias) {
    for (int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, C + i * ldc);
    beta = 1.f;
  }
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  NERVE_ASSERT(st == dnnl_success, "dnnl_sgemm failed with status ", int(st), " (", ta ? "T" : "N", tb ? "T" : "N", " M=", M,
               " N=", N, " K=", K, " lda=", lda, " ldb=", ldb, " ldc=", ldc, ")");
}

// Start of part i of n split into `parts`, rounded to `align`.
int64_t split_edge(int64_t n, int64_t parts, int64_t align, int64_t i) {
  return i >= parts ? n : std::min(n, (n * i / parts + align / 2) / align * align);
}

template <class T>
void gemm_loop(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
               int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : c[j] * beta;
    for (int64_t k = 0; k < K; ++k) {
      T a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
      if (a == T(0)) continue;
      if (!tb) {
        const T* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
      }
    }
  }
}
}  // namespace

uint64_t new_u8_operand_tag() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

namespace {
// max(x, 0) over a block of C; NaN stays NaN, as torch.relu
void relu_block(float* C, int64_t rows, int64_t cols, int64_t ldc) {
  for (int64_t i = 0; i < rows; ++i) {
    float* c = C + i * ldc;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) c[j] = c[j] < 0.f ? 0.f : c[j];
  }
}

// The float copy of a uint8 operand of `n` elements, in a buffer of the calling thread (valid until its next call);
// transposed: the operand is (rows, cols) with leading dim ld, and the copy is its (cols, rows) transpose.
struct U8Layout {
  bool transposed = false;
  int64_t rows = 0, cols = 0, ld = 0;
};
const float* materialize(const U8Operand* u, int64_t n, int slot, U8Layout t = {}) {
  struct Held {
    std::vector<float> buf;
    uint64_t tag = 0;
    int64_t n = 0;
    bool transposed = false;
  };
  thread_local Held held[2];
  Held& h = held[slot];
  if (u->tag != 0 && h.tag == u->tag && h.n == n && h.transposed == t.transposed) return h.buf.data();
  const int64_t size = t.transposed ? t.rows * t.cols : n;
  if (h.buf.size() < size_t(size)) h.buf.resize(size);
  if (t.transposed)
    u8_to_f32_affine_transposed_serial(u->data, t.rows, t.cols, t.ld, h.buf.data(), u->scale, u->offset);
  else
    u8_to_f32_affine_serial(u->data, h.buf.data(), n, u->scale, u->offset);
  h.tag = u->tag;
  h.n = n;
  h.transposed = t.transposed;
  return h.buf.data();
}

// The tiles of a product: pm row parts x pn column parts (see gemm_f32). Work counts the multiply-adds and, for
// products too thin to reuse their operands (a GEMV at batch 1), ~16 per element of the largest operand: reading a
// weight from memory is what such a product waits on.
std::pair<int64_t, int64_t> tile_grid(int64_t M, int64_t N, int64_t K) {
  const int64_t work = std::max(M * N * K, 16 * std::max({M * K, K * N, M * N}));
  const int64_t tiles = std::min<int64_t>(kMaxTiles, work / kMinTileMacs);
  const bool by_cols = K * N >= M * K && K * N >= M * N;
  for (int64_t f = tiles; f >= 1 && tiles > 1; --f) {
    if (tiles % f) continue;
    const int64_t a = by_cols ? tiles / f : f, b = tiles / a;
    if ((a == 1 || M / a >= 8) && (b == 1 || N / b >= 16)) return {a, b};
  }
  return {1, 1};
}

void gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmExtra& ex) {
  if (M == 0 || N == 0) return;
  const float* bias = ex.bias;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = bias ? bias[j] : beta == 0.f ? 0.f : C[i * ldc + j] * beta;
    if (ex.relu) relu_block(C, M, N, ldc);
    if (ex.a_row_sums) std::fill(ex.a_row_sums, ex.a_row_sums + M, 0.f);
    return;
  }
  // uint8 operands: each tile converts the whole operand (cheap next to the product) on its own thread
  const int64_t a_size = (ta ? K : M) * lda, b_size = (tb ? N : K) * ldb;
  auto operands = [&]() -> std::pair<const float*, const float*> {
    return {ex.a_u8 ? materialize(ex.a_u8, a_size, 0) : A,
            ex.b_u8 ? materialize(ex.b_u8, b_size, ex.a_u8 ? 1 : 0) : B};
  };
  // Tiles: up to kMaxTiles while each keeps kMinTileMacs (never the thread count: see kMaxTiles), split so that each
  // thread owns a slice of the largest operand. The pool gives each thread the same contiguous range of tiles in
  // every call, so when B is a weight (the largest operand of a forward
  // product) each core reads only its rows of it, and the optimizer's split of the same tensor updates the same
  // rows on the same core: measured, the MLP's Adam step took 56 us with W shared by both cores and 20 us owned.
  // Otherwise rows (bench/bench_gemm_split.cpp: as fast or faster than columns on every MLP, LSTM and square shape), in
  // multiples of 8; columns in multiples of 16.
  const auto [pm, pn] = tile_grid(M, N, K);
  const bool serial = pm * pn <= 1;  // (inside a parallel region the tiles run inline, one after the other)
  const bool mask_a = ex.a_relu_mask || ex.a_row_sums;
  // B transposed (an (N, K) weight) and few rows of A: the library is faster on the transposed product
  // C^T = B op(A)^T than on C directly, up to 2.6x for a small layer (32x10x128: 1.09 vs 2.85 us) and 1.5x for
  // column tiles (bench/bench_gemm_split.cpp); C^T is small here, so it goes through a per-thread buffer.
  if (pm == 1 && tb && !mask_a && (pn > 1 || (M >= 2 && M <= 256))) {
    auto tile = [&](int64_t j) {
      const int64_t n0 = split_edge(N, pn, 16, j), n1 = split_edge(N, pn, 16, j + 1), w = n1 - n0;
      if (w <= 0) return;
      thread_local std::vector<float> buf;
      if (buf.size() < size_t(w * M)) buf.resize(w * M);
      if (ex.a_u8 && !ta && M >= 16 && M <= 64) {
        // a uint8 A (M, K) of a batch of 16 to 64 rows is converted straight into A^T (K, M), for the library's
        // NN product: the MNIST layer's tile (64 x M x 784) in 37 vs 46 us at M = 32, 70 vs 90 us at M = 64, for
        // ~2 us more conversion and ~2-4 us more in the backward, which needs A itself (bench_mlp_step: batch 32
        // forward 38 vs 46 us, batch 64 80-84 vs 94-106 us; no gain at M = 128)
        const float* at = materialize(ex.a_u8, a_size, 0, {.transposed = true, .rows = M, .cols = K, .ld = lda});
        const float* b = ex.b_u8 ? materialize(ex.b_u8, b_size, 1) : B;
        sgemm_tile(false, false, w, M, K, 1.f, b + n0 * ldb, ldb, at, M, 0.f, buf.data(), M);
      } else {
        auto [a, b] = operands();
        sgemm_tile(false, !ta, w, M, K, 1.f, b + n0 * ldb, ldb, a, lda, 0.f, buf.data(), M);
      }
      for (int64_t i = 0; i < M; ++i) {
        float* c = C + i * ldc + n0;
        if (bias)
          for (int64_t q = 0; q < w; ++q) c[q] = alpha * buf[q * M + i] + bias[n0 + q];
        else if (beta == 0.f)
          for (int64_t q = 0; q < w; ++q) c[q] = alpha * buf[q * M + i];
        else
          for (int64_t q = 0; q < w; ++q) c[q] = alpha * buf[q * M + i] + beta * c[q];
      }
      if (ex.relu) relu_block(C + n0, M, w, ldc);
    };
    if (pn == 1)
      tile(0);
    else
      parallel_chunks(pn, tile);
    return;
  }
  // rows [m0, m1) of op(A), masked, in a buffer of this thread ((K, m1 - m0) if ta, else (m1 - m0, K)); the
  // row sums written by column tile 0 only
  auto masked_rows = [&](const float* a, int64_t m0, int64_t m1, bool sums) -> const float* {
    const int64_t mt = m1 - m0;
    thread_local std::vector<float> mbuf;
    if (mbuf.size() < size_t(mt * K)) mbuf.resize(mt * K);
    float* dst = mbuf.data();
    const float* mk = ex.a_relu_mask;
    if (ta) {
      for (int64_t k = 0; k < K; ++k) {
        const float *src = a + k * lda + m0, *msk = mk ? mk + k * lda + m0 : nullptr;
        float* d = dst + k * mt;
        if (msk)
#pragma omp simd
          for (int64_t q = 0; q < mt; ++q) {
            const float v = src[q];  // read unconditionally: the select then vectorizes without branches
            d[q] = msk[q] > 0.f ? v : 0.f;
          }
        else
          std::copy(src, src + mt, d);
      }
      if (sums) {
        float* rs = ex.a_row_sums + m0;
        std::fill(rs, rs + mt, 0.f);
        for (int64_t k = 0; k < K; ++k)
          for (int64_t q = 0; q < mt; ++q) rs[q] += dst[k * mt + q];
      }
    } else {
      for (int64_t i = 0; i < mt; ++i) {
        const float *src = a + (m0 + i) * lda, *msk = mk ? mk + (m0 + i) * lda : nullptr;
        float* d = dst + i * K;
        if (msk)
#pragma omp simd
          for (int64_t k = 0; k < K; ++k) {
            const float v = src[k];
            d[k] = msk[k] > 0.f ? v : 0.f;
          }
        else
          std::copy(src, src + K, d);
        if (sums) {
          float acc = 0.f;
          for (int64_t k = 0; k < K; ++k) acc += d[k];
          ex.a_row_sums[m0 + i] = acc;
        }
      }
    }
    return dst;
  };
  if (serial) {
    auto [a, b] = operands();
    int64_t la = lda;
    if (mask_a) {
      a = masked_rows(a, 0, M, ex.a_row_sums != nullptr);
      la = ta ? M : K;
    }
    sgemm_tile(ta, tb, M, N, K, alpha, a, la, b, ldb, beta, C, ldc, bias);
    if (ex.relu) relu_block(C, M, N, ldc);
    return;
  }
  parallel_chunks(pm * pn, [&](int64_t t) {
    const int64_t i = t / pn, j = t % pn;
    const int64_t m0 = split_edge(M, pm, 8, i), m1 = split_edge(M, pm, 8, i + 1);
    const int64_t n0 = split_edge(N, pn, 16, j), n1 = split_edge(N, pn, 16, j + 1);
    if (m0 >= m1 || n0 >= n1) return;
    auto [pa, pb] = operands();
    const float* a = ta ? pa + m0 : pa + m0 * lda;
    int64_t la = lda;
    if (mask_a) {
      a = masked_rows(pa, m0, m1, ex.a_row_sums != nullptr && j == 0);
      la = ta ? m1 - m0 : K;
    }
    const float* b = tb ? pb + n0 * ldb : pb + n0;
    sgemm_tile(ta, tb, m1 - m0, n1 - n0, K, alpha, a, la, b, ldb, beta, C + m0 * ldc + n0, ldc,
               bias ? bias + n0 : nullptr);
    if (ex.relu) relu_block(C + m0 * ldc + n0, m1 - m0, n1 - n0, ldc);
  });
}
}  // namespace

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, GemmExtra{});
}

void gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmExtra& extra) {
  gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, extra);
}

void gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
               int64_t ldb, const float* bias, float* C, int64_t ldc) {
  gemm_f32(ta, tb, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc, GemmExtra{.bias = bias});
}

void gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
               int64_t ldb, const double* bias, double* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, C + i * ldc);
  gemm_loop(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 1.0, C, ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_loop(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// ------------------------------------------------------------------ bf16
namespace {

dnnl::engine& bf16_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// One tile shape's bf16 matmul primitive: (m, k) bf16 with A's strides times (k, n) bf16 with B's into (m, n) f32
// contiguous, made for one thread, with a scratchpad of the running thread's
struct Bf16Tile {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c, scratch;
  std::string impl;
};
struct Bf16Key {
  int64_t m, n, k, lda, ldb;
  bool ta, tb;
  auto operator<=>(const Bf16Key&) const = default;
};

// The primitive for a tile shape, from a bounded cache; null when oneDNN has no bf16 matmul on this CPU (it needs
// AVX-512). Made on the calling thread, single-threaded, before the tiles run (oneDNN sizes a primitive's work
// split by the threads of the thread that makes it).
std::atomic<bool> g_bf16_fallback{false};

std::shared_ptr<const Bf16Tile> bf16_tile(const Bf16Key& key) {
  if (g_bf16_fallback.load(std::memory_order_relaxed)) return nullptr;
  static std::mutex mu;
  static std::map<Bf16Key, std::shared_ptr<const Bf16Tile>> cache;
  static bool unsupported = false;
  std::lock_guard<std::mutex> lock(mu);
  if (unsupported) return nullptr;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  gemm_library_single_threaded();
  using dnnl::memory;
  using dt = memory::data_type;
  auto t = std::make_shared<Bf16Tile>();
  t->a = memory::desc({key.m, key.k}, dt::bf16, key.ta ? memory::dims{1, key.lda} : memory::dims{key.lda, 1});
  t->b = memory::desc({key.k, key.n}, dt::bf16, key.tb ? memory::dims{1, key.ldb} : memory::dims{key.ldb, 1});
  t->c = memory::desc({key.m, key.n}, dt::f32, memory::dims{key.n, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  try {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(t->a, t->b, t->c), attr, bf16_engine());
    t->prim = dnnl::matmul(pd);
    t->scratch = pd.scratchpad_desc();
    t->impl = pd.impl_info_str();
  } catch (const dnnl::error&) {  // no bf16 matmul on this CPU (dnnl_unimplemented): the f32 fallback, always
    unsupported = true;
    return nullptr;
  }
  if (cache.size() >= 256) cache.clear();
  cache.emplace(key, t);
  return t;
}

// buf (m, n) f32 = op(A) op(B) for one tile, through the primitive or, without one, widened to f32 for sgemm
void bf16_tile_product(const Bf16Tile* t, bool ta, bool tb, int64_t m, int64_t n, int64_t K, const uint16_t* A,
                       int64_t lda, const uint16_t* B, int64_t ldb, float* buf) {
  if (t) {
    thread_local dnnl::stream stream(bf16_engine());
    thread_local std::vector<char> scratch;
    if (scratch.size() < t->scratch.get_size()) scratch.resize(t->scratch.get_size());
    using dnnl::memory;
    t->prim.execute(stream, {{DNNL_ARG_SRC, memory(t->a, bf16_engine(), const_cast<uint16_t*>(A))},
                             {DNNL_ARG_WEIGHTS, memory(t->b, bf16_engine(), const_cast<uint16_t*>(B))},
                             {DNNL_ARG_DST, memory(t->c, bf16_engine(), buf)},
                             {DNNL_ARG_SCRATCHPAD, memory(t->scratch, bf16_engine(), scratch.data())}});
    stream.wait();
    return;
  }
  // op(A) (m, K) and op(B) (K, n) widened into row-major f32 copies (exact), then the f32 GEMM
  thread_local std::vector<float> wa, wb;
  wa.resize(m * K);
  wb.resize(K * n);
  for (int64_t i = 0; i < m; ++i)
    if (!ta)
      bf16_to_f32_serial(A + i * lda, wa.data() + i * K, K);
    else
      for (int64_t k = 0; k < K; ++k) wa[i * K + k] = std::bit_cast<float>(uint32_t(A[k * lda + i]) << 16);
  for (int64_t k = 0; k < K; ++k)
    if (!tb)
      bf16_to_f32_serial(B + k * ldb, wb.data() + k * n, n);
    else
      for (int64_t j = 0; j < n; ++j) wb[k * n + j] = std::bit_cast<float>(uint32_t(B[j * ldb + k]) << 16);
  sgemm_tile(false, false, m, n, K, 1.f, wa.data(), K, wb.data(), n, 0.f, buf, n);
}

}  // namespace

void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const uint16_t* B,
               int64_t ldb, uint16_t* C, int64_t ldc, const float* bias, bool relu) {
  if (M == 0 || N == 0) return;
  const auto [pm, pn] = tile_grid(M, N, K);
  struct Tile {
    int64_t m0, m1, n0, n1;
    std::shared_ptr<const Bf16Tile> prim;
  };
  std::vector<Tile> tiles;
  for (int64_t i = 0; i < pm; ++i)
    for (int64_t j = 0; j < pn; ++j) {
      Tile t{split_edge(M, pm, 8, i), split_edge(M, pm, 8, i + 1), split_edge(N, pn, 16, j),
             split_edge(N, pn, 16, j + 1), nullptr};
      if (t.m0 < t.m1 && t.n0 < t.n1 && K > 0)
        t.prim = bf16_tile({t.m1 - t.m0, t.n1 - t.n0, K, lda, ldb, ta, tb});
      tiles.push_back(std::move(t));
    }
  auto run = [&](int64_t q) {
    const Tile& t = tiles[q];
    const int64_t m = t.m1 - t.m0, n = t.n1 - t.n0;
    if (m <= 0 || n <= 0) return;
    thread_local std::vector<float> buf;
    buf.resize(m * n);
    if (K > 0)
      bf16_tile_product(t.prim.get(), ta, tb, m, n, K, ta ? A + t.m0 : A + t.m0 * lda, lda,
                        tb ? B + t.n0 * ldb : B + t.n0, ldb, buf.data());
    else
      std::fill(buf.begin(), buf.end(), 0.f);
    for (int64_t i = 0; i < m; ++i) {  // bias and ReLU in f32, then one rounding
      float* row = buf.data() + i * n;
      if (bias)
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) row[j] += bias[t.n0 + j];
      if (relu)
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] < 0.f ? 0.f : row[j];  // NaN stays NaN
      f32_to_bf16_serial(row, C + (t.m0 + i) * ldc + t.n0, n);
    }
  };
  if (tiles.size() == 1)
    run(0);
  else
    parallel_chunks(int64_t(tiles.size()), run);
}

void gemm_bf16_force_fallback(bool on) { g_bf16_fallback.store(on); }

const char* gemm_bf16_impl() {
  static const std::string impl = [] {
    auto t = bf16_tile({64, 64, 64, 64, 64, false, false});
    return t ? t->impl : std::string("f32 fallback");
  }();
  return impl.c_str();
}

void gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_loop(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace nerve::cpu
