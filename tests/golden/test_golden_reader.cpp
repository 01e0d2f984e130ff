// The golden file reader: well-formed records parse to the values written, every committed golden file parses,
// and a malformed file gives a FormatError naming the file and the line.
#include <gtest/gtest.h>

#include <sstream>

#include "golden_reader.h"

using namespace nerve;
using nerve::golden::File;
using nerve::golden::FormatError;

namespace {

File parse(const std::string& text) {
  std::istringstream in(text);
  return File::parse(in, "mem.txt");
}

// The FormatError message of parsing text, or "" when it parses.
std::string format_error(const std::string& text) {
  try {
    parse(text);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(GoldenReader, ParsesTheRecords) {
  File f = parse(
      "# a comment\n"
      "\n"
      "t top.x f32 2 2 3 1 2 3 4 5 -6.5\n"
      "t top.s i64 0 7\n"
      "keys net 3 a.weight a.bias b\n"
      "case c1 relu f32=1 layout.x0=t\n"
      "param shape 2 4 -1\n"
      "param empty 0\n"
      "in x0 f64 1 3 nan inf -inf\n"
      "out 0 f64 1 0\n"
      "grad x0 f64 1 3 0.5 1e-300 -2\n"
      "end\n"
      "case c2 embedding vocab=5\n"
      "t idx i64 1 2 4 0\n"
      "end\n");
  EXPECT_EQ(f.path, "mem.txt");
  EXPECT_EQ(f.top.tensors.size(), 2u);
  const auto& x = f.top.at("top.x");
  EXPECT_EQ(x.dtype, DType::f32);
  EXPECT_EQ(x.shape, (Shape{2, 3}));
  EXPECT_EQ(x.values, (std::vector<double>{1, 2, 3, 4, 5, -6.5}));
  EXPECT_EQ(x.line, 3);
  Tensor tx = f.top("top.x");
  EXPECT_EQ(tx.dtype(), DType::f32);
  EXPECT_EQ(tx.to_vector<float>()[5], -6.5f);
  EXPECT_EQ(f.top("top.x", DType::f64).dtype(), DType::f64);
  {
    DeviceGuard meta(Device::meta);  // tests that build models on meta still read golden values
    EXPECT_EQ(f.top("top.s").device(), Device::cpu);
    EXPECT_EQ(f.top("top.s").item<int64_t>(), 7);
  }
  Tensor s = f.top("top.s");
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<int64_t>(), 7);
  EXPECT_EQ(f.top.list("net", "keys").items, (std::vector<std::string>{"a.weight", "a.bias", "b"}));
  EXPECT_FALSE(f.top.has("top.y"));
  EXPECT_TRUE(nerve::testing::error_of([&] { f.top.at("top.y"); }).find("top.y") != std::string::npos);

  ASSERT_EQ(f.cases.size(), 2u);
  const auto& c1 = f.cases[0];
  EXPECT_EQ(c1.name, "c1");
  EXPECT_EQ(c1.kind, "relu");
  EXPECT_EQ(c1.line, 6);
  EXPECT_EQ(c1.num("f32"), 1);
  EXPECT_EQ(c1.num("absent", 9), 9);
  EXPECT_EQ(c1.str("layout.x0"), "t");
  EXPECT_EQ(c1.list("shape", "param").items, (std::vector<std::string>{"4", "-1"}));
  EXPECT_TRUE(c1.list("empty", "param").items.empty());
  const auto& in = c1.at("x0", "in");
  EXPECT_TRUE(std::isnan(in.values[0]));
  EXPECT_EQ(in.values[1], INFINITY);
  EXPECT_EQ(in.values[2], -INFINITY);
  EXPECT_EQ(c1.at("x0", "grad").values[1], 1e-300);  // the same name under another tag is another record
  EXPECT_EQ(c1.at("0", "out").shape, (Shape{0}));
  EXPECT_FALSE(c1.has("x0"));  // tag t
  EXPECT_EQ(f.cases[1].at("idx").ids().to_vector<int64_t>(), (std::vector<int64_t>{4, 0}));
  EXPECT_TRUE(nerve::testing::error_of([&] { c1.num("layout.x0"); }).find("not an integer") != std::string::npos);
}

TEST(GoldenReader, MalformedFilesNameTheFileAndLine) {
  struct Bad {
    std::string text, want;
  };
  const std::vector<Bad> bad = {
      {"t a f64 1 3 1 2\n", "mem.txt:1: tensor a of shape [3]: expected 3 values, found 2"},
      {"t a f64 1 2 1 2 3\n", "mem.txt:1: tensor a of shape [2]: expected 2 values, found 3"},
      {"# c\nt a f65 1 1 1\n", "mem.txt:2: tensor a: unknown dtype 'f65'"},
      {"t a f64 x 1\n", "mem.txt:1: tensor a: NDIM must be an integer"},
      {"t a f64 -1\n", "mem.txt:1: tensor a: NDIM must be an integer"},
      {"t a f64 2 3\n", "mem.txt:1: tensor a: 2 dims announced, 1 tokens follow"},
      {"t a f64 1 -3\n", "mem.txt:1: tensor a: dim 0 must be an integer"},
      {"t a f64 2 99999 99999\n", "mem.txt:1: tensor a: more than 2^31 elements"},
      {"t a f64 1 2 1 1.5x\n", "mem.txt:1: tensor a: value 1 is not a number: '1.5x'"},
      {"t a f64\n", "mem.txt:1: tensor record 't' needs TAG NAME DTYPE NDIM"},
      {"t a f64 0 1\nt a f64 0 2\n", "mem.txt:2: duplicate tensor record 't a'"},
      {"keys m 3 a b\n", "mem.txt:1: list m: expected 3 items, found 2"},
      {"param p x\n", "mem.txt:1: list p: N must be a count"},
      {"bogus 1 2\n", "mem.txt:1: unknown record 'bogus'"},
      {"end\n", "mem.txt:1: end outside a case"},
      {"case a op\ncase b op\n", "mem.txt:2: case inside case a (line 1): missing end"},
      {"case a op\nt x f64 0 1\n", "mem.txt:2: case a (line 1) has no end"},
      {"case a\n", "mem.txt:1: case needs NAME KIND"},
      {"case a op f32\nend\n", "mem.txt:1: case a: expected KEY=VALUE, found 'f32'"},
      {"case a op\nend\ncase a op\nend\n", "mem.txt:3: duplicate case name a (first at line 1)"},
  };
  for (const Bad& b : bad) {
    std::string msg = format_error(b.text);
    EXPECT_EQ(msg.substr(0, b.want.size()), b.want) << "input:\n" << b.text << "message: " << msg;
  }
  // a well-formed text for contrast: the checks above are about the malformation, not the parser failing always
  EXPECT_EQ(format_error("t a f64 1 2 1 2\ncase a op k=v\nt a f64 0 1\nend\n"), "");
}

TEST(GoldenReader, MissingFileNamesThePath) {
  try {
    File::read("/nonexistent/golden.txt");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/golden.txt"), std::string::npos) << e.what();
  }
}

// Every committed golden file parses with the one reader, and has records.
TEST(GoldenReader, EveryGoldenFileParses) {
  for (const char* rel : {"golden/ops_golden.txt", "golden/nn_golden.txt", "golden/rnn_golden.txt",
                          "golden/transformer_golden.txt", "golden/models_golden.txt"}) {
    SCOPED_TRACE(rel);
    const File* f = nullptr;
    ASSERT_NO_THROW(f = &File::cached(rel));
    EXPECT_GE(f->top.tensors.size() + f->top.lists.size() + f->cases.size(), 10u);
  }
}

}  // namespace
