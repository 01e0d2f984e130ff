// The global random generator: one seed fixes initialization, shuffling and dropout.
#pragma once
#include <cstdint>

namespace nerve {

/// MT19937-64: the same numbers as std::mt19937_64 for the same seed, plus fill(), which makes many at once with
/// vector code (whole 312-word blocks of the state). A UniformRandomBitGenerator, so std::shuffle and the <random>
/// distributions take it.   nerve::Generator g(7);  uint64_t x = g();  g.fill(buf, 1024);
class Generator {
 public:
  using result_type = uint64_t;
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~uint64_t{0}; }
  static constexpr uint64_t default_seed = 5489u;

  explicit Generator(uint64_t seed = default_seed) { this->seed(seed); }
  void seed(uint64_t s);
  uint64_t operator()() {
    if (next_ >= kWords) refill();
    return temper(state_[next_++]);
  }
  /// out[0, n) = the next n numbers, as n calls of operator() would return them.
  void fill(uint64_t* out, int64_t n);
  /// Skips n numbers.
  void discard(uint64_t n);

  static constexpr int kWords = 312;
  static uint64_t temper(uint64_t y) {
    y ^= (y >> 29) & 0x5555555555555555ULL;
    y ^= (y << 17) & 0x71D67FFFEDA60000ULL;
    y ^= (y << 37) & 0xFFF7EEE000000000ULL;
    return y ^ (y >> 43);
  }

 private:
  void refill();  // the next block of the state (the "twist"), next_ = 0

  uint64_t state_[kWords];
  int next_ = kWords;
};

/// Seeds the global generator.  nerve::manual_seed(42);
void manual_seed(uint64_t seed);
/// The global generator; not thread-safe, use from the main thread.
Generator& generator();

}  // namespace nerve
