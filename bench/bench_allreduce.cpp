// The all-reduce alone: median time of nerve::dist::all_reduce of an f32 gradient of each size, every rank starting
// together (a barrier before each); on one machine through the shared-memory window and through MPI_Iallreduce +
// MPI_Wait, alternating. Sets the floor of a data-parallel step that cannot overlap its all-reduce (the MLP: 407 KB,
// computed last in backward).
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
  // on one machine both paths, alternating call by call in this one process (processes on this VM land in modes
  // of different speed, so two runs compare less well than two paths in one run): the shared-memory window
  // (all_reduce_us) and MPI_Iallreduce (mpi_all_reduce_us)
  const bool both = dist::shared_memory();
  std::vector<std::vector<double>> med(2);
  for (size_t k = 0; k < sizes.size(); ++k) {
    Tensor t = ones({sizes[k] / 4});
    std::vector<double> us[2];
    for (int i = 0; i < 2 * (reps + 20); ++i) {
      const int path = both ? i % 2 : 0;
      dist::set_shared_memory(path == 0 && both);
      dist::barrier();
      auto t0 = std::chrono::steady_clock::now();
      dist::all_reduce(t, dist::ReduceOp::average);
      double d = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (i >= 40 && (both || i % 2 == 0)) us[path].push_back(d);  // the first ones set up connections
    }
    dist::set_shared_memory(both);
    for (int p = 0; p < (both ? 2 : 1); ++p) {
      std::sort(us[p].begin(), us[p].end());
      // the slowest rank's median: a step waits for it
      Tensor m = from_vector<double>({us[p][us[p].size() / 2]});
      dist::all_reduce(m, dist::ReduceOp::max);
      med[p].push_back(m.item<double>());
    }
  }
  if (rank == 0) {
    std::printf("{\"ranks\": %d, \"reps\": %d, \"all_reduce_us\": {", world, reps);
    for (size_t k = 0; k < sizes.size(); ++k) std::printf("%s\"%ld\": %.1f", k ? ", " : "", sizes[k], med[0][k]);
    std::printf("}");
    if (both) {
      std::printf(", \"mpi_all_reduce_us\": {");
      for (size_t k = 0; k < sizes.size(); ++k) std::printf("%s\"%ld\": %.1f", k ? ", " : "", sizes[k], med[1][k]);
      std::printf("}");
    }
    std::printf("}\n");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
  return 1;
}
