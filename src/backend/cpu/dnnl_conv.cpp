// oneDNN convolutions (see dnnl_conv.h). Primitives are made once per shape, piece size and pass, kept in a
// bounded cache, and run single-threaded (with a scratchpad of the calling thread) on the pieces of the batch.
#include "backend/cpu/dnnl_conv.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

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

// 64-byte aligned scratch buffers of the calling thread, grown on demand (slot: what it holds).
void* buffer(int slot, size_t bytes) {
  struct Buf {
    void* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local std::array<Buf, 5> bufs;
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

// Runs one piece: in0/in1 plain activations, shared already in e.shared_impl, bias (read or written) or null,
// out plain.
void run_piece(const Entry& e, const float* in0, const float* in1, void* shared, float* bias, float* out) {
  single_threaded();
  thread_local dnnl::stream stream(engine());
  std::unordered_map<int, memory> args;
  const float* ins[2] = {in0, in1};
  for (int i = 0; i < e.n_in; ++i) {
    memory plain(e.in_plain[i], engine(), const_cast<float*>(ins[i]));
    if (e.in_re[i]) {
      memory impl(e.in_impl[i], engine(), buffer(i, e.in_impl[i].get_size()));
      e.in_reorder[i].run(stream, plain, impl);
      args.emplace(e.in_arg[i], impl);
    } else {
      args.emplace(e.in_arg[i], plain);
    }
  }
  memory out_plain(e.out_plain, engine(), out);
  memory out_impl = e.out_re ? memory(e.out_impl, engine(), buffer(2, e.out_impl.get_size())) : out_plain;
  args.emplace(e.out_arg, out_impl);
  if (e.shared_arg) args.emplace(e.shared_arg, memory(e.shared_impl, engine(), shared));
  if (e.bias_arg) args.emplace(e.bias_arg, memory(e.bias_desc, engine(), bias));
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(e.scratch, engine(), buffer(3, e.scratch.get_size())));
  e.prim.execute(stream, args);
  if (e.out_re) e.out_reorder.run(stream, out_impl, out_plain);
  stream.wait();
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

bool dnnl_conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (!usable(s)) return false;
  Plan p;
  if (!plan(s, piece_count(s), Pass::forward, b != nullptr, p)) return false;
  SharedWeights sw;
  prepare_shared(p, w, sw);
  const int64_t xs = s.C * s.win.H * s.win.W, ys = s.O * s.win.Ho * s.win.Wo;
  parallel_chunks(p.pieces, [&](int64_t i) {
    const int64_t n0 = p.begin(i, s.N), mb = p.begin(i + 1, s.N) - n0;
    run_piece(p.for_size(mb), x + n0 * xs, nullptr, mb == p.small_mb ? sw.small : sw.large, const_cast<float*>(b),
              y + n0 * ys);
  });
  return true;
}

bool dnnl_conv2d_backward_data(const ConvShape& s, const float* w, const float* dy, float* dx) {
  if (!usable(s)) return false;
  Plan p;
  if (!plan(s, piece_count(s), Pass::backward_data, false, p)) return false;
  SharedWeights sw;
  prepare_shared(p, w, sw);
  const int64_t xs = s.C * s.win.H * s.win.W, ys = s.O * s.win.Ho * s.win.Wo;
  parallel_chunks(p.pieces, [&](int64_t i) {
    const int64_t n0 = p.begin(i, s.N), mb = p.begin(i + 1, s.N) - n0;
    run_piece(p.for_size(mb), dy + n0 * ys, nullptr, mb == p.small_mb ? sw.small : sw.large, nullptr, dx + n0 * xs);
  });
  return true;
}

bool dnnl_conv2d_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw, float* db) {
  if (!usable(s)) return false;
  const int64_t wsize = s.O * (s.C / s.G) * s.win.kh * s.win.kw;
  const int64_t pieces = std::clamp<int64_t>(kMaxPartFloats / std::max<int64_t>(wsize + s.O, 1), 1, piece_count(s));
  Plan p;
  if (!plan(s, pieces, Pass::backward_weights, db != nullptr, p)) return false;
  // piece 0 writes dw and db; the others their own part, summed in piece order below
  thread_local std::vector<float> parts_buf;  // (the lambdas below run on other threads: they use `parts`)
  const int64_t part = wsize + s.O;
  if (parts_buf.size() < size_t((pieces - 1) * part)) parts_buf.resize((pieces - 1) * part);
  float* const parts = parts_buf.data();
  const int64_t xs = s.C * s.win.H * s.win.W, ys = s.O * s.win.Ho * s.win.Wo;
  parallel_chunks(pieces, [&](int64_t i) {
    const int64_t n0 = p.begin(i, s.N), mb = p.begin(i + 1, s.N) - n0;
    float* pw = i == 0 ? dw : parts + (i - 1) * part;
    float* pb = !db ? nullptr : i == 0 ? db : parts + (i - 1) * part + wsize;
    run_piece(p.for_size(mb), x + n0 * xs, dy + n0 * ys, nullptr, pb, pw);
  });
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

}  // namespace nerve::cpu
