// The all-reduce alone: median time of nerve::dist::all_reduce (MPI_Iallreduce + MPI_Wait, what DDP issues) of an
// f32 gradient of each size, every rank starting together (a barrier before each). Sets the floor of a
// data-parallel step that cannot overlap its all-reduce (the MLP: 407 KB, computed last in backward).
//   mpirun -np 2 --bind-to core -x NERVE_NUM_THREADS=1 build/bench/bench_allreduce [reps] [bytes...]
//   (default sizes 4 KB .. 4 MB and the MLP's 407,080 bytes; OpenMPI's --mca coll_libnbc_iallreduce_algorithm N
//   picks the non-blocking algorithm: 1 ring, 2 binomial, 3 rabenseifner, 4 recursive doubling)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <nerve/dist/dist.h>
#include <nerve/nerve.h>

using namespace nerve;

int main(int argc, char** argv) try {
  int reps = argc > 1 ? std::atoi(argv[1]) : 300;
  std::vector<long> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atol(argv[i]));
  if (sizes.empty()) sizes = {4096, 65536, 262144, 407080, 1048576, 4194304};
  dist::init();
  const int rank = dist::rank(), world = dist::world_size();
  if (rank == 0) std::printf("{\"ranks\": %d, \"reps\": %d, \"all_reduce_us\": {", world, reps);
  for (size_t k = 0; k < sizes.size(); ++k) {
    Tensor t = ones({sizes[k] / 4});
    std::vector<double> us;
    for (int i = 0; i < reps + 20; ++i) {
      dist::barrier();
      auto t0 = std::chrono::steady_clock::now();
      dist::all_reduce(t, dist::ReduceOp::average);
      double d = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (i >= 20) us.push_back(d);  // the first ones set up connections
    }
    std::sort(us.begin(), us.end());
    // the slowest rank's median: a step waits for it
    Tensor med = from_vector<double>({us[us.size() / 2]});
    dist::all_reduce(med, dist::ReduceOp::max);
    if (rank == 0) std::printf("%s\"%ld\": %.1f", k ? ", " : "", sizes[k], med.item<double>());
  }
  if (rank == 0) std::printf("}}\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
  return 1;
}
