// MT19937-64's block update and tempering over whole blocks: nerve::Generator's bulk path, vector code.
#pragma once
#include <cstdint>

namespace nerve::detail {

/// The next 312-word block of an MT19937-64 state, in place.
void mt64_next_block(uint64_t* state);
/// out[i] = Generator::temper(state[i]) for i < n.
void mt64_temper(const uint64_t* state, uint64_t* out, int64_t n);

}  // namespace nerve::detail
