// Fused attention, FlashAttention-2 on the CPU (Dao 2023, Algorithms 1 and 2): the scores of one tile of query rows
// and key columns at a time, products by the project GEMM, the softmax kept online (row max m, row sum l), and the
// backward recomputing each tile's probabilities from q, k and the saved log-sum-exp, with D = rowsum(dO * O).
#include "backend/cpu/attention_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/gemm.h"
#include "nerve/core/parallel.h"
#include "nerve/core/rng.h"

namespace nerve::cpu {

namespace {

constexpr int64_t kBr = 64;  // query rows per tile
constexpr int64_t kBc = 64;  // key columns per tile

// e^x, 0 for x = -inf (and below e^-87, under FLT_MIN, for f32)
inline float exp0(float x) {
  const float e = fast_exp(x);
  return x < -87.0f ? 0.0f : e;
}
inline double exp0(double x) { return std::exp(x); }

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// Whether element (bh, l, s) survives dropout: a SplitMix64 hash of its index and the seed, compared with p.
inline bool kept(uint64_t seed, const int64_t bh, int64_t l, int64_t s, int64_t L, int64_t S, double p) {
  const uint64_t idx = (static_cast<uint64_t>(bh) * static_cast<uint64_t>(L) + static_cast<uint64_t>(l)) *
                           static_cast<uint64_t>(S) + static_cast<uint64_t>(s);
  const double u = static_cast<double>(mix64(seed ^ mix64(idx)) >> 11) * 0x1.0p-53;
  return u >= p;
}

// s: (br, bc) = scale * q_rows k_cols^T, then masked: the causal mask, the bool mask (false -> -inf), the additive
// mask. r0, c0: the tile's first row and column.
template <class T>
void scores_tile(const AttentionArgs<T>& a, int64_t bh, int64_t r0, int64_t br, int64_t c0, int64_t bc, T* s) {
  const T* q = a.q + (bh * a.L + r0) * a.E;
  const T* k = a.k + (bh * a.S + c0) * a.E;
  gemm(false, true, br, bc, a.E, static_cast<T>(a.scale), q, a.E, k, a.E, T(0), s, bc);
  if (a.bool_mask) {
    const bool* m = a.bool_mask + a.mask_off[bh];
    for (int64_t r = 0; r < br; ++r)
      for (int64_t c = 0; c < bc; ++c)
        if (!m[(r0 + r) * a.mask_sl + (c0 + c) * a.mask_ss]) s[r * bc + c] = kNegInf<T>;
  } else if (a.add_mask) {
    const T* m = a.add_mask + a.mask_off[bh];
    for (int64_t r = 0; r < br; ++r)
      for (int64_t c = 0; c < bc; ++c) s[r * bc + c] += m[(r0 + r) * a.mask_sl + (c0 + c) * a.mask_ss];
  }
  if (a.causal)
    for (int64_t r = 0; r < br; ++r)
      for (int64_t c = std::max<int64_t>(r0 + r + 1 - c0, 0); c < bc; ++c) s[r * bc + c] = kNegInf<T>;
}

// With dropout: p (br, bc) times keep / (1 - p_drop), in place.
template <class T>
void drop_tile(const AttentionArgs<T>& a, int64_t bh, int64_t r0, int64_t br, int64_t c0, int64_t bc, T* p) {
  const T inv = a.dropout_p < 1.0 ? static_cast<T>(1.0 / (1.0 - a.dropout_p)) : T(0);  // p = 1: all dropped
  for (int64_t r = 0; r < br; ++r)
    for (int64_t c = 0; c < bc; ++c)
      p[r * bc + c] *= kept(a.dropout_seed, bh, r0 + r, c0 + c, a.L, a.S, a.dropout_p) ? inv : T(0);
}

// Key columns a causal tile of rows [r0, r0 + br) sees: [0, min(S, r0 + br)).
template <class T>
int64_t visible_cols(const AttentionArgs<T>& a, int64_t r0, int64_t br) {
  return a.causal ? std::min(a.S, r0 + br) : a.S;
}

// Forward of the rows [r0, r0 + br) of slice bh.
template <class T>
void forward_rows(const AttentionArgs<T>& a, int64_t bh, int64_t r0, int64_t br, T* out, T* lse) {
  std::vector<T> s(static_cast<size_t>(br * kBc)), m(br, kNegInf<T>), l(br, T(0));
  T* acc = out + (bh * a.L + r0) * a.Ev;  // (br, Ev), the unnormalized output, rescaled as the max grows
  std::fill(acc, acc + br * a.Ev, T(0));
  const int64_t cols = visible_cols(a, r0, br);
  for (int64_t c0 = 0; c0 < cols; c0 += kBc) {
    const int64_t bc = std::min(kBc, cols - c0);
    scores_tile(a, bh, r0, br, c0, bc, s.data());
    for (int64_t r = 0; r < br; ++r) {
      T* row = s.data() + r * bc;
      T mx = m[r];
      for (int64_t c = 0; c < bc; ++c) mx = std::max(mx, row[c]);
      if (mx == kNegInf<T>) {  // every key so far masked: nothing to add
        std::fill(row, row + bc, T(0));
        continue;
      }
      const T alpha = exp0(m[r] - mx);  // 0 when m was -inf
      T sum = 0;
      for (int64_t c = 0; c < bc; ++c) {
        row[c] = exp0(row[c] - mx);
        sum += row[c];
      }
      l[r] = l[r] * alpha + sum;
      m[r] = mx;
      if (alpha != T(1)) {
        T* o = acc + r * a.Ev;
        for (int64_t e = 0; e < a.Ev; ++e) o[e] *= alpha;
      }
    }
    if (a.dropout_p > 0) drop_tile(a, bh, r0, br, c0, bc, s.data());
    gemm(false, false, br, a.Ev, bc, T(1), s.data(), bc, a.v + (bh * a.S + c0) * a.Ev, a.Ev, T(1), acc, a.Ev);
  }
  for (int64_t r = 0; r < br; ++r) {
    T* o = acc + r * a.Ev;
    const T inv = l[r] > T(0) ? T(1) / l[r] : T(0);  // a fully masked row gives 0
    for (int64_t e = 0; e < a.Ev; ++e) o[e] *= inv;
    lse[bh * a.L + r0 + r] = l[r] > T(0) ? m[r] + std::log(l[r]) : std::numeric_limits<T>::infinity();
  }
}

// Whether the backward visits tile (rows from r0, keys from c0): with a causal mask, row blocks wholly above the
// key block see none of its keys. Both schedules below visit the same tiles in the same order per output.
inline bool tile_visible(bool causal, int64_t r0, int64_t c0) { return !causal || r0 >= c0 / kBr * kBr; }

// Scratch of one backward tile.
template <class T>
struct TileBuffers {
  std::vector<T> p = std::vector<T>(static_cast<size_t>(kBr * kBc)), dp = p, pd;
};

// One tile of the backward (FA-2 Algorithm 2): P recomputed from q, k and the log-sum-exp, dS = P * (dP - D).
// With dk and dv (the slice's key block, (bc, E) and (bc, Ev)): dV_j += P^T dO_i, dK_j += s dS^T Q_i, and dS into
// dmask when given; with dq (the slice's rows, (br, E)): dQ_i += s dS K_j. D: the slice's (L) rowsum(dO * O).
template <class T>
void backward_tile(const AttentionArgs<T>& a, int64_t bh, int64_t r0, int64_t br, int64_t c0, int64_t bc,
                   const T* lse, const T* D, const T* dout, TileBuffers<T>& t, T* dq, T* dk, T* dv, T* dmask) {
  const int64_t L = a.L, S = a.S, E = a.E, Ev = a.Ev;
  T* p = t.p.data();
  T* dp = t.dp.data();
  scores_tile(a, bh, r0, br, c0, bc, p);
  for (int64_t r = 0; r < br; ++r) {
    T* row = p + r * bc;
    const T sub = lse[bh * L + r0 + r];  // +inf for a fully masked row: its probabilities are 0
    for (int64_t c = 0; c < bc; ++c) row[c] = exp0(row[c] - sub);
  }
  const T* gi = dout + (bh * L + r0) * Ev;
  const T* vj = a.v + (bh * S + c0) * Ev;
  gemm(false, true, br, bc, Ev, T(1), gi, Ev, vj, Ev, T(0), dp, bc);  // dP = dO_i V_j^T  (br, bc)
  if (a.dropout_p > 0) {  // dV takes the dropped probabilities; dP flows back through the same drops
    if (dv) {
      t.pd.assign(p, p + br * bc);
      drop_tile(a, bh, r0, br, c0, bc, t.pd.data());
      gemm(true, false, bc, Ev, br, T(1), t.pd.data(), bc, gi, Ev, T(1), dv, Ev);
    }
    drop_tile(a, bh, r0, br, c0, bc, dp);
  } else if (dv) {
    gemm(true, false, bc, Ev, br, T(1), p, bc, gi, Ev, T(1), dv, Ev);  // dV_j += P^T dO_i
  }
  for (int64_t r = 0; r < br; ++r)  // dS = P * (dP - D)
    for (int64_t c = 0; c < bc; ++c) p[r * bc + c] *= dp[r * bc + c] - D[r0 + r];
  if (dmask)
    for (int64_t r = 0; r < br; ++r) std::copy(p + r * bc, p + (r + 1) * bc, dmask + (bh * L + r0 + r) * S + c0);
  const T scale = static_cast<T>(a.scale);
  if (dq) gemm(false, false, br, E, bc, scale, p, bc, a.k + (bh * S + c0) * E, E, T(1), dq, E);  // dQ_i += s dS K_j
  if (dk) gemm(true, false, bc, E, br, scale, p, bc, a.q + (bh * L + r0) * E, E, T(1), dk, E);   // dK_j += s dS^T Q_i
}

}  // namespace

template <class T>
void attention_forward(const AttentionArgs<T>& a, T* out, T* lse) {
  const int64_t row_blocks = (a.L + kBr - 1) / kBr;
  parallel_chunks(a.BH * row_blocks, [&](int64_t i) {
    const int64_t bh = i / row_blocks, r0 = i % row_blocks * kBr;
    forward_rows(a, bh, r0, std::min(kBr, a.L - r0), out, lse);
  });
}

// With at least as many slices as threads, one pass per slice (each tile once). With fewer, two passes that
// split further: dK, dV per (slice, key block), then dQ per (slice, row block), each recomputing its tiles. Each
// output gets the same products added in the same order either way, so the results do not depend on the choice.
template <class T>
void attention_backward(const AttentionArgs<T>& a, const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv,
                        T* dmask) {
  const int64_t L = a.L, S = a.S, E = a.E, Ev = a.Ev, BH = a.BH;
  std::fill(dq, dq + BH * L * E, T(0));
  std::fill(dk, dk + BH * S * E, T(0));
  std::fill(dv, dv + BH * S * Ev, T(0));
  if (dmask) std::fill(dmask, dmask + BH * L * S, T(0));  // tiles a causal mask skips stay 0
  std::vector<T> D(static_cast<size_t>(BH * L));  // rowsum(dO * O)
  for (int64_t i = 0; i < BH * L; ++i) {
    T d = 0;
    for (int64_t e = 0; e < Ev; ++e) d += dout[i * Ev + e] * out[i * Ev + e];
    D[i] = d;
  }
  const int64_t row_blocks = (L + kBr - 1) / kBr, col_blocks = (S + kBc - 1) / kBc;
  if (BH >= get_num_threads()) {
    parallel_chunks(BH, [&](int64_t bh) {
      TileBuffers<T> t;
      for (int64_t c0 = 0; c0 < S; c0 += kBc)
        for (int64_t r0 = 0; r0 < L; r0 += kBr)
          if (tile_visible(a.causal, r0, c0))
            backward_tile(a, bh, r0, std::min(kBr, L - r0), c0, std::min(kBc, S - c0), lse, D.data() + bh * L, dout,
                          t, dq + (bh * L + r0) * E, dk + (bh * S + c0) * E, dv + (bh * S + c0) * Ev, dmask);
    });
    return;
  }
  parallel_chunks(BH * col_blocks, [&](int64_t i) {
    const int64_t bh = i / col_blocks, c0 = i % col_blocks * kBc;
    TileBuffers<T> t;
    for (int64_t r0 = 0; r0 < L; r0 += kBr)
      if (tile_visible(a.causal, r0, c0))
        backward_tile(a, bh, r0, std::min(kBr, L - r0), c0, std::min(kBc, S - c0), lse, D.data() + bh * L, dout, t,
                      static_cast<T*>(nullptr), dk + (bh * S + c0) * E, dv + (bh * S + c0) * Ev, dmask);
  });
  parallel_chunks(BH * row_blocks, [&](int64_t i) {
    const int64_t bh = i / row_blocks, r0 = i % row_blocks * kBr;
    TileBuffers<T> t;
    for (int64_t c0 = 0; c0 < S; c0 += kBc)
      if (tile_visible(a.causal, r0, c0))
        backward_tile(a, bh, r0, std::min(kBr, L - r0), c0, std::min(kBc, S - c0), lse, D.data() + bh * L, dout, t,
                      dq + (bh * L + r0) * E, static_cast<T*>(nullptr), static_cast<T*>(nullptr),
                      static_cast<T*>(nullptr));
  });
}

template void attention_forward(const AttentionArgs<float>&, float*, float*);
template void attention_forward(const AttentionArgs<double>&, double*, double*);
template void attention_backward(const AttentionArgs<float>&, const float*, const float*, const float*, float*,
                                 float*, float*, float*);
template void attention_backward(const AttentionArgs<double>&, const double*, const double*, const double*, double*,
                                 double*, double*, double*);

}  // namespace nerve::cpu
