// oneDNN convolutions (see dnnl_conv.h). Primitives are made once per shape, piece size and pass, kept in a
// bounded cache, and run single-threaded (with a scratchpad of the calling thread) on the pieces of the batch.
#include "backend/cpu/dnnl_conv.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

#include "backend/cpu/transpose16.h"
#include "core/simd_clones.h"
#include "nerve/core/error.h"
#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {

using dnnl::memory;
using tag = memory::format_tag;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// oneDNN runs on the thread that calls it (as the GEMM: gemm.cpp); nerve's pool spreads the pieces.
void single_threaded() {
  thread_local bool done = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)done;
}

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, value) == 0;
}
std::atomic<bool> g_enabled{!env_is("NERVE_CONV", "im2col")};
std::atomic<bool> g_any{!env_is("NERVE_CONV_LAYOUT", "plain")};

// Pieces of the batch: at most kMaxPieces, each with >= kMinPieceMacs multiply-adds (the shape decides, never the
// thread count). The weight gradient keeps one partial sum per piece: at most kMaxPartFloats floats of them.
constexpr int64_t kMaxPieces = 8;
constexpr int64_t kMinPieceMacs = int64_t{1} << 21;
constexpr int64_t kMaxPartFloats = int64_t{8} << 20;

int64_t piece_count(const ConvShape& s) {
  // (in double: the product may pass 2^63 for shapes too large to run)
  const double macs = double(s.N) * double(s.O) * double(s.win.Ho * s.win.Wo) * double(s.C / s.G) *
                      double(s.win.kh * s.win.kw);
  return std::clamp<int64_t>(int64_t(std::min(macs / double(kMinPieceMacs), 1e9)), 1, std::min(s.N, kMaxPieces));
}

enum class Pass : int { forward, backward_data, backward_weights };

struct Key {
  std::array<int64_t, 19> v;
  bool operator==(const Key& o) const { return v == o.v; }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ uint64_t(x)) * 1099511628211ull;
    return size_t(h);
  }
};

// A reorder run with the calling thread's scratchpad: pieces reorder concurrently, and a reorder with oneDNN's own
// scratchpad would share that one buffer between them.
struct Reorder {
  dnnl::reorder prim;
  memory::desc scratch;
  Reorder() = default;
  Reorder(const memory::desc& from, const memory::desc& to);
  void run(dnnl::stream& stream, const memory& from, const memory& to) const;
};

// A primitive and the layouts it works in. Per piece it reads up to two activation operands (src or diff_dst) and
// writes one (dst, diff_src, or diff_weights); `shared` is the operand common to all pieces (weights) if any.
struct Entry {
  dnnl::primitive prim;
  int n_in = 0;
  std::array<int, 2> in_arg{};
  std::array<memory::desc, 2> in_plain, in_impl;
  std::array<Reorder, 2> in_reorder;
  std::array<bool, 2> in_re{};
  int out_arg = 0;
  memory::desc out_plain, out_impl;
  Reorder out_reorder;
  bool out_re = false;
  int shared_arg = 0;  // 0: none
  memory::desc shared_plain, shared_impl;
  Reorder shared_reorder;
  bool shared_re = false;
  int bias_arg = 0;  // DNNL_ARG_BIAS or DNNL_ARG_DIFF_BIAS, 0: none
  memory::desc bias_desc;
  memory::desc scratch;
};

// The shapes oneDNN sees; G > 1 gives 5-D (G, O/G, C/G, kh, kw) weights.
struct Descs {
  memory::dims src, wei, dst, bias, strides, dilates, pad_l, pad_r;
  memory::desc src_plain, wei_plain, dst_plain;
};
Descs descs(const ConvShape& s, int64_t mb) {
  const Window2d& g = s.win;
  Descs d;
  d.src = {mb, s.C, g.H, g.W};
  d.dst = {mb, s.O, g.Ho, g.Wo};
  d.wei = s.G == 1 ? memory::dims{s.O, s.C, g.kh, g.kw} : memory::dims{s.G, s.O / s.G, s.C / s.G, g.kh, g.kw};
  d.bias = {s.O};
  d.strides = {g.sh, g.sw};
  d.dilates = {g.dh - 1, g.dw - 1};
  // the bottom and right padding: the least that gives Ho, Wo
  const int64_t pb = std::max<int64_t>(0, (g.Ho - 1) * g.sh + g.dh * (g.kh - 1) + 1 - g.H - g.ph);
  const int64_t pr = std::max<int64_t>(0, (g.Wo - 1) * g.sw + g.dw * (g.kw - 1) + 1 - g.W - g.pw);
  d.pad_l = {g.ph, g.pw};
  d.pad_r = {pb, pr};
  d.src_plain = memory::desc(d.src, memory::data_type::f32, tag::nchw);
  d.dst_plain = memory::desc(d.dst, memory::data_type::f32, tag::nchw);
  d.wei_plain = memory::desc(d.wei, memory::data_type::f32, s.G == 1 ? tag::oihw : tag::goihw);
  return d;
}

memory::desc maybe_any(const memory::desc& plain, bool any) {
  return any ? memory::desc(plain.dims(), memory::data_type::f32, tag::any) : plain;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Descs& d, bool bias, bool any,
                                                     const dnnl::primitive_attr& attr) {
  using F = dnnl::convolution_forward;
  const memory::desc src = maybe_any(d.src_plain, any), wei = maybe_any(d.wei_plain, any),
                     dst = maybe_any(d.dst_plain, any);
  const memory::desc b(d.bias, memory::data_type::f32, tag::x);
  const auto desc = bias ? F::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src, wei, b,
                                   dst, d.strides, d.dilates, d.pad_l, d.pad_r)
                         : F::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src, wei,
                                   dst, d.strides, d.dilates, d.pad_l, d.pad_r);
  return F::primitive_desc(desc, attr, engine());
}

void set_in(Entry& e, int i, int arg, const memory::desc& plain, const memory::desc& impl) {
  e.in_arg[i] = arg;
  e.in_plain[i] = plain;
  e.in_impl[i] = impl;
  e.in_re[i] = impl != plain;
  if (e.in_re[i]) e.in_reorder[i] = Reorder(plain, impl);
  e.n_in = std::max(e.n_in, i + 1);
}
void set_out(Entry& e, int arg, const memory::desc& plain, const memory::desc& impl) {
  e.out_arg = arg;
  e.out_plain = plain;
  e.out_impl = impl;
  e.out_re = impl != plain;
  if (e.out_re) e.out_reorder = Reorder(impl, plain);
}
void set_shared(Entry& e, int arg, const memory::desc& plain, const memory::desc& impl) {
  e.shared_arg = arg;
  e.shared_plain = plain;
  e.shared_impl = impl;
  e.shared_re = impl != plain;
  if (e.shared_re)
    e.shared_reorder = Reorder(plain, impl);
}

std::shared_ptr<const Entry> make_entry(const ConvShape& s, int64_t mb, Pass pass, bool bias, bool any) {
  single_threaded();  // the primitive is made for one thread
  const Descs d = descs(s, mb);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // each running thread brings its own
  auto e = std::make_shared<Entry>();
  const auto fwd = forward_pd(d, bias, any, attr);
  if (pass == Pass::forward) {
    e->prim = dnnl::convolution_forward(fwd);
    set_in(*e, 0, DNNL_ARG_SRC, d.src_plain, fwd.src_desc());
    set_out(*e, DNNL_ARG_DST, d.dst_plain, fwd.dst_desc());
    set_shared(*e, DNNL_ARG_WEIGHTS, d.wei_plain, fwd.weights_desc());
    if (bias) e->bias_arg = DNNL_ARG_BIAS, e->bias_desc = fwd.bias_desc();
    e->scratch = fwd.scratchpad_desc();
  } else if (pass == Pass::backward_data) {
    using B = dnnl::convolution_backward_data;
    const B::desc desc(dnnl::algorithm::convolution_direct, maybe_any(d.src_plain, any), maybe_any(d.wei_plain, any),
                       maybe_any(d.dst_plain, any), d.strides, d.dilates, d.pad_l, d.pad_r);
    const B::primitive_desc pd(desc, attr, engine(), fwd);
    e->prim = B(pd);
    set_in(*e, 0, DNNL_ARG_DIFF_DST, d.dst_plain, pd.diff_dst_desc());
    set_out(*e, DNNL_ARG_DIFF_SRC, d.src_plain, pd.diff_src_desc());
    set_shared(*e, DNNL_ARG_WEIGHTS, d.wei_plain, pd.weights_desc());
    e->scratch = pd.scratchpad_desc();
  } else {
    using B = dnnl::convolution_backward_weights;
    const memory::desc src = maybe_any(d.src_plain, any), wei = maybe_any(d.wei_plain, any),
                       dst = maybe_any(d.dst_plain, any);
    const memory::desc b(d.bias, memory::data_type::f32, tag::x);
    const B::desc desc = bias ? B::desc(dnnl::algorithm::convolution_direct, src, wei, b, dst, d.strides, d.dilates,
                                        d.pad_l, d.pad_r)
                              : B::desc(dnnl::algorithm::convolution_direct, src, wei, dst, d.strides, d.dilates,
                                        d.pad_l, d.pad_r);
    const B::primitive_desc pd(desc, attr, engine(), fwd);
    e->prim = B(pd);
    set_in(*e, 0, DNNL_ARG_SRC, d.src_plain, pd.src_desc());
    set_in(*e, 1, DNNL_ARG_DIFF_DST, d.dst_plain, pd.diff_dst_desc());
    set_out(*e, DNNL_ARG_DIFF_WEIGHTS, d.wei_plain, pd.diff_weights_desc());
    if (bias) e->bias_arg = DNNL_ARG_DIFF_BIAS, e->bias_desc = pd.diff_bias_desc();
    e->scratch = pd.scratchpad_desc();
  }
  return e;
}

// The cache: at most kCacheSize entries (emptied when full; a refused shape is kept as null).
constexpr size_t kCacheSize = 256;
std::mutex g_mutex;
std::unordered_map<Key, std::shared_ptr<const Entry>, KeyHash> g_cache;

std::shared_ptr<const Entry> entry(const ConvShape& s, int64_t mb, Pass pass, bool bias) {
  // The weight gradient of a convolution of one input channel (a grayscale image's first layer) runs on the plain
  // layouts: oneDNN's blocked kernel took 2.3 ms per 16 images of cnn_fashion's first layer (1 -> 32 channels, 28x28),
  // as long as that of its second layer with 32x the multiply-adds, the plain one ~0.9 ms (nerve's conv1 forward +
  // backward at batch 128: 9.0 -> 4.3-5.2 ms). Three channels (an RGB stem) stay blocked: 3.8 ms there against 4.6.
  const bool any = g_any.load(std::memory_order_relaxed) && !(pass == Pass::backward_weights && s.C == 1 && s.G == 1);
  const Window2d& g = s.win;
  const Key key{{int64_t(pass), bias, any, mb, s.C, s.O, s.G, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh,
                 g.dw, g.Ho, g.Wo}};
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) return it->second;
  }
  std::shared_ptr<const Entry> e;
  try {
    e = make_entry(s, mb, pass, bias, any);
  } catch (const dnnl::error&) {
    e = nullptr;  // oneDNN has no kernel for it: the caller's im2col path runs
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_cache.size() >= kCacheSize) g_cache.clear();
  g_cache.emplace(key, e);
  return e;
}

// 64-byte aligned scratch buffers of the calling thread, grown on demand (slot: what it holds: 0, 1 the inputs, 2 the
// output, 3 the primitive's scratchpad, 4 a reorder's, 5 and 6 a fused op's diff_dst).
void* buffer(int slot, size_t bytes) {
  struct Buf {
    void* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local std::array<Buf, 7> bufs;
  Buf& b = bufs[slot];
  if (b.n < bytes) {
    std::free(b.p);
    b.n = (std::max<size_t>(bytes, 64) + 63) / 64 * 64;
    b.p = std::aligned_alloc(64, b.n);
    NERVE_ASSERT(b.p, "conv2d: out of memory for a ", b.n, "-byte oneDNN buffer");
  }
  return b.p;
}

Reorder::Reorder(const memory::desc& from, const memory::desc& to) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::reorder::primitive_desc pd(engine(), from, engine(), to, attr);
  prim = dnnl::reorder(pd);
  scratch = pd.scratchpad_desc();
}
void Reorder::run(dnnl::stream& stream, const memory& from, const memory& to) const {
  prim.execute(stream, {{DNNL_ARG_FROM, from},
                        {DNNL_ARG_TO, to},
                        {DNNL_ARG_SCRATCHPAD, memory(scratch, engine(), buffer(4, scratch.get_size()))}});
}

// An activation operand of one piece: plain (reordered into the entry's layout if that differs), or already in the
// entry's layout (`impl`).
struct PieceIn {
  const float* plain = nullptr;
  void* impl = nullptr;
};

// Runs one piece: in0/in1 its activation operands, shared already in e.shared_impl, bias (read or written) or null.
// The output goes to `out` (plain) or, with out null, stays in the calling thread's buffer in e.out_impl: the
// returned pointer.
void* run_piece_io(const Entry& e, PieceIn in0, PieceIn in1, void* shared, float* bias, float* out) {
  single_threaded();
  thread_local dnnl::stream stream(engine());
  std::unordered_map<int, memory> args;
  const PieceIn ins[2] = {in0, in1};
  for (int i = 0; i < e.n_in; ++i) {
    if (ins[i].impl) {
      args.emplace(e.in_arg[i], memory(e.in_impl[i], engine(), ins[i].impl));
      continue;
    }
    memory plain(e.in_plain[i], engine(), const_cast<float*>(ins[i].plain));
    if (e.in_re[i]) {
      memory impl(e.in_impl[i], engine(), buffer(i, e.in_impl[i].get_size()));
      e.in_reorder[i].run(stream, plain, impl);
      args.emplace(e.in_arg[i], impl);
    } else {
      args.emplace(e.in_arg[i], plain);
    }
  }
  void* const out_at = out && !e.out_re ? static_cast<void*>(out) : buffer(2, e.out_impl.get_size());
  memory out_impl(e.out_impl, engine(), out_at);
  args.emplace(e.out_arg, out_impl);
  if (e.shared_arg) args.emplace(e.shared_arg, memory(e.shared_impl, engine(), shared));
  if (e.bias_arg) args.emplace(e.bias_arg, memory(e.bias_desc, engine(), bias));
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(e.scratch, engine(), buffer(3, e.scratch.get_size())));
  e.prim.execute(stream, args);
  if (out && e.out_re) e.out_reorder.run(stream, out_impl, memory(e.out_plain, engine(), out));
  stream.wait();
  return out ? static_cast<void*>(out) : out_at;
}
void run_piece(const Entry& e, const float* in0, const float* in1, void* shared, float* bias, float* out) {
  run_piece_io(e, {in0}, {in1}, shared, bias, out);
}

// Whether the shape is one to send to oneDNN at all (no empty dims; sizes oneDNN's int dims hold).
bool usable(const ConvShape& s) {
  if (!g_enabled.load(std::memory_order_relaxed)) return false;
  const Window2d& g = s.win;
  constexpr int64_t kMax = int64_t{1} << 30;
  for (int64_t v : {s.N, s.C, s.O, s.G, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.Ho, g.Wo})
    if (v <= 0 || v > kMax) return false;
  if (g.ph < 0 || g.pw < 0 || g.ph > kMax || g.pw > kMax) return false;
  // element counts of every operand below 2^40 (so none of the products above overflow)
  if (!(s.N * s.C < kMax && g.H * g.W < kMax && s.N * s.O < kMax && g.Ho * g.Wo < kMax && s.O * s.C < kMax &&
        g.kh * g.kw < kMax))
    return false;
  // One piece (a single image) of much work: the im2col path splits its GEMMs over the threads instead (the
  // shape decides, so results still do not depend on the thread count).
  return piece_count(s) > 1 || double(s.O) * double(g.Ho * g.Wo) * double(s.C / s.G * g.kh * g.kw) <
                                   double(2 * kMinPieceMacs);
}

// The pieces [begin, end) of the batch and the entries for their sizes (at most two sizes).
struct Plan {
  int64_t pieces = 0;
  int64_t begin(int64_t i, int64_t N) const { return N * i / pieces; }
  std::shared_ptr<const Entry> small, large;  // sizes N / pieces and N / pieces + 1 (large null when even)
  int64_t small_mb = 0;
  const Entry& for_size(int64_t mb) const { return mb == small_mb ? *small : *large; }
};
bool plan(const ConvShape& s, int64_t pieces, Pass pass, bool bias, Plan& p) {
  p.pieces = pieces;
  p.small_mb = s.N / pieces;
  p.small = entry(s, p.small_mb, pass, bias);
  if (!p.small) return false;
  if (s.N % pieces) {
    p.large = entry(s, p.small_mb + 1, pass, bias);
    if (!p.large) return false;
  }
  return true;
}

// The weights in each entry's layout (one reorder per call, shared by the pieces); returns the pointer per entry.
struct SharedWeights {
  std::vector<char> small_buf, large_buf;
  void* small = nullptr;
  void* large = nullptr;
};
void* reorder_shared(const Entry& e, const float* w, std::vector<char>& buf) {
  if (!e.shared_re) return const_cast<float*>(w);
  single_threaded();
  thread_local dnnl::stream stream(engine());
  buf.resize(e.shared_impl.get_size() + 64);
  void* p = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) / 64 * 64);
  memory plain(e.shared_plain, engine(), const_cast<float*>(w)), impl(e.shared_impl, engine(), p);
  e.shared_reorder.run(stream, plain, impl);
  stream.wait();
  return p;
}
void prepare_shared(const Plan& p, const float* w, SharedWeights& sw) {
  sw.small = reorder_shared(*p.small, w, sw.small_buf);
  if (p.large) sw.large = reorder_shared(*p.large, w, sw.large_buf);
}

}  // namespace

bool dnnl_conv_enabled() { return g_enabled.load(); }
void set_dnnl_conv_enabled(bool on) { g_enabled.store(on); }
void set_dnnl_conv_any_layout(bool any) { g_any.store(any); }

namespace {

// Runs `pass` over the batch in `pieces` pieces: piece(entry, shared weights in its layout, n0, mb) for images
// [n0, n0 + mb). False when oneDNN refuses the shape.
template <class F>
bool over_pieces(const ConvShape& s, int64_t pieces, Pass pass, bool bias, const float* w, const F& piece) {
  Plan p;
  if (!plan(s, pieces, pass, bias, p)) return false;
  SharedWeights sw;
  if (w) prepare_shared(p, w, sw);
  parallel_chunks(p.pieces, [&](int64_t i) {
    const int64_t n0 = p.begin(i, s.N), mb = p.begin(i + 1, s.N) - n0;
    piece(p.for_size(mb), mb == p.small_mb ? sw.small : sw.large, i, n0, mb);
  });
  return true;
}

// The weight gradient over the pieces: piece 0 writes dw and db, the others their own part, summed in piece order.
// piece(entry, i, n0, mb, dw_part, db_part) runs a piece.
int64_t weight_grad_pieces(const ConvShape& s) {
  const int64_t wsize = s.O * (s.C / s.G) * s.win.kh * s.win.kw;
  return std::clamp<int64_t>(kMaxPartFloats / std::max<int64_t>(wsize + s.O, 1), 1, piece_count(s));
}
template <class F>
bool weight_grad_over_pieces(const ConvShape& s, float* dw, float* db, const F& piece) {
  const int64_t wsize = s.O * (s.C / s.G) * s.win.kh * s.win.kw;
  const int64_t pieces = weight_grad_pieces(s);
  thread_local std::vector<float> parts_buf;  // (the lambdas below run on other threads: they use `parts`)
  const int64_t part = wsize + s.O;
  if (parts_buf.size() < size_t((pieces - 1) * part)) parts_buf.resize((pieces - 1) * part);
  float* const parts = parts_buf.data();
  const bool ok = over_pieces(s, pieces, Pass::backward_weights, db != nullptr, nullptr,
                              [&](const Entry& e, void*, int64_t i, int64_t n0, int64_t mb) {
                                float* pw = i == 0 ? dw : parts + (i - 1) * part;
                                float* pb = !db ? nullptr : i == 0 ? db : parts + (i - 1) * part + wsize;
                                piece(e, n0, mb, pw, pb);
                              });
  if (!ok) return false;
  if (pieces > 1) {
    parallel_for(wsize, kParallelGrain, [&](int64_t a, int64_t e) {
      for (int64_t i = 1; i < pieces; ++i) {
        const float* q = parts + (i - 1) * part;
        for (int64_t k = a; k < e; ++k) dw[k] += q[k];
      }
    });
    if (db)
      for (int64_t i = 1; i < pieces; ++i)
        for (int64_t o = 0; o < s.O; ++o) db[o] += parts[(i - 1) * part + wsize + o];
  }
  return true;
}

// Where element (n, c, h, w) of a piece's activation lies in a oneDNN layout: n * sn + (c / B) * sc + h * sh + w * sw
// + c % B, with B = 1 for plain strides (nchw, nhwc) and the block size for channels in blocks (nChw8c, nChw16c).
struct Layout4 {
  int64_t sn = 0, sc = 0, sh = 0, sw = 0, B = 1;
  int64_t at(int64_t n, int64_t c, int64_t h, int64_t w) const { return n * sn + c / B * sc + h * sh + w * sw + c % B; }
};
std::optional<Layout4> layout_of(const memory::desc& d) {
  const dnnl_memory_desc_t& m = d.data;
  if (m.ndims != 4 || m.format_kind != dnnl_blocked || m.offset0 != 0) return std::nullopt;
  const auto& b = m.format_desc.blocking;
  Layout4 l{b.strides[0], b.strides[1], b.strides[2], b.strides[3], 1};
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1)
    l.B = b.inner_blks[0];
  else if (b.inner_nblks != 0)
    return std::nullopt;
  return l;
}
Layout4 plain_layout(int64_t O, int64_t H, int64_t W) { return {O * H * W, H * W, W, 1, 1}; }

// One element of the 2x2 window as max_pool2d's take_max (conv_kernels.cpp), without a branch: v replaces the
// maximum when larger or NaN, so the first maximum's position is kept.
inline void take_max2(float v, uint8_t i, float& m, uint8_t& k) {
  const bool take = (v > m) | (v != v);
  m = take ? v : m;
  k = take ? i : k;
}
inline float relu1(float m) { return m > 0.0f ? m : m != m ? m : 0.0f; }  // relu's forward (NaN stays NaN)

// relu(the maximum) of the 2x2 window whose elements are a[0], a[dw], a[dh], a[dh + dw], and into k its position
inline float window_max_relu(const float* a, int64_t dw, int64_t dh, uint8_t& k) {
  float m = a[0];
  k = 0;
  take_max2(a[dw], 1, m, k);
  take_max2(a[dh], 2, m, k);
  take_max2(a[dh + dw], 3, m, k);
  return relu1(m);
}

// Two 16 x 16 float tiles transposed in place (through registers)
inline void transpose_tiles(float (&a)[16][16], float (&b)[16][16]) {
  v16f ra[16], rb[16];
  std::memcpy(ra, a, sizeof ra);
  std::memcpy(rb, b, sizeof rb);
  transpose16x16(ra);
  transpose16x16(rb);
  std::memcpy(a, ra, sizeof ra);
  std::memcpy(b, rb, sizeof rb);
}

// One row of pooled outputs of 16 channels in blocks of B = 16 (nChw16c) or two blocks of B = 8 (nChw8c, sc apart),
// the channels of a block contiguous, starting at p, into the plain y and idx rows of its first nb channels (planes
// P apart): up to 16 outputs at a time, each a vector across the 16 channels (take_max2 and relu1 lane by lane),
// the 16 x 16 tile transposed in registers into rows of one channel. The same values as the other paths.
NERVE_SIMD_CLONES_V void pool2_block16_row(const float* p, int64_t B, int64_t sc, int64_t sw, int64_t sh, int64_t Wp,
                                           int64_t nb, int64_t P, float* y, uint8_t* idx) {
  alignas(64) float mt[16][16], kt[16][16];  // (output, channel), then (channel, output)
  for (int64_t w0 = 0; w0 < Wp; w0 += 16) {
    const int64_t nw = std::min<int64_t>(16, Wp - w0);
    for (int64_t q = nw; q < 16; ++q)  // rows past the outputs: transposed into columns not stored, zero all the same
#pragma omp simd
      for (int j = 0; j < 16; ++j) mt[q][j] = kt[q][j] = 0.0f;
    for (int64_t q = 0; q < nw; ++q)
      for (int64_t h = 0; h * B < 16; ++h) {  // each block (lanes h * B ...), or zeros past the last one
        float* mo = mt[q] + h * B;
        float* ko = kt[q] + h * B;
        if (h * B >= nb) {
#pragma omp simd
          for (int64_t j = 0; j < B; ++j) mo[j] = ko[j] = 0.0f;
          continue;
        }
        const float* p0 = p + h * sc + 2 * (w0 + q) * sw;
#pragma omp simd
        for (int64_t j = 0; j < B; ++j) {
          uint8_t i;
          mo[j] = window_max_relu(p0 + j, sw, sh, i);
          ko[j] = float(i);
        }
      }
    transpose_tiles(mt, kt);
    for (int64_t j = 0; j < nb; ++j) {
      float* yo = y + j * P + w0;
      uint8_t* io = idx + j * P + w0;
#pragma omp simd
      for (int64_t q = 0; q < nw; ++q) {
        yo[q] = mt[j][q];
        io[q] = static_cast<uint8_t>(kt[j][q]);
      }
    }
  }
}

// pool2_block16_row's backward: for one row of pooled outputs of 16 channels, the gradient g (rows of channel j at
// g + j * gs_c, outputs gs_w apart), y and idx (plain rows P apart) of its first nb channels, transposed into
// (output, channel) tiles, then each window of the conv output's gradient d (blocks of B channels, sc apart, from
// its first element) written as four vectors per block: relu's and max_pool2d's backward (0 + g where selected and
// y > 0, +0 elsewhere, as pool2_relu_grad_piece), the padding channels of a last block 0.
NERVE_SIMD_CLONES_V void pool2_grad_block16_row(const float* g, int64_t gs_c, int64_t gs_w, const float* y,
                                                const uint8_t* idx, int64_t P, int64_t nb, int64_t Wp, float* d,
                                                int64_t B, int64_t sc, int64_t sw, int64_t sh) {
  alignas(64) float gt[16][16], kt[16][16];  // (channel, output), then (output, channel)
  for (int64_t w0 = 0; w0 < Wp; w0 += 16) {
    const int64_t nw = std::min<int64_t>(16, Wp - w0);
    for (int64_t j = 0; j < 16; ++j) {
      if (j >= nb) {
#pragma omp simd
        for (int q = 0; q < 16; ++q) gt[j][q] = kt[j][q] = 0.0f;
        continue;
      }
      const float* gr = g + j * gs_c + w0 * gs_w;
      const float* yr = y + j * P + w0;
      const uint8_t* kr = idx + j * P + w0;
      for (int64_t q = 0; q < 16; ++q) {
        gt[j][q] = q < nw ? 0.0f + (yr[q] <= 0.0f ? 0.0f : gr[q * gs_w]) : 0.0f;
        kt[j][q] = q < nw ? float(kr[q]) : 0.0f;
      }
    }
    transpose_tiles(gt, kt);
    for (int64_t q = 0; q < nw; ++q)
      for (int64_t h = 0; h * B < nb; ++h) {  // the blocks that exist
        float* w00 = d + h * sc + 2 * (w0 + q) * sw;
        float* w01 = w00 + sw;
        float* w10 = w00 + sh;
        float* w11 = w10 + sw;
        const float* gq = gt[q] + h * B;
        const float* kq = kt[q] + h * B;
#pragma omp simd
        for (int64_t j = 0; j < B; ++j) {
          const float v = gq[j], k = kq[j];
          w00[j] = k == 0.0f ? v : 0.0f;
          w01[j] = k == 1.0f ? v : 0.0f;
          w10[j] = k == 2.0f ? v : 0.0f;
          w11[j] = k == 3.0f ? v : 0.0f;
        }
      }
  }
}

// y = relu(max_pool2d(c, 2)) and idx (mb, O, Hp, Wp, plain) of a piece's conv output c (mb, O, Ho, Wo) in layout L;
// idx is the window position of the maximum (0 top left, 1 top right, 2 bottom left, 3 bottom right).
void pool2_relu_piece(const float* c, const Layout4& L, int64_t mb, int64_t O, int64_t Hp, int64_t Wp, float* y,
                      uint8_t* idx) {
  const int64_t P = Hp * Wp;
  for (int64_t n = 0; n < mb; ++n) {
    if (L.B == 1) {  // plain: along the row
      for (int64_t ch = 0; ch < O; ++ch)
        for (int64_t ph = 0; ph < Hp; ++ph) {
          const float* r0 = c + L.at(n, ch, 2 * ph, 0);
          float* yo = y + (n * O + ch) * P + ph * Wp;
          uint8_t* io = idx + (n * O + ch) * P + ph * Wp;
          const int64_t sw = L.sw;
#pragma omp simd
          for (int64_t pw = 0; pw < Wp; ++pw) yo[pw] = window_max_relu(r0 + 2 * pw * sw, sw, L.sh, io[pw]);
        }
      continue;
    }
    if (L.B == 16 || L.B == 8) {  // nChw16c (AVX-512), nChw8c (AVX2): 16 x 16 tiles, transposed in registers
      for (int64_t c0 = 0; c0 < O; c0 += 16)
        for (int64_t ph = 0; ph < Hp; ++ph)
          pool2_block16_row(c + L.at(n, c0, 2 * ph, 0), L.B, L.sc, L.sw, L.sh, Wp, std::min<int64_t>(16, O - c0), P,
                            y + (n * O + c0) * P + ph * Wp, idx + (n * O + c0) * P + ph * Wp);
      continue;
    }
    for (int64_t c0 = 0; c0 < O; c0 += L.B) {  // other block sizes (nChw4c): across the block, one store each
      const int64_t nb = std::min(L.B, O - c0);
      for (int64_t ph = 0; ph < Hp; ++ph)
        for (int64_t pw = 0; pw < Wp; ++pw) {
          const float* p0 = c + L.at(n, c0, 2 * ph, 2 * pw);
          float* yo = y + (n * O + c0) * P + ph * Wp + pw;
          uint8_t* io = idx + (n * O + c0) * P + ph * Wp + pw;
#pragma omp simd
          for (int64_t j = 0; j < nb; ++j) yo[j * P] = window_max_relu(p0 + j, L.sw, L.sh, io[j * P]);
        }
    }
  }
}

// The gradient of a piece's conv output in layout L at d (`bytes` long): each pooled gradient dy (strides ds)
// through relu's backward (0 where y <= 0) at the window position idx names, 0 elsewhere, as relu's and
// max_pool2d's backward compute it (0 + g: the same signed zeros). Plain rows with unit strides write whole windows
// without branches (vectorized along the row); other layouts are zeroed, then take one store per pooled value.
void pool2_relu_grad_piece(const float* dy, const int64_t* ds, const float* y, const uint8_t* idx, int64_t mb,
                           int64_t O, int64_t Ho, int64_t Wo, const Layout4& L, float* d, size_t bytes) {
  const int64_t Hp = Ho / 2, Wp = Wo / 2;
  if ((L.B == 16 || L.B == 8) && Ho % 2 == 0 && Wo % 2 == 0) {  // every element written: no memset
    for (int64_t n = 0; n < mb; ++n)
      for (int64_t c0 = 0; c0 < O; c0 += 16)
        for (int64_t ph = 0; ph < Hp; ++ph) {
          const int64_t o = ((n * O + c0) * Hp + ph) * Wp;
          pool2_grad_block16_row(dy + n * ds[0] + c0 * ds[1] + ph * ds[2], ds[1], ds[3], y + o, idx + o, Hp * Wp,
                                 std::min<int64_t>(16, O - c0), Wp, d + L.at(n, c0, 2 * ph, 0), L.B, L.sc, L.sw,
                                 L.sh);
        }
    return;
  }
  const bool rows = L.B == 1 && L.sw == 1 && ds[3] == 1;
  if (!rows || Ho % 2 || Wo % 2) std::memset(d, 0, bytes);  // (rows: only an odd last row or column is not written)
  for (int64_t n = 0; n < mb; ++n)
    for (int64_t ch = 0; ch < O; ++ch)
      for (int64_t ph = 0; ph < Hp; ++ph) {
        const int64_t o = ((n * O + ch) * Hp + ph) * Wp;
        const float* g = dy + n * ds[0] + ch * ds[1] + ph * ds[2];
        float* r0 = d + L.at(n, ch, 2 * ph, 0);
        if (rows) {  // each value masked into its window's four places (+0 where not selected), no branches
          float* __restrict w0 = r0;
          float* __restrict w1 = r0 + L.sh;
          const float* __restrict yr = y + o;
          const uint8_t* __restrict kr = idx + o;
          const float* __restrict gr = g;
#pragma omp simd
          for (int64_t pw = 0; pw < Wp; ++pw) {
            const uint32_t pass = -uint32_t(!(yr[pw] <= 0.0f));  // relu's backward: y <= 0 gives 0
            const uint32_t v = std::bit_cast<uint32_t>(0.0f + std::bit_cast<float>(std::bit_cast<uint32_t>(gr[pw]) & pass));
            const uint32_t k = kr[pw];
            w0[2 * pw] = std::bit_cast<float>(v & -uint32_t(k == 0));
            w0[2 * pw + 1] = std::bit_cast<float>(v & -uint32_t(k == 1));
            w1[2 * pw] = std::bit_cast<float>(v & -uint32_t(k == 2));
            w1[2 * pw + 1] = std::bit_cast<float>(v & -uint32_t(k == 3));
          }
          continue;
        }
        for (int64_t pw = 0; pw < Wp; ++pw) {
          const float v = 0.0f + (y[o + pw] <= 0.0f ? 0.0f : g[pw * ds[3]]);
          const int k = idx[o + pw];
          r0[(k >> 1) * L.sh + (2 * pw + (k & 1)) * L.sw] = v;
        }
      }
}

// A piece's conv-output gradient for entry e's operand `arg` (0 or 1), built in buffer `slot` in that operand's
// layout (or plain when oneDNN's layout is not one Layout4 describes)
PieceIn pooled_grad(const Entry& e, int arg, const PoolGrad& g, int64_t n0, int64_t mb, int slot) {
  const ConvShape& s = g.s;
  const int64_t P = s.O * (s.win.Ho / 2) * (s.win.Wo / 2);
  const std::optional<Layout4> L = layout_of(e.in_impl[arg]);
  const memory::desc& at = L ? e.in_impl[arg] : e.in_plain[arg];
  float* d = static_cast<float*>(buffer(slot, at.get_size()));
  pool2_relu_grad_piece(g.dy + n0 * g.dy_strides[0], g.dy_strides, g.y + n0 * P, g.idx + n0 * P, mb, s.O, s.win.Ho,
                        s.win.Wo, L ? *L : plain_layout(s.O, s.win.Ho, s.win.Wo), d, at.get_size());
  return L ? PieceIn{nullptr, d} : PieceIn{d, nullptr};
}

bool pool2_relu_backward_data(const PoolGrad& g, const float* w, float* dx) {
  const int64_t xs = g.s.C * g.s.win.H * g.s.win.W;
  return over_pieces(g.s, piece_count(g.s), Pass::backward_data, false, w,
                     [&](const Entry& e, void* shared, int64_t, int64_t n0, int64_t mb) {
                       run_piece_io(e, pooled_grad(e, 0, g, n0, mb, 5), {}, shared, nullptr, dx + n0 * xs);
                     });
}

}  // namespace

bool dnnl_conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (!usable(s)) return false;
  const int64_t xs = s.C * s.win.H * s.win.W, ys = s.O * s.win.Ho * s.win.Wo;
  return over_pieces(s, piece_count(s), Pass::forward, b != nullptr, w,
                     [&](const Entry& e, void* shared, int64_t, int64_t n0, int64_t) {
                       run_piece(e, x + n0 * xs, nullptr, shared, const_cast<float*>(b), y + n0 * ys);
                     });
}

bool dnnl_conv2d_backward_data(const ConvShape& s, const float* w, const float* dy, float* dx) {
  if (!usable(s)) return false;
  const int64_t xs = s.C * s.win.H * s.win.W, ys = s.O * s.win.Ho * s.win.Wo;
  return over_pieces(s, piece_count(s), Pass::backward_data, false, w,
                     [&](const Entry& e, void* shared, int64_t, int64_t n0, int64_t) {
                       run_piece(e, dy + n0 * ys, nullptr, shared, nullptr, dx + n0 * xs);
                     });
}

bool dnnl_conv2d_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw, float* db) {
  if (!usable(s)) return false;
  const int64_t xs = s.C * s.win.H * s.win.W, ys = s.O * s.win.Ho * s.win.Wo;
  return weight_grad_over_pieces(s, dw, db, [&](const Entry& e, int64_t n0, int64_t, float* pw, float* pb) {
    run_piece(e, x + n0 * xs, dy + n0 * ys, nullptr, pb, pw);
  });
}

bool dnnl_conv2d_pool2_relu_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                                    uint8_t* idx) {
  if (!usable(s) || s.win.Ho < 2 || s.win.Wo < 2) return false;
  const int64_t xs = s.C * s.win.H * s.win.W, Hp = s.win.Ho / 2, Wp = s.win.Wo / 2, ps = s.O * Hp * Wp;
  return over_pieces(s, piece_count(s), Pass::forward, b != nullptr, w,
                     [&](const Entry& e, void* shared, int64_t, int64_t n0, int64_t mb) {
                       const std::optional<Layout4> L = layout_of(e.out_impl);
                       // (a layout Layout4 does not describe: the conv output reordered to plain in buffer 5)
                       float* plain = L ? nullptr : static_cast<float*>(buffer(5, e.out_plain.get_size()));
                       const void* c = run_piece_io(e, {x + n0 * xs}, {}, shared, const_cast<float*>(b), plain);
                       pool2_relu_piece(static_cast<const float*>(c), L ? *L : plain_layout(s.O, s.win.Ho, s.win.Wo),
                                        mb, s.O, Hp, Wp, y + n0 * ps, idx + n0 * ps);
                     });
}

bool dnnl_conv2d_pool2_relu_backward(const PoolGrad& g, const float* x, const float* w, float* dx, float* dw,
                                     float* db) {
  const ConvShape& s = g.s;
  if (!usable(s) || s.win.Ho < 2 || s.win.Wo < 2) return false;
  if (!dw) return pool2_relu_backward_data(g, w, dx);
  // both gradients: in one pass over the pieces when they are the same pieces, each piece's conv-output gradient
  // built once for both primitives (when they read it in one layout) and still in cache for the second
  Plan pd;
  SharedWeights sw;
  const bool together = dx && weight_grad_pieces(s) == piece_count(s) &&
                        plan(s, piece_count(s), Pass::backward_data, false, pd);
  if (together)
    prepare_shared(pd, w, sw);
  else if (dx && !pool2_relu_backward_data(g, w, dx))
    return false;
  const int64_t xs = s.C * s.win.H * s.win.W;
  return weight_grad_over_pieces(s, dw, db, [&](const Entry& e, int64_t n0, int64_t mb, float* pw, float* pb) {
    const PieceIn d = pooled_grad(e, 1, g, n0, mb, 5);
    if (together) {
      const Entry& ed = pd.for_size(mb);
      const PieceIn dd = ed.in_impl[0] == e.in_impl[1] ? d : pooled_grad(ed, 0, g, n0, mb, 6);
      run_piece_io(ed, dd, {}, mb == pd.small_mb ? sw.small : sw.large, nullptr, dx + n0 * xs);
    }
    run_piece_io(e, {x + n0 * xs}, d, nullptr, pb, pw);
  });
}

void conv2d_pool2_relu_grad(const PoolGrad& g, float* dc) {
  const ConvShape& s = g.s;
  pool2_relu_grad_piece(g.dy, g.dy_strides, g.y, g.idx, s.N, s.O, s.win.Ho, s.win.Wo,
                        plain_layout(s.O, s.win.Ho, s.win.Wo), dc, size_t(s.N * s.O * s.win.Ho * s.win.Wo) * sizeof(float));
}

}  // namespace nerve::cpu
