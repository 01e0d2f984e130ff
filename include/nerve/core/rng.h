// The global random generator (one seed fixes initialization, shuffling and dropout) and SplitMix64, the small
// counter-based stream for derived seeds and shuffles that must be the same on every platform.
#pragma once
#include <cstdint>
#include <vector>

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
  /// The whole state: the 312 words and the position in them (313 values), to save a stream and resume it exactly.
  ///   auto st = generator().get_state();  ...  generator().set_state(st);
  std::vector<uint64_t> get_state() const;
  /// Restores what get_state returned; throws nerve::Error for a wrong size or position.
  void set_state(const std::vector<uint64_t>& state);

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

/// The SplitMix64 finalizer (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014): a
/// bijective 64-bit mix, good for deriving seeds.   uint64_t s = mix64(seed ^ mix64(epoch));
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// SplitMix64: mix64 of a Weyl sequence, the same numbers with every compiler and standard library (unlike the
/// <random> distributions). below() is Lemire's unbiased bounded integer ("Fast random integer generation in an
/// interval", 2019).   nerve::SplitMix64 r(7);  uint64_t x = r.next();  uint64_t die = r.below(6);
class SplitMix64 {
  __extension__ typedef unsigned __int128 U128;  // __extension__: no -Wpedantic warning in users' builds

 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  /// Uniform in [0, bound), bound > 0.
  uint64_t below(uint64_t bound) {
    U128 m = static_cast<U128>(next()) * bound;
    if (static_cast<uint64_t>(m) < bound) {
      const uint64_t threshold = -bound % bound;
      while (static_cast<uint64_t>(m) < threshold) m = static_cast<U128>(next()) * bound;
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

/// Seeds the global generator.  nerve::manual_seed(42);
void manual_seed(uint64_t seed);
/// The global generator; not thread-safe, use from the main thread.
Generator& generator();

}  // namespace nerve
