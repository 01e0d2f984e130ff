// LSTM / GRU / RNN over a sequence: fused per-step gate kernels (forward and backward) and the drivers that
// interleave them with one GEMM per step. Equations as in PyTorch's nn.LSTM / nn.GRU / nn.RNN docs:
//   LSTM: i,f,o = sigmoid(.), g = tanh(.), c' = f*c + i*g, h' = o*tanh(c')
//   GRU:  r,z = sigmoid(.), n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1-z)*n + z*h
//   RNN:  h' = tanh or relu(W_ih x + b_ih + W_hh h + b_hh)
#include "backend/cpu/rnn.h"
#include "core/simd_clones.h"
#include "backend/cpu/convert.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <vector>

#include "backend/cpu/gemm.h"
#include "nerve/core/parallel.h"
#include "nerve/core/profiler.h"

namespace nerve::cpu {

namespace {

template <class T> inline T sigm(T x);
template <> inline float sigm(float x) { return fast_sigmoid(x); }
template <> inline double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }
template <class T> inline T tanh_(T x);
template <> inline float tanh_(float x) { return fast_tanh(x); }
template <> inline double tanh_(double x) { return std::tanh(x); }

// Everything one step kernel touches; each kernel reads the fields its comment names. Rows of step t are
// `ld*` elements apart (the batch stride of the layout); ld 0 repeats one row (a shared zero row).
template <class T>
struct StepArgs {
  int64_t B, H;
  T* g;                 // (B, W*H) saved activations of this step (forward: pre-activations in)
  int64_t ldg;
  const T* bias;        // (G*H) LSTM/RNN: b_ih + b_hh; GRU: b_ih
  const T* bias_hh;     // (3H) GRU: b_hh
  const T* gh;          // (B, 3H) GRU forward: h_prev W_hh^T
  const T* hp;          // (B, H) previous hidden state
  int64_t ldhp;
  const T* cp;          // (B, H) LSTM previous cell state
  int64_t ldcp;
  T* c;                 // (B, H) LSTM cell state of this step
  int64_t ldc;
  T* h;                 // (B, H) hidden state (output) of this step
  int64_t ldh;
  const T* dy;          // (B, H) upstream gradient of this step's output
  int64_t lddy;
  T* dh;                // (B, H) contiguous: gradient w.r.t. the hidden state, carried between steps
  T* dc;                // (B, H) contiguous: LSTM gradient w.r.t. the cell state, carried between steps
  T* dg;                // (B, G*H) gradient w.r.t. the gate pre-activations (input side)
  int64_t lddg;
  T* dgh;               // (B, 3H) GRU: gradient w.r.t. the hidden-side pre-activations
  int64_t lddgh;
  bool relu;            // plain RNN: relu instead of tanh
  const T* bias_rows;   // LSTM forward: non-null: row b's bias is bias_rows + ids[b * ids_ld] * 4H
  const int64_t* ids;
  int64_t ids_ld;
};

#define NERVE_ALWAYS_INLINE [[gnu::always_inline]] inline

template <class T>
NERVE_ALWAYS_INLINE void lstm_fwd_step(const StepArgs<T>& a) {
  const int64_t H = a.H;
  for (int64_t b = 0; b < a.B; ++b) {
    const T* bi = a.bias_rows ? a.bias_rows + a.ids[b * a.ids_ld] * 4 * H : a.bias;
    T* g = a.g + b * a.ldg;
    const T* cp = a.cp + b * a.ldcp;
    T* c = a.c + b * a.ldc;
    T* h = a.h + b * a.ldh;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      T i = sigm(g[j] + bi[j]);
      T f = sigm(g[H + j] + bi[H + j]);
      T gg = tanh_(g[2 * H + j] + bi[2 * H + j]);
      T o = sigm(g[3 * H + j] + bi[3 * H + j]);
      T cn = f * cp[j] + i * gg;
      g[j] = i;
      g[H + j] = f;
      g[2 * H + j] = gg;
      g[3 * H + j] = o;
      c[j] = cn;
      h[j] = o * tanh_(cn);
    }
  }
}

template <class T>
NERVE_ALWAYS_INLINE void lstm_bwd_step(const StepArgs<T>& a) {
  const int64_t H = a.H;
  for (int64_t b = 0; b < a.B; ++b) {
    const T* g = a.g + b * a.ldg;
    const T* cp = a.cp + b * a.ldcp;
    const T* c = a.c + b * a.ldc;
    const T* dy = a.dy + b * a.lddy;
    T* dh = a.dh + b * H;
    T* dc = a.dc + b * H;
    T* dg = a.dg + b * a.lddg;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      T i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
      T dht = dh[j] + dy[j];
      T tc = tanh_(c[j]);
      T dct = dc[j] + dht * o * (T(1) - tc * tc);
      dg[j] = dct * gg * i * (T(1) - i);
      dg[H + j] = dct * cp[j] * f * (T(1) - f);
      dg[2 * H + j] = dct * i * (T(1) - gg * gg);
      dg[3 * H + j] = dht * tc * o * (T(1) - o);
      dc[j] = dct * f;
    }
  }
}

template <class T>
NERVE_ALWAYS_INLINE void gru_fwd_step(const StepArgs<T>& a) {
  const int64_t H = a.H;
  const T* bi = a.bias;
  const T* bh = a.bias_hh;
  for (int64_t b = 0; b < a.B; ++b) {
    T* g = a.g + b * a.ldg;
    const T* gh = a.gh + b * 3 * H;
    const T* hp = a.hp + b * a.ldhp;
    T* h = a.h + b * a.ldh;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      T r = sigm(g[j] + bi[j] + gh[j] + bh[j]);
      T z = sigm(g[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
      T hn = gh[2 * H + j] + bh[2 * H + j];
      T n = tanh_(g[2 * H + j] + bi[2 * H + j] + r * hn);
      g[j] = r;
      g[H + j] = z;
      g[2 * H + j] = n;
      g[3 * H + j] = hn;
      h[j] = n + z * (hp[j] - n);
    }
  }
}

template <class T>
NERVE_ALWAYS_INLINE void gru_bwd_step(const StepArgs<T>& a) {
  const int64_t H = a.H;
  for (int64_t b = 0; b < a.B; ++b) {
    const T* g = a.g + b * a.ldg;
    const T* hp = a.hp + b * a.ldhp;
    const T* dy = a.dy + b * a.lddy;
    T* dh = a.dh + b * H;
    T* dg = a.dg + b * a.lddg;
    T* dgh = a.dgh + b * a.lddgh;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      T r = g[j], z = g[H + j], n = g[2 * H + j], hn = g[3 * H + j];
      T dht = dh[j] + dy[j];
      T dan = dht * (T(1) - z) * (T(1) - n * n);
      T dar = dan * hn * r * (T(1) - r);
      T daz = dht * (hp[j] - n) * z * (T(1) - z);
      dg[j] = dar;
      dg[H + j] = daz;
      dg[2 * H + j] = dan;
      dgh[j] = dar;
      dgh[H + j] = daz;
      dgh[2 * H + j] = dan * r;
      dh[j] = dht * z;  // the direct path h' = ... + z*h; the GEMM adds the gate paths
    }
  }
}

template <class T>
NERVE_ALWAYS_INLINE void rnn_fwd_step(const StepArgs<T>& a) {
  const int64_t H = a.H;
  const T* bi = a.bias;
  for (int64_t b = 0; b < a.B; ++b) {
    T* h = a.h + b * a.ldh;
    if (a.relu) {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) h[j] = std::max(h[j] + bi[j], T(0));
    } else {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) h[j] = tanh_(h[j] + bi[j]);
    }
  }
}

template <class T>
NERVE_ALWAYS_INLINE void rnn_bwd_step(const StepArgs<T>& a) {
  const int64_t H = a.H;
  for (int64_t b = 0; b < a.B; ++b) {
    const T* h = a.h + b * a.ldh;
    const T* dy = a.dy + b * a.lddy;
    const T* dh = a.dh + b * H;
    T* dg = a.dg + b * a.lddg;
    if (a.relu) {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) dg[j] = h[j] > T(0) ? dh[j] + dy[j] : T(0);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) dg[j] = (dh[j] + dy[j]) * (T(1) - h[j] * h[j]);
    }
  }
}

// f32 entry points, compiled for AVX-512, AVX2+FMA and baseline x86-64; the loader picks one per CPU.
NERVE_SIMD_CLONES_V void lstm_fwd_f32(const StepArgs<float>& a) { lstm_fwd_step(a); }
NERVE_SIMD_CLONES_V void lstm_bwd_f32(const StepArgs<float>& a) { lstm_bwd_step(a); }
NERVE_SIMD_CLONES_V void gru_fwd_f32(const StepArgs<float>& a) { gru_fwd_step(a); }
NERVE_SIMD_CLONES_V void gru_bwd_f32(const StepArgs<float>& a) { gru_bwd_step(a); }
NERVE_SIMD_CLONES_V void rnn_fwd_f32(const StepArgs<float>& a) { rnn_fwd_step(a); }
NERVE_SIMD_CLONES_V void rnn_bwd_f32(const StepArgs<float>& a) { rnn_bwd_step(a); }

template <class T>
void step_forward(RnnCell cell, const StepArgs<T>& a) {
  if constexpr (std::is_same_v<T, float>) {
    if (cell == RnnCell::lstm) lstm_fwd_f32(a);
    else if (cell == RnnCell::gru) gru_fwd_f32(a);
    else rnn_fwd_f32(a);
  } else {
    if (cell == RnnCell::lstm) lstm_fwd_step(a);
    else if (cell == RnnCell::gru) gru_fwd_step(a);
    else rnn_fwd_step(a);
  }
}

template <class T>
void step_backward(RnnCell cell, const StepArgs<T>& a) {
  if constexpr (std::is_same_v<T, float>) {
    if (cell == RnnCell::lstm) lstm_bwd_f32(a);
    else if (cell == RnnCell::gru) gru_bwd_f32(a);
    else rnn_bwd_f32(a);
  } else {
    if (cell == RnnCell::lstm) lstm_bwd_step(a);
    else if (cell == RnnCell::gru) gru_bwd_step(a);
    else rnn_bwd_step(a);
  }
}

// Step s of the processing order -> time index t.
inline int64_t time_of(const RnnDims& d, int64_t s) { return d.reverse ? d.seq - 1 - s : s; }


constexpr int64_t kMinRowsPerSlice = 16;  // fewer rows make the per-step GEMMs re-read W_hh for too little work
constexpr int64_t kMinStepMacsPerSlice = 1 << 16;  // below this a slice is not worth a thread
constexpr int64_t kMaxSlices = 8;

// The batch rows are independent through the whole recurrence, so threads split the batch: each runs its own
// slices of rows through every step (its GEMMs single-threaded inside the parallel region) with no barrier per
// step. The slices depend on the shape only, never on the thread count (threads take them as chunks): a row's
// per-step GEMM results depend on the rows computed with it, and the per-token gradient tables are summed over
// the slices, so slices that followed the thread count would change results with it.
// step_macs: multiply-adds of one step's recurrent GEMM for the whole batch.
// f(b0, b1, slice) for each slice of batch rows; batch_slices() says how many there are.
int64_t batch_slices(int64_t B, int64_t step_macs) {
  const int64_t n = std::min({kMaxSlices, B / kMinRowsPerSlice, step_macs / kMinStepMacsPerSlice});
  return n <= 1 ? 1 : n;
}
template <class F>
void for_batch_slices(int64_t B, int64_t step_macs, const F& f) {
  const int64_t nt = batch_slices(B, step_macs);
  if (nt == 1) return f(int64_t{0}, B, int64_t{0});
  parallel_chunks(nt, [&](int64_t t) {  // (inline, one slice after the other, inside a parallel region)
    const int64_t b0 = B * t / nt, b1 = B * (t + 1) / nt;
    if (b0 < b1) f(b0, b1, t);
  });
}

}  // namespace

// Leading dimension of dG^T: whole cache lines, but not a multiple of 1 KB, so that the G*H lines a step writes
// (one per row) do not fall into the same few cache sets (with ld = 2048 the transposes took twice as long)
inline int64_t dgt_ld(int64_t rows) {
  const int64_t ld = (rows + 15) / 16 * 16;
  return ld % 256 == 0 ? ld + 16 : ld;
}

int64_t rnn_backward_workspace(RnnCell cell, const RnnDims& d) {
  const int64_t rows = d.seq * d.batch, H = d.hidden, GH = rnn_gate_count(cell) * H;
  // h_prev, the gate gradients whole (x's row order) and transposed, per-slice step blocks (input and hidden
  // side), x in step order, dh, dc, a zero row; the whole-gradient and x parts stay untouched when not needed
  return rows * H + rows * GH + GH * dgt_ld(rows) + 2 * d.batch * GH + rows * d.input + 2 * d.batch * H + H;
}

namespace {

// dst[j * ldd + b] = src[b * lds + j] for b < nb, j < n: one step's block of gate gradients (nb rows) into
// columns of dG^T. f32 goes through cpu::transpose_f32 (16x16 register tiles; the plain loop compiled to scalar
// gathers and took ~1 ms of a char_lstm step).
template <class T>
void transpose_scalar(const T* src, int64_t lds, int64_t b0, int64_t b1, int64_t j0, int64_t j1, T* dst,
                      int64_t ldd) {
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t b = b0; b < b1; ++b) dst[j * ldd + b] = src[b * lds + j];
}

template <class T>
void transpose_block(const T* src, int64_t lds, int64_t nb, int64_t n, T* dst, int64_t ldd) {
  if constexpr (std::is_same_v<T, float>) cpu::transpose_f32(src, lds, nb, n, dst, ldd);
  else transpose_scalar(src, lds, int64_t{0}, nb, int64_t{0}, n, dst, ldd);
}

// dst[j] += src[j]
NERVE_SIMD_CLONES_V void add_into_f32(float* dst, const float* src, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
}
template <class T>
void add_into(T* dst, const T* src, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    add_into_f32(dst, src, n);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
  }
}

}  // namespace

// dst (C, R) = src (R, C)^T in 16x16 tiles, column blocks split over threads (a plain loop writes 4 KB apart).
template <class T>
void transpose_into(const T* src, int64_t R, int64_t C, T* dst) {
  constexpr int64_t t = 16;
  parallel_for((C + t - 1) / t, 8, [&](int64_t jb0, int64_t jb1) {
    for (int64_t j0 = jb0 * t; j0 < std::min(C, jb1 * t); j0 += t)
      for (int64_t i0 = 0; i0 < R; i0 += t) {
        if (i0 + t <= R && j0 + t <= C) {
          for (int64_t j = 0; j < t; ++j)
            for (int64_t i = 0; i < t; ++i) dst[(j0 + j) * R + i0 + i] = src[(i0 + i) * C + j0 + j];
        } else {
          for (int64_t j = j0; j < std::min(C, j0 + t); ++j)
            for (int64_t i = i0; i < std::min(R, i0 + t); ++i) dst[j * R + i] = src[i * C + j];
        }
      }
  });
}

template <class T>
void rnn_forward(RnnCell cell, const RnnDims& d, const T* x, const RnnParams<T>& p, const T* h0, const T* c0,
                 const RnnForwardOut<T>& out) {
  const int64_t B = d.batch, H = d.hidden, G = rnn_gate_count(cell), W = rnn_saved_width(cell);
  const int64_t rows = d.seq * B, GH = G * H;
  const bool plain = W == 0;
  // 1. input projection of every step at once: pre (rows, G*H) = x W_ih^T
  T* pre = plain ? out.y : out.gates;
  const int64_t ldp = plain ? H : W * H, ld_step = d.b_stride * ldp;
  if (!p.table) gemm(false, true, rows, GH, d.input, T(1), x, d.input, p.w_ih, d.input, T(0), pre, ldp);
  // biases folded into one vector (GRU keeps b_hh apart: it sits inside r * (W_hn h + b_hn))
  std::vector<T> bias(GH, T(0)), bias_hh(GH, T(0)), zero_row(H, T(0));
  for (int64_t j = 0; j < GH; ++j) {
    T bi = p.b_ih ? p.b_ih[j] : T(0), bh = p.b_hh ? p.b_hh[j] : T(0);
    bias[j] = cell == RnnCell::gru ? bi : bi + bh;
    bias_hh[j] = cell == RnnCell::gru ? bh : T(0);
  }
  // W_hh^T (H, G*H): the library runs the per-step product h W_hh^T ~1.4x faster with B not transposed
  // (bench/bench_gemm_split.cpp: 16x1024x256 in 80 vs 116 us); the copy pays off over a long enough sequence
  thread_local std::vector<T> w_hh_t;  // kept: a fresh 1 MB buffer costs ~0.7 ms of page faults per call
  const T* whh = p.w_hh;
  int64_t ld_whh = H;
  const bool whh_trans = d.seq * B < 256;
  if (!whh_trans) {
    if (w_hh_t.size() < size_t(GH * H)) w_hh_t.resize(GH * H);
    transpose_into(p.w_hh, GH, H, w_hh_t.data());
    whh = w_hh_t.data();
    ld_whh = GH;
  }
  // 2. the recurrence over batch rows [b0, b1): one GEMM and one fused kernel per step
  NERVE_RECORD_FUNCTION("rnn_forward.recurrence");
  for_batch_slices(B, B * GH * H, [&](int64_t b0, int64_t b1, int64_t) {
    const int64_t nb = b1 - b0, boff = b0 * d.b_stride;  // row offset of b0 within a step
    std::vector<T> gh(cell == RnnCell::gru ? nb * GH : 0, T(0));
    const bool in_kernel = p.table && p.table_has_bias && cell == RnnCell::lstm;  // table rows read by the kernel
    if (p.table && !in_kernel)  // input projection of embedded tokens: row (t, b) of pre = table row ids[(t, b)]
      for (int64_t s = 0; s < d.seq; ++s)
        for (int64_t b = 0; b < nb; ++b) {
          const int64_t r = s * d.t_stride + boff + b * d.b_stride;
          std::memcpy(pre + r * ldp, p.table + p.ids[r] * GH, GH * sizeof(T));
        }
    int64_t prev_r0 = 0;
    for (int64_t s = 0; s < d.seq; ++s) {
      const int64_t r0 = time_of(d, s) * d.t_stride + boff;  // row of (t, b0)
      const T* hp = s > 0 ? out.y + prev_r0 * H : h0 ? h0 + b0 * H : nullptr;
      const int64_t ldhp = s > 0 ? d.b_stride * H : H;
      if (hp) {  // recurrent part; a zero h0 contributes nothing
        if (cell == RnnCell::gru)
          gemm(false, whh_trans, nb, GH, H, T(1), hp, ldhp, whh, ld_whh, T(0), gh.data(), GH);
        else
          gemm(false, whh_trans, nb, GH, H, T(1), hp, ldhp, whh, ld_whh, in_kernel ? T(0) : T(1), pre + r0 * ldp,
               ld_step);
      } else if (in_kernel) {
        for (int64_t b = 0; b < nb; ++b) std::fill_n(pre + r0 * ldp + b * ld_step, GH, T(0));
      }
      StepArgs<T> a{};
      a.B = nb;
      a.H = H;
      a.bias = bias.data();
      a.bias_hh = bias_hh.data();
      a.h = out.y + r0 * H;
      a.ldh = d.b_stride * H;
      a.hp = hp ? hp : zero_row.data();
      a.ldhp = hp ? ldhp : 0;
      a.gh = gh.data();
      if (!plain) {
        a.g = out.gates + r0 * ldp;
        a.ldg = ld_step;
      }
      if (cell == RnnCell::lstm) {
        a.cp = s > 0 ? out.cells + prev_r0 * H : c0 ? c0 + b0 * H : zero_row.data();
        a.ldcp = s > 0 ? d.b_stride * H : c0 ? H : 0;
        a.c = out.cells + r0 * H;
        a.ldc = d.b_stride * H;
      }
      a.relu = cell == RnnCell::rnn_relu;
      if (in_kernel) {
        a.bias_rows = p.table;
        a.ids = p.ids + r0;
        a.ids_ld = d.b_stride;
      }
      step_forward(cell, a);
      prev_r0 = r0;
    }
    // 3. final states: the rows of the last step processed
    for (int64_t b = 0; b < nb; ++b) {
      std::memcpy(out.hn + (b0 + b) * H, out.y + (prev_r0 + b * d.b_stride) * H, H * sizeof(T));
      if (cell == RnnCell::lstm && out.cn)
        std::memcpy(out.cn + (b0 + b) * H, out.cells + (prev_r0 + b * d.b_stride) * H, H * sizeof(T));
    }
  });
}

template <class T>
void rnn_backward(RnnCell cell, const RnnDims& d, const T* x, const RnnParams<T>& p, const T* h0, const T* c0,
                  const T* y, const T* gates, const T* cells, const T* dy, const T* dhn, const T* dcn,
                  const RnnGrads<T>& g, T* work) {
  const int64_t B = d.batch, H = d.hidden, G = rnn_gate_count(cell), W = rnn_saved_width(cell);
  const int64_t rows = d.seq * B, GH = G * H;
  const bool gru = cell == RnnCell::gru;
  // The hidden side of the gate gradients (the input side too but for the GRU) is also written transposed,
  // dG^T (G*H, rows) with columns in step order (column s*B + b: step s, batch row b), while each step's block is
  // in cache: dW_hh = dG^T h_prev is then a plain product (the library runs it ~20% faster than with dG
  // transposed on the fly: bench_gemm_split "LSTM dW_hh"), and the bias gradients are dG^T's row sums.
  // The gate gradients whole in x's row order are kept only when a later product needs them (dx; the GRU's input
  // side); otherwise each slice writes its step's block into a small buffer of its own.
  const bool full = g.dx || (gru && (g.dw_ih || g.dtable || g.db_ih));
  T* hprev = work;                  // (rows, H) step order: the hidden state each step started from
  T* dgate = hprev + rows * H;      // (rows, G*H) x's row order, when `full`
  T* dgt = dgate + rows * GH;       // (G*H, rows) step order
  const int64_t ldt = dgt_ld(rows);
  T* blocks = dgt + GH * ldt;      // per slice: 2 (nb, G*H) step blocks
  T* xs = blocks + 2 * B * GH;      // (rows, input) x in step order, for dW_ih of an LSTM/RNN
  T* dh = xs + rows * d.input;
  T* dc = dh + B * H;
  T* zero_row = dc + B * H;
  std::fill(zero_row, zero_row + H, T(0));
  const int64_t ldg_step = d.b_stride * GH;
  // An embedding-fed LSTM/RNN layer: each slice adds its rows' gate gradients into its own per-token table
  // while they are in cache (the tables are summed at the end); the GRU sums in the pass below.
  const bool token_sums = g.dtable && !gru;
  const bool xs_needed = g.dw_ih && !gru;
  T* db = g.db_ih ? g.db_ih : !gru ? g.db_hh : nullptr;
  T* dbh = gru ? g.db_hh : db;  // the hidden side's bias gradient: row sums of dG^T
  const bool need_dgt = g.dw_hh || dbh || xs_needed;  // frozen weights and no biases: no transposes
  const int64_t V = g.vocab, slices = batch_slices(B, B * GH * H);
  thread_local std::vector<T> token_buf;  // kept: ~1 MB per call would cost page faults
  if (token_sums && token_buf.size() < size_t(slices * V * GH)) token_buf.resize(slices * V * GH);
  T* tokens = token_sums ? token_buf.data() : nullptr;  // slice t's table at t*V*GH
  std::optional<profiler::RecordFunction> phase(std::in_place, "rnn_backward.recurrence");
  for_batch_slices(B, B * GH * H, [&](int64_t b0, int64_t b1, int64_t slice) {
    const int64_t nb = b1 - b0, boff = b0 * d.b_stride;
    T* mine = tokens ? tokens + slice * V * GH : nullptr;
    if (mine) std::fill(mine, mine + V * GH, T(0));
    // previous hidden state of each row (h0 or zero for the first step) and x, in step order
    for (int64_t s = 0; s < d.seq; ++s) {
      const int64_t r0 = time_of(d, s) * d.t_stride + boff;
      for (int64_t b = 0; b < nb; ++b) {
        T* dst = hprev + (s * B + b0 + b) * H;
        const T* src = s > 0 ? y + (time_of(d, s - 1) * d.t_stride + boff + b * d.b_stride) * H
                             : h0 ? h0 + (b0 + b) * H : nullptr;
        if (src)
          std::memcpy(dst, src, H * sizeof(T));
        else
          std::fill(dst, dst + H, T(0));
        if (xs_needed)
          std::memcpy(xs + (s * B + b0 + b) * d.input, x + (r0 + b * d.b_stride) * d.input, d.input * sizeof(T));
      }
    }
    T* dhs = dh + b0 * H;
    T* dcs = dc + b0 * H;
    if (dhn) std::copy(dhn + b0 * H, dhn + b1 * H, dhs);
    else std::fill(dhs, dhs + nb * H, T(0));
    if (dcn) std::copy(dcn + b0 * H, dcn + b1 * H, dcs);
    else std::fill(dcs, dcs + nb * H, T(0));
    T* block_in = blocks + 2 * b0 * GH;
    T* block_h = block_in + nb * GH;
    for (int64_t s = d.seq - 1; s >= 0; --s) {
      const int64_t r0 = time_of(d, s) * d.t_stride + boff;
      StepArgs<T> a{};
      a.B = nb;
      a.H = H;
      if (W) {
        a.g = const_cast<T*>(gates) + r0 * W * H;
        a.ldg = d.b_stride * W * H;
      }
      a.hp = hprev + (s * B + b0) * H;
      a.ldhp = H;
      if (cell == RnnCell::lstm) {
        a.cp = s > 0 ? cells + (time_of(d, s - 1) * d.t_stride + boff) * H : c0 ? c0 + b0 * H : zero_row;
        a.ldcp = s > 0 ? d.b_stride * H : c0 ? H : 0;
        a.c = const_cast<T*>(cells) + r0 * H;
        a.ldc = d.b_stride * H;
      }
      a.h = const_cast<T*>(y) + r0 * H;
      a.ldh = d.b_stride * H;
      a.dy = dy ? dy + r0 * H : zero_row;
      a.lddy = dy ? d.b_stride * H : 0;
      a.dh = dhs;
      a.dc = dcs;
      a.dg = full ? dgate + r0 * GH : block_in;
      a.lddg = full ? ldg_step : GH;
      a.dgh = gru ? block_h : a.dg;
      a.lddgh = gru ? GH : a.lddg;
      a.relu = cell == RnnCell::rnn_relu;
      step_backward(cell, a);
      if (mine)
        for (int64_t b = 0; b < nb; ++b) add_into(mine + g.ids[r0 + b * d.b_stride] * GH, a.dg + b * a.lddg, GH);
      if (need_dgt) transpose_block(a.dgh, a.lddgh, nb, GH, dgt + s * B + b0, ldt);
      if (s > 0 || g.dh0)  // dh_prev (nb, H) = dgates (nb, G*H) @ W_hh (G*H, H)  (+ the GRU's direct path)
        gemm(false, false, nb, H, GH, T(1), a.dgh, a.lddgh, p.w_hh, H, gru ? T(1) : T(0), dhs, H);
    }
  });
  if (g.dh0) std::copy(dh, dh + B * H, g.dh0);
  if (g.dc0) std::copy(dc, dc + B * H, g.dc0);
  phase.emplace("rnn_backward.sums");  // (the previous phase ends first)
  // One pass, threads splitting the gate columns (no two write the same element): the per-token sums of an
  // embedding-fed layer, and the bias gradients (db_hh = db_ih but for the GRU, whose input side is summed apart).
  parallel_for(GH, 64, [&](int64_t j0, int64_t j1) {
    if (token_sums) {  // the slices' tables summed
      for (int64_t v = 0; v < V; ++v) {
        T* dst = g.dtable + v * GH;
        std::copy(tokens + v * GH + j0, tokens + v * GH + j1, dst + j0);
        for (int64_t t = 1; t < slices; ++t) add_into(dst + j0, tokens + (t * V + v) * GH + j0, j1 - j0);
      }
    }
    if (gru && (g.dtable || g.db_ih)) {  // the GRU's input side, from the gradients in x's row order
      if (g.dtable)
        for (int64_t v = 0; v < g.vocab; ++v) std::fill(g.dtable + v * GH + j0, g.dtable + v * GH + j1, T(0));
      if (g.db_ih) std::fill(g.db_ih + j0, g.db_ih + j1, T(0));
      for (int64_t r = 0; r < rows; ++r) {
        const T* src = dgate + r * GH;
        if (g.dtable) add_into(g.dtable + g.ids[r] * GH + j0, src + j0, j1 - j0);
        if (g.db_ih) add_into(g.db_ih + j0, src + j0, j1 - j0);
      }
    }
    if (dbh)
      for (int64_t j = j0; j < j1; ++j) {
        const T* src = dgt + j * ldt;
        T acc = T(0);
#pragma omp simd reduction(+ : acc)
        for (int64_t r = 0; r < rows; ++r) acc += src[r];
        dbh[j] = acc;
      }
  });
  if (!gru && g.db_ih && g.db_hh) std::copy(g.db_ih, g.db_ih + GH, g.db_hh);
  // weight gradients over all steps at once: dW_hh = dG_h^T h_prev, dW_ih = dG^T x, dx = dG W_ih
  phase.emplace("rnn_backward.weight_grads");
  if (g.dw_hh) gemm(false, false, GH, H, rows, T(1), dgt, ldt, hprev, H, T(0), g.dw_hh, H);
  if (g.dw_ih) {
    if (gru)
      gemm(true, false, GH, d.input, rows, T(1), dgate, GH, x, d.input, T(0), g.dw_ih, d.input);
    else
      gemm(false, false, GH, d.input, rows, T(1), dgt, ldt, xs, d.input, T(0), g.dw_ih, d.input);
  }
  if (g.dx) gemm(false, false, rows, d.input, GH, T(1), dgate, GH, p.w_ih, d.input, T(0), g.dx, d.input);
}

template void rnn_forward<float>(RnnCell, const RnnDims&, const float*, const RnnParams<float>&, const float*,
                                 const float*, const RnnForwardOut<float>&);
template void rnn_forward<double>(RnnCell, const RnnDims&, const double*, const RnnParams<double>&, const double*,
                                  const double*, const RnnForwardOut<double>&);
template void rnn_backward<float>(RnnCell, const RnnDims&, const float*, const RnnParams<float>&, const float*,
                                  const float*, const float*, const float*, const float*, const float*, const float*,
                                  const float*, const RnnGrads<float>&, float*);
template void rnn_backward<double>(RnnCell, const RnnDims&, const double*, const RnnParams<double>&, const double*,
                                   const double*, const double*, const double*, const double*, const double*,
                                   const double*, const double*, const RnnGrads<double>&, double*);

}  // namespace nerve::cpu
