// Sets nerve's thread count for a scope (tests that check results do not depend on it).
#pragma once
#include <nerve/nerve.h>

namespace nerve::testing {
struct ThreadsGuard {
  int prev = get_num_threads();
  explicit ThreadsGuard(int n) { set_num_threads(n); }
  ~ThreadsGuard() { set_num_threads(prev); }
};
}  // namespace nerve::testing
