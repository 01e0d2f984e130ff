// DistributedDataParallel: the wrap-time check and broadcast, the gradient buckets, and their all-reduce started
// from the parameters' post-accumulate-grad hooks and finished by a callback at the end of backward.
#include "nerve/dist/ddp.h"

#include <chrono>
#include <cstring>

#include "nerve/autograd/grad_mode.h"
#include "nerve/autograd/hooks.h"
#include "nerve/core/error.h"
#include "nerve/ops/ops.h"

namespace nerve::dist {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int kMaxDims = 8;
constexpr int kRecord = 3 + kMaxDims;  // index, dtype, ndim, dims...

// what a rank reports about parameter i: its dtype and shape (ndim -1: the rank has no parameter i)
void describe(const std::vector<Tensor>& ps, int64_t i, int64_t* rec) {
  rec[0] = i;
  for (int k = 1; k < kRecord; ++k) rec[k] = 0;
  if (i >= static_cast<int64_t>(ps.size())) {
    rec[2] = -1;
    return;
  }
  const Tensor& p = ps[i];
  rec[1] = static_cast<int64_t>(p.dtype());
  rec[2] = p.dim();
  for (int64_t d = 0; d < p.dim() && d < kMaxDims; ++d) rec[3 + d] = p.shape()[d];
}

// rank 0's name of parameter i (every rank calls it: a broadcast of the length, then of the bytes)
std::string name_on_rank0(const std::vector<std::pair<std::string, Tensor>>& named, int64_t i, int64_t n0) {
  std::string name = rank() == 0 && i < n0 ? named[i].first : "";
  Tensor len = from_vector<int64_t>({static_cast<int64_t>(name.size())});
  broadcast(len, 0);
  Tensor bytes = zeros({len.data<int64_t>()[0]}, DType::u8);
  std::copy(name.begin(), name.end(), bytes.data<uint8_t>());
  broadcast(bytes, 0);
  name.assign(reinterpret_cast<const char*>(bytes.data<uint8_t>()), static_cast<size_t>(bytes.numel()));
  return name.empty() ? "#" + std::to_string(i) : name;
}

std::string record_str(const int64_t* rec) {
  if (rec[2] < 0) return "no such parameter";
  Shape s(rec + 3, rec + 3 + std::min<int64_t>(rec[2], kMaxDims));
  return nerve::to_string(s) + " " + dtype_name(static_cast<DType>(rec[1]));
}
}  // namespace

DistributedDataParallel::DistributedDataParallel(nn::Module& module, DDPOptions options)
    : module_(module), options_(options) {
  NERVE_CHECK(options.bucket_cap_bytes > 0, "DistributedDataParallel: bucket_cap_bytes must be positive, got ",
              options.bucket_cap_bytes);
  init();
  auto named = module.named_parameters();
  verify_and_broadcast(named);
  for (auto& [name, p] : named) {
    if (!p.requires_grad()) continue;
    names_.push_back(name);
    params_.push_back(p);
  }
  // buckets in reverse registration order (the order backward reaches the parameters), one dtype per bucket
  bucket_of_.assign(params_.size(), 0);
  ready_.assign(params_.size(), false);
  // (a large parameter gets a bucket of its own, all-reduced in place: no flat buffer)
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    int64_t bytes = p.numel() * static_cast<int64_t>(itemsize(p.dtype()));
    bool own = options_.own_bucket_bytes > 0 && bytes >= options_.own_bucket_bytes;
    bool fresh = own || buckets_.empty() || !buckets_.back().flat.defined() || buckets_.back().flat.dtype() != p.dtype() ||
                 (buckets_.back().flat.numel() * static_cast<int64_t>(itemsize(p.dtype())) + bytes >
                      options_.bucket_cap_bytes && !buckets_.back().params.empty());
    if (fresh) {
      buckets_.emplace_back();
      if (!own) buckets_.back().flat = empty({0}, p.dtype());
    }
    Bucket& b = buckets_.back();
    b.params.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    if (own) {
      b.offsets.push_back(0);
      continue;
    }
    b.offsets.push_back(b.flat.numel());
    b.flat = empty({b.flat.numel() + p.numel()}, p.dtype());  // sized here, allocated once below
  }
  for (Bucket& b : buckets_)
    if (b.flat.defined()) b.flat = zeros({b.flat.numel()}, b.flat.dtype());
  if (world_size() == 1) return;  // nothing to average: no hooks, no copies
  for (size_t k = 0; k < params_.size(); ++k)
    hook_handles_.push_back(register_post_accumulate_grad_hook(params_[k], [this, k](const Tensor&) { on_grad(k); }));
}

DistributedDataParallel::~DistributedDataParallel() {
  for (size_t k = 0; k < hook_handles_.size(); ++k) remove_post_accumulate_grad_hook(params_[k], hook_handles_[k]);
}

std::vector<std::string> DistributedDataParallel::bucket_parameters(int64_t b) const {
  NERVE_CHECK(b >= 0 && b < num_buckets(), "DistributedDataParallel::bucket_parameters: bucket ", b, " of ",
              num_buckets());
  std::vector<std::string> out;
  for (size_t k : buckets_[b].params) out.push_back(names_[k]);
  return out;
}

// Every rank compares its parameters with rank 0's (count, dtype, shape); any difference stops every rank with
// the same message naming the rank and the parameter. Then rank 0's values are broadcast.
void DistributedDataParallel::verify_and_broadcast(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> ps;
  for (auto& np : named) ps.push_back(np.second);
  auto buffers = module_.named_buffers();
  int w = world_size();
  if (w > 1) {
    Tensor count = from_vector<int64_t>({static_cast<int64_t>(ps.size())});
    Tensor counts = all_gather(count);
    int64_t n0 = counts.data<int64_t>()[0];
    Tensor spec = zeros({std::max<int64_t>(n0, 1), kRecord}, DType::i64);
    for (int64_t i = 0; i < n0; ++i) describe(ps, i, spec.data<int64_t>() + i * kRecord);
    broadcast(spec, 0);  // rank 0's
    // the first parameter where this rank differs (or -1), with this rank's description of it
    Tensor mine = zeros({kRecord}, DType::i64);
    int64_t* m = mine.data<int64_t>();
    m[0] = -1;
    int64_t n = std::max<int64_t>(n0, static_cast<int64_t>(ps.size()));
    for (int64_t i = 0; i < n; ++i) {
      int64_t rec[kRecord], none[kRecord];
      describe(ps, i, rec);
      describe({}, i, none);
      const int64_t* theirs = i < n0 ? spec.data<int64_t>() + i * kRecord : none;
      if (std::memcmp(rec + 1, theirs + 1, sizeof(int64_t) * (kRecord - 1)) != 0) {
        std::memcpy(m, rec, sizeof rec);
        break;
      }
    }
    Tensor all = all_gather(mine);
    for (int r = 1; r < w; ++r) {
      const int64_t* rec = all.data<int64_t>() + r * kRecord;
      if (rec[0] < 0) continue;
      int64_t i = rec[0];
      int64_t none[kRecord];
      describe({}, i, none);
      const int64_t* theirs = i < n0 ? spec.data<int64_t>() + i * kRecord : none;
      std::string name = name_on_rank0(named, i, n0);
      throw Error("DistributedDataParallel: the models differ across ranks: rank " + std::to_string(r) +
                  " has parameter " + std::to_string(i) + " ('" + name + "') " + record_str(rec) + " where rank 0 has " +
                  record_str(theirs) + " (every rank must build the same model)");
    }
    NERVE_CHECK(counts.data<int64_t>()[rank()] == n0, "DistributedDataParallel: internal: parameter counts differ");
  }
  if (w == 1) return;
  NoGradGuard g;
  std::vector<Work> works;
  for (auto& p : ps) works.push_back(broadcast_async(p, 0));
  if (options_.broadcast_buffers)
    for (auto& [name, b] : buffers) works.push_back(broadcast_async(b, 0));
  for (auto& wk : works) wk.wait();
  for (auto& p : ps) p.bump_version();
}

bool DistributedDataParallel::bucket_in_place(int64_t b) const {
  NERVE_CHECK(b >= 0 && b < num_buckets(), "DistributedDataParallel::bucket_in_place: bucket ", b, " of ",
              num_buckets());
  return !buckets_[b].flat.defined();
}

void DistributedDataParallel::copy_in(size_t k) {
  Bucket& b = buckets_[bucket_of_[k]];
  if (!b.flat.defined()) {  // its own bucket: reduced in place in the gradient (zeros when it got none)
    if (!params_[k].grad().defined()) {
      NoGradGuard ng;
      params_[k].set_grad(zeros(params_[k].shape(), params_[k].dtype()));
    }
    return;
  }
  size_t j = 0;
  while (b.params[j] != k) ++j;
  Tensor dst = b.flat.narrow(0, b.offsets[j], params_[k].numel());
  Tensor g = params_[k].grad();
  NoGradGuard ng;
  if (!g.defined())
    dst.zero_();
  else if (g.is_contiguous() && g.dtype() == dst.dtype())
    std::memcpy(dst.raw_data(), g.raw_data(), static_cast<size_t>(g.numel()) * itemsize(g.dtype()));
  else
    dst.copy_(g.reshape({g.numel()}));
}

// the hook of parameter k: its gradient has just been accumulated
void DistributedDataParallel::on_grad(size_t k) {
  if (!sync_) return;
  if (!in_backward_) {  // the first gradient of this backward
    in_backward_ = true;
    queue_backward_callback([this] { finish_sync(); });
    for (Bucket& b : buckets_) {
      b.pending = b.params.size();
      b.launched = false;
    }
    std::fill(ready_.begin(), ready_.end(), false);
    next_launch_ = 0;
  }
  if (ready_[k]) return;
  ready_[k] = true;
  auto t0 = Clock::now();
  copy_in(k);
  stats_.copy_seconds += since(t0);
  --buckets_[bucket_of_[k]].pending;
  if (options_.overlap) {
    launch_ready(true);
    t0 = Clock::now();
    for (size_t i = 0; i < next_launch_; ++i) buckets_[i].work.test();  // lets MPI progress the ones in flight
    stats_.comm_seconds += since(t0);
  }
}

// buckets start strictly in order, so every rank issues the same collectives in the same order
void DistributedDataParallel::launch_ready(bool in_backward) {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0)
    launch(buckets_[next_launch_++], in_backward);
}

void DistributedDataParallel::launch(Bucket& b, bool in_backward) {
  ++(in_backward ? stats_.buckets_in_backward : stats_.buckets_after_backward);
  auto t0 = Clock::now();
  const Tensor t = b.flat.defined() ? b.flat : params_[b.params[0]].grad();  // own bucket: the gradient itself
  b.work = all_reduce_async(t, ReduceOp::average);
  b.launched = true;
  double took = since(t0);
  stats_.comm_seconds += took;
  if (b.work.completed()) stats_.wait_seconds += took;  // reduced before returning (one machine): the step waited
  stats_.bytes += t.numel() * static_cast<int64_t>(itemsize(t.dtype()));
}

// end of backward: parameters that got no gradient count as zeros; start what is left, wait, copy back
void DistributedDataParallel::finish_sync() {
  in_backward_ = false;
  auto t0 = Clock::now();
  for (size_t k = 0; k < params_.size(); ++k)
    if (!ready_[k]) {
      ready_[k] = true;
      copy_in(k);
      --buckets_[bucket_of_[k]].pending;
    }
  stats_.copy_seconds += since(t0);
  launch_ready(false);
  t0 = Clock::now();
  for (Bucket& b : buckets_) b.work.wait();
  double waited = since(t0);
  stats_.wait_seconds += waited;
  stats_.comm_seconds += waited;
  t0 = Clock::now();
  NoGradGuard ng;
  for (Bucket& b : buckets_) {
    if (!b.flat.defined()) {  // reduced in place: the gradient holds the average already
      params_[b.params[0]].grad().bump_version();
      continue;
    }
    for (size_t j = 0; j < b.params.size(); ++j) {
      Tensor& p = params_[b.params[j]];
      Tensor src = b.flat.narrow(0, b.offsets[j], p.numel()).view(p.shape());
      Tensor g = p.grad();
      if (!g.defined()) {
        p.set_grad(src.clone());
      } else {
        g.copy_(src);
      }
    }
  }
  stats_.copy_seconds += since(t0);
  ++stats_.syncs;
}

}  // namespace nerve::dist
