// Coverage: every op declared in include/nerve/ops/ops.h must have a golden case (tests/golden/ops_golden.txt)
// and, unless it is listed as non-differentiable here, a gradient check (the table in test_gradcheck.cpp).
// Adding an op to ops.h without both makes this test fail.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace nerve_test {
std::set<std::string> gradchecked_ops();  // test_gradcheck.cpp
}

namespace {

// Ops with no gradient to check: their outputs are bool or integer.
const std::set<std::string> kNonDifferentiable = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                                                  "logical_not",
                                                  "argmax", "argmin", "one_hot"};

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Function names declared in ops.h: lines like `Tensor name(`, `std::vector<Tensor> name(`,
// `std::pair<Tensor, Tensor> name(` (operators and method forms are not ops of their own).
std::set<std::string> declared_ops() {
  std::string header = read_text(NERVE_TEST_DATA_DIR "/../include/nerve/ops/ops.h");
  static const std::regex decl(
      R"(^\s*(?:Tensor|std::vector<Tensor>|std::pair<Tensor,\s*Tensor>)\s+([a-z_][a-z0-9_]*)\s*\()",
      std::regex::multiline);
  std::set<std::string> ops;
  for (auto it = std::sregex_iterator(header.begin(), header.end(), decl); it != std::sregex_iterator(); ++it)
    ops.insert((*it)[1].str());
  return ops;
}

// Op names of the cases in the golden file (`case NAME OP F32` lines).
std::set<std::string> golden_ops() {
  std::istringstream is(read_text(NERVE_TEST_DATA_DIR "/golden/ops_golden.txt"));
  std::set<std::string> ops;
  std::string line;
  while (std::getline(is, line)) {
    if (line.rfind("case ", 0) != 0) continue;
    std::istringstream ls(line);
    std::string kw, name, op;
    ls >> kw >> name >> op;
    ops.insert(op);
  }
  return ops;
}

TEST(Coverage, HeaderParsesToTheOpSet) {
  std::set<std::string> ops = declared_ops();
  // the parser must see ops of every declaration form, or the checks below would be vacuous
  for (const char* op : {"reshape", "chunk", "add", "max", "matmul", "one_hot", "scatter_add"})
    EXPECT_TRUE(ops.count(op)) << "ops.h parser missed " << op;
  EXPECT_GE(ops.size(), 60u);
  for (const std::string& op : kNonDifferentiable)
    EXPECT_TRUE(ops.count(op)) << "non-differentiable list names '" << op << "', which ops.h does not declare";
}

TEST(Coverage, EveryOpHasAGoldenCase) {
  std::set<std::string> golden = golden_ops();
  for (const std::string& op : declared_ops())
    EXPECT_TRUE(golden.count(op)) << "op '" << op << "' (ops.h) has no case in tests/golden/ops_golden.txt; "
                                  << "add one to tests/golden/make_golden.py and regenerate";
}

TEST(Coverage, EveryGoldenCaseNamesADeclaredOp) {
  std::set<std::string> declared = declared_ops();
  for (const std::string& op : golden_ops())
    EXPECT_TRUE(declared.count(op)) << "ops_golden.txt has cases for '" << op << "', which ops.h does not declare";
}

TEST(Coverage, EveryDifferentiableOpHasAGradientCheck) {
  std::set<std::string> checked = nerve_test::gradchecked_ops();
  for (const std::string& op : declared_ops()) {
    if (kNonDifferentiable.count(op)) continue;
    EXPECT_TRUE(checked.count(op)) << "op '" << op << "' (ops.h) has no gradient check in tests/ops/test_gradcheck.cpp";
  }
}

TEST(Coverage, GradientChecksNameDeclaredOps) {
  std::set<std::string> declared = declared_ops();
  for (const std::string& op : nerve_test::gradchecked_ops()) {
    EXPECT_TRUE(declared.count(op)) << "test_gradcheck.cpp checks '" << op << "', which ops.h does not declare";
    EXPECT_FALSE(kNonDifferentiable.count(op)) << "'" << op << "' is gradient-checked but listed as non-differentiable";
  }
}

}  // namespace
