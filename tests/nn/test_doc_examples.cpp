// The code examples of the public headers' doc comments, compiled and run here so they cannot rot: each example is
// copied verbatim between "// example:" markers below, and a test checks the copy still equals the header's text.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nerve/nerve.h>

using namespace nerve;

namespace {

// example: nerve/nn/module.h
struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(4, 2));
  Tensor forward(const Tensor& x) override { return (*fc)(relu(x)); }
};
// end example

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The lines between "// example: <header>" and "// end example" in this file.
std::string copied_example(const std::string& header) {
  std::string out;
  bool in_block = false;
  for (const std::string& line : read_lines(NERVE_TEST_DATA_DIR "/nn/test_doc_examples.cpp")) {
    if (line == "// example: " + header) in_block = true;
    else if (line == "// end example") in_block = false;
    else if (in_block) out += line + "\n";
  }
  return out;
}

// The doc-comment code block that starts with `first` in include/<header>, with its "///   " prefix removed.
std::string header_example(const std::string& header, const std::string& first) {
  const std::string prefix = "///   ";
  std::string out;
  bool in_block = false;
  for (const std::string& line : read_lines(NERVE_TEST_DATA_DIR "/../include/" + header)) {
    if (line.rfind(prefix + first, 0) == 0) in_block = true;
    if (!in_block) continue;
    if (line.rfind(prefix, 0) != 0) break;
    out += line.substr(prefix.size()) + "\n";
  }
  return out;
}

}  // namespace

TEST(DocExamples, CopiesMatchTheHeaders) {
  const std::string header = "nerve/nn/module.h";
  const std::string copy = copied_example(header);
  ASSERT_FALSE(copy.empty());
  EXPECT_EQ(header_example(header, "struct Net : nn::Module {"), copy)
      << "the example in " << header << " changed: copy it into " << __FILE__;
}

TEST(DocExamples, ModuleExampleRuns) {
  auto net = std::make_shared<Net>();
  EXPECT_EQ(net->named_parameters().size(), 2u);
  EXPECT_EQ(net->state_dict()[0].first, "fc.weight");
  EXPECT_EQ((*net)(ones({3, 4})).shape(), (Shape{3, 2}));
}
