// Reader for tests/golden/nn_golden.txt (written by make_nn_golden.py): one tensor per line,
// `name dtype shape values...`, plus comparison helpers for the nn and optim tests.
#pragma once
#include <gtest/gtest.h>
#include <nerve/nerve.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace nerve::testing {

class NnGolden {
 public:
  /// The parsed golden file (loaded once).
  static const NnGolden& get() {
    static const NnGolden g(std::string(NERVE_TEST_DATA_DIR) + "/golden/nn_golden.txt");
    return g;
  }

  /// tests/golden/transformer_golden.txt (make_transformer_golden.py), the same format.
  static const NnGolden& transformer() {
    static const NnGolden g(std::string(NERVE_TEST_DATA_DIR) + "/golden/transformer_golden.txt");
    return g;
  }

  /// The tensor named `name`, converted to dtype d when given; throws when absent.
  Tensor operator()(const std::string& name, std::optional<DType> d = std::nullopt) const {
    auto it = tensors_.find(name);
    NERVE_CHECK(it != tensors_.end(), "nn_golden: no tensor named '", name, "'");
    return d && *d != it->second.dtype() ? it->second.to(*d) : it->second.clone();
  }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }

 private:
  explicit NnGolden(const std::string& path) {
    std::ifstream in(path);
    NERVE_CHECK(in.good(), "nn_golden: cannot open ", path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream is(line);
      std::string name, dtype, shape_s;
      is >> name >> dtype >> shape_s;
      Shape shape;
      if (shape_s != "scalar") {
        std::istringstream ss(shape_s);
        for (std::string d; std::getline(ss, d, ',');) shape.push_back(std::stoll(d));
      }
      if (dtype == "i64") {
        std::vector<int64_t> v;
        for (int64_t x; is >> x;) v.push_back(x);
        tensors_[name] = from_vector(v, shape);
      } else {
        std::vector<double> v;
        for (std::string x; is >> x;) v.push_back(std::stod(x));
        Tensor t = from_vector(v, shape);
        tensors_[name] = dtype == "f32" ? t.to(DType::f32) : t;
      }
    }
  }
  std::map<std::string, Tensor> tensors_;
};

/// |a - b| <= atol + rtol |b| elementwise, with shapes equal; reports the first mismatch.
inline ::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol = 1e-10, double rtol = 1e-8) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << to_string(a.shape()) << " != " << to_string(b.shape());
  auto va = a.to(DType::f64).to_vector<double>(), vb = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    bool both_inf = std::isinf(va[i]) && va[i] == vb[i];
    if (!both_inf && !(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i])))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << va[i] << " vs expected " << vb[i] << " (diff " << va[i] - vb[i] << ")";
  }
  return ::testing::AssertionSuccess();
}

/// The message of the nerve::Error thrown by f, or "" when nothing is thrown.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace nerve::testing
