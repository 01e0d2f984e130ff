// IDX reader/writer: round trips (raw, gzip, every type), and corrupt, truncated and hostile files, including a
// few thousand seeded random mutations that must each parse or throw nerve::Error.
#include <gtest/gtest.h>
#include <nerve/data/idx.h>
#include <nerve/ops/ops.h>
#include <zlib.h>

#include <random>

#include "data/test_util.h"

using namespace nerve;
using namespace nerve::data;
using nerve::test::error_of;
using nerve::test::TempDir;

namespace {

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Header bytes: magic, type, dims (big-endian).
std::vector<uint8_t> header(uint8_t type, const std::vector<uint32_t>& dims) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  return b;
}

std::vector<uint8_t> u8_file(const std::vector<uint32_t>& dims, size_t data_bytes) {
  std::vector<uint8_t> b = header(0x08, dims);
  for (size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<uint8_t>(i * 7));
  return b;
}

std::string parse_error(const std::vector<uint8_t>& b) {
  return error_of([&] { read_idx_from_memory(b, "mem.idx"); });
}

}  // namespace

TEST(Idx, RoundTripRawAllWritableTypes) {
  TempDir dir;
  Tensor u8 = arange(0, 60, 1, DType::i64).reshape({3, 4, 5}).to(DType::u8);
  Tensor i32 = from_vector<int32_t>({-2147483647 - 1, -1, 0, 1, 65536, 2147483647}, {2, 3});
  Tensor f32 = from_vector<float>({-1.5f, 0.f, 3.25f, 1e-30f, -7e20f});
  Tensor f64 = from_vector<double>({3.141592653589793, -2.5e-300, 1e300, 0.0}, {2, 1, 2});
  for (const Tensor& t : {u8, i32, f32, f64}) {
    std::string path = dir / "t.idx";
    write_idx(path, t);
    Tensor r = read_idx(path);
    EXPECT_EQ(r.dtype(), t.dtype());
    EXPECT_EQ(r.shape(), t.shape());
    EXPECT_TRUE(eq(r, t).to(DType::i64).sum().item<int64_t>() == t.numel()) << r << " vs " << t;
  }
  // header on disk: big-endian dims, type byte 0x08, exact size
  write_idx(dir / "u8.idx", u8);
  std::vector<uint8_t> bytes = test::read_bytes(dir / "u8.idx");
  std::vector<uint8_t> expect = header(0x08, {3, 4, 5});
  ASSERT_EQ(bytes.size(), expect.size() + 60);
  EXPECT_TRUE(std::equal(expect.begin(), expect.end(), bytes.begin()));
  EXPECT_EQ(bytes[16], 0);
  EXPECT_EQ(bytes.back(), 59);
}

TEST(Idx, RoundTripGzipAndNonContiguous) {
  TempDir dir;
  Tensor t = arange(0, 24, 1, DType::f32).reshape({4, 6}).t();  // non-contiguous (6, 4)
  write_idx(dir / "t-idx2-float.gz", t);
  std::vector<uint8_t> bytes = test::read_bytes(dir / "t-idx2-float.gz");
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x1f);
  EXPECT_EQ(bytes[1], 0x8b);
  Tensor r = read_idx(dir / "t-idx2-float.gz");
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_EQ(r.to_vector<float>(), t.contiguous().to_vector<float>());
  // gzip is detected by content, not by name
  std::filesystem::rename(dir / "t-idx2-float.gz", dir / "plain-name");
  EXPECT_EQ(read_idx(dir / "plain-name").to_vector<float>(), t.contiguous().to_vector<float>());
}

TEST(Idx, ConcatenatedGzipMembers) {
  std::vector<uint8_t> raw = u8_file({2, 3}, 6);
  std::vector<uint8_t> a(raw.begin(), raw.begin() + 9), b(raw.begin() + 9, raw.end());
  std::vector<uint8_t> gz = gzip_bytes(a), gz2 = gzip_bytes(b);
  gz.insert(gz.end(), gz2.begin(), gz2.end());
  Tensor r = read_idx_from_memory(gz, "two-members.gz");
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(r.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 7, 14, 21, 28, 35}));
}

TEST(Idx, ReadsI8AndI16BigEndianAsI32) {
  std::vector<uint8_t> i8 = header(0x09, {3});
  i8.insert(i8.end(), {0xFF, 0x80, 0x05});
  Tensor a = read_idx_from_memory(i8, "i8");
  EXPECT_EQ(a.dtype(), DType::i32);
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{-1, -128, 5}));
  std::vector<uint8_t> i16 = header(0x0B, {2});
  i16.insert(i16.end(), {0x01, 0x02, 0xFF, 0xFE});
  EXPECT_EQ(read_idx_from_memory(i16, "i16").to_vector<int32_t>(), (std::vector<int32_t>{258, -2}));
}

TEST(Idx, EmptyDimensionGivesEmptyTensor) {
  Tensor r = read_idx_from_memory(header(0x0D, {0, 5}), "empty");
  EXPECT_EQ(r.shape(), (Shape{0, 5}));
  EXPECT_EQ(r.dtype(), DType::f32);
}

TEST(Idx, TruncatedRawFile) {
  TempDir dir;
  std::string path = dir / "train-images-idx3-ubyte";
  std::vector<uint8_t> b = u8_file({2, 28, 28}, 2 * 784 - 100);
  test::write_bytes(path, b);
  std::string msg = error_of([&] { read_idx(path); });
  EXPECT_NE(msg.find("idx: " + path + ": truncated at byte " + std::to_string(b.size()) +
                     ", header promises 1568 bytes of data"),
            std::string::npos)
      << msg;
}

TEST(Idx, TruncatedGzip) {
  TempDir dir;
  // a complete gzip stream whose IDX content is short
  std::string path = dir / "short.gz";
  test::write_bytes(path, gzip_bytes(u8_file({10, 10}, 60)));
  std::string msg = error_of([&] { read_idx(path); });
  EXPECT_NE(msg.find("idx: " + path + ": truncated at byte 72, header promises 100 bytes of data"), std::string::npos)
      << msg;
  // a gzip file cut in the middle
  std::vector<uint8_t> full(u8_file({200, 50}, 10000));
  std::mt19937 rng(1);
  for (size_t i = 12; i < full.size(); ++i) full[i] = static_cast<uint8_t>(rng());  // incompressible
  std::vector<uint8_t> gz = gzip_bytes(full);
  gz.resize(gz.size() / 2);
  msg = parse_error(gz);
  EXPECT_NE(msg.find("idx: mem.idx: truncated at byte "), std::string::npos) << msg;
  EXPECT_NE(msg.find("header promises 10000 bytes of data"), std::string::npos) << msg;
  // data complete, gzip trailer (CRC, size) cut off
  gz = gzip_bytes(full);
  gz.resize(gz.size() - 4);
  msg = parse_error(gz);
  EXPECT_NE(msg.find("gzip stream ends early"), std::string::npos) << msg;
}

TEST(Idx, WrongMagic) {
  std::vector<uint8_t> b = u8_file({4}, 4);
  b[0] = 0x12;
  b[1] = 0x34;
  std::string msg = parse_error(b);
  EXPECT_NE(msg.find("idx: mem.idx: wrong magic 0x12 0x34 at byte 0, expected 0x00 0x00"), std::string::npos) << msg;
  EXPECT_NE(parse_error({'P', 'K', 3, 4}).find("wrong magic 0x50 0x4B"), std::string::npos);
}

TEST(Idx, BadTypeByte) {
  std::vector<uint8_t> b = u8_file({4}, 4);
  b[2] = 0x07;
  std::string msg = parse_error(b);
  EXPECT_NE(msg.find("idx: mem.idx: unknown data type byte 0x07 at byte 2, expected one of 0x08 (u8)"),
            std::string::npos)
      << msg;
}

TEST(Idx, BadDimCount) {
  EXPECT_NE(parse_error({0, 0, 8, 0}).find("0 dims at byte 3, expected 1 to 16"), std::string::npos);
  EXPECT_NE(parse_error({0, 0, 8, 17}).find("17 dims at byte 3, expected 1 to 16"), std::string::npos);
  EXPECT_NE(parse_error({0, 0, 8, 255}).find("255 dims"), std::string::npos);
  EXPECT_NE(parse_error({0, 0, 8, 3, 0, 0, 0, 1}).find("truncated at byte 8, expected a header of 16 bytes"),
            std::string::npos);
  EXPECT_NE(parse_error({}).find("truncated at byte 0, expected a header of 4 bytes"), std::string::npos);
}

TEST(Idx, HostileDimsNeitherOverflowNorAllocate) {
  // 16 dims of 2^32-1 overflow 64 bits
  std::string msg = parse_error(header(0x0E, std::vector<uint32_t>(16, 0xFFFFFFFFu)));
  EXPECT_NE(msg.find("multiply to more than 2^62 bytes"), std::string::npos) << msg;
  // 8 * (2^32-1)^2 bytes overflows too
  msg = parse_error(header(0x0E, {0xFFFFFFFFu, 0xFFFFFFFFu}));
  EXPECT_NE(msg.find("multiply to more than 2^62 bytes"), std::string::npos) << msg;
  // a zero dim makes the data empty, but the other dims must still be sane (strides are computed from them)
  msg = parse_error(header(0x08, {0, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}));
  EXPECT_NE(msg.find("dims [0, 4294967295, 4294967295] (up to byte 16) multiply to more than 2^62 bytes"),
            std::string::npos)
      << msg;
  // a large but representable promise on a tiny file: truncated, nothing allocated
  std::vector<uint8_t> b = header(0x08, {0xFFFFFFFFu, 0xFFFFu});
  b.push_back(1);
  msg = parse_error(b);
  EXPECT_NE(msg.find("truncated at byte 13, header promises 281470681677825 bytes of data"), std::string::npos) << msg;
  msg = parse_error(gzip_bytes(b));
  EXPECT_NE(msg.find("truncated at byte 13, header promises 281470681677825 bytes of data"), std::string::npos) << msg;
}

TEST(Idx, TrailingBytes) {
  std::vector<uint8_t> b = u8_file({2, 2}, 5);
  std::string msg = parse_error(b);
  EXPECT_NE(msg.find("idx: mem.idx: trailing bytes after byte 16, header promises 4 bytes of data"), std::string::npos)
      << msg;
  msg = parse_error(gzip_bytes(b));
  EXPECT_NE(msg.find("trailing bytes after byte 16, header promises 4 bytes of data"), std::string::npos) << msg;
  // a large tail in gzip stops the inflater early instead of inflating it all
  std::vector<uint8_t> big = u8_file({2, 2}, 4);
  big.resize(big.size() + (8 << 20), 0);
  msg = parse_error(gzip_bytes(big));
  EXPECT_NE(msg.find("trailing bytes after byte 16"), std::string::npos) << msg;
}

TEST(Idx, CorruptGzipAndGarbageAfterStream) {
  std::vector<uint8_t> gz = gzip_bytes(u8_file({64}, 64));
  std::vector<uint8_t> bad = gz;
  for (size_t i = 10; i < bad.size() - 8; ++i) bad[i] ^= 0x5A;
  std::string msg = parse_error(bad);
  EXPECT_NE(msg.find("idx: mem.idx:"), std::string::npos) << msg;
  std::vector<uint8_t> crc = gz;
  crc[crc.size() - 6] ^= 1;  // CRC-32 of the trailer
  msg = parse_error(crc);
  EXPECT_NE(msg.find("corrupt gzip data"), std::string::npos) << msg;
  std::vector<uint8_t> tail = gz;
  tail.insert(tail.end(), {'j', 'u', 'n', 'k', 'j', 'u', 'n', 'k', 'j', 'u', 'n', 'k'});
  msg = parse_error(tail);
  EXPECT_NE(msg.find("corrupt gzip data"), std::string::npos) << msg;
}

TEST(Idx, MissingFileAndDirectory) {
  TempDir dir;
  std::string path = dir / "nope-idx1-ubyte.gz";
  std::string msg = error_of([&] { read_idx(path); });
  EXPECT_NE(msg.find("idx: " + path + ": cannot open (No such file or directory)"), std::string::npos) << msg;
  msg = error_of([&] { read_idx(dir.path().string()); });
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
}

TEST(Idx, WriteErrorsAndAtomicity) {
  TempDir dir;
  std::string msg = error_of([&] { write_idx(dir / "x.idx", arange(3)); });
  EXPECT_NE(msg.find("write_idx: " + dir / "x.idx" + ": cannot store i64 tensors"), std::string::npos) << msg;
  msg = error_of([&] { write_idx(dir / "x.idx", scalar_tensor(1.0)); });
  EXPECT_NE(msg.find("tensor has 0 dims"), std::string::npos) << msg;
  msg = error_of([&] { write_idx(dir / "no-such-dir/x.idx", ones({2})); });
  EXPECT_NE(msg.find("cannot create a temporary file in " + dir / "no-such-dir"), std::string::npos) << msg;
  // overwriting replaces the file and leaves no temporaries behind
  write_idx(dir / "x.idx", ones({3}));
  write_idx(dir / "x.idx", zeros({2, 2}));
  EXPECT_EQ(read_idx(dir / "x.idx").shape(), (Shape{2, 2}));
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

// Random mutations of valid raw and gzip files: each parses or throws nerve::Error (ASan/UBSan check the rest).
TEST(Idx, RandomMutationsParseOrThrow) {
  std::mt19937_64 rng(20240611);
  std::vector<uint8_t> base_raw = u8_file({3, 4, 5}, 60);
  std::vector<uint8_t> f32 = header(0x0D, {2, 3});
  f32.resize(f32.size() + 24, 0x3F);
  std::vector<std::vector<uint8_t>> seeds = {base_raw, gzip_bytes(base_raw), f32, gzip_bytes(f32)};
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> b = seeds[iter % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 6) {
        case 0:  // flip a byte, most often in the header
          if (!b.empty()) b[rng() % 2 ? rng() % std::min<size_t>(b.size(), 20) : rng() % b.size()] ^= 1 << (rng() % 8);
          break;
        case 1: b.resize(rng() % (b.size() + 1)); break;  // truncate
        case 2: b.insert(b.begin() + static_cast<int64_t>(rng() % (b.size() + 1)), static_cast<uint8_t>(rng())); break;
        case 3:
          if (!b.empty()) b.erase(b.begin() + static_cast<int64_t>(rng() % b.size()));
          break;
        case 4:  // the dim count
          if (b.size() > 3) b[3] = static_cast<uint8_t>(rng() % 20);
          break;
        case 5:
          if (!b.empty()) b[rng() % b.size()] = rng() % 2 ? 0xFF : 0x00;
          break;
      }
    }
    try {
      Tensor t = read_idx_from_memory(b, "mutant");
      ASSERT_GE(t.dim(), 1);
      ++parsed;
    } catch (const nerve::Error& e) {
      ASSERT_NE(std::string(e.what()).find("idx: mutant: "), std::string::npos) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 50);  // the mutations are mild enough to keep some files valid
  EXPECT_GT(rejected, 1000);
}
