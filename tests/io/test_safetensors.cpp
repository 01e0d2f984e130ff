// safetensors: round trips of every dtype and layout, the mapping (no copy), files of other writers, and every
// kind of broken or hostile file rejected with the file, the tensor and the byte offset in the message.
#include <sys/stat.h>

#include <cmath>

#include "io_test_util.h"
#include "nerve/io/safetensors.h"
#include "nerve/ops/ops.h"

namespace nerve {
namespace {

using test::error_of;
using test::same_bits;
using test::TempDir;

// A file from a header text and data bytes, as the format puts them together.
std::vector<uint8_t> st_file(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<long>(header.size()));
  return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

nn::StateDict every_dtype() {
  Tensor f = from_vector<float>({0.f, -0.f, 1.5f, -2.25f, 1e-3f, 65504.f, INFINITY, -INFINITY, NAN}, {3, 3});
  return {{"f64", from_vector<double>({1.0 / 3, -2.5, 1e300}, {3})},
          {"f32", f},
          {"bf16", f.to(DType::bf16)},
          {"f16", f.to(DType::f16)},
          {"i64", from_vector<int64_t>({0, -1, INT64_MAX, INT64_MIN}, {2, 2})},
          {"i32", from_vector<int32_t>({7, INT32_MIN}, {2})},
          {"i8", from_vector<int32_t>({-128, 127, 3}, {3}).to(DType::i8)},
          {"u8", from_vector<uint8_t>({0, 255, 9}, {1, 3})},
          {"bool", from_vector<bool>({true, false, true}, {3})},
          {"scalar", scalar_tensor(2.5, DType::f64)},
          {"empty", zeros({0, 5})}};
}

TEST(Safetensors, RoundTripsEveryDtypeInOrderWithMetadata) {
  TempDir dir;
  nn::StateDict sd = every_dtype();
  io::save_safetensors(sd, dir / "a.safetensors", {{"format", "pt"}, {"note", "ünïcode"}});
  io::SafetensorsFile f = io::read_safetensors(dir / "a.safetensors");
  ASSERT_EQ(f.tensors.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, sd[i].first);
    EXPECT_TRUE(same_bits(f.tensors[i].second, sd[i].second)) << sd[i].first;
  }
  EXPECT_EQ(f.metadata, (io::Metadata{{"format", "pt"}, {"note", "ünïcode"}}));
}

TEST(Safetensors, WritesViewsAsTheirValues) {
  Tensor base = arange(0, 24, 1, DType::f32).reshape({4, 6});
  nn::StateDict sd{{"t", base.t()}, {"slice", base.narrow(0, 1, 2).narrow(1, 2, 3)}, {"row", base.select(0, 3)}};
  io::SafetensorsFile f = io::parse_safetensors(io::safetensors_bytes(sd));
  for (size_t i = 0; i < sd.size(); ++i) EXPECT_TRUE(same_bits(f.tensors[i].second, sd[i].second.contiguous()));
  EXPECT_TRUE(f.tensors[0].second.is_contiguous());
}

// The layout of the published format, byte by byte: header length, JSON padded with spaces to 8, data by
// decreasing item size so every tensor is aligned.
TEST(Safetensors, WritesThePublishedLayout) {
  nn::StateDict sd{{"b", from_vector<uint8_t>({1, 2}, {2})}, {"a", from_vector<float>({1.f}, {1})}};
  std::vector<uint8_t> bytes = io::safetensors_bytes(sd);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})");
  EXPECT_EQ(bytes.size(), 8 + n + 6);
  EXPECT_EQ(bytes[8 + n + 4], 1);
}

TEST(Safetensors, ReadsAFileOfAnotherWriter) {
  // {"w": 2 f32, "__metadata__"} with the metadata after the tensor and no padding
  auto file = st_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})",
                      f32_bytes({1.5f, -3.f}));
  io::SafetensorsFile f = io::parse_safetensors(file, "x");
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].second.to_vector<float>(), (std::vector<float>{1.5f, -3.f}));
  EXPECT_EQ(f.metadata.at("k"), "v");
}

// Loading maps the file: tensors point into one mapping (their distance is their distance in the file), and
// writing to them changes the process's copy, never the file.
TEST(Safetensors, LoadMapsWithoutCopyingAndCopyOnWrite) {
  TempDir dir;
  Tensor a = randn({64}), b = randn({16, 4});
  io::save_safetensors({{"a", a}, {"b", b}}, dir / "m.safetensors");
  const auto before = test::read_bytes(dir / "m.safetensors");
  {
    nn::StateDict sd = io::load_safetensors(dir / "m.safetensors");
    const auto* pa = static_cast<const uint8_t*>(sd[0].second.raw_data());
    const auto* pb = static_cast<const uint8_t*>(sd[1].second.raw_data());
    EXPECT_EQ(pb - pa, 64 * 4);  // b follows a in the file, and in memory
    EXPECT_TRUE(same_bits(sd[1].second, b));
    sd[0].second.fill_(7.0);
    EXPECT_EQ(sd[0].second.to_vector<float>()[5], 7.f);
  }
  EXPECT_EQ(test::read_bytes(dir / "m.safetensors"), before);
  // the mapping stays alive as long as a tensor from it does
  Tensor kept = io::load_safetensors(dir / "m.safetensors")[1].second;
  EXPECT_TRUE(same_bits(kept, b));
}

// A tensor not aligned to its item size in the file (another writer's layout) is copied, with the right values.
TEST(Safetensors, UnalignedTensorIsCopied) {
  TempDir dir;
  std::vector<uint8_t> data{9};
  auto f = f32_bytes({1.f, 2.f, 3.f});
  data.insert(data.end(), f.begin(), f.end());
  test::write_bytes(dir / "u.safetensors",
                    st_file(R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                            R"("f":{"dtype":"F32","shape":[3],"data_offsets":[1,13]}})",
                            data));
  nn::StateDict sd = io::load_safetensors(dir / "u.safetensors");
  EXPECT_EQ(sd[1].second.to_vector<float>(), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(sd[1].second.raw_data()) % 4, 0u);
}

TEST(Safetensors, SaveIsAtomicAndReplaces) {
  TempDir dir;
  io::save_safetensors({{"a", ones({2})}}, dir / "m.safetensors");
  io::save_safetensors({{"a", zeros({3})}}, dir / "m.safetensors");
  EXPECT_EQ(io::load_safetensors(dir / "m.safetensors")[0].second.numel(), 3);
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary file left behind
}

TEST(Safetensors, SaveRejectsBadNames) {
  EXPECT_EQ(error_of([] { io::safetensors_bytes({{"a", ones({1})}, {"a", ones({1})}}); }),
            "save_safetensors: tensor name 'a' appears twice");
  EXPECT_EQ(error_of([] { io::safetensors_bytes({{"__metadata__", ones({1})}}); }),
            "save_safetensors: '__metadata__' is reserved, not a tensor name");
  EXPECT_EQ(error_of([] { io::safetensors_bytes({{"a", Tensor()}}); }), "save_safetensors: tensor 'a' is undefined");
  EXPECT_NE(error_of([] { io::safetensors_bytes({{"\xff", ones({1})}}); }).find("not valid UTF-8"), std::string::npos);
}

std::string parse_error(const std::vector<uint8_t>& file) {
  return error_of([&] { io::parse_safetensors(file, "f.safetensors"); });
}
const std::vector<uint8_t> k8 = f32_bytes({1.f, 2.f});
std::string one(const std::string& body) { return R"({"w":{)" + body + "}}"; }

TEST(Safetensors, RejectsTruncatedAndOversizedHeaders) {
  EXPECT_EQ(parse_error({1, 2, 3}), "load_safetensors: f.safetensors: truncated: 3 bytes, fewer than the 8-byte header length");
  auto f = st_file(one(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])"), k8);
  f[0] = 0xff;  // header length 255+...
  EXPECT_NE(parse_error(f).find("header length "), std::string::npos);
  EXPECT_NE(parse_error(f).find("runs past the end of the"), std::string::npos);
  // a whole file cut at every byte: always an error, never a crash
  auto good = st_file(one(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])"), k8);
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_NE(parse_error(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(n))), "") << n;
  EXPECT_EQ(parse_error(good), "");
}

TEST(Safetensors, RejectsBadJson) {
  EXPECT_NE(parse_error(st_file(R"({"w": {"dtype": "F32",)", {})).find("load_safetensors: f.safetensors: bad JSON header at byte "),
            std::string::npos);
  EXPECT_EQ(parse_error(st_file("[1, 2]", {})),
            "load_safetensors: f.safetensors: the header (bytes 8..14) must be a JSON object, got array");
  EXPECT_EQ(parse_error(st_file(std::string(100, '[') + std::string(100, ']'), {})),
            "load_safetensors: f.safetensors: the JSON header nests deeper than 8 levels");
  EXPECT_NE(parse_error(st_file(R"({"__metadata__":{"k":1}})", {})).find("\"__metadata__\" entry 'k' is not a string"),
            std::string::npos);
  // a number beyond a double: nlohmann throws out_of_range, not parse_error (found by the fuzzer)
  EXPECT_EQ(parse_error(st_file(R"({"x": 2E999999})", {})).rfind("load_safetensors: f.safetensors: bad JSON header (bytes 8..23): [json.exception.out_of_range.406]", 0), 0u)
      << parse_error(st_file(R"({"x": 2E999999})", {}));
}

TEST(Safetensors, RejectsBadEntriesNamingTheTensor) {
  auto err = [&](const std::string& body, const std::vector<uint8_t>& data = k8) {
    return parse_error(st_file(one(body), data));
  };
  const std::string at = "load_safetensors: f.safetensors: tensor 'w': ";
  EXPECT_EQ(err(R"("dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2])").rfind(at + "unknown or unsupported dtype 'F8_E4M3' (nerve reads F64, F32, BF16, F16, I64, I32, I8, U8, BOOL)", 0), 0u);
  EXPECT_NE(err(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])").find("shape entries must be non-negative integers, got -2"), std::string::npos);
  EXPECT_NE(err(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8])").find("overflows 64 bits"), std::string::npos);
  EXPECT_NE(err(R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8])").find("byte size of shape"), std::string::npos);
  EXPECT_NE(err(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])").find("hold 8 bytes, shape [3] F32 needs 12"), std::string::npos);
  EXPECT_NE(err(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])").find("end before they begin"), std::string::npos);
  EXPECT_NE(err(R"("dtype":"F32","shape":[2],"data_offsets":[0])").find("must be two non-negative integers"), std::string::npos);
  EXPECT_NE(err(R"("shape":[2],"data_offsets":[0,8])").find("missing or non-string \"dtype\""), std::string::npos);
  // outside the data: names the file byte and the file size
  EXPECT_EQ(err(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"),
            at + "data_offsets [0, 16] point outside the 8 bytes of data (file byte 79 > file size 71; truncated?)");
}

TEST(Safetensors, RejectsOverlapsGapsAndTrailingBytes) {
  auto two = [&](uint64_t b0, uint64_t e0, uint64_t b1, uint64_t e1, size_t data) {
    std::string h = R"({"a":{"dtype":"U8","shape":[)" + std::to_string(e0 - b0) + R"(],"data_offsets":[)" +
                    std::to_string(b0) + "," + std::to_string(e0) + R"(]},"b":{"dtype":"U8","shape":[)" +
                    std::to_string(e1 - b1) + R"(],"data_offsets":[)" + std::to_string(b1) + "," +
                    std::to_string(e1) + "]}}";
    return parse_error(st_file(h, std::vector<uint8_t>(data, 0)));
  };
  EXPECT_NE(two(0, 4, 2, 6, 6).find("tensor 'b': data_offsets [2, 6] overlap tensor 'a' [0, 4] (at file byte "),
            std::string::npos);
  EXPECT_NE(two(0, 4, 5, 6, 6).find("tensor 'b': a gap of 1 bytes before its data"), std::string::npos);
  EXPECT_NE(two(0, 4, 4, 6, 9).find("3 bytes after the last tensor's data"), std::string::npos);
  EXPECT_EQ(two(0, 4, 4, 6, 6), "");
  EXPECT_EQ(two(0, 0, 0, 6, 6), "");  // an empty tensor overlaps nothing
}

TEST(Safetensors, RejectsBoolBytesOtherThanZeroAndOne) {
  EXPECT_EQ(parse_error(st_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", {1, 0, 2})),
            "load_safetensors: f.safetensors: tensor 'm': BOOL byte 2 at file byte 65 is neither 0 nor 1");
}

TEST(Safetensors, FileErrorsNameThePath) {
  TempDir dir;
  EXPECT_EQ(error_of([&] { io::load_safetensors(dir / "none"); }),
            "load_safetensors: " + (dir / "none") + ": cannot open (No such file or directory)");
  EXPECT_EQ(error_of([&] { io::load_safetensors(dir.path().string()); }),
            "load_safetensors: " + dir.path().string() + ": is a directory, expected a file");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(error_of([&] { io::load_safetensors(dir / "fifo"); }),
            "load_safetensors: " + (dir / "fifo") + ": not a regular file");
  test::write_bytes(dir / "empty", {});
  EXPECT_NE(error_of([&] { io::load_safetensors(dir / "empty"); }).find("truncated: 0 bytes"), std::string::npos);
}

}  // namespace
}  // namespace nerve
