// nerve::dist collectives over MPI: the process group mpirun starts (rank, world size, local rank) and all_reduce,
// broadcast, all_gather, reduce_scatter and barrier on tensors, blocking or non-blocking (a Work handle). Without
// mpirun (or in a build without MPI) the process is a world of one and every collective is the identity.
#pragma once
#include <memory>
#include <string>

#include "nerve/tensor/tensor.h"

namespace nerve::dist {

/// Joins the job mpirun started (from the environment it sets: OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK), or
/// becomes a world of one when there is none. Called by every function below on first use; calling it again is a
/// no-op. Under mpirun it also makes a failing rank stop the whole job: an uncaught exception, or a non-zero exit
/// status, aborts every rank with a message naming the rank (instead of leaving the others waiting in a collective).
///   dist::init(); if (dist::rank() == 0) std::printf("%d processes\n", dist::world_size());
void init();
/// This process's rank in [0, world_size()), its node-local rank, the number of processes.
int rank();
int local_rank();
int world_size();
/// True when running under mpirun with MPI (even with -np 1); false for a world of one without MPI.
bool is_mpi();
/// Whether this build has MPI (NERVE_WITH_MPI).
bool built_with_mpi();

/// Stops the whole job: prints "nerve::dist: rank R of N: why" to stderr and aborts every rank (MPI_Abort) with
/// `code`. In a world of one it prints the same line and calls std::exit(code).
[[noreturn]] void abort_job(const std::string& why, int code = 1);

/// all_reduce's operation. average: the sum divided by the world size (floating dtypes only).
enum class ReduceOp { sum, average, max, min };
const char* to_string(ReduceOp op);

/// A non-blocking collective in flight. wait() blocks until it has completed and its result is in the output
/// tensor; test() says whether it has (and lets MPI make progress). A default Work is complete.
///   Work w = all_reduce_async(grad, ReduceOp::average); ...compute...; w.wait();
class Work {
 public:
  struct State;
  Work() = default;
  explicit Work(std::shared_ptr<State> s) : s_(std::move(s)) {}
  void wait();
  bool test();
  bool completed() const;

 private:
  std::shared_ptr<State> s_;
};

/// In place: every rank's `t` becomes the reduction of all ranks' `t` (same shape and dtype on every rank).
/// Any layout (a non-contiguous view is reduced through a contiguous copy and written back). When every rank runs
/// on one machine, the reduction goes through a shared-memory window and all_reduce_async returns it completed
/// (each element reduced once, in rank order: the same bits on every rank); NERVE_DIST_SHM=0 sends it through
/// MPI_Iallreduce instead. Across machines it is MPI's.
///   dist::all_reduce(loss_sum, dist::ReduceOp::sum);
void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::sum);
Work all_reduce_async(const Tensor& t, ReduceOp op = ReduceOp::sum);
/// Whether all-reduces may go through the shared-memory window (every rank on one machine): on unless
/// NERVE_DIST_SHM=0. set_shared_memory(false) sends them through MPI from the next call on; every rank must make the
/// same call at the same point (a collective setting; for benchmarks and tests comparing the two in one process).
/// Turning it on where the ranks do not share a machine changes nothing.
bool shared_memory();
void set_shared_memory(bool on);

/// In place: every rank's `t` becomes rank `root`'s.
void broadcast(const Tensor& t, int root = 0);
Work broadcast_async(const Tensor& t, int root = 0);
/// Every rank's `t`, stacked: shape (world_size, *t.shape), row r from rank r.
Tensor all_gather(const Tensor& t);
/// The non-blocking form writes into `out`, a contiguous tensor of shape (world_size, *t.shape) and t's dtype.
Work all_gather_async(const Tensor& t, const Tensor& out);
/// The reduction of all ranks' `t` (shape (world_size * k, ...)), of which this rank keeps rows
/// [rank * k, (rank + 1) * k): shape (k, ...). PyTorch's reduce_scatter_tensor.
Tensor reduce_scatter(const Tensor& t, ReduceOp op = ReduceOp::sum);
/// The non-blocking form writes into `out`, a contiguous tensor of shape (k, ...) and t's dtype.
Work reduce_scatter_async(const Tensor& t, const Tensor& out, ReduceOp op = ReduceOp::sum);
/// Returns when every rank has called it.
void barrier();
Work barrier_async();

}  // namespace nerve::dist
