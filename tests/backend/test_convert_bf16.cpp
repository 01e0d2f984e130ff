// The vectorized bf16 row conversions (backend/cpu/convert.h, used by the bf16 GEMM) give the same bits as the
// element conversions of Tensor::to (to_bf16 / from_bf16): every rounding case, NaN payloads, infinities,
// subnormals and a sweep of bit patterns.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/convert.h"

using namespace nerve;

namespace {

std::vector<uint16_t> bits16(const Tensor& t) {
  std::vector<uint16_t> v(t.numel());
  std::memcpy(v.data(), t.raw_data(), v.size() * 2);
  return v;
}

TEST(ConvertBf16, RowsRoundAsTensorTo) {
  std::vector<uint32_t> patterns = {
      0x00000000, 0x80000000,              // +-0
      0x7f800000, 0xff800000,              // +-inf
      0x7fc00000, 0xffc00001, 0x7f800001,  // quiet NaN, NaN with a payload, signaling NaN
      0x7fa00000, 0xff812345,              // more payloads (low bits only: must stay NaN)
      0x3f808000, 0x3f818000,              // ties: to the even 0x3f80, to the even 0x3f82
      0x3f808001, 0x3f807fff,              // just above and below a tie
      0x7f7fffff, 0xff7fffff,              // the largest floats: round to +-inf
      0x00000001, 0x807fffff, 0x00008000,  // subnormals
  };
  for (uint32_t u = 0; u < 2000000; ++u) patterns.push_back(u * 2147u + (u >> 3));  // a sweep over the range
  std::vector<float> f(patterns.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = std::bit_cast<float>(patterns[i]);
  const Tensor x = from_vector<float>(f, {int64_t(f.size())});
  const std::vector<uint16_t> want = bits16(x.to(DType::bf16));
  std::vector<uint16_t> got(f.size());
  cpu::f32_to_bf16_serial(f.data(), got.data(), int64_t(f.size()));
  for (size_t i = 0; i < f.size(); ++i)
    ASSERT_EQ(got[i], want[i]) << "float bits 0x" << std::hex << patterns[i];
  // and back: widening is exact
  std::vector<float> back(f.size());
  cpu::bf16_to_f32_serial(got.data(), back.data(), int64_t(got.size()));
  Tensor b16 = empty({int64_t(got.size())}, DType::bf16);
  std::memcpy(b16.raw_data(), got.data(), got.size() * 2);
  const std::vector<float> want_back = b16.to(DType::f32).to_vector<float>();
  for (size_t i = 0; i < back.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(want_back[i])) << "bf16 bits " << got[i];
}

}  // namespace
