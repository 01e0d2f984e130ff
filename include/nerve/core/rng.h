// The global random generator: one seed fixes initialization, shuffling and dropout.
#pragma once
#include <cstdint>
#include <random>

namespace nerve {

/// Seeds the global generator.  nerve::manual_seed(42);
void manual_seed(uint64_t seed);
/// The global generator (std::mt19937_64); not thread-safe, use from the main thread.
std::mt19937_64& generator();

}  // namespace nerve
