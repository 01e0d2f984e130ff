// DistributedDataParallel: data-parallel training of an nn::Module over the ranks of nerve::dist. At wrap time the
// models are checked to be alike and rank 0's parameters and buffers are broadcast; during backward the gradients
// are averaged over the ranks in buckets, each bucket's all-reduce starting as soon as its gradients are ready
// (post-accumulate-grad hooks), overlapping with the rest of backward. PyTorch's torch.nn.parallel.DDP.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nerve/dist/comm.h"
#include "nerve/nn/module.h"

namespace nerve::dist {

struct DDPOptions {
  /// Gradient bytes per bucket (PyTorch's bucket_cap_mb = 25).
  int64_t bucket_cap_bytes = int64_t{25} * 1024 * 1024;
  /// true: each bucket's all-reduce starts during backward once its gradients are in; false: all of them start
  /// after backward (no overlap; for measuring what the overlap saves).
  bool overlap = true;
  /// Broadcast rank 0's buffers (BatchNorm running statistics) at wrap time.
  bool broadcast_buffers = true;
  /// A parameter whose gradient has at least this many bytes gets a bucket of its own, all-reduced in place in
  /// the gradient (no copy into a bucket and back: for the MLP's 401 KB fc1.weight, computed last in backward,
  /// those copies sit on the critical path); smaller ones share flat buckets. <= 0: every parameter shares.
  /// Sums are per element either way: the averaged gradients do not depend on it (with 2 ranks, bit for bit).
  /// 256 KB keeps the count of collectives low (each costs a latency) while catching the copies that cost most.
  int64_t own_bucket_bytes = int64_t{256} * 1024;
};

/// Time the gradient synchronization took, summed since construction or reset_stats().
struct DDPStats {
  int64_t syncs = 0;           // backwards whose gradients were averaged
  double wait_seconds = 0;     // blocked waiting for all-reduces: at the end of backward, and in all-reduces that
                               // complete before returning (ranks sharing one machine: shared memory)
  double comm_seconds = 0;     // in MPI calls altogether (starting, polling, waiting)
  double copy_seconds = 0;     // copying gradients into and out of the buckets
  int64_t bytes = 0;           // gradient bytes all-reduced per rank
  int64_t buckets_in_backward = 0;  // bucket all-reduces started by a gradient hook, while backward still ran
  int64_t buckets_after_backward = 0;  // started at the end of backward (overlap off, or unused parameters)
};

/// Wraps `module` (which must outlive it) for data-parallel training. Run forward and backward on the module as
/// usual: after each loss.backward() returns, every parameter's grad is the average over the ranks. The module is
/// not copied; forward needs no wrapper (the synchronization hangs on the parameters' gradient accumulation).
///   auto ddp = dist::DistributedDataParallel(model);   // model: nn::Module&, same architecture on every rank
///   loss = criterion(model(x), y); loss.backward(); opt.step();   // grads averaged over ranks
class DistributedDataParallel {
 public:
  explicit DistributedDataParallel(nn::Module& module, DDPOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  nn::Module& module() { return module_; }
  Tensor forward(const Tensor& x) { return module_.forward(x); }
  Tensor operator()(const Tensor& x) { return module_.forward(x); }

  /// While the guard lives, backward accumulates gradients locally without synchronizing (gradient
  /// accumulation); the first backward after it averages the accumulated gradients.
  ///   { auto g = ddp.no_sync(); loss1.backward(); }  loss2.backward();  // one all-reduce, of both
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& d) : d_(d), prev_(d.sync_) { d.sync_ = false; }
    ~NoSync() { d_.sync_ = prev_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& d_;
    bool prev_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  /// The parameter names of bucket b, in the order their gradients are expected (last layer first).
  std::vector<std::string> bucket_parameters(int64_t b) const;
  /// Whether bucket b is one parameter's own (all-reduced in place in its gradient, see own_bucket_bytes).
  bool bucket_in_place(int64_t b) const;
  const DDPStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  struct Bucket {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;  // element offset of each parameter in flat
    Tensor flat;         // the shared flat buffer; undefined for a parameter's own bucket (all-reduced in place)
    size_t pending = 0;
    bool launched = false;
    Work work;
  };
  void verify_and_broadcast(const std::vector<std::pair<std::string, Tensor>>& named);
  void on_grad(size_t i);
  void launch_ready(bool in_backward);
  void launch(Bucket& b, bool in_backward);
  void finish_sync();
  void copy_in(size_t i);

  nn::Module& module_;
  DDPOptions options_;
  std::vector<std::string> names_;
  std::vector<Tensor> params_;
  std::vector<int64_t> hook_handles_;
  std::vector<size_t> bucket_of_;
  std::vector<bool> ready_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  bool sync_ = true, in_backward_ = false;
  DDPStats stats_;
};

}  // namespace nerve::dist
