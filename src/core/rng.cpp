// MT19937-64 (Matsumoto and Nishimura, "Mersenne Twister: a 623-dimensionally equidistributed uniform
// pseudorandom number generator", 1998; the 64-bit parameters of std::mt19937_64) and the global generator.
// The block update and the tempering of whole blocks are in core/mt64.cpp (vector code).
#include "nerve/core/rng.h"

#include <algorithm>

#include "core/mt64.h"
#include "nerve/core/error.h"

namespace nerve {

std::vector<uint64_t> Generator::get_state() const {
  std::vector<uint64_t> out(state_, state_ + kWords);
  out.push_back(static_cast<uint64_t>(next_));
  return out;
}

void Generator::set_state(const std::vector<uint64_t>& state) {
  NERVE_CHECK(state.size() == kWords + 1 && state[kWords] <= kWords, "Generator::set_state: expected ", kWords + 1,
              " words with a position <= ", kWords, " last, got ", state.size(), " words");
  std::copy(state.begin(), state.begin() + kWords, state_);
  next_ = static_cast<int>(state[kWords]);
}

void Generator::seed(uint64_t s) {
  state_[0] = s;
  for (int i = 1; i < kWords; ++i)
    state_[i] = 6364136223846793005ULL * (state_[i - 1] ^ (state_[i - 1] >> 62)) + static_cast<uint64_t>(i);
  next_ = kWords;
}

void Generator::refill() {
  detail::mt64_next_block(state_);
  next_ = 0;
}

void Generator::fill(uint64_t* out, int64_t n) {
  while (n > 0) {
    if (next_ >= kWords) refill();
    const int64_t take = std::min<int64_t>(n, kWords - next_);
    detail::mt64_temper(state_ + next_, out, take);
    next_ += static_cast<int>(take);
    out += take;
    n -= take;
  }
}

void Generator::discard(uint64_t n) {
  while (n > 0) {
    if (next_ >= kWords) refill();
    const uint64_t take = std::min<uint64_t>(n, static_cast<uint64_t>(kWords - next_));
    next_ += static_cast<int>(take);
    n -= take;
  }
}

namespace {
Generator& global() {
  static Generator g(Generator::default_seed);
  return g;
}
}  // namespace

void manual_seed(uint64_t seed) { global().seed(seed); }
Generator& generator() { return global(); }

}  // namespace nerve
