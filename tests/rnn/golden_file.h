// Reader for tests/golden/rnn_golden.txt (written by tests/golden/make_rnn_golden.py) and a closeness check.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nerve/nerve.h>

namespace rnn_golden {

struct GTensor {
  nerve::Shape shape;
  std::vector<double> v;
  nerve::Tensor to(nerve::DType d) const { return nerve::from_vector<double>(v, shape).to(d); }
  nerve::Tensor ids() const {
    std::vector<int64_t> iv(v.begin(), v.end());
    return nerve::from_vector<int64_t>(iv, shape);
  }
};

struct GCase {
  std::string name, kind;
  std::map<std::string, std::string> kv;
  std::map<std::string, GTensor> t;
  bool has(const std::string& k) const { return t.count(k) > 0; }
  const GTensor& at(const std::string& k) const {
    auto it = t.find(k);
    if (it == t.end()) throw std::runtime_error("golden case " + name + " has no tensor " + k);
    return it->second;
  }
  int64_t num(const std::string& k, int64_t def = 0) const { return kv.count(k) ? std::stoll(kv.at(k)) : def; }
};

inline const std::vector<GCase>& cases() {
  static const std::vector<GCase> all = [] {
    std::vector<GCase> out;
    std::ifstream f(std::string(NERVE_TEST_DATA_DIR) + "/golden/rnn_golden.txt");
    if (!f) throw std::runtime_error("cannot open tests/golden/rnn_golden.txt");
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream is(line);
      std::string tag;
      is >> tag;
      if (tag == "case") {
        GCase c;
        is >> c.name >> c.kind;
        for (std::string kv; is >> kv;) {
          auto eq = kv.find('=');
          c.kv[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        out.push_back(std::move(c));
      } else if (tag == "t") {
        std::string key;
        int64_t nd;
        is >> key >> nd;
        GTensor g;
        g.shape.resize(nd);
        for (auto& s : g.shape) is >> s;
        g.v.resize(nerve::numel(g.shape));
        for (auto& x : g.v) is >> x;
        if (!is) throw std::runtime_error("bad golden line: " + line.substr(0, 60));
        out.back().t[key] = std::move(g);
      }
    }
    return out;
  }();
  return all;
}

/// Every element of got within atol + rtol * |want|; reports the first few mismatches.
inline void expect_close(const nerve::Tensor& got, const GTensor& want, double atol, double rtol,
                         const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << ": undefined";
  ASSERT_EQ(got.shape(), want.shape) << what;
  std::vector<double> g = got.to(nerve::DType::f64).to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - want.v[i]) <= atol + rtol * std::abs(want.v[i])) && bad++ < 3)
      ADD_FAILURE() << what << "[" << i << "]: got " << g[i] << ", want " << want.v[i];
}

}  // namespace rnn_golden
