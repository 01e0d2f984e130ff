// The global seeded generator.
#include "nerve/core/rng.h"

namespace nerve {

namespace {
std::mt19937_64& gen_ref() {
  static std::mt19937_64 g(5489u);
  return g;
}
}  // namespace

void manual_seed(uint64_t seed) { gen_ref().seed(seed); }
std::mt19937_64& generator() { return gen_ref(); }

}  // namespace nerve
