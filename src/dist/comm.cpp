// The process group and the collectives: MPI (OpenMPI) under mpirun, a world of one otherwise. Non-blocking
// collectives are MPI-3's MPI_I*; a Work holds the request and what to do once it completes (divide for average,
// copy back into a non-contiguous view).
#include "nerve/dist/comm.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <type_traits>
#include <vector>

#include "nerve/autograd/grad_mode.h"
#include "nerve/core/error.h"
#include "nerve/ops/ops.h"

#ifdef NERVE_WITH_MPI
#include <mpi.h>
#endif

namespace nerve::dist {

struct Work::State {
#ifdef NERVE_WITH_MPI
  MPI_Request req = MPI_REQUEST_NULL;
#endif
  bool done = false;
  std::function<void()> finish;  // runs once the data has arrived (average, copy back)
  Tensor keep[2];                // the buffers MPI reads and writes until then
};

namespace {
struct World {
  bool initialized = false, mpi = false;
  int rank = 0, local_rank = 0, size = 1;
};

#ifdef NERVE_WITH_MPI
// All-reduce through a shared-memory window, for jobs whose ranks all run on one machine. Each call (called in the
// same order on every rank, as every collective is):
//   1. each rank copies its tensor into its slot of the window (all but its own chunk, which it reads in place);
//   2. barrier; rank r reduces chunk r (its 1/w share of the elements) over the ranks' values, in rank order, into
//      chunk r of its own slot and of its tensor (average: then divides, as divide_by_world does);
//   3. barrier; each rank copies chunk k of the result out of rank k's slot, for every other k.
// Every element is reduced once, by one rank, in rank order: every rank gets the same bits, at any timing; each
// element crosses between cores once each way, and no rank writes into another's slot. Calls alternate between two
// halves of the window, so a rank one call ahead never writes what a slower rank still reads (the barriers keep any
// rank from getting two calls ahead); tensors beyond a slot go in slot-sized pieces. It is synchronous: the blocking
// all_reduce takes it for any size, all_reduce_async only from kShmAsyncMinBytes up (a small bucket's all-reduce
// in flight through MPI overlaps the rest of backward; a large one costs copies, which this path halves).
// bench/bench_allreduce, 2 ranks on this 2-core VM, the two paths alternating in one process (4 runs): the MLP's
// 407 KB in 71-176 us against 145-302 us through Open MPI's MPI_Iallreduce, 1.76 MB in 404-670 against 642-1398.
// NERVE_DIST_SHM=0 or set_shared_memory(false) turns it off (every all-reduce then goes through MPI).
struct SharedWindow {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Win win = MPI_WIN_NULL;
  char* base = nullptr;    // rank 0's segment: 2 halves x size slots x slot_bytes
  int64_t slot_bytes = 0;  // capacity of one slot
  int calls = 0;           // which half the next call uses
  bool usable = false;     // every rank of the job shares this machine (and the window could be made)
  bool enabled = true;     // NERVE_DIST_SHM is not 0, or set_shared_memory(true)
};
SharedWindow& shm() {
  static SharedWindow s;
  return s;
}
// the largest slot: larger tensors are reduced in pieces of this size (the window holds 2 x world size slots of
// shared memory, at most 8 MB per rank)
constexpr int64_t kShmSlotMaxBytes = int64_t{4} << 20;
// all_reduce_async leaves smaller tensors to MPI's non-blocking all-reduce
constexpr int64_t kShmAsyncMinBytes = int64_t{64} << 10;
#endif
World& world() {
  static World w;
  return w;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

#ifdef NERVE_WITH_MPI
// A rank that exits with a non-zero status (a caught error, a failed test) aborts the job: the other ranks may be
// waiting for it in a collective, and MPI_Finalize would wait for them. A zero status finalizes.
void on_exit_handler(int status, void*) {
  if (status != 0) abort_job("exited with status " + std::to_string(status), status);
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  SharedWindow& sh = shm();
  if (sh.win != MPI_WIN_NULL) {
    MPI_Win_unlock_all(sh.win);
    MPI_Win_free(&sh.win);
  }
  if (sh.node != MPI_COMM_NULL) MPI_Comm_free(&sh.node);
  MPI_Finalize();
}

void on_terminate() {
  std::string what = "terminate called (no active exception)";
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = std::string("uncaught exception: ") + ex.what();
    } catch (...) {
      what = "uncaught exception of an unknown type";
    }
  }
  abort_job(what, 1);
}

MPI_Datatype mpi_type(DType d, const char* fn) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    case DType::i32: return MPI_INT32_T;
    case DType::u8: case DType::b8: return MPI_UINT8_T;
    case DType::i8: return MPI_INT8_T;
    case DType::bf16: case DType::f16: return MPI_UINT16_T;  // moved as bits (reductions refuse them)
  }
  throw Error(std::string(fn) + ": unknown dtype");
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: case ReduceOp::average: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  return MPI_SUM;
}

int count_of(const Tensor& t, const char* fn) {
  NERVE_CHECK(t.numel() <= INT_MAX, fn, ": ", t.numel(), " elements is more than one MPI call takes (", INT_MAX,
              "); split the tensor");
  return static_cast<int>(t.numel());
}
#endif

void check_tensor(const Tensor& t, const char* fn, const char* arg) {
  detail::check_arg(t, fn, arg);
  NERVE_CHECK(!t.is_meta(), fn, ": argument '", arg, "' is a meta tensor ", nerve::to_string(t.shape()),
              " (collectives move data; meta tensors have none)");
}

void check_reduce(const Tensor& t, ReduceOp op, const char* fn) {
  DType d = t.dtype();
  NERVE_CHECK(d != DType::bf16 && d != DType::f16, fn, ": ", to_string(op), " of ", dtype_name(d),
              " is not supported (convert to f32 first)");
  NERVE_CHECK(d != DType::b8 || op == ReduceOp::max || op == ReduceOp::min, fn, ": ", to_string(op),
              " of bool is not supported (max is a logical or, min a logical and)");
  NERVE_CHECK(op != ReduceOp::average || is_floating(d), fn, ": average needs a floating dtype, got ", dtype_name(d),
              " (use sum)");
}

// p[i] /= w (a power of two: times 1 / w, exact and without divides); the MPI path and the shared-memory one alike
template <class T>
void divide_rows(T* p, int64_t n, int w) {
  if ((w & (w - 1)) == 0) {
    const T inv = static_cast<T>(1.0 / w);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) p[i] = p[i] * inv;
  } else {
    const T d = static_cast<T>(w);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] / d);
  }
}

// out /= world size, in place (out contiguous)
[[maybe_unused]] void divide_by_world(const Tensor& out) {
  visit_floating(out.dtype(), "all_reduce",
                 [&](auto tag) { divide_rows(out.data<decltype(tag)>(), out.numel(), world_size()); });
}

// a contiguous tensor holding t's data: t itself when it is contiguous, else a copy
Tensor contiguous_buffer(const Tensor& t) {
  NoGradGuard g;
  return t.is_contiguous() ? t : t.contiguous();
}

Work completed_work() { return Work(); }

#ifdef NERVE_WITH_MPI
template <class T>
T combine(T a, T b, ReduceOp op) {
  if (op == ReduceOp::sum || op == ReduceOp::average) return static_cast<T>(a + b);
  if (a != a) return a;  // a NaN wins max and min
  if (b != b) return b;
  return op == ReduceOp::max ? (a < b ? b : a) : (b < a ? b : a);
}

// dst = a op b, elementwise (dst may be a). omp simd: at -O2 GCC would not vectorize loops whose pointers may alias
// (1 ns per element instead of ~0.1 on the 407 KB all-reduce's chunk)
template <class T>
void reduce_rows(T* dst, const T* a, const T* b, int64_t n, ReduceOp op) {
  switch (op) {  // one loop per op, so each vectorizes
    case ReduceOp::sum: case ReduceOp::average:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(a[i] + b[i]);
      break;
    default:
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) dst[i] = combine(a[i], b[i], op);
  }
}

// grows the window to slots of at least `bytes` (every rank calls it with the same size, in the same call);
// false when the machine refuses the memory, on every rank alike
bool shm_reserve(int64_t bytes) {
  SharedWindow& sh = shm();
  if (bytes <= sh.slot_bytes) return true;
  if (sh.win != MPI_WIN_NULL) {
    MPI_Win_unlock_all(sh.win);
    MPI_Win_free(&sh.win);
    sh.base = nullptr;
    sh.slot_bytes = 0;
  }
  int64_t slot = int64_t{256} << 10;
  while (slot < bytes) slot *= 2;  // a power of two: a multiple of every item size
  const World& w = world();
  MPI_Comm_set_errhandler(sh.node, MPI_ERRORS_RETURN);
  void* mine = nullptr;
  int rc = MPI_Win_allocate_shared(w.rank == 0 ? 2 * w.size * slot : 0, 1, MPI_INFO_NULL, sh.node, &mine, &sh.win);
  int ok = rc == MPI_SUCCESS ? 1 : 0, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!all) {
    if (rc == MPI_SUCCESS) MPI_Win_free(&sh.win);
    sh.win = MPI_WIN_NULL;
    sh.usable = false;  // from now on through MPI
    return false;
  }
  MPI_Aint size0 = 0;
  int disp = 0;
  void* base0 = nullptr;
  MPI_Win_shared_query(sh.win, 0, &size0, &disp, &base0);
  sh.base = static_cast<char*>(base0);
  sh.slot_bytes = slot;
  MPI_Win_lock_all(MPI_MODE_NOCHECK, sh.win);
  return true;
}

void shm_fence() {
  SharedWindow& sh = shm();
  MPI_Win_sync(sh.win);
  MPI_Barrier(sh.node);
  MPI_Win_sync(sh.win);
}

// one piece (at most a slot) of the shared-memory all-reduce, in place
void shm_piece(char* data, int64_t n, DType dtype, ReduceOp op) {
  SharedWindow& sh = shm();
  const World& w = world();
  const int size = w.size, r = w.rank;
  const int64_t es = static_cast<int64_t>(itemsize(dtype));
  char* half = sh.base + (sh.calls++ & 1) * size * sh.slot_bytes;
  auto lo = [&](int k) { return n * k / size; };  // chunk k: elements [lo(k), lo(k + 1))
  char* my = half + r * sh.slot_bytes;
  std::memcpy(my, data, static_cast<size_t>(lo(r) * es));  // all but this rank's own chunk, which it reads in place
  std::memcpy(my + lo(r + 1) * es, data + lo(r + 1) * es, static_cast<size_t>((n - lo(r + 1)) * es));
  shm_fence();
  const int64_t a = lo(r), len = lo(r + 1) - a;
  // chunk r of the ranks' values (x_k in rank k's slot, this rank's own in place), reduced in rank order, into chunk
  // r of this rank's slot, where the others read it, and of this rank's tensor. Other slots are read with memcpy into
  // local buffers first: lines another core just wrote arrive ~20x faster that way than through the reducing loop's
  // loads (200 us -> 9 us for 200 KB here). No rank writes into another's slot.
  static thread_local std::vector<char> acc_buf, in_buf;
  acc_buf.resize(static_cast<size_t>(len * es));
  in_buf.resize(static_cast<size_t>(len * es));
  auto slot_chunk = [&](int k) { return half + k * sh.slot_bytes + a * es; };
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* acc = reinterpret_cast<T*>(acc_buf.data());
    T* in = reinterpret_cast<T*>(in_buf.data());
    T* own = reinterpret_cast<T*>(data) + a;
    const size_t chunk_bytes = static_cast<size_t>(len) * sizeof(T);
    std::memcpy(acc, r == 0 ? reinterpret_cast<const char*>(own) : slot_chunk(0), chunk_bytes);
    for (int k = 1; k < size; ++k) {
      const T* x = own;
      if (k != r) {
        std::memcpy(in, slot_chunk(k), chunk_bytes);
        x = in;
      }
      reduce_rows(acc, acc, x, len, op);
    }
    if constexpr (std::is_floating_point_v<T>)
      if (op == ReduceOp::average) divide_rows(acc, len, size);
    std::memcpy(my + a * es, acc, chunk_bytes);
    std::memcpy(own, acc, chunk_bytes);
  });
  shm_fence();
  for (int k = 0; k < size; ++k)  // chunk k of the result, from rank k's slot
    if (k != r)
      std::memcpy(data + lo(k) * es, half + k * sh.slot_bytes + lo(k) * es, static_cast<size_t>((lo(k + 1) - lo(k)) * es));
}

// the shared-memory all-reduce of buf (contiguous), in place, in pieces of at most a slot; false when it does not
// apply (then MPI does it)
bool shm_all_reduce(const Tensor& buf, ReduceOp op) {
  SharedWindow& sh = shm();
  const int64_t n = buf.numel(), es = static_cast<int64_t>(itemsize(buf.dtype()));
  if (!sh.usable || !sh.enabled || buf.dtype() == DType::i8) return false;
  if (!shm_reserve(std::min(n * es, kShmSlotMaxBytes))) return false;
  const int64_t piece = sh.slot_bytes / es;
  char* data = static_cast<char*>(buf.raw_data());
  for (int64_t off = 0; off < n; off += piece) shm_piece(data + off * es, std::min(piece, n - off), buf.dtype(), op);
  return true;
}
#endif
}  // namespace

const char* to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::average: return "average";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
  }
  return "?";
}

void init() {
  World& w = world();
  if (w.initialized) return;
  w.initialized = true;
#ifdef NERVE_WITH_MPI
  // only under mpirun: a plain run stays a world of one (an MPI singleton would start a daemon)
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("PMIX_RANK") == nullptr) return;
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    // Open MPI's non-blocking all-reduce (libnbc) takes a binomial tree for every in-place call and for any call
    // with fewer than 4 ranks: a reduce to rank 0 then a broadcast, the whole buffer moved twice, one after the
    // other. Reduce-scatter + all-gather (Rabenseifner, its algorithm 3) moves half of it per rank with 2 ranks:
    // the MLP's 407 KB of gradients in ~0.25 ms against ~0.43 ms (bench/bench_allreduce, 2 ranks, loaded VM).
    // Every rank still gets the same sums. A choice the user made (the environment, mpirun --mca) is kept.
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", 0);
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  w.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  w.mpi = true;
  {
    SharedWindow& sh = shm();
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &sh.node);
    int node_size = 0;
    MPI_Comm_size(sh.node, &node_size);
    const char* off = std::getenv("NERVE_DIST_SHM");
    sh.enabled = !(off && std::string(off) == "0");
    // the same answer on every rank (a rank that went its own way would wait forever in the other's collective)
    int mine = node_size == w.size ? 1 : 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    sh.usable = all == 1;
  }
  on_exit(on_exit_handler, nullptr);
  std::set_terminate(on_terminate);
#else
  (void)env_int;
#endif
}

int rank() { return init(), world().rank; }
int local_rank() { return init(), world().local_rank; }
int world_size() { return init(), world().size; }
bool is_mpi() { return init(), world().mpi; }
bool built_with_mpi() {
#ifdef NERVE_WITH_MPI
  return true;
#else
  return false;
#endif
}

void abort_job(const std::string& why, int code) {
  const World& w = world();
  std::fprintf(stderr, "nerve::dist: rank %d of %d: %s; stopping the job\n", w.rank, w.size, why.c_str());
  std::fflush(stderr);
#ifdef NERVE_WITH_MPI
  if (w.mpi) MPI_Abort(MPI_COMM_WORLD, code == 0 ? 1 : code);
#endif
  std::_Exit(code == 0 ? 1 : code);
}

// ------------------------------------------------------------------ Work
void Work::wait() {
  if (!s_ || s_->done) return;
#ifdef NERVE_WITH_MPI
  MPI_Wait(&s_->req, MPI_STATUS_IGNORE);
#endif
  s_->done = true;
  if (s_->finish) s_->finish();
  s_->keep[0] = s_->keep[1] = Tensor();
}

bool Work::test() {
  if (!s_ || s_->done) return true;
#ifdef NERVE_WITH_MPI
  int flag = 0;
  MPI_Test(&s_->req, &flag, MPI_STATUS_IGNORE);
  if (!flag) return false;
#endif
  wait();
  return true;
}

bool Work::completed() const { return !s_ || s_->done; }

// ------------------------------------------------------------------ collectives
namespace {
// blocking: the caller waits for the result at once (all_reduce), so the shared-memory path takes any size
Work all_reduce_impl(const Tensor& t, ReduceOp op, bool blocking) {
  check_tensor(t, "all_reduce", "t");
  check_reduce(t, op, "all_reduce");
  if (world_size() == 1) return completed_work();  // sum, average, max, min of one value: itself
#ifdef NERVE_WITH_MPI
  Tensor buf = contiguous_buffer(t);
  const bool big = buf.numel() * static_cast<int64_t>(itemsize(buf.dtype())) >= kShmAsyncMinBytes;
  if ((blocking || big) && shm_all_reduce(buf, op)) {  // done already, on a shared-memory job (see SharedWindow)
    if (buf.impl() != t.impl()) {
      NoGradGuard g;
      Tensor(t).copy_(buf);
    }
    return completed_work();
  }
  auto s = std::make_shared<Work::State>();
  int n = count_of(buf, "all_reduce");
  MPI_Iallreduce(MPI_IN_PLACE, n ? buf.raw_data() : nullptr, n, mpi_type(t.dtype(), "all_reduce"), mpi_op(op),
                 MPI_COMM_WORLD, &s->req);
  s->keep[0] = buf;
  s->finish = [t, buf, op] {
    if (op == ReduceOp::average) divide_by_world(buf);
    if (buf.impl() != t.impl()) {
      NoGradGuard g;
      Tensor(t).copy_(buf);
    }
  };
  return Work(s);
#else
  (void)blocking;
  return completed_work();
#endif
}
}  // namespace

Work all_reduce_async(const Tensor& t, ReduceOp op) { return all_reduce_impl(t, op, false); }

Work broadcast_async(const Tensor& t, int root) {
  check_tensor(t, "broadcast", "t");
  NERVE_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root, " is not a rank of this world of ",
              world_size());
  if (world_size() == 1) return completed_work();
#ifdef NERVE_WITH_MPI
  auto s = std::make_shared<Work::State>();
  Tensor buf = contiguous_buffer(t);
  int n = count_of(buf, "broadcast");
  MPI_Ibcast(n ? buf.raw_data() : nullptr, n, mpi_type(t.dtype(), "broadcast"), root, MPI_COMM_WORLD, &s->req);
  s->keep[0] = buf;
  s->finish = [t, buf] {
    if (buf.impl() != t.impl()) {
      NoGradGuard g;
      Tensor(t).copy_(buf);
    }
  };
  return Work(s);
#else
  return completed_work();
#endif
}

Work all_gather_async(const Tensor& t, const Tensor& out) {
  check_tensor(t, "all_gather", "t");
  check_tensor(out, "all_gather", "out");
  Shape want = t.shape();
  want.insert(want.begin(), world_size());
  NERVE_CHECK(out.shape() == want && out.dtype() == t.dtype() && (out.is_contiguous() || out.numel() == 0), "all_gather: out must be a "
              "contiguous ", dtype_name(t.dtype()), " tensor of shape ", nerve::to_string(want), " (world size, *t.shape), got ",
              out.is_contiguous() ? "" : "a non-contiguous ", dtype_name(out.dtype()), " ", nerve::to_string(out.shape()));
  Tensor in = contiguous_buffer(t);
  if (world_size() == 1) {
    NoGradGuard g;
    Tensor(out).copy_(in.unsqueeze(0));
    return completed_work();
  }
#ifdef NERVE_WITH_MPI
  auto s = std::make_shared<Work::State>();
  int n = count_of(in, "all_gather");
  count_of(out, "all_gather");
  MPI_Datatype ty = mpi_type(t.dtype(), "all_gather");
  MPI_Iallgather(n ? in.raw_data() : nullptr, n, ty, n ? out.raw_data() : nullptr, n, ty, MPI_COMM_WORLD, &s->req);
  s->keep[0] = in;
  s->keep[1] = out;
  return Work(s);
#else
  return completed_work();
#endif
}

Work reduce_scatter_async(const Tensor& t, const Tensor& out, ReduceOp op) {
  check_tensor(t, "reduce_scatter", "t");
  check_tensor(out, "reduce_scatter", "out");
  check_reduce(t, op, "reduce_scatter");
  int w = world_size();
  NERVE_CHECK(t.dim() >= 1 && t.shape()[0] % w == 0, "reduce_scatter: t must have a first dim divisible by the world "
              "size ", w, ", got ", nerve::to_string(t.shape()));
  Shape want = t.shape();
  want[0] /= w;
  NERVE_CHECK(out.shape() == want && out.dtype() == t.dtype() && (out.is_contiguous() || out.numel() == 0), "reduce_scatter: out must be a "
              "contiguous ", dtype_name(t.dtype()), " tensor of shape ", nerve::to_string(want), ", got ",
              out.is_contiguous() ? "" : "a non-contiguous ", dtype_name(out.dtype()), " ", nerve::to_string(out.shape()));
  Tensor in = contiguous_buffer(t);
  if (w == 1) {
    NoGradGuard g;
    Tensor(out).copy_(in);
    return completed_work();
  }
#ifdef NERVE_WITH_MPI
  auto s = std::make_shared<Work::State>();
  int n = count_of(out, "reduce_scatter");
  count_of(in, "reduce_scatter");
  MPI_Ireduce_scatter_block(in.raw_data(), n ? out.raw_data() : nullptr, n, mpi_type(t.dtype(), "reduce_scatter"),
                            mpi_op(op), MPI_COMM_WORLD, &s->req);
  s->keep[0] = in;
  s->keep[1] = out;
  if (op == ReduceOp::average) s->finish = [out] { divide_by_world(out); };
  return Work(s);
#else
  return completed_work();
#endif
}

Work barrier_async() {
  if (world_size() == 1) return completed_work();
#ifdef NERVE_WITH_MPI
  auto s = std::make_shared<Work::State>();
  MPI_Ibarrier(MPI_COMM_WORLD, &s->req);
  return Work(s);
#else
  return completed_work();
#endif
}

bool shared_memory() {
  init();
#ifdef NERVE_WITH_MPI
  return shm().enabled && shm().usable;
#else
  return false;
#endif
}

void set_shared_memory(bool on) {
  init();
#ifdef NERVE_WITH_MPI
  shm().enabled = on;
#else
  (void)on;
#endif
}

void all_reduce(const Tensor& t, ReduceOp op) { all_reduce_impl(t, op, true).wait(); }
void broadcast(const Tensor& t, int root) { broadcast_async(t, root).wait(); }
void barrier() { barrier_async().wait(); }

Tensor all_gather(const Tensor& t) {
  check_tensor(t, "all_gather", "t");
  Shape s = t.shape();
  s.insert(s.begin(), world_size());
  Tensor out = empty(s, t.dtype());
  all_gather_async(t, out).wait();
  return out;
}

Tensor reduce_scatter(const Tensor& t, ReduceOp op) {
  check_tensor(t, "reduce_scatter", "t");
  Shape s = t.shape();
  NERVE_CHECK(!s.empty() && s[0] % world_size() == 0, "reduce_scatter: t must have a first dim divisible by the world "
              "size ", world_size(), ", got ", nerve::to_string(s));
  s[0] /= world_size();
  Tensor out = empty(s, t.dtype());
  reduce_scatter_async(t, out, op).wait();
  return out;
}

}  // namespace nerve::dist
