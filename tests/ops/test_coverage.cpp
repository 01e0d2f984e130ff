// Coverage: every op of the registry (include/nerve/ops/registry.h) must have a golden case
// (tests/golden/ops_golden.txt) and, when the registry marks it differentiable, a gradient check
// (test_gradcheck.cpp); every function that ops.h declares by hand must be registered.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nerve/nerve.h>

#include "golden/golden_reader.h"

namespace nerve_test {
std::set<std::string> gradchecked_ops();  // test_gradcheck.cpp
}

namespace {

using nerve::op_registry;
using nerve::OpInfo;

std::set<std::string> registered_ops() {
  std::set<std::string> ops;
  for (const OpInfo& o : op_registry()) ops.insert(o.name);
  return ops;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Function names declared in ops.h, ops/loss.h, ops/sequence.h and ops/attention.h: lines like `Tensor name(`, `std::vector<Tensor> name(`,
// `std::pair<Tensor, Tensor> name(` (operators and method forms are not ops of their own).
std::set<std::string> declared_ops() {
  std::string header = read_text(NERVE_TEST_DATA_DIR "/../include/nerve/ops/ops.h") +
                       read_text(NERVE_TEST_DATA_DIR "/../include/nerve/ops/loss.h") +
                       read_text(NERVE_TEST_DATA_DIR "/../include/nerve/ops/sequence.h") +
                       read_text(NERVE_TEST_DATA_DIR "/../include/nerve/ops/attention.h");
  static const std::regex decl(
      R"(^\s*(?:Tensor|std::vector<Tensor>|std::pair<Tensor,\s*Tensor>)\s+([a-z_][a-z0-9_]*)\s*\()",
      std::regex::multiline);
  std::set<std::string> ops;
  for (auto it = std::sregex_iterator(header.begin(), header.end(), decl); it != std::sregex_iterator(); ++it)
    ops.insert((*it)[1].str());
  return ops;
}

// Op names of the cases in the golden file (the KIND of its `case NAME OP ...` records).
std::set<std::string> golden_ops() {
  std::set<std::string> ops;
  for (const nerve::golden::Case& c : nerve::golden::File::cached("golden/ops_golden.txt").cases)
    ops.insert(c.kind);
  return ops;
}

TEST(Coverage, HeaderParsesToTheOpSet) {
  std::set<std::string> ops = declared_ops();
  // the parser must see ops of every declaration form, or the check below would be vacuous
  for (const char* op : {"reshape", "chunk", "add", "max", "matmul", "one_hot", "scatter_add", "clamp"})
    EXPECT_TRUE(ops.count(op)) << "ops.h parser missed " << op;
  EXPECT_GE(ops.size(), 50u);
}

TEST(Coverage, EveryDeclaredOpIsRegistered) {
  std::set<std::string> reg = registered_ops();
  for (const std::string& op : declared_ops())
    EXPECT_TRUE(reg.count(op)) << "op '" << op << "' (ops.h) is not in the op registry (src/ops/registry.cpp)";
}

TEST(Coverage, RegistryHoldsTheTableOps) {
  // the unary_ops.def table reaches the registry with its public functions
  for (const char* op : {"neg", "exp", "relu", "leaky_relu", "gelu"}) {
    const OpInfo& info = nerve::find_op(op);
    EXPECT_TRUE(info.from_table) << op;
    EXPECT_EQ(info.group, "unary") << op;
  }
  EXPECT_THROW(nerve::find_op("gelu_tanh"), nerve::Error);  // hidden: reached through gelu(x, "tanh")
  EXPECT_THROW(nerve::find_op("no_such_op"), nerve::Error);
}

TEST(Coverage, EveryOpHasAGoldenCase) {
  std::set<std::string> golden = golden_ops();
  for (const std::string& op : registered_ops())
    EXPECT_TRUE(golden.count(op)) << "op '" << op << "' has no case in tests/golden/ops_golden.txt; "
                                  << "add one to tests/golden/make_golden.py and regenerate";
}

TEST(Coverage, EveryGoldenCaseNamesARegisteredOp) {
  std::set<std::string> reg = registered_ops();
  for (const std::string& op : golden_ops())
    EXPECT_TRUE(reg.count(op)) << "ops_golden.txt has cases for '" << op << "', which the registry does not hold";
}

TEST(Coverage, EveryDifferentiableOpHasAGradientCheck) {
  std::set<std::string> checked = nerve_test::gradchecked_ops();
  for (const OpInfo& op : op_registry()) {
    if (!op.differentiable) continue;
    EXPECT_TRUE(checked.count(op.name)) << "op '" << op.name << "' has no gradient check in tests/ops/test_gradcheck.cpp";
  }
}

TEST(Coverage, GradientChecksNameDifferentiableOps) {
  for (const std::string& op : nerve_test::gradchecked_ops()) {
    EXPECT_NO_THROW(nerve::find_op(op)) << "test_gradcheck.cpp checks '" << op << "', which is not registered";
    if (op_registry().empty()) continue;
    try {
      EXPECT_TRUE(nerve::find_op(op).differentiable) << "'" << op << "' is gradient-checked but marked non-differentiable";
    } catch (const nerve::Error&) {
    }
  }
}

}  // namespace
