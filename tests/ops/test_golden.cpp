// Golden tests: every op's forward output and input gradients against PyTorch's, read from
// tests/golden/ops_golden.txt (written by tests/golden/make_golden.py, read by tests/golden/golden_reader.h).
// Each case calls its op through the op registry (find_op), in f64 (tight tolerance) and, when the file says so,
// in f32 (loose tolerance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <nerve/nerve.h>

#include "golden/golden_reader.h"

namespace {

using namespace nerve;

// ------------------------------------------------------------------ the file
// a record of the file (name: the input's name, or the output's index) and the layout its input is given in
struct GoldenTensor : golden::GTensor {
  std::string layout = "c";
};

struct Case {
  std::string name, op;
  int line = 0;
  bool f32 = false;
  Attrs p;
  std::vector<GoldenTensor> in, out;
  std::map<int, GoldenTensor> gout;
  std::vector<GoldenTensor> grad;
};

GoldenTensor from_record(const golden::GTensor& g, std::string layout = "c") {
  GoldenTensor t;
  static_cast<golden::GTensor&>(t) = g;
  t.layout = std::move(layout);
  return t;
}

// The cases of ops_golden.txt, read by the golden reader (tests/golden/golden_reader.h): `case NAME OP f32=F
// [layout.INPUT=L ...]`, then `param`, `in`, `out`, `gout` and `grad` records, then `end`.
std::vector<Case> parse_file() {
  const golden::File& f = golden::File::cached("golden/ops_golden.txt");
  if (!f.top.tensors.empty() || !f.top.lists.empty())
    throw std::runtime_error("golden: " + f.path + ": records outside a case");
  std::vector<Case> cases;
  for (const golden::Case& gc : f.cases) {
    const std::string where = f.path + ":" + std::to_string(gc.line) + ": case " + gc.name + ": ";
    Case c;
    c.name = gc.name;
    c.op = gc.kind;
    c.line = gc.line;
    c.f32 = gc.num("f32") != 0;
    for (const auto& [k, v] : gc.kv)
      if (k != "f32" && !(k.rfind("layout.", 0) == 0 && gc.has(k.substr(7), "in")))
        throw std::runtime_error("golden: " + where + "unknown key " + k);
    for (const golden::GList& l : gc.lists) {
      if (l.tag != "param") throw std::runtime_error("golden: " + where + "unexpected " + l.tag + " record");
      c.p.set(l.name, l.items);
    }
    for (const golden::GTensor& t : gc.tensors) {
      if (t.tag == "in") c.in.push_back(from_record(t, gc.str("layout." + t.name, "c")));
      else if (t.tag == "out") c.out.push_back(from_record(t));
      else if (t.tag == "gout") c.gout[std::stoi(t.name)] = from_record(t);
      else if (t.tag == "grad") c.grad.push_back(from_record(t));
      else throw std::runtime_error("golden: " + where + "unexpected " + t.tag + " record");
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

const std::vector<Case>& golden_cases() {
  static const std::vector<Case> cases = parse_file();
  return cases;
}

// ------------------------------------------------------------------ building and comparing tensors
// An input with the file's layout: contiguous, transposed (t) or every other element at offset 1 (s).
Tensor make_input(const GoldenTensor& g, DType d) {
  Tensor c = g.tensor(d);
  if (g.layout == "c") return c;
  if (g.layout == "t") {
    if (c.dim() < 2) throw std::runtime_error("golden: layout t needs 2 dims");
    return c.transpose(-1, -2).contiguous().transpose(-1, -2);
  }
  if (g.layout == "s") {
    if (c.dim() < 1) throw std::runtime_error("golden: layout s needs 1 dim");
    Shape wide = g.shape;
    int64_t n = wide.back();
    wide.back() = 2 * n + 1;
    Tensor base = full(wide, is_floating(d) ? std::nan("") : 77.0, d);
    Tensor v = slice(base, -1, 1, 2 * n + 1, 2);
    v.copy_(c);
    return v;
  }
  throw std::runtime_error("golden: unknown layout '" + g.layout + "'");
}

struct Tol {
  double atol, rtol;
};

::testing::AssertionResult matches(const Tensor& actual, const GoldenTensor& want, DType want_dtype, Tol tol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (actual.shape() != want.shape)
    return ::testing::AssertionFailure() << "shape " << to_string(actual.shape()) << ", expected "
                                         << to_string(want.shape);
  if (actual.dtype() != want_dtype)
    return ::testing::AssertionFailure() << "dtype " << dtype_name(actual.dtype()) << ", expected "
                                         << dtype_name(want_dtype);
  std::vector<double> a = actual.to_vector<double>();
  bool exact = !is_floating(want_dtype);
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = a[i], y = want.values[i];
    bool ok;
    if (std::isnan(y)) ok = std::isnan(x);
    else if (std::isinf(y) || exact) ok = x == y;
    else ok = std::abs(x - y) <= tol.atol + tol.rtol * std::abs(y);
    if (!ok && bad++ == 0) first = static_cast<int64_t>(i);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " values differ; first at flat index " << first
                                       << ": got " << a[static_cast<size_t>(first)] << ", expected "
                                       << want.values[static_cast<size_t>(first)];
}

// Whether input k of c takes part in autograd: floating, and neither the case (nograd) nor the input (const: the
// indices of inputs torch does not differentiate, such as a loss's class weights) says otherwise.
bool wants_grad(const Case& c, size_t k) {
  if (!is_floating(c.in[k].dtype) || c.p.b("nograd")) return false;
  if (!c.p.has("const")) return true;
  const Shape consts = c.p.shape("const");
  return std::find(consts.begin(), consts.end(), static_cast<int64_t>(k)) == consts.end();
}

bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

// Runs one case with floating inputs as `fdt` (f64: the golden dtype; f32: every f64 tensor becomes f32).
void run_case(const Case& c, DType fdt, Tol tol) {
  auto map_dtype = [&](DType d) { return d == DType::f64 ? fdt : d; };
  const OpInfo& op = find_op(c.op);  // the op registry (include/nerve/ops/registry.h)
  std::vector<Tensor> in;
  std::vector<std::vector<double>> before;
  for (const GoldenTensor& g : c.in) {
    Tensor x = make_input(g, map_dtype(g.dtype));
    if (wants_grad(c, in.size())) x.requires_grad_(true);
    before.push_back(x.to_vector<double>());
    in.push_back(x);
  }
  std::vector<Tensor> out = op.call(in, c.p);
  ASSERT_EQ(out.size(), c.out.size()) << "number of outputs";
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_TRUE(matches(out[i], c.out[i], map_dtype(c.out[i].dtype), tol)) << "output " << i;

  Tensor loss;
  for (size_t i = 0; i < out.size(); ++i) {
    auto g = c.gout.find(static_cast<int>(i));
    bool differentiable = g != c.gout.end();
    ASSERT_EQ(out[i].requires_grad(), differentiable) << "output " << i << " requires_grad";
    if (!differentiable) continue;
    Tensor term = sum(out[i] * g->second.tensor(out[i].dtype()));
    loss = loss.defined() ? loss + term : term;
  }
  if (loss.defined()) loss.backward();
  for (const GoldenTensor& want : c.grad) {
    size_t k = 0;
    while (k < c.in.size() && c.in[k].name != want.name) ++k;
    ASSERT_LT(k, c.in.size()) << "gradient for unknown input " << want.name;
    Tensor g = in[k].grad().defined() ? in[k].grad() : zeros_like(in[k]);
    EXPECT_TRUE(matches(g, want, map_dtype(want.dtype), tol)) << "gradient of input " << want.name;
  }
  for (size_t k = 0; k < in.size(); ++k)
    EXPECT_TRUE(same_values(in[k].to_vector<double>(), before[k])) << "the op modified input " << c.in[k].name;
}

void run_guarded(const Case& c, DType fdt, Tol tol) {
  try {
    run_case(c, fdt, tol);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "exception: " << e.what();
  }
}

constexpr Tol kTolF64{1e-10, 1e-9};
constexpr Tol kTolF32{2e-5, 2e-4};

std::vector<std::string> op_names_in_file() {
  std::vector<std::string> names;
  std::set<std::string> seen;
  try {
    for (const Case& c : golden_cases())
      if (seen.insert(c.op).second) names.push_back(c.op);
  } catch (const std::exception&) {
    // reported by GoldenFile.Parses
  }
  return names;
}

TEST(GoldenFile, Parses) {
  ASSERT_NO_THROW(golden_cases());
  EXPECT_GE(golden_cases().size(), 100u);
  std::set<std::string> names;
  for (const Case& c : golden_cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
    EXPECT_FALSE(c.out.empty()) << c.name << ": no outputs";
    EXPECT_NO_THROW(find_op(c.op)) << "line " << c.line << ": case " << c.name << " uses op '" << c.op
                                   << "', which the op registry does not know";
  }
}

TEST(GoldenFile, EveryFloatingInputHasAGradient) {
  for (const Case& c : golden_cases()) {
    size_t wanted = 0;
    for (size_t k = 0; k < c.in.size(); ++k) wanted += wants_grad(c, k);
    EXPECT_EQ(c.grad.size(), wanted) << c.name;
  }
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, F64) {
  int n = 0;
  for (const Case& c : golden_cases()) {
    if (c.op != GetParam()) continue;
    SCOPED_TRACE("golden case " + c.name + " (ops_golden.txt line " + std::to_string(c.line) + ", f64)");
    manual_seed(0);
    run_guarded(c, DType::f64, kTolF64);
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST_P(Golden, F32) {
  for (const Case& c : golden_cases()) {
    if (c.op != GetParam() || !c.f32) continue;
    SCOPED_TRACE("golden case " + c.name + " (ops_golden.txt line " + std::to_string(c.line) + ", f32)");
    run_guarded(c, DType::f32, kTolF32);
  }
}

// The meta device: every case again on meta inputs gives outputs (and input gradients) of the same shapes, dtypes
// and requires_grad, on meta, without reading a value; and on cpu inputs under a DeviceGuard(meta) the op still
// computes on cpu, bit for bit as without it (ops allocate on their inputs' device, not the default one).
// Ops whose output shape depends on the values (masked_select, one_hot without num_classes) refuse meta inputs
// with an error that says so.
void run_meta_case(const Case& c) {
  const OpInfo& op = find_op(c.op);
  const bool data_dependent =
      c.op == "masked_select" || (c.op == "one_hot" && c.p.i("num_classes", -1) < 0);  // sizes from values
  std::vector<Tensor> in, meta_in;
  for (const GoldenTensor& g : c.in) {
    Tensor x = make_input(g, g.dtype);
    Tensor m = x.to(Device::meta);
    ASSERT_TRUE(m.is_meta());
    if (wants_grad(c, in.size())) {
      x.requires_grad_(true);
      m.requires_grad_(true);
    }
    in.push_back(x);
    meta_in.push_back(m);
  }
  manual_seed(0);
  std::vector<Tensor> want = op.call(in, c.p);
  auto backward_of = [&](const std::vector<Tensor>& outs) {
    Tensor loss;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!c.gout.count(static_cast<int>(i))) continue;
      Tensor term = sum(outs[i] * ones_like(outs[i]));
      loss = loss.defined() ? loss + term : term;
    }
    if (loss.defined()) loss.backward();
  };
  backward_of(want);

  if (data_dependent) {
    try {
      op.call(meta_in, c.p);
      ADD_FAILURE() << c.op << " on meta inputs did not throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("meta"), std::string::npos) << e.what();
    }
  } else {
    manual_seed(0);
    std::vector<Tensor> got = op.call(meta_in, c.p);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(got[i].is_meta()) << "output " << i << " is on " << got[i].device();
      EXPECT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
      EXPECT_EQ(got[i].dtype(), want[i].dtype()) << "output " << i;
      EXPECT_EQ(got[i].requires_grad(), want[i].requires_grad()) << "output " << i;
    }
    backward_of(got);
    for (size_t k = 0; k < in.size(); ++k) {
      ASSERT_EQ(meta_in[k].grad().defined(), in[k].grad().defined()) << "gradient of input " << k;
      if (!in[k].grad().defined()) continue;
      EXPECT_TRUE(meta_in[k].grad().is_meta()) << "gradient of input " << k;
      EXPECT_EQ(meta_in[k].grad().shape(), in[k].grad().shape()) << "gradient of input " << k;
      EXPECT_EQ(meta_in[k].grad().dtype(), in[k].grad().dtype()) << "gradient of input " << k;
    }
  }

  // cpu inputs under a meta default device: computed on cpu as before
  std::vector<Tensor> in2;
  for (const Tensor& x : in) {
    Tensor y = x.detach();
    if (x.requires_grad()) y.requires_grad_(true);
    in2.push_back(y);
  }
  std::vector<Tensor> got2;
  {
    DeviceGuard meta(Device::meta);
    manual_seed(0);
    got2 = op.call(in2, c.p);
    backward_of(got2);
  }
  ASSERT_EQ(got2.size(), want.size());
  for (size_t i = 0; i < got2.size(); ++i) {
    ASSERT_EQ(got2[i].device(), Device::cpu) << "output " << i << " under DeviceGuard(meta)";
    EXPECT_TRUE(same_values(got2[i].to_vector<double>(), want[i].to_vector<double>())) << "output " << i;
  }
  for (size_t k = 0; k < in.size(); ++k) {
    if (!in[k].grad().defined()) continue;
    ASSERT_EQ(in2[k].grad().device(), Device::cpu) << "gradient of input " << k << " under DeviceGuard(meta)";
    EXPECT_TRUE(same_values(in2[k].grad().to_vector<double>(), in[k].grad().to_vector<double>()))
        << "gradient of input " << k;
  }
}

TEST_P(Golden, Meta) {
  for (const Case& c : golden_cases()) {
    if (c.op != GetParam()) continue;
    SCOPED_TRACE("golden case " + c.name + " (ops_golden.txt line " + std::to_string(c.line) + ", meta)");
    try {
      run_meta_case(c);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Golden, ::testing::ValuesIn(op_names_in_file()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
