// A job where one rank fails while the others wait in all_reduce (tests/dist/check_failure.sh runs it under
// mpirun): `fail_rank MODE RANK`, MODE throw (an uncaught nerve::Error), exit (a caught error, exit status 3) or
// kill (SIGKILL). The healthy ranks keep all-reducing for up to 120 s: the job must stop long before.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nerve/core/error.h"
#include "nerve/dist/comm.h"

using namespace nerve;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fail_rank throw|exit|kill RANK\n");
    return 2;
  }
  std::string mode = argv[1];
  int bad = std::atoi(argv[2]);
  dist::init();
  Tensor t = ones({1000});
  for (int i = 0; i < 5; ++i) dist::all_reduce(t);  // the job runs
  if (dist::rank() == bad) {
    if (mode == "throw") throw Error("fail_rank: a planted error on rank " + std::to_string(bad));
    if (mode == "exit") {
      try {
        throw Error("fail_rank: a planted error");
      } catch (const Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 3;
      }
    }
    if (mode == "kill") std::raise(SIGKILL);
  }
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) dist::all_reduce(t);
  std::printf("rank %d: the job did not stop\n", dist::rank());
  return 0;
}
